"""Catalogue rows of the losses family (and the regularization penalties).

Inputs reach the edges of each loss's domain: probabilities at and next to 0 and 1
(subnormals, 1 − ulp, Keras' 1e-7), logits of large magnitude, one-hot, soft and
unnormalised targets, integer labels including the last class, batches of one, 2 to
300 classes, deltas and margins at the scale of the data (where huber and triplet
switch branch). Loss parameters are drawn before the inputs (``from_logits`` decides
what the prediction is), so their strategies get no inputs.

Error measures. A loss sums non-negative terms, and most are accurate relative to their
value. Where a formula is only accurate to an absolute error — a log-likelihood of
logits near 0 (x − logsumexp(x), as log_softmax), 1 − ratio in dice, the hinge of
triplet, the mixed-sign terms of a KL divergence — the forward floor is that scale per
sample, reduced as the loss is. A gradient element is judged in ULPs of max(|vjp|,
|cotangent reaching its term| × the derivative's natural scale): the cotangent of a
"mean" is 1/n of the output's.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ...spec import activations as A
from ...spec import losses as L
from .. import strategies as S
from ..measure import finfo
from . import OpEntry, Tolerance

# Three shapes each: every new shape (and reduction) costs a compiling framework one compile.
ELEMENT_SHAPES = [(1,), (2, 3), (4, 16)]
ROW_SHAPES = [(1, 2), (4, 10), (1, 300)]  # batches of one; 2 to 300 classes
TRIPLET_SHAPES = [(1, 1), (2, 3), (4, 8)]
WEIGHT_SHAPES = [(), (2, 4), (64,)]


# values ---------------------------------------------------------------------------------------
#
# Element values are mixes of sources (strategies.Mix: each source equally often, a nested mix
# sharing its source's share); an array is one hypothesis choice decoded with NumPy, and every
# strategy is built once per argument tuple (lru_cache), not per draw.


def _array(values: S.Mix, shape, dtype):
    """Arrays of ``shape`` in ``dtype``, every element drawn on its own from ``values``, rounded to the dtype."""
    return S.mixed_arrays(values, tuple(shape), dtype)


@lru_cache(maxsize=None)
def probabilities(dtype) -> S.Mix:
    """[0, 1], with 0, 1, subnormals, 1 − ulp, Keras' ε and 1 − ε, and tiny values on a log scale."""
    info = finfo(S.np_dtype(dtype))
    edges = (0.0, 1.0, 0.5, float(info.smallest_subnormal), float(info.tiny), float(info.eps),
             1 - float(info.epsneg), L.KERAS_EPSILON, 1 - L.KERAS_EPSILON)
    lowest = float(np.log10(float(info.smallest_subnormal)))
    return S.mix(S.Uniform(0.0, 1.0), S.Values(edges), S.LogUniform(lowest, 0.0),
                 S.LogUniform(lowest, 0.0, complement=True))


def largest(dtype, squared=False):
    """The largest magnitude drawn. In float16, a quarter of the range (√ of it where the loss
    squares): no term or derivative overflows, but a sum of a few hundred terms does unless the
    framework accumulates in float32, as it should. Elsewhere √max/32, where no sum of squares
    overflows: what a loss does past its dtype's range is not what these rows measure."""
    top = float(finfo(S.np_dtype(dtype)).max)
    if dtype == "float16":
        return float(np.sqrt(top) / 4) if squared else top / 4
    return float(np.sqrt(top) / 32)


@lru_cache(maxsize=None)
def logits(dtype) -> S.Mix:
    """Moderate logits, large ones (where softplus and logsumexp saturate) and the largest drawn."""
    big = largest(dtype)
    return S.mix(S.Uniform(-10.0, 10.0), S.Uniform(max(-1e4, -big), min(1e4, big)),
                 S.Values((0.0, 30.0, -30.0, big, -big)), S.Wide(big))


