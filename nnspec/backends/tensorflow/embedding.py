"""Tensorflow adapter, embedding: keras.layers.Embedding by ``stateless_call`` (its call is
``keras.ops.take(embeddings, indices, axis=0)``), the table as its ``embeddings`` variable.

Keras has no padding index (``mask_zero`` masks index 0 for the layers after it; row 0 still gets its
gradient): ``padding_idx`` is fixed at None. The gradient TensorFlow's tape returns for a gather is an
``IndexedSlices`` (one slice per looked-up position, repeats not yet summed); the tape's plumbing
(``TensorflowBackend.grad``) densifies it with TensorFlow's own conversion, as an optimizer's dense
update would.
"""

from __future__ import annotations

import keras


class Embedding:
    FIXED = {"embedding": {"padding_idx": (keras.layers.Embedding, None)}}

    def embedding(self, table, indices, padding_idx):
        layer = self._embedding_layer(tuple(table.shape), table.dtype)
        y, _ = layer.stateless_call([table], [], indices)
        return y

    def _embedding_layer(self, shape, dtype):
        def make():
            layer = keras.layers.Embedding(shape[0], shape[1], dtype=dtype.name)
            layer.build(None)
            return layer

        return self._keras_cache(("embedding", shape, dtype.name), make)
