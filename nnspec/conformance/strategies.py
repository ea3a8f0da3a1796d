"""Hypothesis strategies: the inputs every check draws.

An ``Example`` is one draw: the op's input arrays (already in the dtype under test),
a cotangent for the gradient check, and the spec parameters. Everything is drawn
in the dtype under test, parameters included, so the spec (float64) and the backend
see exactly the same numbers.

Values mix sources so that both the typical and the extreme are reached: moderate
values where activations bend (``Uniform``), the dtype's whole range — huge
magnitudes, tiny ones, subnormals, log-uniform over the dtype's exponents (``Wide``) —
and the specials (±0, ±1, ±inf, nan, ±smallest subnormal, ±largest finite;
``Values``). Each element picks one source, each source equally often. Shapes come
from a short fixed menu, smallest first (so shrinking reaches small shapes), which
also bounds how often a compiling framework (jax.jit inside jax.nn) sees a new shape.

How an array is drawn. Hypothesis draws an array element by element, several choices
each (which source, then the value), at tens of microseconds per choice: that was 80 %
of a numpy run. Here an array is one ``st.binary`` choice, decoded with NumPy: per
element one selector byte (the source) and 4 or 8 value bytes (the value within the
source). Shrinking still works element by element — hypothesis shrinks a byte string
byte by byte towards zero, and all-zero bytes decode to the simplest value of the
first source (0.0 for the moderate one), so irrelevant elements of a counterexample
become 0. ``sparse`` reproduces hypothesis' own sparse arrays (one fill value, a few
elements of their own: constant rows and runs of equal values), the shape of arrays
that ``hnp.arrays`` draws from reusable elements, for a share of the arrays; the
others draw every element independently. Strategies are built once per argument tuple (cached), never
per draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import ml_dtypes
import numpy as np
from hypothesis import strategies as st

from .measure import finfo

# Scalar, short vector, matrix rows, a length-1 axis in the middle, one long row. Each
# extra shape costs a compiling framework one compile per op, dtype and parameter value.
SHAPES = [(), (3,), (2, 4), (3, 1, 5), (64,)]
ROW_SHAPES = [s for s in SHAPES if len(s) >= 1]

# bfloat16 is drawn as float32 and rounded: same exponent range, so every bfloat16
# value (subnormals included) is reachable that way.
CARRIER = {"float64": np.float64, "float32": np.float32, "float16": np.float16, "bfloat16": np.float32}
WIDTH = {"float64": 64, "float32": 32, "float16": 16, "bfloat16": 32}
# carrier bit layout: (unsigned type of the same width, mantissa bits, exponent bits)
_LAYOUT = {16: (np.uint16, 10, 5), 32: (np.uint32, 23, 8), 64: (np.uint64, 52, 11)}


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


# sources: vectorised decoders from random bits to float64 values ----------------------------
#
# ``decode(bits, nbits, dtype)``: ``bits`` a uint64 array of ``nbits``-bit random words, one
# per element; zero bits decode to the source's simplest value. Sources are frozen
# dataclasses, so mixes of them are hashable and their strategies cacheable.


def _unit(bits: np.ndarray, nbits: int) -> np.ndarray:
    """Uniform in [0, 1) from the top (at most 53) bits."""
    keep = min(nbits, 53)
    return (bits >> np.uint64(nbits - keep)).astype(np.float64) * 2.0**-keep


@dataclass(frozen=True)
class Uniform:
    """Uniform in [lo, hi]; zero bits give the point of the range nearest 0."""

    lo: float
    hi: float

    def decode(self, bits, nbits, dtype):
        u, span = _unit(bits, nbits), self.hi - self.lo
        anchor = min(max(0.0, self.lo), self.hi)
        up = (self.hi - anchor) / span if span else 1.0  # share of the range above the anchor
        values = np.where(u < up, anchor + span * u, anchor - span * (u - up))
        return np.clip(values, self.lo, self.hi)


@dataclass(frozen=True)
class LogUniform:
    """10**e, e uniform in [lo, hi] (or 1 − 10**e with ``complement``): values near 0 (near 1)
    on a log scale."""

    lo: float
    hi: float
    complement: bool = False

    def decode(self, bits, nbits, dtype):
        values = 10.0 ** (self.lo + (self.hi - self.lo) * _unit(bits, nbits))
        return 1 - values if self.complement else values


@dataclass(frozen=True)
class Values:
    """One of ``values``, each equally often (``sampled_from``); zero bits give the first."""

    values: tuple

    def decode(self, bits, nbits, dtype):
        index = ((bits >> np.uint64(nbits - 16)) * np.uint64(len(self.values))) >> np.uint64(16)
        return np.asarray(self.values, dtype=np.float64)[index.astype(np.intp)]


@dataclass(frozen=True)
class Wide:
    """The dtype's whole grid up to ``max_abs``: random sign and mantissa, the exponent field
    uniform over [0, the field of max_abs] — log-uniform magnitudes from the subnormals up —
    and ±max_abs itself an eighth of the time (the largest value a row draws is where its
    overflow cases live; hypothesis, too, draws a range's endpoints often).
    ``max_abs=None``: every field, the all-ones one (±inf, nan) included; ``negative``: −|value|."""

    max_abs: float | None = None
    negative: bool = False

    def decode(self, bits, nbits, dtype):
        width = WIDTH[dtype]
        unsigned, mantissa, exponent = _LAYOUT[width]
        if self.max_abs is None:
            top = choices = 2**exponent - 1
        else:
            top = int(np.asarray(self.max_abs, CARRIER[dtype]).view(unsigned)) >> mantissa & (2**exponent - 1)
            choices = top + -(-(top + 1) // 7)  # the fields past top clip to max_abs: 1/8 of the draws
        spare = nbits - 1 - mantissa  # bits left for choosing the exponent field
        sign = bits >> np.uint64(nbits - 1)
        field_bits = (bits >> np.uint64(mantissa)) & np.uint64(2**spare - 1)
        fields = (field_bits * np.uint64(choices + 1)) >> np.uint64(spare)
        beyond = fields > top
        fields = np.minimum(fields, np.uint64(top))
        pattern = (sign << np.uint64(width - 1)) | (fields << np.uint64(mantissa)) | (bits & np.uint64(2**mantissa - 1))
        with np.errstate(invalid="ignore"):  # a signalling nan pattern, quieted by the cast
            values = pattern.astype(unsigned).view(CARRIER[dtype]).astype(np.float64)
        if self.max_abs is not None:
            values = np.where(beyond, np.copysign(self.max_abs, values), np.clip(values, -self.max_abs, self.max_abs))
        return -np.abs(values) if self.negative else values


@dataclass(frozen=True)
class Mix:
    """Sources with their weights (a ``one_of``: equal weights unless nested)."""

    branches: tuple  # ((weight, source), ...), weights summing to 1


def mix(*sources) -> Mix:
    """Equal shares for each source; a nested ``Mix`` splits its share among its own branches."""
    branches = []
    for source in sources:
        inner = source.branches if isinstance(source, Mix) else ((1.0, source),)
        branches.extend((weight / len(sources), s) for weight, s in inner)
    return Mix(tuple(branches))


def _decode_mix(m: Mix, selector: np.ndarray, bits: np.ndarray, nbits: int, dtype: str) -> np.ndarray:
    """Each element's value from the source its selector byte picks (byte 0: the first source)."""
    edges = np.cumsum([weight for weight, _ in m.branches]) * 256
    chosen = np.minimum(np.searchsorted(edges, selector, side="right"), len(m.branches) - 1)
    values = np.zeros(selector.shape, dtype=np.float64)
    for index, (_, source) in enumerate(m.branches):
        where = chosen == index
        if where.any():
            values[where] = source.decode(bits[where], nbits, dtype)
    return values


def _value_bytes(dtype: str) -> int:
    return 8 if WIDTH[dtype] == 64 else 4


def _own_share(size: int) -> float:
    """Hypothesis' share of elements drawn on their own in a sparse array (the rest is the fill)."""
    return min(0.9, max(10.0, math.sqrt(size)) / size)


@lru_cache(maxsize=None)
def mixed_arrays(m: Mix, shape: tuple, dtype: str, sparse: float = 0.0) -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``shape`` in ``dtype`` whose elements come from the mix ``m``, rounded to the dtype.

    One ``st.binary`` choice per array: per element a selector byte and 4 (8 for float64)
    value bytes. ``sparse``: the share of arrays drawn as hypothesis draws sparse arrays —
    a fill value, and each element its own value with hypothesis' share, else the fill's
    (constant rows, runs of equal values); the others draw every element on its own. A
    sparse-capable array leads with a mode byte and the fill element, and each element
    has one more byte (own or fill).
    """
    shape = tuple(shape)
    size = int(np.prod(shape, dtype=np.int64))
    width = _value_bytes(dtype)
    extra = 1 if sparse else 0
    record, head_length = 1 + width + extra, (2 + width) * extra
    length = size * record + head_length
    word = np.dtype(f">u{width}")
    sparse_below = round(256 * sparse)  # mode bytes below it draw sparse: all-zero bytes are all fill
    own_from = 256 - round(256 * _own_share(size)) if sparse else 0

    def decode(blob: bytes) -> np.ndarray:
        raw = np.frombuffer(blob, dtype=np.uint8)
        head, raw = raw[:head_length], raw[head_length:].reshape(size, record)
        own, raw = raw[:, :extra], raw[:, extra:]
        selector = raw[:, 0]
        bits = np.ascontiguousarray(raw[:, 1:]).view(word).reshape(size).astype(np.uint64)
        values = _decode_mix(m, selector, bits, 8 * width, dtype)
        if sparse and head[0] < sparse_below:
            head_bits = np.ascontiguousarray(head[2:]).view(word).astype(np.uint64)
            fill = _decode_mix(m, head[1:2], head_bits, 8 * width, dtype)[0]
            values = np.where(own[:, 0] >= own_from, values, fill)
        with np.errstate(over="ignore"):  # a value past the dtype's range rounds to ±inf, as a cast does
            return values.astype(CARRIER[dtype]).astype(np_dtype(dtype)).reshape(shape)

    return st.binary(min_size=length, max_size=length).map(decode)


@lru_cache(maxsize=None)
def elements(dtype: str, moderate: float = 10.0, finite: bool = False, kinks: tuple = ()) -> Mix:
    """Moderate values, the whole range and the specials, in equal shares; ``kinks``, the points
    where an op switches branch, are a fourth share (a kink is hit exactly, not by chance)."""
    extra = (Values(tuple(kinks)),) if kinks else ()
    if finite:
        return mix(Uniform(-moderate, moderate), Wide(float(finfo(np_dtype(dtype)).max)),
                   Values(tuple(v for v in specials(dtype) if np.isfinite(v))), *extra)
    return mix(Uniform(-moderate, moderate), Wide(), Values(tuple(specials(dtype))), *extra)


def arrays(dtype: str, shape, finite: bool = False, moderate: float = 10.0, kinks: tuple = ()) -> st.SearchStrategy[np.ndarray]:
    """Arrays of the value mix, sparse as hypothesis draws them (a fill value, some elements of their own)."""
    return mixed_arrays(elements(dtype, moderate, finite, tuple(kinks)), tuple(shape), dtype, sparse=1.0)


COTANGENT = mix(Uniform(-4.0, 4.0), Values((0.0, 1.0, -1.0)))


def cotangents(dtype: str, shape) -> st.SearchStrategy[np.ndarray]:
    """Finite cotangents of moderate size (±0 and ±1 included): the seed of a VJP."""
    return mixed_arrays(COTANGENT, tuple(shape), dtype, sparse=1.0)


# parameter strategies: each takes the dtype and the drawn inputs ------------------


def slope(low: float, high: float, common: tuple[float, ...]):
    """A float parameter in [low, high], with the values frameworks use as defaults drawn often."""

    @lru_cache(maxsize=None)
    def draw(dtype, inputs=None):
        value = st.one_of(st.sampled_from(common), st.floats(low, high))
        return value.map(lambda v: in_dtype(v, dtype))

    return lambda dtype, inputs: draw(dtype)


def mostly(default: float, otherwise):
    """``default`` itself, unrounded, three draws in four, else ``otherwise``'s value: a constant that
    frameworks fix (selu's α and λ) is measured at its exact value, and the spec beyond it on the baseline."""

    def draw(dtype, inputs):
        return st.sampled_from([True, True, True, False]).flatmap(
            lambda exact: st.just(default) if exact else otherwise(dtype, inputs))

    return draw


def choice(*options):
    strategy = st.sampled_from(options)

    def draw(dtype, inputs):
        return strategy

    return draw


@lru_cache(maxsize=None)
def _axes(ndim: int):
    return st.integers(-ndim, ndim - 1)


def axis(dtype, inputs):
    return _axes(inputs[0].ndim)


_SHAPE_MENUS = {0: st.sampled_from(SHAPES), 1: st.sampled_from(ROW_SHAPES)}


@st.composite
def elementwise(draw, dtype: str, params: dict, min_ndim: int = 0, kinks: tuple = ()) -> Example:
    """One array input x (``kinks`` among its values), a cotangent of x's shape, and the op's parameters."""
    shape = draw(_SHAPE_MENUS[min(min_ndim, 1)])
    x = draw(arrays(dtype, shape, kinks=kinks))
    drawn = {name: draw(strategy(dtype, [x])) for name, strategy in params.items()}
    return Example(inputs=[x], cotangent=draw(cotangents(dtype, shape)), params=drawn)
