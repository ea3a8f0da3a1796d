"""MLX adapter, layers: mlx.nn's Linear, Conv1d and Conv2d modules, holding the spec's weights.

MLX is channels-last: images NHWC, signals NLC, kernels (O, KH, KW, C/groups) and (O, K, C/groups);
nn.Linear's weight is (out, in), the spec's. The op transposes x, the kernel and the output between
the layouts (a layout, not a formula: the sum is mx.conv1d/conv2d's, as the module calls it).
MLX's modules pad symmetrically by an int or a pair: the spec's 'same' (TensorFlow's pads, the
odd cell after) and unequal explicit pads are declared unsupported.
"""

from __future__ import annotations

import mlx.nn as nn
import numpy as np

from nnspec.backends import unsupported
from nnspec.backends.binding import same

SAME = "mlx.nn's convolutions have no 'same' padding (a symmetric int or pair only)"
FLOAT64 = "MLX's float64 convolution (CPU) raises 'unsupported data type' for a {} kernel"


def _unequal(padding):
    if isinstance(padding, str):
        return False
    pads = [padding] if np.ndim(padding) == 1 else list(padding)
    return any(before != after for before, after in pads)


def _native_padding(padding):
    """The spec's "valid" or symmetric explicit pads as the module's int (1-D) or pair (2-D)."""
    if padding == "valid":
        return 0
    if np.ndim(padding) == 1:
        return int(padding[0])
    return tuple(int(before) for before, _ in padding)


def _spec_padding(native):
    return "valid" if native in (0, (0, 0)) else native


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _linear(w, b):
    module = nn.Linear(w.shape[1], w.shape[0], bias=True)
    module.weight, module.bias = w, b
    return module


def _conv(op, w, b, stride, padding, dilation, groups):
    """The module of ``op`` holding the spec's kernel ``w`` (OIW / OIHW) in MLX's layout."""
    if op == "conv1d":
        O, Cg, K = w.shape
        module = nn.Conv1d(Cg * groups, O, K, stride=stride, padding=_native_padding(padding), dilation=dilation,
                           groups=groups, bias=True)
        module.weight = w.transpose(0, 2, 1)
    else:
        O, Cg, KH, KW = w.shape
        module = nn.Conv2d(Cg * groups, O, (KH, KW), stride=tuple(stride), padding=_native_padding(padding),
                           dilation=tuple(dilation), groups=groups, bias=True)
        module.weight = w.transpose(0, 2, 3, 1)
    module.bias = b
    return module


def _spec_kernel(op, module):
    return module.weight.transpose(0, 2, 1) if op == "conv1d" else module.weight.transpose(0, 3, 1, 2)


class Layers:
    NATIVE_DEFAULTS = {
        op: {"stride": (module, "stride", same if op == "conv1d" else _pair),
             "padding": (module, "padding", _spec_padding),
             "dilation": (module, "dilation", same if op == "conv1d" else _pair),
             "groups": (module, "groups", same)}
        for op, module in (("conv1d", nn.Conv1d.__init__), ("conv2d", nn.Conv2d.__init__))
    }
    UNSUPPORTED = {
        "conv1d": [unsupported(SAME, padding="same"), unsupported(SAME, padding=_unequal),
                   unsupported(FLOAT64.format("dilated"), dtypes="float64", dilation=lambda d: d != 1)],
        "conv2d": [unsupported(SAME, padding="same"), unsupported(SAME, padding=_unequal),
                   unsupported(FLOAT64.format("dilated or grouped"), dtypes="float64",
                               where=lambda p: tuple(p["dilation"]) != (1, 1) or p["groups"] != 1)],
    }

    def dense(self, x, w, b):
        return _linear(w, b)(x)

    def conv1d(self, x, w, b, stride, padding, dilation, groups):
        module = _conv("conv1d", w, b, stride, padding, dilation, groups)
        return module(x.transpose(0, 2, 1)).transpose(0, 2, 1)

    def conv2d(self, x, w, b, stride, padding, dilation, groups):
        module = _conv("conv2d", w, b, stride, padding, dilation, groups)
        return module(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)

    # The modules' parameters are the native layout: the kernel channels-last, the bias as it is.
    def to_native_layout(self, op, weights, params):
        if op not in ("dense", "conv1d", "conv2d"):
            return super().to_native_layout(op, weights, params)
        w, b = (self.asarray(weights[name], "cpu") for name in ("w", "b"))
        if op == "dense":
            return _linear(w, b)
        return _conv(op, w, b, params["stride"], "valid", params["dilation"], params["groups"])

    def from_native_layout(self, op, native, params):
        if op not in ("dense", "conv1d", "conv2d"):
            return super().from_native_layout(op, native, params)
        kernel = native.weight if op == "dense" else _spec_kernel(op, native)
        return {"w": self.to_numpy(kernel), "b": self.to_numpy(native.bias)}
