"""The adapter contract, checked on every built-in backend whose framework is installed."""

from __future__ import annotations

import inspect

import ml_dtypes
import numpy as np
import pytest

from nnspec.backends import DTYPES, Unsupported, load_backend
from nnspec.spec import activations as A

FRAMEWORKS = {"numpy": "numpy", "torch": "torch", "tensorflow": "tensorflow", "jax": "jax"}
DECLARED_DEFAULTS = {
    "leaky_relu": ["alpha"],
    "gelu": ["approximate"],
    "softmax": ["axis"],
    "log_softmax": ["axis"],
    "elu": ["alpha"],
}


def spec_ops():
    """Op id -> spec function: the public functions of the activations family, VJPs aside."""
    return {
        name: fn
        for name, fn in inspect.getmembers(A, inspect.isfunction)
        if fn.__module__ == A.__name__ and not name.startswith("_") and not name.endswith("_vjp")
    }


def adapter_parameters(fn):
    """The spec's parameters an adapter receives: keyword-only ones select spec-side variants."""
    return [n for n, p in inspect.signature(fn).parameters.items() if p.kind is not p.KEYWORD_ONLY]


def spec_default(op, parameter):
    return inspect.signature(spec_ops()[op]).parameters[parameter].default


@pytest.fixture(scope="module", params=list(FRAMEWORKS))
def backend(request):
    pytest.importorskip(FRAMEWORKS[request.param])
    return load_backend(request.param)


def bits(array):
    return np.ascontiguousarray(array).view(f"u{array.dtype.itemsize}")


# (a) transfer ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_round_trip_is_bit_exact(backend, dtype):
    dt = DTYPES[dtype]
    info = ml_dtypes.finfo(dt)
    values = [np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -3.5, info.max, info.tiny, info.eps]
    subnormals = [info.smallest_subnormal, -info.smallest_subnormal]
    # Every framework tested keeps subnormals on transfer (a copy, not arithmetic), even
    # those whose arithmetic flushes them (jax, tensorflow on CPU): all are asserted.
    array = np.array(values + subnormals, dtype=dt).reshape(1, -1)
    assert bits(array)[0, 0] != bits(array)[0, 1]  # +nan and -nan really differ in sign bit
    back = backend.to_numpy(backend.asarray(array, "cpu"))
    assert isinstance(back, np.ndarray)
    assert back.dtype == dt
    assert back.shape == array.shape
    np.testing.assert_array_equal(bits(back), bits(array))


# (b) op ids and signatures ----------------------------------------------------------


def test_every_spec_op_has_a_method_with_the_spec_parameters(backend):
    ops = spec_ops()
    assert {"relu", "gelu", "softmax", "selu"} <= set(ops)
    for op, fn in ops.items():
        assert backend.implements(op), f"{backend.name} lacks {op}"
        method = inspect.signature(getattr(backend, op)).parameters
        assert list(method) == adapter_parameters(fn), op
        assert all(p.default is inspect.Parameter.empty for p in method.values()), f"{op} has defaults"


# (c) autodiff -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_relu_vjp(backend, dtype):
    dt = DTYPES[dtype]
    x = np.array([[-2.0, -0.5], [0.5, 3.0]], dtype=dt)
    g = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=dt)
    out = backend.vjp("relu", [backend.asarray(x, "cpu")], backend.asarray(g, "cpu"), {})
    out = backend.to_numpy(out)
    assert out.dtype == dt
    assert out.shape == x.shape
    np.testing.assert_array_equal(out.astype(np.float64), [[0.0, 0.0], [3.0, 4.0]])


def test_linear_vjp_is_the_cotangent(backend):
    x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
    g = np.array([5.0, 6.0, 7.0], dtype=np.float32)
    out = backend.to_numpy(backend.vjp("linear", [backend.asarray(x, "cpu")], backend.asarray(g, "cpu"), {}))
    np.testing.assert_array_equal(out, g)


# (d) native defaults ---------------------------------------------------------------


def test_native_defaults(backend):
    for op, parameters in DECLARED_DEFAULTS.items():
        for parameter in parameters:
            if backend.name == "numpy":
                with pytest.raises(Unsupported):
                    backend.native_default(op, parameter)
                continue
            value = backend.native_default(op, parameter)
            expected = spec_default(op, parameter)
            # None is a real native default: torch's F.softmax(dim=None) picks an axis implicitly.
            assert value is None or type(value) is type(expected), (op, parameter, value)
            if parameter == "approximate":
                assert value in ("none", "tanh")
            assert backend.native_name(op, parameter)


def test_native_defaults_name_spec_parameters(backend):
    for op, entries in backend.NATIVE_DEFAULTS.items():
        assert set(entries) <= set(adapter_parameters(spec_ops()[op])), op


# (e) environment ---------------------------------------------------------------------


def test_environment(backend):
    env = backend.environment("cpu")
    assert env["backend"] == backend.name
    assert isinstance(env["backend_version"], str) and env["backend_version"]
    assert isinstance(env["numerics"], dict)
    if backend.name != "numpy":
        assert isinstance(env["numerics"]["flush_to_zero"], bool)
    assert "cpu" in backend.devices()
