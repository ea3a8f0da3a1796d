"""Layers: dense, 1-D and 2-D convolution, transposed convolution, pooling and flatten, in one canonical layout.

Layout
------
Images are NCHW: x (N, C, H, W). Convolution kernels are OIHW: w (O, C/groups, KH, KW),
with one bias b (O,). Dense weights are (out, in), as torch stores them: y = x·Wᵀ + b.
Frameworks that store NHWC images or HWIO kernels (Keras, flax) are mapped into this
layout by their adapters; ``flatten`` of an NCHW tensor reads C, then H, then W (the variant
``order="hwc"``: H, W, then C, as a channels-last model flattens).

Convolution is cross-correlation (no kernel flip), as in every deep-learning framework:

    y[n, o, i, j] = b[o] + Σ_{c, p, q} x_pad[n, g·Cg + c, i·sh + p·dh, j·sw + q·dw] · w[o, c, p, q]

with g = o // (O/groups) the group of output channel o, Cg = C/groups, strides (sh, sw)
and dilations (dh, dw). ``groups = C`` with O = k·C is the depthwise convolution. ``conv1d`` is the
same on NCW inputs with OIW kernels (O, C/groups, K): conv2d of a one-row image, padding "valid",
"same" or explicit (before, after). The keyword-only variant ``kernel_flip=True`` is the
convolution of signal processing (the kernel's spatial axes reversed): what a port gets that reads
"convolution" literally, or copies a kernel between a correlating and a convolving routine.

Transposed convolution
----------------------
``conv2d_transpose(x, w, b, stride, padding, output_padding, dilation, groups)`` is the adjoint of
conv2d in x (its VJP with respect to the input, as torch, TensorFlow and Keras define it): x is
(N, C_in, H, W) and the kernel is stored as torch stores it, (C_in, C_out/groups, KH, KW) — read as
the OIHW kernel of the conv2d that maps C_out channels back to C_in. Then

    y = b[o] + (A_wᵀ x),   A_w z = conv2d(z, w, 0, stride, padding, dilation, groups)

on a z of OH = (H − 1)·sh − top − bottom + (KH − 1)·dh + 1 + oph rows (and likewise columns):
⟨conv2d(z, w, 0), x⟩ = ⟨z, conv2d_transpose(x, w, 0)⟩. ``output_padding`` (oph, opw), each below its
stride, adds rows/columns at the bottom/right that the forward conv2d's strides never reach (torch's
``output_padding``). ``padding="same"`` gives H·sh × W·sw outputs (Keras' Conv2DTranspose): the adjoint
of a 'same' conv2d of that size (its odd pad after; ``same_odd_pad="before"`` the variant), with no
output padding. ``kernel_flip=True`` is the variant whose kernel is reversed in both spatial axes:
flax's ConvTranspose with ``transpose_kernel=False`` (its default), which convolves the dilated input
with the kernel as given.

Padding
-------
``padding`` is "valid" (none), "same" or explicit ((top, bottom), (left, right)). "same"
gives ⌈n/s⌉ outputs per axis: the total pad is max((⌈n/s⌉ − 1)·s + (k − 1)·d + 1 − n, 0)
and, when it is odd, the spec puts the extra cell after (bottom/right), as TensorFlow's
formula does; the keyword-only variant ``same_odd_pad="before"`` puts it before. Padded cells
are 0 for convolutions and the average pool, −∞ for the max pool (never the maximum).

Pooling
-------
``max_pool2d``/``avg_pool2d`` take ``window`` (KH, KW), ``stride`` (None: the window, as
torch and Keras) and ``padding``. ``avg_pool2d``'s divisor is the number of input cells in
the window (``count_include_pad=False``, TensorFlow's "SAME") or the whole window
(``count_include_pad=True``, torch's default).

VJPs
----
``<op>_vjp(*inputs, cotangent, **params)`` is the gradient of ⟨cotangent, y⟩ with respect to
every array input, in input order (x, w, b), in float64. conv2d_transpose is linear in x with
the adjoint conv2d: its x-gradient is conv2d(g, w, 0), its w-gradient conv2d's w-gradient at input g
and cotangent x. The max pool's gradient goes to the first maximum of each window in row-major
order (``ties="first"``); ``ties="spread"`` divides it equally among tied maxima (what a reduce-max
VJP such as jnp.max's does).
"""

from __future__ import annotations

