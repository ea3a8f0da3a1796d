"""The spec's one promise about precision: every formula is evaluated in float64.

`@float64` wraps a formula written with plain NumPy operations so that its array
arguments are cast to float64 first, whatever dtype they arrive in. The formula
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
            return formula(*(np.asarray(a, dtype=np.float64) for a in arrays), **params)

    return in_float64
