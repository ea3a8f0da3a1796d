"""Quantization: affine quantize, dequantize and fake-quantize, per tensor and per channel,
the scale and zero point of an observed range (quant_params), the int8 dense layer
(quantized_dense) and mixed precision's dynamic loss scale (dynamic_loss_scale).

An affine quantizer maps a real x to an integer q on the grid of step ``scale`` (> 0) whose
integer ``zero_point`` z stands for 0.0, clipped to the integer range [quant_min, quant_max]
(int8: [-128, 127], uint8: [0, 255], int4: [-8, 7]):

    q = clip(round(x / scale) + z, quant_min, quant_max)        (quantize)
    x̂ = (q − z) · scale                                         (dequantize)
    fake_quantize(x) = dequantize(quantize(x))                   (the forward of quantization-aware training)

Per tensor (``axis=None``) scale and z are scalars (0-d); per channel they are 1-D, one per
index of x along ``axis``.

Conventions
-----------
* Integers are returned as values in x's floating dtype (the engine compares the dtype under
  test); every integer of an 8-bit range is exact in float16 and bfloat16.
* x / scale is evaluated in float64. For x and scale of float32 or narrower it is then exact
  up to one rounding that never makes or breaks a tie (a quotient of two 24-bit numbers is
  either a half-integer or at least 2^-49 relative away from one), so q is exact.
* Rounding of ties (x / scale exactly k + ½) is the variant ``rounding``: ``"half_even"``
  (default: IEEE 754's roundTiesToEven, ``std::nearbyint``, what torch's fake_quantize and
  quantize_per_tensor do), ``"half_up"`` (⌊v + ½⌋: TensorFlow's fake_quant) and
  ``"half_away"`` (away from zero: C's ``round``, tf.quantization.quantize's default).
* ``scaling``: ``"divide"`` (default: x / scale, as the formula is written) or ``"reciprocal"``
  (torch's kernels: the scale held in float32, x · fl32(1 / scale) with the product rounded
  to float32, or to float64 for float64 x; fake_quantize's (q − z) times the float32 scale,
  per tensor rounded to float32 also for float64 x, per channel in x's dtype). A near-tie
  whose reciprocal's error crosses the ½ rounds to the other integer; a tie rounds wrong for
  a scale whose reciprocal is inexact.
* ``shift``: ``"after"`` (default: z added to the rounded integer, as the formula is written)
  or ``"before"`` (round(x / scale + z): the tie rule applied to the shifted value, so with
  half-to-even an odd z moves every tie by one; torch.quantize_per_tensor's kernel).
* fake_quantize's gradient is the straight-through estimator (``gradient="clipped"``, torch's):
  1 where the rounded, shifted value round(x/scale) + z lies in [quant_min, quant_max], 0
  outside. Variants: ``"unrounded"`` (TensorFlow's: x itself compared with the clip range's
  reals [(quant_min − z)·scale, (quant_max − z)·scale], so x within half a step outside the
  range still gets 0 while its rounding lands inside), ``"identity"`` (the plain
  straight-through estimator that ignores the clip range: 1 everywhere).
* ``nudging`` (fake_quantize only): ``"none"`` (default: the scale and zero point used as
  given, in exact arithmetic) or ``"float32_range"`` (Keras 3's own ``fake_quant_with_min_max_vars``
  on a non-TF backend, and what TF's kernel source writes: the op takes the real range
  [min, max] = [fl((quant_min − z)·s), fl((quant_max − z)·s)] and re-derives ("nudges") its own
  scale and zero point from it on the grid [0, L], L = quant_max − quant_min, every step rounded
  to float32 whatever x's dtype (TF's kernel takes float32 only; Keras 3's torch backend given
  float64 x and range computes this same float32 formula, tests/test_quantization_adapters.py):

      s' = fl((max − min) / L),  inv = fl(L / (max − min)),  z_min = fl(0 − fl(min / s')),
      z' = round(clip(z_min, 0, L))                       (ties to even; see ``nudge``)
      nudged_min = fl(−z'·s'),  nudged_max = fl((L − z')·s'),  z₀ = ⌊fl(fl(−nudged_min·inv) + ½)⌋
      y = fl(⌊fl(fl(fl(fl(clip(x, nudged_min, nudged_max) − nudged_min)·inv) − z₀) + ½)⌋ · s')

  Ties therefore go up (⌊v + ½⌋) and a near-tie moves with inv's rounding; s' and z' are the
  given s and z − quant_min up to the range's float32 rounding (exactly so for a short-mantissa
  s). The gradient is straight-through inside the nudged range: 1 where nudged_min ≤ x ≤
  nudged_max. ``rounding``, ``scaling``, ``shift`` and ``gradient`` are the nudged formula's
  own: any other value with it raises ValueError.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ._float64 import float64
from .losses import _spec  # @float64 that also passes the dtype x arrived in (for the scaling variant)

ROUNDINGS = ("half_even", "half_up", "half_away")
INT8 = (-128, 127)
UINT8 = (0, 255)
INT4 = (-8, 7)


def round_ties(v, rounding="half_even"):
    """v rounded to the nearest integer, ties (v − ⌊v⌋ = ½, exact in float64) by ``rounding``."""
    v = np.asarray(v, dtype=np.float64)
    floor = np.floor(v)
    tie = (v - floor) == 0.5
    if rounding == "half_even":
        return np.rint(v)  # IEEE roundTiesToEven
    if rounding == "half_up":
        return np.where(tie, floor + 1.0, np.rint(v))
    if rounding == "half_away":
        return np.where(tie, np.where(v > 0, floor + 1.0, floor), np.rint(v))
    raise ValueError(f"rounding {rounding!r}: one of {ROUNDINGS}")


def _per_channel(value, x, axis):
    """scale or zero point shaped to broadcast against x: as is per tensor, along ``axis`` per channel."""
    value = np.asarray(value)
    if axis is None:
        return value
    shape = [1] * np.ndim(x)
    shape[axis] = -1
    return value.reshape(shape)


def _held(scale, scaling):
    """The scale as the arithmetic holds it: float32 under ``scaling="reciprocal"`` (torch's kernels)."""
    return scale.astype(np.float32).astype(np.float64) if scaling == "reciprocal" else scale


def _shifted(x, scale, zero_point, axis, rounding, scaling="divide", dtype=np.float64, shift="after"):
    """round(x / scale) + z, unclipped, in float64 (exact integers); the variants' arithmetic where named."""
    s = _per_channel(scale, x, axis).astype(np.float64)
    z = _per_channel(zero_point, x, axis).astype(np.float64)
    x = np.asarray(x, dtype=np.float64)
    if scaling not in ("divide", "reciprocal"):
        raise ValueError(f"scaling {scaling!r}: 'divide' or 'reciprocal'")
    if shift not in ("after", "before"):
        raise ValueError(f"shift {shift!r}: 'after' or 'before'")
    held = np.float64 if scaling == "divide" or np.dtype(dtype) == np.float64 else np.float32

    def rounded(v):  # each operation's result as the variant's arithmetic holds it
        return v.astype(held).astype(np.float64)

    if scaling == "reciprocal":
        v = rounded(x * (1.0 / _held(s, scaling)).astype(np.float32).astype(np.float64))
    else:
        v = x / s
    if shift == "before":
        return round_ties(rounded(v + z), rounding)
    return round_ties(v, rounding) + z


@_spec
def quantize(x, scale, zero_point, quant_min=-128, quant_max=127, axis=None, *, rounding="half_even",
             scaling="divide", shift="after", dtype=None):
    """q = clip(round(x / scale) + zero_point, quant_min, quant_max), as integers in x's dtype.

    ``scale``, ``zero_point``: 0-d (axis None) or one per channel along ``axis``. Ties round
    half to even unless ``rounding`` names another rule. Integer-valued: exact.
    """
    return np.clip(_shifted(x, scale, zero_point, axis, rounding, scaling, dtype, shift), quant_min, quant_max)


@float64
def dequantize(q, scale, zero_point, axis=None):
    """x̂ = (q − zero_point) · scale, q integers (held in a floating dtype).

    (q − z) is an exact integer of at most 9 bits, so the product is exact in float64: the
    dtype under test rounds it once.
    """
    s = _per_channel(scale, q, axis).astype(np.float64)
    z = _per_channel(zero_point, q, axis).astype(np.float64)
    return (np.asarray(q, dtype=np.float64) - z) * s


NUDGINGS = ("none", "float32_range")
NUDGE_ROUNDINGS = ("half_even", "half_away")


def nudge(range_min, range_max, levels, zero_rounding="half_even", working=np.float32):
    """(s', inv, z', nudged_min, nudged_max) of the real range [range_min, range_max] on the grid [0, levels].

    The "adjust and nudge" of TF's fake_quant kernel and Keras 3's ``adjust_and_nudge``, every
    step rounded to ``working`` (see the module's ``nudging``). The zero point z_min = 0 − min/s'
    is clipped to [0, levels] and rounded by ``zero_rounding``: ``"half_even"`` (Keras' ops.round)
    or ``"half_away"`` (TF's kernel, std::round). The two differ only where z_min is an exact
    tie k + ½ with k even (2.5: 2 or 3; 127.5: 128 by both), which a range built from a scale and an integer zero point never gives (z_min is then
    within rounding of that integer); a range that does not hold 0 is shifted, not widened
    (min > 0: z' = 0, nudged_min = 0). Returned as float64 holding the ``working`` values.
    """
    if zero_rounding not in NUDGE_ROUNDINGS:
        raise ValueError(f"zero_rounding {zero_rounding!r}: one of {NUDGE_ROUNDINGS}")
    w = working
    low, high, levels = np.asarray(range_min).astype(w), np.asarray(range_max).astype(w), w(levels)
    diff = (high - low).astype(w)
    step = (diff / levels).astype(w)
    inv = (levels / diff).astype(w)
    z_min = (w(0) - (low / step).astype(w)).astype(w)
    zero = round_ties(np.clip(z_min, w(0), levels), zero_rounding).astype(w)
    nudged_min = ((w(0) - zero) * step).astype(w)
    nudged_max = ((levels - zero) * step).astype(w)
    return tuple(np.asarray(v, dtype=np.float64) for v in (step, inv, zero, nudged_min, nudged_max))


def _nudged(x, scale, zero_point, quant_min, quant_max, axis, dtype, rounding, scaling, shift, gradient):
    """x in float32 (the working precision), and the nudge of the range fl((quant_min − z)·s), fl((quant_max − z)·s)."""
    if (rounding, scaling, shift, gradient) != ("half_even", "divide", "after", "clipped"):
        raise ValueError("nudging='float32_range' fixes its own rounding, scaling, shift and gradient")
    working = np.float32  # for every dtype: TF's kernel is float32 only, Keras' float64 path too (module doc)
    s = _per_channel(scale, x, axis).astype(np.float64)
    z = _per_channel(zero_point, x, axis).astype(np.float64)
    low = ((quant_min - z) * s).astype(working)
    high = ((quant_max - z) * s).astype(working)
    return np.asarray(x).astype(working), working, nudge(low, high, quant_max - quant_min, working=working)


def _nudged_fake_quantize(x, working, nudged):
    w = working
    step, inv, _, nudged_min, nudged_max = (v.astype(w) for v in nudged)
    zero = np.floor(((-nudged_min * inv).astype(w) + w(0.5)).astype(w))
    shifted = (np.clip(x, nudged_min, nudged_max) - nudged_min).astype(w)
    index = np.floor((((shifted * inv).astype(w) - zero).astype(w) + w(0.5)).astype(w))
    return (index * step).astype(w).astype(np.float64)


@_spec
def fake_quantize(x, scale, zero_point, quant_min=-128, quant_max=127, axis=None, *, rounding="half_even",
                  scaling="divide", shift="after", gradient="clipped", nudging="none", dtype=None):
    """x̂ = (clip(round(x / scale) + z, quant_min, quant_max) − z) · scale.

    The forward is exact in float64 (an integer of at most 9 bits times scale), rounded once to
    the dtype. ``gradient`` selects only the VJP (see fake_quantize_vjp). ``nudging=
    "float32_range"``: the range re-derived and the value computed in float32 (the module's
    ``nudging``).
    """
    if nudging == "float32_range":
        return _nudged_fake_quantize(*_nudged(x, scale, zero_point, quant_min, quant_max, axis, dtype, rounding,
                                              scaling, shift, gradient))
    if nudging != "none":
        raise ValueError(f"nudging {nudging!r}: one of {NUDGINGS}")
    q = np.clip(_shifted(x, scale, zero_point, axis, rounding, scaling, dtype, shift), quant_min, quant_max)
    value = dequantize.__wrapped__(q, _held(np.asarray(scale, dtype=np.float64), scaling), zero_point, axis)
    return _held(value, scaling) if axis is None else value  # torch's per-tensor kernel multiplies in float32


@_spec
def fake_quantize_vjp(x, scale, zero_point, cotangent, quant_min=-128, quant_max=127, axis=None, *,
                      rounding="half_even", scaling="divide", shift="after", gradient="clipped",
                      nudging="none", dtype=None):
    """Straight-through estimator: cotangent · 1[quant_min ≤ round(x / scale) + z ≤ quant_max].

    ``gradient="unrounded"``: cotangent · 1[(quant_min − z)·scale ≤ x ≤ (quant_max − z)·scale]
    (the clip range tested on x before rounding, as TensorFlow does); ``"identity"``: the
    cotangent itself (the estimator that ignores the clip range). ``nudging="float32_range"``:
    cotangent · 1[nudged_min ≤ x ≤ nudged_max] (the nudged range, see ``nudge``; x in its own
    dtype, not rounded to float32 as the forward's is). Gradients
    w.r.t. x only.
    """
    cotangent = np.asarray(cotangent, dtype=np.float64)
    if nudging == "float32_range":
        _, _, (_, _, _, nudged_min, nudged_max) = _nudged(x, scale, zero_point, quant_min, quant_max, axis,
                                                          dtype, rounding, scaling, shift, gradient)
        x = np.asarray(x, dtype=np.float64)  # x as it arrived (not rounded to float32) against the float32 ends
        return (np.where((nudged_min <= x) & (x <= nudged_max), cotangent, 0.0),)
    if nudging != "none":
        raise ValueError(f"nudging {nudging!r}: one of {NUDGINGS}")
    if gradient == "identity":
        return (cotangent.copy(),)
    if gradient == "unrounded":
        s = _per_channel(scale, x, axis).astype(np.float64)
        z = _per_channel(zero_point, x, axis).astype(np.float64)
        inside = ((quant_min - z) * s <= x) & (x <= (quant_max - z) * s)
    elif gradient == "clipped":
        shifted = _shifted(x, scale, zero_point, axis, rounding, scaling, dtype, shift)
        inside = (quant_min <= shifted) & (shifted <= quant_max)
    else:
        raise ValueError(f"gradient {gradient!r}: one of 'clipped', 'unrounded', 'identity'")
    return (np.where(inside, cotangent, 0.0),)


FLOAT32_EPS = 2.0 ** -23  # torch's observers' default floor on the scale, torch.finfo(torch.float32).eps
SYMMETRIC_DIVISORS = ("quant_max", "half_range", "multiplier")


@_spec
def quant_params(x_min, x_max, quant_min=-128, quant_max=127, symmetric=False, eps=FLOAT32_EPS, *,
                 symmetric_divisor="quant_max", unsigned_zero_point="upper_middle", arithmetic="exact",
                 eps_placement="floor", dtype=None):
    """(scale, zero_point) of the observed range [x_min, x_max], widened to hold 0:

        m⁻ = min(x_min, 0),  m⁺ = max(x_max, 0)
        affine:     scale = max((m⁺ − m⁻) / (quant_max − quant_min), eps),
                    z = clip(quant_min − round(m⁻ / scale), quant_min, quant_max)   (ties to even)
        symmetric:  scale = max(max(−m⁻, m⁺) / quant_max, eps),
                    z = 0 for a signed range, (quant_min + quant_max + 1) // 2 for an unsigned one

    x_min, x_max: 0-d (per tensor) or one per channel. The symmetric divisor is quant_max (127 for
    int8: amax/127, so ±amax map to ±127 and −128 is unused; Wu et al. 2020, "Integer
    quantization for deep learning inference", eq. 4; TensorRT, Keras' abs_max_quantize).
    Variants ``symmetric_divisor``: ``"half_range"`` (amax / ((quant_max − quant_min)/2) =
    amax/127.5: torch's per_tensor_symmetric observers), ``"multiplier"`` (the step as the
    reciprocal of the multiplier quant_max/amax, each rounded to the dtype: what a quantizer that
    returns x ↦ x·(127/amax) implies). A symmetric unsigned range's zero point is its upper
    middle (128 for uint8: the int8 grid shifted by 128); ``unsigned_zero_point="lower_middle"``
    is (quant_min + quant_max) // 2 = 127 (torch's observers given an explicit quant range).
    ``arithmetic="float32"``: the ends and every step rounded to float32 (torch's observers: the zero point of
    the float32-rounded scale, so m⁻/scale next to a tie, [−1, 1] in uint8, rounds the other way).
    ``eps_placement="amax"``: ε added to amax before the division instead of flooring the
    scale (Keras' abs_max_quantize: quant_max/(amax + ε), a scale of ε/127 for an all-zero range).
    Returns both in the dtype (z an integer value).
    """
    held = (lambda v: np.asarray(v).astype(np.float32).astype(np.float64)) if arithmetic == "float32" else np.asarray
    low = np.minimum(held(np.asarray(x_min, dtype=np.float64)), 0.0)
    high = np.maximum(held(np.asarray(x_max, dtype=np.float64)), 0.0)
    if symmetric:
        amax = np.maximum(-low, high)
        if eps_placement == "amax":
            amax = amax + eps
        if symmetric_divisor == "quant_max":
            scale = held(amax / quant_max)
        elif symmetric_divisor == "half_range":
            scale = held(amax / ((quant_max - quant_min) / 2.0))
        elif symmetric_divisor == "multiplier":
            rounded = (lambda v: np.asarray(v).astype(dtype).astype(np.float64))
            with np.errstate(divide="ignore"):
                scale = rounded(1.0 / rounded(quant_max / amax))
        else:
            raise ValueError(f"symmetric_divisor {symmetric_divisor!r}: one of {SYMMETRIC_DIVISORS}")
        scale = np.maximum(scale, eps) if eps_placement == "floor" else scale
        middle = (quant_min + quant_max + (1 if unsigned_zero_point == "upper_middle" else 0)) // 2
        zero = np.full(np.shape(scale), 0.0 if quant_min < 0 else float(middle))
        return scale, zero
    scale = np.maximum(held(held(high - low) / (quant_max - quant_min)), eps)
    zero = np.clip(quant_min - np.rint(held(low / scale)), quant_min, quant_max)
    return scale, zero


# quantized_dense -----------------------------------------------------------------------


MULTIPLIERS = ("exact", "float32", "fixed_point", "range_q16")


def _requantized(value, rounding):
    """An exact rational rounded to an integer, ties (exactly k + ½) by ``rounding``."""
    floor = math.floor(value)
    rest = value - floor
    if rest != Fraction(1, 2):
        return floor + (1 if rest > Fraction(1, 2) else 0)
    if rounding == "half_even":
        return floor + (floor % 2)
    if rounding == "half_up":
        return floor + 1
    if rounding == "half_away":
        return floor + 1 if value > 0 else floor
    raise ValueError(f"rounding {rounding!r}: one of {ROUNDINGS}")


def _fixed_point(acc, multiplier):
    """gemmlowp/TFLite's integer requantization of an int32 acc by a real multiplier M > 0.

    M = m·2^shift with m ∈ [½, 1) held as the Q31 integer m₃₁ = round(m·2³¹) (std::round: half
    away); then SaturatingRoundingDoublingHighMul(acc·2^max(shift, 0), m₃₁) = (ab + nudge) / 2³¹
    truncated toward zero (nudge 2³⁰, or 1 − 2³⁰ for ab < 0: ties go up, −½ → 0), and
    RoundingDivideByPOT by max(−shift, 0) (ties away from zero). Two roundings: 1·⅓ → ⅔ → 1 → ½ → 1.
    """
    mantissa, shift = math.frexp(multiplier)
    q31 = int(_requantized(Fraction(mantissa) * 2 ** 31, "half_away"))
    if q31 == 2 ** 31:
        q31, shift = q31 // 2, shift + 1
    a = int(acc) * 2 ** max(shift, 0)
    ab = a * q31
    nudge = 2 ** 30 if ab >= 0 else 1 - 2 ** 30
    high = abs(ab + nudge) // 2 ** 31 * (1 if ab + nudge >= 0 else -1)  # C++ division truncates toward zero
    exponent = max(-shift, 0)
    mask = 2 ** exponent - 1
    remainder, threshold = high & mask, (mask >> 1) + (1 if high < 0 else 0)
    return (high >> exponent) + (1 if remainder > threshold else 0)


@_spec
def quantized_dense(x_q, w_q, x_scale, x_zero_point, w_scale, out_scale, out_zero_point, quant_min=-128,
                    quant_max=127, axis=None, *, rounding="half_even", multiplier="exact", dtype=None):
    """The int8 dense layer, requantized: y_q = clip(round(M·acc) + z_y, quant_min, quant_max),

        acc = Σ_k (x_q − z_x)[i,k] · w_q[j,k]   (the int32 accumulator),   M = s_x·s_w / s_y.

    x_q: integers (batch, in) of the activations' range [quant_min, quant_max] (int8 by default,
    uint8 as fbgemm's activations), zero point z_x (0-d), scale s_x (0-d); w_q: integers
    (out, in) of a symmetric int8 range (zero point 0), one scale per tensor (``axis=None``, 0-d
    w_scale) or one per output unit (``axis=0``, w_scale of shape (out,)); the output is
    requantized to the activations' range with scale s_y and zero point z_y (0-d). acc is an
    exact integer (|acc| ≤ 255·128·in < 2^31 for in < 65 793); M·acc is rounded as an exact
    rational (Fractions of the scales as given), so the result is exact integers. No bias.

    Variants: ``rounding`` of M·acc's ties (``"half_even"``: default, fbgemm's lrintf/nearbyint;
    ``"half_up"``; ``"half_away"``). ``multiplier``: ``"exact"`` (default: M real),
    ``"float32"`` (fbgemm via torch's quantized linear: M = fl32(fl32(s_x·s_w) / s_y), then
    fl32(fl32(acc)·M) rounded by ``rounding``), ``"fixed_point"`` (gemmlowp/TFLite: M in float64
    as a Q31 integer and a right shift, integer-only, rounded twice; ``rounding`` unused),
    ``"range_q16"`` (TensorFlow's legacy QuantizedMatMul + Requantize: the operands and the result
    as float32 ranges, their ratio a truncated 16-bit fixed-point scale, ties up: ``_range_q16``;
    ``rounding`` unused).
    """
    x = np.clip(np.asarray(x_q, dtype=np.float64), quant_min, quant_max) - np.float64(x_zero_point)
    acc = x @ np.asarray(w_q, dtype=np.float64).T  # exact: integers below 2^53
    w_scale = np.broadcast_to(np.asarray(w_scale, dtype=np.float64).reshape(-1), (acc.shape[1],))
    f32 = np.float32
    out = np.empty(acc.shape)
    for (i, j), a in np.ndenumerate(acc):
        if multiplier == "exact":
            q = _requantized(int(a) * Fraction(float(x_scale)) * Fraction(float(w_scale[j]))
                             / Fraction(float(out_scale)), rounding)
        elif multiplier == "float32":
            m = f32(f32(f32(x_scale) * f32(w_scale[j])) / f32(out_scale))
            q = _requantized(Fraction(float(f32(f32(a) * m))), rounding)
        elif multiplier == "fixed_point":
            q = _fixed_point(a, float(x_scale) * float(w_scale[j]) / float(out_scale))
        elif multiplier == "range_q16":
            q = _range_q16(a, x_scale, x_zero_point, w_scale[j], out_scale, out_zero_point, quant_min, quant_max)
        else:
            raise ValueError(f"multiplier {multiplier!r}: one of {MULTIPLIERS}")
        out[i, j] = min(max(q + int(out_zero_point), quant_min), quant_max)
    return out


def _range_q16(acc, x_scale, x_zero_point, w_scale, out_scale, out_zero_point, quant_min, quant_max):
    """TensorFlow's legacy requantization (QuantizedMatMul's output range, then Requantize: quantization_utils.h,
    ``QuantizationRangeForMultiplication`` and ``RequantizeManyInNewRange``), in its own arithmetic.

    Each 8-bit operand is a real range [min, max] = [(quant_min − z)·s, (quant_max − z)·s] (float32), one level
    (max − min)/levels with levels = quant_max − quant_min; the int32 accumulator's range is its level
    c = fl32(level_x·level_w) times [−2³¹, 2³¹ − 1] (float32). Requantize holds the ratio of the ranges as a
    16-bit fixed-point integer, truncated:

        scale_fp = trunc(levels·2¹⁶·range_in / range_out)                       (double)
        in_off   = trunc(fl32(fl32(fl32(min_in + max_in)/2 · fl32(levels/range_out)) · 2¹⁶))
        out_off  = lround(2¹⁶·min_out·levels / range_out)                         (double, ties away)
        q        = (((acc·scale_fp) >> 32) + in_off − out_off + 2¹⁵) >> 16     (floor shifts: ties up)

    so M·acc is rounded half up after a scale truncated to 2⁻¹⁶ of a level: a tie whose scale is not a power of
    two can land just below it (M = 1/6, acc = 3: ½ − 2⁻¹⁶ → 0). Returns q − z_y (the caller adds z_y back)."""
    f32 = np.float32
    levels = quant_max - quant_min

    def real_range(scale, zero):
        return f32(f32(quant_min - zero) * f32(scale)), f32(f32(quant_max - zero) * f32(scale))

    min_x, max_x = real_range(x_scale, x_zero_point)
    min_w, max_w = f32(f32(-128) * f32(w_scale)), f32(f32(127) * f32(w_scale))  # the symmetric int8 weights
    level = f32(f32(f32(max_x - min_x) / f32(levels)) * f32(f32(max_w - min_w) / f32(levels)))
    min_in, max_in = f32(level * f32(-2.0 ** 31)), f32(level * f32(2.0 ** 31 - 1))
    min_out, max_out = real_range(out_scale, out_zero_point)
    range_in, range_out = float(f32(max_in - min_in)), float(f32(max_out - min_out))
    scale_fp = int(levels * 2.0 ** 16 * range_in / range_out)
    rezero = f32(float(f32(min_in + max_in)) / 2.0)
    in_off = int(f32(f32(rezero * f32(levels / range_out)) * f32(2 ** 16)))
    shifted = 2 ** 16 * (float(min_out) * levels) / range_out
    out_off = int(math.copysign(math.floor(abs(shifted) + 0.5), shifted))
    q = ((int(acc) * scale_fp >> 32) + in_off - out_off + 2 ** 15) >> 16  # 0 is quant_min, as in quint8
    return q + quant_min - int(out_zero_point)


# dynamic_loss_scale ------------------------------------------------------------------------


@_spec
def dynamic_loss_scale(params, grads, lr=0.01, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                       growth_interval=2000, min_scale=0.0, *, dtype=None):
    """Dynamic loss scaling (Micikevicius et al. 2018, "Mixed precision training", §3.2) around SGD.

    Each step t the loss is multiplied by the scale S, so the gradient arrives as S·g_t in the
    dtype; g_t is then unscaled (· 1/S) and:

    * if every element of S·g_t is finite in the dtype (g_t finite and |S·g_t| ≤ the dtype's
      max): the step is taken (w ← w − lr·g_t) and a counter incremented; when it reaches
      ``growth_interval`` the scale becomes S·growth_factor (where that is finite in float32,
      the scale's dtype) and the counter restarts;
    * else the step is **skipped** (w unchanged), S ← max(S·backoff_factor, min_scale), counter 0.

    Defaults: torch.amp.GradScaler's (init 2^16, ×2, ×½, every 2000 finite steps); Keras'
    LossScaleOptimizer starts at 2^15, jmp's DynamicLossScale floors the scale at 1
    (``min_scale``; 0 is no floor). Returns the state after each step, (steps, size + 1): the
    parameters flattened, then the scale. Scales stay powers of two times init_scale, so S·g
    and its unscaling are exact: only lr·g and the subtraction round.
    """
    big = float(np.finfo(dtype).max)
    big32 = float(np.finfo(np.float32).max)
    w = np.asarray(params, dtype=np.float64).ravel().copy()
    scale, counter, states = float(init_scale), 0, []
    for g in np.asarray(grads, dtype=np.float64):
        g = g.ravel()
        with np.errstate(invalid="ignore", over="ignore"):
            finite = bool(np.all(np.isfinite(g)) and np.all(np.abs(scale * g) <= big))
        if finite:
            w = w - lr * g
            counter += 1
            if counter == growth_interval:
                grown = scale * growth_factor
                scale = grown if grown <= big32 else scale
                counter = 0
        else:
            scale, counter = max(scale * backoff_factor, min_scale), 0
        states.append(np.concatenate([w, [scale]]))
    return np.asarray(states).reshape(len(states), w.size + 1)
