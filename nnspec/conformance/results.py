"""The results store: one append-only JSON-lines file per run, written record by record.

A run writes ``<results>/<safe_name(backend)>-<device>-<run_id>.jsonl`` (``run_path``):
an ``environment`` line first, a ``case_started`` line before each case, the case's
``check`` and ``default`` lines as soon as they exist, and a ``finished`` line at the
end. A run never opens another run's file; ``--resume`` appends to the interrupted
run's own file, starting with a ``resumed`` line. Files are only ever appended to
(``ResultsWriter``): nothing an earlier run measured is ever truncated.

Reading never fails on one bad line (``read_runs``, ``read_results``): a line that is
not valid UTF-8, holds NUL bytes, is truncated or garbled JSON, is not an object, has an
unknown ``kind`` or lacks a required field (or has one of the wrong type) is skipped
with a warning ``"<file>:<line>: skipped ... (<why>)"``; an empty file is named in a
warning. Everything else is kept.

Line kinds and their fields (required ones are checked on reading, see ``REQUIRED``)
---------------------------------------------------------------------------------
environment   run_id, started (ISO 8601), backend, backend_ref, backend_version, device,
              python, platform, machine, numpy, numerics{...}, budget, seed,
              selection{family, op, dtypes, shard}, nnspec_version, argv
resumed       run_id, started, argv (the run goes on in the same file)
case_started  run_id, case, op, check (the checker: values, defaults, ...), dtype, backend, device
check         a ``record.CheckRecord`` (its schema: record.schema.json): id, op, family, backend,
              backend_version, device, dtype, check, status (``STATUSES``), matches_variant,
              max_ulp, max_abs, max_rel, tolerance (ULP), tolerance_rule, tolerance_reason,
              examples, counterexamples, repro, message, seed, seconds, composed, run_id, case,
              and the fields of trajectories and dead workers (older files: ``counterexample``)
default       op, parameter, spec_default, backend, backend_version, native, native_default,
              differs, run_id
finished      run_id, seconds, cpu_seconds (and, from older runs, counts{status: n})
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

#: Statuses of check records. ``timeout``: the case ran past its time limit; ``crashed``:
#: the worker died (a signal, an abort). The report adds ``not run`` (``NOT_RUN``) for
#: catalogue cases no run measured; that one is never written into a results file.
STATUSES = ("pass", "fail", "error", "timeout", "crashed", "unsupported", "skip")
NOT_RUN = "not run"
KINDS = ("environment", "resumed", "case_started", "check", "default", "finished")
SCHEMA_VERSION = 1

_STR, _NUMBER, _OBJECT = (str,), (int, float), (dict,)
_WHAT = {_STR: "a string", _NUMBER: "a number", _OBJECT: "an object"}
#: kind -> field -> the types it must have; a required field that is missing, null or
#: of another type makes the line unreadable (it is skipped, with a warning).
REQUIRED: dict[str, dict[str, tuple]] = {
    "environment": {"run_id": _STR, "started": _STR, "backend": _STR, "device": _STR},
    "resumed": {"run_id": _STR},
    "case_started": {"run_id": _STR, "op": _STR, "check": _STR, "dtype": _STR},
    "check": {"id": _STR, "op": _STR, "backend": _STR, "device": _STR, "dtype": _STR, "check": _STR},
    "default": {"op": _STR, "parameter": _STR, "backend": _STR},
    "finished": {"run_id": _STR},
}
#: kind -> field -> the types it must have when present and not null.
OPTIONAL: dict[str, dict[str, tuple]] = {
    "environment": {"backend_ref": _STR, "selection": _OBJECT},
    "resumed": {"started": _STR},
    "case_started": {"case": _STR},
    "check": {"run_id": _STR, "case": _STR},
    "default": {"run_id": _STR},
    "finished": {},
}
_NON_FINITE = ("inf", "nan")  # how _jsonable writes a non-finite max_ulp


# -- names and paths ----------------------------------------------------------------


def safe_name(name: str) -> str:
    """``name`` as a file-name part: only [A-Za-z0-9._+-] (others become '_'), no '..', no leading '.'.

    A backend given as ``module:Class`` or a name holding '/' must never write outside
    the results directory or into a hidden file.
    """
    text = re.sub(r"[^A-Za-z0-9._+-]", "_", str(name))
    text = re.sub(r"\.{2,}", lambda m: "_" * len(m.group()), text)
    if text.startswith("."):
        text = "_" + text[1:]
    return text or "_"


def run_path(results_dir: Path | str, backend: str, device: str, run_id: str) -> Path:
    """The file of one run: ``<results>/<backend>-<device>-<run_id>.jsonl``, each part made safe."""
    return Path(results_dir) / f"{safe_name(backend)}-{safe_name(device)}-{safe_name(run_id)}.jsonl"


def results_path(results_dir: Path | str, backend: str, device: str) -> Path:
    """Deprecated: the old one-file-per-(backend, device) name; use ``run_path``. Kept until plugin.py switches."""
    return Path(results_dir) / f"{safe_name(backend)}-{safe_name(device)}.jsonl"


# -- writing -------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """JSON has no inf/nan: non-finite floats are written as strings ("inf", "-inf", "nan")."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        try:
            return _jsonable(value.item())
        except (TypeError, ValueError):  # an array of several elements
            pass
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays
        return _jsonable(value.tolist())
    return value


