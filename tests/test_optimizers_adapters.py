"""The optimizers family's adapter contract, on every built-in backend whose framework is installed:
the spec's op ids and signatures, native defaults naming spec parameters, and one step each."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from nnspec.backends import load_backend
from nnspec.conformance.catalogue import select

FRAMEWORKS = {"numpy": "numpy", "torch": "torch", "tensorflow": "tensorflow", "jax": "optax"}
ROWS = select("optimizers")


def spec_parameters(fn):
    """The parameters an adapter receives: keyword-only ones select spec-side variants."""
    return [n for n, p in inspect.signature(fn).parameters.items() if p.kind is not p.KEYWORD_ONLY]


@pytest.fixture(scope="module", params=list(FRAMEWORKS))
def backend(request):
    pytest.importorskip(FRAMEWORKS[request.param])
    return load_backend(request.param)


def test_every_op_has_the_spec_signature_without_defaults(backend):
    assert {row.op for row in ROWS} >= {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
                                        "adamax", "nadam", "step_decay", "exponential_decay", "cosine_annealing",
                                        "linear_warmup", "warmup_cosine", "reduce_on_plateau", "clip_by_value",
                                        "clip_by_norm", "clip_by_global_norm"}
    for row in ROWS:
        assert backend.implements(row.op), f"{backend.name} lacks {row.op}"
        method = inspect.signature(getattr(backend, row.op)).parameters
        assert list(method) == spec_parameters(row.forward), row.op
        assert all(p.default is inspect.Parameter.empty for p in method.values()), f"{row.op} has defaults"


def test_native_defaults_name_spec_parameters_and_can_be_read(backend):
    ops = {row.op: row for row in ROWS}
    for op, entries in backend._native_defaults().items():
        if op not in ops:
            continue  # another family's
        assert set(entries) <= set(ops[op].params), op
        for parameter in entries:
            backend.native_default(op, parameter)  # reads the framework's own signature


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_step_of_each_optimizer_moves_against_the_gradient(backend, dtype):
    params, grads = np.array([1.0, -2.0], dtype), np.array([[0.5, -0.5]], dtype)
    lr = np.array([0.1], dtype)
    hyper = {"momentum": 0.9, "initial_accumulator": 0.0, "eps": 1e-8, "rho": 0.9, "centered": False,
             "beta1": 0.9, "beta2": 0.999, "amsgrad": False, "weight_decay": 0.0, "lr_decay": 0.0}
    for row in ROWS:
        if "trajectory" not in row.checks:
            continue
        params_of = {k: v for k, v in hyper.items() if k in row.params}
        native = [backend.asarray(a, "cpu") for a in (params, grads, lr)]
        after = backend.to_numpy(backend.call(row.op, native, params_of))
        assert after.shape == (1, 2) and after.dtype == np.dtype(dtype), row.op
        assert np.all(np.sign(params - after[0]) == np.sign(grads[0])), row.op
