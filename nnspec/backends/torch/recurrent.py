"""Torch adapter, recurrent: torch.nn.RNN/LSTM/GRU and their cells, run by torch.func.functional_call.

The canonical weights are mapped into torch's parameters (``LAYOUTS``) with torch ops,
so that autograd differentiates through the mapping back to them. torch has two biases
per gate (bias_ih + bias_hh; the canonical bias goes to bias_ih, bias_hh is −0) except
the GRU candidate's recurrent bias, which r multiplies: that is b_hn. torch's GRU keeps
the old state with z (h' = (1 − z)·n + z·h): its z rows are the canonical ones negated.
torch.nn.GRU exists only in the reset-after form: the adapter declares reset_after
fixed (``FIXED``): the engine draws no other value, and the defaults table says so.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.func import functional_call

from ..base import same
from ...spec.recurrent import NumpyOps, Block, Param, assemble, disassemble

OPS = ("rnn_cell", "lstm_cell", "gru_cell", "rnn", "lstm", "gru")
CELLS = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
LAYERS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def _blocks(source, gates, mirrored=(), addend=False):
    return tuple(Block(source, g, -1 if g in mirrored else 1, addend) for g in gates)


LAYOUTS = {
    "rnn": (
        Param(("weight_ih",), _blocks("w_ih", "h")),
        Param(("weight_hh",), _blocks("w_hh", "h")),
        Param(("bias_ih",), _blocks("b", "h")),
        Param(("bias_hh",), _blocks("b", "h", addend=True)),
    ),
    "lstm": (
        Param(("weight_ih",), _blocks("w_ih", "ifgo")),
        Param(("weight_hh",), _blocks("w_hh", "ifgo")),
        Param(("bias_ih",), _blocks("b", "ifgo")),
        Param(("bias_hh",), _blocks("b", "ifgo", addend=True)),
    ),
    "gru": (
        Param(("weight_ih",), _blocks("w_ih", "rzn", "z")),
        Param(("weight_hh",), _blocks("w_hh", "rzn", "z")),
        Param(("bias_ih",), _blocks("b", "rzn", "z")),
        Param(("bias_hh",), _blocks("b", "rz", "z", addend=True) + (Block("b_hn", "n"),)),
    ),
}
LAYER_NAMES = "_l{layer}{reverse}"  # torch's suffix of each stacked layer and direction
PORTING = {  # what the porting guide (nnspec/conformance/porting.py) says about torch besides LAYOUTS
    "framework": "torch",
    "layers": {"rnn": "torch.nn.RNN / torch.nn.RNNCell", "lstm": "torch.nn.LSTM / torch.nn.LSTMCell",
               "gru": "torch.nn.GRU / torch.nn.GRUCell"},
    "gru_forms": ("reset_after",),
    "names": "module parameters `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}` of layer k, "
             "with `_reverse` appended for the backward direction (`num_layers=L, bidirectional=True`); a cell's "
             "are `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`",
    "states": "h0, c0 of shape (L·D, B, H), layer-major (`h0[2k + d]`); `(h, c)` for the LSTM",
}


def layout(kind, reset_after):
    """torch's parameters of ``kind``; its GRU has the reset-after form only."""
    return LAYOUTS[kind]


class _TorchOps:
    concat = staticmethod(lambda pieces: torch.cat(pieces, dim=0))
    stack = staticmethod(torch.stack)
    transpose = staticmethod(lambda a: a.T)
    negative_zeros = staticmethod(lambda like: torch.full_like(like, -0.0))


def _kind(op):
    return op.split("_")[0]


def _suffix(layer, direction):
    return LAYER_NAMES.format(layer=layer, reverse="_reverse" if direction else "")


