"""Torch adapter, embedding: F.embedding (what nn.Embedding calls), the table as its ``weight``.

``padding_idx`` is torch's own (that row gets no gradient); ``max_norm=None`` is passed explicitly: a max
norm renormalises the looked-up rows of the table *in place*, which the spec does not state.
"""

from __future__ import annotations

import torch.nn.functional as F

from ..binding import same


class Embedding:
    NATIVE_DEFAULTS = {"embedding": {"padding_idx": (F.embedding, "padding_idx", same)}}

    def embedding(self, table, indices, padding_idx):
        return F.embedding(indices, table, padding_idx=padding_idx, max_norm=None)
