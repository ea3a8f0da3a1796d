"""The quantization spec against exact rational arithmetic (fractions.Fraction), never a framework.

Each oracle rounds x / scale as a Fraction by its own rule (ties decided exactly), clips and
dequantizes in exact arithmetic; the spec must agree integer for integer and, dequantized, to the
float64 rounding of the exact value. Seeded hypothesis draws put x on ties and at the range edges.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from nnspec.spec import quantization as Q


def round_fraction(v: Fraction, rounding: str) -> int:
    floor = math.floor(v)
    rest = v - floor
    if rest != Fraction(1, 2):
        return floor + (1 if rest > Fraction(1, 2) else 0)
    if rounding == "half_even":
        return floor if floor % 2 == 0 else floor + 1
    if rounding == "half_up":
        return floor + 1
    return floor + 1 if v > 0 else floor  # half_away


def oracle_q(x, scale, z, low, high, rounding):
    return min(max(round_fraction(Fraction(x) / Fraction(scale), rounding) + z, low), high)


RANGES = st.sampled_from([Q.INT8, Q.UINT8, Q.INT4])


@st.composite
def cases(draw):
    low, high = draw(RANGES)
    z = draw(st.integers(low, high))
    scale = float(np.float32(draw(st.sampled_from([1.0, 1.25, 0.75, 3.0])) * 2.0 ** draw(st.integers(-6, 2))))
    e = draw(st.integers(low - 3, high + 3))
    f = draw(st.sampled_from([0.5, -0.5, 0.0, 0.25]))
    x = float(np.float32((e - z + f) * scale))
    return x, scale, z, low, high


@seed(17)
@settings(max_examples=300, deadline=None, database=None)
@given(cases(), st.sampled_from(Q.ROUNDINGS))
def test_quantize_is_exact_rational_rounding(case, rounding):
    x, scale, z, low, high = case
    q = Q.quantize(np.float32(x), np.float32(scale), z, quant_min=low, quant_max=high, rounding=rounding)
    assert float(q) == oracle_q(x, scale, z, low, high, rounding)


@seed(17)
@settings(max_examples=300, deadline=None, database=None)
@given(cases(), st.sampled_from(Q.ROUNDINGS))
def test_fake_quantize_is_the_exact_dequantized_integer(case, rounding):
    x, scale, z, low, high = case
    value = Q.fake_quantize(np.float32(x), np.float32(scale), z, quant_min=low, quant_max=high, rounding=rounding)
    exact = (oracle_q(x, scale, z, low, high, rounding) - z) * Fraction(scale)
    assert float(value) == float(exact)  # exact in float64: at most 9 bits times a 24-bit scale


@pytest.mark.parametrize("v, even, up, away", [(2.5, 2, 3, 3), (-2.5, -2, -2, -3), (0.5, 0, 1, 1),
                                               (-0.5, 0, 0, -1), (1.5, 2, 2, 2), (2.4999999999999996, 2, 2, 2)])
def test_the_three_tie_rules(v, even, up, away):
    assert [float(Q.round_ties(v, r)) for r in Q.ROUNDINGS] == [even, up, away]


def test_per_channel_uses_each_channels_scale_and_zero_point():
    x = np.array([[1.0, 2.5], [1.0, 2.5]])
    q = Q.quantize(x, np.array([1.0, 0.5]), np.array([0, 10]), axis=0)
    assert q.tolist() == [[1.0, 2.0], [12.0, 15.0]]  # row 0: 2.5 → 2 (even); row 1: 2/0.5 + 10, 5 + 10


def test_straight_through_gradient_is_masked_after_rounding():
    """int8, scale 1: 127.4 rounds to 127 (inside: 1), 127.5 to 128 (clipped: 0); -128.5 to -128 (even: 1)."""
    x = np.array([127.4, 127.5, -128.5, -128.6, 0.0])
    ones = np.ones_like(x)
    (clipped,) = Q.fake_quantize_vjp(x, 1.0, 0, ones)
    (unrounded,) = Q.fake_quantize_vjp(x, 1.0, 0, ones, gradient="unrounded")
    (identity,) = Q.fake_quantize_vjp(x, 1.0, 0, ones, gradient="identity")
    assert clipped.tolist() == [1, 0, 1, 0, 1]
    assert unrounded.tolist() == [0, 0, 0, 0, 1]  # x itself outside [-128, 127]
    assert identity.tolist() == [1, 1, 1, 1, 1]


def test_reciprocal_scaling_moves_a_near_tie():
    """x / s = 127.49999618… in exact arithmetic, but x · fl32(1/s) rounds to 127.5 in float32, a tie to even 128."""
    x, s = np.float32(float.fromhex("-0x1.5e618ep+7")), np.float32(float.fromhex("0x1.5fc15p+0"))
    assert float(Q.quantize(x, s, 0)) == -127.0
    assert float(Q.quantize(x, s, 0, scaling="reciprocal")) == -128.0
    assert oracle_q(float(x), float(s), 0, -128, 127, "half_even") == -127


def test_dequantize_is_exact():
    q = np.array([-128.0, 0.0, 127.0])
    assert Q.dequantize(q, 0.1, -3).tolist() == [float((Fraction(v) + 3) * Fraction(0.1)) for v in (-128, 0, 127)]


def oracle_params(lo, hi, low, high, symmetric):
    """quant_params in exact rationals: the scale rounded once to float64, z from that scale exactly."""
    lo, hi = min(Fraction(lo), 0), max(Fraction(hi), 0)
    if symmetric:
        scale = max(float(max(-lo, hi) / high), Q.FLOAT32_EPS)
        return scale, (0 if low < 0 else (low + high + 1) // 2)
    scale = max(float((hi - lo) / (high - low)), Q.FLOAT32_EPS)
    return scale, min(max(low - round_fraction(lo / Fraction(scale), "half_even"), low), high)


ENDS = st.one_of(st.sampled_from([0.0, 1.0, -1.0, 6.0, -128.0]), st.floats(-1000, 1000, width=32))


@seed(17)
@settings(max_examples=300, deadline=None, database=None)
@given(ENDS, ENDS, RANGES, st.booleans())
def test_quant_params_is_the_exact_closed_form(a, b, quant_range, symmetric):
    lo, hi = sorted((a, b))
    low, high = quant_range
    scale, zero = Q.quant_params(np.float32(lo), np.float32(hi), low, high, symmetric)
    assert (float(scale), float(zero)) == oracle_params(lo, hi, low, high, symmetric)


def test_symmetric_scale_conventions():
    """amax = 2 in int8: 2/127 (spec), 2/127.5 (torch), 1/fl32(127/2) (a multiplier; 127/2 is exact, so 2/127)."""
    two = np.float32(2.0)
    assert float(Q.quant_params(-two, two, symmetric=True)[0]) == float(Fraction(2, 127))
    assert float(Q.quant_params(-two, two, symmetric=True, symmetric_divisor="half_range")[0]) == float(
        Fraction(4, 255))
    assert float(Q.quant_params(-two, two, symmetric=True, symmetric_divisor="multiplier")[0]) == float(
        np.float32(1 / np.float32(63.5)))
    zero = np.float32(0.0)
    assert float(Q.quant_params(zero, zero, symmetric=True)[0]) == Q.FLOAT32_EPS  # the floor
    assert float(Q.quant_params(zero, zero, symmetric=True, eps_placement="amax")[0]) == Q.FLOAT32_EPS / 127
    assert float(Q.quant_params(zero, zero, 0, 255, True)[1]) == 128
    assert float(Q.quant_params(zero, zero, 0, 255, True, unsigned_zero_point="lower_middle")[1]) == 127


# quantized_dense ------------------------------------------------------------------------


@seed(17)
@settings(max_examples=60, deadline=None, database=None)
@given(st.data())
def test_quantized_dense_is_the_exact_integer_accumulation_requantized(data):
    """Python integers accumulate Σ (x − z)·w exactly; times the Fraction multiplier s_x·s_w/s_y, rounded
    half to even by Python's round() of a Fraction, plus z_y, clipped: the spec's integers."""
    low, high = data.draw(st.sampled_from([Q.INT8, Q.UINT8]))
    batch, width, out = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 40)), data.draw(st.integers(1, 3))
    ends = st.one_of(st.sampled_from([low, high]), st.integers(low, high))
    x = [[data.draw(ends) for _ in range(width)] for _ in range(batch)]
    w = [[data.draw(st.one_of(st.sampled_from([-128, 127]), st.integers(-128, 127))) for _ in range(width)]
         for _ in range(out)]
    z, z_y = data.draw(st.integers(low, high)), data.draw(st.integers(low, high))
    per_channel = data.draw(st.booleans())
    step = st.tuples(st.sampled_from([1.0, 1.25, 1.5, 1.75]), st.integers(-8, 0)).map(lambda me: me[0] * 2.0 ** me[1])
    s_x = data.draw(step)
    s_w = [data.draw(step) for _ in range(out)] if per_channel else data.draw(step)
    s_y = s_x * (s_w[0] if per_channel else s_w) * 2.0 ** data.draw(st.integers(0, 14)) * data.draw(
        st.sampled_from([1.0, 1.0, 1.5, 1.25]))
    got = Q.quantized_dense(np.array(x, float), np.array(w, float), s_x, z, np.array(s_w), s_y, z_y, low, high,
                            axis=0 if per_channel else None)
    for i in range(batch):
        for j in range(out):
            acc = sum((x[i][k] - z) * w[j][k] for k in range(width))
            assert abs(acc) < 2 ** 31  # the int32 accumulator holds it
            exact = Fraction(acc) * Fraction(s_x) * Fraction(s_w[j] if per_channel else s_w) / Fraction(s_y)
            assert got[i, j] == min(max(round(exact) + z_y, low), high)


def test_quantized_dense_clips_activations_to_their_range():
    """An activation outside [quant_min, quant_max] cannot be held by the quantized tensor: it counts as the end."""
    got = Q.quantized_dense(np.array([[-5.0, 300.0]]), np.array([[1.0, 1.0]]), 1.0, 0, np.array(1.0), 4.0, 0, 0, 255)
    assert got.tolist() == [[64.0]]  # 255 / 4 = 63.75


@pytest.mark.parametrize("acc, even, up, away", [(6, 2, 2, 2), (-6, -2, -1, -2), (2, 0, 1, 1), (-2, 0, 0, -1),
                                                 (10, 2, 3, 3), (-10, -2, -2, -3)])
def test_requantization_ties_by_each_rule(acc, even, up, away):
    """M = ¼ (s_y = 4): acc = 4k + 2 are the ties k + ½."""
    got = [Q.quantized_dense(np.array([[float(acc)]]), np.array([[1.0]]), 1.0, 0, np.array(1.0), 4.0, 0,
                             rounding=r)[0, 0] for r in Q.ROUNDINGS]
    assert got == [even, up, away]


@seed(17)
@settings(max_examples=200, deadline=None, database=None)
@given(st.integers(-2 ** 24, 2 ** 24), st.integers(0, 1))
def test_fixed_point_requantization_without_a_right_shift_rounds_ties_up(acc, k):
    """gemmlowp's Q31 multiplier of 2^-k (k ≤ 1: 2^30, no right shift) rounds acc·2^-k once: the doubling high
    multiply adds 2^30 (1 − 2^30 below 0) and truncates, so ties go up (−0.5 → 0, 0.5 → 1)."""
    exact = Fraction(acc, 2 ** k)
    assert Q._fixed_point(acc, 2.0 ** -k) == math.floor(exact + Fraction(1, 2))


@pytest.mark.parametrize("acc, multiplier, double_rounded, exact", [(1, 1 / 3, 1, 0), (1, 0.25, 1, 0), (-1, 0.25, 0, 0),
                                                                    (-3, 0.25, -1, -1), (3, 0.25, 1, 1)])
def test_fixed_point_requantization_rounds_twice(acc, multiplier, double_rounded, exact):
    """The doubling high multiply rounds acc·m₃₁/2³¹ (1 · ⅔ → 1, 1 · ½ → 1), the shift rounds again (½ → 1)."""
    assert Q._fixed_point(acc, multiplier) == double_rounded
    assert round(Fraction(acc) * Fraction(multiplier)) == exact


@seed(18)
@settings(max_examples=200, deadline=None, database=None)
@given(st.tuples(st.integers(0, 6), st.integers(-127, 127)), st.integers(-8, 8), st.sampled_from([1.0, 1.25, 1.5]))
def test_range_q16_requantization_is_half_up_when_the_scale_is_a_power_of_two(j_acc, z_y, mantissa):
    """M = 2^-j (s_x = s_w = m·2^-4, s_y = m²·2^(j-8)), int8: every range is exact in float32, the ratio of ranges
    255·2^16·range_in/range_out = M·2^48 is an exact integer and the accumulator's range is centred (in_off = 0),
    so TF's fixed-point requantization is M·acc rounded once, ties up: floor(M·acc + ½), the exact rational."""
    j, acc = j_acc
    s = mantissa * 2.0 ** -4
    got = Q.quantized_dense(np.array([[float(acc)]]), np.array([[1.0]]), s, 0, np.array(s),
                            mantissa ** 2 * 2.0 ** (j - 8), z_y, multiplier="range_q16")[0, 0]
    assert got == math.floor(Fraction(acc, 2 ** j) + Fraction(1, 2)) + z_y


