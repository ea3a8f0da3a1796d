"""Jax adapter, layers: flax.linen's Dense, Conv (2-D and 1-D) and ConvTranspose, its max_pool/avg_pool, jnp
reductions and reshape.

flax is channels-last: images NHWC, conv kernels HWIO (I the input channels per group), dense
kernels IO. The adapter moves the spec's NCHW/OIHW/OI arrays into those layouts (``LAYOUT``,
axis letters; ``backends/layouts.py``) before the layer and the output back after it; the layer
itself runs as flax ships it, every field given. flax has no global pools: a flax model writes
``jnp.mean``/``jnp.max`` over the spatial axes, as here; ``flatten`` is ``jnp.reshape``.

``nn.ConvTranspose`` is lax.conv_transpose: the stride-dilated input, padded, correlated with the kernel
(KH, KW, in, out) as given — with ``transpose_kernel=False``, its default and what runs here, that is not
conv's adjoint but the adjoint of a conv with the kernel reversed (the spec's ``kernel_flip=True``). Its pads
are those of the dilated input: the spec's (torch's) pads (before, after) and output padding are
(k_eff − 1 − before, k_eff − 1 − after + output_padding) there; 'same' is flax's 'SAME'. It has no groups
(declined).
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from ..base import unsupported
from ..layouts import SPEC, convert

LAYOUT = {"image": "NHWC", "kernel": "HWIO", "dense": "IO", "signal": "NWC", "kernel1d": "WIO",
          "transpose_kernel": "HWIO"}
KINDS = {"dense": "dense", "conv1d": "kernel1d", "conv2d": "kernel", "conv2d_transpose": "transpose_kernel"}
PADDING = {"valid": "VALID", "same": "SAME"}  # spec names -> flax's; explicit pairs pass as they are


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _padding(padding):
    return PADDING[padding] if isinstance(padding, str) else tuple(tuple(p) for p in padding)


def _spec_padding(native):
    return native.lower() if isinstance(native, str) else native


def _stride_of_pool(native):
    """flax's pool strides=None means 1 on every axis (not the window, as torch and Keras read None)."""
    return (1, 1) if native is None else _pair(native)


def _stride_of_transpose(native):
    """nn.ConvTranspose's strides/kernel_dilation None mean 1 on every axis."""
    return (1, 1) if native is None else _pair(native)


def _dilated_input_pads(x, w, stride, padding, output_padding, dilation):
    """The spec's (torch's) pads and output padding as lax.conv_transpose's pads of the dilated input."""
    pads = ((0, 0), (0, 0)) if padding == "valid" else padding
    return tuple(((k - 1) * d - before, (k - 1) * d - after + o)
                 for k, d, (before, after), o in zip(w.shape[2:], dilation, pads, output_padding))


def _nhwc(x):
    return convert(x, SPEC["image"], LAYOUT["image"])


def _nchw(y):
    return convert(y, LAYOUT["image"], SPEC["image"])


