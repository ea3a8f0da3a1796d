"""Layer normalization (Ba, Kiros & Hinton 2016) and RMS normalization (Zhang & Sennrich 2019), over the last axis;
batch, group and instance normalization and L2 normalization (each stated in its own section below).

    LN(x) = (x − μ) / √(σ² + ε) ⊙ γ + β,   μ = mean(x),   σ² = mean((x − μ)²)  (biased)

x (…, E), γ = ``weight`` and β = ``bias`` of shape (E,). ``affine=False`` drops γ and β
(the inputs are then ignored and get zero gradient). Frameworks that add ε to the
standard deviation instead, (x − μ)/(σ + ε) (the annotated transformer's LayerNorm),
match ``epsilon_at="outside_sqrt"``.

In float64 the row is first scaled by a power of two (exact) so that neither the mean
nor σ² overflows or underflows, and the mean gets the two-pass correction mean(x − μ̃), so x − μ
keeps its accuracy when the row's spread is small beside its mean. The NumPy baseline
runs the textbook lines in the input's own dtype.
"""

from __future__ import annotations

import numpy as np

from ._float64 import float64


def normalize(x, epsilon, epsilon_at="inside_sqrt"):
    """x̂ = (x − μ)/√(σ² + ε) (or (x − μ)/(σ + ε)), 1/denominator and σ, each over the last axis."""
    inside = epsilon_at == "inside_sqrt"
    if x.dtype != np.float64:  # the NumPy baseline: the textbook lines in x's dtype
        centred = x - np.mean(x, axis=-1, keepdims=True)
        sigma = np.sqrt(np.mean(centred * centred, axis=-1, keepdims=True))
        inverse = 1 / (np.sqrt(sigma * sigma + epsilon) if inside else sigma + epsilon)
        return centred * inverse, inverse, sigma
    top = np.max(np.abs(x), axis=-1, keepdims=True)
    _, exponent = np.frexp(np.where((top > 0) & np.isfinite(top), top, 1.0))
    scale = np.ldexp(1.0, exponent - 1)  # a power of two: x/scale is exact and at most 2 in magnitude
    xs = x / scale
    hi = np.mean(xs, axis=-1, keepdims=True)
    lo = np.mean(xs - hi, axis=-1, keepdims=True)  # the corrected two-pass mean: μ/scale = hi + lo
    centred = (xs - hi) - lo  # (x − μ)/scale; xs − hi is exact where it cancels (Sterbenz)
    var = np.mean(centred * centred, axis=-1, keepdims=True)  # σ²/scale²
    big = scale >= 1
    with np.errstate(all="ignore"):
        per_scale = epsilon / np.where(big, scale, 1.0)  # the denominator over scale, for scale ≥ 1 ...
        big_root = np.sqrt(var + per_scale / np.where(big, scale, 1.0)) if inside else np.sqrt(var) + per_scale
        # ... and the denominator itself below (where ε/scale² could overflow)
        small_root = np.sqrt(var * scale * scale + epsilon) if inside else scale * np.sqrt(var) + epsilon
        # a constant row (σ = 0) is 0 whatever the denominator, which is √ε there even where ε/scale² underflows
        x_hat = np.where(centred == 0, 0.0, np.where(big, centred / big_root, (centred * scale) / small_root))
        inverse = np.where(var == 0, 1 / np.sqrt(epsilon) if inside else 1 / epsilon,
                           np.where(big, (1 / scale) / big_root, 1 / small_root))
    return x_hat, inverse, scale * np.sqrt(var)


@float64
def layer_norm(x, weight, bias, epsilon=1e-5, affine=True, *, epsilon_at="inside_sqrt"):
    """LN(x) = (x − μ)/√(σ² + ε) ⊙ γ + β over the last axis, σ² biased, ε = ``epsilon`` (default 1e-5).

    VJP, with x̂ the normalized x, r = 1/√(σ² + ε), dx̂ = G ⊙ γ:
    dx = r(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)); dγ = Σ_rows G ⊙ x̂; dβ = Σ_rows G.
    (ε outside the root: the last term's r becomes 1/σ.)
    """
    x_hat, _, _ = normalize(x, epsilon, epsilon_at)
    return x_hat * weight + bias if affine else x_hat


