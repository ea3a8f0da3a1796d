"""What both renderers show, gathered from a report dict: the template context."""

from __future__ import annotations

from . import matrix, speed
from .format import (
    CHECK_ABBR,
    LABEL,
    SYMBOL,
    WORD,
    fmt_count,
    fmt_param,
    fmt_value,
    fmt_wall,
)


def run_row(run: dict) -> dict:
    counts = ", ".join(f"{n} {status}" for status, n in run["counts"].items()) or "no records"
    if run["interrupted"]:
        state = "interrupted"
        wall = f"≥ {fmt_wall(run['measured_s'])} measured (interrupted)"
    else:
        state = "finished"
        wall = fmt_wall(run["wall_s"])
    return {
        **run,
        "version": run.get("backend_version") or "",
        "numerics_text": fmt_value(run.get("numerics") or {}) or "—",
        "budget_text": fmt_value(run.get("budget")),
        "seed_text": fmt_value(run.get("seed")),
        "python_text": run.get("python") or "—",
        "platform_text": run.get("platform") or "—",
        "state": state,
        "wall": wall,
        "counts_text": counts,
    }


def default_row(entry: dict) -> dict:
    return {
        **entry,
        "spec": fmt_param(entry.get("spec_default")),
        "native_value": fmt_param(entry.get("native_default")),
        "native_name": entry.get("native") or "",
    }


def bench_file_row(bench_file: dict) -> dict:
    machine, commit = bench_file.get("machine") or {}, bench_file.get("commit") or {}
    commit_text = (commit.get("id") or "")[:12] + (" (dirty)" if commit.get("dirty") else "")
    return {
        **bench_file,
        "machine_text": " · ".join(str(v) for v in (machine.get("node"), machine.get("processor")) if v) or "—",
        "commit_text": commit_text or "—",
        "datetime_text": bench_file.get("datetime") or "—",
    }


def context(report: dict) -> dict:
    deviations = matrix.deviations(report)
    return {
        "report": report,
        "generated": report["generated"],
        "schema_version": report["schema_version"],
        "runs": [run_row(r) for r in report["runs"]],
        "interrupted": [r for r in report["runs"] if r["interrupted"]],
        "warnings": report.get("warnings", []),
        "legend": [{"status": s, "symbol": SYMBOL[s], "label": LABEL[s]} for s in SYMBOL],
        "checks_legend": CHECK_ABBR,
        "word": WORD,
        "legend_label": LABEL,
        "tables": matrix.tables(report),
        "deviations": deviations,
        "fails": sum(1 for d in deviations if d["status"] == "fail"),
        "errors": sum(1 for d in deviations if d["status"] != "fail"),
        "defaults_differ": [default_row(d) for d in report["defaults"] if d.get("differs")],
        "defaults_count": len(report["defaults"]),
        "speed": speed.tables(report),
        "bandwidth": speed.bandwidth(report),
        "overhead": speed.overhead(report),
        "bench_files": [bench_file_row(f) for f in report.get("bench_files", [])],
        "bench_skipped": [
            {"backend": f["backend"], "device": f["device"], "id": s.get("id") or "", "op": s.get("op") or "",
             "size": fmt_count(s.get("size")), "mode": s.get("mode") or "", "reason": str(s.get("reason") or "")}
            for f in report.get("bench_files", []) for s in f.get("skipped") or []
        ],
        "fmt_count": fmt_count,
    }