def test_range_q16_truncation_moves_a_tie_below_it():
    """M = ¼·¼/(3/8) = 1/6, acc = 3 (x − z_x = 1, w = 3): M·acc = ½ exactly, but range_in = 2^28 (the level
    1/16 times 2^32, rounded in float32) over range_out = 255·3/8 makes scale_fp = trunc(2^47/3) = (2^47 − 2)/3,
    (3·scale_fp) >> 32 = 2^15 − 1, and (2^15 − 1 + 2^15) >> 16 = 0: the tie goes down, where half up gives 1."""
    args = (np.array([[-127.0]]), np.array([[3.0]]), 0.25, -128, np.array(0.25), 0.375, -57)
    assert Q.quantized_dense(*args, multiplier="range_q16")[0, 0] == -57
    assert Q.quantized_dense(*args, rounding="half_up")[0, 0] == -56


def test_float32_multiplier_rounds_the_product_in_float32():
    """fbgemm: fl32(fl32(acc) · fl32(M)); acc = 2^24 + 1 is no float32: it requantizes to 2^24 at M = 1."""
    args = (np.array([[2.0 ** 24 + 1]]), np.array([[1.0]]), 1.0, 0, np.array(1.0), 1.0, 0, -2 ** 30, 2 ** 30)
    assert Q.quantized_dense(*args)[0, 0] == 2 ** 24 + 1
    assert Q.quantized_dense(*args, multiplier="float32")[0, 0] == 2 ** 24


