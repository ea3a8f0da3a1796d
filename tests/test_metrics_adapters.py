"""The metrics adapters call their framework's own implementation with the spec's parameters; these pin
what each framework does on the degenerate cases the report's findings rest on (each test skipped where
its framework is not installed). The spec's own values come from nnspec.spec.metrics, never typed in."""

from __future__ import annotations

import numpy as np
import pytest

from nnspec.backends import load_backend
from nnspec.spec import metrics as M

ONE_CLASS = [np.array([1.0, 1.0, 1.0]), np.array([0.2, 0.5, 0.9])]  # every label positive: AUC undefined
ABSENT = [np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.0, 0.0])]  # class 2 never true, never predicted
MACRO = {"num_classes": 3, "average": "macro", "zero_division": 0.0}


def run(backend, op, inputs, params, dtype=np.float64):
    native = [backend.asarray(np.asarray(a, dtype), "cpu") for a in inputs]
    return backend.to_numpy(backend.call(op, native, params))


def test_sklearn_is_a_registered_backend_of_the_metrics_family_only():
    pytest.importorskip("sklearn")
    backend = load_backend("nnspec.backends.sklearn:SklearnBackend")
    assert backend.name == "sklearn"
    assert backend.unsupported("gelu").startswith("scikit-learn has no deep-learning ops")
    assert backend.unsupported("f1") is None
    assert run(backend, "precision", ABSENT, MACRO) == M.precision(*ABSENT, **MACRO)  # all classes counted
    assert backend.native_default("precision", "zero_division") == "warn"  # not a number: it warns, then 0
    assert backend.native_default("standard_scale", "ddof") == 0  # FIXED: StandardScaler has no ddof


def test_torchmetrics_macro_leaves_out_a_class_that_never_occurs():
    pytest.importorskip("torchmetrics")
    backend = load_backend("torch")
    got = run(backend, "precision", ABSENT, MACRO)
    assert got != M.precision(*ABSENT, **MACRO)  # the spec (and scikit-learn) average over all 3 classes
    assert got == pytest.approx(float(M.precision(*ABSENT, num_classes=2, average="macro")), rel=1e-6)


def test_torchmetrics_and_keras_give_auc_0_for_one_class_where_the_spec_is_nan():
    assert np.isnan(M.roc_auc(*ONE_CLASS))
    for name in ("torch", "tensorflow"):
        pytest.importorskip({"torch": "torchmetrics", "tensorflow": "keras"}[name])
        assert run(load_backend(name), "roc_auc", ONE_CLASS, {}, np.float32) == 0.0


def test_keras_precision_computes_in_float32_for_float64_labels():
    pytest.importorskip("keras")
    t, p = np.array([0.0, 1.0, 1.0, 0.0]), np.array([1.0, 1.0, 0.0, 1.0])
    got = run(load_backend("tensorflow"), "precision", [t, p], {"num_classes": 2, "average": "binary",
                                                                  "zero_division": 0.0})
    assert got.dtype == np.float64
    assert float(got) == float(np.float32(1 / 3)) and float(got) != 1 / 3


def test_flax_early_stopping_stops_one_epoch_after_keras():
    pytest.importorskip("flax")
    values = np.array([1.0, 0.9, 0.95, 0.96, 0.97, 0.98])
    params = {"patience": 2, "min_delta": 0.0, "mode": "min", "baseline": None}
    flax = run(load_backend("jax"), "early_stopping", [np.zeros(2), values], params)
    assert flax[:, 0].tolist() == M.early_stopping(np.zeros(2), values, **params, count="exceed")[:, 0].tolist()
    pytest.importorskip("keras")
    keras = run(load_backend("tensorflow"), "early_stopping", [np.zeros(2), values], params)
    assert keras.tolist() == M.early_stopping(np.zeros(2), values, **params).tolist()


def test_sklearn_min_max_range_below_10_eps_is_caught_and_named():
    pytest.importorskip("sklearn")
    from nnspec.conformance.catalogue import CATALOGUE
    from nnspec.conformance.engine import Case, check_values
    from nnspec.conformance.strategies import Example

    tiny = Example([np.array([[0.0], [7.518047058212938e-180]])], None, {"feature_range": (0.0, 1.0)})
    case = Case(CATALOGUE["min_max_scale"], load_backend("nnspec.backends.sklearn:SklearnBackend"), "cpu", "float64",
                "quick", 0, known=[tiny])
    forward = {r["check"]: r for r in check_values(case)}["forward"]
    assert forward["status"] == "fail"
    assert forward["matches_variant"] == "min_max_scale(near_constant='10eps')"
