"""Catalogue rows of the embedding family: the lookup, its scatter-add gradient, and out-of-range indices.

Examples are a table (V, D) from a short menu of shapes (V = 1 among them: flax's Embed takes another
path for a single row) and integer indices drawn so that an index repeats on purpose — one "hot" row
looked up at several positions, or every position the same row — which a gradient that overwrites
instead of summing gets wrong; ``padding_idx`` is None half the time, else a row the indices hit (often
the hot one). A share of the tables holds special values (nan, ±inf, −0, subnormals, ±max): the lookup
copies them exactly. Values come from a NumPy generator seeded by hypothesis.

The ``out_of_range`` check draws indices outside [0, V) — in [−V, 0), below −V, at V and beyond — one kind
per example, and records which stated behaviour each framework has (``spec/embedding.py``'s variants).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ...spec import embedding as E
from .. import strategies as S
from . import OpEntry, Tolerance

TABLES = [(1, 3), (4, 3), (7, 2), (16, 5)]  # (V, D)
INDEX_SHAPES = [(5,), (2, 3), (2, 2, 3)]
PATTERNS = ("hot", "uniform", "constant")  # how indices repeat: one row at several positions, at random, everywhere
OUTSIDE = ("negative", "below", "at_end", "beyond")  # [−V, 0), < −V, V, > V


def _table(draw, rng, dtype, shape):
    table = rng.uniform(-2, 2, shape)
    if draw(st.integers(0, 3)) == 0:  # a quarter: special values, copied exactly by the lookup
        specials = S.specials(dtype)
        picks = rng.integers(0, len(specials), shape)
        table = np.where(rng.random(shape) < 0.3, np.asarray(specials)[picks], table)
    return table.astype(S.np_dtype(dtype))


def _indices(draw, rng, rows, shape):
    pattern = draw(st.sampled_from(PATTERNS))
    hot = draw(st.integers(0, rows - 1))
    if pattern == "constant":
        return np.full(shape, hot, np.int64), hot
    index = rng.integers(0, rows, shape)
    if pattern == "hot":  # the hot row at about half the positions, at least two
        at = rng.random(shape) < 0.5
        at.flat[:2] = True
        index = np.where(at, hot, index)
    return index.astype(np.int64), hot


def embedding_examples(dtype, params):
    @st.composite
    def example(draw):
        table_shape, index_shape = draw(st.sampled_from(TABLES)), draw(st.sampled_from(INDEX_SHAPES))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        table = _table(draw, rng, dtype, table_shape)
        indices, hot = _indices(draw, rng, table_shape[0], index_shape)
        padding = draw(st.sampled_from(("none", "hot", "looked_up", "any")))
        padding_idx = {"none": None, "hot": hot, "looked_up": int(indices.flat[-1]),
                       "any": draw(st.integers(0, table_shape[0] - 1))}[padding]
        cotangent = rng.uniform(-1, 1, (*index_shape, table_shape[1])).astype(S.np_dtype(dtype))
        return S.Example([table, indices], cotangent, {"padding_idx": padding_idx})

    return example()


def outside_examples(dtype, params):
    """In-range indices with one to three positions outside [0, V), all of one kind (so each kind's behaviour
    is told apart: a framework may wrap negative indices and raise beyond the end)."""

    @st.composite
    def example(draw):
        table_shape, index_shape = draw(st.sampled_from(TABLES)), draw(st.sampled_from(INDEX_SHAPES))
        rows = table_shape[0]
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        table = rng.uniform(-2, 2, table_shape).astype(S.np_dtype(dtype))
        indices, _ = _indices(draw, rng, rows, index_shape)
        kind = draw(st.sampled_from(OUTSIDE))
        count = draw(st.integers(1, 3))
        bad = {"negative": lambda: rng.integers(-rows, 0, count), "below": lambda: rng.integers(-3 * rows, -rows, count),
               "at_end": lambda: np.full(count, rows), "beyond": lambda: rng.integers(rows + 1, 3 * rows + 2, count)}
        positions = rng.choice(indices.size, count, replace=False)
        indices.flat[positions] = bad[kind]()
        return S.Example([table, indices], None, {"padding_idx": None})

    return example()


def repeats(example):
    """The most positions that look one row up: the length of the gradient's longest sum."""
    indices = np.asarray(example.inputs[1])
    return int(np.max(np.unique(indices, return_counts=True)[1], initial=1)) if indices.size else 0


def gradient_floor(example):
    """Σ|G| over the positions of each row: the magnitude each row's sum is computed from."""
    table, indices = example.inputs
    g = np.abs(np.asarray(example.cotangent, dtype=np.float64)).reshape(-1, table.shape[1])
    floor = np.zeros(table.shape, np.float64)
    np.add.at(floor, np.asarray(indices).ravel(), g)
    return floor


LOOKUP = Tolerance(0, "a lookup copies a row of the table: exact")
SCATTER_ADD = Tolerance(0.5, "each row sums the cotangents of its positions, in ULPs of Σ|G|: + the longest sum's "
                             "length (its roundings), 0.5 ULP for the last", extra=repeats)

ROWS = [
    OpEntry(
        "embedding", "embedding", E.embedding, E.embedding_vjp, LOOKUP, SCATTER_ADD,
        params={"padding_idx": S.choice(None)},  # drawn in the example: None or a row of its table
        variants={"negative": ("wrap",), "out_of_range": tuple(v for v in E.OUT_OF_RANGE if v != "error")},
        inputs=embedding_examples, wrt=(0,), gradient_floor=gradient_floor,
        checks=("values", "defaults", "out_of_range"), outside=outside_examples,
    ),
]
