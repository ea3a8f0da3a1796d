"""Numpy adapter, random: the spec's samplers (NumPy generators seeded by ``seed``), in the case's dtype."""

from __future__ import annotations

import numpy as np

from ...spec import random as R
from .formulas import spec_binding

INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal")
LAYERS = ("dense_init", "conv2d_init", "embedding_init", "lstm_init")


def _sampler(op):
    def method(self, shape, seed, dtype):
        return np.asarray(getattr(R, op)(shape, seed, dtype)).astype(dtype)

    method.__name__ = op
    return method


def _layer(op):
    def method(self, shape, seed, dtype):
        return tuple(np.asarray(w).astype(dtype) for w in getattr(R, op)(shape, seed, dtype))

    method.__name__ = op
    return method


class Random:
    BINDINGS = {"dropout": spec_binding(R.dropout)}

    locals().update({op: _sampler(op) for op in INITIALIZERS})
    locals().update({op: _layer(op) for op in LAYERS})

    def orthogonal(self, shape, seed, dtype, gain):
        return np.asarray(R.orthogonal(shape, seed, dtype, gain)).astype(dtype)
