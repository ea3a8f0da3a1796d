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
* Label smoothing (``label_smoothing`` = ε, default 0) replaces the target t by
  t(1 − ε) + ε/2 (binary losses) or t(1 − ε) + ε/C (C classes).
* Keeping log(0) finite. The default is the textbook formula (a loss of +inf at a
  probability of exactly 0 or 1 where the target asks for it). What frameworks do
  instead are named variants, keyword-only parameters on the spec side that adapters
  never see: ``log_floor`` (each log clamped from below, torch: −100),
  ``clip_epsilon`` (probabilities clipped to [ε, 1 − ε], Keras: 1e-7),
  ``complement="rounded"`` (log(1 − p) of 1 − p rounded to the input's dtype rather
  than log1p(−p)), ``renormalise`` (predictions divided by their row sum, before or
  after the clip), ``denominator_floor`` (torch's BCE gradient (p − t)/max(p(1 − p), ε)).
  A framework's constants live in its own dtype (Keras' 1 − 1e-7 is 1 in float16), so
  those variants round them to the dtype the prediction arrived in, which the
  ``@_spec`` decorator passes as ``dtype``; the textbook formulas never use it.
* Keras reduces elementwise losses over the last axis first (its per-sample loss is a
  mean over features): the variant ``feature_mean=True``.
* Derivatives at kinks (mae at p = t, triplet at the margin) are the left ones
  (``kink="left"``: the inactive branch), as for the activations.
"""

from __future__ import annotations

import functools

import numpy as np

from . import activations as A
from ._float64 import float64

TORCH_LOG_FLOOR = -100.0  # torch's binary_cross_entropy clamps each log to >= -100
TORCH_BCE_EPSILON = float(np.float32(1e-12))  # its gradient's denominator floor, a float32 constant
KERAS_EPSILON = 1e-7  # keras.config.epsilon()


def _spec(formula):
    """``@float64``, passing the formula the dtype its first input arrived in as ``dtype``.

    Only variants use it, to round a framework's constants (1 − ε) as the framework's
    own arithmetic does. The NumPy baseline calls ``formula.__wrapped__`` on arrays
    already in that dtype, where ``dtype=None`` means the prediction's own.
    """
    in_float64 = float64(formula)

    @functools.wraps(formula)
    def spec(*arrays, dtype=None, **params):
        return in_float64(*arrays, dtype=dtype or np.asarray(arrays[0]).dtype, **params)

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


def _times(weight, value):
    """weight·value, 0 where the weight is 0 (0·log 0 = 0)."""
    return np.where(weight == 0, 0, weight * value)


def _over(weight, value):
    """weight/value, 0 where the weight is 0."""
    return np.where(weight == 0, 0, weight / np.where(weight == 0, 1, value))


def _in_dtype(value, dtype):
    """``value`` as the framework holds it: rounded to ``dtype``, computed on in the caller's precision."""
    array = np.asarray(value)
    return array.astype(dtype).astype(array.dtype)


def _smooth_binary(target, label_smoothing):
    return target if label_smoothing == 0 else target * (1 - label_smoothing) + 0.5 * label_smoothing


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


def _complement(p, complement, dtype):
    """(1 − p, log(1 − p)): log1p(−p) (textbook), or the log of 1 − p rounded to the dtype."""
    if complement == "exact":
        return 1 - p, np.log1p(-p)
    if complement == "rounded":
        q = _in_dtype(1 - p, dtype)
        return q, np.log(q)
    raise ValueError(f"complement must be 'exact' or 'rounded', got {complement!r}")


def _floored(log, log_floor):
    return log if log_floor is None else np.maximum(log, log_floor)


