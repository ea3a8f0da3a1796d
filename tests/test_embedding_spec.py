"""The embedding spec against independent oracles: closed forms (a one-hot matrix product), finite differences,
hand-computed cases, and the textbook defaults pinned.

* Forward: y = onehot(indices) · table, the one-hot matrix built from the indices alone.
* VJP: d_table = onehot(indices)ᵀ · G with the padding row's column dropped, and the adjoint identity
  ⟨G, J·v⟩ = ⟨VJP(G), v⟩, J·v a central finite difference of the forward (exact: the lookup is linear).
* Repeated indices sum their cotangents; the padding row gets 0 and keeps its lookup.
* Out of range: an IndexError by default; each variant's stated behaviour on a hand-made case.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnspec.spec import embedding as E


@st.composite
def cases(draw):
    rows, features = draw(st.sampled_from([(1, 3), (4, 3), (7, 2), (16, 5)]))
    shape = draw(st.sampled_from([(5,), (2, 3), (2, 2, 3), (40,)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    table = rng.normal(size=(rows, features))
    indices = rng.integers(0, rows, shape)
    padding_idx = draw(st.one_of(st.none(), st.integers(0, rows - 1)))
    return table, indices, rng.normal(size=(*shape, features)), padding_idx


def one_hot(indices, rows):
    return (np.ravel(indices)[:, None] == np.arange(rows)[None, :]).astype(np.float64)


@given(cases())
def test_the_lookup_is_a_one_hot_matrix_product(case):
    table, indices, _, padding_idx = case
    expected = (one_hot(indices, table.shape[0]) @ table).reshape(*indices.shape, table.shape[1])
    np.testing.assert_array_equal(E.embedding(table, indices, padding_idx=padding_idx), expected)  # one term per sum: exact


@given(cases())
def test_the_vjp_is_the_transposed_one_hot_product_without_the_padding_row(case):
    table, indices, g, padding_idx = case
    hot = one_hot(indices, table.shape[0])
    if padding_idx is not None:
        hot[:, padding_idx] = 0
    expected = hot.T @ g.reshape(-1, table.shape[1])
    np.testing.assert_allclose(E.embedding_vjp(table, indices, g, padding_idx=padding_idx), expected, rtol=1e-13, atol=1e-13)


@given(cases())
def test_the_vjp_is_the_adjoint_of_a_finite_difference(case):
    table, indices, g, _ = case  # the forward ignores padding_idx, so the identity holds without it
    v = np.random.default_rng(7).normal(size=table.shape)
    h = 1e-3
    jv = (E.embedding(table + h * v, indices) - E.embedding(table - h * v, indices)) / (2 * h)
    assert np.sum(g * jv) == pytest.approx(np.sum(E.embedding_vjp(table, indices, g) * v), rel=1e-9, abs=1e-9)


def test_repeated_indices_sum_their_cotangents_and_the_padding_row_gets_none():
    table = np.arange(8.0).reshape(4, 2)
    indices = np.array([[2, 0, 2], [2, 3, 0]])
    g = np.array([[[1, 10], [100, 1000]], [[2, 20], [200, 2000]]], dtype=np.float64).reshape(2, 2, 2)
    g = np.concatenate([g, np.array([[[3, 30]], [[4, 40]]])], axis=1)  # (2, 3, 2): positions (0, 2) and (1, 2)
    np.testing.assert_array_equal(E.embedding(table, indices), table[[[2, 0, 2], [2, 3, 0]]])
    # row 2 at (0, 0), (0, 2), (1, 0): 1 + 3 + 2; row 0 at (0, 1), (1, 2): 100 + 4; row 3 at (1, 1): 200
    expected = np.array([[104, 1040], [0, 0], [6, 60], [200, 2000]], dtype=np.float64)
    np.testing.assert_array_equal(E.embedding_vjp(table, indices, g), expected)
    padded = expected.copy()
    padded[2] = 0
    np.testing.assert_array_equal(E.embedding_vjp(table, indices, g, padding_idx=2), padded)
    np.testing.assert_array_equal(E.embedding(table, indices, padding_idx=2), E.embedding(table, indices))


def test_out_of_range_indices_raise_by_default_and_each_variant_states_its_rows():
    table = np.arange(1.0, 9.0).reshape(4, 2)
    for bad in ([0, 4], [0, -1], [0, -5], [0, 9]):
        with pytest.raises(IndexError):
            E.embedding(table, np.array(bad))
        with pytest.raises(IndexError):
            E.embedding_vjp(table, np.array(bad), np.ones((2, 2)))
    indices = np.array([1, -1, -5, 4, 9])
    nan = [np.nan, np.nan]
    np.testing.assert_array_equal(E.embedding(table, indices, negative="wrap", out_of_range="fill_nan"),
                                  [table[1], table[3], nan, nan, nan])
    np.testing.assert_array_equal(E.embedding(table, indices, out_of_range="fill_nan"),
                                  [table[1], nan, nan, nan, nan])
    np.testing.assert_array_equal(E.embedding(table, indices, out_of_range="zeros"),
                                  [table[1], [0, 0], [0, 0], [0, 0], [0, 0]])
    np.testing.assert_array_equal(E.embedding(table, indices, out_of_range="clamp"),
                                  [table[1], table[0], table[0], table[3], table[3]])
    np.testing.assert_array_equal(E.embedding(table, indices, negative="wrap", out_of_range="clamp"),
                                  [table[1], table[3], table[0], table[3], table[3]])
    with pytest.raises(IndexError):  # -5 is outside [−V, 0) too: wrapping does not reach it
        E.embedding(table, indices, negative="wrap")
    # an index outside looks nothing up: it gives no gradient (the clamped one, its row's)
    g = np.ones((5, 2))
    np.testing.assert_array_equal(E.embedding_vjp(table, indices, g, negative="wrap", out_of_range="fill_nan"),
                                  [[0, 0], [1, 1], [0, 0], [1, 1]])
    np.testing.assert_array_equal(E.embedding_vjp(table, indices, g, out_of_range="clamp"),
                                  [[2, 2], [1, 1], [0, 0], [2, 2]])


def test_a_padding_index_outside_the_table_is_an_error():
    with pytest.raises(ValueError):
        E.embedding(np.ones((3, 2)), np.array([0]), padding_idx=3)


def test_the_textbook_defaults():
    """torch's F.embedding: no padding index; an index outside the table is an error (torch's IndexError)."""
    signature = inspect.signature(E.embedding).parameters
    assert signature["padding_idx"].default is None
    assert signature["negative"].default == "error" and signature["out_of_range"].default == "error"
    assert E.OUT_OF_RANGE == ("error", "clamp", "zeros", "fill_nan")
