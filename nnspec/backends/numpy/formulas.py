"""Evaluating a spec formula in the dtype of its input: the NumPy baseline's one mechanism."""

from __future__ import annotations

import numpy as np


def in_dtype(formula, *arrays, **params):
    """Evaluates a spec formula (its unwrapped, dtype-preserving form) in the dtype of arrays[0]."""
    dtype = arrays[0].dtype
    with np.errstate(all="ignore"):
        result = formula.__wrapped__(*arrays, **params)
    if isinstance(result, tuple):  # several outputs, or one gradient per input: each in the dtype
        return tuple(np.asarray(r).astype(dtype, copy=False) for r in result)
    return np.asarray(result).astype(dtype, copy=False)
