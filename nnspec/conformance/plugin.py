"""pytest plugin: the conformance run as pytest items, one per case (op, check, dtype).

Activated by ``--nnspec-backend``; ``nnspec run`` calls pytest with it on ``suite.py``,
through pytest-xdist workers (``isolation.py``: a case that hangs or crashes its worker
is recorded as ``timeout`` or ``crashed`` and the run goes on in a fresh worker). A
framework's own test session loads it through the pytest11 entry point
(``nnspec.pytest_plugin``, which adds ``suite.py`` to that session); there
``--nnspec-allow`` lists the reviewed deviations, which are then xfails, still recorded.

Each run writes its own results file (``results.run_path``): the controller writes the
``environment`` line and, at the end, ``finished``; each worker writes ``case_started``
before a case and all of the case's records at once after it (so an interrupted run
keeps every case it finished). Item failures are deviations — so ``-k``, ``-x``,
``--lf`` and junit XML work on a conformance run.

``--nnspec-resume`` continues the newest unfinished run of the backend and device in the
results directory: same run id, seed, budget and selection, appending to its file, and
only the cases it has no records of. ``--nnspec-shard K/N`` keeps the cases whose
stable hash falls in shard K of N, so a CI matrix splits one run over machines.
"""

from __future__ import annotations

import fnmatch
import os
import resource
import sys
import time
import uuid
import zlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from .. import __version__
from ..backends import DTYPES, BackendUnavailable, load_backend
from . import flight, isolation, options, results
from .catalogue import select
from .checkers import CHECKERS
from .engine import Case
from .known import known_examples
from .repro import repro_command

STASH = pytest.StashKey[dict]()


def pytest_addoption(parser):
    options.add_options(parser)  # unless nnspec.pytest_plugin, the pytest11 entry point, added them already


def case_id(entry, check: str, dtype: str) -> str:
    return f"{entry.op}-{check}" + ("" if dtype == "-" else f"-{dtype}")


def all_cases(entries, dtypes) -> list[tuple]:
    return [
        (entry, check, dtype)
        for entry in entries
        for check in entry.checks
        for dtype in (dtypes if CHECKERS[check].per_dtype else ["-"])
        if entry.dtypes is None or dtype == "-" or dtype in entry.dtypes
    ]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise pytest.UsageError(f"--shard takes K/N with 1 <= K <= N, e.g. 2/4; got {text!r}") from None
    if not 1 <= k <= n:
        raise pytest.UsageError(f"--shard takes K/N with 1 <= K <= N, e.g. 2/4; got {text!r}")
    return k, n


def in_shard(cid: str, shard: tuple[int, int] | None) -> bool:
    """A case's shard, from a stable hash of its id: the same split on every machine and Python."""
    return shard is None or zlib.crc32(cid.encode()) % shard[1] == shard[0] - 1


def _usage(message: str):
    raise pytest.UsageError(message)


def _load(config):
    name = config.getoption("--nnspec-backend")
    try:
        backend = load_backend(name)
    except BackendUnavailable as exc:
        _usage(str(exc))
    device = config.getoption("--nnspec-device")
    devices = backend.devices()
    if device not in devices:
        _usage(f"backend {backend.name!r} has no device {device!r}; it has {devices}")
    return name, backend, device


def _selection(config) -> dict:
    return {"family": config.getoption("--nnspec-family"), "op": config.getoption("--nnspec-op"),
            "dtypes": config.getoption("--nnspec-dtype") or list(DTYPES), "shard": config.getoption("--nnspec-shard")}


def _resumable(results_dir: Path, backend: str, device: str) -> tuple[dict, set[str]]:
    """The newest run of (backend, device) without a ``finished`` line, and the cases it measured."""
    try:
        lines = results.read_results(results_dir)
    except FileNotFoundError:
        lines = []
    runs = {l["run_id"]: l for l in lines if l["kind"] == "environment" and l.get("backend") == backend
            and l.get("device") == device}
    finished = {l.get("run_id") for l in lines if l["kind"] == "finished"}
    open_runs = [run for run_id, run in runs.items() if run_id not in finished]
    if not open_runs:
        _usage(f"--resume: no unfinished run of {backend} on {device} in {results_dir}/")
    run = max(open_runs, key=lambda r: str(r.get("started") or ""))
    done = {l["case"] for l in lines if l["kind"] == "check" and l.get("run_id") == run["run_id"] and l.get("case")}
    return run, done


