"""`nnspec repro ID`: replays one recorded case and shows spec and backend side by side.

The record comes from a results directory (``--results``: the newest record with the id
wins) or from a committed report (``--report reports/conformance.json``: its ``records``
and ``environments``, or a schema-1 report's ``runs``), so a repro command printed in the
committed report works on a fresh clone. A record whose counterexample the report capped
(``counterexample_capped``) is a clear error naming the results file with the full example.
The backend is loaded as the run loaded it (the run's ``backend_ref``: ``module:Class`` or
an entry-point name; else the record's backend name).

Every kind of check replays with the checker's own judging code, on the recorded
counterexample (exact float.hex values):

    forward, gradient, property   engine.judge            spec and backend values side by side
    trajectory                    trajectory.judge_trajectory  the failing step: spec vs backend there
    schedule                      trajectory.judge_schedule    the rates around the first wrong step
    layout                        layout.round_trip_mismatch   sent vs returned weights, where they differ
    defaults                      engine.check_defaults        spec vs native default, re-read now

A record whose worker died (status ``timeout`` or ``crashed``; its counterexample is the
example being evaluated then) is replayed in a child process (``python -m nnspec.cli
repro ID ... --in-process``) under a time limit and faulthandler, so the replay survives
what killed the run: "timed out again after N s", "crashed again: Segmentation fault", or
"no longer crashes: <verdict>".

Every replay prints the verdict now next to the recorded status (``Replay.now`` vs
``Replay.recorded``).
"""

from __future__ import annotations

import inspect
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..backends import BackendUnavailable, Unsupported, load_backend
from .catalogue import CATALOGUE
from .engine import as_tuple, decode_example, judge, observe
from .results import read_report_file, read_results

DIED = ("timeout", "crashed")  # statuses of a case whose worker died: replayed in a child process
FAILED = ("fail", "error", *DIED)
GROUPS = {"forward": "values", "gradient": "values", "property": "values"}  # check -> the checker that runs it
ROWS = 32  # rows of a side-by-side table


def repro_command(record_id: str, results=None, report=None) -> str:
    """The shell command that replays one record: ``nnspec repro ID [--results DIR | --report FILE]``.

    Shell-quoted (shlex.join), so ids and paths with spaces or quotes paste as they are.
    ``report`` (a committed conformance.json) wins over ``results``: it works on a fresh clone.
    """
    argv = ["nnspec", "repro", str(record_id)]
    if report is not None:
        argv += ["--report", str(report)]
    elif results is not None:
        argv += ["--results", str(results)]
    return shlex.join(argv)


# finding the record ------------------------------------------------------------------------


@dataclass
class Found:
    record: dict
    run: dict  # the run's environment (results) or run entry (report); {} when absent
    source: list  # the command-line arguments that name the source, for the child process


def find_record(record_id: str, results=None, report=None) -> Found:
    """The record with this id: from ``report`` if given, else the newest in ``results``."""
    if report is not None:
        found = _from_report(record_id, Path(report))
    else:
        found = _from_results(record_id, Path(results if results is not None else "results"))
    _validate(found.record)
    return found


def _from_results(record_id: str, results_dir: Path) -> Found:
    lines = read_results(results_dir)  # FileNotFoundError with a clear message when missing
    matches = [r for r in lines if r.get("kind") == "check" and r.get("id") == record_id]
    if not matches:
        raise KeyError(f"no record {record_id!r} in {results_dir}/ (ids look like torch/cpu/float32/gelu/forward)")
    record = matches[-1]  # runs are read oldest first: the newest measurement wins
    runs = [r for r in lines if r.get("kind") == "environment" and r.get("run_id") == record.get("run_id")]
    return Found(record, runs[-1] if runs else {}, ["--results", str(results_dir)])


def _from_report(record_id: str, path: Path) -> Found:
    if not path.is_file():
        raise FileNotFoundError(f"no report at {path}: pass the conformance.json that `nnspec report` wrote")
    report = read_report_file(path)
    matches = [r for r in report["records"] if isinstance(r, dict) and r.get("id") == record_id]  # the reader states every id
    if not matches:
        raise KeyError(f"no record {record_id!r} in {path} (ids look like torch/cpu/float32/gelu/forward)")
    record = {**matches[-1], "id": record_id}
    if record.get("counterexample_capped"):
        raise ValueError(_capped(record, path))
    runs = [r for r in report.get("runs") or [] if isinstance(r, dict) and r.get("run_id") == record.get("run_id")]
    # schema 2 (nnspec.report.status) keeps no run ids: the environments of the record's (backend, device)
    runs = runs or [e for e in report.get("environments") or [] if isinstance(e, dict)
                    and (e.get("backend"), e.get("device")) == (record.get("backend"), record.get("device"))]
    return Found(record, runs[-1] if runs else {}, ["--report", str(path)])


