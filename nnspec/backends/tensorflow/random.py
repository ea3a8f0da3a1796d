"""Tensorflow adapter, random: keras.layers.Dropout, keras.initializers' initializers, and freshly built
keras Dense, Conv2D, LSTM and Embedding layers (their weights as Keras initializes them).

Keras stores kernels (in, out) and HWIO (fan_in = in·receptive, fan_out = out·receptive: the spec's fans):
the adapter asks for the spec's (out, in, *receptive) shape in Keras' order and moves the sample back to the
spec's. Initializers and the dropout layer take ``seed=``; the layers' own initializers are unseeded and
draw from Keras' global seed, set by ``keras.utils.set_random_seed(seed)`` before each build.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ..binding import same
from ..declared import unsupported


def keras_order(shape) -> tuple[int, ...]:
    """The axes of a spec kernel (out, in, *receptive) in Keras' (*receptive, in, out) order."""
    return (*range(2, len(shape)), 1, 0)


def _to_spec(native, shape):
    return tf.transpose(native, np.argsort(keras_order(shape)))


def _init(cls, shape, seed, dtype, **params):
    native_shape = tuple(int(shape[a]) for a in keras_order(shape))
    return _to_spec(cls(seed=seed, **params)(native_shape, dtype=dtype), shape)


def _tensor(variable):
    return keras.ops.convert_to_tensor(variable)


QR = "tf.linalg.qr (behind keras.initializers.Orthogonal, the LSTM's recurrent kernel) has no bfloat16 kernel"


class Random:
    UNSUPPORTED = {"orthogonal": unsupported(QR, dtypes="bfloat16"), "lstm_init": unsupported(QR, dtypes="bfloat16")}
    NATIVE_DEFAULTS = {"orthogonal": {"gain": (keras.initializers.Orthogonal, "gain", same)}}
    # keras.layers.Dropout's rate has no default (a required argument), nor has its call's training

    def dropout(self, x, seed, rate, training):
        return keras.layers.Dropout(rate=rate, seed=seed, dtype=x.dtype.name)(x, training=training)

    def glorot_uniform(self, shape, seed, dtype):
        return _init(keras.initializers.GlorotUniform, shape, seed, dtype)

    def glorot_normal(self, shape, seed, dtype):
        return _init(keras.initializers.GlorotNormal, shape, seed, dtype)

    def he_uniform(self, shape, seed, dtype):
        return _init(keras.initializers.HeUniform, shape, seed, dtype)

    def he_normal(self, shape, seed, dtype):
        return _init(keras.initializers.HeNormal, shape, seed, dtype)

    def lecun_normal(self, shape, seed, dtype):
        return _init(keras.initializers.LecunNormal, shape, seed, dtype)

    def orthogonal(self, shape, seed, dtype, gain):
        return _init(keras.initializers.Orthogonal, shape, seed, dtype, gain=gain)

    # each layer as built, with its own default initializers

    def dense_init(self, shape, seed, dtype):
        keras.utils.set_random_seed(seed)
        layer = keras.layers.Dense(shape[0], dtype=dtype)
        layer.build((None, shape[1]))
        return (_to_spec(_tensor(layer.kernel), shape),)

    def conv2d_init(self, shape, seed, dtype):
        keras.utils.set_random_seed(seed)
        layer = keras.layers.Conv2D(shape[0], tuple(shape[2:]), dtype=dtype)
        layer.build((None, 8, 8, shape[1]))
        return (_to_spec(_tensor(layer.kernel), shape),)

    def embedding_init(self, shape, seed, dtype):
        keras.utils.set_random_seed(seed)
        layer = keras.layers.Embedding(shape[0], shape[1], dtype=dtype)
        layer.build((None,))
        return (_tensor(layer.embeddings),)

    def lstm_init(self, shape, seed, dtype):
        keras.utils.set_random_seed(seed)
        layer = keras.layers.LSTM(shape[0], dtype=dtype)
        layer.build((None, 3, shape[1]))
        return tf.transpose(_tensor(layer.cell.kernel)), tf.transpose(_tensor(layer.cell.recurrent_kernel))
