"""The trajectory and schedule checks against deliberately wrong optimizers: each must come out
with the right status, the shortest failing gradient sequence, and the variant it matches."""

from __future__ import annotations

import numpy as np
import pytest
import wrong_optimizers as W

from nnspec.backends.numpy import NumpyBackend
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.catalogue.optimizers import STEPS
from nnspec.conformance.checkers import CHECKERS
from nnspec.conformance.engine import Case, decode_example
from nnspec.conformance.trajectory import check_schedule, check_trajectory


def trajectory(backend, op, dtype="float64", budget="quick", seed=0):
    (record,) = check_trajectory(Case(CATALOGUE[op], backend, "cpu", dtype, budget, seed))
    return record


def schedule(backend, op, dtype="float64", budget="quick", seed=0):
    (record,) = check_schedule(Case(CATALOGUE[op], backend, "cpu", dtype, budget, seed))
    return record


@pytest.mark.parametrize("op", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "adamax",
                                "nadam"])
def test_the_baseline_follows_every_trajectory_in_float64(op):
    """The control: the NumPy baseline runs the spec's own lines, so it passes at 0 ULP."""
    record = trajectory(NumpyBackend(), op)
    assert record["status"] == "pass", record["message"]
    assert record["steps"] == STEPS and len(record["ulp_by_step"]) == STEPS and record["max_ulp"] == 0


def test_a_trajectory_record_shows_the_error_after_one_step_and_its_growth():
    record = trajectory(NumpyBackend(), "adam", "float32")
    assert record["status"] == "pass" and record["examples"] > 0
    assert record["ulp_by_step"][0] == pytest.approx(record["first_step_ulp"], rel=0.01)  # 3 digits kept
    assert record["first_step_ulp"] <= 6 and 0 < record["max_ulp"] <= 6 * STEPS
    assert max(record["ulp_by_step"]) == pytest.approx(record["max_ulp"], rel=0.01)
    assert len(record["rel_by_step"]) == STEPS and "step" in record["tolerance_rule"]


def test_adam_without_bias_correction_is_caught_at_the_first_step_and_named_nothing():
    record = trajectory(W.AdamWithoutBiasCorrection(), "adam")
    assert record["status"] == "fail" and record["matches_variant"] is None
    assert record["first_failing_step"] == 1
    assert decode_example(record["counterexamples"][0]).inputs[1].shape[0] == 1  # one gradient suffices


def test_rmsprop_with_eps_inside_the_root_is_matched_to_its_variant():
    record = trajectory(W.RmspropEpsInside(), "rmsprop", budget="standard")
    assert record["status"] == "fail"
    assert record["matches_variant"] == "rmsprop(eps_placement='inside')"


def test_momentum_scaling_its_buffer_by_lr_is_matched_once_the_rate_changes():
    record = trajectory(W.MomentumLrInBuffer(), "momentum", budget="standard")
    assert record["status"] == "fail"
    assert record["matches_variant"] == "momentum(lr_in_buffer=True)"
    example = decode_example(record["counterexamples"][0])
    assert len(set(example.inputs[2].tolist())) > 1  # only a changing learning rate tells them apart


def test_decoupled_weight_decay_is_matched_and_shows_only_with_a_decay():
    record = trajectory(W.KerasStyleWeightDecay(), "momentum", budget="standard")
    assert record["status"] == "fail"
    assert record["matches_variant"] == "momentum(weight_decay_mode='decoupled')"
    example = decode_example(record["counterexamples"][0])
    assert example.params["weight_decay"] > 0  # λ = 0 cannot tell coupled from decoupled


def test_a_rate_decayed_from_the_first_step_is_caught_and_only_with_a_decay():
    record = trajectory(W.AdagradDecayFromStepOne(), "adagrad", budget="standard")
    assert record["status"] == "fail" and record["matches_variant"] is None
    example = decode_example(record["counterexamples"][0])
    assert example.params["lr_decay"] > 0


def test_a_slow_drift_fails_late_and_is_cut_to_a_short_failing_sequence():
    record = trajectory(W.DriftingSgd(), "sgd", budget="standard")
    assert record["status"] == "fail" and record["matches_variant"] is None
    example = decode_example(record["counterexamples"][0])
    steps = example.inputs[1].shape[0]
    assert steps == example.inputs[2].shape[0] == record["first_failing_step"]  # gradients and rates cut together
    assert steps < STEPS


def test_an_optimizer_that_raises_is_an_error():
    record = trajectory(W.RaisingNadam(), "nadam")
    assert record["status"] == "error" and "fused kernel unavailable" in record["message"]


def test_unsupported_dtype_is_reported_as_such():
    class NoFloat16(NumpyBackend):
        name = "no-float16"

        def asarray(self, array, device):
            from nnspec.backends import Unsupported

            if array.dtype == np.float16:
                raise Unsupported("float16 is not supported")
            return super().asarray(array, device)

    assert trajectory(NoFloat16(), "sgd", "float16")["status"] == "unsupported"
    assert schedule(NoFloat16(), "step_decay", "float16")["status"] == "unsupported"


# schedules --------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["step_decay", "exponential_decay", "cosine_annealing", "linear_warmup",
                                "warmup_cosine", "reduce_on_plateau"])
def test_the_baseline_follows_every_schedule(op):
    assert schedule(NumpyBackend(), op)["status"] == "pass"


def test_a_recursive_cosine_is_matched_to_its_variant():
    record = schedule(W.RecursiveCosine(), "cosine_annealing", budget="standard")
    assert record["status"] == "fail"
    assert record["matches_variant"] == "cosine_annealing(form='recursive')"


def test_a_step_decay_one_step_late_fails_at_a_boundary():
    record = schedule(W.StepDecayOffByOne(), "step_decay")
    assert record["status"] == "fail" and record["matches_variant"] is None
    params = decode_example(record["counterexamples"][0]).params
    failing_step = int(record["message"].split(";")[0].split()[-1])
    assert failing_step % params["step_size"] == 0  # where the rate should have just decayed


def test_a_plateau_reducing_early_is_matched_to_its_variant():
    record = schedule(W.PlateauReducesEarly(), "reduce_on_plateau", budget="standard")
    assert record["status"] == "fail"
    assert record["matches_variant"] == "reduce_on_plateau(patience_rule='reaches')"


# clipping (the values check) -------------------------------------------------------------------


def test_clipping_with_an_eps_in_the_norm_is_matched_to_its_variant():
    records = CHECKERS["values"].run(Case(CATALOGUE["clip_by_norm"], W.ClipNormWithEps(), "cpu", "float64",
                                          "standard", 0))
    forward = next(r for r in records if r["check"] == "forward")
    gradient = next(r for r in records if r["check"] == "gradient")
    assert forward["status"] == "fail" and forward["matches_variant"] == "clip_by_norm(norm_eps=1e-06)"
    assert gradient["status"] == "skip"  # clipping is never differentiated: no cotangent is drawn