def _capped(record: dict, path: Path) -> str:
    """Why a record whose counterexample the report capped cannot be replayed from it, and where the full one is:
    the results file runs.json (beside the report) names."""
    files, results = [], "results"
    try:
        runs = json.loads(path.with_name("runs.json").read_text(encoding="utf-8"))
        files = [r["file"] for r in runs.get("runs") or [] if record["id"] in (r.get("capped") or []) and r.get("file")]
        results = runs.get("results") or results
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        pass  # no runs.json beside the report: name the file by its pattern
    where = files[-1] if files else f"{record['backend']}-{record['device']}-<run id>.jsonl"
    return (f"record {record['id']!r}: its counterexample is capped in {path} (large arrays are kept there as "
            f"shape, summary and the slice around the worst element), so it cannot be replayed from the report; "
            f"the full example is in the results file {Path(str(results)) / where}: "
            f"`{repro_command(record['id'], results=results)}` replays it")


def _validate(record: dict) -> None:
    names = ("id", "op", "backend", "device", "dtype", "check", "status")
    missing = [k for k in names if not isinstance(record.get(k), str)]
    if missing:
        raise ValueError(f"record {record.get('id')!r} is malformed: no {', '.join(missing)}")
    if record["op"] not in CATALOGUE:
        raise KeyError(f"record {record['id']!r} names op {record['op']!r}, which this nnspec's catalogue lacks")


def examples_of(record: dict) -> list:
    """The recorded counterexamples, decoded (a malformed one is a clear error)."""
    data = record.get("counterexamples") or ([record["counterexample"]] if record.get("counterexample") else [])
    try:
        return [CATALOGUE[record["op"]].completed(decode_example(d)) for d in data]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        why = f"{type(exc).__name__}: {exc}"
        raise ValueError(f"record {record['id']!r} has a malformed counterexample ({why})") from None


# replaying ---------------------------------------------------------------------------------


@dataclass
class Replay:
    """One replay: the verdict now, the recorded status, and what to print."""

    record_id: str
    recorded: str
    now: str
    lines: list = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.lines)


def replay(record_id: str, results=None, report=None, timeout: float = 60, in_process: bool = False) -> Replay:
    """Replays one record; a ``timeout``/``crashed`` one in a child process unless ``in_process``."""
    found = find_record(record_id, results, report)
    record = found.record
    if record["status"] in DIED and not in_process:
        from .repro_child import replay_in_child

        return replay_in_child(found, timeout)
    if not (in_process and timeout):
        return replay_here(found)
    import faulthandler

    faulthandler.enable()  # a fatal signal prints the replay's stack before the process dies
    faulthandler.dump_traceback_later(timeout, exit=True)  # and a hang is cut short, with its stack
    try:
        return replay_here(found)
    finally:
        faulthandler.cancel_dump_traceback_later()


def reproduce(record_id: str, results=None, report=None, timeout: float = 60, in_process: bool = False) -> str:
    return replay(record_id, results, report, timeout, in_process).text()


def replay_here(found: Found) -> Replay:
    record = found.record
    examples = examples_of(record)
    check = record["check"]
    checker = GROUPS.get(check, check)
    if checker not in REPLAYERS:
        raise ValueError(f"record {record['id']!r} has check {check!r}, which nnspec repro cannot replay")
    if not examples and checker != "defaults" and record["status"] not in FAILED:
        return Replay(record["id"], record["status"], record["status"],
                      [f"{record['id']}: status {record['status']}, no counterexample recorded (nothing to replay)."])
    backend = load_backend(backend_reference(found))
    if record["device"] not in backend.devices():
        raise BackendUnavailable(f"backend {backend.name!r} has no device {record['device']!r} here; "
                                 f"it has {backend.devices()}")
    entry = CATALOGUE[record["op"]]
    if not examples and checker != "defaults":  # a failure without an input (a worker that died before it noted
        # one, hypothesis giving up): the whole case again, with the run's seed and budget
        now, body = replay_case(entry, backend, record, found.run)
    else:
        now, body = REPLAYERS[checker](entry, backend, record, examples)
    return Replay(record["id"], record["status"], now, header(record, backend, now) + body)


