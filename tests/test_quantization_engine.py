"""The engine against wrong quantization adapters: each caught, and the variant it is named."""

from __future__ import annotations

import numpy as np
import pytest

import wrong_quantization as W

from nnspec.backends.numpy import NumpyBackend
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.engine import Case, check_values
from nnspec.conformance.trajectory import check_trajectory

OPS = [e.op for e in CATALOGUE.values() if e.family == "quantization"]


def values(backend, op, dtype="float32"):
    check = check_trajectory if "trajectory" in CATALOGUE[op].checks else check_values
    return {r["check"]: r for r in check(Case(CATALOGUE[op], backend, "cpu", dtype, "quick", 0))}


@pytest.mark.parametrize("op", OPS)
def test_baseline_passes_what_the_wrong_adapters_break(op):
    records = values(NumpyBackend(), op)
    if "trajectory" in records:
        assert records["trajectory"]["status"] == "pass", records["trajectory"]["message"]
        return
    assert records["forward"]["status"] == "pass", records["forward"]["message"]
    if CATALOGUE[op].wrt:
        assert records["gradient"]["status"] == "pass", records["gradient"]["message"]


@pytest.mark.parametrize("op", ["quantize", "fake_quantize"])
def test_half_up_rounding_is_caught_at_ties_and_named(op):
    """The strategy draws exact ties: floor(v + 0.5) differs from half-to-even at every odd-below tie."""
    records = values(W.HalfUpRounding(), op)
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == f"{op}(rounding='half_up')"


def test_a_straight_through_gradient_that_ignores_the_clip_range_is_caught_and_named():
    records = values(W.UnclippedStraightThrough(), "fake_quantize")
    assert records["forward"]["status"] == "pass"
    assert records["gradient"]["status"] == "fail"
    assert records["gradient"]["matches_variant"] == "fake_quantize(gradient='identity')"


def test_a_symmetric_scale_of_amax_over_127_5_is_caught_and_named():
    records = values(W.HalfRangeSymmetricScale(), "quant_params")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == "quant_params(symmetric_divisor='half_range')"


def test_an_accumulator_that_saturates_at_int16_is_caught():
    """The draws put x and w at their range ends: two products of 127·128 already pass 2^15."""
    records = values(W.Int16Accumulator(), "quantized_dense")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] is None


def test_requantization_rounding_ties_half_up_is_caught_at_ties_and_named():
    """Half the drawn output scales make M = s_x·s_w/s_y a power of two: M·acc lands on exact ties."""
    records = values(W.HalfUpRequantization(), "quantized_dense")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == "quantized_dense(rounding='half_up')"


def test_a_truncated_fixed_point_requantization_scale_is_caught_and_named():
    """The ratio of ranges truncated to 16 bits puts a positive tie of a non-power-of-two M (1/6·3) a hair below
    ½; on power-of-two multipliers it is exactly half up. So the record names whichever of the two fits every
    example seen (the failing ones are power-of-two ties here); with the 1/6 tie among them only range_q16 fits."""
    from nnspec.conformance.measure import Verdict
    from nnspec.conformance.search import matching_variant
    from nnspec.conformance.strategies import Example

    records = values(W.TruncatedRequantizationScale(), "quantized_dense")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] in ("quantized_dense(multiplier='range_q16')",
                                                     "quantized_dense(rounding='half_up')")
    entry = CATALOGUE["quantized_dense"]
    ties = [(np.array([[-127.0]]), np.array([[3.0]]), 0.25, -128, np.array(0.25), 0.375, -57),  # M = 1/6, acc = 3
            (np.array([[-127.0, -125.0]]), np.array([[2.0, -3.0]]), 0.25, -128, np.array(0.25), 0.125, 0)]  # −3.5
    params = {"quant_min": -128, "quant_max": 127, "axis": None}
    seen = [(Example(list(t), None, params), W.TruncatedRequantizationScale().quantized_dense(*t, **params))
            for t in ties]

    def verdict(example, observed, overrides):
        return Verdict(bool(np.array_equal(observed, entry.forward(*example.inputs, **example.params, **overrides))))

    assert matching_variant(entry, seen, verdict) == "quantized_dense(multiplier='range_q16')"


def test_a_requantization_that_drops_the_output_zero_point_is_caught():
    records = values(W.DroppedOutputZeroPoint(), "quantized_dense")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] is None


@pytest.mark.parametrize("wrong, what", [(W.UnskippedLossScale, "the overflowed step taken"),
                                         (W.EagerGrowthLossScale, "growth at every finite step")])
def test_a_loss_scaler_that_steps_on_overflow_or_grows_every_step_is_caught(wrong, what):
    record = values(wrong(), "dynamic_loss_scale")["trajectory"]
    assert record["status"] == "fail", what
    assert record["first_failing_step"] >= 1
    assert record["matches_variant"] is None


def test_a_fake_quantize_that_nudges_its_range_in_float32_is_caught_and_named():
    """Ties go up on the re-derived grid and near-ties move with the float32 reciprocal: not rounding='half_up'
    alone (an arbitrary-mantissa scale's nudged arithmetic differs from the exact half-up value)."""
    records = values(W.Float32RangeNudging(), "fake_quantize")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == "fake_quantize(nudging='float32_range')"
    assert records["gradient"]["status"] == "fail"  # x within half a step past an edge: 0 where the spec gives 1
    # the nudged range is the unrounded one up to float32 rounding: on these draws the first to fit is named
    assert records["gradient"]["matches_variant"] in ("fake_quantize(gradient='unrounded')",
                                                      "fake_quantize(nudging='float32_range')")