def encode_line(record: dict) -> bytes:
    """One record as one line of strict, ASCII-only JSON (a newline inside a string is escaped)."""
    return (json.dumps(_jsonable(record), allow_nan=False, ensure_ascii=True, default=str) + "\n").encode("ascii")


class ResultsWriter:
    """Appends records to one run's file; never truncates it.

    Every ``write``/``write_many`` is one ``os.write`` on an ``O_APPEND`` descriptor, then
    ``fsync``: several processes (xdist workers and their controller) can append to one
    file at once without interleaving inside a line, and what was written survives a
    crash of the machine. Before each write, a file whose last byte is not a newline (a
    process killed mid-line) gets one, so the next record is not glued onto the garbage.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)

    def _needs_newline(self) -> bool:
        size = os.fstat(self._fd).st_size
        return size > 0 and os.pread(self._fd, 1, size - 1) != b"\n"

    def write(self, record: dict) -> None:
        self.write_many([record])

    def write_many(self, records: Iterable[dict]) -> None:
        """All ``records`` in one write: a case's records land together or, if the process dies, not at all."""
        if self._fd is None:
            raise ValueError(f"results file {self.path} is closed")
        data = b"".join(encode_line(r) for r in records)
        if not data:
            return
        if self._needs_newline():
            data = b"\n" + data
        view = memoryview(data)
        while view:  # a regular file takes it all at once; the loop only guards against a short write
            view = view[os.write(self._fd, view):]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing to do
            pass


# -- reading -------------------------------------------------------------------------


def _skip(path: Path, number: int, why: str) -> None:
    warnings.warn(f"{path}:{number}: skipped {why}", stacklevel=3)


def _is_max_ulp(value: Any) -> bool:
    if value is None or value in _NON_FINITE:
        return True
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def problem(record: Any) -> str | None:
    """Why a decoded line is not a readable nnspec record, or None when it is."""
    if not isinstance(record, dict):
        return f"a line that is not a JSON object (a {type(record).__name__})"
    kind = record.get("kind")
    if kind not in KINDS:
        return f"a line of unknown kind {kind!r}" if "kind" in record else "a line without a kind"
    for name, types in REQUIRED[kind].items():
        if record.get(name) is None:
            return f"a {kind} line without {name!r}"
    for name, types in {**REQUIRED[kind], **OPTIONAL[kind]}.items():
        value = record.get(name)
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            return f"a {kind} line whose {name!r} is {_short(value)}, not {_WHAT[types]}"
    if kind == "check":
        if record.get("status") not in STATUSES:
            return f"a check line whose status is {_short(record.get('status'))}, not one of {', '.join(STATUSES)}"
        if not _is_max_ulp(record.get("max_ulp")):
            return f"a check line whose max_ulp is {_short(record.get('max_ulp'))}, not a number, null, 'inf' or 'nan'"
    return None


