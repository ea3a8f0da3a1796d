"""The Keras 3 (tensorflow) and flax.linen (jax) seed models against the spec-composed models, with the settings
their MODEL_SETTINGS state (each verified by the check passing), and the traps those settings avoid measured by
turning each one off: the check fails at the layer the trap is in."""

from __future__ import annotations

import pytest
import wrong_models_kf as W

from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.engine import Case
from nnspec.conformance.models import check_model, check_training
from nnspec.spec import models as M

MODELS = ("mlp", "cnn", "resnet_block", "lstm_classifier", "gru_regressor", "transformer_encoder")


@pytest.fixture(scope="module")
def tensorflow():
    from nnspec.backends.tensorflow import TensorflowBackend
    return TensorflowBackend()


@pytest.fixture(scope="module")
def jax_backend():
    from nnspec.backends.jax import JaxBackend
    return JaxBackend()


def model(backend, op, dtype="float64"):
    return {r["check"]: r for r in check_model(Case(CATALOGUE[op], backend, "cpu", dtype, "quick", 0))}


def training(backend, op, dtype="float64"):
    (record,) = check_training(Case(CATALOGUE[op], backend, "cpu", dtype, "quick", 0))
    return record


@pytest.mark.parametrize("framework", ["tensorflow", "jax_backend"])
@pytest.mark.parametrize("op", [m for m in MODELS if m != "cnn"])
def test_forward_and_gradient_agree_in_float64(op, framework, request):
    records = model(request.getfixturevalue(framework), op)
    assert records["forward"]["status"] == "pass", records["forward"]["message"]
    assert records["gradient"]["status"] == "pass", records["gradient"]["message"]


@pytest.mark.parametrize("framework", ["tensorflow", "jax_backend"])
def test_cnn_batch_norm_running_variance_is_the_biased_one(framework, request):
    """Keras and flax update the running variance with the batch's biased variance (÷ n), the spec and torch with the
    unbiased one (÷ n − 1): no setting of either layer changes it, so the cnn forward record fails at bn1 — a residual
    stated in MODEL_RESIDUALS; the logits and the gradient agree."""
    records = model(request.getfixturevalue(framework), "cnn")
    assert records["forward"]["status"] == "fail" and records["forward"]["layer"] == "bn1"
    assert "bn1/running_var" in records["forward"]["message"]
    assert records["gradient"]["status"] == "pass", records["gradient"]["message"]


@pytest.mark.parametrize("framework", ["tensorflow", "jax_backend"])
@pytest.mark.parametrize("op", ["mlp", "resnet_block", "lstm_classifier", "gru_regressor"])
def test_training_agrees_in_float64_with_the_settings(op, framework, request):
    record = training(request.getfixturevalue(framework), op)
    assert record["status"] == "pass", record["message"]


def test_every_model_has_its_settings_table(tensorflow, jax_backend):
    for backend in (tensorflow, jax_backend):
        assert set(MODELS) <= set(backend.MODEL_SETTINGS)
        for settings in backend.MODEL_SETTINGS.values():
            assert all(s.api and s.layer and s.why for s in settings)


def test_a_transposed_keras_kernel_is_caught_at_its_layer():
    records = model(W.KerasTransposedKernel(), "resnet_block")
    assert records["forward"]["status"] == "fail" and records["forward"]["layer"] == "conv2"


def test_keras_gru_two_bias_rows_train_at_twice_the_step_without_the_constraint(tensorflow, monkeypatch):
    import nnspec.backends.tensorflow.models as TM

    monkeypatch.setattr(TM, "CONSTRAINTS", {})
    record = training(tensorflow, "gru_regressor")
    assert record["status"] == "fail" and record["layer"] == "gru1", record["message"]
    assert "gru1/b" in record["message"]


def test_keras_sparse_embedding_gradients_under_adam_leave_the_bound(tensorflow, monkeypatch):
    import nnspec.backends.tensorflow.models as TM

    monkeypatch.setattr(TM, "DENSE_EMBEDDING_GRADIENTS", False)
    record = training(tensorflow, "lstm_classifier")
    assert record["status"] == "fail" and record["layer"] == "embedding", record["message"]
    assert record["message"].startswith("adam")


def test_keras_adam_without_the_per_step_epsilon_leaves_the_bound(tensorflow, monkeypatch):
    import nnspec.backends.tensorflow.models as TM

    monkeypatch.setattr(TM, "ADAM_EPSILON_PER_STEP", False)
    record = training(tensorflow, "mlp")
    assert record["status"] == "fail", record["message"]
    assert record["message"].startswith("adam")


def test_keras_float64_needs_numpy_hyper_parameters():
    """keras.optimizers.SGD(momentum=0.9): ops.cast takes the Python float through float32 (the setting passes
    np.float64); measured on a fixed vector, 3 steps."""
    import keras
    import numpy as np
    import tensorflow as tf

    from nnspec.backends.tensorflow.models import _floatx
    from nnspec.spec import optimizers as O

    rng = np.random.default_rng(0)
    w0, gs = rng.standard_normal(5), rng.standard_normal((3, 5))
    errors = {}
    for kind in (float, np.float64):
        with _floatx("float64"):
            opt = keras.optimizers.SGD(learning_rate=kind(0.05), momentum=kind(0.9))
            v = keras.Variable(w0)
            opt.build([v])
        w, state = w0.copy(), O.momentum_init(w0)
        for t, g in enumerate(gs, 1):
            opt.apply_gradients([(tf.constant(g), v)])
            w, state = O.momentum_update(w, g, state, t, 0.05, momentum=0.9)
        errors[kind] = float(np.max(np.abs(v.numpy() - w)))
    assert errors[np.float64] == 0.0
    assert errors[float] > 1e-10  # 0.8999999762 for 0.9


def test_zero_true_gradient_under_adam_in_float32_is_a_residual(tensorflow):
    """conv biases before batch norm: their true gradient is 0, the framework's is rounding noise, and Adam
    normalizes it into steps of size ~lr; the spec's own float64 noise is far smaller (eps dominates)."""
    import numpy as np

    W0 = {k: v.astype("float32") for k, v in M.init_weights("cnn", 0).items()}
    out = tensorflow.model_forward("cnn", W0, *M.batch("cnn", 0, "float32"), True)
    assert np.max(np.abs(out["gradients"]["conv1/b"])) < 1e-6  # noise around the true 0
