"""The catalogue: one row per op, one module per family; the engine knows nothing beyond the rows.

A row (``OpEntry``) names the spec formula and its VJP, the inputs hypothesis draws,
the tolerances in ULPs of the output dtype — each with its one-line reason — the
variant dimensions (spec parameters and their non-default values, tried alone and in
combination when a backend fails the default) and the properties the output obeys.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import strategies as S


@dataclass(frozen=True)
class Tolerance:
    max_ulp: float
    reason: str
    floor: float | None = None  # magnitude below which errors count in ULPs of the floor
    extra: Callable | None = None  # example -> ULPs allowed on top of max_ulp, per output element (a tuple: per output)

    def bound(self, example):
        if self.extra is None:
            return self.max_ulp
        extra = self.extra(example)
        return tuple(self.max_ulp + e for e in extra) if isinstance(extra, tuple) else self.max_ulp + extra


ALPHA = 1e-11  # the false-alarm rate of each statistical test of the distribution check (conformance/distribution.py)


@dataclass(frozen=True)
class Distribution:
    """What the ``distribution`` check tests of a row (``conformance/distribution.py``): ``kind`` (dropout, iid,
    orthogonal, layer), ``law`` (example, **variant) -> spec.random.Law, the ``weights`` a layer row returns,
    why (``reason``), and each statistical test's false-alarm rate ``alpha``."""

    kind: str
    law: Callable | None = None
    weights: tuple = ()
    reason: str = ""
    alpha: float = ALPHA


@dataclass(frozen=True)
class Property:
    """A law the backend's output must obey on its own: violation(x, y, params) in ULPs of 1."""

    name: str
    violation: Callable[[np.ndarray, np.ndarray, dict], float]
    reason: str


def cotangent_floor(example: S.Example) -> np.ndarray:
    """The default gradient floor: each element in ULPs of max(|vjp|, |cotangent|)."""
    return np.abs(np.asarray(example.cotangent, dtype=np.float64))


@dataclass(frozen=True)
class OpEntry:
    op: str
    family: str
    forward: Callable
    vjp: Callable
    forward_tol: Tolerance
    gradient_tol: Tolerance
    params: dict = field(default_factory=dict)  # name -> strategy factory (dtype, inputs) -> strategy
    variants: dict = field(default_factory=dict)  # spec parameter -> its non-default values
    properties: tuple[Property, ...] = ()
    min_ndim: int = 0
    inputs: Callable | None = None  # (dtype, params) -> strategy of Example; None: one elementwise array
    wrt: tuple[int, ...] = (0,)  # the inputs the VJP differentiates, in the order the spec VJP returns them
    gradient_floor: Callable[[S.Example], np.ndarray] = cotangent_floor
    checks: tuple[str, ...] = ("values", "defaults")  # names in conformance.checkers.CHECKERS
    weights: tuple[str, ...] = ()  # names of the inputs that are layer weights (the layout check)
    kinks: tuple[float, ...] = ()  # where an elementwise op switches branch besides 0: drawn exactly, a share of values
    steps: Callable | None = None  # (dtype, params) -> strategy of the multi-step examples of a stateful check
    outside: Callable | None = None  # (dtype, params) -> strategy of inputs outside the op's domain (out_of_range)
    distribution: Distribution | None = None  # a random op's law and tests (the distribution check)
    dtypes: tuple[str, ...] | None = None  # the dtypes the row is checked in (None: every dtype the run selects)

    def example(self, dtype: str):
        if self.inputs is not None:
            return self.inputs(dtype, self.params)
        return S.elementwise(dtype, self.params, self.min_ndim, self.kinks)

    def completed(self, example: S.Example) -> S.Example:
        """``example`` with each row parameter it lacks at the spec's default: an example recorded before the
        row gained the parameter was measured at that default (weight_decay = 0: no decay). The inputs fill
        the forward's leading parameters (an optimizer's lr among them); the rest are parameters."""
        rest = list(inspect.signature(self.forward).parameters.values())[len(example.inputs):]
        missing = {p.name: p.default for p in rest if p.kind is not p.KEYWORD_ONLY and p.name in self.params
                   and p.name not in example.params and p.default is not p.empty}
        example.params = {**example.params, **missing}
        return example

    @property
    def formula(self) -> str:
        return inspect.getdoc(self.forward).split("\n\n")[0]

    @property
    def defaults(self) -> dict:
        """The spec's default for each parameter, read from the spec function's signature."""
        signature = inspect.signature(self.forward).parameters
        return {name: signature[name].default for name in self.params}


