"""conformance.json, the status file that diffs, and runs.json, what changes from run to run.

    status_file(report, results_dir) -> (status dict, runs dict)
    dumps(data) -> str

``status_file`` turns the merged report (``merge``) into two files:

conformance.json  one entry per (op, backend, device, dtype, check), keyed by its ``id``, sorted as the report is
                  (catalogue order, numpy first, cpu first, dtypes, checks; then id), with
                  nothing that changes from one run to the next: the same results give a
                  byte-identical file, two runs at the same seed and versions the same file.
                  Also the environment of each (backend, device) (versions, platform,
                  numerics, budget, seed: no run ids, no times), the native defaults, the
                  tolerances' rules and reasons per op and check, each op's family in
                  catalogue order, and the dtypes.
runs.json         the run-to-run churn: each run (run id, file, start time, wall and CPU
                  seconds, counts, which capped counterexamples its file holds in full), the
                  benchmarks with their timings, the benchmark files, the reading warnings,
                  and when the report was generated.

The schema of conformance.json is ``conformance.schema.json`` in this package (``SCHEMA_VERSION`` 5). Read it
with ``nnspec.conformance.results.read_report_file``: it puts back what an entry leaves out (below) and reads
schema 2 (which stated each entry's op, backend, device, dtype, check, backend_version and repro) to the
same records. Its encodings:

* An entry is keyed by its ``id``, ``backend/device/dtype/op/check`` (the engine's ``record_id``): the five
  fields it names are left out (an id of another shape, "torch/cpu/float32/relu/property/monotonic", names
  none: they are stated). Its ``backend_version`` is left out where it is the version of the newest
  environment of its (backend, device), and so is a default's; its ``repro`` where it is the standard
  command, ``nnspec repro ID --report`` the report ``repro_sources`` names (a capped entry's reads the
  results directory: stated). A ``null`` version or repro says the entry has none where the reader
  would derive one.
* A passing entry that states nothing but its worst error in ULP and its number of examples is written as the
  row ``[id, max_ulp, examples]`` (``max_ulp`` a number; half of a full run's entries are such, and their keys
  were a tenth of the file).
* A counterexample that an earlier entry (in file order) holds as it is is written ``{"same_as": "ID#k"}``:
  that entry's id and the example's index in its ``counterexamples``.
* A message part (``"; "``-separated) of 24 characters or more that several entries' messages hold is written
  once, in ``notes``, keyed ``§`` + 8 hex digits of its SHA-1 (the same text, the same key, in every run); the
  messages hold the key.

* A field that is null, empty or false is left out (an entry without ``matches_variant``
  matches no variant), and so is ``unsupported_examples`` when it is 0. What the file states once is not repeated per entry:
  ``tolerance_rule`` and ``tolerance_reason`` are in ``tolerances["op/check"]``, the ``tolerance`` bound in
  its ``bound[dtype]`` (an entry keeps its own only where they differ); each op's family is in ``families``;
  the case's seed derives from the environment's ``seed``, op and dtype.
* A ``not run`` entry's message says "its run" where the report names the run (runs.json does).
* Written compactly (no space after ``,`` or ``:``), one entry a line; the file stays under
  ``MAX_BYTES`` for a full run (tests/test_report.py holds the committed report to it).
* Error fields keep ``SIGNIFICANT`` significant digits (the results files keep every bit); an entry states its
  worst error in ULP only (``max_abs`` and ``max_rel`` are in the results files), each part of its message up to
  ``MAX_PART`` characters; a default that does not differ leaves ``differs`` out.
* Error fields (``max_ulp``, ``max_abs``, ``max_rel``, ``first_step_ulp``) are JSON numbers
  (a whole one written as an integer: ``0``, not ``0.0``).
  A non-finite one is null and named in the entry's ``non_finite`` object with one of the
  strings "inf", "-inf", "nan" (``{"max_ulp": "inf"}``). Elsewhere those strings appear only
  as values: counterexample values are float.hex strings (``float.hex(inf) == "inf"``), and a
  non-finite parameter or default value is written as one (``results._jsonable``).
* ``tolerance`` is the bound in ULP, a number; its ``rule`` says how it applies when it is
  not a bound per element ("a step, summed over the steps ...", "of 1e-06×peak"); its
  ``reason`` why the bound is what it is.
* ``counterexamples``: the first failing kind's example (the simplest, whose message is the entry's; a
  record's other kinds are in the results files), inputs, cotangent, params, message, with
  exact values (float.hex, the mantissa's trailing zeros dropped); an example's ``message``
  is left out where it is the entry's own ``message``, its ``cotangent`` where null, its
  ``params`` where empty and an array's ``dtype`` where it is the entry's. An array of more than ``MAX_VALUES`` values is capped: dtype, shape, size,
  ``capped: true``, a ``summary`` (finite min and max, counts of nan and ±inf) and the
  ``slice`` of up to ``2 * WINDOW + 1`` values (C order) centred on the worst element: the
  index the example's message names ("at index (0, 3, 5)", clipped to this array's shape),
  else the first. An entry with a capped array has ``counterexample_capped: true`` and its
  ``repro`` reads the results directory, where the full example is (runs.json names the file).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..conformance.results import NOT_RUN, _jsonable, id_fields, map_arrays

SCHEMA_VERSION = 5  # 5: a plain passing entry as the row [id, max_ulp, examples]; 4: a passing entry's worst error in ULP only, like entries grouped; 3: entries keyed
# by id; 2 stated the five fields (all still read)
SCHEMA = Path(__file__).with_name("conformance.schema.json")  # the JSON schema of conformance.json
MAX_VALUES = 64  # an array of at most this many values is stored in full
MAX_BYTES = 1_000_000  # the bound on a full run's conformance.json: it is committed and diffed
WINDOW = 8  # values on each side of the worst element in a capped array's slice
MAX_PART = 160  # characters a message part keeps (the results files keep it whole)

#: The fields of an entry, in the order it is written; a record's other fields (run_id,
#: seconds, case, per-step error lists) stay in the results files.
ENTRY_FIELDS = (
    "id", "op", "backend", "backend_version", "device", "dtype", "check", "status", "matches_variant",
    "max_ulp", "max_abs", "max_rel", "non_finite", "tolerance", "tolerance_rule", "tolerance_reason", "examples",
    "unsupported_examples", "steps", "first_step_ulp", "first_failing_step", "layer", "traps", "message",
    "counterexamples", "counterexample_capped", "repro", "composed",
)
SIGNIFICANT = 4  # digits an error keeps: more than the pages show, few enough not to churn in the last bit
ERROR_FIELDS = ("max_ulp", "max_abs", "max_rel", "first_step_ulp")
#: The environment of a (backend, device): what its runs say about versions and numerics, nothing per run.
ENVIRONMENT_FIELDS = (
    "backend", "device", "backend_ref", "backend_version", "python", "platform", "machine", "processor", "numpy",
    "numerics", "budget", "seed", "selection", "nnspec_version",
)
DEFAULT_FIELDS = ("op", "parameter", "spec_default", "backend", "backend_version", "device", "native",
                  "native_default", "differs")

_INDEX = re.compile(r"at index \(([\d, ]*)\)")
_TOLERANCE = re.compile(r"^\s*([0-9.]+(?:e[+-]?\d+)?)\s*ulp\b\s*(.*)$", re.IGNORECASE)


def _absent(value: Any) -> bool:
    return value is None or value is False or (isinstance(value, (str, list, dict)) and not value)


# -- numbers ---------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A stored error as a float (JSON's "inf"/"nan" strings included); None if it is no number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _short_number(number: float) -> int | float:
    """A whole error as an int (0, not 0.0: most entries' three errors are 0): the same JSON number, fewer bytes."""
    return int(number) if number == int(number) and abs(number) < 2**53 else number


def _non_finite_name(number: float) -> str:
    return "nan" if math.isnan(number) else ("inf" if number > 0 else "-inf")


def _tolerance(value: Any) -> tuple[float | int | None, str | None]:
    """(bound in ULP, rule): 2 -> (2, None); '1 ulp a step, summed ...' -> (1, 'a step, summed ...')."""
    if isinstance(value, bool) or value is None:
        return None, None
    if isinstance(value, (int, float)):
        return value, None
    found = _TOLERANCE.match(str(value))
    if not found:
        return None, str(value)
    bound = float(found.group(1))
    return (int(bound) if bound == int(bound) else bound), found.group(2).strip() or None


# -- counterexamples -------------------------------------------------------------------------


def worst_index(message: Any) -> tuple[int, ...] | None:
    """The output index a check's message names ("... at index (0, 3): got ..."), if any."""
    found = _INDEX.search(str(message or ""))
    if not found:
        return None
    return tuple(int(p) for p in found.group(1).replace(" ", "").split(",") if p)


_HEX_ZEROS = re.compile(r"^([+-]?0x[0-9a-f]+)(?:\.([0-9a-f]*?)0*)?(p[+-]?\d+)$")


def short_hex(value: Any) -> Any:
    """float.hex without the mantissa's trailing zeros ('0x1.8000000000000p+0' -> '0x1.8p+0'): the same
    value for float.fromhex, a third of the bytes for a float32 or float16 value."""
    found = _HEX_ZEROS.match(value) if isinstance(value, str) else None
    if not found:
        return value
    head, digits, exponent = found.groups()
    short = f"{head}.{digits}{exponent}" if digits else f"{head}{exponent}"
    number = float.fromhex(short)
    if number.is_integer() and abs(number) < 10:  # 0 ... 9 (and -0): one hex digit is the same number ('0', '-1')
        return ("-" if math.copysign(1.0, number) < 0 else "") + str(int(abs(number)))
    return short


def _decoded(value: Any) -> float:
    try:
        return float.fromhex(value) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return math.nan


def cap_array(array: Any, index: tuple[int, ...] | None) -> tuple[Any, bool]:
    """(the array as stored in conformance.json, whether it was capped); see the module docstring."""
    values = array.get("values") if isinstance(array, dict) else None
    if not isinstance(values, list):
        return array, bool(isinstance(array, dict) and array.get("capped"))  # one capped already stays capped
    values = [short_hex(v) for v in values]
    if len(values) <= MAX_VALUES:
        return {**array, "values": values}, False
    shape = array.get("shape") if isinstance(array.get("shape"), list) else [len(values)]
    size = len(values)
    centre = 0
    if index is not None and len(index) == len(shape) and int(np.prod(shape)) == size:
        centre = int(np.ravel_multi_index([min(i, max(d - 1, 0)) for i, d in zip(index, shape)], shape))
    start = max(0, min(centre - WINDOW, size - (2 * WINDOW + 1)))
    numbers = np.array([_decoded(v) for v in values], dtype=np.float64)
    finite = numbers[np.isfinite(numbers)]
    return {
        "dtype": array.get("dtype"), "shape": shape, "size": size, "capped": True,
        "summary": {"min": float(finite.min()) if finite.size else None,
                    "max": float(finite.max()) if finite.size else None,
                    "nan": int(np.isnan(numbers).sum()), "inf": int(np.isinf(numbers).sum())},
        "slice": {"index": [int(i) for i in np.unravel_index(centre, shape)] if shape else [],
                  "start": start, "values": values[start:start + 2 * WINDOW + 1]},
    }, True


def cap_example(example: Any) -> tuple[Any, bool]:
    """One counterexample with its large arrays capped around the element its message names."""
    if not isinstance(example, dict):
        return example, False
    index = worst_index(example.get("message"))
    capped = dict(example)
    any_capped = False
    if isinstance(example.get("inputs"), list):
        capped["inputs"] = []
        for array in example["inputs"]:
            stored, was = cap_array(array, index)
            capped["inputs"].append(stored)
            any_capped |= was
    if example.get("cotangent") is not None:
        capped["cotangent"], was = cap_array(example["cotangent"], index)
        any_capped |= was
    return capped, any_capped


def _compact_example(example: Any, message: Any, dtype: Any = None) -> Any:
    """A counterexample without what it would only repeat: its message where that is its entry's (the common
    case: the first failing kind's), a null cotangent, empty params (absent reads back as none), an array's
    dtype where it is the entry's."""
    if not isinstance(example, dict):
        return example
    compact = {k: v for k, v in example.items()
               if not ((k == "message" and message and v == message) or (k in ("cotangent", "params") and _absent(v)))}
    return map_arrays(compact, lambda a: {k: v for k, v in a.items() if not (k == "dtype" and v == dtype)})


def _counterexamples(record: dict) -> list:
    """The record's counterexamples: ``counterexamples`` (one per failing kind), else its one ``counterexample``
    (``counterexample`` repeats ``counterexamples[0]`` when both are there)."""
    if record.get("counterexamples"):
        return list(record["counterexamples"])
    return [record["counterexample"]] if record.get("counterexample") else []


# -- entries ---------------------------------------------------------------------------------


def derived_id(entry: dict) -> str:
    """backend/device/dtype/op/check: the id the engine gives a record."""
    return "/".join(str(entry.get(k)) for k in ("backend", "device", "dtype", "op", "check"))


def record_id(entry: dict) -> str:
    """An entry's id: its own ``id`` where it states one, else ``derived_id``."""
    return str(entry["id"]) if entry.get("id") else derived_id(entry)


def entry(record: dict, report_path: str, results_dir: str) -> dict:
    """One record as conformance.json stores it (fields in ``ENTRY_FIELDS`` order, absent ones left out);
    ``status_file`` then moves what the file states once (the tolerance's rule and reason) out of it and
    ``compact_entry`` what its id, its environment and the report's paths say."""
    from ..conformance.repro import repro_command  # the replay machinery, only for the command's text

    data = dict(record)
    non_finite = {}
    for name in ERROR_FIELDS:
        number = _number(record.get(name))
        if number is not None and not math.isfinite(number):
            non_finite[name] = _non_finite_name(number)
            number = None
        data[name] = None if number is None else _short_number(number if isinstance(record[name], int) else
                                                               float(f"{number:.{SIGNIFICANT}g}"))
    data["non_finite"] = non_finite
    data["tolerance"], rule = _tolerance(record.get("tolerance"))
    data["tolerance_rule"] = record.get("tolerance_rule") or rule  # stated by the record, or (older results) in its prose
    examples = [cap_example(e) for e in _counterexamples(record)[:1]]  # the simplest failing kind's; the rest: results
    data["counterexamples"] = [_compact_example(e, record.get("message"), record.get("dtype")) for e, _ in examples]
    data["counterexample_capped"] = any(was for _, was in examples)
    if record.get("repro"):
        data["repro"] = (repro_command(record["id"], results=results_dir) if data["counterexample_capped"]
                         else repro_command(record["id"], report=report_path))
    if data.get("unsupported_examples") == 0:
        del data["unsupported_examples"]  # absent is none: most entries have none
    data["max_abs"] = data["max_rel"] = None  # the worst error is max_ulp; the results files keep the others
    for name in ("max_abs", "max_rel"):
        data["non_finite"].pop(name, None)
    if isinstance(data.get("message"), str):  # each part capped: the results files keep it whole
        data["message"] = "; ".join(p if len(p) <= MAX_PART else p[:MAX_PART - 1] + "…"
                                    for p in data["message"].split("; "))
    if data.get("traps"):
        data["traps"] = [_trap_entry(t) for t in data["traps"]]
    return {name: _jsonable(data[name]) for name in ENTRY_FIELDS if not _absent(data.get(name))}


def _trap_entry(item: dict) -> dict:
    """A models record's measured trap as the file keeps it: errors to SIGNIFICANT digits (a non-finite one as its
    name), the message capped, no seconds (the results files keep them: they would churn the diff)."""
    out = {}
    for name, value in item.items():
        if name == "seconds" or value is None:
            continue
        if name in ("max_ulp", "max_rel"):
            number = _number(value)
            value = (_non_finite_name(number) if number is not None and not math.isfinite(number)
                     else _short_number(float(f"{number:.{SIGNIFICANT}g}")) if number is not None else None)
        elif name == "message" and isinstance(value, str) and len(value) > MAX_PART:
            value = value[:MAX_PART - 1] + "…"
        if value is not None:
            out[name] = value
    return out


def _versions(environments: list[dict]) -> dict[tuple, Any]:
    """(backend, device) -> the framework version its newest environment states: what an entry's is, mostly."""
    return {(e.get("backend"), e.get("device")): e.get("backend_version") for e in environments}


def compact_entry(e: dict, versions: dict[tuple, Any], sources: dict[str, str]) -> dict:
    """A full entry as the file keeps it: keyed by its ``id`` (the five fields it names left out), without a
    ``backend_version`` its environment states (``versions``) nor a ``repro`` that is the standard command for
    its id and the report's path (``sources["report"]``; a capped entry's reads the results directory, which
    is not in the file, so that the results' path does not churn it); a stated null says "none" where the
    reader would derive one. ``nnspec.conformance.results.expand_report`` puts them back."""
    from ..conformance.repro import repro_command

    compact = {"id": record_id(e)}
    named = id_fields(compact["id"])
    standard = None
    if e.get("counterexamples") and not e.get("counterexample_capped"):
        standard = repro_command(compact["id"], report=sources["report"])
    for name, value in e.items():
        if name == "id" or (name in named and named[name] == value):
            continue
        if name == "backend_version" and value == versions.get((e.get("backend"), e.get("device"))):
            continue
        if name == "repro" and value == standard:
            continue
        compact[name] = value
    if "backend_version" not in e and versions.get((e.get("backend"), e.get("device"))):
        compact["backend_version"] = None
    if "repro" not in e and standard is not None:
        compact["repro"] = None
    return {name: compact[name] for name in ("id", *ENTRY_FIELDS) if name in compact} | compact


def _shared_examples(entries: list[dict]) -> None:
    """A counterexample an earlier entry (in file order) holds as it is is written ``{"same_as": "ID#k"}``,
    that entry's id and the example's index there: the same failing input often fails several dtypes' or
    backends' checks alike."""
    first: dict[str, str] = {}
    for e in entries:
        if not isinstance(e.get("counterexamples"), list):
            continue
        dtype = id_fields(e["id"]).get("dtype", e.get("dtype"))  # an array's dtype is left out where it is this
        for k, example in enumerate(e["counterexamples"]):
            text = f"{dtype} {_line(example)}"  # ... so only an entry of the same dtype shares it
            if text in first:
                e["counterexamples"][k] = {"same_as": first[text]}
            else:
                first[text] = f"{e['id']}#{k}"


def _grouped(entries: list[dict]) -> list[dict]:
    """Entries of one (backend, device, op) that are alike but for their dtype and check — a case declared
    unsupported, an op a run never reached — written once, their dtypes and checks in braces:
    ``{"id": "B/D/{float64,float32}/OP/{forward,gradient}", ...}`` stands for every dtype × check id in that
    order (the file's: dtypes, then checks), each holding the group's other fields. Only plain
    ``B/D/DTYPE/OP/CHECK`` ids without counterexamples are grouped, and only where the run is the whole
    product, so reading it back gives the same entries in the same order."""

    def key(e: dict):
        parts = e["id"].split("/")
        if len(parts) != 5 or e.get("counterexamples"):
            return None
        rest = {k: v for k, v in e.items() if k != "id"}
        return (parts[0], parts[1], parts[3], _line(rest))

    out: list[dict] = []
    i = 0
    while i < len(entries):
        k = key(entries[i])
        j = i + 1
        while k is not None and j < len(entries) and key(entries[j]) == k:
            j += 1
        while j - i >= 2:  # the longest run from i that is a whole dtype × check product
            run = [e["id"].split("/") for e in entries[i:j]]
            dtypes = list(dict.fromkeys(p[2] for p in run))
            checks = list(dict.fromkeys(p[4] for p in run))
            if [(p[2], p[4]) for p in run] == [(d, c) for d in dtypes for c in checks]:
                break
            j -= 1
        if j - i >= 2:
            backend, device, _, op, _ = run[0]
            braced = ["{" + ",".join(names) + "}" if len(names) > 1 else names[0] for names in (dtypes, checks)]
            out.append({"id": f"{backend}/{device}/{braced[0]}/{op}/{braced[1]}",
                        **{n: v for n, v in entries[i].items() if n != "id"}})
            i = j
        else:
            out.append(entries[i])
            i += 1
    return out


NOTE_MIN = 24  # a message part of at least this many characters that recurs is written once, in ``notes``


def note_key(part: str) -> str:
    """A note's key: ``§`` and 8 hex digits of the part's SHA-1, so the same text has the same key in every run."""
    import hashlib

    return "§" + hashlib.sha1(part.encode("utf-8")).hexdigest()[:8]


def _notes(entries: list[dict]) -> dict[str, str]:
    """Message parts (``"; "``-separated) of ``NOTE_MIN`` characters or more that recur across entries — what an
    adapter declares ("declared unsupported: ..."), "scikit-learn has no deep-learning ops: ...", the same
    failure on several dtypes — moved into ``notes`` ({key: part}); the entries' messages keep the key."""
    from collections import Counter

    parts = Counter(p for e in entries if isinstance(e.get("message"), str) for p in e["message"].split("; ")
                    if len(p) >= NOTE_MIN)
    notes = {note_key(p): p for p, count in parts.items() if count > 1}
    inverse = {p: k for k, p in notes.items()}
    for e in entries:
        if isinstance(e.get("message"), str):
            e["message"] = "; ".join(inverse.get(p, p) for p in e["message"].split("; "))
    return dict(sorted(notes.items()))


def _without_run_ids(record: dict, run_ids: list[str]) -> dict:
    """A ``not run`` record's message names the run that died or was interrupted: here it says "its run"
    (runs.json says which), so the entry does not change with the run id."""
    message = record.get("message")
    if record.get("status") != NOT_RUN or not isinstance(message, str):
        return record
    for run_id in sorted(run_ids, key=len, reverse=True):
        message = message.replace(f"run {run_id} ", "its run ").replace(f"run {run_id};", "its run;")
    return {**record, "message": message}


def _environments(report: dict) -> list[dict]:
    """The distinct environments of each (backend, device)'s runs, oldest first, without run ids or times."""
    found: list[dict] = []
    for run in report["runs"]:
        environment = {name: run.get(name) for name in ENVIRONMENT_FIELDS if not _absent(run.get(name))}
        if environment not in found:
            found.append(environment)
    return [_jsonable(e) for e in found]


def _order(report: dict):
    from .format import check_key
    from .merge import backend_key, device_key

    ops = {op: i for i, op in enumerate(report.get("ops") or [])}
    dtypes = {d: i for i, d in enumerate(report.get("dtypes") or [])}

    def key(e: dict) -> tuple:
        return (ops.get(e.get("op"), len(ops)), str(e.get("op")), backend_key(e.get("backend")),
                device_key(e.get("device")), dtypes.get(e.get("dtype"), len(dtypes)), str(e.get("dtype")),
                check_key(str(e.get("check"))), record_id(e))

    return key


def _tolerances(entries: list[dict]) -> dict[str, dict]:
    """'op/check' -> the tolerance's rule and reason, and its bound per dtype, taken out of the entries: they
    depend on op and check (the bound on the dtype too) only; the first entry of an op/check (and dtype)
    states them, a later one keeps its own rule, reason or bound where it differs."""
    table: dict[str, dict] = {}
    for e in entries:
        key = f"{e['op']}/{e['check']}"
        stated = {k: e[f"tolerance_{k}"] for k in ("rule", "reason") if f"tolerance_{k}" in e}
        known = table.setdefault(key, {})
        if stated and not {k: v for k, v in known.items() if k != "bound"}:
            known.update(stated)  # the first entry that states a rule or reason states the op/check's
        for k in stated:
            if known.get(k) == stated[k]:  # each of rule and reason left out where it is the op/check's
                del e[f"tolerance_{k}"]
        if "tolerance" in e:
            bounds = known.setdefault("bound", {})
            if bounds.setdefault(str(e["dtype"]), e["tolerance"]) == e["tolerance"]:
                del e["tolerance"]
    return {key: stated for key, stated in table.items() if stated}


def status_file(report: dict, report_path: str, results_dir: str) -> tuple[dict, dict]:
    """(what conformance.json holds, what runs.json holds) for a merged report; see the module docstring."""
    key = _order(report)
    run_ids = [r["run_id"] for r in report["runs"] if r.get("run_id")]
    entries = sorted((entry(_without_run_ids(r, run_ids), report_path, results_dir) for r in report["records"]),
                     key=key)
    environments = _environments(report)
    tolerances = _tolerances(entries)
    sources = {"report": str(report_path)}
    versions = _versions(environments)
    entries = _grouped([compact_entry(e, versions, sources) for e in entries])
    _shared_examples(entries)
    notes = _notes(entries)
    defaults = [_jsonable({k: d.get(k) for k in DEFAULT_FIELDS}) for d in report["defaults"]]
    for d in defaults:  # a default's version is its environment's, mostly: stated there
        stated = versions.get((d.get("backend"), d.get("device")))
        if stated is not None and d.get("backend_version") == stated:
            del d["backend_version"]
        if d.get("differs") is False:
            del d["differs"]  # absent: it does not differ
    families = {op: None for op in report["ops"]}
    for r in report["records"]:
        if r.get("family") and families.get(r.get("op")) is None:
            families[r["op"]] = r["family"]
    capped = {r["id"]: r.get("run_id") for r in report["records"]
              if any(cap_example(e)[1] for e in _counterexamples(r)[:1])}
    status = {
        "schema_version": SCHEMA_VERSION,
        "environments": environments,
        "repro_sources": sources,
        "records": [_as_row(e) for e in entries],
        "defaults": defaults,
        "tolerances": tolerances,
        "families": families,
        "dtypes": report["dtypes"],
        "notes": notes,
    }
    runs = {
        "schema_version": SCHEMA_VERSION,
        "generated": report["generated"],
        "results": results_dir,
        "runs": [_jsonable({**run, "capped": sorted(i for i, r in capped.items() if r == run.get("run_id"))})
                 for run in report["runs"]],
        "benchmarks": _jsonable(report.get("benchmarks") or []),
        "bench_files": _jsonable(report.get("bench_files") or []),
        "warnings": report.get("warnings") or [],
    }
    return status, runs


PASS_ROW = ("id", "max_ulp", "examples")  # a plain passing entry's fields, in its row's order


def _as_row(e: dict) -> dict | list:
    """A passing entry with only PASS_ROW's fields as the row [id, max_ulp, examples]; any other as it is."""
    plain = e.get("status") == "pass" and set(e) == {"status", *PASS_ROW}
    return [e[k] for k in PASS_ROW] if plain and isinstance(e["max_ulp"], (int, float)) else e


def capped_ids(status: dict) -> set[str]:
    return {record_id(e) for e in status["records"] if isinstance(e, dict) and e.get("counterexample_capped")}


# -- writing ---------------------------------------------------------------------------------


def _line(value: Any) -> str:
    # No spaces after separators: a tenth of the file's bytes, and an entry is still one line to diff.
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def dumps(data: dict) -> str:
    """The file's text: one top-level key a line, and each element of a list of objects on a line of its own,
    so a diff shows one changed, added or removed entry as one line."""
    lines = ["{"]
    for position, (name, value) in enumerate(data.items()):
        comma = "," if position < len(data) - 1 else ""
        if isinstance(value, list) and value and all(isinstance(v, (dict, list)) for v in value):
            lines.append(f"  {_line(name)}: [")
            lines += [f"{_line(v)}{',' if i < len(value) - 1 else ''}" for i, v in enumerate(value)]  # no indent: 5k lines
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {_line(name)}: {_line(value)}{comma}")
    return "\n".join(lines + ["}"]) + "\n"
