"""The pytest11 entry point (nnspec.pytest_plugin): a framework's own test suite runs the conformance of
its backend and fails on deviations not in its reviewed list, while the results record every one; without
--nnspec-backend it adds nothing to the session.

Each session is a subprocess loading the plugin with ``-p nnspec.pytest_plugin`` after any other ``-p``, as
pytest loads an installed entry point, so the test does not depend on nnspec's installation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnspec.backends import DTYPES
from nnspec.conformance import options
from nnspec.conformance.search import BUDGETS

ROOT = Path(__file__).resolve().parents[1]
CASE = ["--nnspec-op", "leaky_relu", "--nnspec-dtype", "float64", "--nnspec-budget", "quick"]


@pytest.fixture
def framework(tmp_path):
    """A framework's own test suite: one test of its own, which also says whether nnspec's run was loaded."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_own.py").write_text(
        "import sys\n\n"
        "def test_own():\n"
        "    print('conformance loaded:', 'nnspec.conformance.plugin' in sys.modules)\n")
    return tmp_path


def pytest_session(directory, *args, before=()):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
           "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    return subprocess.run([sys.executable, "-m", "pytest", "-rA", "-s", "-p", "no:cacheprovider", *before,
                           "-p", "nnspec.pytest_plugin", *args], cwd=directory, env=env, capture_output=True,
                          text=True, timeout=600)


def records(results: Path) -> list[dict]:
    lines = [json.loads(line) for path in results.glob("*.jsonl") for line in path.read_text().splitlines()]
    return [line for line in lines if line.get("kind") == "check"]


def test_without_a_backend_the_session_is_the_framework_s_own(framework):
    done = pytest_session(framework)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout and "test_conformance" not in done.stdout
    assert "conformance loaded: False" in done.stdout  # nothing heavy imported, nothing collected
    assert not (framework / "results").exists()


def test_a_good_adapter_passes_in_the_framework_s_own_session(framework):
    done = pytest_session(framework, "--nnspec-backend", "nnspec.backends.numpy:NumpyBackend", *CASE,
                          "--nnspec-results", str(framework / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED test_own.py::test_own" in done.stdout
    assert "test_conformance[leaky_relu-values-float64]" in done.stdout
    assert {r["status"] for r in records(framework / "out") if r["check"] == "forward"} == {"pass"}


def test_a_wrong_adapter_fails_unless_its_deviations_are_allowed_and_is_recorded_either_way(framework):
    backend = ["--nnspec-backend", "wrong_adapters:WrongSlope", *CASE]
    done = pytest_session(framework, *backend, "--nnspec-results", str(framework / "failing"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout and "test_conformance[leaky_relu-values-float64]" in done.stdout
    failing = records(framework / "failing")
    assert {r["status"] for r in failing if r["check"] == "forward"} == {"fail"}

    allow = framework / "reviewed.txt"
    allow.write_text("# reviewed: the slope is ours\nleaky_relu/float64/forward\n")
    partly = pytest_session(framework, *backend, "--nnspec-allow", str(allow), "--nnspec-results",
                            str(framework / "partly"))
    gradient_fails = any(r["check"] == "gradient" and r["status"] == "fail" for r in failing)
    assert partly.returncode == (1 if gradient_fails else 0), partly.stdout  # only the listed check is allowed

    allow.write_text("wrong-slope/cpu/float64/leaky_relu/*  # every check of the case, by record id\n")
    allowed = pytest_session(framework, *backend, "--nnspec-allow", str(allow), "--nnspec-results",
                             str(framework / "allowed"))
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "XFAIL" in allowed.stdout and "allowed by --nnspec-allow" in allowed.stdout
    assert {r["status"] for r in records(framework / "allowed") if r["check"] == "forward"} == {"fail"}


def test_it_stands_aside_for_the_plugins_that_own_the_nnspec_options(framework):
    """nnspec run loads the conformance plugin itself, the benchmarks their own: no option is added twice."""
    for plugin in ("nnspec.conformance.plugin", "nnspec.benchmarks.plugin"):
        done = pytest_session(framework, "--help", before=["-p", plugin])
        assert done.returncode == 0, done.stderr
        assert done.stdout.count("--nnspec-backend") == 1


def test_the_options_offer_every_dtype_and_budget():
    assert options.DTYPE_NAMES == tuple(DTYPES) and options.BUDGET_NAMES == tuple(BUDGETS)
