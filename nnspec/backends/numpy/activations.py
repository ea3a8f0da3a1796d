"""Numpy adapter, activations: The spec's activation formulas in the input's dtype."""

from __future__ import annotations

from ...spec import activations as A
from .formulas import in_dtype


class Activations:

    def linear(self, x):
        return in_dtype(A.linear, x)

    def sigmoid(self, x):
        return in_dtype(A.sigmoid, x)

    def tanh(self, x):
        return in_dtype(A.tanh, x)

    def relu(self, x):
        return in_dtype(A.relu, x)

    def leaky_relu(self, x, alpha):
        return in_dtype(A.leaky_relu, x, alpha=alpha)

    def swish(self, x):
        return in_dtype(A.swish, x)

    def gelu(self, x, approximate):
        return in_dtype(A.gelu, x, approximate=approximate)

    def softmax(self, x, axis):
        return in_dtype(A.softmax, x, axis=axis)

    def log_softmax(self, x, axis):
        return in_dtype(A.log_softmax, x, axis=axis)

    def softplus(self, x):
        return in_dtype(A.softplus, x)

    def elu(self, x, alpha):
        return in_dtype(A.elu, x, alpha=alpha)

    def selu(self, x):
        return in_dtype(A.selu, x)