def backend_reference(found: Found) -> str:
    """How the run loaded its backend: the run's ``backend_ref``, else the record's backend name."""
    return found.run.get("backend_ref") or found.record["backend"]


def header(record: dict, backend, now: str) -> list:
    recorded_version = record.get("backend_version")
    version = backend.version()
    lines = [record["id"],
             f"  recorded: {record['status']}" + (f"  ({record['message'][:200]})" if record.get("message") else ""),
             f"  now:      {now}  ({backend.name} {version})"]
    if recorded_version and recorded_version != version:
        lines.append(f"  note: recorded with {backend.name} {recorded_version}, replayed with {version}")
    return lines


def worst_status(statuses) -> str:
    """The status a record of these verdicts has: error over fail over the rest."""
    statuses = list(statuses)
    for status in ("crashed", "timeout", "error", "fail", "unsupported"):
        if status in statuses:
            return status
    return "pass" if statuses else "skip"


def replay_case(entry, backend, record, run):
    """The whole case again, as the run ran it (its seed and budget): for a failure recorded without
    an input (a worker that died before the engine noted the example it was evaluating)."""
    from .checkers import CHECKERS
    from .engine import Case

    check = record["check"]
    budget, seed = run.get("budget") or "quick", int(run.get("seed") or 0)
    case = Case(entry, backend, record["device"], record["dtype"], budget, seed)
    records = [r for r in CHECKERS[GROUPS.get(check, check)].run(case) if r.get("kind") == "check"]
    mine = [r for r in records if r["check"] == check] or records  # a group ("values"): all its records
    lines = [f"\n{entry.op} on {record['dtype']}: no input was recorded; the whole case run again "
             f"(budget {case.budget}, seed {case.seed})"]
    lines += [f"  {r['check']}: {r['status']} {r.get('message') or ''}".rstrip() for r in mine]
    return worst_status(r["status"] for r in mine), lines


# values: forward, gradient, property ----------------------------------------------------------


def replay_values(entry, backend, record, examples):
    check, dtype = record["check"], record["dtype"]
    checks = [check] if check in GROUPS else ["forward", "gradient", "property"]  # a group: every value check
    lines, statuses = [], []
    for example in examples:
        lines.append(f"\n{entry.op}({_params(example.params)}) on {dtype}:")
        try:
            observed = observe(entry, backend, record["device"], example)
        except Unsupported as exc:
            statuses.append("unsupported")
            lines.append(f"  unsupported now: {exc}")
            continue
        verdicts = judge(entry, example.inputs[0].dtype, example, observed)
        for name in checks:
            verdict = verdicts.get(name)
            if verdict is None:
                if name == check:
                    statuses.append("skip")
                    lines.append(f"  {name}: does not apply to this example")
                continue
            statuses.append(verdict.status)
            lines.append(f"  {name}: {verdict.status} {verdict.message}".rstrip())
            if name != "property" or not verdict.ok:
                lines.extend(_values_table(entry, example, observed, name))
    return worst_status(statuses), lines


def _values_table(entry, example, observed, check):
    gradient = check == "gradient"
    got = observed.gradient if gradient else observed.value
    if isinstance(got, Exception):
        return [f"    backend raised {type(got).__name__}: {got}"]
    if got is None:
        return ["    the backend's gradient was not taken (no cotangent applies)"]
    fn = entry.vjp if gradient else entry.forward
    args = [*example.inputs, example.cotangent] if gradient else list(example.inputs)
    spec = as_tuple(fn(*args, **_kw(fn, example.params)))
    label = "vjp" if gradient else "value"
    spec_flat, got_flat = _flat(spec), _flat(got)
    # Inputs as long as the output sit beside it; the others (targets, a scalar cotangent) are listed above.
    beside = {"x": example.inputs[0], **({"cotangent": example.cotangent} if gradient else {})}
    beside = {name: a for name, a in beside.items() if np.size(a) == spec_flat.size}
    lines = _inputs_lines(entry, example, skip_first="x" in beside)
    if gradient and "cotangent" not in beside:
        lines.append(_array_line("cotangent", example.cotangent))
    shapes = [np.shape(s) for s in spec], [np.shape(g) for g in as_tuple(got)]
    if shapes[0] != shapes[1]:
        lines.append(f"    shapes: spec {', '.join(map(str, shapes[0]))}; backend {', '.join(map(str, shapes[1]))}")
    columns = {**beside, f"spec {label}": spec_flat, f"backend {label}": got_flat}
    shape = shapes[0][0] if len(spec) == 1 else None  # one output: its multi-index names each row
    return lines + side_by_side(columns, f"spec {label}", f"backend {label}", shape=shape)


