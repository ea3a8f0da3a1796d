"""Numpy adapter, layers: the spec's dense, convolution, pooling and flatten in the input's dtype.

The baseline's native layout is the spec's canonical one (NCHW images, OIHW kernels, (out, in)
dense weights): the layout mapping is a copy.
"""

from __future__ import annotations

import numpy as np

from ...spec import layers as L
from .formulas import spec_binding

OPS = ("dense", "conv1d", "conv2d", "conv2d_transpose")


class Layers:
    BINDINGS = {op: spec_binding(getattr(L, op)) for op in (
        "dense", "conv1d", "conv2d", "conv2d_transpose", "max_pool2d", "avg_pool2d", "global_avg_pool2d", "global_max_pool2d", "flatten")}

    def to_native_layout(self, op, weights, params):
        if op not in OPS:
            return super().to_native_layout(op, weights, params)
        return {name: np.array(w, copy=True) for name, w in weights.items()}

    def from_native_layout(self, op, native, params):
        if op not in OPS:
            return super().from_native_layout(op, native, params)
        return {name: np.array(w, copy=True) for name, w in native.items()}
