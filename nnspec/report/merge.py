"""Reading a results directory and merging it into one report dict.

The report dict is what every renderer reads (``conformance.json`` holds its status-file form,
``status``; ``runs.json`` its runs):

schema_version  status.SCHEMA_VERSION (the report's; results files have their own)
generated       UTC time the report was built (ISO 8601)
runs            one per (backend, device) run: its environment, whether it finished
                (a run without a ``finished`` line is ``interrupted``), wall time, counts
records         every check record, all stored fields kept
defaults        op, parameter, spec_default, backend, native_default, differs (+ native, version)
benchmarks      one entry per benchmark (see ``bench``)
bench_files     the benchmark files used: backend, device, machine, commit
ops, dtypes     the orders the renderers follow
warnings        what reading skipped or superseded, also emitted as Python warnings

Merging is per case: for each record ``id`` the record of the newest run that measured it
wins (runs are ordered oldest first by ``started``, then file name; a ``resumed`` line
continues its run, a later line of one run beats an earlier one). So re-running one op
or one family supersedes exactly the cases it re-measured and keeps every other record.
Each record keeps its ``run_id``; ``runs`` lists every run (superseded ones included),
with how many of its records the report kept. Every catalogue case (``expected``) of
every (backend, device) that ran appears: one no run measured is a record of status
``not run`` (``results.NOT_RUN``, never in a results file) saying why.

A run entry says whether it ``finished`` (a ``finished`` line after its last ``resumed``
line); one that did not is ``interrupted``, and ``running_when_died`` names the case it
was running: its last ``case_started`` line that no record of that case follows.

Order is deterministic: ops in catalogue order then others as first seen, dtypes
float64, float32, float16, bfloat16 then as seen, backends numpy first then
alphabetical, devices cpu first, runs of one (backend, device) oldest first.
"""

from __future__ import annotations

import warnings
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..conformance import results
from . import bench, expected, status
from .format import check_key

DTYPE_ORDER = ("float64", "float32", "float16", "bfloat16")
DTYPE_FREE = ("-", "", None)  # the dtype of a record that has none (the defaults check)
MODE_ORDER = ("eager", "compiled", "native")
ENVIRONMENT_FIELDS = (
    "run_id", "backend", "backend_ref", "backend_version", "device", "python", "platform", "machine", "processor",
    "numpy", "numerics", "budget", "seed", "selection", "nnspec_version", "started", "argv",
)
#: The fields of a ``not run`` record, as every measured record has them.
RECORD_FIELDS = (
    "id", "op", "family", "backend", "backend_version", "device", "dtype", "check", "status", "matches_variant",
    "max_ulp", "max_abs", "max_rel", "tolerance", "tolerance_rule", "tolerance_reason", "examples", "counterexamples", "repro",
    "message", "seed", "seconds", "composed", "run_id",
)


def backend_key(backend: Any) -> tuple:
    """numpy, the baseline, first; the rest alphabetical."""
    return (backend != "numpy", str(backend))


def device_key(device: Any) -> tuple:
    return (device != "cpu", str(device))


def first_seen(values) -> list:
    return list(dict.fromkeys(v for v in values if v is not None))


def ordered(values, known=()) -> list:
    """The known values in their order, then the others as first seen."""
    seen = first_seen(values)
    return [v for v in known if v in seen] + [v for v in seen if v not in known]


def _identity(run: results.Run) -> dict:
    """A run's backend, version and device: from its environment line, else from its own lines."""
    env = run.environment or {}
    first = next((l for l in run.lines if isinstance(l.get("backend"), str) and l.get("device")), {})
    backend, device = env.get("backend") or first.get("backend"), env.get("device") or first.get("device")
    return {
        "backend": backend or "unknown", "device": device or "unknown", "known": bool(backend and device),
        "backend_version": env.get("backend_version") or first.get("backend_version"),
    }


def _record_key(record: dict) -> tuple:
    return (record.get("backend"), record.get("device"), record.get("dtype"), record.get("op"), record.get("check"))


def _newest_records(runs: list[results.Run], notes: list[str]) -> dict[str, tuple[str, dict]]:
    """record id -> (run_id, record): the newest run's record of each id (runs come oldest first)."""
    kept: dict[str, tuple[str, dict]] = {}
    superseded: Counter = Counter()
    repeated: Counter = Counter()
    for run in runs:
        for line in run.lines:
            if line["kind"] != "check":
                continue
            record = {k: v for k, v in line.items() if k != "kind"}
            record["run_id"] = record.get("run_id") or run.run_id
            if record["id"] in kept:
                older = kept[record["id"]][0]
                (repeated if older == run.run_id else superseded)[(older, run.run_id)] += 1
            kept[record["id"]] = (run.run_id, record)
    started = {run.run_id: run.started for run in runs}
    for (older, newer), count in superseded.items():
        notes.append(f"{count} record{'s' if count != 1 else ''} of run {older} (started {started[older] or 'unknown'}) "
                     f"superseded by the newer run {newer} (started {started[newer] or 'unknown'})")
    for (run_id, _), count in repeated.items():
        notes.append(f"run {run_id} measured {count} record{'s' if count != 1 else ''} again: its later line{'s' if count != 1 else ''} kept")
    return kept


