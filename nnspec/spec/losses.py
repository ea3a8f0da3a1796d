"""Losses and regularization: the textbook formulas and their exact gradients.

Every loss ``f(prediction, target, **params)`` has a VJP ``f_vjp(prediction, target,
cotangent, **params)``: the gradient with respect to the prediction (the logits where
the op takes logits, the anchor for ``triplet``, the weights for the penalties).

Conventions
-----------
* Inputs. The prediction comes first: probabilities (``binary_cross_entropy``,
  ``categorical_cross_entropy``, ``kl_divergence``, ``dice``, ``focal`` and
  ``sparse_categorical_cross_entropy`` unless ``from_logits``), logits (the
  ``*_with_logits`` ops) or log-probabilities (``nll``). Targets are probabilities,
  one-hot or soft (any value in [0, 1]); ``labels`` are integer class indices.
  Classes lie along the last axis.
* Per-sample losses and ``reduction``. An elementwise loss (mse, mae, huber, the
  binary losses) has one term per element; a class loss (the categorical ones, nll,
  kl_divergence, dice, triplet) one per row, summed over the last axis. ``reduction``
  is ``"none"`` (those terms), ``"sum"`` or ``"mean"`` (their sum, their average).
* 0·log 0 = 0: a term whose weight (target) is 0 contributes 0, whatever the log.
* Class weights and ignored labels (``class_weight``: the categorical losses and nll; ``ignore_index``:
  sparse CE and nll):
  a row's loss is −Σ_c w_c·t_c·log p_c, 0 where its label is ignored; "mean" is the weighted
  mean, divided by Σ w_y over the kept rows (torch's documented divisor; Σ_i Σ_c w_c·t_ic for
  probability targets), nan where that is 0.
* Label smoothing (``label_smoothing`` = ε, default 0) replaces the target t by
  t(1 − ε) + ε/2 (binary losses) or t(1 − ε) + ε/C (C classes).
* Keeping log(0) finite. The default is the textbook formula (a loss of +inf at a
  probability of exactly 0 or 1 where the target asks for it). What frameworks do
  instead are named variants: keyword-only parameters on the spec side, which adapters
  never see, each documented on its op:

  - ``log_floor`` (torch: −100): each log clamped from below; torch's gradient under it
    is (p − t)/max(p(1 − p), ε), not the derivative of the clamped forward;
  - ``clip_epsilon`` (Keras: 1e-7): probabilities clipped to [ε, 1 − ε] (KL: [ε, 1]);
  - ``renormalise`` (Keras): predictions divided by their row sum, before or after the clip;
  - ``zero_weight="ieee"``: 0·log 0 and 0/0 are nan (IEEE), as autodiff through a log
    makes them, instead of the limit 0;
  - ``one_minus_pt="rounded"`` (focal): 1 − p_t evaluated in the dtype, as written;
  - ``smoothed_target="rounded"`` (binary losses): the smoothed target t(1 − ε) + ε/2 held in
    the dtype, so that 1 − t cancels near t = 1;
  - ``normalised_targets`` (TensorFlow): a cross-entropy gradient that assumes Σt = 1;
  - ``feature_mean`` (Keras): an elementwise loss's per-sample value is the mean over the
    last axis, so "sum" and "none" differ;
  - ``elementwise`` (torch's kl_div): "none" returns the terms t·log(t/p) unsummed;
  - ``difference_eps`` (torch), ``squared_eps`` (optax): triplet distances kept off 0;
  - ``mean_divisor`` (Keras: "kept", optax's where= then jnp.mean: "samples"), ``empty_mean="zero"``
    (Keras): how a class-weighted or ignoring "mean" divides, see the notes above
    ``sparse_categorical_cross_entropy``.

  A framework's constants live in its own dtype (Keras' 1 − 1e-7 is 1 in float16), so
  those variants round them to the dtype the prediction arrived in, which ``@_spec``
  passes as ``dtype``; the textbook formulas never use it.
* Derivatives at kinks: |r|' at 0 is 0, the minimal subgradient (mae, l1_penalty;
  ``kink="right"``: 1); triplet's hinge at exactly 0 takes its inactive branch
  (``kink="left"``, as relu). A zero cotangent pulls back to 0, also through an
  infinite derivative (bce at p = 0).
"""

from __future__ import annotations

import functools

import numpy as np

from . import activations as A
from ._float64 import float64

TORCH_LOG_FLOOR = -100.0  # torch's binary_cross_entropy clamps each log to >= -100
TORCH_BCE_EPSILON = float(np.float32(1e-12))  # the floor of its gradient's denominator, a float32 constant
KERAS_EPSILON = 1e-7  # keras.config.epsilon()


def _spec(formula):
    """``@float64``, passing the formula the dtype its first input arrived in as ``dtype``.

    Only variants use it, to round a framework's constants (1 − ε) as the framework's
    own arithmetic does. The NumPy baseline calls ``formula.__wrapped__`` on arrays
    already in that dtype, where ``dtype=None`` means the prediction's own.
    """
    @functools.wraps(formula)
    def in_own_dtype(*arrays, dtype=None, **params):
        return formula(*arrays, dtype=dtype or np.asarray(arrays[0]).dtype, **params)

    in_float64 = float64(formula)

    @functools.wraps(formula)
    def spec(*arrays, dtype=None, **params):
        return in_float64(*arrays, dtype=dtype or np.asarray(arrays[0]).dtype, **params)

    spec.__wrapped__ = in_own_dtype
    return spec


# shared pieces ------------------------------------------------------------------------


def _reduce(losses, reduction, feature_mean=False):
    """The per-sample ``losses`` reduced: "none" keeps them, "sum" and "mean" reduce all of them."""
    if feature_mean:
        losses = np.mean(losses, axis=-1)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return np.asarray(np.sum(losses))
    if reduction == "mean":
        return np.asarray(np.mean(losses))
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _spread(cotangent, reduction, shape, feature_mean=False):
    """The cotangent reaching each per-sample loss, broadcast to ``shape`` (the terms' shape).

    ``shape`` is the elementwise terms' shape; with ``feature_mean`` each term is 1/D of
    its row's loss. For a class loss call it with the rows' shape and add the class axis.
    """
    samples = shape[:-1] if feature_mean else shape
    count = max(int(np.prod(samples)), 1)
    if reduction == "none" and np.shape(cotangent) != samples:  # a cotangent for other per-sample losses
        return np.full(shape, np.nan)
    if reduction == "none":
        per = cotangent
    elif reduction == "sum":
        per = np.broadcast_to(cotangent, samples)
    elif reduction == "mean":
        per = np.broadcast_to(cotangent / count, samples)
    else:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return per[..., None] / shape[-1] if feature_mean else per


