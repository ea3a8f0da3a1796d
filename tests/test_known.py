"""Known counterexamples: what an earlier run recorded is evaluated again before each case's search."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import wrong_adapters as W

from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.engine import Case, check_values, encode_example
from nnspec.conformance.known import MAX_KNOWN, known_examples
from nnspec.conformance.strategies import Example


def _results_with(tmp_path, examples, backend="torch", op="tanh", dtype="float32"):
    """A results directory holding one failing record of ``op`` with these counterexamples."""
    record = {"kind": "check", "id": f"{backend}/cpu/{dtype}/{op}/forward", "op": op, "backend": backend,
              "device": "cpu", "dtype": dtype, "check": "forward", "status": "fail", "run_id": "r",
              "counterexamples": [encode_example(e) for e in examples]}
    (tmp_path / f"{backend}-cpu-r.jsonl").write_text(json.dumps(record) + "\n")
    return tmp_path


def _forward(case):
    return {r["check"]: r for r in check_values(case)}["forward"]


def test_a_recorded_counterexample_finds_what_the_search_alone_misses(tmp_path):
    x = np.array([0.25, 0.8125, -3.0], np.float32)
    known = known_examples(_results_with(tmp_path, [Example([x], np.ones(3, np.float32))]), CATALOGUE["tanh"],
                           "float32", "wrong-at-one-point")
    assert len(known) == 1
    alone = _forward(Case(CATALOGUE["tanh"], W.WrongAtOnePoint(), "cpu", "float32", "quick", 0))
    replayed = _forward(Case(CATALOGUE["tanh"], W.WrongAtOnePoint(), "cpu", "float32", "quick", 0, known=known))
    assert alone["status"] == "pass"
    assert replayed["status"] == "fail"
    assert (0.8125).hex() in replayed["counterexamples"][0]["inputs"][0]["values"]


def test_only_examples_that_still_fit_are_replayed(tmp_path):
    fits = Example([np.array([1.0], np.float32)], np.ones(1, np.float32))
    other_dtype = Example([np.array([1.0], np.float64)], np.ones(1))
    unknown_param = Example([np.array([1.0], np.float32)], np.ones(1, np.float32), {"no_such": 1.0})
    path = _results_with(tmp_path, [fits, other_dtype, unknown_param, fits])  # the duplicate counts once
    assert len(known_examples(path, CATALOGUE["tanh"], "float32", "numpy")) == 1
    assert known_examples(path, CATALOGUE["sigmoid"], "float32", "numpy") == []  # another op's examples
    assert known_examples(None, CATALOGUE["tanh"], "float32", "numpy") == []


def test_at_most_max_known_per_case(tmp_path):
    many = [Example([np.array([float(i)], np.float32)], np.ones(1, np.float32)) for i in range(3 * MAX_KNOWN)]
    assert len(known_examples(_results_with(tmp_path, many), CATALOGUE["tanh"], "float32", "numpy")) == MAX_KNOWN


def test_run_replays_known_counterexamples_end_to_end(tmp_path):
    (tmp_path / "old").mkdir()
    known = _results_with(tmp_path / "old", [Example([np.array([0.8125], np.float32)], np.ones(1, np.float32))])
    out = tmp_path / "new"
    run = [sys.executable, "-m", "nnspec.cli", "run", "--backend", "wrong_adapters:WrongAtOnePoint", "--op", "tanh",
           "--dtype", "float32", "--budget", "quick", "--seed", "0", "--results", str(out), "--known", str(known)]
    proc = subprocess.run(run, capture_output=True, text=True, cwd=Path(__file__).parent)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for path in out.glob("*.jsonl") for line in path.read_text().splitlines()]
    forward = [r for r in lines if r.get("kind") == "check" and r["check"] == "forward"]
    assert [r["status"] for r in forward] == ["fail"]
    assert [r["known"] for r in lines if r.get("kind") == "environment"] == [str(known)]


def test_a_missing_known_source_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nnspec.cli", "run", "--backend", "numpy", "--op", "tanh",
                           "--results", str(tmp_path), "--known", str(tmp_path / "missing.json")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--known" in proc.stderr and "missing.json" in proc.stderr


def test_a_parameter_added_since_is_replayed_at_its_spec_default():
    """sgd gained weight_decay after reports recorded its counterexamples without it: they replay with λ = 0
    (what they measured), the learning rate staying an input."""
    from nnspec.conformance.known import _fitting

    old = Example([np.array([1.0, 2.0]), np.array([[0.5, -0.5]]), np.array([0.1])], None, {})
    example = _fitting(CATALOGUE["sgd"], "float64", encode_example(old))
    assert example is not None and example.params == {"weight_decay": 0.0}
    assert len(example.inputs) == 3
