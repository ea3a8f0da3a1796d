"""The seed models' training traps (each adapter's ``MODEL_TRAPS``), measured by the models checks once more with
the trap's setting off and written into the record's ``traps`` field: each trap's switch, turned off, moves the
measurement (a test per trap, which fails if the switch did nothing), the field meets both schemas, and the
porting guide renders it with the floor of agreement."""

from __future__ import annotations

import contextlib
import json

import jsonschema
import numpy as np
import pytest

from nnspec.backends.numpy import NumpyBackend
from nnspec.conformance import record as R
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.engine import Case
from nnspec.conformance.models import check_model, check_training
from nnspec.conformance.results import encode_line
from nnspec.spec import models as M


def _records(backend, op, dtype):
    records = check_model(Case(CATALOGUE[op], backend, "cpu", dtype, "quick", 0))
    records += check_training(Case(CATALOGUE[op], backend, "cpu", dtype, "quick", 0))
    return {r["check"]: r for r in records}


def _trap(records, check, name):
    (item,) = [t for t in records[check].get("traps", []) if t["name"] == name]
    return item


def _validate(records):
    validator = jsonschema.Draft202012Validator(R.schema())
    for r in records:
        validator.validate(json.loads(encode_line({**r, "run_id": "r", "case": "c"})))


@pytest.fixture(scope="module")
def torch_backend():
    from nnspec.backends.torch import TorchBackend
    return TorchBackend()


@pytest.fixture(scope="module")
def tensorflow():
    from nnspec.backends.tensorflow import TensorflowBackend
    return TensorflowBackend()


@pytest.fixture(scope="module")
def keras_mlp(tensorflow):
    return {dtype: _records(tensorflow, "mlp", dtype) for dtype in ("float64", "float32")}


# torch ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op, layer", [("lstm_classifier", "lstm1"), ("gru_regressor", "gru1")])
def test_torch_two_recurrent_biases_measured_at_step_1(torch_backend, op, layer):
    (record,) = check_training(Case(CATALOGUE[op], torch_backend, "cpu", "float64", "quick", 0))
    assert record["status"] == "pass", record["message"]  # the record: with the setting
    (item,) = record["traps"]
    assert item["name"] == "two recurrent biases" and item["status"] == "fail"
    assert item["layer"] == layer and item["step"] == 1 and f"{layer}/b" in item["message"]
    assert item["max_rel"] > 1e-2  # a whole step's worth, not rounding
    assert torch_backend.ONE_RECURRENT_BIAS is True and "ONE_RECURRENT_BIAS" not in vars(torch_backend)  # restored
    _validate([record])


# Keras ---------------------------------------------------------------------------------------------------------


def test_keras_adam_epsilon_hat_moves_the_first_adam_step(keras_mlp):
    for dtype in ("float64", "float32"):
        assert keras_mlp[dtype]["training"]["status"] == "pass"
        item = _trap(keras_mlp[dtype], "training", "Adam's epsilon hat")
        assert item["status"] == "fail" and item["step"] == 1 and item["message"].startswith("adam")
        assert item["max_rel"] > 1e-3


def test_keras_python_float_hyper_parameters_move_float64_only(keras_mlp):
    item = _trap(keras_mlp["float64"], "training", "Python-float hyper-parameters")
    assert item["status"] == "fail" and item["step"] == 1
    assert 1e-9 < item["max_rel"] < 1e-3  # float32's rounding of 0.9 / 0.999 / lr, not a wrong formula
    assert _trap(keras_mlp["float32"], "training", "Python-float hyper-parameters")["status"] == "pass"


def test_keras_dtype_policy_set_after_the_layers_computes_float64_in_float32(keras_mlp):
    for check in ("forward", "gradient", "training"):
        item = _trap(keras_mlp["float64"], check, "dtype policy set after the layers exist")
        assert item["status"] == "fail", item
        assert 1e-9 < item["max_rel"] < 1e-3  # float32 rounding measured in float64
        assert _trap(keras_mlp["float32"], check, "dtype policy set after the layers exist")["status"] == "pass"
    assert _trap(keras_mlp["float64"], "forward", "dtype policy set after the layers exist")["layer"] == "dense1"


