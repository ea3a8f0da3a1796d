"""Hypothesis strategies: the inputs every check draws.

An ``Example`` is one draw: the op's input arrays (already in the dtype under test),
a cotangent for the gradient check, and the spec parameters. Everything is drawn
in the dtype under test, parameters included, so the spec (float64) and the backend
see exactly the same numbers.

Values mix three sources so that both the typical and the extreme are reached:
moderate values where activations bend, the dtype's whole range (huge magnitudes,
subnormals) and the specials (±0, ±inf, nan, ±smallest subnormal, ±largest
finite). Shapes come from a short fixed menu, smallest first (so shrinking
reaches small shapes), which also bounds how often a compiling framework
(jax.jit inside jax.nn) sees a new shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ml_dtypes
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .measure import finfo

# Scalar, short vector, matrix rows, a length-1 axis in the middle, one long row. Each
# extra shape costs a compiling framework one compile per op, dtype and parameter value.
SHAPES = [(), (3,), (2, 4), (3, 1, 5), (64,)]
ROW_SHAPES = [s for s in SHAPES if len(s) >= 1]

# bfloat16 is drawn as float32 and rounded: same exponent range, so every bfloat16
# value (subnormals included) is reachable that way.
CARRIER = {"float64": np.float64, "float32": np.float32, "float16": np.float16, "bfloat16": np.float32}
WIDTH = {"float64": 64, "float32": 32, "float16": 16, "bfloat16": 32}


@dataclass
class Example:
    inputs: list  # numpy arrays in the dtype under test
    cotangent: np.ndarray | None
    params: dict = field(default_factory=dict)


def np_dtype(dtype: str) -> np.dtype:
    return np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)


def in_dtype(value: float, dtype: str) -> float:
    """``value`` rounded to ``dtype`` and back: the parameter both sides actually use."""
    return float(np.asarray(value, dtype=np.float64).astype(np_dtype(dtype)))


def specials(dtype: str) -> list[float]:
    info = finfo(np_dtype(dtype))
    smallest_subnormal = float(info.smallest_subnormal)
    big = float(info.max)
    return [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, smallest_subnormal, -smallest_subnormal, big, -big]


def elements(dtype: str, moderate: float = 10.0, finite: bool = False) -> st.SearchStrategy[float]:
    width = WIDTH[dtype]
    full = st.floats(width=width, allow_nan=not finite, allow_infinity=not finite, allow_subnormal=True)
    near = st.floats(-moderate, moderate, width=width)
    edge = st.sampled_from([v for v in specials(dtype) if not finite or np.isfinite(v)])
    return st.one_of(near, full, edge)


def arrays(dtype: str, shape, finite: bool = False, moderate: float = 10.0) -> st.SearchStrategy[np.ndarray]:
    carrier = hnp.arrays(CARRIER[dtype], shape, elements=elements(dtype, moderate, finite))
    return carrier.map(lambda a: a.astype(np_dtype(dtype)))


def cotangents(dtype: str, shape) -> st.SearchStrategy[np.ndarray]:
    """Finite cotangents of moderate size (±0 and ±1 included): the seed of a VJP."""
    values = st.one_of(st.floats(-4, 4, width=WIDTH[dtype]), st.sampled_from([0.0, 1.0, -1.0]))
    return hnp.arrays(CARRIER[dtype], shape, elements=values).map(lambda a: a.astype(np_dtype(dtype)))


# parameter strategies: each takes the dtype and the drawn inputs ------------------


def slope(low: float, high: float, common: tuple[float, ...]):
    """A float parameter in [low, high], with the values frameworks use as defaults drawn often."""

    def draw(dtype, inputs):
        value = st.one_of(st.sampled_from(common), st.floats(low, high))
        return value.map(lambda v: in_dtype(v, dtype))

    return draw


def choice(*options):
    def draw(dtype, inputs):
        return st.sampled_from(options)

    return draw


def axis(dtype, inputs):
    ndim = inputs[0].ndim
    return st.integers(-ndim, ndim - 1)


@st.composite
def elementwise(draw, dtype: str, params: dict, min_ndim: int = 0) -> Example:
    """One array input x, a cotangent of x's shape, and the op's parameters."""
    shape = draw(st.sampled_from(SHAPES if min_ndim == 0 else ROW_SHAPES))
    x = draw(arrays(dtype, shape))
    drawn = {name: draw(strategy(dtype, [x])) for name, strategy in params.items()}
    return Example(inputs=[x], cotangent=draw(cotangents(dtype, shape)), params=drawn)
