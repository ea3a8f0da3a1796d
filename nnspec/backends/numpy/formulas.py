"""Evaluating a spec formula in the dtype of its input: the NumPy baseline's one mechanism."""

from __future__ import annotations

import functools

import numpy as np

from ..binding import bind


def in_dtype(formula, *arrays, **params):
    """Evaluates a spec formula (its unwrapped, dtype-preserving form) in the dtype of arrays[0]."""
    dtype = arrays[0].dtype
    with np.errstate(all="ignore"):
        result = formula.__wrapped__(*arrays, **params)
    if isinstance(result, tuple):  # several outputs, or one gradient per input: each in the dtype
        return tuple(np.asarray(r).astype(dtype, copy=False) for r in result)
    return np.asarray(result).astype(dtype, copy=False)


def spec_binding(formula):
    """The NumPy baseline's binding of an op: ``in_dtype(formula, *inputs, **params)``.

    Spec parameters keep their names; NumPy has no signature of its own to read defaults from."""
    return bind(functools.partial(in_dtype, formula), defaults=False)
