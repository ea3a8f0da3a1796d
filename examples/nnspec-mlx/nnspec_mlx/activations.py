"""MLX adapter, activations: mlx.nn's activation functions and mlx.core's elementwise ops, one call each."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from nnspec.backends.binding import bind
from nnspec.spec.activations import SELU_ALPHA, SELU_SCALE


class Activations:
    # nn.selu's α and λ are constants of its body (the paper's): no option to pass
    FIXED = {"selu": {"alpha": (nn.selu, SELU_ALPHA), "scale": (nn.selu, SELU_SCALE)}}
    BINDINGS = {
        "linear": bind(nn.Identity()),
        "sigmoid": bind(mx.sigmoid),
        "tanh": bind(mx.tanh),
        "relu": bind(nn.relu),
        "leaky_relu": bind(nn.leaky_relu, alpha="negative_slope"),
        "swish": bind(nn.silu),
        "softmax": bind(mx.softmax),  # mx.softmax(a, axis=None): its default is every axis
        "log_softmax": bind(nn.log_softmax),
        "softplus": bind(nn.softplus),
        "elu": bind(nn.elu),
        "selu": bind(nn.selu),
        "softsign": bind(nn.softsign),
        "mish": bind(nn.mish),
        "celu": bind(nn.celu),
        "relu6": bind(nn.relu6),
        "hard_swish": bind(nn.hardswish),
    }
    UNSUPPORTED = {
        "hard_sigmoid": "mlx.nn has no hard sigmoid (it has hard_tanh, a different function)",
    }

    def gelu(self, x, approximate):
        # MLX has no approximate= option: two functions, nn.gelu (erf) and nn.gelu_approx (the tanh form)
        return {"none": nn.gelu, "tanh": nn.gelu_approx}[approximate](x)

    def prelu(self, x, weight):
        # nn.prelu broadcasts its slope against x (MLX is channels-last); the spec's channels are x's axis 1,
        # so the (C,) slope is shaped (C, 1, ...) to broadcast there: a layout, the formula is nn.prelu's.
        return nn.prelu(x, weight.reshape(weight.shape + (1,) * (x.ndim - 2)))
