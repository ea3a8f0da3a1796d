"""Reading a results directory and merging it into one report dict.

The report dict is what ``conformance.json`` holds and what every renderer reads:

schema_version  results.SCHEMA_VERSION
generated       UTC time the report was built (ISO 8601)
runs            one per (backend, device) run: its environment, whether it finished
                (a run without a ``finished`` line is ``interrupted``), wall time, counts
records         every check record, all stored fields kept
defaults        op, parameter, spec_default, backend, native_default, differs (+ native, version)
benchmarks      one entry per benchmark (see ``bench``)
bench_files     the benchmark files used: backend, device, machine, commit
ops, dtypes     the orders the renderers follow
warnings        what reading skipped or superseded, also emitted as Python warnings

Order is deterministic: ops as first seen in the records (runs read numpy first, then
backends alphabetically), dtypes float64, float32, float16, bfloat16 then as seen,
backends numpy first then alphabetical, devices cpu first. When two runs are of the same
(backend, device) the newest (by ``started``, else by reading order) wins.
"""

from __future__ import annotations

import warnings
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..conformance import results
from . import bench
from .format import check_key

DTYPE_ORDER = ("float64", "float32", "float16", "bfloat16")
DTYPE_FREE = ("-", "", None)  # the dtype of a record that has none (the defaults check)
MODE_ORDER = ("eager", "compiled", "native")
ENVIRONMENT_FIELDS = (
    "run_id", "backend", "backend_version", "device", "python", "platform", "machine", "processor",
    "numpy", "numerics", "budget", "seed", "nnspec_version", "started", "argv",
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


def _runs(lines: list[dict]) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    """Runs by run_id, and each run's lines; lines of a run whose environment is lost form their own run."""
    runs: dict[str, dict] = {}
    lines_of: dict[str, list[dict]] = {}
    for index, line in enumerate(lines):
        run_id = str(line.get("run_id") or f"{line.get('backend', 'unknown')}-{line.get('device', 'unknown')}")
        lines_of.setdefault(run_id, []).append(line)
        if line["kind"] == "environment":
            runs[run_id] = {"order": index, **line}
        elif run_id not in runs:
            runs[run_id] = {"order": index, "run_id": run_id, "environment_missing": True}
    for run_id, run in runs.items():  # a run known only by its records takes their backend and device
        if run.get("environment_missing"):
            first = next((l for l in lines_of[run_id] if l.get("backend")), {})
            run.setdefault("backend", first.get("backend", "unknown"))
            run.setdefault("backend_version", first.get("backend_version"))
            run.setdefault("device", first.get("device", "unknown"))
    return runs, lines_of


def _newest(runs: dict[str, dict], notes: list[str]) -> list[str]:
    """run_ids kept: the newest run of each (backend, device)."""
    kept: dict[tuple, dict] = {}
    for run in sorted(runs.values(), key=lambda r: r["order"]):
        key = (run.get("backend"), run.get("device"))
        if key in kept:
            older, newer = sorted((kept[key], run), key=lambda r: (str(r.get("started") or ""), r["order"]))
            notes.append(f"run {older['run_id']} of {key[0]} on {key[1]} is superseded by the newer run {newer['run_id']}")
            run = newer
        kept[key] = run
    return [run["run_id"] for run in kept.values()]


def _run_entry(run: dict, lines: list[dict]) -> dict:
    finished = next((l for l in reversed(lines) if l["kind"] == "finished"), None)
    checks = [l for l in lines if l["kind"] == "check"]
    measured = sum(s for s in (l.get("seconds") for l in checks) if isinstance(s, (int, float)))
    entry = {field: run.get(field) for field in ENVIRONMENT_FIELDS}
    entry.update(
        finished=finished is not None,
        interrupted=finished is None,
        environment_missing=bool(run.get("environment_missing")),
        wall_s=finished.get("seconds") if finished else None,
        measured_s=measured,
        counts=dict(sorted(Counter(str(l.get("status")) for l in checks).items())),
        reported_counts=finished.get("counts") if finished else None,
        records=len(checks),
        defaults=sum(1 for l in lines if l["kind"] == "default"),
    )
    return entry


def _default_entry(line: dict) -> dict:
    entry = {k: v for k, v in line.items() if k != "kind"}
    for field in ("op", "parameter", "spec_default", "backend", "native_default"):
        entry.setdefault(field, None)
    if "differs" not in entry or entry["differs"] is None:
        entry["differs"] = entry["spec_default"] != entry["native_default"]
    return entry


def merge(results_dir: Path | str) -> dict:
    """The report dict of a results directory (see the module docstring)."""
    results_dir = Path(results_dir)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lines = results.read_results(results_dir)
        bench_files, benchmarks = bench.read_benchmarks(results_dir)
    notes[:0] = [str(w.message) for w in caught]

    runs, lines_of = _runs(lines)
    kept = _newest(runs, notes)
    for note in notes:  # surfaced twice: in the report, and to whoever called
        warnings.warn(note, stacklevel=2)
    kept.sort(key=lambda run_id: (backend_key(runs[run_id].get("backend")), device_key(runs[run_id].get("device"))))

    run_entries, records, defaults = [], [], {}
    for run_id in kept:
        run_entries.append(_run_entry(runs[run_id], lines_of[run_id]))
        for line in lines_of[run_id]:
            if line["kind"] == "check":
                records.append({k: v for k, v in line.items() if k != "kind"})
            elif line["kind"] == "default":
                entry = _default_entry(line)
                defaults.setdefault((entry["op"], entry["parameter"], entry["backend"], entry.get("backend_version")), entry)

    ops = first_seen([r.get("op") for r in records] + [d["op"] for d in defaults.values()] + [b["op"] for b in benchmarks if b["op"] != bench.MEMCPY])
    dtypes = ordered(
        [d for d in [r.get("dtype") for r in records] + [b["dtype"] for b in benchmarks] if d not in DTYPE_FREE],
        DTYPE_ORDER,
    )

    def op_index(op):
        return ops.index(op) if op in ops else len(ops)

    def dtype_index(dtype):
        return dtypes.index(dtype) if dtype in dtypes else len(dtypes)

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
        defaults.values(), key=lambda d: (op_index(d["op"]), str(d["parameter"]), backend_key(d["backend"]))
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
        "schema_version": results.SCHEMA_VERSION,
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