# dynamic_loss_scale ----------------------------------------------------------------------


def test_loss_scale_defaults_are_torch_gradscalers():
    """Micikevicius et al. / torch.amp.GradScaler: 2^16, ×2 every 2000 finite steps, ×½ on overflow, no floor."""
    import inspect

    p = inspect.signature(Q.dynamic_loss_scale).parameters
    assert (p["init_scale"].default, p["growth_factor"].default, p["backoff_factor"].default,
            p["growth_interval"].default, p["min_scale"].default) == (65536.0, 2.0, 0.5, 2000, 0.0)


def test_finite_steps_grow_the_scale_once_per_interval_and_take_every_step():
    grads = np.full((7, 2), 0.25)
    states = Q.dynamic_loss_scale(np.array([1.0, -1.0]), grads, lr=0.5, init_scale=8.0, growth_interval=3)
    assert states[:, -1].tolist() == [8, 8, 16, 16, 16, 32, 32]  # 8·2^⌊t/3⌋ after step t
    assert states[:, 0].tolist() == [1 - 0.125 * t for t in range(1, 8)]


def test_an_overflowing_step_is_skipped_backs_the_scale_off_and_restarts_the_count():
    grads = np.array([[0.5], [np.inf], [0.5], [np.nan], [0.5], [0.5]])
    states = Q.dynamic_loss_scale(np.array([2.0]), grads, lr=1.0, init_scale=4.0, growth_interval=2,
                                  backoff_factor=0.25)
    assert states[:, 0].tolist() == [1.5, 1.5, 1.0, 1.0, 0.5, 0.0]  # the inf and nan steps leave w
    assert states[:, -1].tolist() == [4.0, 1.0, 1.0, 0.25, 0.25, 0.5]  # the count restarts after each back-off


