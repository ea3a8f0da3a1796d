"""The adapter contract, checked on every built-in backend whose framework is installed."""

from __future__ import annotations

import inspect

import ml_dtypes
import numpy as np
import pytest

from nnspec.backends import DTYPES, Backend, Unsupported, load_backend
from nnspec.conformance.catalogue import select
from nnspec.backends.declared import fixed_of
from nnspec.spec import activations as A

FRAMEWORKS = {"numpy": "numpy", "torch": "torch", "tensorflow": "tensorflow", "jax": "jax"}
# Every activation with spec parameters declares their native defaults (through its binding).
DECLARED_DEFAULTS = {row.op: list(row.params) for row in select("activations") if row.params}


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
    (out,) = backend.vjp("relu", [backend.asarray(x, "cpu")], backend.asarray(g, "cpu"), {})
    out = backend.to_numpy(out)
    assert out.dtype == dt
    assert out.shape == x.shape
    np.testing.assert_array_equal(out.astype(np.float64), [[0.0, 0.0], [3.0, 4.0]])


def test_linear_vjp_is_the_cotangent(backend):
    x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
    g = np.array([5.0, 6.0, 7.0], dtype=np.float32)
    (out,) = backend.vjp("linear", [backend.asarray(x, "cpu")], backend.asarray(g, "cpu"), {})
    np.testing.assert_array_equal(backend.to_numpy(out), g)


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
    readable = {op: {**backend._native_defaults().get(op, {}), **fixed_of(type(backend)).get(op, {})}
                for op in spec_ops()}  # read from the callable's signature, or the adapter's FIXED
    declared = {op: entries for op, entries in readable.items() if entries}
    assert backend.name == "numpy" or set(declared) == set(DECLARED_DEFAULTS)
    for op, entries in declared.items():
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


# (f) evaluate: forward and every VJP from one call -------------------------------------


def subclass(backend, **methods):
    """A fresh adapter of the backend's own class with ``methods`` replaced (a deliberately wrong one)."""
    return type(f"Wrong{type(backend).__name__}", (type(backend),), methods)()


def native(backend, *arrays):
    return [backend.asarray(np.asarray(a), "cpu") for a in arrays]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("op, params", [("relu", {}), ("gelu", {"approximate": "none"}), ("softmax", {"axis": -1}),
                                        ("elu", {"alpha": 1.0})])
def test_evaluate_is_call_and_vjp_bit_for_bit(backend, op, params, dtype):
    dt = DTYPES[dtype]
    x = np.random.default_rng(0).uniform(-4, 4, (3, 5)).astype(dt)
    g = np.random.default_rng(1).uniform(-1, 1, (3, 5)).astype(dt)
    (nx, ng) = native(backend, x, g)
    value, gradients = backend.evaluate(op, [nx], params, ng, (0,))
    assert len(gradients) == 1
    assert bits(backend.to_numpy(value)).tobytes() == bits(backend.to_numpy(backend.call(op, [nx], params))).tobytes()
    (alone,) = backend.vjp(op, [nx], ng, params, wrt=(0,))
    assert bits(backend.to_numpy(gradients[0])).tobytes() == bits(backend.to_numpy(alone)).tobytes()
    value_only, none = backend.evaluate(op, [nx], params, None, (0,))
    assert none is None
    assert bits(backend.to_numpy(value_only)).tobytes() == bits(backend.to_numpy(value)).tobytes()


def test_evaluate_gives_no_gradient_of_an_output_the_cotangent_does_not_fit(backend):
    (nx, ng) = native(backend, np.ones((2, 2)), np.ones(4))
    value, gradients = backend.evaluate("relu", [nx], {}, ng, (0,))
    assert gradients is None and backend.to_numpy(value).shape == (2, 2)


def test_a_forward_that_raises_is_the_value_and_the_backward_reports_its_own(backend):
    def tanh(self, x):
        raise RuntimeError("kernel not implemented")

    wrong = subclass(backend, tanh=tanh)
    (nx, ng) = native(wrong, np.ones(3), np.ones(3))
    value, gradients = wrong.evaluate("tanh", [nx], {}, ng, (0,))
    assert isinstance(value, RuntimeError) and "kernel not implemented" in str(value)
    assert gradients is not None  # the backward still runs and reports for itself
    if backend.name != "numpy":  # numpy's VJP is the spec's formula; the others rerun the forward, which raises
        assert isinstance(gradients, Exception)


def test_unsupported_propagates_from_evaluate(backend):
    def tanh(self, x):
        raise Unsupported("no tanh for this parameter")

    wrong = subclass(backend, tanh=tanh)
    (nx, ng) = native(wrong, np.ones(3), np.ones(3))
    with pytest.raises(Unsupported):
        wrong.evaluate("tanh", [nx], {}, ng, (0,))


