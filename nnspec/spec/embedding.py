"""Embedding lookup: one row of a table per integer index.

    y[p] = table[indices[p]]            for every position p of ``indices``

table (V, D), indices an integer array of any shape, y (*indices.shape, D). The lookup copies rows:
it is exact in every dtype.

The VJP w.r.t. the table is a scatter-add: row v gets the sum of the cotangents of every position
that looked it up, d_table[v] = Σ_{p: indices[p] = v} G[p] (a repeated index sums, never overwrites),
and rows nobody looked up get 0. The indices are integers and are not differentiated.

``padding_idx`` (torch's): that row gets no gradient (0), wherever it is looked up; its forward value
is the table's row as it is (torch's ``nn.Embedding`` merely initialises it to zeros). None: every row
gets its gradient. It is an index in [0, V).

An index outside [0, V) is an error (the spec's default, torch's). How frameworks differ there is
stated by two variant selectors, on the spec side only:

* ``negative="wrap"``: an index in [−V, 0) counts from the end, index + V (Python's and NumPy's rule,
  which ``keras.ops.take`` and ``jnp.take`` follow);
* ``out_of_range``: what an index still outside [0, V) gives — ``"error"`` (raised), ``"clamp"`` (the
  nearest row, 0 or V − 1: XLA's gather), ``"zeros"`` (a zero row: TensorFlow's gather on GPUs) or
  ``"fill_nan"`` (a row of nan: ``jnp.take``'s default mode ``"fill"``, whose gradient drops it).
"""

from __future__ import annotations

import numpy as np

from ._float64 import float64

OUT_OF_RANGE = ("error", "clamp", "zeros", "fill_nan")


def _resolve(indices, rows, negative="error", out_of_range="error"):
    """(indices in [0, V) where they look a row up, which positions are outside): IndexError where an index is
    outside [0, V) after ``negative``'s wrapping and ``out_of_range="error"``; clamped with ``"clamp"``."""
    index = np.asarray(indices).astype(np.int64)
    if negative == "wrap":
        index = np.where((index < 0) & (index >= -rows), index + rows, index)
    outside = (index < 0) | (index >= rows)
    if out_of_range == "clamp":
        return np.clip(index, 0, rows - 1), np.zeros_like(outside)
    if outside.any() and out_of_range == "error":
        bad = sorted(set(np.asarray(indices).astype(np.int64)[outside].tolist()))
        raise IndexError(f"indices {bad[:4]} out of range for a table of {rows} rows")
    return np.where(outside, 0, index), outside


def _check_padding(padding_idx, rows):
    if padding_idx is not None and not 0 <= padding_idx < rows:
        raise ValueError(f"padding_idx {padding_idx} is not a row of a table of {rows} rows")


@float64
def embedding(table, indices, padding_idx=None, *, negative="error", out_of_range="error"):
    """y[p] = table[indices[p]]: a row of the table (V, D) per integer index, y of shape (*indices.shape, D).

    ``padding_idx`` (default None): that row gets no gradient; its lookup is unchanged. An index outside [0, V)
    is an IndexError (variants: ``negative="wrap"``, ``out_of_range`` = "clamp" | "zeros" | "fill_nan").

    VJP w.r.t. the table (the indices are integers, not differentiated), a scatter-add over repeated indices:
    d_table[v] = Σ_{p: indices[p] = v, v ≠ padding_idx} G[p]; 0 for rows not looked up.
    """
    _check_padding(padding_idx, table.shape[0])
    index, outside = _resolve(indices, table.shape[0], negative, out_of_range)
    y = table[index]
    if outside.any():
        fill = np.zeros((), table.dtype) if out_of_range == "zeros" else np.asarray(np.nan, table.dtype)
        y = np.where(outside[..., None], fill, y)
    return y


@float64
def embedding_vjp(table, indices, cotangent, padding_idx=None, *, negative="error", out_of_range="error"):
    _check_padding(padding_idx, table.shape[0])
    index, outside = _resolve(indices, table.shape[0], negative, out_of_range)
    keep = ~outside if padding_idx is None else ~outside & (index != padding_idx)
    d_table = np.zeros_like(table)
    rows = np.reshape(cotangent, (-1, table.shape[1])).astype(table.dtype, copy=False)
    np.add.at(d_table, index.ravel()[keep.ravel()], rows[keep.ravel()])  # accumulates: repeats sum
    return d_table