@float64
def layer_norm_vjp(x, weight, bias, cotangent, epsilon=1e-5, affine=True, *, epsilon_at="inside_sqrt"):
    x_hat, inverse, sigma = normalize(x, epsilon, epsilon_at)
    d_hat = cotangent * weight if affine else cotangent
    mean_d = np.mean(d_hat, axis=-1, keepdims=True)
    mean_dx = np.mean(d_hat * x_hat, axis=-1, keepdims=True)
    with np.errstate(all="ignore"):
        last = inverse if epsilon_at == "inside_sqrt" else 1 / sigma
    d_x = inverse * (d_hat - mean_d) - last * x_hat * mean_dx
    rows = (-1, x.shape[-1])
    d_weight = np.sum((cotangent * x_hat).reshape(rows), axis=0)
    d_bias = np.sum(cotangent.reshape(rows), axis=0)
    if not affine:
        d_weight, d_bias = np.zeros_like(d_weight), np.zeros_like(d_bias)
    return d_x, d_weight, d_bias


# Batch normalization (Ioffe & Szegedy 2015) --------------------------------------------------------------
#
# x (N, C) or (N, C, *spatial), channels on axis 1 (NCHW). Statistics are per channel over the
# N and spatial axes: K = N·∏spatial values each. In training the output is normalized with the
# batch's mean and *biased* variance, and the running statistics move towards the batch's:
#
#     running ← (1 − momentum)·running + momentum·batch         (torch's convention)
#
# the running variance with the *unbiased* batch variance σ²·K/(K − 1), as torch does; Keras and
# flax use the biased σ² there: the variant ``running_variance="biased"``. (Keras' and flax's
# ``momentum`` is the weight of the *old* value, 1 − the spec's: their adapters translate.)
# In inference the output is normalized with the running statistics, which stay unchanged.


def _rows(x):
    """x (N, C, ...) as (C, K): one row per channel."""
    return np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)


def _unrows(rows, shape):
    """The inverse of ``_rows`` for an array of ``shape``."""
    moved = (shape[1], shape[0], *shape[2:])
    return np.moveaxis(rows.reshape(moved), 0, 1)


def _per_channel(v, ndim):
    """A (C,) vector shaped to broadcast against (N, C, ...)."""
    return np.reshape(v, (-1,) + (1,) * (ndim - 2))


def _row_mean(rows):
    """The mean of each row, corrected by mean(x − μ̃) (two passes; the variance is ``normalize``'s, two-pass too,
    so neither cancels where the mean is large beside the spread)."""
    mean = np.mean(rows, axis=-1)
    return mean + np.mean(rows - mean[:, None], axis=-1)


@float64
def batch_norm(x, weight, bias, running_mean, running_var, training=True, momentum=0.1, epsilon=1e-5, affine=True,
               *, running_variance="unbiased"):
    """BN(x) = (x − μ)/√(σ² + ε) ⊙ γ + β per channel (axis 1), μ, σ² (biased) over N and spatial axes in training,
    the running statistics in inference; returns (y, running_mean', running_var').

    Training: running_mean' = (1 − m)·running_mean + m·μ, running_var' = (1 − m)·running_var + m·σ²·K/(K − 1)
    (m = ``momentum``, K values per channel; ``running_variance="biased"``: m·σ²). Inference: both unchanged.
    ε = ``epsilon`` (default 1e-5); ``affine=False`` drops γ and β.

    VJP of y (the running statistics are not differentiated), dx̂ = G ⊙ γ, per channel over its K values:
    training dx = r(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)), r = 1/√(σ² + ε); inference dx = dx̂/√(running_var + ε);
    dγ = Σ G ⊙ x̂, dβ = Σ G.
    """
    if x.shape[0] * int(np.prod(x.shape[2:])) < 2 and training:
        raise ValueError("batch norm in training needs more than one value per channel")
    if training:
        rows = _rows(x)
        x_hat, _, sigma = normalize(rows, epsilon)
        x_hat = _unrows(x_hat, x.shape)
        mean = _row_mean(rows)
        var = (sigma * sigma)[:, 0]
        k = rows.shape[1]
        batch_var = var * k / (k - 1) if running_variance == "unbiased" else var
        new_mean = (1 - momentum) * running_mean + momentum * mean
        new_var = (1 - momentum) * running_var + momentum * batch_var
    else:
        x_hat = (x - _per_channel(running_mean, x.ndim)) / np.sqrt(_per_channel(running_var, x.ndim) + epsilon)
        new_mean, new_var = running_mean, running_var
    y = x_hat * _per_channel(weight, x.ndim) + _per_channel(bias, x.ndim) if affine else x_hat
    return y, new_mean, new_var


