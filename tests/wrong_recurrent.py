"""Deliberately wrong recurrent adapters: each breaks one thing the engine must catch.

Weight-mapping bugs subclass the torch adapter (its layer is the one being fed wrongly);
formula bugs subclass the NumPy baseline; the one-way transpose subclasses the Keras
adapter, the one that transposes.
"""

from __future__ import annotations

import numpy as np
import torch

from nnspec.backends.numpy import NumpyBackend, in_dtype
from nnspec.backends.tensorflow import TensorflowBackend
from nnspec.backends.torch import TorchBackend
from nnspec.spec import recurrent as R


def _swap_gates(weights, kind, first, second):
    """The canonical weights with two gates' rows exchanged (leading layer/direction axes kept)."""
    gates = R.GATES[kind]
    swapped = {}
    for name, w in weights.items():
        if name == "b_hn":
            swapped[name] = w
            continue
        H = w.shape[-2] // len(gates) if w.ndim >= 2 and name != "b" else w.shape[-1] // len(gates)
        rows = [w[..., k * H:(k + 1) * H, :] if name != "b" else w[..., k * H:(k + 1) * H] for k in range(len(gates))]
        i, j = gates.index(first), gates.index(second)
        rows[i], rows[j] = rows[j], rows[i]
        swapped[name] = _cat(rows, axis=-2 if name != "b" else -1)
    return swapped


def _cat(pieces, axis):
    return torch.cat(pieces, dim=axis) if isinstance(pieces[0], torch.Tensor) else np.concatenate(pieces, axis=axis)


class SwappedGates(TorchBackend):
    """Builds torch's LSTM parameters with the input and forget gates swapped ((f, i, g, o) where torch
    reads (i, f, g, o)), and reads them back with the right table: forward and layout both fail."""

    name = "swapped-gates"

    def _native(self, kind, weights, cell=False, **ops):
        if kind == "lstm":
            weights = _swap_gates(weights, kind, "i", "f")
        return super()._native(kind, weights, cell, **ops)


class DroppedRecurrentBias(TorchBackend):
    """Writes torch's GRU bias_hh as zeros: the candidate's recurrent bias b_hn is lost."""

    name = "dropped-recurrent-bias"

    def _native(self, kind, weights, cell=False, **ops):
        native = super()._native(kind, weights, cell, **ops)
        if kind == "gru":
            native = {name: t * 0 if name.startswith("bias_hh") else t for name, t in native.items()}
        return native


class UnmirroredUpdateGate(TorchBackend):
    """Feeds the canonical z rows to torch's GRU unnegated: torch keeps the old state with z, so this
    computes h' = z·h + (1 − z)·n."""

    name = "unmirrored-update-gate"

    def _native(self, kind, weights, cell=False, **ops):
        if kind == "gru":
            H = weights["w_hh"].shape[-1]
            sign = np.ones(3 * H)
            sign[H:2 * H] = -1  # undo the adapter's flip of the z rows
            w = weights["w_ih"]
            flip = sign.astype(w.dtype) if isinstance(w, np.ndarray) else torch.as_tensor(sign, dtype=w.dtype)
            weights = {**weights, "w_ih": weights["w_ih"] * flip[:, None], "w_hh": weights["w_hh"] * flip[:, None],
                       "b": weights["b"] * flip}
        return super()._native(kind, weights, cell, **ops)


class AlwaysResetAfter(NumpyBackend):
    """A GRU that applies the reset gate after the recurrent product whatever it is asked (torch's and flax's form)."""

    name = "always-reset-after"

    def gru(self, x, h0, w_ih, w_hh, b, b_hn, reset_after, batch_first, return_sequences):
        return in_dtype(R.gru, x, h0, w_ih, w_hh, b, b_hn, reset_after=True, batch_first=batch_first,
                        return_sequences=return_sequences)

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        if op == "gru":
            params = {**params, "reset_after": True}
        return super().vjp(op, inputs, cotangent, params, wrt)


class KernelNotTransposedBack(TensorflowBackend):
    """Transposes the canonical weights into Keras' fan-in-first kernels, and reads them back untransposed."""

    name = "kernel-not-transposed-back"

    def from_native_layout(self, op, native, params):
        back = super().from_native_layout(op, native, params)
        return {name: np.swapaxes(w, -1, -2) if name in ("w_ih", "w_hh") else w for name, w in back.items()}


def _output_gate_on_the_old_state(x, h, c, w_ih, w_hh, b, w_peep):
    """The peephole LSTM with p_o ⊙ c (the OLD state) in the output gate, where the spec has p_o ⊙ c'."""
    x, h, c, w_ih, w_hh, b, w_peep = (np.asarray(a, np.float64) for a in (x, h, c, w_ih, w_hh, b, w_peep))
    H = h.shape[-1]
    a = x @ w_ih.T + h @ w_hh.T + b
    sigma = lambda v: 1 / (1 + np.exp(-v))
    i, f = sigma(a[:, :H] + w_peep[0] * c), sigma(a[:, H:2 * H] + w_peep[1] * c)
    c_new = f * c + i * np.tanh(a[:, 2 * H:3 * H])
    o = sigma(a[:, 3 * H:] + w_peep[2] * c)
    return o * np.tanh(c_new), c_new


class OutputGatePeeksAtOldState(NumpyBackend):
    """An LSTM with peepholes whose output gate looks at the cell state before the update."""

    name = "output-gate-peeks-at-old-state"

    def lstm_peephole_cell(self, x, h, c, w_ih, w_hh, b, w_peep):
        return tuple(out.astype(x.dtype) for out in _output_gate_on_the_old_state(x, h, c, w_ih, w_hh, b, w_peep))
