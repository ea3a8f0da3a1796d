"""The embedding adapters on every built-in backend whose framework is installed: the spec's signature, the
padding index where the framework has one (fixed at None where it has none), and the scatter-add gradient."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from nnspec.backends import load_backend
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.spec import embedding as E

FRAMEWORKS = ["numpy", "torch", "tensorflow", "jax"]
PADDING = {"numpy": True, "torch": True, "tensorflow": False, "jax": False}  # a native padding index


@pytest.fixture(scope="module", params=FRAMEWORKS)
def backend(request):
    pytest.importorskip(request.param)
    return load_backend(request.param)


def test_the_op_has_the_spec_signature_without_defaults(backend):
    method = inspect.signature(backend.embedding).parameters
    assert list(method) == ["table", "indices", "padding_idx"]
    assert all(p.default is inspect.Parameter.empty for p in method.values())


def test_a_padding_index_is_run_where_native_and_declared_where_not(backend):
    reason = backend.unsupported("embedding", "float32", {"padding_idx": 1})
    assert (reason is None) == PADDING[backend.name], reason
    assert backend.unsupported("embedding", "float32", {"padding_idx": None}) is None
    if backend.name != "numpy":
        assert backend.native_default("embedding", "padding_idx") is None


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_repeated_indices_sum_their_cotangents(backend, padding_idx):
    if padding_idx is not None and not PADDING[backend.name]:
        pytest.skip("no native padding index (declared)")
    rng = np.random.default_rng(0)
    table, indices = rng.normal(size=(4, 3)), np.array([[2, 0, 2], [2, 3, 1]])
    g = rng.normal(size=(2, 3, 3))
    params = {"padding_idx": padding_idx}
    value, (d_table,) = backend.evaluate("embedding", [backend.asarray(table, "cpu"), backend.asarray(indices, "cpu")],
                                         params, backend.asarray(g, "cpu"), CATALOGUE["embedding"].wrt)
    np.testing.assert_array_equal(backend.to_numpy(value), E.embedding(table, indices, **params))
    np.testing.assert_allclose(backend.to_numpy(d_table), E.embedding_vjp(table, indices, g, **params), rtol=1e-15)