class Recurrent:
    NATIVE_DEFAULTS = {
        op: {"batch_first": (torch.nn.RNNBase.__init__, "batch_first", same)} for op in ("rnn", "lstm", "gru")
    }
    # torch.nn.GRU/GRUCell reset after the recurrent product only: the spec's (Cho et al.'s) default is before
    FIXED = {"gru": {"reset_after": (torch.nn.GRU, True)}, "gru_cell": {"reset_after": (torch.nn.GRUCell, True)}}
    # measured on torch 2.13: LSTMCell(input_size, hidden_size, bias) and RNNBase's num_layers, bias, batch_first,
    # dropout, bidirectional, proj_size: no peephole weights anywhere
    UNSUPPORTED = {"lstm_peephole_cell": "torch.nn.LSTM/LSTMCell have no peephole connections"}

    # ops ---------------------------------------------------------------------------

    def rnn_cell(self, x, h, w_ih, w_hh, b):
        return self._cell("rnn", x, (h,), dict(w_ih=w_ih, w_hh=w_hh, b=b))

    def lstm_cell(self, x, h, c, w_ih, w_hh, b):
        return self._cell("lstm", x, (h, c), dict(w_ih=w_ih, w_hh=w_hh, b=b))

    def gru_cell(self, x, h, w_ih, w_hh, b, b_hn, reset_after):
        return self._cell("gru", x, (h,), dict(w_ih=w_ih, w_hh=w_hh, b=b, b_hn=b_hn))

    def rnn(self, x, h0, w_ih, w_hh, b, batch_first, return_sequences):
        return self._sequence("rnn", x, (h0,), dict(w_ih=w_ih, w_hh=w_hh, b=b), batch_first, return_sequences)

    def lstm(self, x, h0, c0, w_ih, w_hh, b, batch_first, return_sequences):
        return self._sequence("lstm", x, (h0, c0), dict(w_ih=w_ih, w_hh=w_hh, b=b), batch_first, return_sequences)

    def gru(self, x, h0, w_ih, w_hh, b, b_hn, reset_after, batch_first, return_sequences):
        return self._sequence("gru", x, (h0,), dict(w_ih=w_ih, w_hh=w_hh, b=b, b_hn=b_hn), batch_first,
                              return_sequences)

    # the native layers ---------------------------------------------------------------

    def _cell(self, kind, x, states, weights):
        module = self._module(kind, None, x.shape[-1], weights["w_hh"].shape[-1], x.dtype, x.device)
        native_states = states if kind == "lstm" else states[0]
        out = functional_call(module, self._native(kind, weights, cell=True), (x, native_states))
        return out if kind != "lstm" else tuple(out)

    def _sequence(self, kind, x, states, weights, batch_first, return_sequences):
        L, D, B, H = states[0].shape
        module = self._module(kind, (L, D, batch_first), x.shape[-1], H, x.dtype, x.device)
        native_states = tuple(s.reshape(L * D, B, H) for s in states)  # torch: (layer·direction, batch, hidden)
        native_states = native_states if kind == "lstm" else native_states[0]
        y, final = functional_call(module, self._native(kind, weights), (x, native_states))
        final = tuple(s.reshape(L, D, B, H) for s in (final if kind == "lstm" else (final,)))
        if not return_sequences:  # torch has no such switch: the last layer's final states, as the spec says
            y = torch.cat(tuple(final[0][-1]), dim=-1)
        return (y, *final)

    def _module(self, kind, stack, input_size, hidden_size, dtype, device):
        """The torch module, cached per structure (its own initial weights are never used)."""
        cache = self.__dict__.setdefault("_recurrent_modules", {})
        key = (kind, stack, input_size, hidden_size, dtype, device)
        if key not in cache:
            cache[key] = _new_module(*key)
        return cache[key]

    # layout ---------------------------------------------------------------------------

    def _native(self, kind, weights, cell=False, ops=_TorchOps):
        """torch's parameter dict from canonical weights (cells: unstacked; layers: (L, D, ...) stacked)."""
        if cell:
            return {path[0]: t for path, t in assemble(kind, LAYOUTS[kind], weights, ops).items()}
        L, D = weights["w_ih"].shape[:2]
        params = {}
        for layer in range(L):
            for d in range(D):
                one = {name: w[layer, d] for name, w in weights.items()}
                for path, tensor in assemble(kind, LAYOUTS[kind], one, ops).items():
                    params[path[0] + _suffix(layer, d)] = tensor
        return params

    def to_native_layout(self, op, weights, params):
        if op not in OPS:
            return super().to_native_layout(op, weights, params)
        kind, cell = _kind(op), op.endswith("_cell")
        # The tables' values made in NumPy (exact), then loaded: names and shapes must fit torch's own.
        state = {name: self.asarray(a, "cpu") for name, a in self._native(kind, weights, cell, ops=NumpyOps).items()}
        w_ih, w_hh = weights["w_ih"], state[next(iter(state))]
        stack = None if cell else (*weights["w_hh"].shape[:2], False)
        module = _new_module(kind, stack, w_ih.shape[-1], weights["w_hh"].shape[-1], w_hh.dtype, w_hh.device)
        module.load_state_dict(state, strict=True)
        return module

    def from_native_layout(self, op, native, params):
        if op not in OPS:
            return super().from_native_layout(op, native, params)
        kind = _kind(op)
        state = {name: self.to_numpy(t) for name, t in native.state_dict().items()}
        H = native.hidden_size
        if op.endswith("_cell"):
            return disassemble(kind, LAYOUTS[kind], {(name,): t for name, t in state.items()}, H)
        L, D = native.num_layers, 2 if native.bidirectional else 1
        per = [[disassemble(kind, LAYOUTS[kind], {p.path: state[p.path[0] + _suffix(layer, d)] for p in LAYOUTS[kind]},
                            H) for d in range(D)] for layer in range(L)]
        return {name: _stack(per, name) for name in per[0][0]}


def _new_module(kind, stack, input_size, hidden_size, dtype, device):
    if stack is None:
        return CELLS[kind](input_size, hidden_size, dtype=dtype, device=device)
    L, D, batch_first = stack
    return LAYERS[kind](input_size, hidden_size, num_layers=L, bidirectional=D == 2, batch_first=batch_first,
                        dtype=dtype, device=device)


def _stack(per, name):
    return np.stack([np.stack([one[name] for one in layer]) for layer in per])
