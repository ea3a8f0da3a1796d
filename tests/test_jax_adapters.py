"""The JAX adapter compiles forward and VJP of an example as one executable per shape."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

import jax  # noqa: E402

from nnspec.backends import Backend, load_backend  # noqa: E402

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@pytest.fixture
def compiles():
    """A list that gets one entry per XLA backend compile while the test runs."""
    seen = []

    def listen(event, duration, **kwargs):
        if event == COMPILE_EVENT:
            seen.append(event)

    jax.monitoring.register_event_duration_secs_listener(listen)
    yield seen
    jax.monitoring.unregister_event_duration_listener(listen)


def examples(backend, shapes):
    """For each shape: one example with a cotangent and one without (non-finite inputs get none)."""
    rng = np.random.default_rng(0)
    for shape in shapes:
        x, g = rng.uniform(-3, 3, shape).astype(np.float32), rng.uniform(-1, 1, shape).astype(np.float32)
        yield backend.asarray(x, "cpu"), backend.asarray(g, "cpu")
        yield backend.asarray(np.full(shape, np.inf, np.float32), "cpu"), None


def evaluate_all(backend, shapes):
    for x, g in examples(backend, shapes):
        value, gradients = backend.evaluate("gelu", [x], {"approximate": "tanh"}, g, (0,))
        assert not isinstance(value, Exception) and (g is None) == (gradients is None)


def test_one_compile_per_shape_whether_or_not_a_gradient_is_asked(compiles):
    evaluate_all(load_backend("jax"), [(7, 11), (13,)])
    assert len(compiles) == 2


def test_separate_forward_and_backward_jits_are_caught(compiles):
    """The count above fails on the old way: a forward jit and a VJP jit per shape."""

    class Separate(type(load_backend("jax"))):
        evaluate = Backend.evaluate

    evaluate_all(Separate(), [(7, 12), (14,)])
    assert len(compiles) == 4
