"""Numpy adapter, recurrent: the spec's RNN, LSTM and GRU in the input's dtype.

The baseline's native layout is the spec's canonical one: the mapping is a copy.
"""

from __future__ import annotations

import numpy as np

from ...spec import recurrent as R
from .formulas import in_dtype

OPS = ("rnn_cell", "lstm_cell", "gru_cell", "rnn", "lstm", "gru")


class Recurrent:

    def rnn_cell(self, x, h, w_ih, w_hh, b):
        return in_dtype(R.rnn_cell, x, h, w_ih, w_hh, b)

    def lstm_cell(self, x, h, c, w_ih, w_hh, b):
        return in_dtype(R.lstm_cell, x, h, c, w_ih, w_hh, b)

    def lstm_peephole_cell(self, x, h, c, w_ih, w_hh, b, w_peep):
        return in_dtype(R.lstm_peephole_cell, x, h, c, w_ih, w_hh, b, w_peep)

    def gru_cell(self, x, h, w_ih, w_hh, b, b_hn, reset_after):
        return in_dtype(R.gru_cell, x, h, w_ih, w_hh, b, b_hn, reset_after=reset_after)

    def rnn(self, x, h0, w_ih, w_hh, b, batch_first, return_sequences):
        return in_dtype(R.rnn, x, h0, w_ih, w_hh, b, batch_first=batch_first, return_sequences=return_sequences)

    def lstm(self, x, h0, c0, w_ih, w_hh, b, batch_first, return_sequences):
        return in_dtype(R.lstm, x, h0, c0, w_ih, w_hh, b, batch_first=batch_first, return_sequences=return_sequences)

    def gru(self, x, h0, w_ih, w_hh, b, b_hn, reset_after, batch_first, return_sequences):
        return in_dtype(R.gru, x, h0, w_ih, w_hh, b, b_hn, reset_after=reset_after, batch_first=batch_first,
                        return_sequences=return_sequences)

    def to_native_layout(self, op, weights, params):
        if op not in OPS:
            return super().to_native_layout(op, weights, params)
        return {name: np.array(w, copy=True) for name, w in weights.items()}

    def from_native_layout(self, op, native, params):
        if op not in OPS:
            return super().from_native_layout(op, native, params)
        return {name: np.array(w, copy=True) for name, w in native.items()}