def test_a_gradient_overflows_once_scaled_past_the_dtypes_max():
    """2^(emax − k)·S is finite in float32 iff S ≤ 2^k: the scale decides which steps are skipped."""
    g = np.float32(2.0 ** 100)
    kept = Q.dynamic_loss_scale(np.float32([0.0]), np.array([[g]]), lr=1.0, init_scale=2.0 ** 27)
    skipped = Q.dynamic_loss_scale(np.float32([0.0]), np.array([[g]]), lr=1.0, init_scale=2.0 ** 28)
    assert kept[0].tolist() == [-(2.0 ** 100), 2.0 ** 27]
    assert skipped[0].tolist() == [0.0, 2.0 ** 27]


def test_min_scale_floors_the_back_off():
    states = Q.dynamic_loss_scale(np.array([0.0]), np.full((3, 1), np.inf), init_scale=2.0, min_scale=1.0)
    assert states[:, -1].tolist() == [1.0, 1.0, 1.0]



# nudging (fake_quantize's nudging="float32_range") -------------------------------------------


def fl32(v: Fraction) -> Fraction:
    """v rounded to the nearest float32 (ties to an even significand), decided in exact rationals."""
    if v == 0:
        return Fraction(0)
    guess = np.float32(float(v))  # within one float32 step of the answer
    candidates = {np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))}
    best = min(abs(Fraction(float(c)) - v) for c in candidates)
    nearest = [c for c in candidates if abs(Fraction(float(c)) - v) == best]
    if len(nearest) > 1:
        nearest = [c for c in nearest if int(np.asarray(c).view(np.uint32)) % 2 == 0]
    return Fraction(float(nearest[0]))


