"""The TensorFlow adapter's traced Keras optimizer loop is the eager loop, bit for bit."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from nnspec.backends import load_backend  # noqa: E402
from nnspec.backends.tensorflow import optimizers as T  # noqa: E402
from nnspec.conformance.catalogue import select  # noqa: E402

ROWS = [row for row in select("optimizers") if "trajectory" in row.checks]


@pytest.fixture(scope="module")
def backend():
    return load_backend("tensorflow")


def drawn(row, dtype, count):
    """``count`` examples of the row's own strategy, the same on every run."""
    examples = []

    @seed(7)
    @settings(max_examples=count, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(row.example(dtype))
    def keep(example):
        examples.append(example)

    keep()
    return examples


def trajectory(backend, monkeypatch, steps, op, inputs, params):
    with monkeypatch.context() as patched:
        patched.setattr(T, "_steps", steps)
        return backend.to_numpy(backend.call(op, [backend.asarray(a, "cpu") for a in inputs], params))


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.op)
def test_traced_steps_are_the_eager_steps_bit_for_bit(backend, monkeypatch, row, dtype):
    for example in drawn(row, dtype, 2):
        traced = trajectory(backend, monkeypatch, T._steps, row.op, example.inputs, example.params)
        eager = trajectory(backend, monkeypatch, T._eager_steps, row.op, example.inputs, example.params)
        assert same_bits(traced, eager), (row.op, dtype, example.params)


def test_grappler_would_change_the_bits_and_is_caught(backend, monkeypatch):
    """Why the traced loop runs without Grappler: with its rewrites RMSprop's steps round differently."""
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(64), rng.standard_normal((100, 64)), np.full(100, 1e-2)]
    params = {"rho": 0.8855940103530884, "eps": 1e-7, "centered": True, "momentum": 0.9, "weight_decay": 0.0}
    eager = trajectory(backend, monkeypatch, T._eager_steps, "rmsprop", inputs, params)
    assert same_bits(trajectory(backend, monkeypatch, T._steps, "rmsprop", inputs, params), eager)
    monkeypatch.setattr(T, "_without_grappler", contextlib.nullcontext)
    assert not same_bits(trajectory(backend, monkeypatch, T._steps, "rmsprop", inputs, params), eager)