@lru_cache(maxsize=None)
def reals(dtype, moderate=10.0, squared=False) -> S.Mix:
    big = largest(dtype, squared)
    return S.mix(S.Uniform(-moderate, moderate), S.Values((0.0, 1.0, -1.0)), S.Wide(big))


@lru_cache(maxsize=None)
def binary_targets(dtype) -> S.Mix:
    return S.mix(S.Values((0.0, 1.0)), probabilities(dtype))


@lru_cache(maxsize=None)
def _one_hot_flags(rows):
    return hnp.arrays(np.bool_, (rows,), elements=st.booleans(), fill=st.nothing())


@lru_cache(maxsize=None)
def distribution_rows(shape, dtype, one_hot=True):
    """Rows that sum to 1 (up to rounding): one-hot, or normalised non-negative weights with zeros."""
    rows, classes = int(np.prod(shape[:-1])), shape[-1]
    weights = _array(S.mix(S.Values((0.0,)), probabilities(dtype)), (rows, classes), "float64")
    flags = _one_hot_flags(rows) if one_hot else st.just(np.zeros(rows, dtype=bool))

    def build(drawn):
        hot, index, w = drawn
        totals = w.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = np.where(totals > 0, w / totals, np.eye(classes)[0])
        out = np.where(hot[:, None], np.eye(classes)[index], spread)
        return out.reshape(shape).astype(S.np_dtype(dtype))

    return st.tuples(flags, labels((rows,), classes), weights).map(build)


@lru_cache(maxsize=None)
def probability_rows(shape, dtype):
    """Probability rows that sum to 1, or any values in [0, 1] (what a Keras renormalisation changes)."""
    return st.one_of(distribution_rows(shape, dtype), _array(probabilities(dtype), shape, dtype))


@lru_cache(maxsize=None)
def labels(shape, classes):
    index = st.one_of(st.sampled_from([0, classes - 1]), st.integers(0, classes - 1))
    return hnp.arrays(np.int64, tuple(shape), elements=index, fill=st.nothing())


@lru_cache(maxsize=None)
def class_labels(shape, classes, ignore_index):
    """Labels in [0, C); with an ``ignore_index`` it is drawn often, and a batch of it alone (every row
    ignored: the mean's divisor 0) is one draw in four."""
    if ignore_index is None:
        return labels(shape, classes)
    index = st.one_of(st.just(ignore_index), st.sampled_from([0, classes - 1]), st.integers(0, classes - 1))
    some = hnp.arrays(np.int64, tuple(shape), elements=index, fill=st.nothing())
    every = st.just(np.full(tuple(shape), ignore_index, dtype=np.int64))
    return st.one_of(some, some, some, every)


# examples ---------------------------------------------------------------------------------------


def loss_example(shapes, make_inputs, samples):
    """A row's ``inputs=``: params first, a shape, the inputs, and a cotangent of the output's shape.

    ``make_inputs(dtype, shape, params)`` is a strategy of the input list (built once per
    argument values: cache it); ``samples(shape)`` the shape of the per-sample losses (what
    reduction "none" returns).
    """
    shape_menu = st.sampled_from(shapes)

    def factory(dtype, params):
        @st.composite
        def example(draw):
            drawn = {name: draw(strategy(dtype, [])) for name, strategy in params.items()}
            shape = draw(shape_menu)
            inputs = draw(make_inputs(dtype, shape, drawn))
            out = samples(shape) if drawn.get("reduction", "none") == "none" else ()
            return S.Example(inputs=inputs, cotangent=draw(S.cotangents(dtype, out)), params=drawn)

        return example()

    return factory


def class_loss_example(make_inputs):
    """``loss_example`` for a loss of integer labels with ``class_weight`` and ``ignore_index``: those two
    are drawn after the shape, as they depend on its class count (``CLASS_PARAMS``), and the labels after
    them, so that they hit the ignored label (``make_inputs(dtype, shape, params)`` sees it)."""
    shape_menu = st.sampled_from(ROW_SHAPES)

    def factory(dtype, params):
        @st.composite
        def example(draw):
            drawn = {name: draw(strategy(dtype, [])) for name, strategy in params.items() if name not in CLASS_PARAMS}
            shape = draw(shape_menu)
            for name in CLASS_PARAMS:
                if name in params:
                    drawn[name] = draw(CLASS_PARAMS[name](dtype, shape[-1]))
            inputs = draw(make_inputs(dtype, shape, drawn))
            out = shape[:-1] if drawn.get("reduction", "none") == "none" else ()
            return S.Example(inputs=inputs, cotangent=draw(S.cotangents(dtype, out)), params=drawn)

        return example()

    return factory


