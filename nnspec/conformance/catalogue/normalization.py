"""Catalogue rows of the normalization family: batch norm (values, defaults, running_stats).

Examples are (N, C) or NCHW arrays from a short menu of shapes (a compiling framework pays one
compile per shape), with a mean far from 0 beside the spread in a share of them: there
x − μ cancels, and a one-pass variance E[x²] − μ² loses every digit (the pitfall these
examples are drawn to measure). Values come from a NumPy generator seeded by hypothesis.

Error bounds. Each channel's statistics are sums of K = N·H·W terms: the mean is off by up to
K·u·mean|x| and a two-pass variance by K·u·σ² + (K·u·mean|x|)², so the variance counts in ULPs
of σ² + K²·u·mean|x|² (u the dtype's unit roundoff), the mean in ULPs of mean|x|, each + K ULPs.
The output is layer norm's bound per channel: ULPs of (1 + κ)|γ| + |β|, κ = (max|x| + |μ|)/√(σ² + ε)
(x − μ rounded in the dtype is off by ε(|x| + |μ|), relative to the denominator).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ...spec import normalization as N
from .. import strategies as S
from ..measure import finfo
from . import OpEntry, Tolerance

SHAPES = [(4, 3), (2, 3, 4, 4), (3, 2, 3, 5)]  # NC and NCHW; K ≥ 2 values per channel (training needs them)
SCALES = {"float16": (1.0, 1e-2, 4.0)}  # float16 ends at 65504: its batches stay below 4·1000 + 4
DEFAULT_SCALES = (1.0, 1e-2, 1e2)
OFFSETS = (0.0, 10.0, 1000.0)  # the channel means, in units of the spread: x − μ cancels at the larger
MOMENTA = (0.1, 0.01, 0.5, 0.9)
EPSILONS = (1e-5, 1e-3, 0.1)
STEPS = 4  # training steps of the running_stats check, each with a fresh batch


def _rng(draw):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def _batch(draw, rng, dtype, shape, offsets=OFFSETS):
    """Uniform in ±s around a per-channel mean of offset·s (offset and s drawn)."""
    scale, offset = draw(st.sampled_from(SCALES.get(dtype, DEFAULT_SCALES))), draw(st.sampled_from(offsets))
    centres = offset * scale * rng.uniform(0.5, 1.0, shape[1]) * rng.choice([-1.0, 1.0], shape[1])
    x = centres.reshape((1, -1) + (1,) * (len(shape) - 2)) + rng.uniform(-scale, scale, shape)
    return x.astype(S.np_dtype(dtype))


def _state(draw, rng, dtype, channels):
    """Running statistics as a model holds them: torch's initial (0, 1) or ones seen before."""
    if draw(st.booleans()):
        return [np.zeros(channels, S.np_dtype(dtype)), np.ones(channels, S.np_dtype(dtype))]
    return [rng.uniform(-2, 2, channels).astype(S.np_dtype(dtype)),
            rng.uniform(0.1, 4, channels).astype(S.np_dtype(dtype))]


def _params(draw, dtype, affine=(True, False)):
    return {"momentum": S.in_dtype(draw(st.sampled_from(MOMENTA)), dtype),
            "epsilon": S.in_dtype(draw(st.sampled_from(EPSILONS)), dtype), "affine": draw(st.sampled_from(affine))}


def batch_norm_examples(dtype, params):
    @st.composite
    def example(draw):
        shape = draw(st.sampled_from(SHAPES))
        rng = _rng(draw)
        x = _batch(draw, rng, dtype, shape)
        weight = rng.uniform(0.5, 1.5, shape[1]).astype(S.np_dtype(dtype))
        bias = rng.uniform(-1, 1, shape[1]).astype(S.np_dtype(dtype))
        # affine=False leaves γ and β unused: their gradient is the spec's zero (the backends' autodiff gives
        # zeros for an input the output does not depend on, where torch's would raise and TF's give None)
        drawn = {"training": draw(st.booleans()), **_params(draw, dtype)}
        cotangent = rng.uniform(-1, 1, shape).astype(S.np_dtype(dtype))
        return S.Example([x, weight, bias, *_state(draw, rng, dtype, shape[1])], cotangent, drawn)

    return example()