def read_lines(path: Path | str) -> Iterator[dict]:
    """Every readable record of one results file, in file order; each unreadable line is skipped with a warning.

    A missing file raises FileNotFoundError; one that cannot be read is skipped with a warning.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"no results file {path}") from None
    except OSError as exc:  # unreadable (permissions, a directory): the other files still count
        warnings.warn(f"{path}: skipped an unreadable results file ({exc.strerror or exc})", stacklevel=2)
        return
    if not data.strip():
        warnings.warn(f"{path}: skipped an empty results file (no lines)", stacklevel=2)
        return
    for number, raw in enumerate(data.split(b"\n"), start=1):  # only b"\n" ends a line (JSON escapes the rest)
        if not raw.strip():
            continue
        if b"\x00" in raw:
            _skip(path, number, f"a line holding NUL bytes (at byte {raw.index(0) + 1}; a crash left zeros)")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            _skip(path, number, f"a line that is not valid UTF-8 (byte {exc.start + 1}: {raw[exc.start:exc.start + 1]!r})")
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            _skip(path, number, f"a truncated or corrupt line ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            _skip(path, number, "a corrupt line (nested too deeply)")
            continue
        why = problem(record)
        if why is not None:
            _skip(path, number, why)
            continue
        yield record


@dataclass
class Run:
    """One run as read back: its lines (environment, resumed, case_started, check, default, finished) in order.

    ``path`` is the file it was read from (the first, should it span several);
    ``environment`` its environment line, None when that line was lost.
    """

    run_id: str
    path: Path
    lines: list[dict] = field(default_factory=list)
    environment: dict | None = None
    first_line: int = 0  # where in its file the run starts (several runs can share an old-style file)

    @property
    def started(self) -> str | None:
        return self.environment.get("started") if self.environment else None

    def order_key(self) -> tuple:
        """Oldest first: by ``started`` (unknown ones first: they cannot claim to be newest), then file name."""
        return (_timestamp(self.started), str(self.started or ""), self.path.name, self.first_line)


def _timestamp(started: str | None) -> float:
    try:
        moment = datetime.fromisoformat(str(started))
    except (TypeError, ValueError):
        return -math.inf
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _directory(results_dir: Path | str) -> Path:
    results_dir = Path(results_dir)
    if not results_dir.exists():
        raise FileNotFoundError(f"no results directory at {results_dir}/: run `nnspec run` first, or pass --results DIR")
    if not results_dir.is_dir():
        raise FileNotFoundError(f"{results_dir} is a file, not a results directory (pass --results DIR)")
    return results_dir


def read_runs(results_dir: Path | str) -> list[Run]:
    """Every run in the ``*.jsonl`` files of ``results_dir``, oldest first; lines within a run in file order.

    A line without a run_id belongs to the run whose environment (or resumed) line
    precedes it in its file, else to a run named after the file. Old-style files
    (``<backend>-<device>.jsonl``, several runs one after another) read the same way.
    Raises FileNotFoundError (with a message saying what to do) when ``results_dir`` is
    missing or is not a directory.
    """
    results_dir = _directory(results_dir)
    runs: dict[str, Run] = {}
    for path in sorted(p for p in results_dir.glob("*.jsonl")):
        if path.is_dir():
            warnings.warn(f"{path}: skipped a directory named like a results file", stacklevel=2)
            continue
        current = None
        for index, line in enumerate(read_lines(path)):
            run_id = line.get("run_id") or (current if line["kind"] not in ("environment", "resumed") else None)
            run_id = run_id or path.stem
            if line["kind"] in ("environment", "resumed"):
                current = run_id
            run = runs.get(run_id)
            if run is None:
                run = runs[run_id] = Run(run_id, path, first_line=index)
            if line["kind"] == "environment" and run.environment is None:
                run.environment = line
            run.lines.append(line)
    return sorted(runs.values(), key=Run.order_key)


def read_results(results_dir: Path | str) -> list[dict]:
    """Every readable line of every run of ``results_dir``: runs oldest first, each run's lines in order."""
    return [line for run in read_runs(results_dir) for line in run.lines]


#: The five fields a report entry's ``id`` (``backend/device/dtype/op/check``, the engine's ``record_id``) names.
ID_FIELDS = ("backend", "device", "dtype", "op", "check")


def id_fields(record_id: Any) -> dict:
    """backend/device/dtype/op/check -> those five fields; {} for an id of another shape."""
    parts = str(record_id).split("/") if isinstance(record_id, str) else []
    return dict(zip(ID_FIELDS, parts)) if len(parts) == len(ID_FIELDS) else {}


def map_arrays(example: Any, fn) -> Any:
    """A counterexample (an encoded example dict) with ``fn`` applied to each of its arrays (inputs, cotangent)."""
    if not isinstance(example, dict):
        return example
    example = dict(example)
    if isinstance(example.get("inputs"), list):
        example["inputs"] = [fn(a) if isinstance(a, dict) else a for a in example["inputs"]]
    if isinstance(example.get("cotangent"), dict):
        example["cotangent"] = fn(example["cotangent"])
    return example


def _with_dtypes(example: Any, dtype: Any) -> Any:
    """A counterexample's arrays with their dtype: schema 4 leaves out an array's dtype where it is its entry's."""
    if not isinstance(dtype, str):
        return example
    return map_arrays(example, lambda a: a if "dtype" in a else {"dtype": dtype, **a})


def as_entry(entry: Any) -> Any:
    """A status file's entry as an object: schema 5's passing row ``[id, max_ulp, examples]`` as the entry it
    stands for (still grouped where its id is); any other as it is."""
    if isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str):
        return {"id": entry[0], "status": "pass", "max_ulp": entry[1], "examples": entry[2]}
    return entry


