"""The models checks against the NumPy baseline (the spec-composed models), the torch adapter, and deliberately
wrong adapters (tests/wrong_models.py): each wrong one is caught and the layer it breaks is named."""

from __future__ import annotations

import pytest
import wrong_models as W

from nnspec.backends.numpy import NumpyBackend
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.engine import Case
from nnspec.conformance.models import check_model, check_training
from nnspec.conformance.record import CheckRecord


def model(backend, op, dtype="float64"):
    return {r["check"]: r for r in check_model(Case(CATALOGUE[op], backend, "cpu", dtype, "quick", 0))}


def training(backend, op, dtype="float64"):
    (record,) = check_training(Case(CATALOGUE[op], backend, "cpu", dtype, "quick", 0))
    return record


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", ["mlp", "cnn", "resnet_block", "lstm_classifier", "gru_regressor",
                                "transformer_encoder"])
def test_the_spec_composed_baseline_passes_every_check(op, dtype):
    records = model(NumpyBackend(), op, dtype)
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "pass", records[check]["message"]
        assert records[check]["examples"] > 0
        CheckRecord(**records[check])  # a valid record
    record = training(NumpyBackend(), op, dtype)
    assert record["status"] == "pass", record["message"]
    assert record["steps"] == 4


@pytest.mark.parametrize("op", ["cnn", "gru_regressor", "transformer_encoder"])
def test_torch_forward_and_gradient_agree_in_float64(op):
    from nnspec.backends.torch import TorchBackend

    records = model(TorchBackend(), op)
    assert records["forward"]["status"] == "pass", records["forward"]["message"]
    assert records["gradient"]["status"] == "pass", records["gradient"]["message"]


def test_a_transposed_kernel_is_caught_at_its_layer():
    records = model(W.TransposedKernel(), "cnn")
    assert records["forward"]["status"] == "fail" and records["forward"]["layer"] == "conv2"
    assert "layer conv2" in records["forward"]["message"]
    assert records["forward"]["counterexamples"][0]["params"].keys() == {"seed"}  # one number replays it


def test_a_flipped_gru_z_is_caught_at_its_layer():
    records = model(W.FlippedGruZ(), "gru_regressor")
    assert records["forward"]["status"] == "fail" and records["forward"]["layer"] == "gru1"
    assert records["gradient"]["status"] == "fail"


def test_an_inverted_batch_norm_momentum_is_caught_at_its_layer():
    records = model(W.InvertedMomentum(), "cnn")
    assert records["forward"]["status"] == "fail" and records["forward"]["layer"] == "bn1"
    assert "bn1/running_mean" in records["forward"]["message"]  # the state the training step returned


@pytest.mark.parametrize("op, layer", [("lstm_classifier", "lstm1"), ("gru_regressor", "gru1")])
def test_torch_two_recurrent_biases_train_at_twice_the_step_unless_one_is_held(op, layer):
    """torch's bias_ih and bias_hh both step: their sum, the canonical bias, moves twice the spec's step;
    the adapter's setting (bias_hh frozen, or its r, z rows masked) makes the training agree."""
    from nnspec.backends.torch import TorchBackend

    class BothBiases(TorchBackend):
        ONE_RECURRENT_BIAS = False

    record = training(BothBiases(), op)
    assert record["status"] == "fail" and record["layer"] == layer and record["first_failing_step"] == 1
    assert f"{layer}/b" in record["message"]
    record = training(TorchBackend(), op)
    assert record["status"] == "pass", record["message"]


@pytest.mark.parametrize("op, layer", [("cnn", "conv1"), ("transformer_encoder", "block")])
def test_a_zero_true_gradient_turns_into_full_adam_steps(op, layer):
    """A bias feeding batch norm, attention's key bias: d loss/d b = 0, so Adam steps by the rounding noise."""
    from nnspec.backends.torch import TorchBackend

    record = training(TorchBackend(), op, "float32")
    assert record["status"] == "fail" and record["layer"] == layer and record["first_failing_step"] == 1
    assert record["message"].startswith("adam")
