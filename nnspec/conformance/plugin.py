"""pytest plugin: the conformance run as pytest items, one per (op, check, dtype).

Activated by ``--nnspec-backend``; ``nnspec run`` calls pytest with it on ``suite.py``.
Each item runs the engine on its case, appends its records to the run's results file
at once (so an interrupted run keeps them), and fails when a check deviates — so
``-k``, ``-x``, ``--lf``, junit XML and the rest of pytest work on a conformance run.
The file's ``finished`` line is written only when the session was not interrupted.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import datetime, timezone

import pytest

from .. import __version__
from ..backends import DTYPES, BackendUnavailable, load_backend
from .catalogue import select
from .checkers import CHECKERS
from .engine import BUDGETS, Case
from .results import ResultsWriter, results_path

STASH = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("nnspec", "nnspec conformance")
    group.addoption("--nnspec-backend", help="backend name (entry point) or module:Class")
    group.addoption("--nnspec-device", default="cpu", help="device: cpu or cuda")
    group.addoption("--nnspec-dtype", action="append", choices=list(DTYPES), help="repeatable; default all")
    group.addoption("--nnspec-family", default=None)
    group.addoption("--nnspec-op", default=None)
    group.addoption("--nnspec-budget", default="quick", choices=list(BUDGETS))
    group.addoption("--nnspec-results", default="results")
    group.addoption("--nnspec-seed", type=int, default=0)


def pytest_configure(config):
    name = config.getoption("--nnspec-backend", default=None)
    if not name:
        return
    try:
        backend = load_backend(name)
    except BackendUnavailable as exc:
        raise pytest.UsageError(str(exc)) from None
    device = config.getoption("--nnspec-device")
    if device not in backend.devices():
        raise pytest.UsageError(f"backend {backend.name!r} has no device {device!r}; it has {backend.devices()}")
    try:
        entries = select(config.getoption("--nnspec-family"), config.getoption("--nnspec-op"))
    except KeyError as exc:
        raise pytest.UsageError(exc.args[0]) from None
    run_id = uuid.uuid4().hex[:12]
    writer = ResultsWriter(results_path(config.getoption("--nnspec-results"), backend.name, device))
    environment = backend.environment(device)
    writer.write({
        "kind": "environment", "run_id": run_id, "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **environment, "backend_ref": name, "budget": config.getoption("--nnspec-budget"), "seed": config.getoption("--nnspec-seed"),
        "nnspec_version": __version__, "argv": sys.argv,
    })
    config.stash[STASH] = {
        "backend": backend, "device": device, "entries": entries, "writer": writer, "run_id": run_id,
        "dtypes": config.getoption("--nnspec-dtype") or list(DTYPES), "budget": config.getoption("--nnspec-budget"),
        "seed": config.getoption("--nnspec-seed"), "started": time.perf_counter(), "counts": {},
        "results": config.getoption("--nnspec-results"),
    }


def pytest_generate_tests(metafunc):
    state = metafunc.config.stash.get(STASH, None)
    if state is None or "nnspec_case" not in metafunc.fixturenames:
        return
    cases = [
        (entry, check, dtype)
        for entry in state["entries"]
        for check in entry.checks
        for dtype in (state["dtypes"] if CHECKERS[check].per_dtype else ["-"])
    ]
    ids = [f"{e.op}-{c}" + ("" if d == "-" else f"-{d}") for e, c, d in cases]
    metafunc.parametrize("nnspec_case", cases, ids=ids)


@pytest.fixture
def nnspec_run(request):
    state = request.config.stash.get(STASH, None)
    if state is None:
        pytest.skip("no --nnspec-backend given")
    return state


def record(state, records):
    """Writes records at once and turns deviations into a pytest failure."""
    for rec in records:
        rec["run_id"] = state["run_id"]
        if rec.get("repro") and state["results"] != "results":
            rec["repro"] += f" --results {state['results']}"
        state["writer"].write(rec)
        if rec["kind"] == "check":
            state["counts"][rec["status"]] = state["counts"].get(rec["status"], 0) + 1
    checks = [r for r in records if r["kind"] == "check"]
    deviations = [r for r in checks if r["status"] in ("fail", "error")]
    if deviations:
        pytest.fail("\n".join(_line(r) for r in deviations), pytrace=False)
    if checks and all(r["status"] in ("unsupported", "skip") for r in checks):
        pytest.skip("; ".join(sorted({r["message"] for r in checks})))


def _line(rec):
    variant = f" [matches {rec['matches_variant']}]" if rec.get("matches_variant") else ""
    return f"{rec['check']} {rec['status']}{variant}: {rec['message'][:300]}"


def pytest_sessionfinish(session, exitstatus):
    state = session.config.stash.get(STASH, None)
    if state is None:
        return
    if exitstatus != pytest.ExitCode.INTERRUPTED:
        state["writer"].write({
            "kind": "finished", "run_id": state["run_id"], "seconds": time.perf_counter() - state["started"],
            "counts": state["counts"],
        })
    state["writer"].close()


def run_case(state, entry, check, dtype):
    case = Case(entry, state["backend"], state["device"], dtype, state["budget"], state["seed"])
    record(state, CHECKERS[check].run(case))
