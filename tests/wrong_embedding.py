"""Deliberately wrong (or differently behaved) embedding adapters: each is one way an embedding port breaks, or
one behaviour on out-of-range indices, which the engine must catch and, where it is a stated one, name.

They subclass the NumPy baseline (the spec in the table's dtype) and change one thing.
"""

from __future__ import annotations

import numpy as np

from nnspec.backends.numpy import NumpyBackend, in_dtype
from nnspec.spec import embedding as E


class OverwritingGradient(NumpyBackend):
    """Scatters the cotangents with an assignment, d_table[indices] = G: a repeated index keeps one cotangent
    (NumPy's fancy assignment: the last) instead of their sum."""

    name = "overwriting-gradient"

    def vjp(self, op, inputs, cotangent, params, wrt=(0,)):
        if op != "embedding":
            return super().vjp(op, inputs, cotangent, params, wrt)
        table, indices = inputs
        d_table = np.zeros_like(table)
        d_table[np.ravel(indices)] = np.reshape(cotangent, (-1, table.shape[1]))
        if params["padding_idx"] is not None:
            d_table[params["padding_idx"]] = 0
        return (d_table,)


class PaddingGetsGradient(NumpyBackend):
    """Ignores padding_idx in the backward pass: the padding row is trained like any other."""

    name = "padding-gets-gradient"

    def vjp(self, op, inputs, cotangent, params, wrt=(0,)):
        if op == "embedding":
            params = {**params, "padding_idx": None}
        return super().vjp(op, inputs, cotangent, params, wrt)


class Clamping(NumpyBackend):
    """Clamps an index outside [0, V) to the nearest row (XLA's gather)."""

    name = "clamping"

    def embedding(self, table, indices, padding_idx):
        return in_dtype(E.embedding, table, indices, padding_idx=padding_idx, out_of_range="clamp")


class WrapsAndFillsNan(NumpyBackend):
    """Counts negative indices from the end and gives a row of nan beyond (jnp.take's default)."""

    name = "wraps-and-fills-nan"

    def embedding(self, table, indices, padding_idx):
        return in_dtype(E.embedding, table, indices, padding_idx=padding_idx, negative="wrap", out_of_range="fill_nan")


class Modulo(NumpyBackend):
    """Reads every index modulo V: no stated behaviour (an index V looks up row 0)."""

    name = "modulo"

    def embedding(self, table, indices, padding_idx):
        return in_dtype(E.embedding, table, np.mod(indices, table.shape[0]), padding_idx=padding_idx)
