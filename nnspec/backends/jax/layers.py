"""Jax adapter, layers: flax.linen's Dense and Conv, its max_pool/avg_pool, jnp reductions and reshape.

flax is channels-last: images NHWC, conv kernels HWIO (I the input channels per group), dense
kernels IO. The adapter moves the spec's NCHW/OIHW/OI arrays into those layouts (``LAYOUT``,
axis letters; ``backends/layouts.py``) before the layer and the output back after it; the layer
itself runs as flax ships it, every field given. flax has no global pools: a flax model writes
``jnp.mean``/``jnp.max`` over the spatial axes, as here; ``flatten`` is ``jnp.reshape``.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from ..layouts import SPEC, convert

LAYOUT = {"image": "NHWC", "kernel": "HWIO", "dense": "IO"}
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


def _nhwc(x):
    return convert(x, SPEC["image"], LAYOUT["image"])


def _nchw(y):
    return convert(y, LAYOUT["image"], SPEC["image"])


class Layers:
    NATIVE_DEFAULTS = {
        "conv2d": {
            "stride": (nn.Conv, "strides", _pair),
            "padding": (nn.Conv, "padding", _spec_padding),
            "dilation": (nn.Conv, "kernel_dilation", _pair),
            "groups": (nn.Conv, "feature_group_count", lambda g: g),
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

    def to_native_layout(self, op, weights, params):
        if op not in ("dense", "conv2d"):
            return super().to_native_layout(op, weights, params)
        w, b = (self.asarray(weights[n], "cpu") for n in ("w", "b"))
        return self._dense_params(w, b) if op == "dense" else self._conv_params(w, b)

    def from_native_layout(self, op, native, params):
        if op not in ("dense", "conv2d"):
            return super().from_native_layout(op, native, params)
        kind = "dense" if op == "dense" else "kernel"
        tree = native["params"]
        return {"w": self.to_numpy(convert(tree["kernel"], LAYOUT[kind], SPEC[kind])), "b": self.to_numpy(tree["bias"])}
