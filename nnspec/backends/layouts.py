"""Tensor and weight layouts as data: each a string of axis letters, in the spirit of JAX's dimension numbers.

Images: N (batch), C (channels), H, W (spatial). Kernels: O (output channels), I (input channels
per group), H, W. Dense weights: O, I. The spec's layouts are ``NCHW``, ``OIHW`` and ``OI``; a
framework's are named in its adapter (torch NCHW/OIHW/OI, Keras and flax NHWC/HWIO/IO). 1-D
signals are NCW with OIW kernels. A transposed convolution's kernel names I the channels of its
input x and O its output channels per group: the spec (as torch) stores it IOHW, Keras HWOI,
flax's ConvTranspose HWIO. Moving an array between two layouts is one transpose, whose axis
order the letters give.
"""

from __future__ import annotations

SPEC = {"image": "NCHW", "kernel": "OIHW", "dense": "OI", "signal": "NCW", "kernel1d": "OIW",
        "transpose_kernel": "IOHW"}


def order(source: str, target: str) -> tuple[int, ...]:
    """The axes of an array in ``source`` that, in that order, lay it out as ``target``."""
    if sorted(source) != sorted(target):
        raise ValueError(f"layouts {source!r} and {target!r} do not name the same axes")
    return tuple(source.index(axis) for axis in target)


def convert(array, source: str, target: str, transpose=None):
    """``array`` from layout ``source`` to ``target``: ``transpose(array, axes)`` where given (tf.transpose),
    else the array's own method (NumPy and JAX ``.transpose(axes)``, torch ``.permute(*axes)``)."""
    axes = order(source, target)
    if axes == tuple(range(len(axes))):
        return array
    if transpose is not None:
        return transpose(array, axes)
    permute = getattr(array, "permute", None)  # torch names it permute
    return permute(*axes) if permute is not None else array.transpose(axes)