def running_stats_examples(dtype, params):
    """STEPS fresh batches of one shape (xs: (STEPS, N, C, ...)), γ, β, the initial running statistics
    and a batch for the inference after them."""

    @st.composite
    def example(draw):
        shape = draw(st.sampled_from(SHAPES))
        rng = _rng(draw)
        xs = np.stack([_batch(draw, rng, dtype, shape) for _ in range(STEPS)])
        weight = rng.uniform(0.5, 1.5, shape[1]).astype(S.np_dtype(dtype))
        bias = rng.uniform(-1, 1, shape[1]).astype(S.np_dtype(dtype))
        x_eval = _batch(draw, rng, dtype, shape)
        return S.Example([xs, weight, bias, *_state(draw, rng, dtype, shape[1]), x_eval], None,
                         _params(draw, dtype))

    return example()


# floors and sum lengths ----------------------------------------------------------------------------


def _f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def values_per_channel(example):
    """K = N·∏spatial, the length of each channel's sums."""
    x = example.inputs[0]
    return x.shape[0] * int(np.prod(x.shape[2:]))


def state_floors(x, mean, var, momentum, unit):
    """The running statistics' magnitudes after one step: (1 − m)|state| + m·(mean|x|, σ² + K²u·mean|x|²)."""
    rows = N._rows(x)
    k = rows.shape[1]
    magnitude = np.mean(np.abs(rows), axis=-1)
    spread = np.var(rows, axis=-1) * k / (k - 1)
    return ((1 - momentum) * np.abs(mean) + momentum * magnitude,
            (1 - momentum) * np.abs(var) + momentum * (spread + k * k * unit * magnitude**2))


def _grow(example):
    """(1 + κ) per element, κ = (max|x| + |μ|)·r per channel (the running mean in inference), and r."""
    x, weight, _, mean, var = _f64(*example.inputs[:5])
    p = example.params
    if p["training"]:
        rows = N._rows(x)
        _, inverse, _ = N.normalize(rows, p["epsilon"])
        centre, top = np.mean(rows, axis=-1), np.max(np.abs(rows), axis=-1)
        inverse = inverse[:, 0]
    else:
        centre, top = mean, np.max(np.abs(N._rows(x)), axis=-1)
        inverse = 1 / np.sqrt(var + p["epsilon"])
    kappa = (top + np.abs(centre)) * inverse
    return N._per_channel(1 + kappa, x.ndim), N._per_channel(inverse, x.ndim)


def batch_norm_floor(example):
    x, weight, bias, mean, var = _f64(*example.inputs[:5])
    p = example.params
    grow, _ = _grow(example)
    gamma = np.abs(N._per_channel(weight, x.ndim)) if p["affine"] else 1.0
    beta = np.abs(N._per_channel(bias, x.ndim)) if p["affine"] else 0.0
    y = grow * gamma + beta
    if not p["training"]:
        return y, np.abs(mean), np.abs(var)
    unit = float(finfo(example.inputs[0].dtype).eps) / 2
    return (y, *state_floors(x, mean, var, p["momentum"], unit))


def batch_norm_gradient_floor(example):
    x, weight = _f64(*example.inputs[:2])
    p = example.params
    grow, inverse = _grow(example)
    g = np.abs(np.asarray(example.cotangent, dtype=np.float64))
    d_hat = g * (np.abs(N._per_channel(weight, x.ndim)) if p["affine"] else 1.0)
    if p["training"]:
        x_hat = np.abs(N._unrows(N.normalize(N._rows(x), p["epsilon"])[0], x.shape))
        spread = N._per_channel(np.mean(N._rows(d_hat * (1 + x_hat)), axis=-1), x.ndim)
        d_x = inverse * (d_hat + (1 + x_hat) * spread) * grow
    else:
        d_x = d_hat * inverse
    return d_x, np.sum(N._rows(g * grow), axis=-1), np.sum(N._rows(g), axis=-1)


NORMALIZED = Tolerance(
    8, "per channel: a mean, a variance, a root and the affine map, in ULPs of (1 + κ)|γ| + |β|; the running "
       "statistics in ULPs of mean|x| and σ² + K²u·mean|x|² (a two-pass variance's error); + K ULPs, K the "
       "values per channel", floor=batch_norm_floor, extra=values_per_channel)
NORMALIZED_BACKWARD = Tolerance(16, "two channel means and a product per element: in ULPs of their magnitudes, "
                                    "+ K ULPs (the sums over each channel's K values)", extra=values_per_channel)

# l2_normalize ---------------------------------------------------------------------------------------