def _elementwise(prediction, target):
    @lru_cache(maxsize=None)
    def make(dtype, shape):
        return st.tuples(_array(prediction(dtype), shape, dtype), _array(target(dtype), shape, dtype)).map(list)

    return loss_example(ELEMENT_SHAPES, lambda dtype, shape, params: make(dtype, shape), lambda shape: shape)


@lru_cache(maxsize=None)
def _binary_inputs(dtype, shape, from_logits):
    prediction = logits if from_logits else probabilities
    return st.tuples(_array(prediction(dtype), shape, dtype), _array(binary_targets(dtype), shape, dtype)).map(list)


def _binary(dtype, shape, params):
    return _binary_inputs(dtype, shape, params.get("from_logits", False))


def _rows(prediction, target):
    @lru_cache(maxsize=None)
    def make(dtype, shape):
        return st.tuples(prediction(shape, dtype), target(shape, dtype)).map(list)

    return loss_example(ROW_SHAPES, lambda dtype, shape, params: make(dtype, shape), lambda shape: shape[:-1])


def _class_rows(prediction, target):
    """``_rows`` with ``class_weight`` drawn after the shape, as its length is the class count."""
    @lru_cache(maxsize=None)
    def make(dtype, shape):
        return st.tuples(prediction(shape, dtype), target(shape, dtype)).map(list)

    return class_loss_example(lambda dtype, shape, params: make(dtype, shape))


@lru_cache(maxsize=None)
def _soft_targets(shape, dtype):
    """One-hot, soft, or any values in [0, 1] (the textbook cross-entropy takes any target)."""
    return st.one_of(distribution_rows(shape, dtype), _array(probabilities(dtype), shape, dtype))


def _logit_rows(shape, dtype):
    return _array(logits(dtype), shape, dtype)


def _log_softmax(x):
    return A.log_softmax(x).astype(x.dtype)


@lru_cache(maxsize=None)
def _log_probability_rows(shape, dtype):
    """log-probabilities: log_softmax of drawn logits, or any values ≤ 0."""
    negative = S.mix(S.Uniform(-30.0, 0.0), S.Wide(largest(dtype), negative=True))
    return st.one_of(_logit_rows(shape, dtype).map(_log_softmax), _array(negative, shape, dtype))


@lru_cache(maxsize=None)
def _sparse_inputs(dtype, shape, from_logits, ignore_index):
    prediction = _logit_rows(shape, dtype) if from_logits else probability_rows(shape, dtype)
    return st.tuples(prediction, class_labels(shape[:-1], shape[-1], ignore_index)).map(list)


def _sparse(dtype, shape, params):
    return _sparse_inputs(dtype, shape, params["from_logits"], params.get("ignore_index"))


@lru_cache(maxsize=None)
def _nll_inputs(dtype, shape, ignore_index):
    return st.tuples(_log_probability_rows(shape, dtype), class_labels(shape[:-1], shape[-1], ignore_index)).map(list)


def _nll(dtype, shape, params):
    return _nll_inputs(dtype, shape, params.get("ignore_index"))


@lru_cache(maxsize=None)
def _triplet_inputs(dtype, shape):
    near = _array(S.mix(S.Uniform(-3.0, 3.0), S.Values((0.0, 1.0))), shape, dtype)
    return st.tuples(near, near, near).map(list)


def _triplet(dtype, shape, params):
    """Anchor, positive, negative at the scale of the margin, so the hinge switches branch."""
    return _triplet_inputs(dtype, shape)


