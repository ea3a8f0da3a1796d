"""Jax adapter, activations: jax.nn activations."""

from __future__ import annotations

import flax.linen
import jax

from ...spec.activations import SELU_ALPHA, SELU_SCALE
from ..base import Unsupported
from ..binding import bind

GELU_APPROXIMATE = {"none": False, "tanh": True}  # spec vocabulary -> jax.nn.gelu's bool (and back, for its default)
nn = jax.nn


class Activations:
    # selu's α and λ are constants of the framework's kernel, the paper's: no option to pass
    FIXED = {"selu": {"alpha": (nn.selu, SELU_ALPHA), "scale": (nn.selu, SELU_SCALE)}}
    BINDINGS = {
        "linear": bind(nn.identity),
        "sigmoid": bind(nn.sigmoid),
        "tanh": bind(nn.tanh),
        "relu": bind(nn.relu),
        "leaky_relu": bind(nn.leaky_relu, alpha="negative_slope"),
        "swish": bind(nn.silu),
        "gelu": bind(nn.gelu, translate={"approximate": GELU_APPROXIMATE}),
        "softmax": bind(nn.softmax),
        "log_softmax": bind(nn.log_softmax),
        "softplus": bind(nn.softplus),
        "elu": bind(nn.elu),
        "selu": bind(nn.selu),
        "softsign": bind(nn.soft_sign),
        "mish": bind(nn.mish),
        "celu": bind(nn.celu),
        "relu6": bind(nn.relu6),
        "hard_sigmoid": bind(nn.hard_sigmoid),
        "hard_swish": bind(nn.hard_swish),
    }

    def prelu(self, x, weight):
        if weight.shape[0] != 1:  # jax.nn has no prelu; flax's module learns one scalar slope
            raise Unsupported("flax.linen.PReLU learns one slope for all channels, not one per channel")
        module = flax.linen.PReLU(param_dtype=x.dtype)
        return module.apply({"params": {"negative_slope": weight.reshape(())}}, x)
