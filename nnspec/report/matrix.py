"""The op × backend matrix, one table per dtype, and the record details its cells open.

A column is one (backend, device) run; a row one op. A cell holds every check record of
its (op, backend, device, dtype): per check (forward, gradient, property, defaults, ...)
the worst status of that check's records, and the worst max_ulp of the cell. The cell
shows the worst status of all its checks, so an unsupported, skipped or erroring check
is never hidden behind a pass. Without a ``defaults`` check record, the cell's defaults
status comes from the run's default lines for (op, backend): pass if every native
default equals the spec's, ``differs`` otherwise. An op a backend never ran is
``notrun`` (shown as —).
"""

from __future__ import annotations

from collections import defaultdict

from .format import (
    SYMBOL,
    abbr,
    check_key,
    counterexample_items,
    counts_for_cell,
    display_status,
    fmt_number,
    fmt_tolerance,
    fmt_ulp,
    fmt_variant,
    worst,
    worst_ulp,
)
from .merge import DTYPE_FREE, backend_key, device_key


def detail(record: dict, index: int) -> dict:
    """One check record as a renderer shows it."""
    status = display_status(record)
    return {
        "anchor": f"rec-{index}",
        "id": record.get("id"),
        "op": record.get("op"),
        "family": record.get("family"),
        "backend": record.get("backend"),
        "backend_version": record.get("backend_version"),
        "device": record.get("device"),
        "dtype": record.get("dtype"),
        "dtype_text": "any dtype" if record.get("dtype") in DTYPE_FREE else str(record.get("dtype")),
        "check": record.get("check"),
        "status": str(record.get("status")),
        "display": status,
        "symbol": SYMBOL[status],
        "max_ulp": fmt_number(record.get("max_ulp")),
        "max_abs": fmt_number(record.get("max_abs")),
        "max_rel": fmt_number(record.get("max_rel")),
        "tolerance": fmt_tolerance(record.get("tolerance")),
        "tolerance_reason": record.get("tolerance_reason") or "",
        "examples": fmt_number(record.get("examples")),
        "message": str(record.get("message") or ""),
        "variant": fmt_variant(record.get("matches_variant"), str(record.get("op") or "")),
        "counterexample": counterexample_items(record.get("counterexample")),
        "repro": str(record.get("repro") or ""),
        "composed": bool(record.get("composed")),
        "seconds": record.get("seconds"),
    }


def columns(report: dict) -> list[dict]:
    versions = {}
    for source in (report["runs"], report["records"]):
        for item in source:
            key = (item.get("backend"), item.get("device"))
            if key[0] is not None and key[1] is not None:
                versions.setdefault(key, item.get("backend_version"))
    keys = sorted(versions, key=lambda k: (backend_key(k[0]), device_key(k[1])))
    return [
        {"backend": b, "device": d, "version": versions[(b, d)] or "", "label": f"{b} {d}"} for b, d in keys
    ]


def _cell(records: list[tuple[int, dict]], defaults: list[dict]) -> dict:
    if not records:
        return {"status": "notrun", "symbol": SYMBOL["notrun"], "checks": [], "ulp": "", "records": [], "defaults": []}
    by_check: dict[str, list[str]] = defaultdict(list)
    for _, record in records:
        by_check[str(record.get("check"))].append(display_status(record))
    shown_defaults = []
    if "defaults" not in by_check and defaults:
        by_check["defaults"].append("differs" if any(d.get("differs") for d in defaults) else "pass")
        shown_defaults = defaults
    checks = [
        {"check": check, "abbr": abbr(check), "status": worst(statuses), "symbol": SYMBOL[worst(statuses)], "count": len(statuses)}
        for check, statuses in sorted(by_check.items(), key=lambda item: check_key(item[0]))
    ]
    counted = [c["status"] for c in checks if counts_for_cell(c["check"], c["status"])]
    status = worst(counted or [c["status"] for c in checks])
    ulp = worst_ulp(r.get("max_ulp") for _, r in records)
    return {
        "status": status,
        "symbol": SYMBOL[status],
        "checks": checks,
        "ulp": fmt_ulp(ulp) if ulp is not None else "",
        "records": [detail(record, index) for index, record in records],
        "defaults": shown_defaults,
    }


def tables(report: dict) -> list[dict]:
    """One table per dtype: {"dtype", "columns", "rows": [{"op", "family", "cells"}]}.

    Records of no dtype (``dtype: "-"``, the defaults check) belong to every dtype: they join
    each cell of their (op, backend, device) that has records of its own, or every such cell
    where the op has none in any dtype (so an op not reached by an interrupted run stays —).
    """
    cols = columns(report)
    cells: dict[tuple, list[tuple[int, dict]]] = defaultdict(list)
    dtype_free: dict[tuple, list[tuple[int, dict]]] = defaultdict(list)
    families: dict[str, str] = {}
    for index, record in enumerate(report["records"]):
        where = (record.get("op"), record.get("backend"), record.get("device"))
        if record.get("dtype") in DTYPE_FREE:
            dtype_free[where].append((index, record))
        else:
            cells[(*where, record.get("dtype"))].append((index, record))
        families.setdefault(record.get("op"), record.get("family") or "")
    with_records = {key[:3] for key in cells}
    defaults: dict[tuple, list[dict]] = defaultdict(list)
    for entry in report["defaults"]:
        defaults[(entry.get("op"), entry.get("backend"))].append(entry)
    ops = [op for op in report["ops"] if op in families]
    dtypes = [d for d in report["dtypes"] if any(r.get("dtype") == d for r in report["records"])]
    if not dtypes and dtype_free:
        dtypes = ["any dtype"]
    result = []
    for dtype in dtypes:
        rows = []
        for op in ops:
            row_cells = []
            for position, col in enumerate(cols):
                where = (op, col["backend"], col["device"])
                own = cells.get((*where, dtype), [])
                shared = dtype_free.get(where, []) if own or where not in with_records else []
                cell = _cell(sorted(own + shared, key=lambda item: item[0]), defaults.get((op, col["backend"]), []))
                cell["column"] = col
                cell["right"] = position >= len(cols) / 2  # where a popup opens towards the left
                row_cells.append(cell)
            rows.append({"op": op, "family": families.get(op, ""), "cells": row_cells})
        result.append({"dtype": dtype, "columns": cols, "rows": rows})
    return result


def deviations(report: dict) -> list[dict]:
    """Every record whose status is fail or error (an unknown status counts as error), in report order."""
    return [
        detail(r, i) for i, r in enumerate(report["records"])
        if r.get("status") in ("fail", "error") or display_status(r) == "error"
    ]
