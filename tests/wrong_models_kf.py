"""Deliberately wrong Keras/flax model adapters: each must be caught by the models checks, at its layer."""

from __future__ import annotations

import tensorflow as tf

from nnspec.backends.tensorflow import TensorflowBackend


class KerasTransposedKernel(TensorflowBackend):
    """conv2's Keras kernel loaded with its two spatial axes swapped (HWIO read as WHIO): a port's classic slip."""

    name = "wrong-keras-transposed-kernel"

    def _to_native(self, model_id, W):
        P, S = super()._to_native(model_id, W)
        if "conv2/kernel" in P:
            P["conv2/kernel"] = tf.transpose(P["conv2/kernel"], (1, 0, 2, 3))
        return P, S
