"""The flight recorder: what a worker was doing, readable after the worker died.

A conformance case runs in a worker process (see ``isolation.py``). Before the engine
hands an example to the adapter it calls ``note(example)``: the worker keeps one file
open and each note overwrites it (pickle, one ``pwrite`` and a truncate, no fsync —
the kernel keeps the bytes when the process dies, which is all it has to survive).
A second file receives ``faulthandler``'s own report of a fatal signal ("Fatal Python
error: Segmentation fault") or of the case's time limit ("Timeout (0:00:05)!") — both
written by faulthandler's C code, so a framework that hangs holding the GIL, or one
that corrupts its own heap, is still caught. The controller that sees the worker die
reads from these two files what killed it and on which input.

Outside a worker (the engine called from a test, ``nnspec repro``) ``note`` does nothing.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

_recorder: "Recorder | None" = None


@dataclass
class Postmortem:
    """What the flight files say about a worker that died."""

    status: str  # "timeout" or "crashed"
    cause: str  # "Segmentation fault", "time limit of 5 s", "exited without a fatal-signal report"
    example: object  # the Example being evaluated, or None
    traceback: str  # the first lines of faulthandler's report


class Recorder:
    """One worker's flight files: ``<dir>/<name>.example`` and ``<dir>/<name>.fault``."""

    def __init__(self, directory: Path | str, name: str):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.example_path = self.directory / f"{name}.example"
        self.fault_path = self.directory / f"{name}.fault"
        self._example_fd = os.open(self.example_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self._fault = open(self.fault_path, "w")  # noqa: SIM115 (faulthandler needs it open for the process' life)
        faulthandler.enable(file=self._fault, all_threads=True)

    def note(self, example) -> None:
        data = pickle.dumps(example, protocol=pickle.HIGHEST_PROTOCOL)
        os.pwrite(self._example_fd, data, 0)
        os.ftruncate(self._example_fd, len(data))

    def clear(self) -> None:
        os.ftruncate(self._example_fd, 0)

    def arm(self, seconds: float | None) -> None:
        """The case's time limit: faulthandler dumps every thread's stack here and exits the worker."""
        if seconds:
            faulthandler.dump_traceback_later(seconds, repeat=False, file=self._fault, exit=True)

    def disarm(self) -> None:
        faulthandler.cancel_dump_traceback_later()


def start(directory: Path | str, name: str) -> Recorder:
    """Makes this process a recorded worker (called once per worker process)."""
    global _recorder
    _recorder = Recorder(directory, name)
    return _recorder


def note(example) -> None:
    """Records the example about to be evaluated (a no-op outside a worker)."""
    if _recorder is not None:
        _recorder.note(example)


def read_postmortem(directory: Path | str, name: str, timeout_s: float | None) -> Postmortem:
    """What the flight files of worker ``name`` say, after it died."""
    directory = Path(directory)
    try:
        fault = (directory / f"{name}.fault").read_text(errors="replace")
    except OSError:
        fault = ""
    example = None
    try:
        data = (directory / f"{name}.example").read_bytes()
        example = pickle.loads(data) if data else None
    except Exception:  # a note cut short by the crash itself: the case is still named, without its input
        example = None
    if fault.lstrip().startswith("Timeout"):
        status, cause = "timeout", f"time limit of {timeout_s:g} s" if timeout_s else "time limit"
    else:
        match = re.search(r"Fatal Python error: ([^\n]+)", fault)
        status = "crashed"
        cause = match.group(1).strip() if match else "exited without a fatal-signal report (killed, or os._exit)"
    lines = [line for line in fault.splitlines() if line.strip()][:12]
    return Postmortem(status, cause, example, "\n".join(lines))