def pytest_configure(config):
    if not config.getoption("--nnspec-backend", default=None):
        return
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # the controller's import path: an adapter it found, the worker finds
        sys.path.extend(p for p in workerinput.get("nnspec_sys_path", []) if p not in sys.path)
    name, backend, device = _load(config)
    results_dir = Path(config.getoption("--nnspec-results"))
    state = {"backend": backend, "device": device, "results": str(results_dir), "started": time.perf_counter(),
             "cpu_start": _cpu_seconds(), "worker_cpu_s": 0.0, "done": set(), "flight_dir": results_dir / ".flight"}
    if workerinput is not None:  # a worker: the controller made the run; this process measures cases
        state.update(run_id=workerinput["nnspec_run_id"], path=Path(workerinput["nnspec_path"]),
                     done=set(workerinput["nnspec_done"]))
        run = workerinput["nnspec_run"]
    elif config.getoption("--nnspec-resume"):
        run, state["done"] = _resumable(results_dir, backend.name, device)
        state.update(run_id=run["run_id"], path=Path(run.get("path") or results.run_path(
            results_dir, backend.name, device, run["run_id"])))
    else:
        run = {"run_id": uuid.uuid4().hex[:12], "seed": config.getoption("--nnspec-seed"),
               "budget": config.getoption("--nnspec-budget"), "selection": _selection(config),
               "known": _known_path(config.getoption("--nnspec-known"))}
        state.update(run_id=run["run_id"], path=results.run_path(results_dir, backend.name, device, run["run_id"]))
    selection = run.get("selection") or {}
    try:
        entries = select(selection.get("family"), selection.get("op"))
    except KeyError as exc:
        _usage(exc.args[0])
    state.update(entries=entries, dtypes=selection.get("dtypes") or list(DTYPES), budget=run["budget"],
                 seed=run["seed"], shard=parse_shard(selection.get("shard")), known=run.get("known"))
    state["case_timeout"] = config.getoption("--nnspec-case-timeout") or isolation.CASE_TIMEOUT[state["budget"]]
    state["allow"] = read_allowed(config.getoption("--nnspec-allow", default=None))
    state["repro"] = lambda rid: repro_command(rid, results=None if state["results"] == "results" else state["results"])
    try:
        state["writer"] = results.ResultsWriter(state["path"])
    except OSError as exc:
        _usage(f"cannot write results to {results_dir}/: {exc.strerror or exc}")
    state["run"] = {"seed": state["seed"], "budget": state["budget"], "selection": selection, "known": state["known"]}
    state["cases_by_nodeid"] = {f"test_conformance[{case_id(*c)}]": c for c in all_cases(entries, state["dtypes"])}
    config.stash[STASH] = state

    if workerinput is not None:
        recorder = flight.start(state["flight_dir"], isolation.flight_name(state["run_id"], workerinput["workerid"]))
        state["recorder"] = recorder
        memory = config.getoption("--nnspec-case-memory")
        isolation.limit_memory(isolation.parse_size(memory) if memory else isolation.default_case_memory())
        return
    if config.getoption("--nnspec-resume"):
        state["writer"].write({"kind": "resumed", "run_id": state["run_id"], "started": _now(), "argv": sys.argv,
                               "measured_before": len(state["done"])})
    else:
        state["writer"].write({
            "kind": "environment", "run_id": state["run_id"], "started": _now(), **backend.environment(device),
            "backend_ref": name, "budget": state["budget"], "seed": state["seed"], "selection": selection,
            "known": state["known"],
            "nnspec_version": __version__, "argv": sys.argv,
        })
    config.pluginmanager.register(isolation.Controller(state), "nnspec-controller")


def read_allowed(path) -> list[str]:
    """The reviewed deviations of ``--nnspec-allow FILE``: one pattern a line, '#' comments."""
    if not path:
        return []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        _usage(f"--nnspec-allow {path}: {exc.strerror or exc}")
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def allowed(rec: dict, patterns: list[str]) -> bool:
    """Whether a deviation is listed: by its record id (backend/device/dtype/op/check) or op/dtype/check."""
    keys = (rec["id"], f"{rec['op']}/{rec['dtype']}/{rec['check']}")
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns for key in keys)