def oracle_nudged(x, scale, z, low, high, zero_rounding="half_even"):
    """The nudged fake_quantize, each operation an exact rational rounded to float32 by fl32."""
    levels = high - low
    lo, hi = fl32((low - z) * Fraction(scale)), fl32((high - z) * Fraction(scale))
    diff = fl32(hi - lo)
    step, inv = fl32(diff / levels), fl32(levels / diff)
    z_min = fl32(-fl32(lo / step))
    zero = round_fraction(min(max(z_min, Fraction(0)), Fraction(levels)), zero_rounding)
    nudged_min, nudged_max = fl32(-zero * step), fl32((levels - zero) * step)
    z0 = math.floor(fl32(fl32(-nudged_min * inv) + Fraction(1, 2)))
    shifted = fl32(min(max(Fraction(x), nudged_min), nudged_max) - nudged_min)
    index = math.floor(fl32(fl32(fl32(shifted * inv) - z0) + Fraction(1, 2)))
    inside = nudged_min <= Fraction(x) <= nudged_max
    return fl32(index * step), inside, (step, zero, nudged_min, nudged_max)


@st.composite
def nudged_cases(draw):
    low, high = draw(RANGES)
    z = draw(st.integers(low, high))
    mantissa = draw(st.one_of(st.sampled_from([1.0, 1.25, 1.5, 1.75]), st.floats(1.0, 2.0, exclude_max=True)))
    scale = float(np.float32(mantissa * 2.0 ** draw(st.integers(-8, 1))))
    e = draw(st.integers(low - 3, high + 3))
    f = draw(st.one_of(st.sampled_from([0.5, -0.5, 0.0, 0.5 - 1e-6, 1e-6]), st.floats(-0.5, 0.5)))
    return float(np.float32((e - z + f) * scale)), scale, z, low, high


@seed(17)
@settings(max_examples=300, deadline=None, database=None)
@given(nudged_cases())
def test_nudged_fake_quantize_is_the_float32_formula_rounded_step_by_step(case):
    x, scale, z, low, high = case
    args = (np.float32(x), np.float32(scale), z, low, high)
    value = Q.fake_quantize(*args, nudging="float32_range")
    (gradient,) = Q.fake_quantize_vjp(*args[:3], np.ones(()), low, high, nudging="float32_range")
    expected, inside, _ = oracle_nudged(x, scale, z, low, high)
    assert Fraction(float(value)) == expected
    assert float(gradient) == (1.0 if inside else 0.0)


@seed(17)
@settings(max_examples=200, deadline=None, database=None)
@given(nudged_cases())
def test_nudging_a_range_built_from_a_scale_and_zero_point_gives_them_back(case):
    """z' = z − quant_min exactly; s' = s for a short-mantissa s (the range's ends and width are exact)."""
    _, scale, z, low, high = case
    lo, hi = np.float32((low - z) * scale), np.float32((high - z) * scale)
    step, _, zero, nudged_min, nudged_max = Q.nudge(lo, hi, high - low)
    assert zero == z - low and nudged_min <= 0 <= nudged_max
    if float(np.float32(scale)) in {m * 2.0 ** k for m in (1.0, 1.25, 1.5, 1.75) for k in range(-8, 2)}:
        assert (step, nudged_min, nudged_max) == (scale, lo, hi)