def _newest_defaults(runs: list[results.Run], identity: dict[str, dict]) -> dict[tuple, dict]:
    """(op, parameter, backend, device) -> the newest run's default line."""
    defaults: dict[tuple, dict] = {}
    for run in runs:
        for line in run.lines:
            if line["kind"] == "default":
                entry = _default_entry(line)
                entry["run_id"] = entry.get("run_id") or run.run_id
                entry.setdefault("device", identity[run.run_id]["device"])
                defaults[(entry["op"], entry["parameter"], entry["backend"], entry["device"])] = entry
    return defaults


def _open_cases(run: results.Run) -> list[dict]:
    """The case_started lines of a run that no record of their case follows, in the order they started."""
    open_cases: dict[tuple, dict] = {}
    for line in run.lines:
        if line["kind"] == "case_started":
            key = (line["op"], line["check"], line["dtype"])
            open_cases.pop(key, None)
            open_cases[key] = line
        elif line["kind"] == "check":
            for key in [k for k in open_cases if k[0] == line["op"] and k[2] == line["dtype"]]:
                if line["check"] == key[1] or line["check"] in expected.records_of(key[1], key[0]) \
                        or line.get("case") == open_cases[key].get("case"):
                    del open_cases[key]
    return list(open_cases.values())


def _state(run: results.Run) -> tuple[dict | None, list[str]]:
    """The finished line that ends the run (None: interrupted) and the start times of its resumptions."""
    finished, resumed = None, []
    for line in run.lines:
        if line["kind"] == "resumed":
            finished = None
            resumed.append(line.get("started"))
        elif line["kind"] == "finished":
            finished = line
    return finished, resumed


def _case_of(line: dict) -> dict:
    return {"case": line.get("case") or f"{line['op']}-{line['check']}" + ("" if line["dtype"] == "-" else f"-{line['dtype']}"),
            "op": line["op"], "check": line["check"], "dtype": line["dtype"], "worker": line.get("worker")}


def _run_entry(run: results.Run, identity: dict, kept: int) -> dict:
    finished, resumed = _state(run)
    checks = [l for l in run.lines if l["kind"] == "check"]
    measured = sum(s for s in (l.get("seconds") for l in checks) if isinstance(s, (int, float)) and not isinstance(s, bool))
    open_cases = [] if finished else [_case_of(l) for l in _open_cases(run)]
    entry = {field: (run.environment or {}).get(field) for field in ENVIRONMENT_FIELDS}
    entry.update(run_id=run.run_id, backend=identity["backend"], device=identity["device"],
                 backend_version=entry["backend_version"] or identity["backend_version"])
    entry.update(
        file=run.path.name,
        finished=finished is not None,
        interrupted=finished is None,
        environment_missing=run.environment is None,
        resumed=resumed,
        running_when_died=open_cases[-1] if open_cases else None,
        unfinished_cases=open_cases,
        wall_s=finished.get("seconds") if finished else None,
        cpu_seconds=finished.get("cpu_seconds") if finished else None,
        measured_s=measured,
        counts=dict(sorted(Counter(str(l.get("status")) for l in checks).items())),
        reported_counts=finished.get("counts") if finished else None,
        records=len(checks),
        kept=kept,
        superseded=len({l["id"] for l in checks}) - kept,
        defaults=sum(1 for l in run.lines if l["kind"] == "default"),
    )
    return entry


def _not_run(runs: list[results.Run], identity: dict[str, dict], measured: set[tuple], entries: dict[str, dict]) -> list[dict]:
    """A ``not run`` record for every catalogue case of every (backend, device) that ran and no run measured."""
    columns: dict[tuple, list[results.Run]] = {}
    for run in runs:
        if identity[run.run_id]["known"]:
            columns.setdefault((identity[run.run_id]["backend"], identity[run.run_id]["device"]), []).append(run)
    missing = []
    for (backend, device), column in columns.items():
        dtypes = first_seen(d for run in column for d in expected.run_dtypes(run.environment))
        died = {}
        for run in column:
            for case in entries[run.run_id]["unfinished_cases"]:
                died[(case["op"], case["check"], case["dtype"])] = run.run_id
        for case in expected.cases(dtypes):
            if (backend, device, case.dtype, case.op, case.check) in measured:
                continue
            choosing = [run for run in column if expected.selected(run.environment, case.op, case.family)
                        and (case.dtype == "-" or case.dtype in expected.run_dtypes(run.environment))]
            interrupted = [run for run in choosing if entries[run.run_id]["interrupted"]]
            if (case.op, case.checker, case.dtype) in died:
                message = f"not run: it was running when run {died[(case.op, case.checker, case.dtype)]} died"
            elif not choosing:
                message = f"not run: outside the selection of every run of {backend} on {device}"
            elif interrupted:
                message = f"not run: run {interrupted[-1].run_id} was interrupted before it reached this case"
            else:
                message = f"not run: no run of {backend} on {device} measured this case"
            record = dict.fromkeys(RECORD_FIELDS)
            record.update(
                id=f"{backend}/{device}/{case.dtype}/{case.op}/{case.check}", op=case.op, family=case.family,
                backend=backend, device=device, dtype=case.dtype, check=case.check, status=results.NOT_RUN,
                examples=0, message=message, composed=False,
            )
            missing.append(record)
    return missing


