"""Cases run where they can be lost: pytest-xdist workers, a time limit and a memory limit each.

``nnspec run`` runs its pytest session through pytest-xdist (``-n W``): the controller
process never touches a framework kernel, each worker runs cases one after another.
A worker

* bounds its address space (``RLIMIT_AS``, ``--case-memory``): an adapter that allocates
  without bound gets a MemoryError, measured like any other exception it raises;
* arms ``faulthandler.dump_traceback_later`` for each case (``--case-timeout``): a case
  that hangs, even inside C++ holding the GIL, is ended with its stacks written out;
* notes every example before it reaches the adapter (``flight.note``).

When a worker dies, xdist tells the controller which case it was running
(``pytest_handlecrashitem``); the controller reads the worker's flight files, records
every check of the case as ``timeout`` or ``crashed`` (naming the signal, with the
example as counterexample), and xdist starts a fresh worker for the rest of the run.
Crash handling, restarts and scheduling are xdist's; this module only says what died.
"""

from __future__ import annotations

import os
import re
import resource
import sys

import pytest

from . import flight
from .engine import Case, encode_example, make_record

MAX_WORKER_RESTARTS = 100_000  # every case may crash: the run still goes on
CASE_TIMEOUT = {"quick": 180.0, "standard": 900.0, "thorough": 3600.0}  # seconds, per case


def default_case_memory() -> int:
    """Half the machine's memory: a runaway adapter fails alone instead of taking the machine down."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError):
        return 8 * 2**30


def parse_size(text: str) -> int:
    """'512M', '8G', '1.5G' or a number of bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)i?[bB]?\s*", str(text))
    if not match:
        raise ValueError(f"not a memory size: {text!r} (e.g. 512M, 8G)")
    scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def limit_memory(size: int | None) -> None:
    if size:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            size = min(size, hard)
        resource.setrlimit(resource.RLIMIT_AS, (size, hard))


def flight_name(run_id: str, worker: str) -> str:
    return f"{run_id}-{worker}"


class Controller:
    """The controller's side: xdist's hooks about dying workers, turned into records."""

    def __init__(self, state: dict):
        self.state = state
        self.last_down = None  # the worker xdist reported down last (it reports the crashed case right after)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):
        node.workerinput["nnspec_run_id"] = self.state["run_id"]
        node.workerinput["nnspec_path"] = str(self.state["path"])
        node.workerinput["nnspec_done"] = sorted(self.state["done"])
        node.workerinput["nnspec_run"] = self.state["run"]
        node.workerinput["nnspec_sys_path"] = list(sys.path)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        self.last_down = node.workerinput.get("workerid")
        self.state["worker_cpu_s"] += float(getattr(node, "workeroutput", {}).get("nnspec_cpu_s", 0.0))

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem, report, sched):
        state = self.state
        case = state["cases_by_nodeid"].get(crashitem.rsplit("::", 1)[-1])
        if case is None:
            return
        entry, check, dtype = case
        dead = flight.read_postmortem(state["flight_dir"], flight_name(state["run_id"], self.last_down or "gw0"),
                                      state["case_timeout"])
        records = postmortem_records(state, entry, check, dtype, dead)
        state["writer"].write_many(records)
        report.longrepr = f"{check} {dead.status}: {dead.cause} (worker {self.last_down})"


def postmortem_records(state: dict, entry, check: str, dtype: str, dead: flight.Postmortem) -> list[dict]:
    """One record per check of the case the worker died in, all with the example it died on."""
    from .checkers import CHECKERS
    from .plugin import case_id

    case = Case(entry, state["backend"], state["device"], dtype, state["budget"], state["seed"])
    verb = "timed out" if dead.status == "timeout" else "crashed"
    message = f"the worker {verb} ({dead.cause}) evaluating this example" if dead.example is not None else (
        f"the worker {verb} ({dead.cause}) before it evaluated an example")
    records = []
    for name in CHECKERS[check].records(entry):
        record = make_record(
            case, name, dead.status, message=message, cause=dead.cause, fault=dead.traceback,
            counterexamples=[encode_example(dead.example)] if dead.example is not None else [],
        )
        record["run_id"] = state["run_id"]
        record["case"] = case_id(entry, check, dtype)
        if record.get("repro"):
            record["repro"] = state["repro"](record["id"])
        records.append(record)
    return records