def describe(op: str, params: dict) -> str:
    return f"{op}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


def _rows():
    from . import (activations, attention, embedding, layers, losses, metrics, models, normalization, optimizers,
                   quantization, random, recurrent)

    return [*activations.ROWS, *losses.ROWS, *optimizers.ROWS, *recurrent.ROWS, *attention.ROWS, *layers.ROWS,
            *normalization.ROWS, *quantization.ROWS, *embedding.ROWS, *random.ROWS, *metrics.ROWS,
            *models.ROWS]


class CatalogueError(ValueError):
    """A row that cannot be right, reported when the catalogue is built (at import)."""


def validate(entry: OpEntry) -> OpEntry:
    """``entry`` itself, or CatalogueError naming the row and the offending name when

    * ``params`` names a parameter the spec forward does not have;
    * the VJP is missing: the spec states ``<op>_vjp`` but the row has none, or the row checks
      values of one elementwise array (whose gradient the engine always checks) without one;
    * a variant names neither a spec parameter nor a keyword-only variant selector of the spec
      forward or VJP, or lists its spec default among its non-default values.
    """
    where = f"catalogue row {entry.op!r} ({entry.family})"
    forward = inspect.signature(entry.forward).parameters
    backward = inspect.signature(entry.vjp).parameters if entry.vjp is not None else {}
    spec_params = [n for n, p in forward.items() if p.kind is not p.KEYWORD_ONLY]
    for name in entry.params:
        if name not in spec_params:
            raise CatalogueError(f"{where}: params names {name!r}, which spec {entry.forward.__name__}"
                                 f"({', '.join(spec_params)}) does not have")
    if entry.vjp is None and (_spec_states(f"{entry.op}_vjp") or ("values" in entry.checks and entry.inputs is None)):
        raise CatalogueError(f"{where}: no vjp, but its gradient is checked (give spec {entry.op}_vjp)")
    if "out_of_range" in entry.checks and entry.outside is None:
        raise CatalogueError(f"{where}: the out_of_range check needs the row's outside strategy")
    selectors = {**forward, **backward}
    for name, values in entry.variants.items():
        if name == "subnormals":
            continue  # common to every op, handled by the engine
        if name not in selectors:
            raise CatalogueError(f"{where}: variant {name!r} is neither a parameter nor a keyword-only variant "
                                 f"selector of spec {entry.forward.__name__} or its VJP")
        default = selectors[name].default
        if default is not inspect.Parameter.empty and any(_equal(v, default) for v in values):
            raise CatalogueError(f"{where}: variant {name!r} lists the spec default {default!r} as a variant")
    return entry


def _spec_states(name: str) -> bool:
    from ... import spec

    try:
        spec.formula(name)
    except KeyError:
        return False
    return True


def _equal(a, b) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # arrays and the like: not a default anyway
        return False


def build(rows) -> dict[str, OpEntry]:
    """op -> row, every row validated; two rows for one op are an error too."""
    catalogue = {}
    for entry in rows:
        if entry.op in catalogue:
            raise CatalogueError(f"catalogue row {entry.op!r} ({entry.family}) is declared twice")
        catalogue[entry.op] = validate(entry)
    return catalogue


CATALOGUE: dict[str, OpEntry] = build(_rows())
FAMILIES = list(dict.fromkeys(entry.family for entry in CATALOGUE.values()))


def select(family: str | None = None, op: str | None = None) -> list[OpEntry]:
    """Catalogue rows filtered by family and/or op id; unknown names are an error, not an empty run."""
    if family is not None and family not in FAMILIES:
        raise KeyError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    if op is not None and op not in CATALOGUE:
        raise KeyError(f"unknown op {op!r}; known: {', '.join(CATALOGUE)}")
    return [e for e in CATALOGUE.values() if (family is None or e.family == family) and (op is None or e.op == op)]
