"""Deliberately wrong layers adapters: each is one way a CNN port breaks, which the engine must catch.

They subclass the NumPy baseline (the spec in the input's dtype) and change one thing:
the padding, the divisor, the kernel's axes or the flatten order; the last one is the torch
adapter fed a torch port's padding, whose gradients come from autograd.
"""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F

from nnspec.backends.numpy import NumpyBackend, in_dtype
from nnspec.backends.torch import TorchBackend
from nnspec.spec import layers as L


class SymmetricSamePad(NumpyBackend):
    """'same' as k_eff // 2 cells on both sides (the torch port's padding=k//2): right at stride 1 with odd
    kernels, but at stride 2 the odd cell lands before, not after."""

    name = "symmetric-same-pad"

    def conv2d(self, x, w, b, stride, padding, dilation, groups):
        if padding == "same":
            half = [((k - 1) * d + 1) // 2 for k, d in zip(w.shape[2:], dilation)]
            padding = ((half[0], half[0]), (half[1], half[1]))
        return in_dtype(L.conv2d, x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)


class PadsCounted(NumpyBackend):
    """Divides every window by KH·KW: padded cells count in the average, whatever was asked."""

    name = "pads-counted"

    def avg_pool2d(self, x, window, stride, padding, count_include_pad):
        return in_dtype(L.avg_pool2d, x, window=window, stride=stride, padding=padding, count_include_pad=True)


class TransposedKernel(NumpyBackend):
    """Reads the kernel as OIWH (its spatial axes swapped), and stores it so in the native layout,
    reading it back without the swap."""

    name = "transposed-kernel"

    def conv2d(self, x, w, b, stride, padding, dilation, groups):
        if w.shape[2] != w.shape[3]:
            raise ValueError(f"a {w.shape[2]}×{w.shape[3]} kernel does not fit when transposed")
        return in_dtype(L.conv2d, x, np.ascontiguousarray(w.transpose(0, 1, 3, 2)), b, stride=stride,
                        padding=padding, dilation=dilation, groups=groups)

    def to_native_layout(self, op, weights, params):
        if op != "conv2d":
            return super().to_native_layout(op, weights, params)
        return {"w": weights["w"].transpose(0, 1, 3, 2).copy(), "b": weights["b"].copy()}

    def from_native_layout(self, op, native, params):
        if op != "conv2d":
            return super().from_native_layout(op, native, params)
        return {name: w.copy() for name, w in native.items()}  # forgets to swap back


class NHWCFlatten(NumpyBackend):
    """Flattens an NCHW tensor in NHWC order (H, W, then C), as Keras' Flatten reads a channels-last tensor."""

    name = "nhwc-flatten"

    def flatten(self, x):
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(x.shape[0], -1)


class TorchSymmetricSamePad(TorchBackend):
    """The torch port of a Keras 'same' conv as ``F.conv2d(padding=k // 2)``: the same output size at stride 2,
    the odd pad cell before instead of after. Its gradients come from torch's autograd, so they fail too."""

    name = "torch-symmetric-same-pad"

    def conv2d(self, x, w, b, stride, padding, dilation, groups):
        if padding == "same":
            padding = tuple(((k - 1) * d + 1) // 2 for k, d in zip(w.shape[2:], dilation))
            return F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
        return super().conv2d(x, w, b, stride, padding, dilation, groups)


class FlippedConv1dKernel(NumpyBackend):
    """conv1d as the convolution of signal processing (np.convolve): the kernel reversed, where every
    framework and the spec cross-correlate — what a port gets that copies a kernel from a convolving routine."""

    name = "flipped-conv1d-kernel"

    def conv1d(self, x, w, b, stride, padding, dilation, groups):
        return in_dtype(L.conv1d, x, np.ascontiguousarray(w[:, :, ::-1]), b, stride=stride, padding=padding,
                        dilation=dilation, groups=groups)


class SwappedTransposeKernel(NumpyBackend):
    """conv2d_transpose reading its (in, out/groups, KH, KW) kernel as conv2d's (out, in/groups, ...): the in/out
    axes swapped, as a port does that copies a ConvTranspose2d weight into a layer storing it the other way
    (Keras' (KH, KW, out, in) read as (KH, KW, in, out)); the layout mapping stores it swapped and reads it back
    as stored."""

    name = "swapped-transpose-kernel"

    def conv2d_transpose(self, x, w, b, stride, padding, output_padding, dilation, groups):
        if w.shape[0] != w.shape[1]:
            raise ValueError(f"a {w.shape[0]}→{w.shape[1]} kernel does not fit when swapped")
        return in_dtype(L.conv2d_transpose, x, np.ascontiguousarray(w.transpose(1, 0, 2, 3)), b, stride=stride,
                        padding=padding, output_padding=output_padding, dilation=dilation, groups=groups)

    def to_native_layout(self, op, weights, params):
        if op != "conv2d_transpose":
            return super().to_native_layout(op, weights, params)
        return {"w": weights["w"].transpose(1, 0, 2, 3).copy(), "b": weights["b"].copy()}

    def from_native_layout(self, op, native, params):
        if op != "conv2d_transpose":
            return super().from_native_layout(op, native, params)
        return {name: w.copy() for name, w in native.items()}  # forgets to swap back


class TorchFlippedConv1d(TorchBackend):
    """torch's F.conv1d fed the kernel reversed (a port from a convolving routine): its autograd gradients are
    those of the flipped kernel, so forward and gradient fail as the kernel_flip variant."""

    name = "torch-flipped-conv1d"

    def conv1d(self, x, w, b, stride, padding, dilation, groups):
        return super().conv1d(x, w.flip(-1), b, stride, padding, dilation, groups)
