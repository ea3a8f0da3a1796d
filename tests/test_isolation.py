"""Runs survive any adapter: hangs, crashes, bad returns, kill -9 and resume, reruns of one op.

These run `nnspec run` for real (pytest-xdist workers), on the adapters in broken_adapters.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from broken_adapters import BROKEN_OP, EVERYWHERE
from nnspec.cli import main
from nnspec.conformance.catalogue import select

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(600)


def records(directory) -> list[dict]:
    lines = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return lines


def checks(directory) -> dict[str, dict]:
    return {r["id"].split("/", 1)[1]: r for r in records(directory) if r["kind"] == "check"}


def nnspec_run(*args, results, **kwargs):
    return main(["run", "--budget", "quick", "--dtype", "float32", "--seed", "7", "--results", str(results),
                 "--case-timeout", "4", *args])


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The NumPy baseline on the activations family, at the seed every run below uses."""
    results = tmp_path_factory.mktemp("baseline")
    assert nnspec_run("--backend", "numpy", "--family", "activations", results=results) == 0
    return checks(results)


def test_every_other_op_is_measured_exactly_as_for_the_baseline(tmp_path, baseline):
    """A hang, a segfault, an abort and a None in one run: each recorded, the rest as for NumPy."""
    started = time.perf_counter()
    assert nnspec_run("--backend", "broken_adapters:BrokenEverywhere", "--family", "activations",
                      results=tmp_path) == 0
    assert time.perf_counter() - started < 300
    got = checks(tmp_path)
    assert set(got) == set(baseline)  # every case recorded, none lost to the crashes
    for key, record in got.items():
        op = key.split("/")[2]
        if op in EVERYWHERE:
            if key.endswith("/forward"):
                assert record["status"] == EVERYWHERE[op], (key, record["message"])
                assert record["counterexamples"], key  # the input that killed it
            continue
        expected = baseline[key]
        assert (record["status"], record["max_ulp"], record["examples"], record["counterexamples"]) == (
            expected["status"], expected["max_ulp"], expected["examples"], expected["counterexamples"]), key
    crashed = got["cpu/float32/sigmoid/forward"]
    assert "Segmentation fault" in crashed["message"] and crashed["repro"].startswith("nnspec repro ")
    assert "Aborted" in got["cpu/float32/relu/forward"]["message"]
    assert "time limit of 4 s" in got["cpu/float32/tanh/forward"]["message"]
    assert [r for r in records(tmp_path) if r["kind"] == "finished"]


@pytest.mark.parametrize("name", sorted(BROKEN_OP))
def test_each_broken_adapter_gets_its_status_with_the_input(tmp_path, name):
    op, status = BROKEN_OP[name]
    assert nnspec_run("--backend", f"broken_adapters:{name}", "--op", op, "--case-memory", "2G",
                      results=tmp_path) == 0
    forward = checks(tmp_path)[f"cpu/float32/{op}/forward"]
    assert forward["status"] == status, forward["message"]
    assert forward["counterexamples"]
    if name == "AllocatesWithoutBound":
        assert "MemoryError" in forward["message"]


def test_a_killed_run_resumes_and_measures_every_case_once(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-m", "nnspec.cli", "run", "--backend", "numpy", "--family", "activations",
            "--budget", "quick", "--dtype", "float32", "--dtype", "float64", "--seed", "5", "--results", str(tmp_path)]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and sum(r["kind"] == "check" for r in _quiet_records(tmp_path)) < 6:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the controller and its workers, mid-run
    process.wait()
    before = [r for r in records(tmp_path) if r["kind"] == "check"]
    assert before and not [r for r in records(tmp_path) if r["kind"] == "finished"]
    resumed = subprocess.run([*argv[:6], "--resume", "--results", str(tmp_path)], env=env, capture_output=True,
                             text=True)
    assert resumed.returncode == 0, resumed.stderr
    lines = records(tmp_path)
    counts = Counter(r["id"] for r in lines if r["kind"] == "check")
    assert set(counts.values()) == {1}  # every case measured exactly once
    assert len({r["run_id"] for r in lines}) == 1 and [r["kind"] for r in lines].count("finished") == 1
    assert {r["case"] for r in before} <= {r["case"] for r in lines if r["kind"] == "check"}
    measured = {(k.split("/")[2], k.split("/")[3]) for k in counts if k.split("/")[2] != "-"}
    assert len(measured) == 2 * len(select("activations"))  # every op x 2 dtypes, none lost to the kill


def _quiet_records(directory):
    try:
        return [json.loads(line) for path in Path(directory).glob("*.jsonl")
                for line in path.read_text().splitlines() if line.strip().endswith("}")]
    except (OSError, ValueError):
        return []


def test_rerunning_one_op_keeps_every_other_record(tmp_path):
    assert nnspec_run("--backend", "numpy", "--family", "activations", results=tmp_path) == 0
    first = checks(tmp_path)
    assert nnspec_run("--backend", "numpy", "--op", "gelu", results=tmp_path) == 0
    lines = records(tmp_path)
    assert len([r for r in lines if r["kind"] == "environment"]) == 2
    assert {r["id"].split("/", 1)[1] for r in lines if r["kind"] == "check"} == set(first)
    assert all(first[k] in lines for k in first)  # the first run's records are all still there


@pytest.mark.parametrize("reference, says", [
    ("broken_import:Anything", "failed at import: RuntimeError: CUDA driver version"),
    ("broken_syntax:Broken", "has a syntax error"),
    ("broken_adapters:NoSuchClass", "has no class 'NoSuchClass'"),
    ("no_such_module:Backend", "no module named 'no_such_module'"),
    ("broken_adapters", "unknown backend"),
])
def test_a_bad_adapter_is_one_line_and_exit_2(tmp_path, capsys, reference, says):
    assert main(["run", "--backend", reference, "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and "pip install" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args, says", [
    (["--results", "{file}"], "is not a directory"),
    (["--shard", "3/2"], "--shard takes K/N"),
    (["--case-timeout", "0"], "--case-timeout must be a positive"),
    (["--case-memory", "lots"], "not a memory size"),
    (["--resume"], "no unfinished run"),
    (["--resume", "--op", "gelu"], "--resume continues a run with its own options"),
])
def test_bad_options_are_one_line_and_exit_2(tmp_path, capsys, args, says):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    args = [a.format(file=a_file) for a in args]
    if "--results" not in args:
        args += ["--results", str(tmp_path / "results")]
    assert main(["run", "--backend", "numpy", *args]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and "INTERNALERROR" not in err


def test_a_backend_name_cannot_write_outside_the_results_directory(tmp_path):
    from nnspec.conformance.results import run_path

    path = run_path(tmp_path, "../../etc/evil/name", "cpu", "abc")
    assert path.parent == tmp_path and "/" not in path.name