def _rows(cotangent, reduction, prediction):
    """The cotangent of each row's loss, with the class axis restored for broadcasting."""
    return _spread(cotangent, reduction, prediction.shape[:-1])[..., None]


def _times(weight, value, zero_weight="limit"):
    """weight·value, 0 where the weight is 0 (0·log 0 = 0); zero_weight="ieee": IEEE's 0·inf = nan."""
    if zero_weight == "ieee":
        return weight * value
    return np.where(weight == 0, 0, weight * value)


def _over(weight, value, zero_weight="limit"):
    """weight/value, 0 where the weight is 0; zero_weight="ieee": IEEE's 0/0 = nan."""
    if zero_weight == "ieee":
        return weight / value
    return np.where(weight == 0, 0, weight / np.where(weight == 0, 1, value))


def _pull(cotangent, derivative, zero_weight="limit"):
    """cotangent·derivative, where a zero cotangent pulls back to 0 even through an infinite derivative
    (zero_weight="ieee": 0·inf = nan)."""
    if zero_weight == "ieee":
        return cotangent * derivative
    return np.where((cotangent == 0) & np.isinf(derivative), 0, cotangent * derivative)


def _in_dtype(value, dtype):
    """``value`` as the framework holds it: rounded to ``dtype``, computed on in the caller's precision."""
    array = np.asarray(value)
    return array.astype(dtype).astype(array.dtype)


def _smooth_binary(target, label_smoothing):
    return target if label_smoothing == 0 else target * (1 - label_smoothing) + 0.5 * label_smoothing


def _binary_weights(target, label_smoothing, smoothed_target="exact", dtype=None):
    """(t, 1 − t) of the smoothed target, 1 − t smoothed from 1 − target: no cancellation near t = 1.

    smoothed_target="rounded": t(1 − ε) + ε/2 evaluated in the dtype, as a framework holds its
    smoothed target, and 1 − t taken from that (it cancels where t is near 1).
    """
    if smoothed_target == "rounded" and label_smoothing != 0:
        r = functools.partial(_in_dtype, dtype=dtype)
        t = r(r(target * r(np.float64(1 - label_smoothing))) + 0.5 * label_smoothing)
        return t, 1 - t
    return _smooth_binary(target, label_smoothing), _smooth_binary(1 - target, label_smoothing)


def _smooth_categorical(target, label_smoothing):
    classes = target.shape[-1]
    return target if label_smoothing == 0 else target * (1 - label_smoothing) + label_smoothing / classes


def _one_hot(labels, classes, dtype):
    return (labels[..., None] == np.arange(classes)).astype(dtype)


def _clip_bounds(clip_epsilon, dtype, upper=None):
    """Keras' [ε, 1 − ε], each bound rounded to the prediction's dtype as Keras' own constants are."""
    low = float(_in_dtype(np.float64(clip_epsilon), dtype))
    high = float(_in_dtype(np.float64(1 - clip_epsilon if upper is None else upper), dtype))
    return low, high


def _clipped(p, clip_epsilon, dtype, upper=None):
    """(p clipped, mask of where the clip let p through: the derivative of the clip)."""
    if clip_epsilon is None:
        return p, np.ones(p.shape, dtype=bool)
    low, high = _clip_bounds(clip_epsilon, dtype, upper)
    return np.clip(p, low, high), (p >= low) & (p <= high)


def _sign(x, kink):
    """d|x|/dx: sign(x), with 0 at x = 0 (the minimal subgradient) or 1 there (kink="right")."""
    if kink not in ("zero", "right"):
        raise ValueError(f"kink must be 'zero' or 'right', got {kink!r}")
    return np.where((x == 0) & (kink == "right"), 1.0, np.sign(x))


def _floored(log, log_floor):
    return log if log_floor is None else np.maximum(log, log_floor)


