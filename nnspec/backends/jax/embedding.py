"""Jax adapter, embedding: flax.linen.Embed (its call is ``jnp.take(embedding, indices, axis=0)``), the table
as its ``embedding`` parameter.

flax has no padding index: ``padding_idx`` is fixed at None.
"""

from __future__ import annotations

import flax.linen as nn


class Embedding:
    FIXED = {"embedding": {"padding_idx": (nn.Embed, None)}}

    def embedding(self, table, indices, padding_idx):
        module = nn.Embed(num_embeddings=table.shape[0], features=table.shape[1], dtype=table.dtype,
                          param_dtype=table.dtype)
        return module.apply({"params": {"embedding": table}}, indices)
