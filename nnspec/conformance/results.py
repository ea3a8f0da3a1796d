"""The results store: one JSON-lines file per (backend, device) run, flushed record by record.

A run writes ``<results>/<backend>-<device>.jsonl``: an ``environment`` line first,
then one line per measured record as soon as it exists (``check`` and ``default``
kinds), then a ``finished`` line. A run that is interrupted keeps every line it
wrote; its file simply lacks ``finished``, and the report says so. Reading is
tolerant: a truncated or garbled line (a run killed mid-write) is skipped with a
warning naming the file and line, never losing the lines around it.

Line kinds and their fields
---------------------------
environment  run_id, started, backend, backend_version, device, python, platform,
             machine, numpy, numerics{...}, budget, seed, nnspec_version, argv
check        id, op, family, backend, backend_version, device, dtype, check,
             status (pass|fail|error|unsupported|skip), matches_variant, max_ulp,
             max_abs, max_rel, tolerance, tolerance_reason, examples,
             counterexample, repro, message, seed, seconds, composed, run_id
default      op, parameter, spec_default, backend, backend_version, native,
             native_default, differs, run_id
finished     run_id, seconds, counts{status: n}
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterator

STATUSES = ("pass", "fail", "error", "unsupported", "skip")
SCHEMA_VERSION = 1


def _jsonable(value: Any) -> Any:
    """JSON has no inf/nan: non-finite floats are written as strings ("inf", "-inf", "nan")."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _jsonable(value.item())
    return value


def results_path(results_dir: Path | str, backend: str, device: str) -> Path:
    return Path(results_dir) / f"{backend}-{device}.jsonl"


class ResultsWriter:
    """Appends records to one run's file, flushing and fsyncing each so nothing measured is lost."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", encoding="utf-8")

    def write(self, record: dict) -> None:
        self._file.write(json.dumps(_jsonable(record), sort_keys=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_lines(path: Path | str) -> Iterator[dict]:
    """Every well-formed line of one results file; broken lines are skipped with a warning."""
    path = Path(path)
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                warnings.warn(f"{path}:{number}: skipped a truncated or corrupt line ({exc.msg})", stacklevel=2)
                continue
            if not isinstance(record, dict) or "kind" not in record:
                warnings.warn(f"{path}:{number}: skipped a line that is not an nnspec record", stacklevel=2)
                continue
            yield record


def read_results(results_dir: Path | str) -> list[dict]:
    """All records of all runs in a results directory, in file order."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"no results directory at {results_dir}: run `nnspec run` first")
    records = []
    for path in sorted(results_dir.glob("*.jsonl")):
        records.extend(read_lines(path))
    return records
