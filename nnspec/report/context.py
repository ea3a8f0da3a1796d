"""What both renderers show, gathered from a report dict: the template context."""

from __future__ import annotations

from ..conformance.results import NOT_RUN
from . import matrix, speed
from .format import (
    CHECK_ABBR,
    DISPLAY_STATUSES,
    LABEL,
    SYMBOL,
    WORD,
    fmt_count,
    fmt_param,
    fmt_value,
    fmt_wall,
)


def _case_text(case: dict | None) -> str:
    if not case:
        return ""
    return " ".join(str(case.get(k)) for k in ("op", "check", "dtype") if case.get(k) not in (None, "-"))


def run_row(run: dict) -> dict:
    counts = ", ".join(f"{n} {status}" for status, n in run["counts"].items()) or "no records"
    if run.get("superseded"):
        counts += f" ({run['superseded']} superseded by newer runs)"
    if run["interrupted"]:
        state = "interrupted"
        wall = f"≥ {fmt_wall(run['measured_s'])} measured (interrupted)"
    else:
        state = "finished"
        wall = fmt_wall(run["wall_s"])
    died = _case_text(run.get("running_when_died"))
    selection = run.get("selection") if isinstance(run.get("selection"), dict) else {}
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
        "died_text": f"running {died} when it died" if died else "",
        "resumed_text": f"resumed {len(run.get('resumed') or [])}×" if run.get("resumed") else "",
        "started_text": run.get("started") or "—",
        "run_text": run.get("run_id") or "—",
        "selection_text": ", ".join(f"{k}={fmt_value(v)}" for k, v in selection.items() if v not in (None, [], "")) or "all",
        "cpu_text": fmt_wall(run.get("cpu_seconds")) if run.get("cpu_seconds") is not None else "",
    }


def deviation_summary(deviations: list[dict]) -> str:
    """'2 fails, 1 error and 1 timeout': the deviations counted by status."""
    counts = {}
    for d in deviations:
        status = d["status"] if d["status"] in ("fail", "timeout", "crashed") else "error"
        counts[status] = counts.get(status, 0) + 1
    nouns = {"fail": ("fail", "fails"), "error": ("error", "errors"), "timeout": ("timeout", "timeouts"),
             "crashed": ("crash", "crashes")}
    parts = [f"{counts[s]} {nouns[s][counts[s] != 1]}" for s in ("fail", "error", "timeout", "crashed") if counts.get(s)]
    if len(parts) <= 1:
        return parts[0] if parts else "none"
    return ", ".join(parts[:-1]) + " and " + parts[-1]


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
        "interrupted": [run_row(r) for r in report["runs"] if r["interrupted"]],
        "warnings": report.get("warnings", []),
        "legend": [{"status": s, "symbol": SYMBOL[s], "label": LABEL[s]} for s in DISPLAY_STATUSES],
        "display_statuses": DISPLAY_STATUSES,
        "measured": sum(1 for r in report["records"] if r.get("status") != NOT_RUN),
        "not_run": sum(1 for r in report["records"] if r.get("status") == NOT_RUN),
        "checks_legend": CHECK_ABBR,
        "word": WORD,
        "legend_label": LABEL,
        "tables": matrix.tables(report),
        "deviations": deviations,
        "fails": sum(1 for d in deviations if d["status"] == "fail"),
        "errors": sum(1 for d in deviations if d["status"] != "fail"),
        "deviation_summary": deviation_summary(deviations),
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
