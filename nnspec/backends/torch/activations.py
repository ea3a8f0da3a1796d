"""Torch adapter, activations: torch.nn.functional activations."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..base import same


class Activations:
    NATIVE_DEFAULTS = {
        "leaky_relu": {"alpha": (F.leaky_relu, "negative_slope", same)},
        "gelu": {"approximate": (F.gelu, "approximate", same)},
        "softmax": {"axis": (F.softmax, "dim", same)},
        "log_softmax": {"axis": (F.log_softmax, "dim", same)},
        "elu": {"alpha": (F.elu, "alpha", same)},
    }


    def linear(self, x):
        return self._identity(x)

    def sigmoid(self, x):
        return torch.sigmoid(x)

    def tanh(self, x):
        return torch.tanh(x)

    def relu(self, x):
        return F.relu(x)

    def leaky_relu(self, x, alpha):
        return F.leaky_relu(x, negative_slope=alpha)

    def swish(self, x):
        return F.silu(x)

    def gelu(self, x, approximate):
        return F.gelu(x, approximate=approximate)

    def softmax(self, x, axis):
        return F.softmax(x, dim=axis)

    def log_softmax(self, x, axis):
        return F.log_softmax(x, dim=axis)

    def softplus(self, x):
        return F.softplus(x)

    def elu(self, x, alpha):
        return F.elu(x, alpha=alpha)

    def selu(self, x):
        return F.selu(x)