def _known_path(path) -> str | None:
    """The --known source as given (workers run in the same directory), or None."""
    if not path:
        return None
    if not Path(path).exists():
        _usage(f"--known {path}: no such report or results directory")
    return str(path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pytest_generate_tests(metafunc):
    state = metafunc.config.stash.get(STASH, None)
    if state is None or "nnspec_case" not in metafunc.fixturenames:
        return
    cases = all_cases(state["entries"], state["dtypes"])
    metafunc.parametrize("nnspec_case", cases, ids=[case_id(*c) for c in cases])


def pytest_collection_modifyitems(config, items):
    state = config.stash.get(STASH, None)
    if state is None:
        return
    keep, drop = [], []
    for item in items:
        case = getattr(item, "callspec", None) and item.callspec.params.get("nnspec_case")
        cid = case_id(*case) if case else None
        (drop if cid and (cid in state["done"] or not in_shard(cid, state["shard"])) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def nnspec_run(request):
    state = request.config.stash.get(STASH, None)
    if state is None:
        pytest.skip("no --nnspec-backend given")
    return state


def run_case(state, entry, check, dtype):
    """One case: announced, run under the time limit, all its records written at once."""
    cid = case_id(entry, check, dtype)
    state["writer"].write({"kind": "case_started", "run_id": state["run_id"], "case": cid, "op": entry.op,
                           "check": check, "dtype": dtype, "backend": state["backend"].name, "device": state["device"]})
    case = Case(entry, state["backend"], state["device"], dtype, state["budget"], state["seed"],
                known=known_examples(state["known"], entry, dtype, state["backend"].name))
    recorder = state.get("recorder")
    if recorder is not None:
        recorder.arm(state["case_timeout"])
    try:
        records = CHECKERS[check].run(case)
    finally:
        if recorder is not None:
            recorder.disarm()
            recorder.clear()
    record(state, records, cid)


def record(state, records, cid=None):
    """Writes a case's records in one write and turns deviations into a pytest failure."""
    for rec in records:
        rec["run_id"] = state["run_id"]
        if cid is not None:
            rec["case"] = cid
        if rec.get("repro"):
            rec["repro"] = state["repro"](rec["id"])
    state["writer"].write_many(records)
    checks = [r for r in records if r["kind"] == "check"]
    deviations = [r for r in checks if r["status"] in ("fail", "error", "timeout", "crashed")]
    reviewed = [r for r in deviations if allowed(r, state.get("allow", []))]  # recorded all the same
    if len(reviewed) < len(deviations):
        pytest.fail("\n".join(_line(r) for r in deviations if r not in reviewed), pytrace=False)
    if reviewed:
        pytest.xfail("allowed by --nnspec-allow: " + "; ".join(_line(r) for r in reviewed))
    if checks and all(r["status"] in ("unsupported", "skip") for r in checks):
        pytest.skip("; ".join(sorted({r["message"] for r in checks})))


def _line(rec):
    variant = f" [matches {rec['matches_variant']}]" if rec.get("matches_variant") else ""
    return f"{rec['check']} {rec['status']}{variant}: {rec['message'][:300]}"


@pytest.hookimpl(trylast=True)  # after xdist has shut its workers down: their CPU time is then ours
def pytest_sessionfinish(session, exitstatus):
    state = session.config.stash.get(STASH, None)
    if state is None:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["nnspec_cpu_s"] = _cpu_seconds() - state["cpu_start"]
    elif exitstatus != pytest.ExitCode.INTERRUPTED:
        _finish(state)
    state["writer"].close()


def _finish(state):
    # Terminated workers, crashed ones included, count in RUSAGE_CHILDREN; their own reports are a lower bound.
    cpu = max(_cpu_seconds() - state["cpu_start"], state["worker_cpu_s"])
    state["writer"].write({"kind": "finished", "run_id": state["run_id"], "seconds": time.perf_counter() - state["started"],
                           "cpu_seconds": cpu})
    flight_files = state["flight_dir"].glob(f"{state['run_id']}-*")
    for path in flight_files:  # a finished run's black boxes have nothing left to say
        try:
            os.unlink(path)
        except OSError:
            pass