@float64
def batch_norm_vjp(x, weight, bias, running_mean, running_var, cotangent, training=True, momentum=0.1,
                   epsilon=1e-5, affine=True, *, running_variance="unbiased"):
    gamma = _per_channel(weight, x.ndim) if affine else 1.0
    d_hat = cotangent * gamma
    if training:
        rows = _rows(x)
        x_hat_rows, inverse, _ = normalize(rows, epsilon)
        d_rows = _rows(d_hat)
        d_x = _unrows(inverse * (d_rows - np.mean(d_rows, axis=-1, keepdims=True)
                                 - x_hat_rows * np.mean(d_rows * x_hat_rows, axis=-1, keepdims=True)), x.shape)
        x_hat = _unrows(x_hat_rows, x.shape)
    else:
        root = np.sqrt(_per_channel(running_var, x.ndim) + epsilon)
        x_hat = (x - _per_channel(running_mean, x.ndim)) / root
        d_x = d_hat / root
    d_weight = np.sum(_rows(cotangent * x_hat), axis=-1)
    d_bias = np.sum(_rows(cotangent), axis=-1)
    if not affine:
        d_weight, d_bias = np.zeros_like(d_weight), np.zeros_like(d_bias)
    return d_x, d_weight, d_bias


# L2 normalization ----------------------------------------------------------------------------------------
#
#     y = x / max(‖x‖₂, ε)        over ``axis`` (torch's F.normalize, Keras' ops.normalize)
#
# TensorFlow's tf.math.l2_normalize bounds the squared sum instead, y = x / √max(Σx², ε): the
# variant ``epsilon_at="squared_sum"`` (its floor on the norm is √ε, not ε). In float64 the norm is
# taken of x scaled by a power of two (exact), so Σx² neither overflows nor underflows.


def _norm(x, axis):
    """‖x‖₂ over ``axis`` (kept), of x scaled by a power of two near max|x| (exact in any binary dtype, so the
    NumPy baseline runs the same lines in x's dtype): Σx² neither overflows nor underflows."""
    top = np.max(np.abs(x), axis=axis, keepdims=True)
    _, exponent = np.frexp(np.where((top > 0) & np.isfinite(top), top, 1.0))
    scale = np.ldexp(np.ones_like(top), exponent)
    xs = x / scale
    return scale * np.sqrt(np.sum(xs * xs, axis=axis, keepdims=True))


def _l2_denominator(x, axis, epsilon, epsilon_at):
    """(‖x‖, where it is above the floor, the denominator): max(‖x‖, ε), or √max(Σx², ε) = max(‖x‖, √ε)
    (the norm compared with √ε, never squared, so it cannot overflow)."""
    norm = _norm(x, axis)
    floor = epsilon if epsilon_at == "norm" else np.sqrt(epsilon)
    floor = np.asarray(floor, dtype=x.dtype)
    return norm, norm > floor, np.maximum(norm, floor)