def _default_entry(line: dict) -> dict:
    entry = {k: v for k, v in line.items() if k != "kind"}
    for field in ("op", "parameter", "spec_default", "backend", "native_default"):
        entry.setdefault(field, None)
    if "differs" not in entry or entry["differs"] is None:
        entry["differs"] = entry["spec_default"] != entry["native_default"]
    return entry


def _op_order(ops: list) -> list:
    """Catalogue ops in catalogue order, then the others as first seen."""
    seen = first_seen(ops)
    known = [op for op in expected.catalogue_ops() if op in seen]
    return known + [op for op in seen if op not in known]


def merge(results_dir: Path | str) -> dict:
    """The report dict of a results directory (see the module docstring)."""
    results_dir = Path(results_dir)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = results.read_runs(results_dir)
        bench_files, benchmarks = bench.read_benchmarks(results_dir)
    notes[:0] = [str(w.message) for w in caught]

    identity = {run.run_id: _identity(run) for run in runs}
    kept = _newest_records(runs, notes)
    for note in notes:  # surfaced twice: in the report, and to whoever called
        warnings.warn(note, stacklevel=2)
    kept_of = Counter(run_id for run_id, _ in kept.values())
    entries = {run.run_id: _run_entry(run, identity[run.run_id], kept_of[run.run_id]) for run in runs}
    position = {run.run_id: index for index, run in enumerate(runs)}
    run_entries = sorted(entries.values(), key=lambda r: (backend_key(r["backend"]), device_key(r["device"]), position[r["run_id"]]))

    records = [record for _, record in kept.values()]
    records += _not_run(runs, identity, {_record_key(r) for r in records}, entries)
    defaults = _newest_defaults(runs, identity)

    ops = _op_order([r.get("op") for r in records] + [d["op"] for d in defaults.values()]
                    + [b["op"] for b in benchmarks if b["op"] != bench.MEMCPY])
    dtypes = ordered(
        [d for d in [r.get("dtype") for r in records] + [b["dtype"] for b in benchmarks] if d not in DTYPE_FREE],
        DTYPE_ORDER,
    )

    op_position = {op: index for index, op in enumerate(ops)}
    dtype_position = {dtype: index for index, dtype in enumerate(dtypes)}

    def op_index(op):
        return op_position.get(op, len(ops))

    def dtype_index(dtype):
        return dtype_position.get(dtype, len(dtypes))

    records = [
        r for _, r in sorted(
            enumerate(records),
            key=lambda ir: (
                op_index(ir[1].get("op")), backend_key(ir[1].get("backend")), device_key(ir[1].get("device")),
                dtype_index(ir[1].get("dtype")), check_key(str(ir[1].get("check"))), ir[0],
            ),
        )
    ]
    default_entries = sorted(
        defaults.values(), key=lambda d: (op_index(d["op"]), str(d["parameter"]), backend_key(d["backend"]), device_key(d["device"]))
    )
    benchmarks.sort(
        key=lambda b: (
            b["op"] == bench.MEMCPY, op_index(b["op"]), device_key(b["device"]), dtype_index(b["dtype"]),
            b["elements"] if isinstance(b["elements"], (int, float)) else -1,
            backend_key(b["backend"]), MODE_ORDER.index(b["mode"]) if b["mode"] in MODE_ORDER else len(MODE_ORDER),
            str(b["mode"]),
        )
    )
    bench_files.sort(key=lambda f: (backend_key(f["backend"]), device_key(f["device"])))
    return {
        "schema_version": status.SCHEMA_VERSION,
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "runs": run_entries,
        "records": records,
        "defaults": default_entries,
        "benchmarks": benchmarks,
        "bench_files": [{k: v for k, v in f.items() if k != "entries"} for f in bench_files],
        "ops": ops,
        "dtypes": dtypes,
        "warnings": notes,
    }