def _squared(dtype):
    return reals(dtype, squared=True)


@lru_cache(maxsize=None)
def _weights_inputs(dtype, shape):
    return st.tuples(_array(reals(dtype, squared=True), shape, dtype)).map(list)


def _weights(dtype, shape, params):
    return _weights_inputs(dtype, shape)


# parameters ------------------------------------------------------------------------------------


def scalar(low, high, common=(), normal=True):
    """A float parameter in [low, high], the common values drawn often, rounded to the dtype.

    ``normal``: no subnormal, and a value that rounds to one is taken as 0. A framework
    that flushes subnormals (XLA, oneDNN) would turn such a parameter into 0, which says
    nothing about the loss.
    """

    @lru_cache(maxsize=None)
    def build(dtype):
        tiny = float(finfo(S.np_dtype(dtype)).tiny) if normal else 0.0
        drawn = st.floats(low, high, allow_subnormal=not normal)
        value = st.one_of(st.sampled_from(common), drawn) if common else drawn
        return value.map(lambda v: S.in_dtype(v, dtype)).map(lambda v: v if abs(v) >= tiny else 0.0)

    return lambda dtype, inputs: build(dtype)


REDUCTION = S.choice("mean", "sum", "none")
LABEL_SMOOTHING = scalar(0.0, 1.0, (0.0, 0.0, 0.1))
FROM_LOGITS = S.choice(False, True)
LAM = scalar(0.0, 1.0, (0.01, 0.1, 1e-4))


_WEIGHT = S.mix(S.Values((1.0, 0.0, 0.5, 2.0)), S.Uniform(0.0, 3.0))


@lru_cache(maxsize=None)
def class_weights(dtype, classes):
    """None (unweighted) half the time, else C weights in [0, 3] (0 and 1 often), rounded to the dtype:
    a tuple, as a parameter is recorded (JSON). At most 3, so that a weighted term stays in the range
    of the largest values drawn (a quarter of float16's)."""
    weights = _array(_WEIGHT, (classes,), dtype).map(lambda w: tuple(float(v) for v in w))
    return st.one_of(st.none(), weights)


@lru_cache(maxsize=None)
def ignored_label(dtype, classes):
    """None (no label ignored) half the time, else a class in [0, C), which the labels then hit."""
    return st.one_of(st.none(), st.sampled_from([0, classes - 1]), st.integers(0, classes - 1))


CLASS_PARAMS = {"class_weight": class_weights, "ignore_index": ignored_label}  # (dtype, classes) -> strategy

_ANY_ALPHA = scalar(0.0, 1.0)


@lru_cache(maxsize=None)
def _focal_alpha(dtype):
    return st.one_of(st.sampled_from([0.25, None]), _ANY_ALPHA(dtype, []))


def focal_alpha(dtype, inputs):
    return _focal_alpha(dtype)


focal_gamma = scalar(0.0, 5.0, (2.0, 0.0, 0.5, 1.0, 5.0))


_ANY_SMOOTHING = scalar(0.0, 2.0, (1.0, 1e-5, 0.0), normal=False)


@lru_cache(maxsize=None)
def _dice_smooth(dtype):
    keras = st.just(S.in_dtype(L.KERAS_EPSILON, dtype))
    return st.one_of(keras, _ANY_SMOOTHING(dtype, []))


def dice_smooth(dtype, inputs):
    """Keras' ε (its only smoothing; subnormal in float16) half the time, else any smoothing."""
    return _dice_smooth(dtype)


# floors -------------------------------------------------------------------------------------------


def _reduced(per_sample, reduction):
    """A per-sample floor reduced as the loss is."""
    per_sample = np.asarray(per_sample, dtype=np.float64)
    if reduction == "none":
        return per_sample
    return np.sum(per_sample) if reduction == "sum" else np.mean(per_sample)


def _f64(array):
    return np.asarray(array, dtype=np.float64)


