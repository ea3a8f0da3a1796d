"""Positional encodings: the sinusoidal encoding of Vaswani et al. (2017).

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
