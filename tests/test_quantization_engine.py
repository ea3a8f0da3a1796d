"""The engine against wrong quantization adapters: each caught, and the variant it is named."""

from __future__ import annotations

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
