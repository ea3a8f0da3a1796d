"""Deliberately wrong random adapters: each is one way a dropout or an initializer port breaks, which the
distribution check must catch.

They subclass the NumPy baseline (the spec's samplers) and change one thing: dropout's rescaling, the
probability it keeps with, Glorot's fan, the signs a QR leaves in an orthogonal matrix.
"""

from __future__ import annotations

import math

import numpy as np

from nnspec.backends.numpy import NumpyBackend
from nnspec.spec import random as R


class NoRescaleDropout(NumpyBackend):
    """Drops with the right probability but keeps x itself, not x/(1 − p)."""

    name = "no-rescale-dropout"

    def dropout(self, x, seed, rate, training):
        if not training or rate == 0:
            return x.copy()
        return np.where(np.random.default_rng(seed).random(x.shape) >= rate, x, 0).astype(x.dtype)


class KeepsWithRate(NumpyBackend):
    """Keeps each element with probability p (the rate) instead of 1 − p, scaled by 1/(1 − p) as it should."""

    name = "keeps-with-rate"

    def dropout(self, x, seed, rate, training):
        if not training or rate in (0, 1):
            return super().dropout(x, seed, rate, training)
        keep = np.random.default_rng(seed).random(x.shape) < rate
        return np.where(keep, x / x.dtype.type(1 - rate), 0).astype(x.dtype)


class RateOffByTenPercent(NumpyBackend):
    """Drops with probability 1.1·p (a rate read 10% high), scaled by 1/(1 − p)."""

    name = "rate-off-by-ten-percent"

    def dropout(self, x, seed, rate, training):
        if not training or rate in (0, 1):
            return super().dropout(x, seed, rate, training)
        keep = np.random.default_rng(seed).random(x.shape) >= min(1.1 * rate, 1.0)
        return np.where(keep, x / x.dtype.type(1 - rate), 0).astype(x.dtype)


class GlorotFanIn(NumpyBackend):
    """Glorot with fan_in alone: U(±√(6/(2·fan_in))), N(0, 1/fan_in) — right only for square kernels."""

    name = "glorot-fan-in"

    def glorot_uniform(self, shape, seed, dtype):
        fan_in, _ = R.fans(shape)
        bound = math.sqrt(3 / fan_in)
        return np.random.default_rng(seed).uniform(-bound, bound, tuple(shape)).astype(dtype)

    def glorot_normal(self, shape, seed, dtype):
        fan_in, _ = R.fans(shape)
        return (np.random.default_rng(seed).standard_normal(tuple(shape)) / math.sqrt(fan_in)).astype(dtype)


class UnsignedOrthogonal(NumpyBackend):
    """Q of a QR without R's diagonal signs taken out: orthogonal, but not Haar (Q's first column has one sign)."""

    name = "unsigned-orthogonal"

    def orthogonal(self, shape, seed, dtype, gain):
        rows, cols = R.orthogonal_shape(shape)
        q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((max(rows, cols), min(rows, cols))))
        q = q.T if rows < cols else q
        return (gain * q).reshape(tuple(shape)).astype(dtype)


class OrthogonalWithoutGain(NumpyBackend):
    """An orthogonal matrix that ignores the gain."""

    name = "orthogonal-without-gain"

    def orthogonal(self, shape, seed, dtype, gain):
        return super().orthogonal(shape, seed, dtype, 1.0)
