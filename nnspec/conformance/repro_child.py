"""Replaying a case whose worker died (status ``timeout`` or ``crashed``) in a child process.

What killed the run's worker may kill the replay, so the replay runs as
``python -X faulthandler -m nnspec.cli repro ID <source> --in-process --timeout N``: the
child arms ``faulthandler.dump_traceback_later(N, exit=True)``, so a hang ends after N s
with the stack of every thread, and ``-X faulthandler`` prints the stack of a fatal signal.
The parent reads how the child ended:

    faulthandler's "Timeout (...)!" report      timed out again after N s
    killed by a signal (negative return code)    crashed again: Segmentation fault
    exit 0                                       no longer crashes: <the child's verdict>
    "nnspec repro: ..." and exit 2               the same one-line error here (bad record, backend missing)

The child is killed from outside only if faulthandler could not end it (GRACE s later).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from .catalogue import CATALOGUE
from .repro import Found, Replay, _inputs_lines, examples_of

GRACE = 15  # seconds past the time limit before the parent kills a child faulthandler did not end
STACK_LINES = 12


def replay_in_child(found: Found, timeout: float) -> Replay:
    record = found.record
    argv = [sys.executable, "-X", "faulthandler", "-m", "nnspec.cli", "repro", record["id"], *found.source,
            "--in-process", "--timeout", f"{timeout:g}"]
    # The child imports what this process could (an adapter under development, module:Class, on sys.path).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + GRACE, env=env)
        returncode, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:  # faulthandler did not get to end it: killed from here
        returncode, stdout, stderr = None, _text(exc.stdout), _text(exc.stderr)

    body = []
    if returncode is None or stderr.lstrip().startswith("Timeout ("):
        now, outcome = "timeout", f"timed out again after {timeout:g} s"
        body = _stack(stderr)
    elif returncode < 0:
        now, outcome = "crashed", f"crashed again: {_signal(-returncode)}"
        body = _stack(stderr[stderr.find("Fatal Python error"):] if "Fatal Python error" in stderr else stderr)
    elif returncode == 0:
        verdict = re.search(r"^  now:\s+(\S+)", stdout, re.MULTILINE)
        now = verdict.group(1) if verdict else "unknown"
        outcome = f"no longer {'crashes' if record['status'] == 'crashed' else 'times out'}: {now}"
        body = stdout.splitlines()[_after_header(stdout):]
    else:
        error = [line for line in stderr.splitlines() if line.startswith("nnspec repro: ")]
        if returncode == 2 and error:
            raise ValueError(error[-1].removeprefix("nnspec repro: "))  # the child's one-line error, here
        now, outcome = "crashed", f"crashed again: exit code {returncode}"
        body = ["  last lines of its stderr:"] + [f"    {line}" for line in stderr.splitlines()[-STACK_LINES:]]

    lines = [record["id"],
             f"  recorded: {record['status']}" + (f"  ({record['message'][:200]})" if record.get("message") else ""),
             f"  now:      {now}  ({outcome}; replayed in a child process, time limit {timeout:g} s)"]
    lines += _input_lines(record)
    return Replay(record["id"], record["status"], now, lines + body)


def _input_lines(record: dict) -> list:
    examples = examples_of(record)
    if not examples:
        return ["  no input was recorded: the worker died before the engine handed one to the adapter"]
    example = examples[0]
    params = ", ".join(f"{k}={v!r}" for k, v in example.params.items())
    return [f"  the input being evaluated when the worker died: {record['op']}({params}) on {record['dtype']}",
            *_inputs_lines(CATALOGUE[record["op"]], example)]


def _after_header(stdout: str) -> int:
    """The child's own header (id, recorded, now) is replaced by the parent's: skip to its first blank line."""
    lines = stdout.splitlines()
    return next((i for i, line in enumerate(lines) if not line.strip()), len(lines))


def _stack(text: str) -> list:
    lines = [line for line in text.splitlines() if line.strip()][:STACK_LINES]
    return ["  where it was (faulthandler):"] + [f"    {line}" for line in lines] if lines else []


def _signal(number: int) -> str:
    try:
        return signal.strsignal(number) or signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _text(data) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data
