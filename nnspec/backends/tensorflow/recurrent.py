"""Tensorflow adapter, recurrent: Keras 3 SimpleRNN/LSTM/GRU, their cells and Bidirectional, by stateless_call.

The canonical weights are mapped into each Keras layer's variables (``LAYOUTS``) with TF
ops and passed to ``layer.stateless_call``, so the tape differentiates through the
mapping back to them. Keras stores kernels fan-in first (the canonical transposed), the
GRU's gates as (z, r, h), one bias per gate (LSTM, SimpleRNN, reset-before GRU) or two
for the reset-after GRU (bias (2, 3H): input row, recurrent row), and keeps the GRU's old
state with z (h = z·h + (1 − z)·hh): its z rows are the canonical ones negated. Keras 3
layers are batch-major: a time-first x is transposed in and y back out. Stacked layers
are Keras layers applied in turn (each layer but the last returning sequences), as in a
Keras model; bidirectional layers are ``keras.layers.Bidirectional(merge_mode="concat")``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ..base import same
from ...spec.recurrent import NumpyOps, Block, Param, assemble, disassemble

OPS = ("rnn_cell", "lstm_cell", "gru_cell", "rnn", "lstm", "gru")
CELLS = {"rnn": keras.layers.SimpleRNNCell, "lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}
LAYERS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
ZEROS = {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"}  # replaced anyway; QR has no bfloat16


def _blocks(source, gates, mirrored=(), addend=False):
    return tuple(Block(source, g, -1 if g in mirrored else 1, addend) for g in gates)


def _kernels(gates, mirrored=()):
    return (Param(("kernel",), _blocks("w_ih", gates, mirrored), transpose=True),
            Param(("recurrent_kernel",), _blocks("w_hh", gates, mirrored), transpose=True))


LAYOUTS = {
    "rnn": _kernels("h") + (Param(("bias",), _blocks("b", "h")),),
    "lstm": _kernels("ifgo") + (Param(("bias",), _blocks("b", "ifgo")),),
    "gru": _kernels("zrn", "z") + (
        Param(("bias",), (_blocks("b", "zrn", "z"), _blocks("b", "zr", "z", addend=True) + (Block("b_hn", "n"),))),
    ),
    "gru/reset_before": _kernels("zrn", "z") + (
        Param(("bias",), _blocks("b", "zr", "z") + (Block("b", "n", plus="b_hn"),)),
    ),
}

PORTING = {  # what the porting guide (nnspec/conformance/porting.py) says about Keras besides LAYOUTS
    "framework": "keras",
    "layers": {"rnn": "keras.layers.SimpleRNN / SimpleRNNCell", "lstm": "keras.layers.LSTM / LSTMCell",
               "gru": "keras.layers.GRU / GRUCell"},
    "gru_forms": ("reset_after", "reset_before"),
    "names": "each layer's cell variables `cell.kernel`, `cell.recurrent_kernel`, `cell.bias` (`layer.get_weights()` "
             "lists them in that order); one layer per stacked layer (`return_sequences=True` below the top), "
             "`keras.layers.Bidirectional(layer, merge_mode=\"concat\")` holding `forward_layer` and "
             "`backward_layer` for two directions",
    "states": "`initial_state=[h, c]` per direction, forward first, each (B, H); inputs batch-major (B, T, I)",
}


def layout(kind, reset_after):
    return LAYOUTS["gru/reset_before"] if kind == "gru" and not reset_after else LAYOUTS[kind]


class _TfOps:
    concat = staticmethod(lambda pieces: tf.concat(pieces, axis=0))
    stack = staticmethod(tf.stack)
    transpose = staticmethod(tf.transpose)
    negative_zeros = staticmethod(lambda like: tf.fill(tf.shape(like), tf.constant(-0.0, like.dtype)))


def _kind(op):
    return op.split("_")[0]


class Recurrent:
    NATIVE_DEFAULTS = {
        "gru_cell": {"reset_after": (keras.layers.GRUCell.__init__, "reset_after", same)},
        "rnn": {"return_sequences": (keras.layers.SimpleRNN.__init__, "return_sequences", same)},
        "lstm": {"return_sequences": (keras.layers.LSTM.__init__, "return_sequences", same)},
        "gru": {"return_sequences": (keras.layers.GRU.__init__, "return_sequences", same),
                "reset_after": (keras.layers.GRU.__init__, "reset_after", same)},
    }
    # measured on TF 2.21 / Keras 3.15: tf.compat.v1.nn.rnn_cell.LSTMCell(use_peepholes=True) raises AttributeError
    # "`LSTMCell` is not available with Keras 3", and keras.layers.LSTMCell has no peephole option
    UNSUPPORTED = {"lstm_peephole_cell": "keras.layers.LSTMCell has no peepholes; tf.compat.v1's "
                                         "LSTMCell(use_peepholes=True) is not available with Keras 3"}

    # ops ---------------------------------------------------------------------------

    def rnn_cell(self, x, h, w_ih, w_hh, b):
        return self._cell("rnn", x, (h,), dict(w_ih=w_ih, w_hh=w_hh, b=b), False)

    def lstm_cell(self, x, h, c, w_ih, w_hh, b):
        return self._cell("lstm", x, (h, c), dict(w_ih=w_ih, w_hh=w_hh, b=b), False)

    def gru_cell(self, x, h, w_ih, w_hh, b, b_hn, reset_after):
        return self._cell("gru", x, (h,), dict(w_ih=w_ih, w_hh=w_hh, b=b, b_hn=b_hn), reset_after)

    def rnn(self, x, h0, w_ih, w_hh, b, batch_first, return_sequences):
        return self._sequence("rnn", x, (h0,), dict(w_ih=w_ih, w_hh=w_hh, b=b), False, batch_first,
                              return_sequences)

    def lstm(self, x, h0, c0, w_ih, w_hh, b, batch_first, return_sequences):
        return self._sequence("lstm", x, (h0, c0), dict(w_ih=w_ih, w_hh=w_hh, b=b), False, batch_first,
                              return_sequences)

    def gru(self, x, h0, w_ih, w_hh, b, b_hn, reset_after, batch_first, return_sequences):
        return self._sequence("gru", x, (h0,), dict(w_ih=w_ih, w_hh=w_hh, b=b, b_hn=b_hn), reset_after,
                              batch_first, return_sequences)

    # the native layers ---------------------------------------------------------------

    def _cell(self, kind, x, states, weights, reset_after):
        cell = self._keras(kind, None, x.shape[-1], weights["w_hh"].shape[-1], x.dtype.name, reset_after)
        values = _values(cell, {(id(cell), k): t for k, t in self._native(kind, weights, reset_after).items()}, [cell])
        (h, new_states), _ = cell.stateless_call(values, _non_trainable(cell), x, list(states))
        return (h, new_states[1]) if kind == "lstm" else h

    def _sequence(self, kind, x, states, weights, reset_after, batch_first, return_sequences):
        L, D, B, H = states[0].shape
        layers = self._keras(kind, (L, D, return_sequences), x.shape[-1], H, x.dtype.name, reset_after)
        y = x if batch_first else tf.transpose(x, (1, 0, 2))  # Keras 3 layers are batch-major
        finals = []
        for layer_index, layer in enumerate(layers):
            rnns = _directions(layer)
            native = {}
            for d, rnn in enumerate(rnns):
                one = {name: w[layer_index, d] for name, w in weights.items()}
                native.update({(id(rnn.cell), k): t for k, t in self._native(kind, one, reset_after).items()})
            initial = [s[layer_index, d] for d in range(D) for s in states]
            y, *final = self._traced(layer)(_values(layer, native, [r.cell for r in rnns]), _non_trainable(layer), y,
                                            initial_state=initial)[0]
            finals.append(final)
        n = len(states)  # final: (h, c) per direction, forward first
        final_states = tuple(tf.reshape(tf.stack([f[d * n + k] for f in finals for d in range(D)]), (L, D, B, H))
                             for k in range(n))
        if return_sequences and not batch_first:
            y = tf.transpose(y, (1, 0, 2))
        return (y, *final_states)

    def _keras(self, kind, stack, input_size, hidden_size, dtype, reset_after):
        """The built Keras cell, or list of layers (one per stacked layer), cached per structure."""
        cache = self.__dict__.setdefault("_recurrent_layers", {})
        key = (kind, stack, input_size, hidden_size, dtype, reset_after)
        if key not in cache:
            cache[key] = _new_keras(*key)
        return cache[key]

    def _traced(self, layer):
        """layer.stateless_call as a tf.function, as Keras itself runs layers in fit/predict: eager TF
        would step through the time loop in Python (seconds for 200 steps)."""
        traced = self.__dict__.setdefault("_recurrent_traced", {})
        if id(layer) not in traced:
            traced[id(layer)] = tf.function(layer.stateless_call, autograph=False)
        return traced[id(layer)]

    # layout ---------------------------------------------------------------------------

    def _native(self, kind, weights, reset_after, ops=_TfOps):
        return assemble(kind, layout(kind, reset_after), weights, ops)

    def to_native_layout(self, op, weights, params):
        if op not in OPS:
            return super().to_native_layout(op, weights, params)
        kind, reset_after = _kind(op), params.get("reset_after", False)
        w_hh = weights["w_hh"]
        stack = None if op.endswith("_cell") else (*w_hh.shape[:2], True)
        # The cached layers: assign overwrites every variable, and the ops pass their own values anyway.
        built = self._keras(kind, stack, weights["w_ih"].shape[-1], w_hh.shape[-1], w_hh.dtype.name, reset_after)
        for cell, one in _cells_and_weights(built, weights):
            # The tables' values made in NumPy: TF's own + would flush a subnormal b_n + (−0) to zero.
            for path, array in self._native(kind, one, reset_after, NumpyOps).items():
                _variable(cell, path).assign(array)  # Keras checks the shape
        return built

    def from_native_layout(self, op, native, params):
        if op not in OPS:
            return super().from_native_layout(op, native, params)
        kind, reset_after = _kind(op), params.get("reset_after", False)
        per = {}
        for (layer, d), cell in _indexed_cells(native):
            arrays = {p.path: np.asarray(_variable(cell, p.path).numpy()) for p in layout(kind, reset_after)}
            per[(layer, d)] = disassemble(kind, layout(kind, reset_after), arrays, cell.units)
        if op.endswith("_cell"):
            return per[(0, 0)]
        L, D = max(k[0] for k in per) + 1, max(k[1] for k in per) + 1
        return {name: np.stack([np.stack([per[(layer, d)][name] for d in range(D)]) for layer in range(L)])
                for name in per[(0, 0)]}


def _new_keras(kind, stack, input_size, hidden_size, dtype, reset_after):
    options = dict(ZEROS, dtype=dtype, **({"reset_after": reset_after} if kind == "gru" else {}))
    if stack is None:
        cell = CELLS[kind](hidden_size, **options)
        cell.build((None, input_size))
        return cell
    L, D, return_sequences = stack
    layers = []
    for layer_index in range(L):
        last = layer_index == L - 1
        layer = LAYERS[kind](hidden_size, return_sequences=return_sequences or not last, return_state=True, **options)
        if D == 2:
            layer = keras.layers.Bidirectional(layer, merge_mode="concat", dtype=dtype)  # else it computes in float32
        layer.build((None, None, input_size if layer_index == 0 else D * hidden_size))
        layers.append(layer)
    return layers


def _directions(layer):
    return [layer.forward_layer, layer.backward_layer] if isinstance(layer, keras.layers.Bidirectional) else [layer]


def _indexed_cells(built):
    if not isinstance(built, list):
        return [((0, 0), built)]
    return [((index, d), rnn.cell) for index, layer in enumerate(built) for d, rnn in enumerate(_directions(layer))]


def _cells_and_weights(built, weights):
    if not isinstance(built, list):
        return [(built, weights)]
    return [(cell, {k: w[l, d] for k, w in weights.items()}) for (l, d), cell in _indexed_cells(built)]


def _variable(cell, path):
    (name,) = path
    return {"kernel": cell.kernel, "recurrent_kernel": cell.recurrent_kernel, "bias": cell.bias}[name]


def _values(layer, native, cells):
    """The tensors for ``layer.trainable_variables``, in its order, from {(id(cell), path): tensor}."""
    owner = {id(_variable(cell, (name,))): (id(cell), (name,)) for cell in cells
             for name in ("kernel", "recurrent_kernel", "bias")}
    return [native[owner[id(v)]] for v in layer.trainable_variables]


def _non_trainable(layer):
    return [v.value for v in layer.non_trainable_variables]