# trajectory and schedule ----------------------------------------------------------------------


def replay_trajectory(entry, backend, record, examples):
    from .trajectory import judge_trajectory

    (example,) = examples[:1]
    dtype = example.inputs[0].dtype
    lines = [f"\n{entry.op}({_params(example.params)}) on {record['dtype']}, {len(example.inputs[1])} steps:"]
    observed = observe(entry, backend, record["device"], example)
    judged = judge_trajectory(entry, dtype, example, observed)
    lines.append(f"  trajectory: {judged.verdict.status} {judged.verdict.message}".rstrip())
    if isinstance(observed.value, Exception):
        return judged.verdict.status, lines
    actual = np.asarray(observed.value[0])
    spec = entry.forward(*example.inputs, **_kw(entry.forward, example.params))
    if actual.shape != spec.shape:
        lines.append(f"    backend returned {actual.dtype}{list(actual.shape)}, the spec {list(spec.shape)}")
        return judged.verdict.status, lines
    t = judged.failing_step or (int(np.argmax(judged.ulp)) + 1 if judged.ulp.size else 1)
    start = example.inputs[0] if t == 1 else spec[t - 2]
    lr = example.inputs[2][t - 1] if len(example.inputs) > 2 else None
    what = "the first failing step" if judged.failing_step else "the worst step"
    lines.append(f"  step {t} ({what})" + (f", lr {float(lr):.17g}" if lr is not None else "") + ":")
    lines.extend(side_by_side({"spec before": start, "gradient": example.inputs[1][t - 1],
                               "spec after": spec[t - 1], "backend after": actual[t - 1]},
                              "spec after", "backend after"))
    shown = range(max(t - 3, 0), min(t + 2, len(judged.ulp)))
    lines.append("  worst error by step (ULP): " + ", ".join(f"{s + 1}: {judged.ulp[s]:.3g}" for s in shown))
    return judged.verdict.status, lines


def replay_streaming(entry, backend, record, examples):
    from . import streaming as T

    (example,) = examples[:1]
    streamed = T.streamed(entry)
    lines = [f"\n{entry.op}({_params(example.params)}) on {record['dtype']}, one-shot and accumulated:"]
    observed = T.observe(streamed, backend, record["device"], example)
    judged = T.judge_streaming(streamed, example.inputs[-1].dtype, example, observed)
    lines.append(f"  streaming: {judged.verdict.status} {judged.verdict.message}".rstrip())
    if not isinstance(observed.value, Exception):
        lines.append(f"  one-shot: {observed.value[0]!r}; accumulated: {observed.value[1]!r}")
    return judged.verdict.status, lines


def replay_running_stats(entry, backend, record, examples):
    from . import running_stats as R

    (example,) = examples[:1]
    dtype = example.inputs[0].dtype
    stepped = R.stepped(entry)
    lines = [f"\n{entry.op}({_params(example.params)}) on {record['dtype']}, {len(example.inputs[0])} training steps:"]
    observed = R.observe(stepped, backend, record["device"], example)
    judged = R.judge_running_stats(stepped, dtype, example, observed)
    lines.append(f"  running_stats: {judged.verdict.status} {judged.verdict.message}".rstrip())
    if isinstance(observed.value, Exception) or not judged.ulp.size:
        return judged.verdict.status, lines
    by_step = ", ".join(f"{s + 1}: {u:.3g}" for s, u in enumerate(judged.ulp))
    lines.append(f"  worst state error by step (ULP): {by_step}")
    if judged.failing_step:
        t = judged.failing_step - 1
        states, spec = np.asarray(observed.value[0])[t], R.spec_states(entry, example, example.params)[0][t]
        for i, (theirs, ours) in enumerate(zip(states, spec)):
            lines.append(f"  step {t + 1}, state output {i + 1} per channel:")
            lines.extend(side_by_side({"spec": ours, "backend": theirs}, "spec", "backend"))
    return judged.verdict.status, lines


