"""Benchmarks: how fast each framework runs the spec's ops, through the adapter and without it.

suite.py    the pytest-benchmark suite: op × size × mode (eager, compiled, native) and memcpy
plugin.py   its pytest plugin: --nnspec-* options, fixtures, the parametrization, the JSON's
            ``nnspec`` section (environment, skipped benchmarks with their reasons)
native.py   per built-in backend: the framework's own callable for each op, its memcpy

``run_benchmarks`` runs the suite in-process with pytest, isolated from any project
configuration (no ini file, no conftest.py, no cache), and writes
``<results_dir>/bench-<backend>-<device>.json`` in pytest-benchmark's format; each
benchmark's ``extra_info`` holds op, family, backend, backend_version, device,
dtype, elements, bytes (input + output), mode (and compile_seconds when compiled).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

SUITE = Path(__file__).with_name("suite.py")
PLUGIN = "nnspec.benchmarks.plugin"
QUICK_SIZES = "1000,1000000"
QUICK_TIMING = ("--benchmark-min-rounds=3", "--benchmark-max-time=0.05", "--benchmark-warmup=off")


def results_file(results_dir: Path | str, backend: str, device: str) -> Path:
    """``bench-<backend>-<device>.json``; a ``module:Class`` backend is made file-name safe."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{backend}-{device}")
    return Path(results_dir) / f"bench-{safe}.json"


def pytest_args(
    backend: str, device: str, results_dir: Path | str, quick: bool = False, extra_args: Sequence[str] = ()
) -> list[str]:
    """The pytest command line ``run_benchmarks`` runs (later arguments override earlier ones)."""
    args = [
        str(SUITE),
        "-p", PLUGIN,
        "--nnspec-backend", backend,
        "--nnspec-device", device,
        f"--benchmark-json={results_file(results_dir, backend, device)}",
        "-q",
        "-p", "no:cacheprovider",
        # Isolation from the caller's project: an empty config file (no [pytest] addopts,
        # markers or filters), the package as rootdir, and no conftest.py from any ancestor.
        "-c", os.devnull,
        "--rootdir", str(SUITE.parent),
        "--noconftest",
        "-rs",
        # When every benchmark was skipped the plugin writes the JSON itself (with the reasons).
        "-W", "ignore:Not saving anything, no benchmarks have been run",
    ]  # fmt: skip
    if quick:
        args += ["--nnspec-quick", f"--nnspec-sizes={QUICK_SIZES}", *QUICK_TIMING]
    return args + [str(a) for a in extra_args]


def run_benchmarks(
    backend: str, device: str, results_dir, quick: bool = False, extra_args: Sequence[str] = ()
) -> int:
    """Runs the benchmark suite for one backend and device; returns pytest's exit code.

    ``quick`` shortens timing (3 rounds minimum, 0.05 s per benchmark, no warm-up),
    benchmarks 1e3 and 1e6 elements only and skips compiled mode for slow compilers
    (torch.compile). ``extra_args`` are appended to the pytest command line
    (``["-k", "relu"]``, ``["--nnspec-modes", "eager,native"]``...).
    """
    import pytest

    Path(results_dir).mkdir(parents=True, exist_ok=True)
    # Called from inside an xdist worker (the project's tests under -n), the worker's variable would tell
    # pytest-benchmark that this separate session is distributed too, and it would time nothing.
    worker = os.environ.pop("PYTEST_XDIST_WORKER", None)
    try:
        return int(pytest.main(pytest_args(backend, device, results_dir, quick, extra_args)))
    finally:
        if worker is not None:
            os.environ["PYTEST_XDIST_WORKER"] = worker
