"""The spec's one promise about precision: every formula is evaluated in float64.

`@float64` wraps a formula written with plain NumPy operations so that its array
arguments are cast to float64 first, whatever floating dtype they arrive in
(integer labels and boolean masks keep their type). The formula
itself stays reachable as ``fn.__wrapped__`` (``functools.wraps``), which is how
the NumPy baseline evaluates the very same formula in the input's own dtype.
"""

from __future__ import annotations

import functools

import numpy as np


def float64(formula):
    @functools.wraps(formula)
    def in_float64(*arrays, **params):
        with np.errstate(all="ignore"):
            return formula(*(_as_float64(a) for a in arrays), **params)

    return in_float64


def _as_float64(array):
    array = np.asarray(array)
    return array if array.dtype.kind in "iub" else array.astype(np.float64)
