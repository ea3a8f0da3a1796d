"""Catalogue rows of the activations family."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ...spec import activations as A
from .. import strategies as S
from ..measure import finfo
from . import OpEntry, Property, Tolerance

# properties ------------------------------------------------------------------------


def _sums_to_one(x, y, params):
    """|Σ_axis y − 1| in ULPs of 1 (summed in float64, so only y's own errors count)."""
    total = np.sum(y.astype(np.float64), axis=params["axis"])
    return _worst(np.abs(total - 1) / float(finfo(y.dtype).eps), x, params)


def _logsumexp_zero(x, y, params):
    """|log Σ_axis e^{y}| in ULPs of 1: log_softmax outputs are log-probabilities."""
    y64 = y.astype(np.float64)
    with np.errstate(all="ignore"):
        top = np.max(y64, axis=params["axis"], keepdims=True)
        lse = np.log(np.sum(np.exp(y64 - top), axis=params["axis"])) + np.squeeze(top, axis=params["axis"])
    return _worst(np.abs(lse) / float(finfo(y.dtype).eps), x, params)


def _worst(per_row, x, params):
    """Worst violation over rows whose inputs are all finite (a row with inf or nan is nan by spec)."""
    finite_rows = np.all(np.isfinite(x.astype(np.float64)), axis=params["axis"])
    rows = np.asarray(per_row)[finite_rows]
    return float(np.nan_to_num(rows, nan=np.inf).max()) if rows.size else 0.0


def _within(low, high):
    def violation(x, y, params):
        y64 = y.astype(np.float64)
        outside = (y64 < low) | (y64 > high)
        return float(np.inf if outside.any() else 0.0)

    violation.__doc__ = f"outputs in [{low}, {high}]"
    return violation


# tolerances ------------------------------------------------------------------------

EXACT = Tolerance(0, "no rounding happens: the output is an input or zero")
ONE_PRODUCT = Tolerance(1, "one rounded product α·x (exact in a float32 intermediate, then rounded once)")
LIBM = Tolerance(4, "vectorised exp/tanh/erf/log1p are within a few ULP; the composite adds a rounding or two")
BACKWARD = Tolerance(8, "a backward formula composes 3-5 rounded operations", floor=None)
DIVISION = Tolerance(2, "1 + |x| and one division, each rounded once")
SHIFT_DIVIDE = Tolerance(2, "x + 3 (exact near −3, by Sterbenz) and one division by 6, each rounded once")
SHIFT_DIVIDE_PRODUCT = Tolerance(3, "x + 3, a division by 6 and the product with x, each rounded once")
HARD_SWISH_BACKWARD = Tolerance(
    3, "g·(2x + 3)/6 or g·(x/3 + 1/2): three rounded operations; in ULPs of max(|vjp|, |g|), "
    "since x/3 + 1/2 cancels near x = −3/2")
def _shift_rounding(example):
    """|x − m|/2 ULPs: x − m rounded in the working dtype, magnified by e^{x−m} (m the row max)."""
    x, axis = example.inputs[0].astype(np.float64), example.params["axis"]
    with np.errstate(all="ignore"):
        shift = np.abs(x - np.max(x, axis=axis, keepdims=True)) / 2
    return np.nan_to_num(shift, nan=0.0, posinf=0.0)


def _softmax_gradient_floor(example):
    """s_i(|g_i| + |Σ_j g_j s_j|): the magnitudes the VJP s_i(g_i − Σ_j g_j s_j) subtracts."""
    x, g, axis = example.inputs[0], example.cotangent.astype(np.float64), example.params["axis"]
    s = A.softmax(x, axis=axis)
    return s * (np.abs(g) + np.abs(np.sum(g * s, axis=axis, keepdims=True)))


def _log_softmax_gradient_floor(example):
    """|g_i| + s_i|Σ_j g_j|: the magnitudes the VJP g_i − s_i Σ_j g_j subtracts."""
    x, g, axis = example.inputs[0], example.cotangent.astype(np.float64), example.params["axis"]
    return np.abs(g) + A.softmax(x, axis=axis) * np.abs(np.sum(g, axis=axis, keepdims=True))


REDUCTION = Tolerance(
    8, "one exp per element, an n-term sum and a division per row, plus |x−m|/2 for the rounding of x−m",
    extra=_shift_rounding,
)
REDUCTION_BACKWARD = Tolerance(
    16, "softmax (with its |x−m|/2), a weighted row sum and a product, each rounded; in ULPs of the magnitudes "
    "the VJP subtracts", extra=_shift_rounding,
)
LOG_REDUCTION = Tolerance(8, "x−m−log Σe: accurate to absolute (not relative) error near 0, hence floor 1", floor=1.0)

# prelu: x is (N, C, ...) with its slope a weight, one per channel or one for all; moderate values (its
# slope gradient is a sum, which the whole float range would only overflow), with the kink 0 and ±1.
PRELU_SHAPES = [(1, 1), (2, 3), (2, 3, 4), (2, 2, 3, 3)]
PRELU_VALUES = S.mix(S.Uniform(-10.0, 10.0), S.Values((0.0, -0.0, 1.0, -1.0)))
PRELU_SLOPES = S.mix(S.Uniform(0.0, 1.0), S.Values((0.25, 0.0)))  # 0.25: He et al.'s (and torch's) initial slope


def prelu_examples(dtype, params):
    @st.composite
    def example(draw):
        shape = draw(st.sampled_from(PRELU_SHAPES))
        x = draw(S.mixed_arrays(PRELU_VALUES, shape, dtype, sparse=1.0))
        weight = draw(S.mixed_arrays(PRELU_SLOPES, (draw(st.sampled_from((shape[1], 1))),), dtype))
        return S.Example([x, weight], draw(S.cotangents(dtype, shape)), {})

    return example()


def _prelu_gradient_floor(example):
    """|g| for ∂x; Σ|g·x| over the summed elements (x ≤ 0) for each slope."""
    x, weight = (a.astype(np.float64) for a in example.inputs)
    g = np.abs(example.cotangent.astype(np.float64))
    return g, -A.prelu_vjp(np.minimum(x, 0.0), weight, g)[1]  # Σ|g|·min(x, 0) = −Σ|g·x| over x ≤ 0


def _prelu_terms(example):
    x, weight = example.inputs
    return x.size // weight.shape[0]


PRELU_BACKWARD = Tolerance(
    1, "∂x: one product g·a; ∂a: a sum of K products g·x, within K·u of Σ|g·x| (Higham 2002, §3.1): "
    "+K ULPs of that floor, K the elements sharing one slope", extra=_prelu_terms)

KINK = {"kink": ("right",)}
TWO_KINKS = {"kink": ("inner", "left", "right")}
AT_INF = {"at_inf": ("ieee",)}

ROWS = [
    OpEntry("linear", "activations", A.linear, A.linear_vjp, EXACT, EXACT),
    OpEntry(
        "sigmoid", "activations", A.sigmoid, A.sigmoid_vjp, LIBM, BACKWARD,
        properties=(Property("range", _within(0, 1), "a probability"),),
    ),
    OpEntry(
        "tanh", "activations", A.tanh, A.tanh_vjp, LIBM, BACKWARD,
        properties=(Property("range", _within(-1, 1), "tanh maps into [-1, 1]"),),
    ),
    OpEntry("relu", "activations", A.relu, A.relu_vjp, EXACT, EXACT, variants=KINK),
    OpEntry(
        "leaky_relu", "activations", A.leaky_relu, A.leaky_relu_vjp, ONE_PRODUCT, ONE_PRODUCT,
        params={"alpha": S.slope(0.0, 1.0, (0.01, 0.2, 0.3))}, variants=KINK,
    ),
    OpEntry("swish", "activations", A.swish, A.swish_vjp, LIBM, BACKWARD, variants=AT_INF),
    OpEntry(
        "gelu", "activations", A.gelu, A.gelu_vjp, LIBM, BACKWARD,
        params={"approximate": S.choice("none", "tanh")}, variants={"approximate": ("tanh",), **AT_INF},
    ),
    OpEntry(
        "softmax", "activations", A.softmax, A.softmax_vjp, REDUCTION, REDUCTION_BACKWARD,
        params={"axis": S.axis}, min_ndim=1, gradient_floor=_softmax_gradient_floor,
        properties=(Property("rows sum to 1", _sums_to_one, "Σ|δy| ≤ tolerance·ulp(1) when each y is within tolerance"),),
    ),
    OpEntry(
        "log_softmax", "activations", A.log_softmax, A.log_softmax_vjp, LOG_REDUCTION, REDUCTION_BACKWARD,
        params={"axis": S.axis}, min_ndim=1, gradient_floor=_log_softmax_gradient_floor,
        properties=(Property("logsumexp is 0", _logsumexp_zero, "outputs are log-probabilities"),),
    ),
    OpEntry("softplus", "activations", A.softplus, A.softplus_vjp, LIBM, BACKWARD),
    OpEntry(
        "elu", "activations", A.elu, A.elu_vjp, LIBM, BACKWARD,
        params={"alpha": S.slope(0.1, 3.0, (1.0,))}, variants=KINK,
    ),
    OpEntry("selu", "activations", A.selu, A.selu_vjp, LIBM, BACKWARD, variants=KINK,
            params={"alpha": S.mostly(A.SELU_ALPHA, S.slope(0.5, 3.0, (1.0,))),
                    "scale": S.mostly(A.SELU_SCALE, S.slope(0.5, 2.0, (1.0,)))}),
    OpEntry(
        "softsign", "activations", A.softsign, A.softsign_vjp, DIVISION, BACKWARD, variants=AT_INF,
        properties=(Property("range", _within(-1, 1), "softsign maps into [-1, 1]"),),
    ),
    OpEntry("mish", "activations", A.mish, A.mish_vjp, LIBM, BACKWARD, variants=AT_INF),
    OpEntry("celu", "activations", A.celu, A.celu_vjp, LIBM, BACKWARD, params={"alpha": S.slope(0.1, 3.0, (1.0,))}),
    OpEntry(
        "relu6", "activations", A.relu6, A.relu6_vjp, EXACT, EXACT, variants=TWO_KINKS, kinks=(6.0,),
        properties=(Property("range", _within(0, 6), "relu6 caps at 0 and 6"),),
    ),
    OpEntry(
        "hard_sigmoid", "activations", A.hard_sigmoid, A.hard_sigmoid_vjp, SHIFT_DIVIDE, SHIFT_DIVIDE,
        variants=TWO_KINKS, kinks=(-3.0, 3.0), properties=(Property("range", _within(0, 1), "a probability"),),
    ),
    OpEntry(
        "hard_swish", "activations", A.hard_swish, A.hard_swish_vjp, SHIFT_DIVIDE_PRODUCT, HARD_SWISH_BACKWARD,
        variants={**TWO_KINKS, **AT_INF}, kinks=(-3.0, 3.0, -1.5),
    ),
    OpEntry(
        "prelu", "activations", A.prelu, A.prelu_vjp, ONE_PRODUCT, PRELU_BACKWARD, variants={"kink": ("right", "zero")},
        inputs=prelu_examples, wrt=(0, 1), gradient_floor=_prelu_gradient_floor,
    ),
]
