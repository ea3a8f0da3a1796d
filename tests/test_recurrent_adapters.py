"""The recurrent adapters' contract on every installed framework: the spec's signatures, the spec's
values on a fixed stacked bidirectional example, and an exact layout round trip."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from nnspec.backends import load_backend
from nnspec.spec import recurrent as R

FRAMEWORKS = {"numpy": "numpy", "torch": "torch", "tensorflow": "tensorflow", "jax": "flax"}
OPS = ("rnn_cell", "lstm_cell", "gru_cell", "rnn", "lstm", "gru")
WEIGHTS = ("w_ih", "w_hh", "b", "b_hn")


@pytest.fixture(scope="module", params=list(FRAMEWORKS))
def backend(request):
    pytest.importorskip(FRAMEWORKS[request.param])
    return load_backend(request.param)


def example(op, batch_first=False, return_sequences=True):
    """Inputs and params of a small fixed example: 2 stacked bidirectional layers for sequences."""
    rng = np.random.default_rng(7)
    kind, G = op.split("_")[0], len(R.GATES[op.split("_")[0]])
    B, H, T = 2, 3, 4
    lead, I = ((), 5) if op.endswith("_cell") else ((2, 2), 6)  # stacked: I = D·H
    x = rng.uniform(-2, 2, (B, I) if op.endswith("_cell") else ((B, T, I) if batch_first else (T, B, I)))
    states = [rng.uniform(-1, 1, lead + (B, H)) for _ in range(2 if kind == "lstm" else 1)]
    weights = [rng.uniform(-1, 1, lead + (G * H, I)), rng.uniform(-0.5, 0.5, lead + (G * H, H)),
               rng.uniform(-2, 2, lead + (G * H,))] + ([rng.uniform(-1, 1, lead + (H,))] if kind == "gru" else [])
    params = {} if op.endswith("_cell") else {"batch_first": batch_first, "return_sequences": return_sequences}
    if kind == "gru":
        params = {"reset_after": True, **params}  # the one form every framework has
    return [x, *states, *weights], params


@pytest.mark.parametrize("op", OPS)
def test_op_methods_have_the_spec_signature(backend, op):
    spec = [n for n, p in inspect.signature(getattr(R, op)).parameters.items() if p.kind is not p.KEYWORD_ONLY]
    method = inspect.signature(getattr(backend, op)).parameters
    assert list(method) == spec
    assert all(p.default is inspect.Parameter.empty for p in method.values())


@pytest.mark.parametrize("op, batch_first, return_sequences",
                         [(op, False, True) for op in OPS] + [(op, True, False) for op in ("rnn", "lstm", "gru")])
def test_forward_matches_the_spec(backend, op, batch_first, return_sequences):
    inputs, params = example(op, batch_first, return_sequences)
    expected = getattr(R, op)(*inputs, **params)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = backend.call(op, [backend.asarray(a, "cpu") for a in inputs], params)
    got = tuple(backend.to_numpy(g) for g in (got if isinstance(got, tuple) else (got,)))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == np.float64 and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", OPS)
def test_layout_round_trip_is_exact(backend, op):
    inputs, params = example(op)
    names = list(inspect.signature(getattr(R, op)).parameters)
    weights = {n: a for n, a in zip(names, inputs) if n in WEIGHTS}
    back = backend.from_native_layout(op, backend.to_native_layout(op, weights, params), params)
    assert set(back) == set(weights)
    for name, array in weights.items():
        assert back[name].dtype == array.dtype and back[name].tobytes() == array.tobytes(), name


@pytest.mark.parametrize("op", ["lstm", "gru"])
def test_gradients_through_time_match_the_spec(backend, op):
    inputs, params = example(op)
    y = getattr(R, op)(*inputs, **params)[0]
    cotangent = np.random.default_rng(3).uniform(-1, 1, y.shape)
    expected = getattr(R, f"{op}_vjp")(*inputs, cotangent, **params)
    native = [backend.asarray(a, "cpu") for a in inputs]
    gradients = backend.vjp(op, native, backend.asarray(cotangent, "cpu"), params, wrt=tuple(range(len(expected))))
    assert len(gradients) == len(expected)
    for i, (g, e) in enumerate(zip(gradients, expected)):
        np.testing.assert_allclose(backend.to_numpy(g), e, rtol=1e-10, atol=1e-11, err_msg=f"input {i}")