def test_keras_sigmoid_output_bce_reads_the_logits_back(tensorflow, keras_mlp):
    """Measured: Keras' sigmoid keeps its input on the output (_keras_logits) and binary_crossentropy reads it
    back, so BCE(from_logits=False) on a sigmoid output agrees with the spec's from-logits loss — and the switch
    did build the sigmoid output (the model's output is the probability)."""
    import nnspec.backends.tensorflow.models as TM

    for check in ("gradient", "training"):
        assert _trap(keras_mlp["float64"], check, "sigmoid output, BCE from probabilities")["status"] == "pass"
    W = M.init_weights("mlp", 0)
    x, y = M.batch("mlp", 0, "float64")
    spec = M.forward("mlp", W, x, y, True)
    with M.switch(TM, "SIGMOID_OUTPUT", True):
        out = tensorflow.model_forward("mlp", W, x, y, True)
        assert not tensorflow._model("mlp", "float64").loss.from_logits
    np.testing.assert_allclose(out["logits"], 1 / (1 + np.exp(-spec["logits"])), rtol=1e-13)
    np.testing.assert_allclose(out["loss"], spec["loss"], rtol=1e-13)


def test_a_saturated_logit_s_bce_as_the_trap_states(tensorflow):
    """The trap's line, pinned: on z=20, y=0 (float32) Keras' sigmoid output gives the from-logits loss 20, a plain
    tf.nn.sigmoid output (no _keras_logits) 15.94, its probability clipped to float32(1 - 1e-7), torch's BCELoss
    of a sigmoid 100."""
    import keras
    import tensorflow as tf
    import torch

    bce = keras.losses.BinaryCrossentropy(from_logits=False, dtype="float32")
    z, y = tf.constant([[20.0]]), tf.zeros((1, 1))
    assert float(bce(y, keras.activations.sigmoid(z))) == 20.0
    clipped = -np.log(1 - np.float64(np.float32(1 - 1e-7)))  # the probability clipped to 1 - 1e-7, in float32
    assert abs(float(bce(y, tf.nn.sigmoid(z))) - clipped) < 1e-5 and abs(clipped - 15.9424) < 1e-4
    assert torch.nn.BCELoss()(torch.sigmoid(torch.tensor([20.0])), torch.zeros(1)).item() == 100.0
    assert torch.nn.BCEWithLogitsLoss()(torch.tensor([20.0]), torch.zeros(1)).item() == 20.0


def test_keras_gru_two_biases_measured_at_step_1(tensorflow):
    (record,) = check_training(Case(CATALOGUE["gru_regressor"], tensorflow, "cpu", "float64", "quick", 0))
    assert record["status"] == "pass", record["message"]
    (item,) = record["traps"]
    assert item["status"] == "fail" and item["layer"] == "gru1" and item["step"] == 1
    assert "gru1/b" in item["message"] and item["max_rel"] > 1e-2


def test_keras_sparse_embedding_adam_measured_at_the_embedding(tensorflow):
    (record,) = check_training(Case(CATALOGUE["lstm_classifier"], tensorflow, "cpu", "float64", "quick", 0))
    assert record["status"] == "pass", record["message"]
    (item,) = record["traps"]
    assert item["status"] == "fail" and item["layer"] == "embedding" and item["step"] == 1
    assert item["message"].startswith("adam") and item["max_rel"] > 1e-3
    _validate([record])


def test_keras_traps_leave_the_switches_as_they_were(tensorflow, keras_mlp):
    import nnspec.backends.tensorflow.models as TM

    assert (TM.ADAM_EPSILON_PER_STEP, TM.NUMPY_HYPER, TM.LAYER_DTYPE, TM.SIGMOID_OUTPUT) == (True, True, True, False)
    assert TM.CONSTRAINTS and TM.DENSE_EMBEDDING_GRADIENTS
    _validate(list(keras_mlp["float64"].values()))


# the mechanism -------------------------------------------------------------------------------------------------


class _Traps(NumpyBackend):
    """The baseline with made-up traps: one whose switch does nothing, one that breaks the gradient, one that
    raises: the measurement says what really happened, and the record's own status stays the settings' one."""

    SCALE = 1.0

    def model_forward(self, model_id, weights, x, y, training):
        out = super().model_forward(model_id, weights, x, y, training)
        out["gradients"] = {k: v * self.SCALE for k, v in out["gradients"].items()}
        return out

    MODEL_TRAPS = {"mlp": (
        M.Trap("no-op", ("gradient",), "*", "nothing", "a switch that does nothing",
               disable=lambda backend: contextlib.nullcontext()),
        M.Trap("doubled gradient", ("gradient", "forward"), "*", "grad * 2", "made up",
               disable=lambda backend: M.switch(backend, "SCALE", 2.0)),
        M.Trap("raises", ("gradient",), "*", "boom", "made up", disable=lambda backend: 1 / 0),
    )}