L2_SHAPES = [(3,), (2, 5), (4, 3, 8)]
L2_EPSILONS = {"float16": (1e-2,)}  # 1e-12 is 0 in float16
DEFAULT_L2_EPSILONS = (1e-12, 1e-6)


def l2_epsilons(dtype, inputs):
    return st.sampled_from(L2_EPSILONS.get(dtype, DEFAULT_L2_EPSILONS)).map(lambda v: S.in_dtype(v, dtype))


def l2_examples(dtype, params):
    """Rows of norm ≈ 1, about ε/10 and 10ε (either side of torch's floor ε), √ε/10 (under TF's floor √ε, above ε),
    zero, and large enough that Σx² overflows the dtype (max|x| ≈ 4·√max) while x itself is far from it."""

    @st.composite
    def example(draw):
        shape = draw(st.sampled_from(L2_SHAPES))
        axis = draw(st.sampled_from(sorted({-1, 0, len(shape) - 1})))
        epsilon = draw(l2_epsilons(dtype, None))
        info = finfo(S.np_dtype(dtype))
        magnitudes = {"one": 1.0, "below": epsilon / 10, "above": 10 * epsilon, "between": np.sqrt(epsilon) / 10,
                      "zero": 0.0, "squares_overflow": 4 * float(np.sqrt(float(info.max)))}
        magnitude = magnitudes[draw(st.sampled_from(list(magnitudes)))]
        rng = _rng(draw)
        n = shape[axis]
        x = (magnitude / np.sqrt(n)) * rng.uniform(-1, 1, shape)
        cotangent = rng.uniform(-1, 1, shape).astype(S.np_dtype(dtype))
        return S.Example([x.astype(S.np_dtype(dtype))], cotangent, {"axis": axis, "epsilon": epsilon})

    return example()


def l2_terms(example):
    return example.inputs[0].shape[example.params["axis"]]


def l2_gradient_floor(example):
    """(|g| + |y|·⟨|y|, |g|⟩)/denominator: the magnitudes dx = (g − y⟨y, g⟩)/n is computed from."""
    x, g = (np.asarray(a, dtype=np.float64) for a in (example.inputs[0], example.cotangent))
    axis = example.params["axis"]
    params = {k: v for k, v in example.params.items() if k in ("axis", "epsilon", "epsilon_at")}
    y = np.abs(N.l2_normalize(x, **params))
    with np.errstate(all="ignore"):
        denominator = np.where(y > 0, np.abs(x) / np.where(y > 0, y, 1.0), np.inf)
        denominator = np.min(denominator, axis=axis, keepdims=True)  # every nonzero element gives |x|/|y|
        floor = (np.abs(g) + y * np.sum(y * np.abs(g), axis=axis, keepdims=True)) / denominator
    return np.where(np.isfinite(floor), floor, np.abs(g))


L2 = Tolerance(4, "a sum of K squares, a root and a division: + K ULPs of |y|, K the length along the axis",
               extra=l2_terms)
L2_BACKWARD = Tolerance(8, "(g − y⟨y, g⟩)/n, in ULPs of (|g| + |y|⟨|y|, |g|⟩)/n: + K ULPs, K the length along the axis",
                        extra=l2_terms)

# group and instance norm ------------------------------------------------------------------------------

# A group spans channels of different means: the textbook variance in float16 (the NumPy baseline) squares their
# distance, which must stay below √65504 ≈ 256
GROUP_OFFSETS = {"float16": (0.0, 10.0, 30.0)}
GROUPINGS = [((1, 2, 2, 2), 1), ((2, 4, 3, 3), 2), ((3, 6, 2, 5), 3), ((2, 4, 4, 1), 4)]  # (NCHW, num_groups)


def grouped_examples(op):
    """NCHW batches with large channel means in a share of them (x − μ cancels), γ near 1, β; instance norm
    takes the shapes without their group counts."""

    def factory(dtype, params):
        @st.composite
        def example(draw):
            shape, groups = draw(st.sampled_from(GROUPINGS))
            rng = _rng(draw)
            x = _batch(draw, rng, dtype, shape, GROUP_OFFSETS.get(dtype, OFFSETS))
            weight = rng.uniform(0.5, 1.5, shape[1]).astype(S.np_dtype(dtype))
            bias = rng.uniform(-1, 1, shape[1]).astype(S.np_dtype(dtype))
            drawn = {"epsilon": S.in_dtype(draw(st.sampled_from(EPSILONS)), dtype), "affine": True}
            if op == "group_norm":
                drawn = {"num_groups": groups, **drawn}
            cotangent = rng.uniform(-1, 1, shape).astype(S.np_dtype(dtype))
            return S.Example([x, weight, bias], cotangent, drawn)

        return example()

    return factory