def replay_schedule(entry, backend, record, examples):
    from .trajectory import judge_schedule

    (example,) = examples[:1]
    dtype = example.inputs[0].dtype
    lines = [f"\n{entry.op}({_params(example.params)}) on {record['dtype']}:"]
    observed = observe(entry, backend, record["device"], example)
    judged = judge_schedule(entry, dtype, example, observed)
    lines.append(f"  schedule: {judged.verdict.status} {judged.verdict.message}".rstrip())
    if isinstance(observed.value, Exception):
        return judged.verdict.status, lines
    actual = np.ravel(np.asarray(observed.value[0], dtype=np.float64))
    spec = np.ravel(entry.forward(*example.inputs, **_kw(entry.forward, example.params)))
    if actual.shape != spec.shape:
        lines.append(f"    backend returned {actual.size} rates, the spec {spec.size}")
    found = re.search(r"wrong from step (\d+)", judged.verdict.message)
    first = int(found.group(1)) if found else 0
    steps = np.arange(max(first - 3, 0), min(first + 5, len(spec), len(actual)))
    lines.append(f"  rates around step {first} (steps count from 0):")
    lines.extend(side_by_side({"step": steps, "spec lr": spec[steps], "backend lr": actual[steps]},
                              "spec lr", "backend lr", index=False))
    return judged.verdict.status, lines


# layout and defaults --------------------------------------------------------------------------


def replay_layout(entry, backend, record, examples):
    from .layout import named_weights, round_trip_mismatch

    (example,) = examples[:1]
    lines = [f"\n{entry.op}({_params(example.params)}) on {record['dtype']}: weights spec -> native -> spec"]
    try:
        mismatch = round_trip_mismatch(entry, backend, example)  # the check's own verdict
        weights = named_weights(entry, example)
        back = backend.from_native_layout(entry.op, backend.to_native_layout(entry.op, weights, example.params),
                                          example.params)
    except Unsupported as exc:
        return "unsupported", lines + [f"  unsupported now: {exc}"]
    except Exception as exc:  # the adapter's failure is the finding
        return "error", lines + [f"  layout: error raised {type(exc).__name__}: {exc}"]
    lines.append(f"  layout: {'fail ' + mismatch if mismatch else 'pass (every weight back bit for bit)'}")
    for name, sent in weights.items():
        got = back.get(name)
        if got is None:
            lines.append(f"  {name}: missing after the round trip")
            continue
        got = np.asarray(got)
        if got.shape != sent.shape or got.dtype != sent.dtype:
            lines.append(f"  {name}: sent {sent.dtype}{list(sent.shape)}, back {got.dtype}{list(got.shape)}")
            if got.size != sent.size:
                continue
        if got.tobytes() == sent.astype(got.dtype).tobytes() and got.shape == sent.shape:
            continue
        differs = int(np.sum(_differing(sent, got.astype(sent.dtype))))
        if not differs:
            lines.append(f"  {name}: the same values, in {sent.dtype} C order")
            continue
        lines.append(f"  {name}: {differs} of {sent.size} elements differ (in C order)")
        lines.extend(side_by_side({"sent": sent, "back": got.reshape(-1)}, "sent", "back", shape=sent.shape))
    return ("fail" if mismatch else "pass"), lines


def replay_defaults(entry, backend, record, examples):
    from .engine import Case, check_defaults

    summary, *entries = check_defaults(Case(entry, backend, record["device"], "-"))  # the check itself, re-read
    lines = [f"\n{entry.op}: defaults, spec vs {backend.name} (read now from the native callables)"]
    lines.append(f"  defaults: {summary['status']} {summary['message']}".rstrip())
    lines.append(f"    {'parameter':<16} {'spec':>14} {'native':>14}  native callable")
    for e in entries:
        mark = "  <- differs" if e["differs"] else ""
        spec, native = repr(e["spec_default"]), repr(e["native_default"])
        lines.append(f"    {e['parameter']:<16} {spec:>14} {native:>14}  {e['native']}{mark}")
    return summary["status"], lines


def replay_out_of_range(entry, backend, record, examples):
    from . import out_of_range as O

    outside = O.outside(entry)
    lines, statuses = [], []
    for example in examples:
        lines.append(f"\n{entry.op}({_params(example.params)}) on {record['dtype']}, indices outside the table:")
        lines.extend(f"    {line}" for line in str(np.asarray(example.inputs[-1])).splitlines())
        try:
            observed = observe(outside, backend, record["device"], example)
        except Unsupported as exc:
            statuses.append("unsupported")
            lines.append(f"  unsupported now: {exc}")
            continue
        verdict = O.judge_outside(outside, example.inputs[0].dtype, example, observed)
        statuses.append(verdict.status)
        lines.append(f"  out_of_range: {verdict.status} {verdict.message}".rstrip())
        if not isinstance(observed.value, Exception):
            lines.append("    backend returned:")
            lines.extend(f"    {line}" for line in str(np.asarray(observed.value[0])).splitlines())
    return worst_status(statuses), lines