@seed(17)
@settings(max_examples=300, deadline=None, database=None)
@given(RANGES, st.data(), st.integers(-8, 2), st.sampled_from([0.5, -0.5, 0.0, 0.25, -0.375]))
def test_nudged_fake_quantize_with_a_power_of_two_scale_is_exact_half_up_rounding(quant_range, data, k, f):
    """s = 2^k: every step of the float32 formula is exact, so it is the textbook op with ties up."""
    low, high = quant_range
    z = data.draw(st.integers(low, high))
    x = (data.draw(st.integers(low - 3, high + 3)) - z + f) * 2.0 ** k  # exact in float32
    value = Q.fake_quantize(np.float32(x), np.float32(2.0 ** k), z, low, high, nudging="float32_range")
    assert Fraction(float(value)) == (oracle_q(x, 2.0 ** k, z, low, high, "half_up") - z) * Fraction(2.0 ** k)


@seed(17)
@settings(max_examples=60, deadline=None, database=None)
@given(nudged_cases())
def test_nudged_grid_points_and_zero_come_back_exactly(case):
    """Every fl32(k·s') of the nudged grid (k = −z' … L − z') is a fixed point, 0 among them: the nudged range
    holds 0 and maps it to 0 (whatever s' rounded to)."""
    _, scale, z, low, high = case
    step, _, zero, _, _ = Q.nudge(np.float32((low - z) * scale), np.float32((high - z) * scale), high - low)
    grid = (np.arange(-zero, high - low - zero + 1) * np.float32(step)).astype(np.float32)
    assert 0.0 in grid
    value = Q.fake_quantize(grid, np.float32(scale), z, low, high, nudging="float32_range")
    assert value.tolist() == grid.tolist()


def test_nudged_range_ties_of_the_zero_point():
    """[−2.5, 252.5] on 8 bits: s' = 1, z_min = 2.5, an exact tie: to even 2 (Keras), away 3 (TF's std::round)."""
    even = Q.nudge(np.float32(-2.5), np.float32(252.5), 255)
    away = Q.nudge(np.float32(-2.5), np.float32(252.5), 255, zero_rounding="half_away")
    assert [float(v) for v in even] == [1.0, 1.0, 2.0, -2.0, 253.0]
    assert [float(v) for v in away] == [1.0, 1.0, 3.0, -3.0, 252.0]


def test_a_nudged_range_that_does_not_hold_zero_is_shifted_to_it():
    """[2, 10]: z_min = −63.75 clips to z' = 0, so the range becomes [0, 255·s'] (s' = fl32(8/255)), not [0, 10]."""
    step, inv, zero, nudged_min, nudged_max = Q.nudge(np.float32(2.0), np.float32(10.0), 255)
    assert Fraction(float(step)) == fl32(Fraction(8, 255)) and Fraction(float(inv)) == fl32(Fraction(255, 8))
    assert (float(zero), float(nudged_min)) == (0.0, 0.0)
    assert Fraction(float(nudged_max)) == fl32(255 * fl32(Fraction(8, 255)))


def test_nudged_zero_point_rounding_matters_only_at_a_tie():
    """z_min = fl32(0 − fl32(min / s')), s' = fl32(fl32(max − min)/255), in exact rationals: the two rules
    give different zero points exactly where z_min is k + ½ with k even (127.5: both 128)."""
    for lo, hi in [(-2.5, 252.5), (-2.4, 252.6), (-1.0, 1.0), (-0.7, 3.3), (-127.5, 127.5), (-6.25, 248.75)]:
        lo, hi = np.float32(lo), np.float32(hi)
        step = fl32(fl32(Fraction(float(hi)) - Fraction(float(lo))) / 255)
        z_min = fl32(-fl32(Fraction(float(lo)) / step))
        same = Q.nudge(lo, hi, 255)[2] == Q.nudge(lo, hi, 255, zero_rounding="half_away")[2]
        assert same == (z_min - math.floor(z_min) != Fraction(1, 2) or math.floor(z_min) % 2 == 1), (lo, hi)
        assert Q.nudge(lo, hi, 255)[2] == round_fraction(z_min, "half_even")


def test_nudging_fixes_its_own_rounding():
    with pytest.raises(ValueError):
        Q.fake_quantize(np.float32(0.5), np.float32(1.0), 0, nudging="float32_range", rounding="half_up")
    with pytest.raises(ValueError):
        Q.fake_quantize_vjp(np.float32(0.5), np.float32(1.0), 0, np.ones(()), nudging="float32_range",
                            gradient="identity")
