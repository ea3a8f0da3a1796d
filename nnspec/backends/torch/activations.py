"""Torch adapter, activations: torch.nn.functional activations."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...spec.activations import SELU_ALPHA, SELU_SCALE
from ..binding import bind


class Activations:
    # selu's α and λ are constants of the framework's kernel, the paper's: no option to pass
    FIXED = {"selu": {"alpha": (F.selu, SELU_ALPHA), "scale": (F.selu, SELU_SCALE)}}
    BINDINGS = {
        "linear": bind(torch.nn.Identity()),
        "sigmoid": bind(torch.sigmoid),
        "tanh": bind(torch.tanh),
        "relu": bind(F.relu),
        "leaky_relu": bind(F.leaky_relu, alpha="negative_slope"),
        "swish": bind(F.silu),
        "gelu": bind(F.gelu),
        "softmax": bind(F.softmax, axis="dim"),
        "log_softmax": bind(F.log_softmax, axis="dim"),
        "softplus": bind(F.softplus),
        "elu": bind(F.elu),
        "selu": bind(F.selu),
        "softsign": bind(F.softsign),
        "mish": bind(F.mish),
        "celu": bind(F.celu),
        "relu6": bind(F.relu6),
        "hard_sigmoid": bind(F.hardsigmoid),
        "hard_swish": bind(F.hardswish),
        "prelu": bind(F.prelu),
    }