def backward_raises(backend):
    """An adapter whose relu computes the right value and raises in its backward pass, by its own autodiff."""
    if backend.name == "jax":
        import jax

        @jax.custom_vjp
        def relu(x):
            return jax.nn.relu(x)

        def fwd(x):
            return jax.nn.relu(x), None

        def bwd(_, g):
            raise RuntimeError("no backward")

        relu.defvjp(fwd, bwd)
        return subclass(backend, relu=lambda self, x: relu(x))
    if backend.name == "torch":
        import torch

        class Relu(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return torch.relu(x)

            @staticmethod
            def backward(ctx, g):
                raise RuntimeError("no backward")

        return subclass(backend, relu=lambda self, x: Relu.apply(x))
    if backend.name == "tensorflow":
        import tensorflow as tf

        @tf.custom_gradient
        def relu(x):
            def grad(g):
                raise RuntimeError("no backward")

            return tf.nn.relu(x), grad

        return subclass(backend, relu=lambda self, x: relu(x))

    def vjp(self, op, inputs, cotangent, params, wrt=(0,)):
        raise RuntimeError("no backward")

    return subclass(backend, vjp=vjp)


def test_a_backward_that_raises_is_the_gradient_and_the_value_stands(backend):
    wrong = backward_raises(backend)
    (nx, ng) = native(wrong, np.array([-1.0, 2.0]), np.ones(2))
    value, gradients = wrong.evaluate("relu", [nx], {}, ng, (0,))
    np.testing.assert_array_equal(wrong.to_numpy(value), [0.0, 2.0])
    assert isinstance(gradients, RuntimeError) and "no backward" in str(gradients)


def counting_layer_norm(backend, base=None):
    """An adapter of the backend's class (or ``base``) whose layer_norm counts its runs."""
    calls = []
    original = type(backend).layer_norm

    def layer_norm(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    cls = type("Counting", (base or type(backend),), {"layer_norm": layer_norm})
    return cls(), calls


def layer_norm_example(backend):
    rng = np.random.default_rng(2)
    arrays = rng.uniform(-2, 2, (3, 4)), rng.uniform(0.5, 2, 4), rng.uniform(-1, 1, 4), rng.uniform(-1, 1, (3, 4))
    return arrays, native(backend, *arrays), {"epsilon": 1e-5, "affine": True}


def test_every_gradient_comes_from_one_backward_pass(backend):
    """layer_norm differentiates three inputs: one evaluate runs the op at most twice (forward, one backward
    pass), not once per input, and returns the spec's three VJPs in wrt's order."""
    from nnspec.spec import normalization as N

    counting, calls = counting_layer_norm(backend)
    (x, weight, bias, g), (*xs, ng), params = layer_norm_example(counting)
    value, gradients = counting.evaluate("layer_norm", xs, params, ng, (0, 1, 2))
    assert len(calls) <= 2, f"the op ran {len(calls)} times for one value and three gradients"
    expected = N.layer_norm_vjp(x, weight, bias, g, **params)
    assert len(gradients) == 3
    for got, want in zip(gradients, expected):
        np.testing.assert_allclose(counting.to_numpy(got), want, rtol=1e-9, atol=1e-12)
    (only_bias,) = counting.vjp("layer_norm", xs, ng, params, wrt=(2,))
    np.testing.assert_allclose(counting.to_numpy(only_bias), expected[2], rtol=1e-9, atol=1e-12)


def test_one_backward_pass_per_input_is_caught(backend):
    """The count above fails on an adapter that takes each input's VJP by a backward pass of its own."""
    if backend.name == "numpy":
        pytest.skip("numpy's VJPs are the spec's formulas: they never run the op")
    own = type(backend)

    class PerInput(own):
        evaluate = Backend.evaluate  # call, then vjp (JAX's fused evaluate would not ask vjp)

        def vjp(self, op, inputs, cotangent, params, wrt=(0,)):
            return tuple(own.vjp(self, op, inputs, cotangent, params, wrt=(i,))[0] for i in wrt)

    counting, calls = counting_layer_norm(backend, PerInput)
    _, (*xs, ng), params = layer_norm_example(counting)
    counting.evaluate("layer_norm", xs, params, ng, (0, 1, 2))
    assert len(calls) == 4


# (g) rms_norm and rotary_embedding: signatures, native defaults as measured, unsupported where absent ------------

RMS_EPSILON = {"torch": None, "tensorflow": 1e-7, "jax": 1e-6}  # None: torch's finfo(compute dtype).eps
HAS_ROTARY = {"numpy": True, "torch": True, "tensorflow": False, "jax": False}  # Keras 3, JAX and flax have none


def test_rms_norm_and_rotary_signatures_and_defaults(backend):
    from nnspec.spec import encoding as E
    from nnspec.spec import normalization as N

    for op, fn in (("rms_norm", N.rms_norm), ("rotary_embedding", E.rotary_embedding)):
        if op == "rotary_embedding" and not HAS_ROTARY[backend.name]:
            assert not backend.implements(op)
            continue
        assert list(inspect.signature(getattr(backend, op)).parameters) == adapter_parameters(fn), op
    if backend.name == "numpy":
        return
    epsilon = backend.native_default("rms_norm", "epsilon")
    assert epsilon == RMS_EPSILON[backend.name] and type(epsilon) is type(RMS_EPSILON[backend.name])
    if HAS_ROTARY[backend.name]:
        assert backend.native_default("rotary_embedding", "pairs") == "half"  # the ONNX op's interleaved=False