def _softplus(z):
    """log(1 + e^z) = max(z, 0) + log1p(e^{−|z|})."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _sigmoid(z):
    return A._sigmoid_parts(z)[0]


def _renormalise_vjp(grad, q, total):
    """Back through q = p/Σp (Σ over the last axis): (grad − Σ grad·q)/Σp."""
    return (grad - np.sum(grad * q, axis=-1, keepdims=True)) / total


def _class_probabilities(p, clip_epsilon, renormalise, dtype):
    """The probabilities a categorical loss takes the log of, and its backward pass."""
    if renormalise not in (False, "before_clip", "after_clip"):
        raise ValueError(f"renormalise must be False, 'before_clip' or 'after_clip', got {renormalise!r}")
    steps = []
    if renormalise == "before_clip":
        total = np.sum(p, axis=-1, keepdims=True)
        p = p / total
        steps.append(("renormalise", p, total))
    p, mask = _clipped(p, clip_epsilon, dtype)
    steps.append(("clip", mask, None))
    if renormalise == "after_clip":
        total = np.sum(p, axis=-1, keepdims=True)
        p = p / total
        steps.append(("renormalise", p, total))

    def backward(grad):
        for kind, value, total in reversed(steps):
            grad = _renormalise_vjp(grad, value, total) if kind == "renormalise" else np.where(value, grad, 0)
        return grad

    return p, backward


def _log_ratio(t, p):
    """log(t/p), accurate where t/p is close to 1 (log1p((t − p)/p)) and where t/p would overflow."""
    ratio = t / p
    direct = np.where(np.isfinite(ratio) & (ratio > 1e-300), np.log(ratio), np.log(t) - np.log(p))
    return np.where(np.abs(t - p) <= 0.5 * p, np.log1p((t - p) / p), direct)


# regression -----------------------------------------------------------------------------


@float64
def mse(prediction, target, reduction="mean", *, feature_mean=False):
    """mse = reduce((p − t)²), the mean (or sum, or each) of the squared errors.

    d/dp = 2(p − t) times the cotangent reaching the term (1/n of it for "mean").
    Variant ``feature_mean=True``: each row's loss is the mean over its last axis (Keras).
    """
    error = prediction - target
    return _reduce(error * error, reduction, feature_mean)


@float64
def mse_vjp(prediction, target, cotangent, reduction="mean", *, feature_mean=False):
    return _spread(cotangent, reduction, prediction.shape, feature_mean) * (2 * (prediction - target))


@float64
def mae(prediction, target, reduction="mean", *, feature_mean=False):
    """mae = reduce(|p − t|).   d/dp = sign(p − t), 0 at p = t (``kink="right"``: 1 there, as JAX's abs)."""
    return _reduce(np.abs(prediction - target), reduction, feature_mean)


@float64
def mae_vjp(prediction, target, cotangent, reduction="mean", *, kink="zero", feature_mean=False):
    return _spread(cotangent, reduction, prediction.shape, feature_mean) * _sign(prediction - target, kink)


@float64
def huber(prediction, target, delta=1.0, reduction="mean", *, feature_mean=False):
    """huber = reduce(½r² if |r| ≤ δ else δ(|r| − ½δ)), r = p − t, δ = ``delta`` (default 1.0).

    d/dp = r if |r| ≤ δ else δ·sign(r). Both branches agree at |r| = δ, value and slope.
    """
    error = prediction - target
    size = np.abs(error)
    terms = np.where(size <= delta, 0.5 * error * error, delta * (size - 0.5 * delta))
    return _reduce(terms, reduction, feature_mean)


@float64
def huber_vjp(prediction, target, cotangent, delta=1.0, reduction="mean", *, feature_mean=False):
    error = prediction - target
    slope = np.where(np.abs(error) <= delta, error, delta * np.sign(error))
    return _spread(cotangent, reduction, prediction.shape, feature_mean) * slope


# binary classification -----------------------------------------------------------------------


def _bce_parts(p, t, u, dtype, log_floor=None, clip_epsilon=None, zero_weight="limit"):
    """bce(p, t) per element, and its backward: a cotangent of bce to one of p (see binary_cross_entropy)."""
    c, through = _clipped(p, clip_epsilon, dtype)
    q, log_q = 1 - c, np.log1p(-c)
    bce = -(_times(t, _floored(np.log(c), log_floor), zero_weight)
            + _times(u, _floored(log_q, log_floor), zero_weight))
    if log_floor is not None:  # torch's backward, evaluated as it is written
        floor = float(_in_dtype(np.float64(TORCH_BCE_EPSILON), dtype))
        return bce, lambda grad: grad * _in_dtype((p - t) / np.maximum(p * (1 - p), floor), dtype)
    slope = np.where(through, _over(u, q, zero_weight) - _over(t, c, zero_weight), 0)
    return bce, lambda grad: _pull(grad, slope, zero_weight)


@_spec
def binary_cross_entropy(prediction, target, reduction="mean", label_smoothing=0.0, *, log_floor=None,
                         clip_epsilon=None, zero_weight="limit", smoothed_target="exact", feature_mean=False,
                         dtype=None):
    """bce = reduce(−[t·log p + (1 − t)·log(1 − p)]), p a probability, log(1 − p) as log1p(−p).

    d/dp = (1 − t)/(1 − p) − t/p (each term 0 where its weight is 0).
    Variants: ``log_floor`` (torch: −100) clamps each log from below; ``clip_epsilon``
    (Keras: 1e-7) clips p to [ε, 1 − ε] first (derivative 0 outside; Keras then takes
    log(1 − p), not log1p(−p): within the absolute error allowed); ``zero_weight=
    "ieee"``: 0·log 0 and 0/0 are nan; ``smoothed_target="rounded"``: the smoothed target
    rounded to the dtype, as every framework holds it. Under ``log_floor`` the VJP is torch's
    backward, (p − t)/max(p(1 − p), ε) in the dtype, ε = float32(1e-12) rounded to the dtype
    (0 in float16), not the derivative of the clamped forward.
    """
    t, u = _binary_weights(target, label_smoothing, smoothed_target, dtype)
    terms, _ = _bce_parts(prediction, t, u, dtype, log_floor, clip_epsilon, zero_weight)
    return _reduce(terms, reduction, feature_mean)


@_spec
def binary_cross_entropy_vjp(prediction, target, cotangent, reduction="mean", label_smoothing=0.0, *,
                             log_floor=None, clip_epsilon=None, zero_weight="limit", smoothed_target="exact",
                             feature_mean=False, dtype=None):
    t, u = _binary_weights(target, label_smoothing, smoothed_target, dtype)
    _, backward = _bce_parts(prediction, t, u, dtype, log_floor, clip_epsilon, zero_weight)
    return backward(_spread(cotangent, reduction, prediction.shape, feature_mean))


@_spec
def binary_cross_entropy_with_logits(logits, target, reduction="mean", label_smoothing=0.0, *,
                                     smoothed_target="exact", feature_mean=False, dtype=None):
    """bce(σ(x), t) = reduce(t·softplus(−x) + (1 − t)·softplus(x)), x the logits.

    Both terms are ≥ 0, so nothing cancels; softplus(z) = max(z, 0) + log1p(e^{−|z|}).
    d/dx = σ(x) − t. Variants: ``smoothed_target="rounded"`` (see binary_cross_entropy),
    ``feature_mean`` (Keras).
    """
    t, u = _binary_weights(target, label_smoothing, smoothed_target, dtype)
    terms = _times(t, _softplus(-logits)) + _times(u, _softplus(logits))
    return _reduce(terms, reduction, feature_mean)


@_spec
def binary_cross_entropy_with_logits_vjp(logits, target, cotangent, reduction="mean", label_smoothing=0.0, *,
                                         smoothed_target="exact", feature_mean=False, dtype=None):
    t, _ = _binary_weights(target, label_smoothing, smoothed_target, dtype)
    return _spread(cotangent, reduction, logits.shape, feature_mean) * (_sigmoid(logits) - t)


# categorical classification ------------------------------------------------------------------


def _soft_class_weighting(target, t, class_weight, dtype, mean_divisor):
    """(t_c·w_c, the mean's divisor) for probability targets: the textbook divisor Σ_i Σ_c w_c·t_ic of the
    unsmoothed targets (Σ w_{y_i} for one-hot rows, the sparse form's), or the row count N ("kept",
    "samples": no row is ignored). See the notes above ``sparse_categorical_cross_entropy``."""
    weights = np.asarray(class_weight, dtype=dtype)
    if mean_divisor == "weight_sum":
        divisor = np.sum(target * weights)
    elif mean_divisor in ("kept", "samples"):
        divisor = np.asarray(np.prod(np.shape(target)[:-1]), dtype=dtype)
    else:
        raise ValueError(f"mean_divisor must be one of {MEAN_DIVISORS}, got {mean_divisor!r}")
    return t * weights, divisor


def _soft_weighted_rows(cotangent, reduction, prediction, divisor, empty_mean):
    """Each row's cotangent, class axis restored: 1/divisor of the output's for "mean" (nan, or 0, at 0)."""
    _check_empty_mean(empty_mean)
    if reduction != "mean":
        return _rows(cotangent, reduction, prediction)
    rows = prediction.shape[:-1]
    if divisor == 0:
        return np.full(rows, np.nan if empty_mean == "nan" else 0.0)[..., None]
    return np.broadcast_to(cotangent / divisor, rows)[..., None]


@_spec
def categorical_cross_entropy(prediction, target, reduction="mean", label_smoothing=0.0, class_weight=None, *,
                              clip_epsilon=None, renormalise=False, zero_weight="limit", mean_divisor="weight_sum",
                              empty_mean="nan", dtype=None):
    """cce = reduce(−Σ_c t_c·log p_c), p a probability row (classes on the last axis).

    d/dp_c = −t_c/p_c. Variants (Keras): ``renormalise="before_clip"`` divides each row
    by its sum, ``clip_epsilon`` clips to [ε, 1 − ε]; the VJP follows both.
    ``zero_weight="ieee"``: 0·log 0 and 0/0 are nan.
    ``class_weight`` (C weights, default None: unweighted): a row's loss is −Σ_c w_c·t_c·log p_c
    and "mean" divides by Σ_i Σ_c w_c·t_ic (the unsmoothed targets; Σ w_{y_i} for one-hot rows, as
    ``sparse_categorical_cross_entropy``), nan where that is 0; d/dp_c = −w_c·t_c/p_c.
    Variants ``mean_divisor="samples"`` (÷N: torch's cross_entropy with probability targets),
    ``empty_mean="zero"``.
    """
    t = _smooth_categorical(target, label_smoothing)
    p, _ = _class_probabilities(prediction, clip_epsilon, renormalise, dtype)
    if class_weight is None:
        return _reduce(-np.sum(_times(t, np.log(p), zero_weight), axis=-1), reduction)
    t, divisor = _soft_class_weighting(target, t, class_weight, prediction.dtype, mean_divisor)
    return _reduce_weighted(-np.sum(_times(t, np.log(p), zero_weight), axis=-1), reduction, divisor, empty_mean)


@_spec
def categorical_cross_entropy_vjp(prediction, target, cotangent, reduction="mean", label_smoothing=0.0,
                                  class_weight=None, *, clip_epsilon=None, renormalise=False, zero_weight="limit",
                                  mean_divisor="weight_sum", empty_mean="nan", dtype=None):
    t = _smooth_categorical(target, label_smoothing)
    p, backward = _class_probabilities(prediction, clip_epsilon, renormalise, dtype)
    if class_weight is None:
        g = _rows(cotangent, reduction, prediction)
    else:
        t, divisor = _soft_class_weighting(target, t, class_weight, prediction.dtype, mean_divisor)
        g = _soft_weighted_rows(cotangent, reduction, prediction, divisor, empty_mean)
    return backward(_pull(g, -_over(t, p, zero_weight), zero_weight))


def _cross_entropy_of_logits(logits, t):
    """Σ_c t_c·(−log_softmax(x)_c): every −log_softmax ≥ 0, so the sum does not cancel."""
    return np.sum(_times(t, -A.log_softmax.__wrapped__(logits)), axis=-1)


def _cross_entropy_of_logits_vjp(logits, t, row_cotangent, normalised_targets=False):
    """d/dx = softmax(x)·Σ_c t_c − t (softmax(x) − t where the targets are taken to sum to 1)."""
    mass = 1 if normalised_targets else np.sum(t, axis=-1, keepdims=True)
    return row_cotangent * (A.softmax.__wrapped__(logits) * mass - t)


@float64
def categorical_cross_entropy_with_logits(logits, target, reduction="mean", label_smoothing=0.0, class_weight=None,
                                          *, mean_divisor="weight_sum", empty_mean="nan"):
    """cce(softmax(x), t) = reduce(Σ_c t_c·(logsumexp(x) − x_c)).   d/dx = softmax(x)·Σ_c t_c − t.

    Variant (VJP) ``normalised_targets=True``: softmax(x) − t, the gradient only where Σ_c t_c = 1,
    which TensorFlow's softmax_cross_entropy_with_logits returns for any target.
    ``class_weight`` (default None): t_c becomes w_c·t_c, "mean" divides by Σ_i Σ_c w_c·t_ic, as
    ``categorical_cross_entropy``; variants ``mean_divisor="samples"`` (torch), ``empty_mean``.
    """
    t = _smooth_categorical(target, label_smoothing)
    if class_weight is None:
        return _reduce(_cross_entropy_of_logits(logits, t), reduction)
    t, divisor = _soft_class_weighting(target, t, class_weight, logits.dtype, mean_divisor)
    return _reduce_weighted(_cross_entropy_of_logits(logits, t), reduction, divisor, empty_mean)


@float64
def categorical_cross_entropy_with_logits_vjp(logits, target, cotangent, reduction="mean", label_smoothing=0.0,
                                              class_weight=None, *, normalised_targets=False,
                                              mean_divisor="weight_sum", empty_mean="nan"):
    t = _smooth_categorical(target, label_smoothing)
    if class_weight is None:
        g = _rows(cotangent, reduction, logits)
    else:
        t, divisor = _soft_class_weighting(target, t, class_weight, logits.dtype, mean_divisor)
        g = _soft_weighted_rows(cotangent, reduction, logits, divisor, empty_mean)
    return _cross_entropy_of_logits_vjp(logits, t, g, normalised_targets)


# class weights and ignored labels (sparse_categorical_cross_entropy, nll) ------------------------
#
# With class weights w (``class_weight``, shape (C,)) and an ignored label (``ignore_index``) a
# row's target becomes t'_c = k·w_c·t_c, k = 0 where the label is ``ignore_index`` (1 else): the
# row's loss is −Σ_c w_c·t_c·log p_c (w_y·(−log p_y) for a one-hot target; with label smoothing
# every class's term carries its own weight, as torch's cross_entropy weights them), 0 for an
# ignored row. "mean" is the weighted mean Σ_i loss_i / Σ_i k_i·w_{y_i}, the divisor torch's
# CrossEntropyLoss and NLLLoss document ("the losses are averaged across observations for each
# minibatch depending on the weight": ℓ = Σ_n l_n / Σ_n w_{y_n}·1{y_n ≠ ignore_index}); without
# weights it is the mean over the kept rows. A batch whose divisor is 0 (every row ignored, or
# every kept row weighted 0) has the mean 0/0 = nan, on which the ignored rows have no influence
# (gradient 0) and the kept rows' gradient is nan. Named variants:
#
# - ``mean_divisor="kept"``: Σ_i loss_i / Σ_i k_i, the count of kept rows (Keras: class weights as
#   sample_weight under "sum_over_batch_size", and ignore_class's mask scaled to the kept rows);
#   ``"samples"``: / N, every row ignored or not;
# - ``empty_mean="zero"``: a mean whose divisor is 0 is 0, gradient 0 (Keras' divide_no_nan).

MEAN_DIVISORS = ("weight_sum", "kept", "samples")


def _plain(class_weight, ignore_index):
    """No class weight and no ignored label: the unweighted formulas, exactly as before they had either."""
    return class_weight is None and ignore_index is None


def _kept(labels, ignore_index):
    return np.ones(np.shape(labels), dtype=bool) if ignore_index is None else labels != ignore_index


def _weighted_targets(t, labels, class_weight, ignore_index):
    """t' = k·w_c·t_c: each class's term weighted, an ignored row's target 0."""
    weighted = t if class_weight is None else t * np.asarray(class_weight, dtype=t.dtype)
    return np.where(_kept(labels, ignore_index)[..., None], weighted, 0)


def _label_weights(labels, class_weight, ignore_index, dtype):
    """k_i·w_{y_i}: each row's weight (1 without class weights), 0 where its label is ignored."""
    kept = _kept(labels, ignore_index)
    if class_weight is None:
        return kept.astype(dtype)
    weights = np.asarray(class_weight, dtype=dtype)
    return np.where(kept, weights[np.where(kept, labels, 0)], 0)


def _divisor(labels, class_weight, ignore_index, dtype, mean_divisor):
    """The divisor of the mean: Σ k_i·w_{y_i} ("weight_sum"), Σ k_i ("kept") or N ("samples")."""
    if mean_divisor == "weight_sum":
        return np.sum(_label_weights(labels, class_weight, ignore_index, dtype))
    if mean_divisor == "kept":
        return np.sum(_kept(labels, ignore_index).astype(dtype))
    if mean_divisor == "samples":
        return np.asarray(np.size(labels), dtype=dtype)
    raise ValueError(f"mean_divisor must be one of {MEAN_DIVISORS}, got {mean_divisor!r}")


def _check_empty_mean(empty_mean):
    if empty_mean not in ("nan", "zero"):
        raise ValueError(f"empty_mean must be 'nan' or 'zero', got {empty_mean!r}")


def _reduce_weighted(losses, reduction, divisor, empty_mean):
    """The rows' losses (already weighted, 0 where ignored) reduced; "mean" divides their sum by ``divisor``."""
    _check_empty_mean(empty_mean)
    if reduction != "mean":
        return _reduce(losses, reduction)
    if divisor == 0:  # 0/0 (every term is 0 when every row's weight is): nan, or Keras' divide_no_nan
        return np.asarray(np.nan if empty_mean == "nan" else 0.0, dtype=losses.dtype)
    return np.asarray(np.sum(losses) / divisor)


def _weighted_rows(cotangent, reduction, prediction, labels, divisor, ignore_index, empty_mean):
    """The cotangent of each row's (weighted) loss, class axis restored: 0 on ignored rows, which the
    loss does not depend on; 1/divisor of the output's for "mean" (nan, or 0, where the divisor is 0)."""
    _check_empty_mean(empty_mean)
    if reduction != "mean":
        return _rows(cotangent, reduction, prediction)
    rows = prediction.shape[:-1]
    if divisor == 0:
        per = np.full(rows, np.nan if empty_mean == "nan" else 0.0)
    else:
        per = np.broadcast_to(cotangent / divisor, rows)
    return np.where(_kept(labels, ignore_index), per, 0)[..., None]


@_spec
def sparse_categorical_cross_entropy(prediction, labels, from_logits=False, reduction="mean", label_smoothing=0.0,
                                     class_weight=None, ignore_index=None, *, clip_epsilon=None, renormalise=False,
                                     zero_weight="limit", mean_divisor="weight_sum", empty_mean="nan", dtype=None):
    """The categorical cross-entropy of one-hot(labels): reduce(−log p_y), or logsumexp(x) − x_y ``from_logits``.

    Labels are integers in [0, C). With smoothing ε the target is one-hot·(1 − ε) + ε/C.
    ``class_weight`` (C weights, default None: unweighted) weights each class's term,
    −Σ_c w_c·t_c·log p_c; a row labelled ``ignore_index`` (default None: none) is left out;
    "mean" divides by Σ w_{y_i} over the kept rows (see the notes above
    ``sparse_categorical_cross_entropy``: nan where that is 0).
    Gradients as for ``categorical_cross_entropy`` and its logits form, with the weighted
    target; the variants (Keras, probabilities only) are ``clip_epsilon`` and
    ``renormalise="after_clip"``, ``zero_weight="ieee"`` (0/0 = nan in the gradient off the
    label where p = 0: log then nll; a class weight of 0 times log 0 = nan in the forward,
    as torch's nll_loss of log p), and ``mean_divisor``, ``empty_mean`` (see the notes).
    """
    smoothed = _smooth_categorical(_one_hot(labels, prediction.shape[-1], prediction.dtype), label_smoothing)
    plain = _plain(class_weight, ignore_index)
    t = smoothed if plain else _weighted_targets(smoothed, labels, class_weight, ignore_index)
    if from_logits:
        losses = _cross_entropy_of_logits(prediction, t)
    else:
        p, _ = _class_probabilities(prediction, clip_epsilon, renormalise, dtype)
        terms = _times(t, np.log(p))
        if zero_weight == "ieee":  # a class weight of 0 times log 0 is nan; absent terms and ignored rows stay 0
            absent = (smoothed == 0) | ~_kept(labels, ignore_index)[..., None]
            terms = np.where(absent, 0, t * np.log(p))
        losses = -np.sum(terms, axis=-1)
    if plain:
        return _reduce(losses, reduction)
    divisor = _divisor(labels, class_weight, ignore_index, prediction.dtype, mean_divisor)
    return _reduce_weighted(losses, reduction, divisor, empty_mean)


@_spec
def sparse_categorical_cross_entropy_vjp(prediction, labels, cotangent, from_logits=False, reduction="mean",
                                         label_smoothing=0.0, class_weight=None, ignore_index=None, *,
                                         clip_epsilon=None, renormalise=False, zero_weight="limit",
                                         mean_divisor="weight_sum", empty_mean="nan", dtype=None):
    smoothed = _smooth_categorical(_one_hot(labels, prediction.shape[-1], prediction.dtype), label_smoothing)
    plain = _plain(class_weight, ignore_index)
    if plain:
        t, g = smoothed, _rows(cotangent, reduction, prediction)
    else:
        t = _weighted_targets(smoothed, labels, class_weight, ignore_index)
        divisor = _divisor(labels, class_weight, ignore_index, prediction.dtype, mean_divisor)
        g = _weighted_rows(cotangent, reduction, prediction, labels, divisor, ignore_index, empty_mean)
    if from_logits:
        return _cross_entropy_of_logits_vjp(prediction, t, g)
    p, backward = _class_probabilities(prediction, clip_epsilon, renormalise, dtype)
    pulled = _pull(g, -_over(t, p, zero_weight), zero_weight)
    if not plain:
        # A class absent from the smoothed target, or an ignored row, is no term of the loss: the cotangent
        # reaching its log p is 0 even where g is nan (an empty mean), so its gradient is 0 (ieee: 0/p).
        absent = (smoothed == 0) | ~_kept(labels, ignore_index)[..., None]
        pulled = np.where(absent, -_over(np.zeros_like(p), p, zero_weight), pulled)
    return backward(pulled)


@float64
def nll(log_probabilities, labels, reduction="mean", class_weight=None, ignore_index=None, *,
        mean_divisor="weight_sum", empty_mean="nan"):
    """nll = reduce(−log_probabilities[y]), y the integer label of each row.   d/dlp_c = −1 if c = y else 0.

    ``class_weight`` (C weights, default None) makes a row's loss −w_y·lp_y; a row labelled
    ``ignore_index`` (default None) is left out; "mean" divides by Σ w_{y_i} over the kept
    rows (nan where that is 0). d/dlp_c = −w_y at c = y. Variants ``mean_divisor``,
    ``empty_mean``: see the notes above ``sparse_categorical_cross_entropy``.
    """
    kept = _kept(labels, ignore_index)
    picked = np.take_along_axis(log_probabilities, np.where(kept, labels, 0)[..., None], axis=-1)[..., 0]
    if _plain(class_weight, ignore_index):
        return _reduce(-picked, reduction)
    dtype = log_probabilities.dtype
    losses = _times(_label_weights(labels, class_weight, ignore_index, dtype), -picked)
    divisor = _divisor(labels, class_weight, ignore_index, dtype, mean_divisor)
    return _reduce_weighted(losses, reduction, divisor, empty_mean)


@float64
def nll_vjp(log_probabilities, labels, cotangent, reduction="mean", class_weight=None, ignore_index=None, *,
            mean_divisor="weight_sum", empty_mean="nan"):
    hot = _one_hot(labels, log_probabilities.shape[-1], log_probabilities.dtype)
    if _plain(class_weight, ignore_index):
        return _rows(cotangent, reduction, log_probabilities) * -hot
    dtype = log_probabilities.dtype
    divisor = _divisor(labels, class_weight, ignore_index, dtype, mean_divisor)
    g = _weighted_rows(cotangent, reduction, log_probabilities, labels, divisor, ignore_index, empty_mean)
    weights = _label_weights(labels, class_weight, ignore_index, dtype)[..., None]
    return np.where(hot == 1, -(weights * g), 0)  # only the label's term depends on lp: 0 elsewhere, even for a nan g


@_spec
def kl_divergence(prediction, target, reduction="mean", *, clip_epsilon=None, elementwise=False, zero_weight="limit",
                  dtype=None):
    """KL(t ‖ p) = reduce(Σ_c t_c·log(t_c/p_c)), p and t probability rows (0·log(0/p) = 0).

    d/dp_c = −t_c/p_c. log(t/p) is taken as log1p((t − p)/p) where t/p is near 1.
    Variants: ``clip_epsilon`` (Keras) clips both t and p to [ε, 1]; ``elementwise=True``
    makes reduction "none" return the terms t·log(t/p) unsummed (torch's kl_div, whose
    "batchmean" is this spec's "mean"); ``zero_weight="ieee"``: t·log t − t·log p in IEEE
    arithmetic, nan where t = p = 0 (0·log t taken as 0, as every framework does).
    """
    p, _ = _clipped(prediction, clip_epsilon, dtype, upper=1)
    t, _ = _clipped(target, clip_epsilon, dtype, upper=1)
    terms = _times(t, _log_ratio(t, p))
    if zero_weight == "ieee":
        terms = np.where((t == 0) & (p == 0), np.nan, terms)
    if elementwise and reduction == "none":
        return terms
    return _reduce(np.sum(terms, axis=-1), reduction)


@_spec
def kl_divergence_vjp(prediction, target, cotangent, reduction="mean", *, clip_epsilon=None, zero_weight="limit",
                      dtype=None):
    p, through = _clipped(prediction, clip_epsilon, dtype, upper=1)
    t, _ = _clipped(target, clip_epsilon, dtype, upper=1)
    derivative = np.where(through, -_over(t, p, zero_weight), 0)
    return _pull(_rows(cotangent, reduction, prediction), derivative, zero_weight)


# advanced ----------------------------------------------------------------------------------------


def _focal_parts(prediction, t, u, from_logits, dtype, one_minus_pt, bce_variants):
    """1 − p_t, bce(p, t), the backward of bce to the prediction, dp/d(prediction)."""
    if from_logits:  # every framework takes the BCE itself from the logits
        x = prediction
        p, q = _sigmoid(x), _sigmoid(-x)
        bce = _times(t, _softplus(-x)) + _times(u, _softplus(x))
        slope = p * q

        def backward(grad):
            return _pull(grad, p - t)
    else:
        p, q, slope = prediction, 1 - prediction, 1
        bce, backward = _bce_parts(p, t, u, dtype, **bce_variants)
    if one_minus_pt == "rounded":  # 1 − (t·p + (1 − t)(1 − p)), each operation in the dtype, p = σ(x) too
        r = functools.partial(_in_dtype, dtype=dtype)
        if from_logits:
            p = r(p)
            slope = p * (1 - p)
        w = r(1 - r(r(t * p) + r(r(1 - t) * r(1 - p))))
    else:
        w = t * q + u * p
    return w, bce, backward, slope


@_spec
def focal(prediction, target, alpha=0.25, gamma=2.0, from_logits=False, reduction="mean", label_smoothing=0.0, *,
          one_minus_pt="exact", log_floor=None, clip_epsilon=None, zero_weight="limit", smoothed_target="exact",
          feature_mean=False, dtype=None):
    """focal = reduce(α_t·(1 − p_t)^γ·bce(p, t)), p_t = tp + (1 − t)(1 − p), α_t = αt + (1 − α)(1 − t).

    Lin et al.'s binary focal loss, in the form every framework generalises to soft
    targets; p = σ(x) ``from_logits``, with bce from the logits. ``alpha=None`` applies no
    class weight (α_t = 1). 1 − p_t is taken as t(1 − p) + (1 − t)p, so it does not cancel.
    d/dp = α_t·[γ(1 − p_t)^{γ−1}(1 − 2t)·bce + (1 − p_t)^γ·d bce/dp], times σ'(x) for logits
    (the first term is 0 where γ = 0 or bce = 0, and where d bce/dp is infinite: its limits;
    ``zero_weight="ieee"`` keeps IEEE's nan for 0·∞ there, as autodiff of w^γ at w = 0 does).
    Variants: ``one_minus_pt="rounded"``: 1 − p_t as 1 − (t·p + (1 − t)(1 − p)) evaluated in
    the dtype (p = σ(x) too), as torchvision and Keras write it: it cancels for easy
    examples; on probabilities, the BCE variants of binary_cross_entropy (torch's BCE under
    torchvision's formula, Keras' clipped one); ``smoothed_target`` as there.
    """
    t, u = _binary_weights(target, label_smoothing, smoothed_target, dtype)
    variants = _bce_variants(log_floor=log_floor, clip_epsilon=clip_epsilon, zero_weight=zero_weight)
    w, bce, _, _ = _focal_parts(prediction, t, u, from_logits, dtype, one_minus_pt, variants)
    weight = 1 if alpha is None else alpha * t + (1 - alpha) * u
    scale = weight * w**gamma
    if zero_weight == "ieee":
        return _reduce(scale * bce, reduction, feature_mean)
    terms = np.where(_underflowed(scale, w, weight) & np.isinf(bce), bce, _times(scale, bce))
    return _reduce(terms, reduction, feature_mean)


@_spec
def focal_vjp(prediction, target, cotangent, alpha=0.25, gamma=2.0, from_logits=False, reduction="mean",
              label_smoothing=0.0, *, one_minus_pt="exact", log_floor=None, clip_epsilon=None,
              zero_weight="limit", smoothed_target="exact", feature_mean=False, dtype=None):
    t, u = _binary_weights(target, label_smoothing, smoothed_target, dtype)
    variants = _bce_variants(log_floor=log_floor, clip_epsilon=clip_epsilon, zero_weight=zero_weight)
    w, bce, backward, slope = _focal_parts(prediction, t, u, from_logits, dtype, one_minus_pt, variants)
    weight = 1 if alpha is None else alpha * t + (1 - alpha) * u
    g = _spread(cotangent, reduction, prediction.shape, feature_mean)
    if zero_weight == "ieee":
        # Autodiff's order: the cotangent of w^γ·bce reaches w, then p_t = t·p + (1 − t)(1 − p) term by
        # term, so 0·∞ makes nan where w = 0 and γ < 1 (γ = 0 aside: torch's pow backward special-cases it).
        reaching_w = g * weight * np.where(gamma == 0, 0, gamma * w ** (gamma - 1) * bce)
        return backward(g * weight * w**gamma) + (reaching_w * u - reaching_w * t) * slope
    negligible = (gamma == 0) | (bce == 0) | np.isinf(backward(np.ones_like(w)))  # limits: the bce term dominates
    focusing = np.where(negligible, 0, gamma * w ** (gamma - 1) * (u - t) * slope * bce)
    scale = weight * w**gamma
    unscaled = backward(g)  # an infinite slope stays infinite where w^γ > 0 underflowed
    bce_term = np.where(_underflowed(scale, w, weight) & np.isinf(unscaled), unscaled, backward(g * scale))
    return bce_term + _pull(g, weight * focusing)


def _underflowed(scale, w, weight):
    """Where α_t·w^γ is 0 in float64 though every factor is positive."""
    return (scale == 0) & (w > 0) & (np.asarray(weight) > 0)


def _bce_variants(**variants):
    """The BCE variants that differ from the textbook (an empty dict: the textbook)."""
    textbook = {"log_floor": None, "clip_epsilon": None,
                "zero_weight": "limit"}
    return {k: v for k, v in variants.items() if v != textbook[k]}


@float64
def dice(prediction, target, smooth=1.0, reduction="mean", *, smoothing="both"):
    """dice = reduce(1 − (2Σpt + s)/(Σp + Σt + s)) over each row, s = ``smooth`` (default 1.0).

    Computed as Σ[p(1 − t) + t(1 − p)]/(Σp + Σt + s), which does not cancel near a
    perfect overlap. d/dp_j = (2I + s − 2t_j·D)/D², I = Σpt, D = Σp + Σt + s.
    Variant ``smoothing="denominator"`` (Keras, s = 1e-7): 1 − 2I/(Σp + Σt + s).
    """
    return _reduce(_dice_loss(prediction, target, smooth, smoothing), reduction)


def _dice_parts(p, t, smooth, smoothing):
    if smoothing not in ("both", "denominator"):
        raise ValueError(f"smoothing must be 'both' or 'denominator', got {smoothing!r}")
    numerator = 2 * np.sum(p * t, axis=-1) + (smooth if smoothing == "both" else 0)
    return numerator, np.sum(p, axis=-1) + np.sum(t, axis=-1) + smooth


def _dice_loss(p, t, smooth, smoothing):
    """1 − N/D = (D − N)/D with D − N = Σ[p(1 − t) + t(1 − p)] (+ s for the denominator-only variant)."""
    _, denominator = _dice_parts(p, t, smooth, smoothing)
    apart = np.sum(p * (1 - t) + t * (1 - p), axis=-1) + (0 if smoothing == "both" else smooth)
    return apart / denominator


@float64
def dice_vjp(prediction, target, cotangent, smooth=1.0, reduction="mean", *, smoothing="both"):
    numerator, denominator = _dice_parts(prediction, target, smooth, smoothing)
    n, d = numerator[..., None], denominator[..., None]
    return _rows(cotangent, reduction, prediction) * ((n - 2 * target * d) / (d * d))


def _distance(difference, squared_eps):
    """‖v‖₂ over the last axis without overflow (hypot), or √(Σv² + eps) (optax's eps)."""
    norm = np.hypot.reduce(difference, axis=-1)
    return norm if squared_eps == 0 else np.hypot(norm, np.sqrt(squared_eps))


@float64
def triplet(anchor, positive, negative, margin=1.0, reduction="mean", *, difference_eps=0.0, squared_eps=0.0):
    """triplet = reduce(max(‖a − p‖₂ − ‖a − n‖₂ + margin, 0)), distances over the last axis.

    d/da = u(a − p) − u(a − n) where active (the hinge > 0; kink="left": 0 at exactly 0),
    u(v) = v/‖v‖ (0 at v = 0, the minimal subgradient); d/dp = −u(a − p), d/dn = u(a − n).
    Variants: ``difference_eps`` (torch: 1e-6) adds eps to every component of the
    difference, ‖a − p + eps‖; ``squared_eps`` (optax: 1e-6) takes √(Σ(a − p)² + eps);
    in the VJP ``kink="right"`` (active at 0) or ``"half"`` (jnp.maximum's 0.5 at a tie) and
    ``zero_distance="nan"`` (0/0 at a = p).
    """
    near = _distance(anchor - positive + difference_eps, squared_eps)
    far = _distance(anchor - negative + difference_eps, squared_eps)
    return _reduce(np.maximum(near - far + margin, 0), reduction)


@float64
def triplet_vjp(anchor, positive, negative, cotangent, margin=1.0, reduction="mean", *, difference_eps=0.0,
                squared_eps=0.0, kink="left", zero_distance="zero"):
    to_positive, to_negative = anchor - positive + difference_eps, anchor - negative + difference_eps
    near, far = _distance(to_positive, squared_eps), _distance(to_negative, squared_eps)
    hinge = near - far + margin
    at_kink = {"left": 0.0, "right": 1.0, "half": 0.5}[kink]  # jnp.maximum splits a tie: 0.5
    active = np.where(hinge > 0, 1.0, np.where(hinge == 0, at_kink, 0.0))

    def unit(v, norm):
        if zero_distance == "nan":
            return v / norm[..., None]
        return np.where(norm[..., None] == 0, 0, v / np.where(norm == 0, 1, norm)[..., None])

    g = _rows(cotangent, reduction, anchor)
    pulled = np.where(g == 0, 0, g * (unit(to_positive, near) - unit(to_negative, far)))  # a zero cotangent: 0
    return np.where(active[..., None] == 0, 0, active[..., None] * pulled)


# regularization ---------------------------------------------------------------------------------
#
# No framework adds these to a loss by itself; how each relates to them:
# * Keras: keras.regularizers.L1(l1)(w) = l1·Σ|w| is l1_penalty(lam=l1) and
#   keras.regularizers.L2(l2)(w) = l2·Σw² is l2_penalty(lam=l2): no ½. A layer's
#   kernel_regularizer adds them to the model's loss. The optimizers' weight_decay=wd is
#   decoupled (w ← w − lr·wd·w after the update): no penalty; for plain SGD it equals
#   l2_penalty(lam=wd/2).
# * torch: no penalty function (composed here: lam·w.abs().sum(), lam·w.pow(2).sum()).
#   torch.optim.SGD/Adam(weight_decay=wd) add wd·w to the gradient: the gradient of
#   l2_penalty(lam=wd/2), passed through the optimizer's scaling; AdamW's weight_decay is
#   decoupled (w ← w − lr·wd·w), equal to no penalty under Adam's scaling.
# * optax: no penalty function (composed). optax.add_decayed_weights(wd) adds wd·w to the
#   updates: l2_penalty(lam=wd/2) when it precedes the scaling (sgd), decoupled in adamw.
#   optax.l2_loss is ½(p − t)², a regression loss, not a penalty.


@float64
def l1_penalty(weights, lam=0.01):
    """l1 = λ·Σ|w|, λ = ``lam`` (default 0.01, Keras' L1).   d/dw = λ·sign(w), 0 at 0 (``kink="right"``: λ)."""
    return np.asarray(lam * np.sum(np.abs(weights)))


@float64
def l1_penalty_vjp(weights, cotangent, lam=0.01, *, kink="zero"):
    return cotangent * (lam * _sign(weights, kink))


@float64
def l2_penalty(weights, lam=0.01):
    """l2 = λ·Σw², λ = ``lam`` (default 0.01, Keras' L2), no ½.   d/dw = 2λw.

    Weight decay wd (torch's optimizers, optax.add_decayed_weights, SGD) is the gradient
    of l2_penalty with λ = wd/2; see the notes above on decoupled decay.
    """
    return np.asarray(lam * np.sum(weights * weights))


@float64
def l2_penalty_vjp(weights, cotangent, lam=0.01):
    return cotangent * (2 * lam * weights)
