"""The report: a results directory merged into conformance.json, runs.json, conformance.md and index.html.

    build_report(results_dir, out_dir) -> dict

reads every ``*.jsonl`` conformance run and every ``bench-*.json`` benchmark file of
``results_dir``, merges them (``merge``), and writes four files into ``out_dir``:

conformance.json  the status file that diffs (``status``; schema ``conformance.schema.json``):
                  one entry per (op, backend, device, dtype, check), counterexamples capped,
                  nothing that changes from run to run; the same results give the same bytes
runs.json         what does change from run to run: run ids, times, benchmarks, warnings
conformance.md    runs, the op × backend matrix per dtype, deviations, differing defaults, speed
index.html        the same, one self-contained page coloured by status (``html``)
porting.md        per framework pair, the native settings to pass and what still differs (``porting_view``)

Modules: ``merge`` reads and merges, ``status`` writes the status file, ``bench`` reads
benchmarks and derives speeds, ``matrix`` and ``speed`` shape tables, ``format`` writes
values, ``chart`` draws the optional SVG speed chart, ``markdown`` and ``html`` render
through ``templates/`` (``page``: what only the HTML page shows: filters, the per-backend
summary, deviations grouped by cause, the cells' popups as one JSON block).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..conformance.results import _jsonable
from .html import render_html
from .markdown import render_markdown
from .porting_view import render_porting
from .merge import merge as merge_results  # not re-bound as `merge`: that name is the submodule
from .status import SCHEMA, capped_ids, dumps, status_file

__all__ = ["OutputError", "SCHEMA", "build_report", "merge_results", "render_markdown", "render_html", "write_json"]

FILES = ("conformance.json", "runs.json", "conformance.md", "index.html", "porting.md")


def write_json(report: dict, path: Path | str) -> None:
    Path(path).write_text(json.dumps(_jsonable(report), indent=2, allow_nan=False) + "\n", encoding="utf-8")


class OutputError(ValueError):
    """The report cannot be written where it was asked to go (a ValueError: the CLI's exit 2 with its message)."""


def _output_directory(out_dir: Path) -> Path:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"the report's output {out_dir} is a file, not a directory (pass --out DIR)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the report directory {out_dir}/: {exc.strerror or exc}") from None
    return out_dir


def build_report(results_dir: Path | str, out_dir: Path | str) -> dict:
    """Merges ``results_dir`` and writes conformance.json, runs.json, conformance.md and index.html into ``out_dir``.

    Returns the merged report dict, which the renderers read (conformance.json holds its
    status-file form, runs.json its runs). Lines or benchmark files that cannot be read are
    skipped with a warning (also listed under the report's "warnings"); a missing results
    directory (or a file in its place) raises FileNotFoundError; an ``out_dir`` that is a
    file or cannot be written raises ``OutputError`` (a ValueError). Nothing is written
    unless all four files rendered.
    """
    report = merge_results(results_dir)
    out_dir = _output_directory(Path(out_dir))
    status, runs = status_file(report, str(out_dir / "conformance.json"), str(results_dir))
    replay_from_report(report, out_dir / "conformance.json", results_dir, capped_ids(status))
    texts = {
        "conformance.json": dumps(status),
        "runs.json": dumps(runs),
        "conformance.md": render_markdown(report),
        "index.html": render_html(report),
        "porting.md": render_porting(report),  # per framework pair: the settings to pass (porting_view)
    }
    for name, text in texts.items():
        try:
            (out_dir / name).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write {out_dir / name}: {exc.strerror or exc}") from None
    return report


def replay_from_report(report: dict, path: Path, results_dir, capped=frozenset()) -> None:
    """Each record's repro command reads the report itself, so it works on a clone without results/; one whose
    counterexample the report caps reads the results directory, where the full example is."""
    from ..conformance.repro import repro_command

    for record in report["records"]:
        if record.get("repro"):
            record["repro"] = (repro_command(record["id"], results=results_dir) if record["id"] in capped
                               else repro_command(record["id"], report=path))
            record["counterexample_capped"] = record["id"] in capped
