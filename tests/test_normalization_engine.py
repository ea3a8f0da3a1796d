"""The engine against deliberately wrong normalization adapters: each one is caught, by the check it breaks,
and the running variance's estimator is named as the variant it is.

The wrong adapters change the NumPy baseline's forward; its gradients stay the spec's VJP formulas."""

from __future__ import annotations

import pytest
import wrong_normalization as W

from nnspec.backends.numpy import NumpyBackend
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.engine import Case, check_values
from nnspec.conformance.running_stats import check_running_stats


def values(backend, dtype="float64"):
    return {r["check"]: r for r in check_values(Case(CATALOGUE["batch_norm"], backend, "cpu", dtype, "quick", 0))}


def running_stats(backend, dtype="float64"):
    (record,) = check_running_stats(Case(CATALOGUE["batch_norm"], backend, "cpu", dtype, "quick", 0))
    return record


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_baseline_passes_what_the_wrong_adapters_break(dtype):
    records = values(NumpyBackend(), dtype)
    assert records["forward"]["status"] == "pass", records["forward"]["message"]
    assert records["gradient"]["status"] == "pass", records["gradient"]["message"]
    record = running_stats(NumpyBackend(), dtype)
    assert record["status"] == "pass", record["message"]
    assert record["steps"] == 4 and record["examples"] > 0


def test_an_inverted_momentum_fails_the_running_statistics_as_no_variant():
    record = running_stats(W.InvertedMomentum())
    assert record["status"] == "fail" and record["first_failing_step"] == 1
    assert record["matches_variant"] is None
    assert values(W.InvertedMomentum())["forward"]["status"] == "fail"  # the training step's state outputs


def test_a_biased_running_variance_is_named_as_the_variant():
    record = running_stats(W.BiasedRunningVariance())
    assert record["status"] == "fail" and record["first_failing_step"] == 1
    assert record["matches_variant"] == "batch_norm(running_variance='biased')"
    forward = values(W.BiasedRunningVariance())["forward"]
    assert forward["status"] == "fail" and forward["matches_variant"] == "batch_norm(running_variance='biased')"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_one_pass_variance_cancels_on_large_means_and_is_caught(dtype):
    """E[x²] − μ² loses the digits the two-pass variance keeps: the examples' large channel means find it."""
    forward = values(W.OnePassVariance(), dtype)["forward"]
    assert forward["status"] == "fail" and forward["matches_variant"] is None
    assert running_stats(W.OnePassVariance(), dtype)["status"] == "fail"


def test_repro_replays_a_running_stats_counterexample_side_by_side():
    from nnspec.conformance import repro
    from nnspec.conformance.engine import decode_example

    record = running_stats(W.BiasedRunningVariance())
    examples = [decode_example(c) for c in record["counterexamples"]]
    status, lines = repro.replay_running_stats(CATALOGUE["batch_norm"], W.BiasedRunningVariance(), record, examples)
    assert status == "fail"
    assert any("state output 2 per channel" in line for line in lines)


def l2(backend, dtype="float64"):
    return {r["check"]: r for r in check_values(Case(CATALOGUE["l2_normalize"], backend, "cpu", dtype, "quick", 0))}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_the_baseline_l2_normalize_passes(dtype):
    records = l2(NumpyBackend(), dtype)
    assert records["forward"]["status"] == "pass", records["forward"]["message"]
    assert records["gradient"]["status"] == "pass", records["gradient"]["message"]


def test_epsilon_on_the_squared_sum_is_named_as_the_variant():
    forward = l2(W.SquaredSumEpsilon())["forward"]  # (its gradient is the baseline's, the spec's VJP)
    assert forward["status"] == "fail"
    assert forward["matches_variant"] == "l2_normalize(epsilon_at='squared_sum')"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unscaled_squares_overflow_and_are_caught(dtype):
    records = l2(W.UnscaledSquares(), dtype)
    assert records["forward"]["status"] == "fail" and records["forward"]["matches_variant"] is None


def grouped(backend, op, dtype="float64"):
    return {r["check"]: r for r in check_values(Case(CATALOGUE[op], backend, "cpu", dtype, "quick", 0))}


@pytest.mark.parametrize("op", ["group_norm", "instance_norm"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_the_baseline_group_and_instance_norm_pass(op, dtype):
    records = grouped(NumpyBackend(), op, dtype)
    assert records["forward"]["status"] == "pass", records["forward"]["message"]
    assert records["gradient"]["status"] == "pass", records["gradient"]["message"]


def test_interleaved_groups_are_caught():
    assert grouped(W.InterleavedGroups(), "group_norm")["forward"]["status"] == "fail"


def test_instance_norm_over_every_channel_is_caught():
    assert grouped(W.InstanceAsLayerNorm(), "instance_norm")["forward"]["status"] == "fail"


def test_normalising_with_the_unbiased_variance_is_caught_as_no_variant():
    """σ²·K/(K − 1) in the training output (the running variance's estimator used for y) is no stated variant:
    running_variance='biased' changes the running variance, not y."""
    forward = values(W.UnbiasedNormalising())["forward"]
    assert forward["status"] == "fail" and forward["matches_variant"] is None
    assert running_stats(W.UnbiasedNormalising())["status"] == "pass"  # the state is the spec's: y alone is wrong


def test_gamma_and_beta_gradients_without_affine_are_caught():
    """The row draws affine=False, whose γ and β gradients are the spec's zeros."""
    records = values(W.AffineGradientWithoutAffine())
    assert records["forward"]["status"] == "pass"
    assert records["gradient"]["status"] == "fail" and records["gradient"]["matches_variant"] is None
    assert records["gradient"]["counterexamples"][0]["params"]["affine"] is False
