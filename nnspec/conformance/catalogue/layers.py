"""Catalogue rows of the layers family: dense, conv1d, conv2d, conv2d_transpose, max/avg/global pools and flatten.

Examples come from short menus of *geometries* (batch, channels, spatial size, kernel,
stride, padding, dilation, groups, fixed together): a compiling framework pays one compile
per shape, so the menu is what a run costs, and each entry is there for a way ports break —
odd and even sizes, stride-2 "same" with an odd total pad (where frameworks put the extra
cell), explicit asymmetric pads, dilation, groups and a depthwise multiplier, a kernel as
large as the input. Values are uniform in ±s (s drawn from a short list) from a NumPy
generator seeded by hypothesis; inputs are finite, so every example checks the gradient.

Tolerances follow the sum being computed. A dot product of K terms rounds by at most
γ_K·Σ|x||w| (Higham 2002, §3.1), K units of the floor's last place: each row's floor is the
op evaluated on magnitudes (forward: Σ|x||w| + |b| per output; gradient: the VJP of |g| on
|x|, |w|), and each example's extra ULPs are its longest sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from ...spec import layers as L
from .. import strategies as S
from . import OpEntry, Tolerance

SCALES = (1.0, 4.0, 0.25)


@dataclass(frozen=True)
class Conv:
    N: int
    C: int
    H: int
    W: int
    O: int
    KH: int
    KW: int
    stride: tuple = (1, 1)
    padding: object = "valid"
    dilation: tuple = (1, 1)
    groups: int = 1


CONVS = [
    Conv(1, 1, 3, 3, 1, 1, 1),  # the minimal one, first: shrinking goes here
    Conv(2, 3, 5, 6, 4, 3, 3, padding="same"),  # odd and even sizes, stride 1 'same'
    Conv(2, 2, 6, 7, 3, 3, 2, stride=(2, 2), padding="same"),  # stride 2: one odd pad on each axis
    Conv(1, 4, 7, 5, 4, 3, 3, stride=(1, 2), padding=((1, 0), (2, 1)), dilation=(2, 1), groups=2),
    Conv(2, 3, 4, 4, 6, 3, 3, padding="same", groups=3),  # depthwise, multiplier 2
    Conv(1, 2, 4, 5, 3, 4, 5),  # the kernel is the whole input
    Conv(1, 2, 5, 5, 2, 2, 2, stride=(2, 2), dilation=(2, 2)),
    Conv(1, 2, 8, 8, 4, 3, 3, stride=(2, 2), padding="same"),  # even input, stride 2: the pad goes after
]


@dataclass(frozen=True)
class Conv1d:
    N: int
    C: int
    L: int
    O: int
    K: int
    stride: int = 1
    padding: object = "valid"
    dilation: int = 1
    groups: int = 1


CONV1DS = [
    Conv1d(1, 1, 3, 1, 1),
    Conv1d(2, 3, 7, 4, 3, padding="same"),
    Conv1d(1, 2, 7, 2, 4, padding="same"),  # even kernel at stride 1: an odd total pad
    Conv1d(2, 2, 6, 3, 3, stride=2, padding="same"),  # stride 2: the odd pad after
    Conv1d(1, 4, 9, 4, 3, stride=2, padding=(2, 1), dilation=2, groups=2),  # explicit, asymmetric
    Conv1d(2, 3, 5, 6, 3, padding="same", groups=3),  # depthwise, multiplier 2
    Conv1d(1, 2, 5, 3, 5),  # the kernel is the whole input
]


@dataclass(frozen=True)
class ConvT:
    """A transposed convolution: x (N, C, H, W), kernel (C, O/groups, KH, KW)."""
    N: int
    C: int
    H: int
    W: int
    O: int
    KH: int
    KW: int
    stride: tuple = (1, 1)
    padding: object = "valid"
    output_padding: tuple = (0, 0)
    dilation: tuple = (1, 1)
    groups: int = 1


CONVTS = [
    ConvT(1, 1, 2, 2, 1, 1, 1),
    ConvT(2, 3, 3, 4, 2, 3, 3, stride=(2, 2), output_padding=(1, 0)),  # the decoder's upsampling by 2
    ConvT(2, 2, 3, 3, 3, 3, 3, stride=(2, 2), padding="same"),  # total pad 1: the odd cell after
    ConvT(1, 2, 3, 3, 3, 3, 2, stride=(2, 1), padding=((1, 1), (0, 1)), output_padding=(1, 0)),  # explicit, asymmetric
    ConvT(1, 4, 3, 3, 4, 2, 2, stride=(2, 2), padding=((1, 0), (0, 0)), groups=2),
    ConvT(1, 2, 3, 4, 2, 2, 2, padding="same"),  # stride 1, even kernel: odd total pad
    ConvT(1, 2, 2, 3, 2, 3, 3, stride=(2, 2), dilation=(2, 2)),
    ConvT(1, 2, 3, 3, 4, 4, 4, stride=(2, 2), padding="same"),  # even kernel, stride 2: pads (1, 1)
]


@dataclass(frozen=True)
class Pool:
    N: int
    C: int
    H: int
    W: int
    window: tuple
    stride: tuple | None = None
    padding: object = "valid"


POOLS = [
    Pool(1, 1, 2, 2, (2, 2)),
    Pool(2, 3, 5, 6, (2, 2)),  # the odd row is dropped
    Pool(2, 2, 5, 6, (3, 3), (2, 2), "same"),  # pads (1, 1) and (0, 1)
    Pool(1, 2, 6, 5, (3, 2), (1, 1), "same"),  # overlapping windows
    Pool(1, 2, 5, 5, (3, 3), (2, 1), ((1, 1), (1, 0))),  # explicit, asymmetric
    Pool(1, 1, 4, 4, (4, 4), (1, 1)),  # the window is the whole input
]
DENSE = [(1, 1, 1), (3, 5, 4), (2, 64, 16)]  # (batch, in, out)
IMAGES = [(1, 1, 1, 1), (2, 3, 4, 5), (2, 4, 7, 7)]  # NCHW for global pools and flatten


def _uniform(draw, rng, dtype, shape):
    scale = draw(st.sampled_from(SCALES))
    return rng.uniform(-scale, scale, shape).astype(S.np_dtype(dtype))


def _rng(draw):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def from_menu(dtype, inputs):
    """Structural parameters are drawn with the shapes, from the geometry menus above."""
    raise NotImplementedError("drawn by the row's example strategy")


def dense_examples(dtype, params):
    @st.composite
    def example(draw):
        N, I, O = draw(st.sampled_from(DENSE))
        rng = _rng(draw)
        inputs = [_uniform(draw, rng, dtype, s) for s in ((N, I), (O, I), (O,))]
        return S.Example(inputs, _uniform(draw, rng, dtype, (N, O)), {})

    return example()


def conv_examples(dtype, params):
    @st.composite
    def example(draw):
        c = draw(st.sampled_from(CONVS))
        rng = _rng(draw)
        x = _uniform(draw, rng, dtype, (c.N, c.C, c.H, c.W))
        w = _uniform(draw, rng, dtype, (c.O, c.C // c.groups, c.KH, c.KW))
        b = _uniform(draw, rng, dtype, (c.O,))
        drawn = {"stride": c.stride, "padding": c.padding, "dilation": c.dilation, "groups": c.groups}
        y = L.conv2d(x, w, b, **drawn)
        return S.Example([x, w, b], _uniform(draw, rng, dtype, y.shape), drawn)

    return example()


def conv1d_examples(dtype, params):
    @st.composite
    def example(draw):
        c = draw(st.sampled_from(CONV1DS))
        rng = _rng(draw)
        x = _uniform(draw, rng, dtype, (c.N, c.C, c.L))
        w = _uniform(draw, rng, dtype, (c.O, c.C // c.groups, c.K))
        b = _uniform(draw, rng, dtype, (c.O,))
        drawn = {"stride": c.stride, "padding": c.padding, "dilation": c.dilation, "groups": c.groups}
        y = L.conv1d(x, w, b, **drawn)
        return S.Example([x, w, b], _uniform(draw, rng, dtype, y.shape), drawn)

    return example()


def conv_transpose_examples(dtype, params):
    @st.composite
    def example(draw):
        c = draw(st.sampled_from(CONVTS))
        rng = _rng(draw)
        x = _uniform(draw, rng, dtype, (c.N, c.C, c.H, c.W))
        w = _uniform(draw, rng, dtype, (c.C, c.O // c.groups, c.KH, c.KW))
        b = _uniform(draw, rng, dtype, (c.O,))
        drawn = {"stride": c.stride, "padding": c.padding, "output_padding": c.output_padding,
                 "dilation": c.dilation, "groups": c.groups}
        y = L.conv2d_transpose(x, w, b, **drawn)
        return S.Example([x, w, b], _uniform(draw, rng, dtype, y.shape), drawn)

    return example()


def pool_examples(op):
    def factory(dtype, params):
        @st.composite
        def example(draw):
            p = draw(st.sampled_from(POOLS))
            rng = _rng(draw)
            x = _uniform(draw, rng, dtype, (p.N, p.C, p.H, p.W))
            drawn = {"window": p.window, "stride": p.stride, "padding": p.padding}
            if op == "avg_pool2d":
                drawn["count_include_pad"] = draw(st.booleans())
            y = getattr(L, op)(x, **drawn)
            return S.Example([x], _uniform(draw, rng, dtype, y.shape), drawn)

        return example()

    return factory


def image_examples(op):
    def factory(dtype, params):
        @st.composite
        def example(draw):
            shape = draw(st.sampled_from(IMAGES))
            rng = _rng(draw)
            x = _uniform(draw, rng, dtype, shape)
            return S.Example([x], _uniform(draw, rng, dtype, getattr(L, op)(x).shape), {})

        return example()

    return factory


# floors and sum lengths ----------------------------------------------------------------------------


def _wide(example):
    return [np.abs(a.astype(np.float64)) for a in example.inputs], np.abs(example.cotangent.astype(np.float64))


def magnitude_forward(op):
    """The op on |inputs|: Σ|x||w| + |b| per output for dense and conv, the mean of |x| for average pools."""

    def floor(example):
        inputs, _ = _wide(example)
        return getattr(L, op)(*inputs, **example.params)

    return floor


def magnitude_vjp(op, abs_inputs=True):
    """The VJP of |g| (on |x|, |w| where the op is linear in them; on x itself for the max pools,
    whose gradient goes where the maxima are): per gradient element, the magnitudes it sums."""

    def floor(example):
        inputs, g = _wide(example)
        inputs = inputs if abs_inputs else [a.astype(np.float64) for a in example.inputs]
        return tuple(getattr(L, f"{op}_vjp")(*inputs, g, **example.params))

    return floor


def conv_terms(example):
    """The longest sum: Cg·KH·KW + 1 products per output, N·OH·OW per weight, O/groups·KH·KW per input cell."""
    x, w, _ = example.inputs
    g = example.cotangent
    O, Cg, KH, KW = w.shape
    groups = example.params["groups"]
    return max(Cg * KH * KW + 1, g.shape[0] * g.shape[2] * g.shape[3], O // groups * KH * KW)


def conv1d_terms(example):
    """As conv2d's: Cg·K + 1 products per output, N·OL per weight, O/groups·K per input cell."""
    x, w, _ = example.inputs
    O, Cg, K = w.shape
    g = example.cotangent
    return max(Cg * K + 1, g.shape[0] * g.shape[2], O // example.params["groups"] * K)


def conv_transpose_terms(example):
    """The adjoint's sums: (C/groups)·KH·KW + 1 per output (at most), N·H·W per weight and N·OH·OW for the bias,
    O/groups·KH·KW per input cell (its gradient is a conv2d of g)."""
    x, w, _ = example.inputs
    C, Og, KH, KW = w.shape
    g = example.cotangent
    return max(C // example.params["groups"] * KH * KW + 1, x.shape[0] * x.shape[2] * x.shape[3],
               g.shape[0] * g.shape[2] * g.shape[3], Og * KH * KW)


def dense_terms(example):
    x, w, _ = example.inputs
    return max(x.shape[-1] + 1, math.prod(x.shape[:-1]), w.shape[0])


def window_terms(example):
    window = L._pair(example.params["window"])
    return window[0] * window[1]


def image_terms(example):
    return math.prod(example.inputs[0].shape[2:])


SUM_REASON = ("of max(|{y}|, {floor}): a sum of K terms rounds by at most K·u times the sum of their magnitudes "
              "(Higham 2002, §3.1), +K ULPs of that floor, K this example's longest sum; +4 for rounding the "
              "output and low-precision inputs")
EXACT = Tolerance(0, "selects or moves input elements: exact in every dtype")

WEIGHTS = ("w", "b")
CONV_PARAMS = {"stride": from_menu, "padding": from_menu, "dilation": from_menu, "groups": from_menu}
CONV_VARIANTS = {"same_odd_pad": ("before",), "kernel_flip": (True,)}
POOL_PARAMS = {"window": from_menu, "stride": from_menu, "padding": from_menu}


def _linear_row(op, terms, params, inputs, variants=None):
    return OpEntry(
        op, "layers", getattr(L, op), getattr(L, f"{op}_vjp"),
        Tolerance(4, SUM_REASON.format(y="y", floor="Σ|x||w| + |b| per output"), floor=magnitude_forward(op),
                  extra=terms),
        Tolerance(4, SUM_REASON.format(y="g", floor="the VJP of |g| on |x|, |w|"), extra=terms),
        params=params, variants=variants or {}, inputs=inputs, wrt=(0, 1, 2), gradient_floor=magnitude_vjp(op),
        checks=("values", "defaults", "layout"), weights=WEIGHTS,
    )


def _pool_row(op, forward_tol, gradient_tol, inputs, params=None, variants=None, abs_inputs=True,
              forward_floor=None):
    checks = ("values", "defaults") if params else ("values",)
    if forward_floor is not None:
        forward_tol = Tolerance(forward_tol.max_ulp, forward_tol.reason, floor=forward_floor, extra=forward_tol.extra)
    return OpEntry(op, "layers", getattr(L, op), getattr(L, f"{op}_vjp"), forward_tol, gradient_tol,
                   params=params or {}, variants=variants or {}, inputs=inputs,
                   gradient_floor=magnitude_vjp(op, abs_inputs), checks=checks)


def _average(terms):
    return Tolerance(4, SUM_REASON.format(y="y", floor="the mean of |x| over the window") + "; 1/d may be rounded "
                     "before the product", extra=terms)


def _scatter(terms, what):
    return Tolerance(4, f"of max(|dx|, Σ|g| per cell): each input cell sums the g of every window {what} "
                     "(+K ULPs, K the window's cells)", extra=terms)


TIES = {"ties": ("spread",)}
SHARED = Tolerance(1, "g itself, or g/k shared among k tied maxima (the ties='spread' variant): one rounding")

ROWS = [
    _linear_row("dense", dense_terms, {}, dense_examples),
    _linear_row("conv1d", conv1d_terms, CONV_PARAMS, conv1d_examples, CONV_VARIANTS),
    _linear_row("conv2d", conv_terms, CONV_PARAMS, conv_examples, {"same_odd_pad": ("before",)}),
    _linear_row("conv2d_transpose", conv_transpose_terms, {**CONV_PARAMS, "output_padding": from_menu},
                conv_transpose_examples, CONV_VARIANTS),
    _pool_row("max_pool2d", EXACT, _scatter(window_terms, "whose maximum it is"), pool_examples("max_pool2d"),
              POOL_PARAMS, TIES, abs_inputs=False),
    _pool_row("avg_pool2d", _average(window_terms), _scatter(window_terms, "that holds it"),
              pool_examples("avg_pool2d"), {**POOL_PARAMS, "count_include_pad": from_menu},
              {"count_include_pad": (True,)}, forward_floor=magnitude_forward("avg_pool2d")),
    _pool_row("global_avg_pool2d", _average(image_terms), Tolerance(4, "g/(H·W): one division, rounded"),
              image_examples("global_avg_pool2d"), forward_floor=magnitude_forward("global_avg_pool2d")),
    _pool_row("global_max_pool2d", EXACT, SHARED, image_examples("global_max_pool2d"), variants=TIES,
              abs_inputs=False),
    _pool_row("flatten", EXACT, EXACT, image_examples("flatten"), variants={"order": ("hwc",)}),
]