def _groups_of(example):
    return example.params.get("num_groups", example.inputs[0].shape[1])


def group_terms(example):
    """The values each (sample, group) statistic sums."""
    x = example.inputs[0]
    return x.size // (x.shape[0] * _groups_of(example))


def _group_parts(example):
    x, weight = _f64(*example.inputs[:2])
    rows = N._group_rows(x, _groups_of(example))
    x_hat, inverse, _ = N.normalize(rows, example.params["epsilon"])
    kappa = (np.max(np.abs(rows), axis=-1, keepdims=True) + np.abs(np.mean(rows, axis=-1, keepdims=True))) * inverse
    grow = np.broadcast_to(1 + kappa, rows.shape).reshape(x.shape)
    return x, weight, x_hat, inverse, grow


def group_floor(example):
    """(1 + κ)|γ| + |β| per element, κ = (max|x| + |μ|)/√(σ² + ε) of its (sample, group)."""
    x, weight, _, _, grow = _group_parts(example)
    bias = np.asarray(example.inputs[2], dtype=np.float64)
    return grow * np.abs(N._per_channel(weight, x.ndim)) + np.abs(N._per_channel(bias, x.ndim))


def group_gradient_floor(example):
    x, weight, x_hat, inverse, grow = _group_parts(example)
    g = np.abs(np.asarray(example.cotangent, dtype=np.float64))
    d_hat = N._group_rows(g * np.abs(N._per_channel(weight, x.ndim)), _groups_of(example))
    spread = np.mean(d_hat * (1 + np.abs(x_hat)), axis=-1, keepdims=True)
    d_x = (inverse * (d_hat + (1 + np.abs(x_hat)) * spread)).reshape(x.shape) * grow
    return d_x, np.sum(N._rows(g * grow), axis=-1), np.sum(N._rows(g), axis=-1)


GROUPED = Tolerance(8, "per (sample, group): a mean, a variance, a root and the affine map, in ULPs of "
                       "(1 + κ)|γ| + |β|, + K ULPs, K the values in a group", floor=group_floor, extra=group_terms)
GROUPED_BACKWARD = Tolerance(16, "two group means and a product per element: in ULPs of their magnitudes, + K ULPs",
                             extra=group_terms)

ROWS = [
    OpEntry(
        "batch_norm", "normalization", N.batch_norm, N.batch_norm_vjp, NORMALIZED, NORMALIZED_BACKWARD,
        params={"training": S.choice(True, False), "momentum": S.choice(*MOMENTA),
                "epsilon": S.choice(*EPSILONS), "affine": S.choice(True, False)},
        variants={"running_variance": ("biased",)}, inputs=batch_norm_examples, wrt=(0, 1, 2),
        gradient_floor=batch_norm_gradient_floor, checks=("values", "defaults", "running_stats"),
        steps=running_stats_examples,
    ),
    OpEntry(
        "l2_normalize", "normalization", N.l2_normalize, N.l2_normalize_vjp, L2, L2_BACKWARD,
        params={"axis": S.choice(-1, 0), "epsilon": l2_epsilons},
        variants={"epsilon_at": ("squared_sum",)}, inputs=l2_examples, gradient_floor=l2_gradient_floor,
    ),
    OpEntry(
        "group_norm", "normalization", N.group_norm, N.group_norm_vjp, GROUPED, GROUPED_BACKWARD,
        params={"num_groups": S.choice(*sorted({g for _, g in GROUPINGS})), "epsilon": S.choice(*EPSILONS),
                "affine": S.choice(True)},
        inputs=grouped_examples("group_norm"), wrt=(0, 1, 2), gradient_floor=group_gradient_floor,
    ),
    OpEntry(
        "instance_norm", "normalization", N.instance_norm, N.instance_norm_vjp, GROUPED, GROUPED_BACKWARD,
        params={"epsilon": S.choice(*EPSILONS), "affine": S.choice(True)},
        inputs=grouped_examples("instance_norm"), wrt=(0, 1, 2), gradient_floor=group_gradient_floor,
    ),
]