@float64
def l2_normalize(x, axis=-1, epsilon=1e-12, *, epsilon_at="norm"):
    """y = x / max(‖x‖₂, ε) over ``axis`` (default the last), ε = ``epsilon`` (default 1e-12, torch's and TF's).

    ``epsilon_at="squared_sum"``: y = x / √max(Σx², ε) (tf.math.l2_normalize).
    VJP, n = ‖x‖ where it exceeds the floor: dx = (g − y·⟨y, g⟩)/n; below it, y = x/floor and dx = g/floor.
    """
    _, _, denominator = _l2_denominator(x, axis, epsilon, epsilon_at)
    with np.errstate(all="ignore"):
        return x / denominator


@float64
def l2_normalize_vjp(x, cotangent, axis=-1, epsilon=1e-12, *, epsilon_at="norm"):
    _, above, denominator = _l2_denominator(x, axis, epsilon, epsilon_at)
    with np.errstate(all="ignore"):
        y = x / denominator
        inner = np.sum(y * cotangent, axis=axis, keepdims=True)
        return np.where(above, (cotangent - y * inner) / denominator, cotangent / denominator)


# Group and instance normalization (Wu & He 2018; Ulyanov et al. 2016) --------------------------------------
#
# x (N, C, *spatial). Group norm splits the C channels into ``num_groups`` groups of C/G consecutive
# channels and normalizes each (sample, group) over its channels and spatial positions, with the biased
# variance, then applies γ, β per channel; instance norm is group norm with C groups (each sample's
# channel on its own). No running statistics: training and inference are the same formula.


def _group_rows(x, num_groups):
    """x (N, C, ...) as (N·G, C/G·∏spatial): one row per (sample, group)."""
    return x.reshape(x.shape[0] * num_groups, -1)


@float64
def group_norm(x, weight, bias, num_groups, epsilon=1e-5, affine=True):
    """GN(x) = (x − μ)/√(σ² + ε) ⊙ γ + β, μ and σ² (biased) per sample over each group of C/G channels and the
    spatial axes; γ, β per channel. ε = ``epsilon`` (default 1e-5); ``affine=False`` drops γ and β.

    VJP, with x̂ the normalized x, r = 1/√(σ² + ε) and dx̂ = G ⊙ γ, per (sample, group) row:
    dx = r(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)); dγ = Σ_{n, spatial} G ⊙ x̂; dβ = Σ_{n, spatial} G.
    """
    if x.shape[1] % num_groups:
        raise ValueError(f"{x.shape[1]} channels do not split into {num_groups} groups")
    x_hat = normalize(_group_rows(x, num_groups), epsilon)[0].reshape(x.shape)
    return x_hat * _per_channel(weight, x.ndim) + _per_channel(bias, x.ndim) if affine else x_hat


@float64
def group_norm_vjp(x, weight, bias, cotangent, num_groups, epsilon=1e-5, affine=True):
    rows = _group_rows(x, num_groups)
    x_hat, inverse, _ = normalize(rows, epsilon)
    d_rows = _group_rows(cotangent * _per_channel(weight, x.ndim) if affine else cotangent, num_groups)
    d_x = inverse * (d_rows - np.mean(d_rows, axis=-1, keepdims=True)
                     - x_hat * np.mean(d_rows * x_hat, axis=-1, keepdims=True))
    x_hat = x_hat.reshape(x.shape)
    d_weight, d_bias = np.sum(_rows(cotangent * x_hat), axis=-1), np.sum(_rows(cotangent), axis=-1)
    if not affine:
        d_weight, d_bias = np.zeros_like(d_weight), np.zeros_like(d_bias)
    return d_x.reshape(x.shape), d_weight, d_bias


@float64
def instance_norm(x, weight, bias, epsilon=1e-5, affine=True):
    """IN(x) = group_norm(x, γ, β, num_groups=C): each sample's channel normalized over its spatial positions
    (μ, σ² biased), then γ, β per channel; ε = ``epsilon`` (default 1e-5). VJP: group norm's with C groups."""
    return group_norm.__wrapped__(x, weight, bias, x.shape[1], epsilon, affine)


@float64
def instance_norm_vjp(x, weight, bias, cotangent, epsilon=1e-5, affine=True):
    return group_norm_vjp.__wrapped__(x, weight, bias, cotangent, x.shape[1], epsilon, affine)


# RMS normalization ----------------------------------------------------------------------------------------------

