"""Positional encodings: the sinusoidal encoding of Vaswani et al. (2017) and rotary embeddings (Su et al. 2021).

    PE(pos, 2i) = sin(pos / base^{2i/d}),   PE(pos, 2i+1) = cos(pos / base^{2i/d}),   base = 10000

``positions`` (…,) → (…, d), d = ``d_model``. Odd d: column j uses the frequency of
i = ⌊j/2⌋, so the last column (j = d − 1, even) is a sine and there are ⌈d/2⌉ sines
and ⌊d/2⌋ cosines. The interleaved order above is the paper's
(``layout="interleaved"``); many implementations (tensor2tensor's timing signal,
diffusion timestep embeddings) concatenate all sines then all cosines of the same
frequencies, ``layout="concatenated"``.

Positions are real numbers (continuous time steps included), so the encoding has a
derivative: d PE(pos, 2i)/d pos = cos(·)/base^{2i/d}, d PE(pos, 2i+1)/d pos = −sin(·)/base^{2i/d}.

sin magnifies the rounding of its argument: an angle of a few hundred radians rounded
to float64 is off by up to 2⁻⁴⁵ absolutely. In float64 the spec therefore forms the
angle and its sine in extended precision (np.longdouble, 64-bit significand on x86;
on a platform where it is only double, the encoding is accurate to |angle|·2⁻⁵³
absolutely). The NumPy baseline runs the same lines in the input's own dtype.
"""

from __future__ import annotations

import numpy as np

from ._float64 import float64


def _angles(positions, d_model, base):
    """pos / base^{2⌊j/2⌋/d} for every column j, and the frequencies, in the working precision."""
    work = np.longdouble if positions.dtype == np.float64 else positions.dtype
    exponents = (2 * (np.arange(d_model) // 2)).astype(work) / np.asarray(d_model, dtype=work)
    denominators = np.power(np.asarray(base, dtype=work), exponents)
    return positions.astype(work)[..., None] / denominators, denominators


def _columns(values, d_model, layout):
    """Reorders interleaved columns (sin, cos, sin, …) into the requested layout."""
    if layout == "interleaved":
        return values
    order = np.concatenate([np.arange(0, d_model, 2), np.arange(1, d_model, 2)])
    return values[..., order]


@float64
def sinusoidal_positional_encoding(positions, d_model, base=10000.0, *, layout="interleaved"):
    """PE(pos, 2i) = sin(pos/base^{2i/d}), PE(pos, 2i+1) = cos(pos/base^{2i/d}); odd d ends with a sine.

    VJP: Σ_j G_j · dPE_j/dpos, dPE/dpos = cos(·)/base^{2i/d} (sine columns), −sin(·)/base^{2i/d} (cosines).
    """
    angles, _ = _angles(positions, d_model, base)
    even = np.arange(d_model) % 2 == 0
    values = np.where(even, np.sin(angles), np.cos(angles))
    return _columns(values, d_model, layout).astype(positions.dtype)


@float64
def sinusoidal_positional_encoding_vjp(positions, cotangent, d_model, base=10000.0, *, layout="interleaved"):
    angles, denominators = _angles(positions, d_model, base)
    even = np.arange(d_model) % 2 == 0
    slopes = np.where(even, np.cos(angles), -np.sin(angles)) / denominators
    slopes = _columns(slopes, d_model, layout)
    return np.sum(cotangent.astype(slopes.dtype) * slopes, axis=-1).astype(positions.dtype)


# rotary position embedding ---------------------------------------------------------------------------------------

ROTARY_PAIRS = ("interleaved", "half")


def _rotary_pairs(x, pairs):
    """The two coordinates of every rotated pair: (x_{2i}, x_{2i+1}) interleaved, (x_i, x_{i+d/2}) half-split."""
    d = x.shape[-1]
    if d % 2:
        raise ValueError(f"rotary_embedding rotates pairs of coordinates: the last axis ({d}) must be even")
    if pairs not in ROTARY_PAIRS:
        raise ValueError(f"rotary_embedding: pairs must be one of {ROTARY_PAIRS}, got {pairs!r}")
    return (x[..., 0::2], x[..., 1::2]) if pairs == "interleaved" else (x[..., : d // 2], x[..., d // 2:])


def _rotary_join(first, second, pairs):
    if pairs == "interleaved":
        return np.stack([first, second], axis=-1).reshape(first.shape[:-1] + (2 * first.shape[-1],))
    return np.concatenate([first, second], axis=-1)


def _rotary_cos_sin(x, positions, base):
    """cos and sin of m·θ_i, θ_i = base^{−2i/d}, shaped (L, 1, d/2) against x's (…, L, H, d/2) pairs; in float64
    the angle and its cosine and sine are taken in extended precision (as the sinusoidal encoding's)."""
    work = np.longdouble if x.dtype == np.float64 else x.dtype
    half = x.shape[-1] // 2
    exponents = (2 * np.arange(half)).astype(work) / np.asarray(2 * half, dtype=work)
    # e^{−(2i/d)·ln base}: a base past the dtype's range (Llama 3's 500000 in float16) still has its logarithm
    log_base = np.log(np.longdouble(base)) if work is np.longdouble else np.asarray(np.log(base), dtype=work)
    frequencies = np.exp(-exponents * log_base)
    angles = positions.astype(work)[..., None, None] * frequencies
    return np.cos(angles), np.sin(angles), work


def _rotate(x, positions, base, pairs, sign):
    first, second = _rotary_pairs(x, pairs)
    cos, sin, work = _rotary_cos_sin(x, positions, base)
    first, second = first.astype(work), second.astype(work)
    sin = sign * sin
    rotated = _rotary_join(first * cos - second * sin, first * sin + second * cos, pairs)
    return rotated.astype(x.dtype)


@float64
def rotary_embedding(x, positions, base=10000.0, pairs="interleaved"):
    """RoPE: each pair (a, b) of x's last axis rotated by m·θ_i: (a cos mθ_i − b sin mθ_i, a sin mθ_i + b cos mθ_i).

    x (…, L, H, d) (batch, sequence, heads, head width; d even), ``positions`` m (L,) the
    tokens' positions (real numbers: scaled or offset positions included), θ_i = base^{−2i/d},
    i = 0 … d/2 − 1, base = 10000 (Su et al. 2021, RoFormer, section 3.2.2). Which coordinates pair:
    ``pairs="interleaved"``, (x_{2i}, x_{2i+1}), is the paper's (its block-diagonal rotation
    R^d_{Θ,m} of 2×2 blocks; GPT-J, the ONNX op's ``interleaved=1``); ``pairs="half"``,
    (x_i, x_{i+d/2}), is GPT-NeoX's "rotate half" (Llama in HF transformers, the ONNX op's
    default). Read as complex numbers z_i = a + ib, RoPE is z_i·e^{imθ_i}: it preserves
    every pair's norm, and ⟨RoPE(q, m), RoPE(k, n)⟩ depends on m − n only.

    VJP: a rotation is orthogonal, so dx is the cotangent rotated back, by −mθ_i, pair by pair.
    (The positions are not differentiated: the VJP is the one of x.)
    """
    return _rotate(x, positions, base, pairs, 1)


@float64
def rotary_embedding_vjp(x, positions, cotangent, base=10000.0, pairs="interleaved"):
    return _rotate(cotangent, positions, base, pairs, -1)
