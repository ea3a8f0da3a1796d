"""Numpy adapter, activations: The spec's activation formulas in the input's dtype."""

from __future__ import annotations

from ...spec import activations as A
from .formulas import spec_binding


class Activations:
    BINDINGS = {
        "linear": spec_binding(A.linear),
        "sigmoid": spec_binding(A.sigmoid),
        "tanh": spec_binding(A.tanh),
        "relu": spec_binding(A.relu),
        "leaky_relu": spec_binding(A.leaky_relu),
        "swish": spec_binding(A.swish),
        "gelu": spec_binding(A.gelu),
        "softmax": spec_binding(A.softmax),
        "log_softmax": spec_binding(A.log_softmax),
        "softplus": spec_binding(A.softplus),
        "elu": spec_binding(A.elu),
        "selu": spec_binding(A.selu),
        "softsign": spec_binding(A.softsign),
        "mish": spec_binding(A.mish),
        "celu": spec_binding(A.celu),
        "relu6": spec_binding(A.relu6),
        "hard_sigmoid": spec_binding(A.hard_sigmoid),
        "hard_swish": spec_binding(A.hard_swish),
        "prelu": spec_binding(A.prelu),
    }