def replay_distribution(entry, backend, record, examples):
    """The recorded example's samples drawn again (same seed) and judged: each statistical test's p-value
    against its α, the deterministic parts' verdicts."""
    from . import distribution as D
    from .strategies import np_dtype

    (example,) = examples[:1]
    dtype = np.dtype(np_dtype(record["dtype"]))
    lines = [f"\n{entry.op}({_params(example.params)}) on {record['dtype']}: {entry.distribution.reason}"]
    judged = D.judge(entry, dtype, example, D.observe(entry, backend, record["device"], example))
    lines.append(f"  distribution: {judged.verdict.status} {judged.verdict.message}".rstrip())
    for p_value in judged.p_values:
        lines.append(f"  p-value {p_value:.3g} (α = {entry.distribution.alpha:g})")
    for weight, fit in judged.fits.items():
        lines.append(f"  {weight} fits: {' | '.join(fit) or 'none of the candidates'}")
    return judged.verdict.status, lines


REPLAYERS = {"values": replay_values, "out_of_range": replay_out_of_range, "trajectory": replay_trajectory,
             "schedule": replay_schedule, "layout": replay_layout, "defaults": replay_defaults,
             "running_stats": replay_running_stats, "distribution": replay_distribution,
             "streaming": replay_streaming}


# tables ---------------------------------------------------------------------------------------


def side_by_side(columns: dict, spec: str, backend: str, index: bool = True, shape=None) -> list:
    """Rows of equally long flattened columns; with more than ROWS rows, those where ``spec`` and
    ``backend`` differ most (nan against a number first), in index order."""
    flat = {name: np.ravel(np.asarray(values, dtype=np.float64)) for name, values in columns.items()}
    n = min(len(v) for v in flat.values())
    a, b = flat[spec][:n], flat[backend][:n]
    with np.errstate(all="ignore"):
        gap = np.where(np.isnan(a) != np.isnan(b), np.inf, np.nan_to_num(np.abs(a - b), nan=0.0, posinf=np.inf))
        gap = np.where(np.isinf(a) & np.isinf(b) & (a == b), 0.0, gap)
    rows = np.arange(n) if n <= ROWS else np.sort(np.argsort(-gap, kind="stable")[:ROWS])
    out = [("    " + (f"{'index':>10} " if index else "") + " ".join(f"{name:>24}" for name in flat)
            + f" {'|difference|':>12}")]
    for i in rows:
        where = ",".join(str(int(k)) for k in np.unravel_index(i, shape)) if shape is not None and len(shape) > 1 \
            else str(i)
        cells = " ".join(f"{float(v[i])!r:>24}" for v in flat.values())  # shortest exact: repr round-trips
        out.append("    " + (f"{where:>10} " if index else "") + cells + f" {gap[i]:>12.3g}")
    if n > ROWS:
        out.append(f"    ({n - ROWS} more rows, where spec and backend differ least)")
    return out


def _inputs_lines(entry, example, skip_first=False) -> list:
    names = list(inspect.signature(entry.forward).parameters)
    return [_array_line(names[k] if k < len(names) else f"input {k}", array)
            for k, array in enumerate(example.inputs) if not (k == 0 and skip_first)]


def _array_line(name, array) -> str:
    values = np.ravel(np.asarray(array, dtype=np.float64))
    shown = ", ".join(f"{v:.9g}" for v in values[:8]) + (", ..." if values.size > 8 else "")
    return f"    {name}: {np.asarray(array).dtype}{list(np.shape(array))} [{shown}]"


def _differing(sent, back) -> np.ndarray:
    """Per element: do ``sent`` and ``back`` (same dtype and size) differ bit for bit (-0.0 vs 0.0, nan payloads)?"""
    a, b = (np.ascontiguousarray(x).reshape(-1) for x in (sent, back))
    return np.any(a.view(np.uint8).reshape(a.size, -1) != b.view(np.uint8).reshape(b.size, -1), axis=1)


def _flat(values) -> np.ndarray:
    """Several outputs (or gradients of several inputs) one after another, flattened."""
    return np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in as_tuple(values)])


def _params(params):
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def _kw(fn, params):
    names = inspect.signature(fn).parameters
    return {k: v for k, v in params.items() if k in names}