import numpy as np

from ._float64 import float64

SAME_ODD_PADS = ("after", "before")
KERNEL_FLIPS = (False, True)
TIES = ("first", "spread")


# geometry, shared by convolutions and pools --------------------------------------------------


def _pair(value):
    """An int or a pair as a pair of ints (a window passed positionally arrives as a float64 array)."""
    flat = [int(v) for v in np.ravel(value)]
    return tuple(flat) if len(flat) == 2 else (flat[0], flat[0])


def same_pads(n, k, s, d, same_odd_pad="after"):
    """(before, after) of 'same' padding on an axis of n cells: ⌈n/s⌉ outputs, the odd cell at ``same_odd_pad``."""
    extent = (k - 1) * d + 1
    total = max((-(-n // s) - 1) * s + extent - n, 0)
    small = total // 2
    return (small, total - small) if same_odd_pad == "after" else (total - small, small)


def pads(spatial, kernel, stride, dilation, padding, same_odd_pad="after"):
    """((top, bottom), (left, right)) for ``padding`` "valid", "same" or explicit pairs."""
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        return tuple(same_pads(n, k, s, d, same_odd_pad) for n, k, s, d in zip(spatial, kernel, stride, dilation))
    return tuple(tuple(int(p) for p in pair) for pair in padding)


def _windows(spatial, kernel, stride, dilation):
    """Index arrays (rows, cols) such that x_pad[..., rows, cols] is (OH, OW, KH, KW): every window."""
    (H, W), (KH, KW), (sh, sw), (dh, dw) = spatial, kernel, stride, dilation
    OH, OW = (H - (KH - 1) * dh - 1) // sh + 1, (W - (KW - 1) * dw - 1) // sw + 1
    if OH < 1 or OW < 1:
        raise ValueError(f"a {KH}×{KW} window (dilation {dh}, {dw}) does not fit a padded {H}×{W} input")
    rows = (np.arange(OH) * sh)[:, None] + (np.arange(KH) * dh)[None, :]
    cols = (np.arange(OW) * sw)[:, None] + (np.arange(KW) * dw)[None, :]
    return rows[:, None, :, None], cols[None, :, None, :]


def _patches(x, kernel, stride, dilation, padding, fill, odd):
    """(x_pad, patches (N, C, OH, OW, KH, KW), index, pad)."""
    pad = pads(x.shape[2:], kernel, stride, dilation, padding, odd)
    x_pad = np.pad(x, ((0, 0), (0, 0), *pad), constant_values=fill)
    index = _windows(x_pad.shape[2:], kernel, stride, dilation)
    return x_pad, x_pad[:, :, index[0], index[1]], index, pad


def _scatter(shape, index, pad, dpatches):
    """The adjoint of ``_patches``: every window's gradient added back at its cells, pads cropped."""
    dx_pad = np.zeros(shape, dtype=dpatches.dtype)
    np.add.at(dx_pad, (slice(None), slice(None), index[0], index[1]), dpatches)
    (t, bottom), (left, r) = pad
    return dx_pad[:, :, t: shape[2] - bottom, left: shape[3] - r]


# dense -------------------------------------------------------------------------------------------


@float64
def dense(x, w, b):
    """y = x·Wᵀ + b, x (..., in), W (out, in), b (out,)."""
    return x @ w.T + b


@float64
def dense_vjp(x, w, b, cotangent):
    """(g·W, gᵀ·x, Σ g) over every leading axis of x."""
    g = cotangent
    return g @ w, g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1]).sum(0)


# conv2d ------------------------------------------------------------------------------------------


def _grouped(x, w, stride, padding, dilation, groups, same_odd_pad):
    N, C = x.shape[:2]
    O, Cg, KH, KW = w.shape
    if C != Cg * groups or O % groups:
        raise ValueError(f"{C} input channels, {O} output channels and groups={groups} do not fit a {w.shape} kernel")
    x_pad, patches, index, pad = _patches(x, (KH, KW), _pair(stride), _pair(dilation), padding, 0.0, same_odd_pad)
    patches = patches.reshape(N, groups, Cg, *patches.shape[2:])
    return x_pad, patches, index, pad, w.reshape(groups, O // groups, Cg, KH, KW)


def _as_matrices(patches, wg):
    """Windows as rows (N, groups, OH·OW, Cg·KH·KW) and the kernel as (groups, Cg·KH·KW, O/groups): the
    convolution is their product (matmul, which every dtype the NumPy baseline runs supports)."""
    N, G, Cg, OH, OW, KH, KW = patches.shape
    rows = patches.transpose(0, 1, 3, 4, 2, 5, 6).reshape(N, G, OH * OW, Cg * KH * KW)
    return rows, wg.reshape(G, wg.shape[1], -1).transpose(0, 2, 1)


@float64
def conv2d(x, w, b, stride=(1, 1), padding="valid", dilation=(1, 1), groups=1, *, same_odd_pad="after"):
    """y[n, o, i, j] = b[o] + Σ_{c,p,q} x_pad[n, g·Cg + c, i·sh + p·dh, j·sw + q·dw]·w[o, c, p, q].

    NCHW input, OIHW kernel (O, C/groups, KH, KW), cross-correlation; g the group of o."""
    _, patches, _, _, wg = _grouped(x, w, stride, padding, dilation, groups, same_odd_pad)
    rows, kernel = _as_matrices(patches, wg)
    y = (rows @ kernel).transpose(0, 1, 3, 2)  # (N, groups, O/groups, OH·OW)
    return y.reshape(x.shape[0], w.shape[0], *patches.shape[3:5]) + b[:, None, None]


@float64
def conv2d_vjp(x, w, b, cotangent, stride=(1, 1), padding="valid", dilation=(1, 1), groups=1, *,
               same_odd_pad="after"):
    """(dx, dw, db): db = Σ g over n, i, j; dw = Σ g·x_pad windows; dx the windows' g·w added back."""
    x_pad, patches, index, pad, wg = _grouped(x, w, stride, padding, dilation, groups, same_odd_pad)
    N, O = cotangent.shape[:2]
    g = cotangent.reshape(N, groups, O // groups, *cotangent.shape[2:])
    rows, kernel = _as_matrices(patches, wg)
    g = g.reshape(N, groups, O // groups, -1)  # (N, groups, O/groups, OH·OW)
    dw = (g @ rows).sum(axis=0).reshape(w.shape)
    dpatches = (g.transpose(0, 1, 3, 2) @ kernel.transpose(0, 2, 1)).reshape(
        N, groups, *patches.shape[3:5], *patches.shape[2:3], *patches.shape[5:])
    dpatches = dpatches.transpose(0, 1, 4, 2, 3, 5, 6).reshape(N, -1, *patches.shape[3:5], *patches.shape[5:])
    return _scatter(x_pad.shape, index, pad, dpatches), dw, cotangent.sum(axis=(0, 2, 3))


def _flipped(w, kernel_flip):
    """The kernel with its spatial axes reversed (``kernel_flip``): convolution rather than cross-correlation."""
    return w[(..., *[slice(None, None, -1)] * (w.ndim - 2))] if kernel_flip else w


# the formulas themselves, in their inputs' dtype: the ops below are conv2d's, and the NumPy baseline runs them
# in the dtype under test
_conv2d, _conv2d_vjp = conv2d.__wrapped__, conv2d_vjp.__wrapped__


# conv1d ------------------------------------------------------------------------------------------


def _as_2d(stride, padding, dilation):
    """conv1d's geometry as conv2d's of a one-row image: stride/dilation (1, s), no pad on the row axis."""
    row_pad = padding if isinstance(padding, str) else ((0, 0), tuple(int(p) for p in padding))
    return dict(stride=(1, int(np.ravel(stride)[0])), padding=row_pad, dilation=(1, int(np.ravel(dilation)[0])))


@float64
def conv1d(x, w, b, stride=1, padding="valid", dilation=1, groups=1, *, same_odd_pad="after", kernel_flip=False):
    """y[n, o, i] = b[o] + Σ_{c,p} x_pad[n, g·Cg + c, i·s + p·d]·w[o, c, p].

    NCW input, OIW kernel (O, C/groups, K), cross-correlation; padding "valid", "same" or (before, after)."""
    y = _conv2d(x[:, :, None, :], _flipped(w, kernel_flip)[:, :, None, :], b, **_as_2d(stride, padding, dilation),
               groups=groups, same_odd_pad=same_odd_pad)
    return y[:, :, 0, :]


@float64
def conv1d_vjp(x, w, b, cotangent, stride=1, padding="valid", dilation=1, groups=1, *, same_odd_pad="after",
               kernel_flip=False):
    """conv2d's (dx, dw, db) of the one-row image; dw flipped back with the kernel."""
    dx, dw, db = _conv2d_vjp(x[:, :, None, :], _flipped(w, kernel_flip)[:, :, None, :], b, cotangent[:, :, None, :],
                            **_as_2d(stride, padding, dilation), groups=groups, same_odd_pad=same_odd_pad)
    return dx[:, :, 0, :], _flipped(dw[:, :, 0, :], kernel_flip), db


# conv2d_transpose --------------------------------------------------------------------------------


def transpose_output_size(n, k, s, d, pad, output_padding):
    """Cells of one output axis: n·s for 'same', else (n − 1)·s − before − after + (k − 1)·d + 1 + output_padding."""
    if pad == "same":
        return n * s
    return (n - 1) * s - pad[0] - pad[1] + (k - 1) * d + 1 + output_padding


def _transpose_geometry(x, w, stride, padding, output_padding, dilation, groups):
    """The conv2d whose adjoint this is: its parameters and the shape of its input z."""
    stride, dilation, output_padding = _pair(stride), _pair(dilation), _pair(output_padding)
    if any(op >= s for op, s in zip(output_padding, stride)):
        raise ValueError(f"output_padding {output_padding} must be below the stride {stride}")
    if padding == "same" and any(output_padding):
        raise ValueError("padding='same' gives H·s outputs: output_padding must be 0")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"{x.shape[1]} input channels do not fit a {w.shape} (in, out/groups, KH, KW) kernel")
    per_axis = ["same"] * 2 if padding == "same" else [tuple(int(p) for p in pair) for pair in
                                                       (((0, 0), (0, 0)) if padding == "valid" else padding)]
    spatial = tuple(transpose_output_size(n, k, s, d, pad, op) for n, k, s, d, pad, op in
                    zip(x.shape[2:], w.shape[2:], stride, dilation, per_axis, output_padding))
    z_shape = (x.shape[0], w.shape[1] * groups, *spatial)
    return z_shape, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@float64
def conv2d_transpose(x, w, b, stride=(1, 1), padding="valid", output_padding=(0, 0), dilation=(1, 1), groups=1, *,
                     same_odd_pad="after", kernel_flip=False):
    """y = b[o] + (A_wᵀ x)[n, o, i, j], A_w z = conv2d(z, w, 0, stride, padding, dilation, groups): the adjoint.

    x (N, C_in, H, W), kernel as torch stores it (C_in, C_out/groups, KH, KW); every x[n, c, i, j] adds
    x·w[c, o, p, q] at z_pad[n, g·(C_out/groups) + o, i·sh + p·dh, j·sw + q·dw] (the pads then cropped)."""
    z_shape, conv = _transpose_geometry(x, w, stride, padding, output_padding, dilation, groups)
    z = np.zeros(z_shape, dtype=x.dtype)
    dz, _, _ = _conv2d_vjp(z, _flipped(w, kernel_flip), np.zeros(w.shape[0], dtype=w.dtype), x, **conv,
                           same_odd_pad=same_odd_pad)
    return dz + b[:, None, None]


@float64
def conv2d_transpose_vjp(x, w, b, cotangent, stride=(1, 1), padding="valid", output_padding=(0, 0), dilation=(1, 1),
                         groups=1, *, same_odd_pad="after", kernel_flip=False):
    """(dx, dw, db) = (conv2d(g, w, 0), conv2d's w-gradient at input g and cotangent x, Σ g over n, i, j)."""
    _, conv = _transpose_geometry(x, w, stride, padding, output_padding, dilation, groups)
    kernel, zero = _flipped(w, kernel_flip), np.zeros(w.shape[0], dtype=w.dtype)
    dx = _conv2d(cotangent, kernel, zero, **conv, same_odd_pad=same_odd_pad)
    _, dw, _ = _conv2d_vjp(cotangent, kernel, zero, x, **conv, same_odd_pad=same_odd_pad)
    return dx, _flipped(dw, kernel_flip), cotangent.sum(axis=(0, 2, 3))


# pooling -------------------------------------------------------------------------------------------


def _pool_patches(x, window, stride, padding, fill):
    window = _pair(window)
    stride = window if stride is None or np.size(stride) == 0 else _pair(stride)
    return _patches(x, window, stride, (1, 1), padding, fill, "after")


def _max_mask(patches, ties):
    """Where each window's gradient goes: its first maximum (row-major), or every tied maximum, shared."""
    flat = patches.reshape(*patches.shape[:4], -1)
    if ties == "first":
        mask = np.zeros(flat.shape)
        np.put_along_axis(mask, np.argmax(flat, axis=-1)[..., None], 1.0, axis=-1)
    else:
        mask = (flat == flat.max(axis=-1, keepdims=True)).astype(np.float64)
        mask /= mask.sum(axis=-1, keepdims=True)
    return mask.reshape(patches.shape)


@float64
def max_pool2d(x, window, stride=None, padding="valid"):
    """y[n, c, i, j] = max_{p,q} x_pad[n, c, i·sh + p, j·sw + q], padded cells −∞; stride None: the window."""
    return _pool_patches(x, window, stride, padding, -np.inf)[1].max(axis=(4, 5))


@float64
def max_pool2d_vjp(x, cotangent, window, stride=None, padding="valid", *, ties="first"):
    """g of each window added at its maximum (the first in row-major order; ``ties="spread"``: shared)."""
    x_pad, patches, index, pad = _pool_patches(x, window, stride, padding, -np.inf)
    return (_scatter(x_pad.shape, index, pad, cotangent[..., None, None] * _max_mask(patches, ties)),)


def _divisor(x, window, stride, padding, count_include_pad):
    if count_include_pad:
        return float(np.prod(_pair(window)))
    ones = np.ones((1, 1, *x.shape[2:]))
    return _pool_patches(ones, window, stride, padding, 0.0)[1].sum(axis=(4, 5))


@float64
def avg_pool2d(x, window, stride=None, padding="valid", count_include_pad=False):
    """y[n, c, i, j] = Σ_{p,q} x_pad[n, c, i·sh + p, j·sw + q] / d, padded cells 0; d the input cells in the
    window, or KH·KW with count_include_pad."""
    total = _pool_patches(x, window, stride, padding, 0.0)[1].sum(axis=(4, 5))
    return total / _divisor(x, window, stride, padding, count_include_pad)


@float64
def avg_pool2d_vjp(x, cotangent, window, stride=None, padding="valid", count_include_pad=False):
    """g/d spread over each window's cells."""
    x_pad, patches, index, pad = _pool_patches(x, window, stride, padding, 0.0)
    share = cotangent / _divisor(x, window, stride, padding, count_include_pad)
    return (_scatter(x_pad.shape, index, pad, np.broadcast_to(share[..., None, None], patches.shape)),)


@float64
def global_avg_pool2d(x):
    """y[n, c] = Σ_{i,j} x[n, c, i, j] / (H·W)."""
    return x.mean(axis=(2, 3))


@float64
def global_avg_pool2d_vjp(x, cotangent):
    """g[n, c] / (H·W) at every cell."""
    return (np.broadcast_to(cotangent[:, :, None, None] / (x.shape[2] * x.shape[3]), x.shape).copy(),)


@float64
def global_max_pool2d(x):
    """y[n, c] = max_{i,j} x[n, c, i, j]."""
    return x.max(axis=(2, 3))


@float64
def global_max_pool2d_vjp(x, cotangent, *, ties="first"):
    """g[n, c] at the first maximum of x[n, c] (row-major; ``ties="spread"``: shared among tied maxima)."""
    mask = _max_mask(x[:, :, None, None], ties)[:, :, 0, 0]
    return (cotangent[:, :, None, None] * mask,)


# flatten ---------------------------------------------------------------------------------------------


@float64
def flatten(x, *, order="chw"):
    """y[n, (c·H + i)·W + j] = x[n, c, i, j]: every axis after the batch, in C order (NCHW: channel first).

    ``order="hwc"`` is the variant that reads channels last, y[n, (i·W + j)·C + c] = x[n, c, i, j]: what
    Keras' Flatten yields for the same image (the next dense layer's weights differ by that permutation)."""
    return (x if order == "chw" else np.moveaxis(x, 1, -1)).reshape(x.shape[0], -1)


@float64
def flatten_vjp(x, cotangent, *, order="chw"):
    """g reshaped back to x's shape (through the channels-last shape for ``order="hwc"``)."""
    if order == "chw":
        return (cotangent.reshape(x.shape),)
    return (np.moveaxis(cotangent.reshape(x.shape[0], *x.shape[2:], x.shape[1]), -1, 1),)
