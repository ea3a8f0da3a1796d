"""Jax adapter, activations: jax.nn activations."""

from __future__ import annotations

import jax

from ..base import same

GELU_APPROXIMATE = {"none": False, "tanh": True}


def gelu_approximate(flag):
    """jax.nn.gelu's ``approximate`` bool in spec vocabulary."""
    return "tanh" if flag else "none"



class Activations:
    NATIVE_DEFAULTS = {
        "leaky_relu": {"alpha": (jax.nn.leaky_relu, "negative_slope", same)},
        "gelu": {"approximate": (jax.nn.gelu, "approximate", gelu_approximate)},
        "softmax": {"axis": (jax.nn.softmax, "axis", same)},
        "log_softmax": {"axis": (jax.nn.log_softmax, "axis", same)},
        "elu": {"alpha": (jax.nn.elu, "alpha", same)},
    }


    def linear(self, x):
        return jax.nn.identity(x)

    def sigmoid(self, x):
        return jax.nn.sigmoid(x)

    def tanh(self, x):
        return jax.nn.tanh(x)

    def relu(self, x):
        return jax.nn.relu(x)

    def leaky_relu(self, x, alpha):
        return jax.nn.leaky_relu(x, negative_slope=alpha)

    def swish(self, x):
        return jax.nn.silu(x)

    def gelu(self, x, approximate):
        return jax.nn.gelu(x, approximate=GELU_APPROXIMATE[approximate])

    def softmax(self, x, axis):
        return jax.nn.softmax(x, axis=axis)

    def log_softmax(self, x, axis):
        return jax.nn.log_softmax(x, axis=axis)

    def softplus(self, x):
        return jax.nn.softplus(x)

    def elu(self, x, alpha):
        return jax.nn.elu(x, alpha=alpha)

    def selu(self, x):
        return jax.nn.selu(x)
