"""Evaluating a spec formula in the dtype of its input: the NumPy baseline's one mechanism."""

from __future__ import annotations

import numpy as np


def in_dtype(formula, *arrays, **params):
    """Evaluates a spec formula (its unwrapped, dtype-preserving form) in the dtype of arrays[0]."""
    dtype = arrays[0].dtype
    with np.errstate(all="ignore"):
        return np.asarray(formula.__wrapped__(*arrays, **params)).astype(dtype, copy=False)
