"""Tensorflow adapter, layers: Keras 3 Dense, Conv1D, Conv2D and Conv2DTranspose (by stateless_call), keras.ops
pools, global pools, Flatten.

Keras is channels-last here, as a Keras model on CPU runs: images NHWC, conv kernels HWIO,
dense kernels IO (``LAYOUT``, axis letters; ``backends/layouts.py``); the adapter moves the
spec's NCHW/OIHW/OI arrays in and the output back. Keras pads 'valid' or 'same' only: the
spec's explicit pads are what a Keras port writes, ``keras.ops.pad`` (ZeroPadding2D) then
'valid' (composed). ``Flatten`` reads H, W, C whatever its data_format (``"channels_first"`` moves the channels last before
flattening, so that a model keeps its dense weights when switching formats): the spec's
``order="hwc"`` variant. Conv2DTranspose stores its kernel (KH, KW, out, in), has no groups (declined) and pads
'valid' or 'same' only: explicit pads run 'valid' (with the output padding that reaches the last cell kept)
and crop, composed. Its 'same' without output padding is the spec's H·s outputs.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from ..base import unsupported
from ..layouts import SPEC
from ..layouts import convert as _convert

LAYOUT = {"image": "NHWC", "kernel": "HWIO", "dense": "IO", "signal": "NWC", "kernel1d": "WIO",
          "transpose_kernel": "HWOI"}
KINDS = {"dense": "dense", "conv1d": "kernel1d", "conv2d": "kernel", "conv2d_transpose": "transpose_kernel"}
ops = keras.ops


def convert(array, source, target):
    return _convert(array, source, target, tf.transpose)


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _nhwc(x):
    return convert(x, SPEC["image"], LAYOUT["image"])


def _nchw(y):
    return tf.transpose(y, (0, 3, 1, 2))


def _explicit(padding):
    return not isinstance(padding, str)


def _pad(x_nhwc, padding, value=0.0):
    (top, bottom), (left, right) = padding
    return ops.pad(x_nhwc, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _dtype(x):
    return x.dtype.name


class Layers:
    UNSUPPORTED = {  # Keras' Conv2D documents the pair as incompatible
        "conv2d": unsupported("keras.layers.Conv2D: strides > 1 cannot be combined with dilation_rate > 1",
                              where=lambda p: max(_pair(p["stride"])) > 1 and max(_pair(p["dilation"])) > 1),
        "conv1d": unsupported("keras.layers.Conv1D: strides > 1 cannot be combined with dilation_rate > 1",
                              where=lambda p: p["stride"] > 1 and p["dilation"] > 1),
        "conv2d_transpose": [
            unsupported("keras.layers.Conv2DTranspose has no groups", groups=lambda g: g != 1),
            unsupported("keras.layers.Conv2DTranspose: strides > 1 cannot be combined with dilation_rate > 1",
                        where=lambda p: max(_pair(p["stride"])) > 1 and max(_pair(p["dilation"])) > 1),
        ],
    }
    NATIVE_DEFAULTS = {
        "conv2d": {
            "stride": (keras.layers.Conv2D, "strides", _pair),
            "padding": (keras.layers.Conv2D, "padding", lambda p: p),
            "dilation": (keras.layers.Conv2D, "dilation_rate", _pair),
            "groups": (keras.layers.Conv2D, "groups", lambda g: g),
        },
        "conv1d": {
            "stride": (keras.layers.Conv1D, "strides", lambda s: s),
            "padding": (keras.layers.Conv1D, "padding", lambda p: p),
            "dilation": (keras.layers.Conv1D, "dilation_rate", lambda d: d),
            "groups": (keras.layers.Conv1D, "groups", lambda g: g),
        },
        "conv2d_transpose": {
            "stride": (keras.layers.Conv2DTranspose, "strides", _pair),
            "padding": (keras.layers.Conv2DTranspose, "padding", lambda p: p),
            # None: Keras infers the size, (H − 1)·s + k_eff + max(s − k_eff, 0) for 'valid' (not torch's 0)
            "output_padding": (keras.layers.Conv2DTranspose, "output_padding", lambda o: o if o is None else _pair(o)),
            "dilation": (keras.layers.Conv2DTranspose, "dilation_rate", _pair),
        },
        "max_pool2d": {
            "stride": (keras.layers.MaxPooling2D, "strides", lambda s: s),
            "padding": (keras.layers.MaxPooling2D, "padding", lambda p: p),
        },
        "avg_pool2d": {
            "stride": (keras.layers.AveragePooling2D, "strides", lambda s: s),
            "padding": (keras.layers.AveragePooling2D, "padding", lambda p: p),
        },
    }

    def dense(self, x, w, b):
        layer = keras.layers.Dense(w.shape[0], use_bias=True, dtype=_dtype(x))
        layer.build(tuple(x.shape))
        y, _ = layer.stateless_call([convert(w, SPEC["dense"], LAYOUT["dense"]), b], [], x)  # (outputs, state)
        return y

    def conv2d(self, x, w, b, stride, padding, dilation, groups):
        x = _nhwc(x)
        if _explicit(padding):
            x, padding = _pad(x, padding), "valid"
        layer = keras.layers.Conv2D(w.shape[0], tuple(w.shape[2:]), strides=_pair(stride), padding=padding,
                                    data_format="channels_last", dilation_rate=_pair(dilation), groups=groups,
                                    use_bias=True, dtype=_dtype(x))
        layer.build(tuple(x.shape))
        y, _ = layer.stateless_call([convert(w, SPEC["kernel"], LAYOUT["kernel"]), b], [], x)
        return _nchw(y)

    def conv1d(self, x, w, b, stride, padding, dilation, groups):
        x = convert(x, SPEC["signal"], LAYOUT["signal"])
        if _explicit(padding):
            x, padding = ops.pad(x, ((0, 0), tuple(padding), (0, 0))), "valid"
        layer = keras.layers.Conv1D(w.shape[0], w.shape[2], strides=stride, padding=padding,
                                    data_format="channels_last", dilation_rate=dilation, groups=groups,
                                    use_bias=True, dtype=_dtype(x))
        layer.build(tuple(x.shape))
        y, _ = layer.stateless_call([convert(w, SPEC["kernel1d"], LAYOUT["kernel1d"]), b], [], x)
        return convert(y, LAYOUT["signal"], SPEC["signal"])

    def conv2d_transpose(self, x, w, b, stride, padding, output_padding, dilation, groups):
        stride, dilation, output_padding = _pair(stride), _pair(dilation), _pair(output_padding)
        x = _nhwc(x)
        crop = None
        if padding == "same":
            native_padding = None  # Keras' 'same' without output padding: H·s outputs, the spec's
        elif padding == "valid":
            native_padding = output_padding
        else:  # 'valid' with the output padding that reaches the last kept cell, then the pads cropped
            full = [(n - 1) * s + (k - 1) * d + 1 for n, k, s, d in zip(x.shape[1:3], w.shape[2:], stride, dilation)]
            out = [f - sum(pad) + o for f, pad, o in zip(full, padding, output_padding)]
            native_padding = tuple(max(pad[0] + n - f, 0) for pad, n, f in zip(padding, out, full))
            crop, padding = [(pad[0], pad[0] + n) for pad, n in zip(padding, out)], "valid"
        layer = keras.layers.Conv2DTranspose(w.shape[1], tuple(w.shape[2:]), strides=stride, padding=padding,
                                             output_padding=native_padding, data_format="channels_last",
                                             dilation_rate=dilation, use_bias=True, dtype=_dtype(x))
        layer.build(tuple(x.shape))
        y, _ = layer.stateless_call([convert(w, SPEC["transpose_kernel"], LAYOUT["transpose_kernel"]), b], [], x)
        if crop is not None:
            y = y[:, crop[0][0]: crop[0][1], crop[1][0]: crop[1][1], :]
        return _nchw(y)

    def max_pool2d(self, x, window, stride, padding):
        x = _nhwc(x)
        if _explicit(padding):
            x, padding = _pad(x, padding, -math.inf), "valid"
        return _nchw(ops.max_pool(x, _pair(window), strides=stride, padding=padding, data_format="channels_last"))

    def avg_pool2d(self, x, window, stride, padding, count_include_pad):
        x = _nhwc(x)
        pool = dict(strides=stride, data_format="channels_last")
        if not _explicit(padding) and not (count_include_pad and padding == "same"):
            return _nchw(ops.average_pool(x, _pair(window), padding=padding, **pool))  # 'same' counts input cells
        pads = padding if _explicit(padding) else _same_pads(x, _pair(window), stride)
        total = ops.average_pool(_pad(x, pads), _pair(window), padding="valid", **pool)
        if count_include_pad:
            return _nchw(total)
        cells = ops.average_pool(_pad(ops.ones_like(x[:1, :, :, :1]), pads), _pair(window), padding="valid", **pool)
        return _nchw(total / cells)

    def global_avg_pool2d(self, x):
        return keras.layers.GlobalAveragePooling2D(data_format="channels_first", keepdims=False, dtype=_dtype(x))(x)

    def global_max_pool2d(self, x):
        return keras.layers.GlobalMaxPooling2D(data_format="channels_first", keepdims=False, dtype=_dtype(x))(x)

    def flatten(self, x):
        return keras.layers.Flatten(data_format="channels_first", dtype=_dtype(x))(x)

    def is_composed(self, op):
        return op in ("conv1d", "conv2d", "conv2d_transpose", "max_pool2d", "avg_pool2d") or super().is_composed(op)

    # layout: Keras' kernel/bias variables ---------------------------------------------------------

    def to_native_layout(self, op, weights, params):
        if op not in KINDS:
            return super().to_native_layout(op, weights, params)
        kind = KINDS[op]
        w, b = (self.asarray(weights[n], "cpu") for n in ("w", "b"))
        return [convert(w, SPEC[kind], LAYOUT[kind]), b]

    def from_native_layout(self, op, native, params):
        if op not in KINDS:
            return super().from_native_layout(op, native, params)
        kind = KINDS[op]
        return {"w": convert(native[0], LAYOUT[kind], SPEC[kind]).numpy(), "b": native[1].numpy()}


def _same_pads(x_nhwc, window, stride):
    """TF's 'SAME' pads (⌈n/s⌉ outputs, the odd cell after): what a Keras port pads by hand to count them."""
    stride = window if stride is None else _pair(stride)
    pads = []
    for n, k, s in zip(x_nhwc.shape[1:3], window, stride):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)