def _rms_scaled(x, epsilon, epsilon_at):
    """x̂ = x/√(mean(x²) + ε) (or x/(√mean(x²) + ε)), 1/denominator and the root mean square, over the last axis.

    In float64 each row is first scaled by a power of two (exact) so that mean(x²) neither
    overflows nor underflows; the NumPy baseline runs the textbook lines in x's own dtype."""
    inside = epsilon_at == "inside_sqrt"
    if x.dtype != np.float64:  # the NumPy baseline
        rms = np.sqrt(np.mean(x * x, axis=-1, keepdims=True))
        inverse = 1 / (np.sqrt(rms * rms + epsilon) if inside else rms + epsilon)
        return x * inverse, inverse, rms
    top = np.max(np.abs(x), axis=-1, keepdims=True)
    _, exponent = np.frexp(np.where((top > 0) & np.isfinite(top), top, 1.0))
    scale = np.ldexp(1.0, exponent - 1)  # x/scale is exact and at most 2 in magnitude
    xs = x / scale
    mean_square = np.mean(xs * xs, axis=-1, keepdims=True)  # mean(x²)/scale², in [2⁻²/n, 4]
    rms = scale * np.sqrt(mean_square)
    big = scale >= 1
    with np.errstate(all="ignore"):
        if inside:  # the denominator over scale for scale ≥ 1 (ε/scale² cannot overflow), itself below
            big_root = np.sqrt(mean_square + (epsilon / np.where(big, scale, 1.0)) / np.where(big, scale, 1.0))
            small_root = np.sqrt(mean_square * scale * scale + epsilon)
        else:
            big_root = np.sqrt(mean_square) + epsilon / np.where(big, scale, 1.0)
            small_root = rms + epsilon
        x_hat = np.where(big, xs / big_root, x / small_root)
        inverse = np.where(big, (1 / scale) / big_root, 1 / small_root)
    return x_hat, inverse, rms


@float64
def rms_norm(x, weight, epsilon=1e-6, *, epsilon_at="inside_sqrt"):
    """RMSNorm(x) = x/√(mean(x²) + ε) ⊙ γ over the last axis, γ = ``weight`` (E,), ε = ``epsilon`` (default 1e-6).

    Zhang & Sennrich 2019 (eq. 4) divide by RMS(x) = √(mean(x²)) and add no ε; the ε that keeps a
    zero row finite goes inside the root, with ε = 1e-6, in T5 (Raffel et al. 2020, its
    ``T5LayerNorm``), Llama and its ports, and in Keras ``RMSNormalization`` and flax ``RMSNorm``.
    The paper's own code divides by RMS(x) + ε instead: ``epsilon_at="outside_sqrt"``. There is
    no mean subtraction and no bias (it is layer norm without re-centring).

    VJP, with x̂ = x·r, r = 1/√(mean(x²) + ε), dx̂ = G ⊙ γ: dx = r·(dx̂ − x̂·mean(dx̂ ⊙ x̂));
    dγ = Σ_rows G ⊙ x̂. (ε outside the root, r = 1/(RMS + ε): the last term's r becomes 1/RMS,
    and 0 on a zero row, where x/(|x|/√n + ε) has the derivative 1/ε.)
    """
    x_hat, _, _ = _rms_scaled(x, epsilon, epsilon_at)
    return x_hat * weight


@float64
def rms_norm_vjp(x, weight, cotangent, epsilon=1e-6, *, epsilon_at="inside_sqrt"):
    x_hat, inverse, rms = _rms_scaled(x, epsilon, epsilon_at)
    d_hat = cotangent * weight
    mean_dx = np.mean(d_hat * x_hat, axis=-1, keepdims=True)
    with np.errstate(all="ignore"):
        last = inverse if epsilon_at == "inside_sqrt" else np.where(rms > 0, 1 / rms, 0.0)
    d_x = inverse * d_hat - last * x_hat * mean_dx
    d_weight = np.sum((cotangent * x_hat).reshape(-1, x.shape[-1]), axis=0)
    return d_x, d_weight
