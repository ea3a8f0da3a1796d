"""Torch adapter, layers: F.linear, F.conv1d, F.conv2d, F.conv_transpose2d, the pools of torch.nn.functional,
the adaptive pools and flatten.

torch's layouts are the spec's (NCHW images, OIHW kernels, (out, in) dense weights). What torch
lacks is padding: ``F.conv2d`` takes symmetric pads or 'same' at stride 1 only, and the pools
symmetric pads of at most half the window. The spec's other paddings are what a port from
TensorFlow writes: ``F.pad`` with TF's 'same' pads (the odd cell after), then the op unpadded;
those calls are composed, the others are one native call. The global pools are the layers a torch
model uses (``nn.AdaptiveAvgPool2d(1)``/``nn.AdaptiveMaxPool2d(1)`` then ``flatten(1)``).
``F.conv_transpose2d`` takes symmetric pads only and no 'same': the others run it unpadded (with the
output padding that reaches the last cell kept) and crop the pads, which is what its own ``padding``
does symmetrically (composed).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..layouts import SPEC, convert

LAYOUT = {"image": "NCHW", "kernel": "OIHW", "dense": "OI", "signal": "NCW", "kernel1d": "OIW",
          "transpose_kernel": "IOHW"}
MODULES = {"dense": "dense", "conv1d": "kernel1d", "conv2d": "kernel", "conv2d_transpose": "transpose_kernel"}


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def tf_same(n, k, s, d=1):
    """TensorFlow's documented 'SAME' pads of one axis: ⌈n/s⌉ outputs, the odd pad cell after."""
    k_eff = (k - 1) * d + 1
    total = max((math.ceil(n / s) - 1) * s + k_eff - n, 0)
    return total // 2, total - total // 2


def explicit_pads(x, kernel, stride, dilation, padding):
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        return tuple(tf_same(n, k, s, d) for n, k, s, d in zip(x.shape[2:], kernel, stride, dilation))
    return tuple(tuple(p) for p in padding)


def _symmetric(pads):
    return all(before == after for before, after in pads)


def _pad(x, pads, value=0.0):
    (top, bottom), (left, right) = pads
    return F.pad(x, (left, right, top, bottom), value=value)


def _transpose_output(x, w, stride, padding, output_padding, dilation):
    """The spec's output size of a transposed convolution and its pads ((top, bottom), (left, right)): those of
    the conv2d it is the adjoint of, on that output ('same': TF's, on H·s cells)."""
    per_axis = [None] * 2 if padding == "same" else (((0, 0), (0, 0)) if padding == "valid" else padding)
    out = tuple(n * s if pad is None else (n - 1) * s - sum(pad) + (k - 1) * d + 1 + o
                for n, k, s, d, pad, o in zip(x.shape[2:], w.shape[2:], stride, dilation, per_axis, output_padding))
    if padding == "same":
        return out, tuple(tf_same(n, k, s, d) for n, k, s, d in zip(out, w.shape[2:], stride, dilation))
    return out, tuple(tuple(p) for p in per_axis)


