"""The layers spec against independent oracles: loops over the definitions, finite differences, closed forms.

* Forward: a direct nested-loop transcription of each docstring formula, summed with
  ``math.fsum`` (correctly rounded), reading out-of-bounds cells as the pad value instead of
  padding an array, with "same" pads from TensorFlow's documented formula.
* VJPs: the adjoint identity ⟨g, J·v⟩ = ⟨VJP(g), v⟩ with J·v a central finite difference
  (conv and dense are linear in each input, so the difference is exact up to rounding; the
  pools are piecewise linear and drawn without ties).
* Closed forms: an identity kernel returns x, an all-ones kernel the box sums, the average
  of ones is one, TF's "same" examples.
"""

from __future__ import annotations

import inspect
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnspec.spec import layers as L

REQUIRED = inspect.Parameter.empty


# oracles ---------------------------------------------------------------------------------------


def tf_same_pads(n, k, s, d=1):
    """TensorFlow's documented 'SAME': out = ⌈n/s⌉, pad = max((out−1)·s + k_eff − n, 0), top = pad // 2."""
    k_eff = (k - 1) * d + 1
    out = math.ceil(n / s)
    pad = max((out - 1) * s + k_eff - n, 0)
    return pad // 2, pad - pad // 2


def explicit(padding, spatial, kernel, stride, dilation):
    if padding == "valid":
        return [(0, 0), (0, 0)]
    if padding == "same":
        return [tf_same_pads(n, k, s, d) for n, k, s, d in zip(spatial, kernel, stride, dilation)]
    return [tuple(p) for p in padding]


def cell(x, n, c, r, q, pad, fill):
    """x_pad[n, c, r, q] without building x_pad."""
    r, q = r - pad[0][0], q - pad[1][0]
    return x[n, c, r, q] if 0 <= r < x.shape[2] and 0 <= q < x.shape[3] else fill


def out_size(n, pad, k, s, d):
    return (n + sum(pad) - (k - 1) * d - 1) // s + 1


def conv_oracle(x, w, b, stride, padding, dilation, groups):
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    pad = explicit(padding, (H, W), (KH, KW), stride, dilation)
    OH, OW = out_size(H, pad[0], KH, stride[0], dilation[0]), out_size(W, pad[1], KW, stride[1], dilation[1])
    y = np.zeros((N, O, OH, OW))
    for n, o, i, j in itertools.product(range(N), range(O), range(OH), range(OW)):
        g = o // (O // groups)
        terms = [cell(x, n, g * Cg + c, i * stride[0] + p * dilation[0], j * stride[1] + q * dilation[1], pad, 0.0)
                 * w[o, c, p, q] for c in range(Cg) for p in range(KH) for q in range(KW)]
        y[n, o, i, j] = math.fsum([b[o], *terms])
    return y


def pool_oracle(x, window, stride, padding, kind, count_include_pad=False):
    N, C, H, W = x.shape
    stride = stride or window
    pad = explicit(padding, (H, W), window, stride, (1, 1))
    OH, OW = out_size(H, pad[0], window[0], stride[0], 1), out_size(W, pad[1], window[1], stride[1], 1)
    y = np.zeros((N, C, OH, OW))
    for n, c, i, j in itertools.product(range(N), range(C), range(OH), range(OW)):
        cells = [cell(x, n, c, i * stride[0] + p, j * stride[1] + q, pad, None)
                 for p in range(window[0]) for q in range(window[1])]
        inside = [v for v in cells if v is not None]
        if kind == "max":
            y[n, c, i, j] = max(inside)
        else:
            y[n, c, i, j] = math.fsum(inside) / (len(cells) if count_include_pad else len(inside))
    return y


