"""Gradient clipping: the gradients an optimizer receives after clipping, in float64.

Clipping is stateless: each op maps gradients to clipped gradients. Norms are taken
as ‖x‖ = s·√Σ(x/s)², s = max|x|, so that they neither overflow nor underflow where
the norm itself is representable (the NumPy baseline evaluates the same lines in
the gradients' dtype).

Variant (keyword-only): ``norm_eps``, a constant added to the norm before dividing,
max_norm/(‖x‖ + ε): 1e-6 in torch's clip_grad_norm_; 0 in the textbook rule
(Pascanu et al. 2013) and in TensorFlow and optax.
"""

from __future__ import annotations

import numpy as np

from ._float64 import float64


def _sum_of_squares(x, scale):
    """Σ(x/s)² with s = max|x| (0 where x is all zero)."""
    if x.size == 0 or scale == 0:
        return x.dtype.type(0)
    return np.sum(np.square(x / scale))


def l2_norm(*arrays):
    """‖(x₁, x₂, …)‖₂ of all elements of all arrays, scaled by the largest magnitude."""
    scale = max((np.max(np.abs(a)) for a in arrays if a.size), default=arrays[0].dtype.type(0))
    if scale == 0 or not np.isfinite(scale):
        return scale
    return scale * np.sqrt(sum(_sum_of_squares(a, scale) for a in arrays))


def _scaled(arrays, max_norm, norm_eps):
    """Every array times min(1, max_norm/(‖all‖ + ε)); unchanged where the norm is within max_norm."""
    norm = l2_norm(*arrays)
    if not norm + norm_eps > max_norm:
        return tuple(a.copy() for a in arrays)
    return tuple(a / (norm + norm_eps) * max_norm for a in arrays)  # a/‖·‖ ∈ [−1, 1]: no overflow, no subnormal


@float64
def clip_by_value(x, clip_value):
    """clip(x) = min(max(x, −c), c), c = ``clip_value`` ≥ 0, elementwise."""
    return np.minimum(np.maximum(x, -clip_value), clip_value)


@float64
def clip_by_norm(x, max_norm, *, norm_eps=0.0):
    """x·c/‖x‖ where ‖x‖ > c = ``max_norm``, else x (Pascanu et al. 2013), per tensor."""
    return _scaled((x,), max_norm, norm_eps)[0]


@float64
def clip_by_global_norm(x1, x2, x3, max_norm, *, norm_eps=0.0):
    """xᵢ·c/N where N = ‖(x₁, x₂, x₃)‖ = √Σᵢ‖xᵢ‖² > c = ``max_norm``, else xᵢ: the gradients of
    several parameter tensors (here three) clipped by the norm of them all."""
    return _scaled((x1, x2, x3), max_norm, norm_eps)