class Layers:
    UNSUPPORTED = {"conv2d_transpose": unsupported("flax.linen.ConvTranspose has no feature_group_count",
                                                   groups=lambda g: g != 1)}
    NATIVE_DEFAULTS = {
        "conv2d": {
            "stride": (nn.Conv, "strides", _pair),
            "padding": (nn.Conv, "padding", _spec_padding),
            "dilation": (nn.Conv, "kernel_dilation", _pair),
            "groups": (nn.Conv, "feature_group_count", lambda g: g),
        },
        "conv1d": {
            "stride": (nn.Conv, "strides", lambda s: s),
            "padding": (nn.Conv, "padding", _spec_padding),
            "dilation": (nn.Conv, "kernel_dilation", lambda d: d),
            "groups": (nn.Conv, "feature_group_count", lambda g: g),
        },
        "conv2d_transpose": {
            "stride": (nn.ConvTranspose, "strides", _stride_of_transpose),
            "padding": (nn.ConvTranspose, "padding", _spec_padding),
            "dilation": (nn.ConvTranspose, "kernel_dilation", _stride_of_transpose),
        },
        "max_pool2d": {
            "stride": (nn.max_pool, "strides", _stride_of_pool),
            "padding": (nn.max_pool, "padding", _spec_padding),
        },
        "avg_pool2d": {
            "stride": (nn.avg_pool, "strides", _stride_of_pool),
            "padding": (nn.avg_pool, "padding", _spec_padding),
            "count_include_pad": (nn.avg_pool, "count_include_pad", lambda c: c),
        },
    }

    def dense(self, x, w, b):
        layer = nn.Dense(features=w.shape[0], use_bias=True, dtype=None, precision=None)
        return layer.apply(self._dense_params(w, b), x)

    def conv2d(self, x, w, b, stride, padding, dilation, groups):
        layer = nn.Conv(features=w.shape[0], kernel_size=tuple(w.shape[2:]), strides=_pair(stride),
                        padding=_padding(padding), input_dilation=1, kernel_dilation=_pair(dilation),
                        feature_group_count=groups, use_bias=True, dtype=None, precision=None)
        return _nchw(layer.apply(self._conv_params(w, b), _nhwc(x)))

    def conv1d(self, x, w, b, stride, padding, dilation, groups):
        native_padding = PADDING[padding] if isinstance(padding, str) else (tuple(padding),)
        layer = nn.Conv(features=w.shape[0], kernel_size=(w.shape[2],), strides=(stride,), padding=native_padding,
                        input_dilation=1, kernel_dilation=(dilation,), feature_group_count=groups, use_bias=True,
                        dtype=None, precision=None)
        params = {"params": {"kernel": convert(w, SPEC["kernel1d"], LAYOUT["kernel1d"]), "bias": b}}
        return convert(layer.apply(params, convert(x, SPEC["signal"], LAYOUT["signal"])), LAYOUT["signal"],
                       SPEC["signal"])

    def conv2d_transpose(self, x, w, b, stride, padding, output_padding, dilation, groups):
        stride, dilation, output_padding = _pair(stride), _pair(dilation), _pair(output_padding)
        native_padding = "SAME" if padding == "same" else _dilated_input_pads(x, w, stride, padding, output_padding,
                                                                             dilation)
        layer = nn.ConvTranspose(features=w.shape[1], kernel_size=tuple(w.shape[2:]), strides=stride,
                                 padding=native_padding, kernel_dilation=dilation, use_bias=True, dtype=None,
                                 precision=None, transpose_kernel=False)  # flax's default, as a flax model runs it
        return _nchw(layer.apply(self._transpose_params(w, b), _nhwc(x)))

    def max_pool2d(self, x, window, stride, padding):
        window = _pair(window)
        strides = window if stride is None else _pair(stride)  # flax's None would be 1
        return _nchw(nn.max_pool(_nhwc(x), window, strides=strides, padding=_padding(padding)))

    def avg_pool2d(self, x, window, stride, padding, count_include_pad):
        window = _pair(window)
        strides = window if stride is None else _pair(stride)
        return _nchw(nn.avg_pool(_nhwc(x), window, strides=strides, padding=_padding(padding),
                                 count_include_pad=count_include_pad))

    def global_avg_pool2d(self, x):
        return jnp.mean(x, axis=(2, 3))

    def global_max_pool2d(self, x):
        return jnp.max(x, axis=(2, 3))

    def flatten(self, x):
        return jnp.reshape(x, (x.shape[0], -1))

    # layout: flax's params trees -------------------------------------------------------------------

    def _dense_params(self, w, b):
        return {"params": {"kernel": convert(w, SPEC["dense"], LAYOUT["dense"]), "bias": b}}

    def _conv_params(self, w, b):
        return {"params": {"kernel": convert(w, SPEC["kernel"], LAYOUT["kernel"]), "bias": b}}

    def _transpose_params(self, w, b):
        return {"params": {"kernel": convert(w, SPEC["transpose_kernel"], LAYOUT["transpose_kernel"]), "bias": b}}

    def to_native_layout(self, op, weights, params):
        if op not in KINDS:
            return super().to_native_layout(op, weights, params)
        w, b = (self.asarray(weights[n], "cpu") for n in ("w", "b"))
        kind = KINDS[op]
        return {"params": {"kernel": convert(w, SPEC[kind], LAYOUT[kind]), "bias": b}}

    def from_native_layout(self, op, native, params):
        if op not in KINDS:
            return super().from_native_layout(op, native, params)
        kind = KINDS[op]
        tree = native["params"]
        return {"w": self.to_numpy(convert(tree["kernel"], LAYOUT[kind], SPEC[kind])), "b": self.to_numpy(tree["bias"])}