def _row_floor(example):
    """1 per row: a cross-entropy near 0 (as log_softmax), or dice's 1 − ratio near a perfect overlap,
    is accurate to absolute error."""
    return _reduced(np.ones(example.inputs[0].shape[:-1]), example.params["reduction"])


def _class_scales(example):
    """(Σ_c t'_c of each row, the mean's divisor): the weight each row's loss carries (1 for an unweighted
    row, 0 for an ignored one) and what "mean" divides by, under the example's own variant."""
    params = example.params
    prediction, labels = example.inputs[0], example.inputs[1]
    classes = prediction.shape[-1]
    t = L._smooth_categorical(L._one_hot(labels, classes, np.float64), params.get("label_smoothing", 0.0))
    mass = np.sum(L._weighted_targets(t, labels, params.get("class_weight"), params.get("ignore_index")), axis=-1)
    divisor = L._divisor(labels, params.get("class_weight"), params.get("ignore_index"), np.float64,
                         params.get("mean_divisor", "weight_sum"))
    return mass, float(divisor)


def _weighted_reduced(per_row, example):
    """A per-row floor reduced as a weighted class loss is: "mean" divides by the divisor (0 where it is 0)."""
    reduction = example.params["reduction"]
    if reduction != "mean":
        return _reduced(per_row, reduction)
    _, divisor = _class_scales(example)
    return np.sum(per_row) / divisor if divisor != 0 else 0.0


def _class_row_floor(example):
    """1 per row as for the other cross-entropies, times the weight the row carries (Σ_c w_c·t_c)."""
    if L._plain(example.params.get("class_weight"), example.params.get("ignore_index")):
        return _row_floor(example)
    mass, _ = _class_scales(example)
    return _weighted_reduced(mass, example)


def _class_row_gradient_floor(example):
    """|cotangent reaching each row| × the weight the row carries: 1/divisor of the output's for "mean"."""
    if L._plain(example.params.get("class_weight"), example.params.get("ignore_index")):
        return _row_gradient_floor(example)
    prediction, g = example.inputs[0], np.abs(_f64(example.cotangent))
    mass, divisor = _class_scales(example)
    if example.params["reduction"] == "mean":
        g = g / divisor if divisor != 0 else 0 * g
    return (np.broadcast_to(g, prediction.shape[:-1]) * mass)[..., None] * np.ones(prediction.shape)


def _soft_class_scales(example):
    """(the largest class weight each row's terms carry, the mean's divisor) for probability targets."""
    target = _f64(example.inputs[1])
    params = example.params
    t = L._smooth_categorical(target, params.get("label_smoothing", 0.0))
    weighted, divisor = L._soft_class_weighting(target, t, params["class_weight"], np.float64,
                                                params.get("mean_divisor", "weight_sum"))
    weights = np.broadcast_to(np.asarray(params["class_weight"], dtype=np.float64), t.shape)
    return np.max(np.where(t > 0, weights, 0), axis=-1), float(divisor)


def _soft_class_row_floor(example):
    """1 per row as unweighted, times the largest class weight its terms carry; "mean" over the divisor."""
    if example.params.get("class_weight") is None:
        return _row_floor(example)
    scale, divisor = _soft_class_scales(example)
    if example.params["reduction"] != "mean":
        return _reduced(scale, example.params["reduction"])
    return np.sum(scale) / divisor if divisor != 0 else 0.0


def _soft_class_row_gradient_floor(example):
    """|cotangent reaching each row| × the largest class weight its terms carry: over the divisor for "mean"."""
    if example.params.get("class_weight") is None:
        return _row_gradient_floor(example)
    prediction, g = example.inputs[0], np.abs(_f64(example.cotangent))
    scale, divisor = _soft_class_scales(example)
    if example.params["reduction"] == "mean":
        g = g / divisor if divisor != 0 else 0 * g
    return (np.broadcast_to(g, prediction.shape[:-1]) * scale)[..., None] * np.ones(prediction.shape)


def _weighted_rounding(example):
    """1 ULP more where a class weight or an ignored label makes the gradient w_y·g/Σw: one product more."""
    return 0 if L._plain(example.params.get("class_weight"), example.params.get("ignore_index")) else 1