def adjoint_gap(f, vjp, inputs, rng, h=1e-3):
    """max over inputs k of |⟨g, J_k·v⟩ − ⟨VJP_k(g), v⟩|, relative to the scale of the products."""
    y = f(*inputs)
    g = rng.normal(size=np.shape(y))
    grads = vjp(*inputs, g)
    gaps = []
    for k, x in enumerate(inputs):
        v = rng.normal(size=x.shape)
        plus = [a + h * v if i == k else a for i, a in enumerate(inputs)]
        minus = [a - h * v if i == k else a for i, a in enumerate(inputs)]
        jv = (f(*plus) - f(*minus)) / (2 * h)
        lhs, rhs = math.fsum((g * jv).ravel()), math.fsum((grads[k] * v).ravel())
        gaps.append(abs(lhs - rhs) / (1 + math.fsum(np.abs(g * jv).ravel())))
    return max(gaps)


# geometry drawn by hypothesis -----------------------------------------------------------------------


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 2]))
    C, O = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    H, W = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["valid", "same", "explicit"]))
    if padding == "explicit":
        padding = ((draw(st.integers(0, 2)), draw(st.integers(0, 2))), (draw(st.integers(0, 2)), draw(st.integers(0, 2))))
    pad = explicit(padding, (H, W), (1, 1), stride, dilation)
    # kernels up to the (padded) input: the extent (k−1)·d + 1 fits
    KH = draw(st.integers(1, max(1, (H + sum(pad[0]) - 1) // dilation[0] + 1)))
    KW = draw(st.integers(1, max(1, (W + sum(pad[1]) - 1) // dilation[1] + 1)))
    if padding == "same":
        pad = explicit(padding, (H, W), (KH, KW), stride, dilation)
    if (KH - 1) * dilation[0] + 1 > H + sum(pad[0]) or (KW - 1) * dilation[1] + 1 > W + sum(pad[1]):
        KH = KW = 1
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    N = draw(st.integers(1, 2))
    x, w, b = rng.normal(size=(N, C, H, W)), rng.normal(size=(O, C // groups, KH, KW)), rng.normal(size=O)
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@st.composite
def pool_cases(draw):
    H, W = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    window = (draw(st.integers(1, H)), draw(st.integers(1, W)))
    stride = draw(st.sampled_from([None, (1, 1), (2, 2), (1, 3)]))
    padding = draw(st.sampled_from(["valid", "same", ((0, 1), (1, 0))]))
    if padding != "valid" and padding != "same" and (window[0] < 2 or window[1] < 2):
        padding = "valid"  # a pad must not make a window of pads only
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(size=(draw(st.integers(1, 2)), draw(st.integers(1, 2)), H, W))
    return x, dict(window=window, stride=stride, padding=padding)


# forward --------------------------------------------------------------------------------------------


@settings(max_examples=60)
@given(conv_cases())
def test_conv2d_is_the_nested_loop_definition(case):
    x, w, b, params = case
    np.testing.assert_allclose(L.conv2d(x, w, b, **params), conv_oracle(x, w, b, **params), rtol=1e-12, atol=1e-12)


@settings(max_examples=40)
@given(pool_cases(), st.booleans())
def test_pools_are_the_nested_loop_definitions(case, count_include_pad):
    x, params = case
    np.testing.assert_array_equal(L.max_pool2d(x, **params), pool_oracle(x, kind="max", **params))
    np.testing.assert_allclose(L.avg_pool2d(x, **params, count_include_pad=count_include_pad),
                               pool_oracle(x, kind="avg", count_include_pad=count_include_pad, **params),
                               rtol=1e-13, atol=1e-15)


def test_dense_is_the_sum_of_products():
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=5)
    oracle = [[math.fsum([b[o], *(x[n, i] * w[o, i] for i in range(4))]) for o in range(5)] for n in range(3)]
    np.testing.assert_allclose(L.dense(x, w, b), oracle, rtol=1e-14)


def test_global_pools_and_flatten():
    x = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)
    np.testing.assert_array_equal(L.global_avg_pool2d(x), x.reshape(2, 3, 4).mean(-1))
    np.testing.assert_array_equal(L.global_max_pool2d(x), x[:, :, 1, 1])
    # NCHW flatten reads channel first: element (n, c, i, j) lands at (c·H + i)·W + j; channels last at (i·W + j)·C + c
    assert L.flatten(x)[1, (2 * 2 + 1) * 2 + 0] == x[1, 2, 1, 0]
    assert L.flatten(x, order="hwc")[1, (1 * 2 + 0) * 3 + 2] == x[1, 2, 1, 0]


# closed forms -----------------------------------------------------------------------------------------


def test_an_identity_kernel_returns_the_input():
    x = np.random.default_rng(2).normal(size=(2, 3, 5, 4))
    w = np.zeros((3, 3, 3, 3))
    for c in range(3):
        w[c, c, 1, 1] = 1.0
    np.testing.assert_array_equal(L.conv2d(x, w, np.zeros(3), padding="same"), x)
    depthwise = np.zeros((3, 1, 1, 1)) + 1.0
    np.testing.assert_array_equal(L.conv2d(x, depthwise, np.zeros(3), groups=3), x)


def test_an_all_ones_kernel_sums_the_box():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    y = L.conv2d(x, np.ones((1, 1, 2, 2)), np.zeros(1), stride=(2, 2))
    np.testing.assert_array_equal(y[0, 0], [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]])


def test_same_puts_the_odd_pad_after_and_the_variant_before():
    """TF's formula: n = 4, k = 2, s = 1 → one pad cell, at the bottom/right; stride 2, n = 5, k = 3 → (1, 1)."""
    assert L.same_pads(4, 2, 1, 1) == (0, 1) and L.same_pads(4, 2, 1, 1, "before") == (1, 0)
    assert L.same_pads(5, 3, 2, 1) == (1, 1) and L.same_pads(6, 3, 2, 1) == (0, 1)
    x = np.arange(4.0).reshape(1, 1, 1, 4)
    w = np.ones((1, 1, 1, 2))
    np.testing.assert_array_equal(L.conv2d(x, w, np.zeros(1), padding="same")[0, 0, 0], [1, 3, 5, 3])
    np.testing.assert_array_equal(L.conv2d(x, w, np.zeros(1), padding="same", same_odd_pad="before")[0, 0, 0],
                                  [0, 1, 3, 5])


def test_the_average_of_ones_is_one_without_pads_and_less_with_them():
    ones = np.ones((1, 1, 3, 3))
    assert np.all(L.avg_pool2d(ones, window=(2, 2), stride=(1, 1), padding="same") == 1.0)
    counted = L.avg_pool2d(ones, window=(2, 2), stride=(1, 1), padding="same", count_include_pad=True)
    assert counted[0, 0, -1, -1] == 0.25 and counted[0, 0, 0, 0] == 1.0


def test_max_pool_ignores_pads_even_below_zero():
    x = -np.ones((1, 1, 2, 2))
    assert np.all(L.max_pool2d(x, window=(2, 2), stride=(1, 1), padding="same") == -1.0)


# VJPs -------------------------------------------------------------------------------------------------


@settings(max_examples=40)
@given(conv_cases())
def test_conv2d_vjp_is_the_adjoint_of_its_derivative(case):
    x, w, b, params = case
    gap = adjoint_gap(lambda *a: L.conv2d(*a, **params), lambda *a: L.conv2d_vjp(*a, **params), [x, w, b],
                      np.random.default_rng(0))
    assert gap < 1e-9


def test_dense_vjp_is_the_adjoint_of_its_derivative():
    rng = np.random.default_rng(3)
    inputs = [rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4)), rng.normal(size=5)]
    assert adjoint_gap(L.dense, L.dense_vjp, inputs, rng) < 1e-9


@settings(max_examples=30)
@given(pool_cases(), st.booleans())
def test_pool_vjps_are_the_adjoints_of_their_derivatives(case, count_include_pad):
    x, params = case
    rng = np.random.default_rng(4)
    assert adjoint_gap(lambda a: L.max_pool2d(a, **params), lambda a, g: L.max_pool2d_vjp(a, g, **params), [x],
                       rng) < 1e-8
    assert adjoint_gap(lambda a: L.avg_pool2d(a, **params, count_include_pad=count_include_pad),
                       lambda a, g: L.avg_pool2d_vjp(a, g, **params, count_include_pad=count_include_pad), [x],
                       rng) < 1e-9


@pytest.mark.parametrize("op", ["global_avg_pool2d", "global_max_pool2d", "flatten"])
def test_reduction_and_reshape_vjps_are_adjoints(op):
    rng = np.random.default_rng(5)
    assert adjoint_gap(getattr(L, op), getattr(L, f"{op}_vjp"), [rng.normal(size=(2, 3, 3, 2))], rng) < 1e-8


def test_the_channels_last_flatten_vjp_is_its_adjoint():
    rng = np.random.default_rng(6)
    assert adjoint_gap(lambda a: L.flatten(a, order="hwc"), lambda a, g: L.flatten_vjp(a, g, order="hwc"),
                       [rng.normal(size=(2, 3, 3, 2))], rng) < 1e-12


def test_max_gradients_go_to_the_first_tie_or_are_spread():
    x = np.zeros((1, 1, 2, 2))
    g = np.ones((1, 1, 1, 1))
    np.testing.assert_array_equal(L.max_pool2d_vjp(x, g, window=(2, 2))[0][0, 0], [[1, 0], [0, 0]])
    np.testing.assert_array_equal(L.max_pool2d_vjp(x, g, window=(2, 2), ties="spread")[0][0, 0], np.full((2, 2), 0.25))
    np.testing.assert_array_equal(L.global_max_pool2d_vjp(x, g[:, :, 0, 0], ties="spread")[0][0, 0],
                                  np.full((2, 2), 0.25))


# defaults, pinned -----------------------------------------------------------------------------------


def test_defaults_are_pinned():
    """torch's and Keras' layers: stride 1, no padding ('valid'), no dilation, one group; pools stride by their
    window; TF's 'SAME' average excludes pads; the odd 'same' pad after (TF's formula)."""
    def defaults(f):
        return {n: p.default for n, p in inspect.signature(f).parameters.items() if p.default is not REQUIRED}

    assert defaults(L.conv2d) == {"stride": (1, 1), "padding": "valid", "dilation": (1, 1), "groups": 1,
                                  "same_odd_pad": "after"}
    assert defaults(L.max_pool2d) == {"stride": None, "padding": "valid"}
    assert defaults(L.avg_pool2d) == {"stride": None, "padding": "valid", "count_include_pad": False}
    assert defaults(L.max_pool2d_vjp)["ties"] == "first" and defaults(L.global_max_pool2d_vjp) == {"ties": "first"}


# conv1d and conv2d_transpose ----------------------------------------------------------------------------


def conv1d_oracle(x, w, b, stride, padding, dilation, groups):
    """The 1-D definition as a loop, out-of-range cells read as 0, 'same' from TF's formula."""
    N, C, L_ = x.shape
    O, Cg, K = w.shape
    pad = tf_same_pads(L_, K, stride, dilation) if padding == "same" else (0, 0) if padding == "valid" else padding
    OL = out_size(L_, pad, K, stride, dilation)
    y = np.zeros((N, O, OL))
    for n, o, i in itertools.product(range(N), range(O), range(OL)):
        g = o // (O // groups)
        terms = []
        for c, p in itertools.product(range(Cg), range(K)):
            r = i * stride + p * dilation - pad[0]
            terms.append(x[n, g * Cg + c, r] * w[o, c, p] if 0 <= r < L_ else 0.0)
        y[n, o, i] = math.fsum([b[o], *terms])
    return y


@st.composite
def conv1d_cases(draw):
    groups = draw(st.sampled_from([1, 2]))
    C, O = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    n, stride, dilation = draw(st.integers(1, 7)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    padding = draw(st.sampled_from(["valid", "same", (0, 1), (2, 0), (1, 1)]))
    before_after = (0, 0) if isinstance(padding, str) else padding
    K = draw(st.integers(1, max(1, (n + sum(before_after) - 1) // dilation + 1)))  # 'same' pads any kernel
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x, w, b = rng.normal(size=(draw(st.integers(1, 2)), C, n)), rng.normal(size=(O, C // groups, K)), rng.normal(size=O)
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@settings(max_examples=60)
@given(conv1d_cases())
def test_conv1d_is_the_nested_loop_definition(case):
    x, w, b, params = case
    np.testing.assert_allclose(L.conv1d(x, w, b, **params), conv1d_oracle(x, w, b, **params), rtol=1e-12, atol=1e-12)


def test_conv1d_kernel_flip_is_numpy_convolve():
    """The variant is the convolution of signal processing: np.convolve's 'valid' part."""
    x, w = np.array([1.0, 2.0, -1.0, 3.0, 0.5]), np.array([1.0, 0.0, -2.0])
    flipped = L.conv1d(x[None, None], w[None, None], np.zeros(1), kernel_flip=True)[0, 0]
    np.testing.assert_array_equal(flipped, np.convolve(x, w, mode="valid"))
    np.testing.assert_array_equal(L.conv1d(x[None, None], w[None, None], np.zeros(1))[0, 0],
                                  np.correlate(x, w, mode="valid"))


@settings(max_examples=40)
@given(conv1d_cases(), st.booleans())
def test_conv1d_vjp_is_the_adjoint_of_its_derivative(case, kernel_flip):
    x, w, b, params = case
    gap = adjoint_gap(lambda *a: L.conv1d(*a, **params, kernel_flip=kernel_flip),
                      lambda *a: L.conv1d_vjp(*a, **params, kernel_flip=kernel_flip), [x, w, b],
                      np.random.default_rng(0))
    assert gap < 1e-9


def transpose_scatter_oracle(x, w, b, stride, padding, output_padding, dilation, groups):
    """A direct loop: every x[n, c, i, j]·w[c, o, p, q] added at output cell (i·sh + p·dh − top, j·sw + q·dw − left),
    the cells outside the output dropped; 'same' pads from TF's formula on an H·s input."""
    N, C, H, W = x.shape
    _, Og, KH, KW = w.shape
    Cg = C // groups
    if padding == "same":
        OH, OW = H * stride[0], W * stride[1]
        top, left = (tf_same_pads(n, k, s, d)[0] for n, k, s, d in zip((OH, OW), (KH, KW), stride, dilation))
    else:
        pad = [(0, 0), (0, 0)] if padding == "valid" else padding
        (top, bottom), (left, right) = pad
        OH = (H - 1) * stride[0] - top - bottom + (KH - 1) * dilation[0] + 1 + output_padding[0]
        OW = (W - 1) * stride[1] - left - right + (KW - 1) * dilation[1] + 1 + output_padding[1]
    terms = {}
    for n, c, i, j, o, p, q in itertools.product(range(N), range(C), range(H), range(W), range(Og), range(KH),
                                                 range(KW)):
        r, s = i * stride[0] + p * dilation[0] - top, j * stride[1] + q * dilation[1] - left
        if 0 <= r < OH and 0 <= s < OW:
            terms.setdefault((n, (c // Cg) * Og + o, r, s), []).append(x[n, c, i, j] * w[c, o, p, q])
    y = np.zeros((N, Og * groups, OH, OW))
    for n, o, r, s in itertools.product(range(N), range(Og * groups), range(OH), range(OW)):
        y[n, o, r, s] = math.fsum([b[o], *terms.get((n, o, r, s), [])])
    return y


@st.composite
def transpose_cases(draw):
    groups = draw(st.sampled_from([1, 2]))
    C, O = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    KH, KW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same", "explicit"]))
    output_padding = (0, 0)
    if padding == "explicit":
        # pads that leave at least one output cell: at most the full extent (H − 1)·s + (k − 1)·d + 1, less one
        extent = [(n - 1) * s + (k - 1) * d + 1 for n, k, s, d in zip((H, W), (KH, KW), stride, dilation)]
        padding = tuple((t, min(draw(st.integers(0, 2)), e - 1 - t)) for e in extent
                        for t in [min(draw(st.integers(0, 2)), e - 1)])
    if padding != "same":
        output_padding = (draw(st.integers(0, stride[0] - 1)), draw(st.integers(0, stride[1] - 1)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    N = draw(st.integers(1, 2))
    x, w, b = rng.normal(size=(N, C, H, W)), rng.normal(size=(C, O // groups, KH, KW)), rng.normal(size=O)
    return x, w, b, dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation,
                         groups=groups)


@settings(max_examples=60)
@given(transpose_cases())
def test_conv2d_transpose_is_the_direct_scatter(case):
    x, w, b, params = case
    np.testing.assert_allclose(L.conv2d_transpose(x, w, b, **params), transpose_scatter_oracle(x, w, b, **params),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=60)
@given(transpose_cases(), st.sampled_from(L.SAME_ODD_PADS))
def test_conv2d_transpose_is_the_adjoint_of_conv2d(case, same_odd_pad):
    """⟨conv2d(z, w), x⟩ = ⟨z, conv2d_transpose(x, w)⟩, both sides summed correctly rounded: equal to float64
    rounding of the products (a few ULPs of Σ|products|), for every padding, stride, dilation and group."""
    x, w, _, params = case
    zero = np.zeros(w.shape[1] * params["groups"])
    y = L.conv2d_transpose(x, w, zero, **params, same_odd_pad=same_odd_pad)
    z = np.random.default_rng(7).normal(size=y.shape)
    conv = {k: v for k, v in params.items() if k != "output_padding"}
    forward = L.conv2d(z, w, np.zeros(w.shape[0]), **conv, same_odd_pad=same_odd_pad)
    assert forward.shape == x.shape
    lhs, rhs = math.fsum((forward * x).ravel()), math.fsum((z * y).ravel())
    scale = math.fsum(np.abs(L.conv2d(np.abs(z), np.abs(w), np.zeros(w.shape[0]), **conv) * np.abs(x)).ravel())
    assert abs(lhs - rhs) <= 64 * np.finfo(float).eps * scale


def test_conv2d_transpose_of_a_one_cell_kernel_spreads_x_by_the_stride():
    x = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    y = L.conv2d_transpose(x, np.ones((1, 1, 1, 1)), np.zeros(1), stride=(2, 2), output_padding=(1, 1))
    np.testing.assert_array_equal(y[0, 0], [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])


def test_conv2d_transpose_kernel_flip_reverses_the_kernel():
    rng = np.random.default_rng(8)
    x, w, b = rng.normal(size=(1, 2, 3, 3)), rng.normal(size=(2, 3, 2, 3)), rng.normal(size=3)
    np.testing.assert_array_equal(L.conv2d_transpose(x, w, b, stride=(2, 1), kernel_flip=True),
                                  L.conv2d_transpose(x, w[:, :, ::-1, ::-1], b, stride=(2, 1)))


def test_conv2d_transpose_refuses_what_has_no_adjoint_reading():
    x, w, b = np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)), np.zeros(1)
    with pytest.raises(ValueError, match="below the stride"):
        L.conv2d_transpose(x, w, b, stride=(2, 2), output_padding=(2, 0))
    with pytest.raises(ValueError, match="same"):
        L.conv2d_transpose(x, w, b, stride=(2, 2), padding="same", output_padding=(1, 0))


@settings(max_examples=40)
@given(transpose_cases(), st.booleans())
def test_conv2d_transpose_vjp_is_the_adjoint_of_its_derivative(case, kernel_flip):
    x, w, b, params = case
    gap = adjoint_gap(lambda *a: L.conv2d_transpose(*a, **params, kernel_flip=kernel_flip),
                      lambda *a: L.conv2d_transpose_vjp(*a, **params, kernel_flip=kernel_flip), [x, w, b],
                      np.random.default_rng(0))
    assert gap < 1e-9


def test_new_conv_defaults_are_pinned():
    """torch's F.conv1d / F.conv_transpose2d: stride 1, no padding, no output padding, no dilation, one group."""
    def defaults(f):
        return {n: p.default for n, p in inspect.signature(f).parameters.items() if p.default is not REQUIRED}

    assert defaults(L.conv1d) == {"stride": 1, "padding": "valid", "dilation": 1, "groups": 1,
                                  "same_odd_pad": "after", "kernel_flip": False}
    assert defaults(L.conv2d_transpose) == {"stride": (1, 1), "padding": "valid", "output_padding": (0, 0),
                                            "dilation": (1, 1), "groups": 1, "same_odd_pad": "after",
                                            "kernel_flip": False}