def _softplus(z):
    """log(1 + e^z) = max(z, 0) + log1p(e^{−|z|})."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _sigmoid(z):
    return A._sigmoid_parts(z)[0]


def _renormalised(p):
    return p / np.sum(p, axis=-1, keepdims=True)


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


@_spec
def mse(prediction, target, reduction="mean", *, feature_mean=False, dtype=None):
    """mse = reduce((p − t)²), the mean (or sum, or each) of the squared errors.

    d/dp = 2(p − t) times the cotangent reaching the term (1/n of it for "mean").
    Variant ``feature_mean=True``: each row's loss is the mean over its last axis (Keras).
    """
    error = prediction - target
    return _reduce(error * error, reduction, feature_mean)


@_spec
def mse_vjp(prediction, target, cotangent, reduction="mean", *, feature_mean=False, dtype=None):
    return _spread(cotangent, reduction, prediction.shape, feature_mean) * (2 * (prediction - target))


@_spec
def mae(prediction, target, reduction="mean", *, feature_mean=False, dtype=None):
    """mae = reduce(|p − t|).   d/dp = sign(p − t) (0 at p = t)."""
    return _reduce(np.abs(prediction - target), reduction, feature_mean)


@_spec
def mae_vjp(prediction, target, cotangent, reduction="mean", *, feature_mean=False, dtype=None):
    return _spread(cotangent, reduction, prediction.shape, feature_mean) * np.sign(prediction - target)


@_spec
def huber(prediction, target, delta=1.0, reduction="mean", *, feature_mean=False, dtype=None):
    """huber = reduce(½r² if |r| ≤ δ else δ(|r| − ½δ)), r = p − t, δ = ``delta`` (default 1.0).

    d/dp = r if |r| ≤ δ else δ·sign(r). Both branches agree at |r| = δ, value and slope.
    """
    error = prediction - target
    size = np.abs(error)
    terms = np.where(size <= delta, 0.5 * error * error, delta * (size - 0.5 * delta))
    return _reduce(terms, reduction, feature_mean)


@_spec
def huber_vjp(prediction, target, cotangent, delta=1.0, reduction="mean", *, feature_mean=False, dtype=None):
    error = prediction - target
    slope = np.where(np.abs(error) <= delta, error, delta * np.sign(error))
    return _spread(cotangent, reduction, prediction.shape, feature_mean) * slope


# binary classification -----------------------------------------------------------------------


@_spec
def binary_cross_entropy(prediction, target, reduction="mean", label_smoothing=0.0, *, log_floor=None,
                         clip_epsilon=None, complement="exact", feature_mean=False, dtype=None):
    """bce = reduce(−[t·log p + (1 − t)·log(1 − p)]), p a probability, log(1 − p) as log1p(−p).

    d/dp = (1 − t)/(1 − p) − t/p (each term 0 where its weight is 0).
    Variants: ``log_floor`` (torch: −100) clamps each log from below; ``clip_epsilon``
    (Keras: 1e-7) clips p to [ε, 1 − ε] first (derivative 0 outside); ``complement=
    "rounded"`` takes log(1 − p) of 1 − p rounded to the dtype (Keras); in the VJP,
    ``denominator_floor`` (torch: float32(1e-12)) gives torch's gradient
    (p − t)/max(p(1 − p), floor), which is not the derivative of its clamped forward.
    """
    t = _smooth_binary(target, label_smoothing)
    p, _ = _clipped(prediction, clip_epsilon, dtype)
    _, log_q = _complement(p, complement, dtype)
    terms = -(_times(t, _floored(np.log(p), log_floor)) + _times(1 - t, _floored(log_q, log_floor)))
    return _reduce(terms, reduction, feature_mean)


@_spec
def binary_cross_entropy_vjp(prediction, target, cotangent, reduction="mean", label_smoothing=0.0, *,
                             denominator_floor=None, clip_epsilon=None, complement="exact", feature_mean=False,
                             dtype=None):
    t = _smooth_binary(target, label_smoothing)
    g = _spread(cotangent, reduction, prediction.shape, feature_mean)
    if denominator_floor is not None:
        p = prediction
        return g * ((p - t) / np.maximum(p * (1 - p), denominator_floor))
    p, through = _clipped(prediction, clip_epsilon, dtype)
    q, _ = _complement(p, complement, dtype)
    return g * np.where(through, _over(1 - t, q) - _over(t, p), 0)


@_spec
def binary_cross_entropy_with_logits(logits, target, reduction="mean", label_smoothing=0.0, *, feature_mean=False,
                                     dtype=None):
    """bce(σ(x), t) = reduce(t·softplus(−x) + (1 − t)·softplus(x)), x the logits.

    Both terms are ≥ 0, so nothing cancels; softplus(z) = max(z, 0) + log1p(e^{−|z|}).
    d/dx = σ(x) − t.
    """
    t = _smooth_binary(target, label_smoothing)
    terms = _times(t, _softplus(-logits)) + _times(1 - t, _softplus(logits))
    return _reduce(terms, reduction, feature_mean)


@_spec
def binary_cross_entropy_with_logits_vjp(logits, target, cotangent, reduction="mean", label_smoothing=0.0, *,
                                         feature_mean=False, dtype=None):
    t = _smooth_binary(target, label_smoothing)
    return _spread(cotangent, reduction, logits.shape, feature_mean) * (_sigmoid(logits) - t)


# categorical classification ------------------------------------------------------------------


@_spec
def categorical_cross_entropy(prediction, target, reduction="mean", label_smoothing=0.0, *, clip_epsilon=None,
                              renormalise=False, dtype=None):
    """cce = reduce(−Σ_c t_c·log p_c), p a probability row (classes on the last axis).

    d/dp_c = −t_c/p_c. Variants (Keras): ``renormalise="before_clip"`` divides each row
    by its sum, ``clip_epsilon`` clips to [ε, 1 − ε]; the VJP follows both.
    """
    t = _smooth_categorical(target, label_smoothing)
    p, _ = _class_probabilities(prediction, clip_epsilon, renormalise, dtype)
    return _reduce(-np.sum(_times(t, np.log(p)), axis=-1), reduction)


@_spec
def categorical_cross_entropy_vjp(prediction, target, cotangent, reduction="mean", label_smoothing=0.0, *,
                                  clip_epsilon=None, renormalise=False, dtype=None):
    t = _smooth_categorical(target, label_smoothing)
    p, backward = _class_probabilities(prediction, clip_epsilon, renormalise, dtype)
    return backward(_rows(cotangent, reduction, prediction) * -_over(t, p))


def _cross_entropy_of_logits(logits, t):
    """Σ_c t_c·(−log_softmax(x)_c): every −log_softmax ≥ 0, so the sum does not cancel."""
    return np.sum(_times(t, -A.log_softmax.__wrapped__(logits)), axis=-1)


def _cross_entropy_of_logits_vjp(logits, t, row_cotangent):
    """d/dx = softmax(x)·Σ_c t_c − t."""
    return row_cotangent * (A.softmax.__wrapped__(logits) * np.sum(t, axis=-1, keepdims=True) - t)


@_spec
def categorical_cross_entropy_with_logits(logits, target, reduction="mean", label_smoothing=0.0, *, dtype=None):
    """cce(softmax(x), t) = reduce(Σ_c t_c·(logsumexp(x) − x_c)).   d/dx = softmax(x)·Σ_c t_c − t."""
    t = _smooth_categorical(target, label_smoothing)
    return _reduce(_cross_entropy_of_logits(logits, t), reduction)


@_spec
def categorical_cross_entropy_with_logits_vjp(logits, target, cotangent, reduction="mean", label_smoothing=0.0, *,
                                              dtype=None):
    t = _smooth_categorical(target, label_smoothing)
    return _cross_entropy_of_logits_vjp(logits, t, _rows(cotangent, reduction, logits))


@_spec
def sparse_categorical_cross_entropy(prediction, labels, from_logits=False, reduction="mean", label_smoothing=0.0, *,
                                     clip_epsilon=None, renormalise=False, dtype=None):
    """The categorical cross-entropy of one-hot(labels): reduce(−log p_y), or logsumexp(x) − x_y ``from_logits``.

    Labels are integers in [0, C). With smoothing ε the target is one-hot·(1 − ε) + ε/C.
    Gradients as for ``categorical_cross_entropy`` and its logits form; the variants
    (Keras, probabilities only) are ``clip_epsilon`` and ``renormalise="after_clip"``.
    """
    t = _smooth_categorical(_one_hot(labels, prediction.shape[-1], prediction.dtype), label_smoothing)
    if from_logits:
        return _reduce(_cross_entropy_of_logits(prediction, t), reduction)
    p, _ = _class_probabilities(prediction, clip_epsilon, renormalise, dtype)
    return _reduce(-np.sum(_times(t, np.log(p)), axis=-1), reduction)


@_spec
def sparse_categorical_cross_entropy_vjp(prediction, labels, cotangent, from_logits=False, reduction="mean",
                                         label_smoothing=0.0, *, clip_epsilon=None, renormalise=False, dtype=None):
    t = _smooth_categorical(_one_hot(labels, prediction.shape[-1], prediction.dtype), label_smoothing)
    g = _rows(cotangent, reduction, prediction)
    if from_logits:
        return _cross_entropy_of_logits_vjp(prediction, t, g)
    p, backward = _class_probabilities(prediction, clip_epsilon, renormalise, dtype)
    return backward(g * -_over(t, p))


@_spec
def nll(log_probabilities, labels, reduction="mean", *, dtype=None):
    """nll = reduce(−log_probabilities[y]), y the integer label of each row.   d/dlp_c = −1 if c = y else 0."""
    picked = np.take_along_axis(log_probabilities, labels[..., None], axis=-1)[..., 0]
    return _reduce(-picked, reduction)


@_spec
def nll_vjp(log_probabilities, labels, cotangent, reduction="mean", *, dtype=None):
    hot = _one_hot(labels, log_probabilities.shape[-1], log_probabilities.dtype)
    return _rows(cotangent, reduction, log_probabilities) * -hot


@_spec
def kl_divergence(prediction, target, reduction="mean", *, clip_epsilon=None, elementwise=False, dtype=None):
    """KL(t ‖ p) = reduce(Σ_c t_c·log(t_c/p_c)), p and t probability rows (0·log(0/p) = 0).

    d/dp_c = −t_c/p_c. log(t/p) is taken as log1p((t − p)/p) where t/p is near 1.
    Variants: ``clip_epsilon`` (Keras) clips both t and p to [ε, 1]; ``elementwise=True``
    makes reduction "none" return the terms t·log(t/p) unsummed (torch's kl_div, whose
    "batchmean" is this spec's "mean").
    """
    p, _ = _clipped(prediction, clip_epsilon, dtype, upper=1)
    t, _ = _clipped(target, clip_epsilon, dtype, upper=1)
    terms = _times(t, _log_ratio(t, p))
    if elementwise and reduction == "none":
        return terms
    return _reduce(np.sum(terms, axis=-1), reduction)


@_spec
def kl_divergence_vjp(prediction, target, cotangent, reduction="mean", *, clip_epsilon=None, dtype=None):
    p, through = _clipped(prediction, clip_epsilon, dtype, upper=1)
    t, _ = _clipped(target, clip_epsilon, dtype, upper=1)
    return _rows(cotangent, reduction, prediction) * np.where(through, -_over(t, p), 0)


# advanced ----------------------------------------------------------------------------------------


def _focal_parts(prediction, t, from_logits, clip_epsilon, complement, dtype):
    """p, 1 − p, bce(p, t), d bce/dp (or d/dx), dp/dx (1 for probabilities)."""
    if from_logits and clip_epsilon is None:
        x = prediction
        p, q = _sigmoid(x), _sigmoid(-x)
        bce = _times(t, _softplus(-x)) + _times(1 - t, _softplus(x))
        return p, q, bce, p - t, p * q
    # Keras takes the probability path even from logits: σ(x) in its dtype, then the clipped BCE.
    p = _in_dtype(_sigmoid(prediction), dtype) if from_logits else prediction
    slope = p * (1 - p) if from_logits else np.ones_like(p)
    c, through = _clipped(p, clip_epsilon, dtype)
    q_c, log_q = _complement(c, complement, dtype)
    bce = -(_times(t, np.log(c)) + _times(1 - t, log_q))
    dbce = np.where(through, _over(1 - t, q_c) - _over(t, c), 0)
    q, _ = _complement(p, complement, dtype)
    return p, q, bce, dbce * slope, slope


@_spec
def focal(prediction, target, alpha=0.25, gamma=2.0, from_logits=False, reduction="mean", label_smoothing=0.0, *,
          clip_epsilon=None, complement="exact", feature_mean=False, dtype=None):
    """focal = reduce(α_t·(1 − p_t)^γ·bce(p, t)), p_t = t·p + (1 − t)(1 − p), α_t = α·t + (1 − α)(1 − t).

    Lin et al.'s binary focal loss, in the form every framework generalises to soft
    targets; p = σ(x) ``from_logits``, with bce from the logits. ``alpha=None`` applies no
    class weight (α_t = 1). 1 − p_t is taken as t(1 − p) + (1 − t)p, so it does not cancel.
    d/dp = α_t·[γ(1 − p_t)^{γ−1}(1 − 2t)·bce + (1 − p_t)^γ·d bce/dp], times σ'(x) for logits
    (the first term is 0 where γ = 0 or bce = 0: its limit). Variants (Keras):
    ``clip_epsilon`` and ``complement`` as for binary_cross_entropy, from logits through
    p = σ(x) rounded to the dtype; ``feature_mean``.
    """
    t = _smooth_binary(target, label_smoothing)
    p, q, bce, _, _ = _focal_parts(prediction, t, from_logits, clip_epsilon, complement, dtype)
    weight = 1 if alpha is None else alpha * t + (1 - alpha) * (1 - t)
    return _reduce(weight * (t * q + (1 - t) * p) ** gamma * bce, reduction, feature_mean)


@_spec
def focal_vjp(prediction, target, cotangent, alpha=0.25, gamma=2.0, from_logits=False, reduction="mean",
              label_smoothing=0.0, *, clip_epsilon=None, complement="exact", feature_mean=False, dtype=None):
    t = _smooth_binary(target, label_smoothing)
    p, q, bce, dbce, slope = _focal_parts(prediction, t, from_logits, clip_epsilon, complement, dtype)
    weight = 1 if alpha is None else alpha * t + (1 - alpha) * (1 - t)
    w = t * q + (1 - t) * p  # 1 − p_t
    focusing = np.where((bce == 0) | (gamma == 0), 0, gamma * w ** (gamma - 1) * (1 - 2 * t) * slope * bce)
    g = _spread(cotangent, reduction, prediction.shape, feature_mean)
    return g * (weight * (focusing + w**gamma * dbce))


@_spec
def dice(prediction, target, smooth=1.0, reduction="mean", *, smoothing="both", dtype=None):
    """dice = reduce(1 − (2Σpt + s)/(Σp + Σt + s)) over each row, s = ``smooth`` (default 1.0).

    Computed as Σ[p(1 − t) + t(1 − p)]/(Σp + Σt + s), which does not cancel near a
    perfect overlap. d/dp_j = (2I + s − 2t_j·D)/D², I = Σpt, D = Σp + Σt + s.
    Variant ``smoothing="denominator"`` (Keras, s = 1e-7): 1 − 2I/(Σp + Σt + s).
    """
    numerator, denominator = _dice_parts(prediction, target, smooth, smoothing)
    return _reduce(1 - numerator / denominator if False else _dice_loss(prediction, target, smooth, smoothing),
                   reduction)


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


@_spec
def dice_vjp(prediction, target, cotangent, smooth=1.0, reduction="mean", *, smoothing="both", dtype=None):
    numerator, denominator = _dice_parts(prediction, target, smooth, smoothing)
    n, d = numerator[..., None], denominator[..., None]
    return _rows(cotangent, reduction, prediction) * ((n - 2 * target * d) / (d * d))


def _distance(difference, squared_eps):
    """‖v‖₂ over the last axis without overflow (hypot), or √(Σv² + eps) (optax's eps)."""
    norm = np.hypot.reduce(difference, axis=-1)
    return norm if squared_eps == 0 else np.hypot(norm, np.sqrt(squared_eps))


@_spec
def triplet(anchor, positive, negative, margin=1.0, reduction="mean", *, difference_eps=0.0, squared_eps=0.0,
            dtype=None):
    """triplet = reduce(max(‖a − p‖₂ − ‖a − n‖₂ + margin, 0)), distances over the last axis.

    d/da = u(a − p) − u(a − n) where active (the hinge > 0; kink="left": 0 at exactly 0),
    u(v) = v/‖v‖ (0 at v = 0, the minimal subgradient); d/dp = −u(a − p), d/dn = u(a − n).
    Variants: ``difference_eps`` (torch: 1e-6) adds eps to every component of the
    difference, ‖a − p + eps‖; ``squared_eps`` (optax: 1e-6) takes √(Σ(a − p)² + eps);
    in the VJP ``kink="right"`` (active at 0) and ``zero_distance="nan"`` (0/0 at a = p).
    """
    near = _distance(anchor - positive + difference_eps, squared_eps)
    far = _distance(anchor - negative + difference_eps, squared_eps)
    return _reduce(np.maximum(near - far + margin, 0), reduction)


@_spec
def triplet_vjp(anchor, positive, negative, cotangent, margin=1.0, reduction="mean", *, difference_eps=0.0,
                squared_eps=0.0, kink="left", zero_distance="zero", dtype=None):
    to_positive, to_negative = anchor - positive + difference_eps, anchor - negative + difference_eps
    near, far = _distance(to_positive, squared_eps), _distance(to_negative, squared_eps)
    hinge = near - far + margin
    active = (hinge > 0) if kink == "left" else (hinge >= 0)

    def unit(v, norm):
        if zero_distance == "nan":
            return v / norm[..., None]
        return np.where(norm[..., None] == 0, 0, v / np.where(norm == 0, 1, norm)[..., None])

    g = _rows(cotangent, reduction, anchor)
    return np.where(active[..., None], g * (unit(to_positive, near) - unit(to_negative, far)), 0)


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
    """l1 = λ·Σ|w|, λ = ``lam`` (default 0.01, Keras' L1).   d/dw = λ·sign(w) (0 at w = 0)."""
    return np.asarray(lam * np.sum(np.abs(weights)))


@float64
def l1_penalty_vjp(weights, cotangent, lam=0.01):
    return cotangent * (lam * np.sign(weights))


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