def _element_floor(example):
    """1 per element: a binary cross-entropy term, accurate to absolute error where it is near 0."""
    return _reduced(np.ones(example.inputs[0].shape), example.params["reduction"])


def _kl_floor(example):
    """Σ t(1 + |log t| + |log p|) per row: what t·log t − t·log p (or t·log of a rounded t/p)
    computes with before its terms, of either sign, cancel."""
    p, t = _f64(example.inputs[0]), _f64(example.inputs[1])
    with np.errstate(all="ignore"):
        scale = np.where(t > 0, t * (1 + np.abs(np.log(t)) + np.abs(np.log(p))), 0)
    return _reduced(np.sum(np.nan_to_num(scale, posinf=0), axis=-1), example.params["reduction"])


def _triplet_floor(example):
    """‖a − p‖ + ‖a − n‖ + |margin| per row: the magnitudes the hinge subtracts."""
    a, p, n = (_f64(x) for x in example.inputs)
    scale = np.hypot.reduce(a - p, axis=-1) + np.hypot.reduce(a - n, axis=-1) + abs(example.params["margin"])
    return _reduced(scale, example.params["reduction"])


def _term_cotangent(example, rows=False):
    """|cotangent reaching each term| in the prediction's shape: 1/n of the output's for "mean"."""
    prediction, g = example.inputs[0], np.abs(_f64(example.cotangent))
    terms = prediction.shape[:-1] if rows else prediction.shape
    if example.params["reduction"] == "mean":
        g = g / max(int(np.prod(terms)), 1)
    per = np.broadcast_to(g, terms)
    return (per[..., None] if rows else per) * np.ones(prediction.shape)


def _element_gradient_floor(example):
    return _term_cotangent(example)


def _row_gradient_floor(example):
    return _term_cotangent(example, rows=True)


def _dice_gradient_floor(example):
    """The row's cotangent over D = Σp + Σt + s, the scale of (2I + s − 2t·D)/D²."""
    p, t = _f64(example.inputs[0]), _f64(example.inputs[1])
    d = np.sum(p, axis=-1) + np.sum(t, axis=-1) + example.params["smooth"]
    with np.errstate(all="ignore"):
        return _term_cotangent(example, rows=True) / np.abs(d)[..., None]


def _penalty_gradient_floor(example):
    """|cotangent|·λ: the derivative's scale (λ·sign(w), 2λw)."""
    return np.abs(_f64(example.cotangent)) * example.params["lam"] * np.ones(example.inputs[0].shape)


# tolerances --------------------------------------------------------------------------------------

TERMS = Tolerance(16, "a few rounded operations per term, then a sum of up to a few hundred terms")
LOG_REASON = "a log per term, then a sum; accurate to absolute error where the loss is near 0"
ELEMENT_LOGS = Tolerance(16, LOG_REASON, floor=_element_floor)
ROW_LOGS = Tolerance(16, LOG_REASON, floor=_row_floor)
SOFT_CLASS_LOGS = Tolerance(16, LOG_REASON, floor=_soft_class_row_floor)
GRADIENT = Tolerance(16, "a few rounded operations per element, a division by n for the mean")
ROW_GRADIENT = Tolerance(16, "softmax (or 1/p), a weighted row sum and a product, each rounded")
PENALTY = Tolerance(16, "one rounded operation per weight, a sum of up to 64 terms and a product")

FEATURE_MEAN = {"feature_mean": (True,)}
ZERO_WEIGHT = {"zero_weight": ("ieee",)}
SMOOTHED = {"smoothed_target": ("rounded",)}  # every framework holds its smoothed binary target in the dtype
TORCH_BCE = {"log_floor": (L.TORCH_LOG_FLOOR,)}
KERAS_BCE = {"clip_epsilon": (L.KERAS_EPSILON,)}
WEIGHTED_MEAN = {"mean_divisor": ("kept", "samples"), "empty_mean": ("zero",)}
SOFT_WEIGHTED_MEAN = {"mean_divisor": ("samples",), "empty_mean": ("zero",)}  # no row is ignored: "kept" is N

