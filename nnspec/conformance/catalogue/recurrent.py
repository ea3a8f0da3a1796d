"""Catalogue rows of the recurrent family: RNN, LSTM and GRU cells and sequences.

Examples come from a short menu of *structures* (batch, sizes, steps, layers, directions
and the structural parameters batch_first, return_sequences, reset_after, fixed
together): a compiling framework (jax.jit around flax's scan) pays one compile per
structure, so the menu is what a run costs. Values are drawn per array role in ranges
that saturate the gates (inputs up to ±30, biases up to ±20) while the recurrent
weights (at most ±1.5/√H, spectral radius about 0.9 or less) keep the recurrence from
expanding: a chaotic one would amplify float32 rounding past any bound over 200
steps, which says nothing about a framework. Arrays of up to 16 elements are drawn element by
element by hypothesis (so counterexamples shrink); larger ones from a NumPy generator
seeded by hypothesis. float16 and bfloat16 draw from fewer structures (the widest cell, the
stacked bidirectional sequence) to bound the run's cost; float32 and float64 draw them all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ...spec import recurrent as R
from .. import strategies as S
from . import OpEntry, Tolerance

LOW_PRECISION = ("float16", "bfloat16")
SMALL = 16  # arrays up to this many elements are drawn element by element


@dataclass(frozen=True)
class Cell:
    B: int
    I: int
    H: int
    reset_after: bool = False


@dataclass(frozen=True)
class Seq:
    T: int
    B: int
    I: int
    H: int
    L: int = 1
    D: int = 1
    batch_first: bool = False
    return_sequences: bool = True
    reset_after: bool = False


CELLS = [Cell(1, 1, 1), Cell(3, 2, 5), Cell(2, 16, 300)]
# With H = 1 and b_hn = 0 the two reset placements coincide (scalars commute): the reset-before GRU gets H > 1.
GRU_CELLS = [Cell(1, 1, 1, True), Cell(3, 2, 5), Cell(3, 2, 5, True), Cell(2, 16, 300)]
LOW_CELLS = [Cell(2, 16, 300)]
LOW_GRU_CELLS = [Cell(2, 16, 300), Cell(2, 16, 300, True)]

MINIMAL = Seq(2, 1, 1, 1)
STACKED = Seq(5, 2, 6, 3, L=2, D=2, batch_first=True)  # stacked layers need I = D·H
LONG = Seq(200, 2, 5, 128, D=2, return_sequences=False)  # long, wide, bidirectional
SEQUENCES = [MINIMAL, STACKED, LONG]
GRU_SEQUENCES = [replace(MINIMAL, reset_after=True), STACKED, replace(STACKED, reset_after=True), LONG,
                 replace(LONG, reset_after=True)]
LOW_SEQUENCES = [STACKED]
LOW_GRU_SEQUENCES = [STACKED, replace(STACKED, reset_after=True)]

# Value ranges per role, as choices of s in uniform(−s, s), the first the one shrinking goes
# to. Weights are scaled by 1/√fan_in so that pre-activations keep their range at every
# size; recurrent weights ≤ 1.5/√H keep the spectral radius ≈ s/√3 < 1. States: 0 is a
# zero initial state, drawn but not first: h = 0 hides where the GRU's reset gate sits.
SCALES = {
    "x": (1.0, 4.0, 30.0),
    "h": (1.0, 0.0),
    "c": (1.0, 5.0, 0.0),
    "w_ih": (1.0, 3.0, 10.0),
    "w_hh": (0.5, 1.5),
    "b": (1.0, 4.0, 20.0),
    "b_hn": (1.0, 3.0),
    "w_peep": (1.0, 3.0),  # peepholes multiply c (up to ±5 drawn): 3 saturates the gates from the state alone
}
STATES = {"rnn": ("h",), "lstm": ("h", "c"), "gru": ("h",)}


def _array(draw, rng, dtype, shape, scales, fan_in=1):
    scale = draw(st.sampled_from(scales)) / math.sqrt(fan_in)
    if scale == 0:
        return np.zeros(shape, S.np_dtype(dtype))
    if math.prod(shape) <= SMALL:
        bound = S.in_dtype(scale, dtype)
        values = hnp.arrays(S.CARRIER[dtype], shape, elements=st.floats(-bound, bound, width=S.WIDTH[dtype]))
        return draw(values).astype(S.np_dtype(dtype))
    return rng.uniform(-scale, scale, shape).astype(S.np_dtype(dtype))


def _cotangent(draw, rng, dtype, shape):
    if math.prod(shape) <= SMALL:
        return draw(S.cotangents(dtype, shape))
    return rng.uniform(-4, 4, shape).astype(S.np_dtype(dtype))


def _weights(draw, rng, dtype, kind, lead, I, H, reset_after):
    """w_ih, w_hh, b (and b_hn for the GRU) in the canonical layout, with leading axes ``lead``."""
    G = len(R.GATES[kind])
    weights = [
        _array(draw, rng, dtype, lead + (G * H, I), SCALES["w_ih"], I),
        _array(draw, rng, dtype, lead + (G * H, H), SCALES["w_hh"], H),
        _array(draw, rng, dtype, lead + (G * H,), SCALES["b"]),
    ]
    if kind == "gru":
        # The reset-before GRU has one candidate bias: b_hn is −0, the sum's identity (see the spec).
        weights.append(_array(draw, rng, dtype, lead + (H,), SCALES["b_hn"]) if reset_after
                       else np.full(lead + (H,), -0.0, S.np_dtype(dtype)))
    return weights


def _kind(op):
    return op.split("_")[0]


def cell_examples(op):
    kind = _kind(op)

    def factory(dtype, params):
        @st.composite
        def example(draw):
            low = dtype in LOW_PRECISION
            menu = (LOW_GRU_CELLS if low else GRU_CELLS) if kind == "gru" else (LOW_CELLS if low else CELLS)
            cell = draw(st.sampled_from(menu))
            rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
            x = _array(draw, rng, dtype, (cell.B, cell.I), SCALES["x"])
            states = [_array(draw, rng, dtype, (cell.B, cell.H), SCALES[s]) for s in STATES[kind]]
            weights = _weights(draw, rng, dtype, kind, (), cell.I, cell.H, cell.reset_after)
            if op == "lstm_peephole_cell":
                weights.append(_array(draw, rng, dtype, (3, cell.H), SCALES["w_peep"]))
            drawn = {"reset_after": cell.reset_after} if kind == "gru" else {}
            return S.Example([x, *states, *weights], _cotangent(draw, rng, dtype, (cell.B, cell.H)), drawn)

        return example()

    return factory


def sequence_examples(op):
    kind = _kind(op)

    def factory(dtype, params):
        low = dtype in LOW_PRECISION
        menu = {"gru": LOW_GRU_SEQUENCES if low else GRU_SEQUENCES}.get(kind, LOW_SEQUENCES if low else SEQUENCES)

        @st.composite
        def example(draw):
            seq = draw(st.sampled_from(menu))
            rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
            x_shape = (seq.B, seq.T, seq.I) if seq.batch_first else (seq.T, seq.B, seq.I)
            x = _array(draw, rng, dtype, x_shape, SCALES["x"])
            lead = (seq.L, seq.D)
            states = [_array(draw, rng, dtype, lead + (seq.B, seq.H), SCALES[s]) for s in STATES[kind]]
            weights = _weights(draw, rng, dtype, kind, lead, seq.I, seq.H, seq.reset_after)
            drawn = {"batch_first": seq.batch_first, "return_sequences": seq.return_sequences}
            if kind == "gru":
                drawn = {"reset_after": seq.reset_after, **drawn}
            if seq.return_sequences:
                y = (seq.B, seq.T, seq.D * seq.H) if seq.batch_first else (seq.T, seq.B, seq.D * seq.H)
            else:
                y = (seq.B, seq.D * seq.H)
            return S.Example([x, *states, *weights], _cotangent(draw, rng, dtype, y), drawn)

        return example()

    return factory


def from_menu(dtype, inputs):
    """Structural parameters are drawn with the shapes, from the structure menus above."""
    raise NotImplementedError("drawn by the row's example strategy")


def gradient_floor(example):
    """Errors in ULPs of max(|gradient|, max|cotangent|): a gradient through time sums T·B
    products of similar size, so its small elements carry absolute, not relative, error."""
    return np.max(np.abs(example.cotangent.astype(np.float64)), initial=0.0)


def _wide_dtypes(ulps):
    """Extra ULPs for float32 and float64, whose layers round every operation in the dtype itself."""

    def extra(example):
        return ulps if example.inputs[0].dtype in (np.float32, np.float64) else 0

    return extra


FORWARD = Tolerance(
    16, "of max(|y|, 1); float16/bfloat16 layers compute in float32 and round each output (≤ 9 measured); "
    "+240 in float32/float64, where each step's dot products of I + H terms up to ±100 round in the dtype, "
    "contractive so that errors do not compound (≤ 60 measured)", floor=1.0, extra=_wide_dtypes(240))
GRADIENT = Tolerance(
    256, "of max(|g|, max|cotangent|); float16/bfloat16 ≤ 75 measured; +3840 in float32/float64, where each "
    "weight's gradient sums T·B products and each state's I + H terms in the dtype (≤ 650 measured)",
    extra=_wide_dtypes(3840))

STRUCTURAL = {"batch_first": from_menu, "return_sequences": from_menu}
WEIGHTS = ("w_ih", "w_hh", "b")
CHECKS = ("values", "defaults", "layout")


def _row(op, n_inputs, weights=WEIGHTS, params=None, variants=None, inputs=None, checks=CHECKS):
    return OpEntry(
        op, "recurrent", getattr(R, op), getattr(R, f"{op}_vjp"), FORWARD, GRADIENT,
        params=params or {}, variants=variants or {}, inputs=inputs, wrt=tuple(range(n_inputs)),
        gradient_floor=gradient_floor, checks=checks, weights=weights,
    )


GRU_VARIANTS = {"reset_after": (True,), "old_state_weight": ("z",)}

ROWS = [
    _row("rnn_cell", 5, inputs=cell_examples("rnn_cell")),
    _row("lstm_cell", 6, inputs=cell_examples("lstm_cell")),
    # No framework here has peepholes (every adapter declares it): no native layout to check.
    _row("lstm_peephole_cell", 7, WEIGHTS + ("w_peep",), inputs=cell_examples("lstm_peephole_cell"),
         checks=("values", "defaults")),
    _row("gru_cell", 6, WEIGHTS + ("b_hn",), {"reset_after": from_menu}, GRU_VARIANTS, cell_examples("gru_cell")),
    _row("rnn", 5, params=STRUCTURAL, inputs=sequence_examples("rnn")),
    _row("lstm", 6, params=STRUCTURAL, inputs=sequence_examples("lstm")),
    _row("gru", 6, WEIGHTS + ("b_hn",), {"reset_after": from_menu, **STRUCTURAL}, GRU_VARIANTS,
         sequence_examples("gru")),
]