def _ungrouped(entries: list) -> list:
    """Schema 4's grouped entries (``{"id": "B/D/{float64,float32}/OP/{forward,gradient}", ...}``) as the
    entries they stand for, one per dtype × check in that order, each with the group's other fields; schema 5's
    passing rows ``[id, max_ulp, examples]`` as the entries they stand for."""
    out = []
    for entry in entries:
        entry = as_entry(entry)
        parts = str(entry.get("id")).split("/") if isinstance(entry, dict) else []
        if len(parts) != 5 or "{" not in entry["id"]:
            out.append(entry)
            continue
        dtypes, checks = (p[1:-1].split(",") if p.startswith("{") and p.endswith("}") else [p] for p in (parts[2], parts[4]))
        rest = {k: v for k, v in entry.items() if k != "id"}
        out += [{"id": f"{parts[0]}/{parts[1]}/{d}/{parts[3]}/{c}", **rest} for d in dtypes for c in checks]
    return out


def expand_report(report: dict) -> dict:
    """A status file's records in full, whichever schema wrote it: each with its ``id`` and the five fields it
    names, its ``backend_version`` and its ``repro`` command. Schema 3 (``nnspec.report.status``) keys an entry
    by its id alone, leaves out a version equal to its (backend, device) environment's (the newest one stated)
    and a repro command that is the standard one (``nnspec repro ID --report`` the ``repro_sources`` report),
    writes a counterexample an earlier entry holds as ``{"same_as": "ID#k"}`` and leaves out a default's
    version where it is its environment's; schema 2 states the fields and leaves
    out an id that is ``backend/device/dtype/op/check``. Readers see the same records from both."""
    from .repro import repro_command  # here: repro.py imports this module

    compact = isinstance(report.get("schema_version"), int) and report["schema_version"] >= 3
    versions = {(e.get("backend"), e.get("device")): e.get("backend_version")
                for e in report.get("environments") or [] if isinstance(e, dict)}
    sources = report.get("repro_sources") or {}
    notes = report.get("notes") if isinstance(report.get("notes"), dict) else {}
    examples: dict[str, Any] = {}  # "ID#k" -> that entry's k-th counterexample, for a later {"same_as": "ID#k"}
    records = []
    for entry in _ungrouped(report["records"]):
        if not isinstance(entry, dict):
            records.append(entry)
            continue
        if notes and isinstance(entry.get("message"), str) and "§" in entry["message"]:  # schema 4's notes
            entry = {**entry, "message": "; ".join(notes.get(p, p) for p in entry["message"].split("; "))}
        rid = entry.get("id") or "/".join(str(entry.get(k)) for k in ID_FIELDS)
        named = id_fields(rid) if compact else {}  # schema 2 stated every field: one it lacks is missing
        record = {"id": rid, **{k: v for k, v in named.items() if k not in entry}, **entry}
        if compact and "backend_version" not in record and versions.get((record.get("backend"), record.get("device"))):
            record["backend_version"] = versions[(record.get("backend"), record.get("device"))]
        bound = ((report.get("tolerances") or {}).get(f"{record.get('op')}/{record.get('check')}") or {}).get("bound")
        if compact and "tolerance" not in record and isinstance(bound, dict) and record.get("dtype") in bound:
            record["tolerance"] = bound[record["dtype"]]
        if compact and "repro" not in record and record.get("counterexamples") and not record.get("counterexample_capped"):
            record["repro"] = repro_command(rid, report=sources.get("report"))
        if compact and isinstance(record.get("counterexamples"), list):
            record["counterexamples"] = [_with_dtypes(
                examples.get(e["same_as"], e) if isinstance(e, dict) and set(e) == {"same_as"} else e,
                record.get("dtype")) for e in record["counterexamples"]]
            examples.update({f"{rid}#{k}": e for k, e in enumerate(record["counterexamples"])})
        records.append({k: v for k, v in record.items() if v is not None or k not in ("backend_version", "repro")})
    defaults = report.get("defaults")
    if compact and isinstance(defaults, list):
        defaults = [{**d, "backend_version": versions[(d.get("backend"), d.get("device"))]}
                    if isinstance(d, dict) and "backend_version" not in d
                    and versions.get((d.get("backend"), d.get("device"))) else d for d in defaults]
        defaults = [{**d, "differs": False} if isinstance(d, dict) and "differs" not in d else d for d in defaults]
        return {**report, "records": records, "defaults": defaults}
    return {**report, "records": records}


def read_report_file(path: Path | str) -> dict:
    """A report's conformance.json, checked to hold a list of records; a clear ValueError otherwise; its records
    in full (``expand_report``: schema 3 and schema 2 read the same).

    Shared by everything that reads a report instead of results: ``nnspec repro --report``,
    ``--known`` and ``nnspec diff``."""
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a conformance.json report ({exc})") from None
    if not isinstance(report, dict) or not isinstance(report.get("records"), list):
        raise ValueError(f"{path} is not a conformance.json report (no list of records)")
    return expand_report(report)
