"""The cases a run of a backend is expected to measure: catalogue rows × their checks × dtypes.

A row's checks are checker names (``OpEntry.checks``); each writes records of its own
check names: ``values`` writes forward, gradient and, for a row with properties,
property; every other checker its own name. A per-dtype checker runs once per dtype of
the run's ``selection.dtypes`` (all four when the run does not say), the others once
with dtype "-". The report shows each expected case no run measured as ``not run``.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

from ..backends import DTYPES


class Case(NamedTuple):
    op: str
    family: str
    checker: str  # the checker that runs it (values, defaults, layout, ...)
    check: str  # the check name its record carries (forward, gradient, property, defaults, ...)
    dtype: str


def _checker_records(checker: str, entry) -> tuple[str, ...]:
    from ..conformance.checkers import CHECKERS

    known = CHECKERS.get(checker)
    records = getattr(known, "records", None)
    if records is not None:
        return tuple(records(entry))
    if checker == "values":
        return ("forward", "gradient") + (("property",) if entry.properties else ())
    return (checker,)


def _per_dtype(checker: str) -> bool:
    from ..conformance.checkers import CHECKERS

    known = CHECKERS.get(checker)
    return known.per_dtype if known is not None else checker != "defaults"


def run_dtypes(environment: dict | None) -> list[str]:
    """The dtypes a run measures: its selection's, else all four."""
    selection = (environment or {}).get("selection")
    dtypes = selection.get("dtypes") if isinstance(selection, dict) else None
    if isinstance(dtypes, list) and dtypes and all(isinstance(d, str) for d in dtypes):
        return dtypes
    return list(DTYPES)


def cases(dtypes: Iterable[str]) -> list[Case]:
    """Every catalogue case for these dtypes, in catalogue order."""
    from ..conformance.catalogue import CATALOGUE

    dtypes = list(dtypes)
    found = []
    for entry in CATALOGUE.values():
        for checker in entry.checks:
            for dtype in dtypes if _per_dtype(checker) else ["-"]:
                for check in _checker_records(checker, entry):
                    found.append(Case(entry.op, entry.family, checker, check, dtype))
    return found


def catalogue_ops() -> list[str]:
    from ..conformance.catalogue import CATALOGUE

    return list(CATALOGUE)


def selected(environment: dict | None, op: str, family: str) -> bool:
    """Whether a run's selection (family, op) includes this op; a run that does not say selected all."""
    selection = (environment or {}).get("selection")
    if not isinstance(selection, dict):
        return True
    return selection.get("family") in (None, family) and selection.get("op") in (None, op)


def records_of(checker: str, op: str) -> tuple[str, ...]:
    """The check names a checker writes for one op (for telling which records belong to a started case)."""
    from ..conformance.catalogue import CATALOGUE

    entry = CATALOGUE.get(op)
    if entry is None:
        return ("forward", "gradient", "property") if checker == "values" else (checker,)
    return _checker_records(checker, entry)
