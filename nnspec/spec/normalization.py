"""Layer normalization (Ba, Kiros & Hinton 2016) and RMS normalization (Zhang & Sennrich 2019), over the last axis.

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
