"""Catalogue rows of the quantization family: quantize, dequantize, fake_quantize, quant_params.

Inputs are drawn on the quantization grid on purpose: x = (k + f)·scale with k an integer
around and past both ends of the clip range (k = quant_min − z and quant_max − z are the
edges) and f ∈ {0, ±½} a large share of the time (exact ties wherever (2k + 1)·scale fits
the dtype, the rounding mode's measurement) or any fraction in [−½, ½]. Scales are a power of
two times a short mantissa (1, 1.25, 1.5, 1.75: ties stay exact) or any value in [1, 2),
rounded to the dtype; zero points are 0, the range's ends, its middle or any integer in it.
Each example draws its integer range (int8, uint8, int4) and whether it is per tensor (axis
None, 0-d scale and zero point) or per channel (an axis of x, one scale and zero point per
index along it).

Tolerances. q is an integer: exact (0 ULP). A dequantized value is an integer of at most 9
bits times scale, exact in float64: the dtype rounds it once (½ ULP).

quant_params draws observed ranges [x_min, x_max] (0-d, or one per channel): both signs, all
positive or all negative (the range widened to hold 0), equal ends and the empty range at 0
(the scale's eps floor), symmetric and affine.

quantized_dense draws activations at and inside an 8-bit range's ends (int8 or uint8, any zero
point in it) and symmetric int8 weights at −128 and 127 a large share of the time (so the int32
accumulator leaves int16's range), with short-mantissa scales per tensor or per output unit, and
requantizes to the same range with an output scale that makes M = s_x·s_w/s_y a power of two half
the time (exact ties of M·acc); the result is integers, judged exactly.

dynamic_loss_scale runs the ``trajectory`` check: each example is 24 SGD steps whose gradients are
finite, carry an ±inf or nan (an overflowed backward), or carry one element 2^(emax − k) that
overflows the dtype once scaled iff log2 S > k (k ∈ [8, 22], near the scales drawn), with growth
intervals of 1–5 steps (and 2000, the default, where the scale never grows) so that growth, back-off
and the skipped steps all happen within the trajectory.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ...spec import quantization as Q
from .. import strategies as S
from . import OpEntry, Tolerance

SHAPES = [(8,), (2, 3), (2, 3, 4)]  # few shapes: a compiling framework compiles each once
RANGES = (Q.INT8, Q.UINT8, Q.INT4)
MANTISSAS = (1.0, 1.25, 1.5, 1.75)

EXACT = Tolerance(0, "an integer-valued result of exact integer arithmetic: any difference is a different integer")
ONE_ROUNDING = Tolerance(0.5, "(q − z)·scale is exact in float64; the dtype rounds it once")
MASK = Tolerance(0, "the straight-through gradient is the cotangent or 0: exact")


def _range_param(index):
    """quant_min / quant_max: drawn jointly with the example (one range for both), listed for the defaults."""
    return lambda dtype, inputs: st.sampled_from([r[index] for r in RANGES])


PARAMS = {"quant_min": _range_param(0), "quant_max": _range_param(1), "axis": lambda dtype, inputs: st.none()}


@lru_cache(maxsize=None)
def scales(dtype):
    mantissa = st.one_of(st.sampled_from(MANTISSAS), st.floats(1.0, 2.0, exclude_max=True))
    return st.tuples(mantissa, st.integers(-8, 1)).map(lambda me: S.in_dtype(me[0] * 2.0 ** me[1], dtype))


@lru_cache(maxsize=None)
def zero_points(low, high):
    return st.one_of(st.sampled_from(sorted({0 if low <= 0 <= high else low, low, high, (low + high + 1) // 2})),
                     st.integers(low, high))


@lru_cache(maxsize=None)
def grid_offsets(shape, low, high):
    """e (the integer q would be before the clip: at, next to and past both edges, or any in
    [low − 4, high + 4]) and the fraction f of a step (a tie ±½, 0, or any), per element."""
    e = hnp.arrays(np.int64, shape, elements=st.one_of(
        st.sampled_from([low - 2, low - 1, low, low + 1, high - 1, high, high + 1, high + 2]),
        st.integers(low - 4, high + 4)), fill=st.nothing())
    f = hnp.arrays(np.float64, shape, elements=st.one_of(
        st.sampled_from([0.5, -0.5, 0.0]), st.floats(-0.5, 0.5)), fill=st.nothing())
    return st.tuples(e, f)


def quantization_example(integer_input=False):
    """A row's ``inputs=``: x (or q), scale, zero point; the range and axis in params; a cotangent of x's shape."""

    def factory(dtype, params):
        @st.composite
        def example(draw):
            low, high = draw(st.sampled_from(RANGES))
            shape = draw(st.sampled_from(SHAPES))
            axis = draw(st.one_of(st.none(), st.integers(0, len(shape) - 1)))
            channels = () if axis is None else (shape[axis],)
            count = int(np.prod(channels))
            scale = np.array([draw(scales(dtype)) for _ in range(count)]).reshape(channels)
            zero = np.array([draw(zero_points(low, high)) for _ in range(count)], dtype=np.int64).reshape(channels)
            per = (lambda v: v) if axis is None else (lambda v: v.reshape([-1 if i == axis else 1
                                                                            for i in range(len(shape))]))
            if integer_input:
                q = draw(hnp.arrays(np.int64, shape, elements=st.one_of(st.sampled_from([low, high]),
                                                                          st.integers(low, high))))
                x = q.astype(np.float64)
            else:
                e, f = draw(grid_offsets(shape, low, high))
                x = (e - per(zero) + f) * per(scale)  # round(x/scale) + z = e, up to the tie's rule
            inputs = [x.astype(S.np_dtype(dtype)), scale.astype(S.np_dtype(dtype)), zero]
            params = {"axis": axis} if integer_input else {"quant_min": low, "quant_max": high, "axis": axis}
            return S.Example(inputs=inputs, cotangent=draw(S.cotangents(dtype, shape)), params=params)

        return example()

    return factory


ROWS = [
    OpEntry(
        op="quantize", family="quantization", forward=Q.quantize, vjp=None,
        forward_tol=EXACT, gradient_tol=EXACT, params=PARAMS, inputs=quantization_example(),
        variants={"rounding": ("half_up", "half_away"), "scaling": ("reciprocal",), "shift": ("before",)}, wrt=(),
    ),
    OpEntry(
        op="dequantize", family="quantization", forward=Q.dequantize, vjp=None,
        forward_tol=ONE_ROUNDING, gradient_tol=ONE_ROUNDING, params={"axis": PARAMS["axis"]},
        inputs=quantization_example(integer_input=True), wrt=(),
    ),
    OpEntry(
        op="fake_quantize", family="quantization", forward=Q.fake_quantize, vjp=Q.fake_quantize_vjp,
        forward_tol=ONE_ROUNDING, gradient_tol=MASK, params=PARAMS, inputs=quantization_example(),
        variants={"rounding": ("half_up", "half_away"), "scaling": ("reciprocal",),
                  "gradient": ("unrounded", "identity"), "nudging": ("float32_range",)},
    ),
]


@lru_cache(maxsize=None)
def range_ends(dtype, shape):
    ends = S.mix(S.Uniform(-10.0, 10.0), S.Uniform(-1000.0, 1000.0), S.Values((0.0, 1.0, -1.0, 127.0, -128.0, 6.0)))
    return st.tuples(S.mixed_arrays(ends, shape, dtype), S.mixed_arrays(ends, shape, dtype))


def quant_params_example(dtype, params):
    @st.composite
    def example(draw):
        low, high = draw(st.sampled_from(RANGES))
        shape = draw(st.sampled_from([(), (3,)]))
        a, b = draw(range_ends(dtype, shape))
        drawn = {"quant_min": low, "quant_max": high, "symmetric": draw(st.booleans()), "eps": Q.FLOAT32_EPS}
        return S.Example(inputs=[np.minimum(a, b), np.maximum(a, b)], cotangent=None, params=drawn)

    return example()


ROWS.append(OpEntry(
    op="quant_params", family="quantization", forward=Q.quant_params, vjp=None,
    # the record states the larger bound, the scale's; the zero point's is lowered to 0 (one bound per output)
    forward_tol=Tolerance(2, "scale: 2 ULP (a float32 framework rounds m⁺ − m⁻, then the quotient); "
                             "zero point: an integer, exact (0)", extra=lambda example: (0.0, -2.0)),
    gradient_tol=EXACT, inputs=quant_params_example, wrt=(),
    params={**{k: PARAMS[k] for k in ("quant_min", "quant_max")}, "symmetric": lambda dtype, inputs: st.booleans(),
            "eps": lambda dtype, inputs: st.just(Q.FLOAT32_EPS)},
    variants={"symmetric_divisor": ("half_range", "multiplier"), "unsigned_zero_point": ("lower_middle",),
              "arithmetic": ("float32",), "eps_placement": ("amax",)},
))


# quantized_dense ------------------------------------------------------------------------

DENSE_SHAPES = [(1, 4), (3, 8), (2, 16)]  # (batch, in); out drawn in 1..4


def quantized_dense_example(dtype, params):
    """Activations x_q of a drawn 8-bit range (int8 or uint8) and its zero point, symmetric int8
    weights (out, in) with the range's ends (−128, 127) a large share of the time (the accumulator's
    extremes), short-mantissa scales, per tensor or one weight scale per output unit. The output
    scale is s_x·s_w·2^j·m: m = 1 half the time (M a power of two: M·acc is an exact tie whenever
    acc's low j bits are 1 then zeros), else a short mantissa or any value; j is chosen from the
    largest |acc| so that the outputs fall inside the range, not all on its ends; half the examples keep
    x − z_x and w within ±3 with j ∈ {1, 2} and an output zero point away from the range's ends (ties
    a quarter to a half of the outputs, not clipped)."""

    @st.composite
    def example(draw):
        low, high = draw(st.sampled_from([Q.INT8, Q.UINT8]))
        batch, width = draw(st.sampled_from(DENSE_SHAPES))
        out = draw(st.integers(1, 4))
        ends = lambda a, b: st.one_of(st.sampled_from([a, b]), st.integers(a, b))  # noqa: E731
        z_x = draw(zero_points(low, high))
        near = st.integers(max(low, z_x - 3), min(high, z_x + 3))
        small = draw(st.booleans())  # x − z_x and w in [−3, 3]: a small acc, so a multiplier of 2^-1 or 2^-2
        x_q = draw(hnp.arrays(np.int64, (batch, width), elements=near if small else st.one_of(ends(low, high), near)))
        w_q = draw(hnp.arrays(np.int64, (out, width), elements=st.integers(-3, 3) if small else ends(-128, 127)))
        axis = draw(st.sampled_from([None, 0]))
        step = st.tuples(st.sampled_from(MANTISSAS), st.integers(-8, -2)).map(lambda me: me[0] * 2.0 ** me[1])
        w_scale = np.array([draw(step) for _ in range(1 if axis is None else out)])
        w_scale = w_scale.reshape(() if axis is None else (out,))
        x_scale = draw(step)
        largest = max(1, int(np.abs((x_q - z_x) @ w_q.T).max()))
        j = draw(st.integers(1, 2)) if small else max(0, int(np.ceil(np.log2(largest))) - 6 + draw(st.integers(-2, 2)))
        m = draw(st.one_of(st.just(1.0), st.sampled_from(MANTISSAS[1:]), st.floats(1.0, 2.0, exclude_max=True)))
        as_dtype = lambda v: np.asarray(v).astype(S.np_dtype(dtype))  # noqa: E731
        out_scale = as_dtype(x_scale * float(np.ravel(w_scale)[0]) * 2.0 ** j * m)
        inputs = [as_dtype(x_q), as_dtype(w_q), as_dtype(x_scale), np.int64(z_x), as_dtype(w_scale), out_scale,
                  np.int64(draw(st.integers(low + 64, high - 64) if small else zero_points(low, high)))]
        return S.Example(inputs=inputs, cotangent=None, params={"quant_min": low, "quant_max": high, "axis": axis})

    return example()


ROWS.append(OpEntry(
    op="quantized_dense", family="quantization", forward=Q.quantized_dense, vjp=None,
    forward_tol=EXACT, gradient_tol=EXACT, inputs=quantized_dense_example, wrt=(), params=PARAMS,
    variants={"rounding": ("half_up", "half_away"), "multiplier": ("float32", "fixed_point", "range_q16")},
))


# dynamic_loss_scale ------------------------------------------------------------------------

LOSS_SCALE_STEPS = 24
LOSS_SCALE_SHAPES = [(3,), (2, 2)]


def loss_scale_gradients(dtype, shape, steps):
    """Per step: a finite gradient, one with an element ±inf or nan (an overflowed backward), or
    one with an element 2^(emax − k) that overflows once scaled iff log2 S > k (k near log2 of the
    scales drawn: whether the step is skipped then tells the scale the framework held)."""
    emax = int(np.floor(np.log2(float(np.finfo(S.np_dtype(dtype)).max))))
    kind = st.sampled_from(["finite", "finite", "finite", "inf", "nan", "huge", "huge"])

    @st.composite
    def draw(draw_):
        rng = np.random.default_rng(draw_(st.integers(0, 2**32 - 1)))
        g = rng.uniform(-1.0, 1.0, (steps, *shape))
        for t in range(steps):
            what = draw_(kind)
            where = tuple(int(i) for i in np.unravel_index(draw_(st.integers(0, int(np.prod(shape)) - 1)), shape))
            if what == "inf":
                g[(t, *where)] = draw_(st.sampled_from([np.inf, -np.inf]))
            elif what == "nan":
                g[(t, *where)] = np.nan
            elif what == "huge":
                g[(t, *where)] = draw_(st.sampled_from([1.0, -1.0])) * 2.0 ** (emax - draw_(st.integers(8, 22)))
        return g.astype(S.np_dtype(dtype))

    return draw()


def loss_scale_example(dtype, params):
    @st.composite
    def example(draw):
        shape = draw(st.sampled_from(LOSS_SCALE_SHAPES))
        start = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal(shape)
        inputs = [start.astype(S.np_dtype(dtype)), draw(loss_scale_gradients(dtype, shape, LOSS_SCALE_STEPS))]
        return S.Example(inputs=inputs, cotangent=None, params={name: draw(strategy(dtype, inputs))
                                                                  for name, strategy in params.items()})

    return example()


def _one_of(*values):
    return lambda dtype, inputs: st.sampled_from(values)


ROWS.append(OpEntry(
    op="dynamic_loss_scale", family="quantization", forward=Q.dynamic_loss_scale, vjp=None,
    forward_tol=Tolerance(1, "S·g and ·1/S are exact (S a power of two); lr·g and w − lr·g round: summed over "
                             "the steps; the scale itself is exact"),
    gradient_tol=EXACT, inputs=loss_scale_example, checks=("trajectory", "defaults"),
    params={"lr": _one_of(0.5, 0.125, 1.0, float(np.float32(0.1))),
            "init_scale": _one_of(2.0 ** 16, 2.0 ** 15, 2.0 ** 12, 2.0 ** 20, 1.0),
            "growth_factor": _one_of(2.0, 2.0, 4.0), "backoff_factor": _one_of(0.5, 0.5, 0.25),
            "growth_interval": _one_of(1, 2, 3, 5, 2000), "min_scale": _one_of(0.0, 0.0, 1.0)},
))