class Layers:
    NATIVE_DEFAULTS = {
        "conv2d": {
            "stride": (F.conv2d, "stride", _pair),
            "padding": (F.conv2d, "padding", lambda p: "valid" if p in (0, "valid") else p),
            "dilation": (F.conv2d, "dilation", _pair),
            "groups": (F.conv2d, "groups", lambda g: g),
        },
        "conv1d": {
            "stride": (F.conv1d, "stride", lambda s: s),
            "padding": (F.conv1d, "padding", lambda p: "valid" if p in (0, "valid") else p),
            "dilation": (F.conv1d, "dilation", lambda d: d),
            "groups": (F.conv1d, "groups", lambda g: g),
        },
        "conv2d_transpose": {
            "stride": (F.conv_transpose2d, "stride", _pair),
            "padding": (F.conv_transpose2d, "padding", lambda p: "valid" if p == 0 else p),
            "output_padding": (F.conv_transpose2d, "output_padding", _pair),
            "dilation": (F.conv_transpose2d, "dilation", _pair),
            "groups": (F.conv_transpose2d, "groups", lambda g: g),
        },
        "max_pool2d": {
            "stride": (torch.nn.MaxPool2d, "stride", lambda s: s),
            "padding": (torch.nn.MaxPool2d, "padding", lambda p: "valid" if p == 0 else p),
        },
        "avg_pool2d": {
            "stride": (torch.nn.AvgPool2d, "stride", lambda s: s),
            "padding": (torch.nn.AvgPool2d, "padding", lambda p: "valid" if p == 0 else p),
            "count_include_pad": (torch.nn.AvgPool2d, "count_include_pad", lambda c: c),
        },
    }

    def dense(self, x, w, b):
        return F.linear(x, w, b)

    def conv2d(self, x, w, b, stride, padding, dilation, groups):
        stride, dilation = _pair(stride), _pair(dilation)
        pads = explicit_pads(x, w.shape[2:], stride, dilation, padding)
        if padding == "same" and stride == (1, 1):
            return F.conv2d(x, w, b, stride=stride, padding="same", dilation=dilation, groups=groups)
        if _symmetric(pads):
            return F.conv2d(x, w, b, stride=stride, padding=(pads[0][0], pads[1][0]), dilation=dilation,
                            groups=groups)
        return F.conv2d(_pad(x, pads), w, b, stride=stride, padding=0, dilation=dilation, groups=groups)

    def conv1d(self, x, w, b, stride, padding, dilation, groups):
        if padding == "same" and stride == 1:
            return F.conv1d(x, w, b, stride=stride, padding="same", dilation=dilation, groups=groups)
        before, after = explicit_pads(x[..., None, :], (1, w.shape[2]), (1, stride), (1, dilation),
                                      padding if isinstance(padding, str) else ((0, 0), padding))[1]
        if before == after:
            return F.conv1d(x, w, b, stride=stride, padding=before, dilation=dilation, groups=groups)
        return F.conv1d(F.pad(x, (before, after)), w, b, stride=stride, padding=0, dilation=dilation, groups=groups)

    def conv2d_transpose(self, x, w, b, stride, padding, output_padding, dilation, groups):
        stride, dilation, output_padding = _pair(stride), _pair(dilation), _pair(output_padding)
        out, pads = _transpose_output(x, w, stride, padding, output_padding, dilation)
        if padding != "same" and _symmetric(pads):
            return F.conv_transpose2d(x, w, b, stride=stride, padding=(pads[0][0], pads[1][0]),
                                      output_padding=output_padding, groups=groups, dilation=dilation)
        # unpadded, its full extent (H − 1)·s + (k − 1)·d + 1, with the output padding that reaches the last cell
        full = [(n - 1) * s + (k - 1) * d + 1 for n, k, s, d in zip(x.shape[2:], w.shape[2:], stride, dilation)]
        extra = tuple(max(before + o - f, 0) for (before, _), o, f in zip(pads, out, full))
        y = F.conv_transpose2d(x, w, b, stride=stride, padding=0, output_padding=extra, groups=groups,
                               dilation=dilation)
        return y[:, :, pads[0][0]: pads[0][0] + out[0], pads[1][0]: pads[1][0] + out[1]]

    def max_pool2d(self, x, window, stride, padding):
        window = _pair(window)
        stride = window if stride is None else _pair(stride)
        pads = explicit_pads(x, window, stride, (1, 1), padding)
        if _symmetric(pads):
            return F.max_pool2d(x, window, stride=stride, padding=(pads[0][0], pads[1][0]), dilation=1,
                                ceil_mode=False, return_indices=False)
        return F.max_pool2d(_pad(x, pads, -math.inf), window, stride=stride, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False)

    def avg_pool2d(self, x, window, stride, padding, count_include_pad):
        window = _pair(window)
        stride = window if stride is None else _pair(stride)
        pads = explicit_pads(x, window, stride, (1, 1), padding)
        options = dict(stride=stride, ceil_mode=False, divisor_override=None)
        if _symmetric(pads):
            return F.avg_pool2d(x, window, padding=(pads[0][0], pads[1][0]), count_include_pad=count_include_pad,
                                **options)
        padded = F.avg_pool2d(_pad(x, pads), window, padding=0, count_include_pad=True, **options)
        if count_include_pad:
            return padded
        # TF's average over input cells only: the window sum over the number of input cells it holds
        cells = F.avg_pool2d(_pad(torch.ones_like(x[:1, :1]), pads), window, padding=0, count_include_pad=True,
                             **options)
        return padded / cells

    def global_avg_pool2d(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def global_max_pool2d(self, x):
        return torch.flatten(F.adaptive_max_pool2d(x, 1), 1)

    def flatten(self, x):
        return torch.flatten(x, start_dim=1, end_dim=-1)

    def is_composed(self, op):
        # conv and pools compose F.pad where torch has no such padding (per example; the row says possibly)
        return op in ("conv1d", "conv2d", "conv2d_transpose", "max_pool2d", "avg_pool2d") or super().is_composed(op)

    # layout: nn.Linear / nn.Conv1d / nn.Conv2d / nn.ConvTranspose2d hold the spec's arrays as they are -----

    def to_native_layout(self, op, weights, params):
        if op not in MODULES:
            return super().to_native_layout(op, weights, params)
        w, b = (self.asarray(weights[n], "cpu") for n in ("w", "b"))
        kind = MODULES[op]
        if op == "dense":
            module = torch.nn.Linear(w.shape[1], w.shape[0], bias=True, dtype=w.dtype)
        elif op == "conv2d_transpose":
            I, O, KH, KW = w.shape
            module = torch.nn.ConvTranspose2d(I, O * params["groups"], (KH, KW), groups=params["groups"],
                                              bias=True, dtype=w.dtype)
        else:
            O, I, *kernel = w.shape
            conv = torch.nn.Conv1d if op == "conv1d" else torch.nn.Conv2d
            module = conv(I * params["groups"], O, tuple(kernel), groups=params["groups"], bias=True, dtype=w.dtype)
        with torch.no_grad():
            module.weight.copy_(convert(w, SPEC[kind], LAYOUT[kind]))
            module.bias.copy_(b)
        return module

    def from_native_layout(self, op, native, params):
        if op not in MODULES:
            return super().from_native_layout(op, native, params)
        kind = MODULES[op]
        return {"w": self.to_numpy(convert(native.weight, LAYOUT[kind], SPEC[kind])), "b": self.to_numpy(native.bias)}
