"""The op × backend matrix, one table per dtype, and the record details its cells open.

A column is one (backend, device) run; a row one op. A cell holds every check record of
its (op, backend, device, dtype): per check (forward, gradient, property, defaults, ...)
the worst status of that check's records, and the worst max_ulp of the cell. The cell
shows the worst status of all its checks, so an unsupported, skipped or erroring check
is never hidden behind a pass. Without a ``defaults`` check record, the cell's defaults
status comes from the run's default lines for (op, backend): pass if every native
default equals the spec's, ``differs`` otherwise. A case no run measured is a record of
status ``not run`` (display ``notrun``, shown grey, never as a pass); a cell made only of
them, or of no records at all, is ``notrun`` (shown as —).

Each record names the run it comes from (``run_id``); a cell lists its runs, oldest first,
with their start times (``origin``), and says so in Markdown too when its column mixes
records of several runs (``mixed``).
"""

from __future__ import annotations

from collections import defaultdict

from .format import (
    DEVIATIONS,
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


def run_times(report: dict) -> dict[str, str | None]:
    """run_id -> when the run started, for every run of the report."""
    return {run.get("run_id"): run.get("started") for run in report["runs"]}


def origin(run_ids, started: dict) -> str:
    """Which runs some records come from: 'run abc123 (started 2024-06-01T12:00:00+00:00)', oldest first."""
    ids = [r for r in dict.fromkeys(run_ids) if r]
    if not ids:
        return "no run measured it"
    order = list(started)
    ids.sort(key=lambda r: order.index(r) if r in order else len(order))
    return "; ".join(f"run {r} (started {started.get(r) or 'unknown'})" for r in ids)


def detail(record: dict, index: int, started: dict | None = None) -> dict:
    """One check record as a renderer shows it."""
    status = display_status(record)
    started = started or {}
    shown = (record.get("counterexamples") or [record.get("counterexample")])[0]  # the example a card shows
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
        "max_ulp_value": record.get("max_ulp"),
        "max_abs": fmt_number(record.get("max_abs")),
        "max_rel": fmt_number(record.get("max_rel")),
        "tolerance": " ".join(filter(None, [fmt_tolerance(record.get("tolerance")), record.get("tolerance_rule")])),
        "tolerance_reason": record.get("tolerance_reason") or "",
        "examples": fmt_number(record.get("examples")),
        "message": str(record.get("message") or ""),
        "variant": fmt_variant(record.get("matches_variant"), str(record.get("op") or "")),
        "counterexample": counterexample_items(shown),
        "example_message": str(shown.get("message") or "") if isinstance(shown, dict) else "",
        "repro": str(record.get("repro") or ""),
        "counterexample_capped": bool(record.get("counterexample_capped")),
        "composed": bool(record.get("composed")),
        "seconds": record.get("seconds"),
        "run_id": record.get("run_id") or "",
        "run_started": started.get(record.get("run_id")) or "",
        "origin": origin([record.get("run_id")], started),
    }


def columns(report: dict) -> list[dict]:
    """One per (backend, device): the versions of the records it shows, else its newest run's version."""
    newest: dict[tuple, str | None] = {}
    for run in report["runs"]:  # oldest first within a (backend, device): the last one is the newest
        newest[(run.get("backend"), run.get("device"))] = run.get("backend_version")
    shown: dict[tuple, set] = defaultdict(set)
    runs_of: dict[tuple, set] = defaultdict(set)
    for record in report["records"]:
        key = (record.get("backend"), record.get("device"))
        newest.setdefault(key, None)
        if record.get("backend_version"):
            shown[key].add(str(record["backend_version"]))
        if record.get("run_id"):
            runs_of[key].add(record["run_id"])
    keys = sorted((k for k in newest if k[0] is not None and k[1] is not None),
                  key=lambda k: (backend_key(k[0]), device_key(k[1])))
    return [
        {"backend": b, "device": d, "version": ", ".join(sorted(shown[(b, d)])) or newest[(b, d)] or "",
         "label": f"{b} {d}", "mixed": len(runs_of[(b, d)]) > 1}
        for b, d in keys
    ]


def _cell(records: list[tuple[int, dict]], defaults: list[dict], started: dict) -> dict:
    if not records or all(display_status(r) == "notrun" for _, r in records):
        messages = first_seen_messages(r for _, r in records)
        return {"status": "notrun", "symbol": SYMBOL["notrun"], "checks": [], "ulp": "", "records": [],
                "defaults": [], "empty": True, "origin": "; ".join(messages) or "not run", "runs": []}
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
    run_ids = [r.get("run_id") for _, r in records if r.get("run_id")]
    return {
        "status": status,
        "symbol": SYMBOL[status],
        "checks": checks,
        "ulp": fmt_ulp(ulp) if ulp is not None else "",
        "records": [detail(record, index, started) for index, record in records],
        "defaults": shown_defaults,
        "empty": False,
        "origin": origin(run_ids, started),
        "runs": [r for r in dict.fromkeys(run_ids)],
    }


def first_seen_messages(records) -> list[str]:
    return list(dict.fromkeys(str(r.get("message")) for r in records if r.get("message")))


def tables(report: dict) -> list[dict]:
    """One table per dtype: {"dtype", "columns", "rows": [{"op", "family", "cells"}]}.

    Records of no dtype (``dtype: "-"``, the defaults check) belong to every dtype: they join
    each cell of their (op, backend, device) that has records of its own, or every such cell
    where the op has none in any dtype (so an op not reached by an interrupted run stays —).
    """
    cols = columns(report)
    started = run_times(report)
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
        defaults[(entry.get("op"), entry.get("backend"), entry.get("device"))].append(entry)
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
                cell = _cell(sorted(own + shared, key=lambda item: item[0]), defaults.get(where, []), started)
                cell["column"] = col
                cell["right"] = position >= len(cols) / 2  # where a popup opens towards the left
                row_cells.append(cell)
            rows.append({"op": op, "family": families.get(op, ""), "cells": row_cells})
        result.append({"dtype": dtype, "columns": cols, "rows": rows})
    return result


def deviations(report: dict) -> list[dict]:
    """Every record whose status is fail, error, timeout or crashed (an unknown status counts as error), in report order."""
    started = run_times(report)
    return [
        detail(r, i, started) for i, r in enumerate(report["records"])
        if r.get("status") in DEVIATIONS or display_status(r) == "error"
    ]