def test_a_trap_is_measured_as_it_is_and_the_record_keeps_its_status():
    backend = _Traps()
    records = {r["check"]: r for r in check_model(Case(CATALOGUE["mlp"], backend, "cpu", "float64", "quick", 0))}
    assert records["gradient"]["status"] == "pass" and records["forward"]["status"] == "pass"
    items = {t["name"]: t for t in records["gradient"]["traps"]}
    assert items["no-op"]["status"] == "pass"  # a switch that does nothing is measured as passing
    assert items["doubled gradient"]["status"] == "fail" and items["doubled gradient"]["layer"] == "dense3"
    assert items["raises"]["status"] == "error" and "ZeroDivisionError" in items["raises"]["message"]
    assert [t["name"] for t in records["forward"]["traps"]] == ["doubled gradient"]
    assert records["forward"]["traps"][0]["status"] == "pass"  # the forward pass did not move
    assert backend.SCALE == 1.0
    _validate(records.values())


def test_no_traps_no_field():
    records = check_model(Case(CATALOGUE["mlp"], NumpyBackend(), "cpu", "float32", "quick", 0))
    assert all("traps" not in r for r in records)


def test_a_malformed_trap_item_is_refused_by_the_schema():
    (good,) = check_training(Case(CATALOGUE["mlp"], NumpyBackend(), "cpu", "float32", "quick", 0))
    bad = {**good, "traps": [{"name": "x", "status": "fail"}]}  # no setting_off
    with pytest.raises(jsonschema.ValidationError):
        _validate([bad])


def _trap_record(**trap):
    """A Keras gru_regressor training record that passes, its two-biases trap measured as ``trap`` says."""
    item = {"name": "two GRU biases", "setting_off": "keras.layers.GRU(8, reset_after=True)", "status": "pass", **trap}
    return {"kind": "check", "id": "tensorflow/cpu/float64/gru_regressor/training", "op": "gru_regressor",
            "family": "models", "backend": "tensorflow", "backend_version": "3", "device": "cpu",
            "dtype": "float64", "check": "training", "status": "pass", "max_ulp": 1.0, "max_rel": 1.9e-16,
            "tolerance": 64, "examples": 1, "counterexamples": [], "message": "", "steps": 4, "traps": [item]}


def test_porting_guide_renders_the_traps_and_the_floor():
    from nnspec.conformance.porting_models import guide

    text = guide([_trap_record(status="fail", layer="gru1", step=1, max_ulp=9.3e12, max_rel=0.0635,
                               message="momentum step 1, layer gru1 (gru1/b): x")])
    section = text.split("## Training traps, measured", 1)[1].split("\n## ", 1)[0]
    (row,) = [line for line in section.splitlines() if line.startswith("| gru_regressor | Keras 3 | two GRU biases")]
    assert "training float64: pass (1 ULP" in row
    assert "training float64: fail at gru1 step 1 (momentum): 9.3e+12 ULP, 6.4e-02 of the layer's scale" in row
    assert "Floor of agreement one can expect" in text
    assert "Keras 3 float64: 1 ULP (1.9e-16 of the layer's scale" in text


def test_the_report_keeps_the_traps_and_renders_them(tmp_path):
    """Through the report: the status file keeps a record's traps (its schema validates them, without seconds),
    its readers get them back, and the report's porting section renders the table."""
    from nnspec.conformance.results import read_report_file
    from nnspec.report import SCHEMA, build_report

    results, out = tmp_path / "results", tmp_path / "report"
    results.mkdir()
    env = {"kind": "environment", "run_id": "tensorflow-cpu-1", "started": "2026-12-03T18:00:00Z",
           "backend": "tensorflow", "backend_version": "3", "device": "cpu", "python": "3.11", "platform": "Linux",
           "machine": "x86_64", "numpy": "2", "numerics": {}, "budget": {"examples": 1}, "seed": 0,
           "nnspec_version": "0.1.0", "argv": ["nnspec", "run"]}
    record = {**_trap_record(), "run_id": env["run_id"], "seconds": 1.0}
    record["traps"][0].update(status="fail", layer="gru1", step=1, max_ulp=9.312345678e12, max_rel=0.0635,
                              message="momentum step 1, layer gru1 (gru1/b): " + "x" * 400, seconds=1.2)
    (results / "tensorflow-cpu-1.jsonl").write_text(json.dumps(env) + "\n" + json.dumps(record) + "\n")
    build_report(results, out)
    status = json.loads((out / "conformance.json").read_text())
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(status)
    (entry,) = [r for r in read_report_file(out / "conformance.json")["records"] if r.get("id") == record["id"]]
    (item,) = entry["traps"]
    assert item["max_ulp"] == 9.312e12 and "seconds" not in item and len(item["message"]) < 200
    porting = (out / "porting.md").read_text()
    assert "Training traps, measured" in porting and "fail at gru1 step 1 (momentum)" in porting
