"""Tensorflow adapter, activations: Keras 3 activations (keras.activations on the TensorFlow backend)."""

from __future__ import annotations

import keras

from ..base import same

GELU_APPROXIMATE = {"none": False, "tanh": True}


def gelu_approximate(flag):
    """Keras' ``approximate`` bool in spec vocabulary."""
    return "tanh" if flag else "none"



class Activations:
    NATIVE_DEFAULTS = {
        "leaky_relu": {"alpha": (keras.activations.leaky_relu, "negative_slope", same)},
        "gelu": {"approximate": (keras.activations.gelu, "approximate", gelu_approximate)},
        "softmax": {"axis": (keras.activations.softmax, "axis", same)},
        "log_softmax": {"axis": (keras.activations.log_softmax, "axis", same)},
        "elu": {"alpha": (keras.activations.elu, "alpha", same)},
    }


    def linear(self, x):
        return keras.activations.linear(x)

    def sigmoid(self, x):
        return keras.activations.sigmoid(x)

    def tanh(self, x):
        return keras.activations.tanh(x)

    def relu(self, x):
        return keras.activations.relu(x)

    def leaky_relu(self, x, alpha):
        return keras.activations.leaky_relu(x, negative_slope=alpha)

    def swish(self, x):
        return keras.activations.silu(x)

    def gelu(self, x, approximate):
        return keras.activations.gelu(x, approximate=GELU_APPROXIMATE[approximate])

    def softmax(self, x, axis):
        return keras.activations.softmax(x, axis=axis)

    def log_softmax(self, x, axis):
        return keras.activations.log_softmax(x, axis=axis)

    def softplus(self, x):
        return keras.activations.softplus(x)

    def elu(self, x, alpha):
        return keras.activations.elu(x, alpha=alpha)

    def selu(self, x):
        return keras.activations.selu(x)
