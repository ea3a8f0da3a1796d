"""Tensorflow adapter, activations: Keras 3 activations (keras.activations on the TensorFlow backend)."""

from __future__ import annotations

import keras
import tensorflow as tf

from ...spec.activations import SELU_ALPHA, SELU_SCALE
from ..binding import bind

GELU_APPROXIMATE = {"none": False, "tanh": True}  # spec vocabulary -> Keras' bool (and back, for its default)
A = keras.activations


class Activations:
    # selu's α and λ are constants of the framework's kernel, the paper's: no option to pass
    FIXED = {"selu": {"alpha": (A.selu, SELU_ALPHA), "scale": (A.selu, SELU_SCALE)}}
    BINDINGS = {
        "linear": bind(A.linear),
        "sigmoid": bind(A.sigmoid),
        "tanh": bind(A.tanh),
        "relu": bind(A.relu),
        "leaky_relu": bind(A.leaky_relu, alpha="negative_slope"),
        "swish": bind(A.silu),
        "gelu": bind(A.gelu, translate={"approximate": GELU_APPROXIMATE}),
        "softmax": bind(A.softmax),
        "log_softmax": bind(A.log_softmax),
        "softplus": bind(A.softplus),
        "elu": bind(A.elu),
        "selu": bind(A.selu),
        "softsign": bind(A.softsign),
        "mish": bind(A.mish),
        "celu": bind(A.celu),
        "relu6": bind(A.relu6),
        "hard_sigmoid": bind(A.hard_sigmoid),
        "hard_swish": bind(A.hard_silu),
    }

    def prelu(self, x, weight):
        # keras.layers.PReLU learns a slope per element unless axes are shared: all but the channel axis
        # (or all of them, for one slope), so that its alpha holds the spec's weight.
        shared = list(range(2 if weight.shape[0] > 1 else 1, len(x.shape)))
        layer = keras.layers.PReLU(shared_axes=shared or None, dtype=x.dtype.name)
        layer.build(tuple(x.shape))
        y, _ = layer.stateless_call([tf.reshape(weight, layer.alpha.shape)], [], x)  # (outputs, state)
        return y