ROWS = [
    OpEntry("mse", "losses", L.mse, L.mse_vjp, TERMS, GRADIENT, params={"reduction": REDUCTION},
            variants=FEATURE_MEAN, inputs=_elementwise(_squared, _squared), gradient_floor=_element_gradient_floor),
    OpEntry("mae", "losses", L.mae, L.mae_vjp, TERMS, GRADIENT, params={"reduction": REDUCTION},
            variants={"kink": ("right",), **FEATURE_MEAN}, inputs=_elementwise(reals, reals),
            gradient_floor=_element_gradient_floor),
    OpEntry("huber", "losses", L.huber, L.huber_vjp, TERMS, GRADIENT,
            params={"delta": scalar(0.05, 10.0, (1.0, 0.5, 2.0)), "reduction": REDUCTION},
            variants=FEATURE_MEAN, inputs=_elementwise(lambda d: reals(d, 3.0, True), lambda d: reals(d, 3.0, True)),
            gradient_floor=_element_gradient_floor),
    OpEntry("binary_cross_entropy", "losses", L.binary_cross_entropy, L.binary_cross_entropy_vjp, ELEMENT_LOGS,
            GRADIENT,
            params={"reduction": REDUCTION, "label_smoothing": LABEL_SMOOTHING},
            variants={**TORCH_BCE, **KERAS_BCE, **ZERO_WEIGHT, **SMOOTHED, **FEATURE_MEAN},
            inputs=loss_example(ELEMENT_SHAPES, _binary, lambda shape: shape),
            gradient_floor=_element_gradient_floor),
    OpEntry("binary_cross_entropy_with_logits", "losses", L.binary_cross_entropy_with_logits,
            L.binary_cross_entropy_with_logits_vjp, ELEMENT_LOGS, GRADIENT,
            params={"reduction": REDUCTION, "label_smoothing": LABEL_SMOOTHING}, variants={**SMOOTHED, **FEATURE_MEAN},
            inputs=loss_example(ELEMENT_SHAPES, lambda d, s, p: _binary(d, s, {"from_logits": True}),
                                lambda shape: shape),
            gradient_floor=_element_gradient_floor),
    OpEntry("categorical_cross_entropy", "losses", L.categorical_cross_entropy, L.categorical_cross_entropy_vjp,
            SOFT_CLASS_LOGS, ROW_GRADIENT, params={"reduction": REDUCTION, "label_smoothing": LABEL_SMOOTHING,
                                               "class_weight": class_weights},
            variants={"clip_epsilon": (L.KERAS_EPSILON,), "renormalise": ("before_clip",), **ZERO_WEIGHT,
                      **SOFT_WEIGHTED_MEAN},
            inputs=_class_rows(probability_rows, _soft_targets), gradient_floor=_soft_class_row_gradient_floor),
    OpEntry("categorical_cross_entropy_with_logits", "losses", L.categorical_cross_entropy_with_logits,
            L.categorical_cross_entropy_with_logits_vjp, SOFT_CLASS_LOGS,
            ROW_GRADIENT, params={"reduction": REDUCTION, "label_smoothing": LABEL_SMOOTHING,
                                  "class_weight": class_weights},
            variants={"normalised_targets": (True,), **SOFT_WEIGHTED_MEAN},
            inputs=_class_rows(_logit_rows, _soft_targets), gradient_floor=_soft_class_row_gradient_floor),
    OpEntry("sparse_categorical_cross_entropy", "losses", L.sparse_categorical_cross_entropy,
            L.sparse_categorical_cross_entropy_vjp, Tolerance(16, LOG_REASON, floor=_class_row_floor), ROW_GRADIENT,
            params={"from_logits": FROM_LOGITS, "reduction": REDUCTION, "label_smoothing": LABEL_SMOOTHING,
                    **CLASS_PARAMS},
            variants={"clip_epsilon": (L.KERAS_EPSILON,), "renormalise": ("after_clip",), **ZERO_WEIGHT,
                      **WEIGHTED_MEAN},
            inputs=class_loss_example(_sparse), gradient_floor=_class_row_gradient_floor),
    OpEntry("nll", "losses", L.nll, L.nll_vjp,
            Tolerance(4, "a negated element (times its class weight), or their rounded sum (over the weights')"),
            Tolerance(1, "the cotangent (over n for the mean), negated, at one index per row; one more rounding "
                         "where a class weight multiplies it", extra=_weighted_rounding),
            params={"reduction": REDUCTION, **CLASS_PARAMS}, variants=WEIGHTED_MEAN,
            inputs=class_loss_example(_nll), gradient_floor=_class_row_gradient_floor),
    OpEntry("kl_divergence", "losses", L.kl_divergence, L.kl_divergence_vjp,
            Tolerance(16, "t·(log t − log p) per term, summed; terms of either sign cancel", floor=_kl_floor),
            ROW_GRADIENT, params={"reduction": REDUCTION},
            variants={"clip_epsilon": (L.KERAS_EPSILON,), "elementwise": (True,), **ZERO_WEIGHT},
            inputs=_rows(probability_rows, lambda shape, dtype: distribution_rows(shape, dtype)),
            gradient_floor=_row_gradient_floor),
    OpEntry("focal", "losses", L.focal, L.focal_vjp, Tolerance(32, "a power, a log and a product per term, then a sum",
                                                               floor=_element_floor),
            Tolerance(32, "product rule over a power, a log and σ, each rounded"),
            params={"alpha": focal_alpha, "gamma": focal_gamma, "from_logits": FROM_LOGITS, "reduction": REDUCTION,
                    "label_smoothing": LABEL_SMOOTHING},
            variants={"one_minus_pt": ("rounded",), **TORCH_BCE, **KERAS_BCE, **ZERO_WEIGHT, **SMOOTHED,
                      **FEATURE_MEAN},
            inputs=loss_example(ELEMENT_SHAPES, _binary, lambda shape: shape), gradient_floor=_element_gradient_floor),
    OpEntry("dice", "losses", L.dice, L.dice_vjp, Tolerance(16, "three row sums and a division", floor=_row_floor),
            ROW_GRADIENT, params={"smooth": dice_smooth, "reduction": REDUCTION},
            variants={"smoothing": ("denominator",)},
            inputs=_rows(lambda shape, dtype: _array(probabilities(dtype), shape, dtype),
                         lambda shape, dtype: _array(binary_targets(dtype), shape, dtype)),
            gradient_floor=_dice_gradient_floor),
    OpEntry("triplet", "losses", L.triplet, L.triplet_vjp,
            Tolerance(16, "two norms (a sum of squares and a root) and the hinge", floor=_triplet_floor),
            Tolerance(16, "two unit vectors, each a division by a rounded norm"),
            params={"margin": scalar(0.0, 5.0, (1.0, 0.5, 2.0)), "reduction": REDUCTION},
            variants={"difference_eps": (1e-6,), "squared_eps": (1e-6,), "kink": ("right", "half"),
                      "zero_distance": ("nan",)},
            inputs=loss_example(TRIPLET_SHAPES, _triplet, lambda shape: shape[:-1]),
            gradient_floor=_row_gradient_floor),
    OpEntry("l1_penalty", "losses", L.l1_penalty, L.l1_penalty_vjp, PENALTY, PENALTY,
            params={"lam": LAM}, variants={"kink": ("right",)},
            inputs=loss_example(WEIGHT_SHAPES, _weights, lambda shape: ()), gradient_floor=_penalty_gradient_floor),
    OpEntry("l2_penalty", "losses", L.l2_penalty, L.l2_penalty_vjp, PENALTY, PENALTY,
            params={"lam": LAM},
            inputs=loss_example(WEIGHT_SHAPES, _weights, lambda shape: ()), gradient_floor=_penalty_gradient_floor),
]
