"""`nnspec repro` against the deliberately wrong adapters: every failure they produce replays as the same failure.

Each wrong adapter is measured on one op (quick budget, float64) the way a run measures it
(every checker of the op's row, records into a results directory), then every record it
got `fail` or `error` on is replayed: the verdict now must be the recorded failure, for
every kind of check (forward, gradient, property, trajectory, schedule, layout, defaults).
Cases whose worker died (`timeout`, `crashed`) replay in a child process.
"""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest

from nnspec.backends import load_backend
from nnspec.cli import main
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.checkers import CHECKERS
from nnspec.conformance.engine import Case, decode_example, encode_example
from nnspec.conformance.repro import replay, repro_command
from nnspec.conformance.results import ResultsWriter, read_report_file, read_results
from nnspec.conformance.strategies import Example
from nnspec.report.status import record_id

STARTED = "2026-01-01T00:00:00+00:00"


def measure(results, reference, op, dtype="float64", seed=0, run_id="r1", started=STARTED):
    """Every check of ``op``'s row on the adapter ``reference``, written as one run of `nnspec run` writes it."""
    backend = load_backend(reference)
    entry = CATALOGUE[op]
    records = []
    for check in entry.checks:
        case_dtype = dtype if CHECKERS[check].per_dtype else "-"
        records += CHECKERS[check].run(Case(entry, backend, "cpu", case_dtype, "quick", seed))
    for record in records:
        record["run_id"] = run_id
    environment = {"kind": "environment", "run_id": run_id, "started": started, "backend": backend.name,
                   "backend_ref": reference, "device": "cpu", "budget": "quick", "seed": seed}
    with ResultsWriter(results / f"{backend.name}-cpu-{run_id}.jsonl") as writer:
        writer.write_many([environment, *records])
    return [r for r in records if r["kind"] == "check"]


# one op per wrong adapter kind; each must fail somewhere, or the test proves nothing
WRONG = [
    ("wrong_adapters:WrongSlope", "leaky_relu"),  # forward
    ("wrong_adapters:WrongSigmoidGradient", "sigmoid"),  # gradient
    ("wrong_adapters:UnnormalisedSoftmax", "softmax"),  # property
    ("wrong_adapters:Raises", "tanh"),  # error
    ("wrong_adapters:WrongShape", "relu"),
    ("wrong_adapters:DifferentDefault", "leaky_relu"),  # defaults
    ("wrong_losses:SwappedHuber", "huber"),
    ("wrong_losses:PerRowMse", "mse"),
    ("wrong_optimizers:AdamWithoutBiasCorrection", "adam"),  # trajectory
    ("wrong_optimizers:RaisingNadam", "nadam"),  # trajectory error
    ("wrong_optimizers:StepDecayOffByOne", "step_decay"),  # schedule
    ("wrong_optimizers:ClipNormWithEps", "clip_by_norm"),
    ("wrong_recurrent:SwappedGates", "lstm_cell"),  # layout (torch)
    ("wrong_recurrent:KernelNotTransposedBack", "rnn_cell"),  # layout (keras)
    ("wrong_recurrent:AlwaysResetAfter", "gru"),
    ("wrong_attention:ScaleByDk", "scaled_dot_product_attention"),
    ("wrong_attention:EpsilonOutsideSqrt", "layer_norm"),
    ("wrong_attention:HalfSplitRotary", "rotary_embedding"),  # two inputs, the positions among them
    ("wrong_attention:RmsEpsilonOutsideSqrt", "rms_norm"),
    ("wrong_embedding:OverwritingGradient", "embedding"),  # a gradient with integer inputs beside the table
    ("wrong_embedding:WrapsAndFillsNan", "embedding"),  # out_of_range
]
NEEDS = {"wrong_recurrent": ("torch", "tensorflow")}


@pytest.mark.parametrize("reference, op", WRONG, ids=[f"{r.split(':')[1]}-{op}" for r, op in WRONG])
def test_every_failure_of_a_wrong_adapter_replays_as_the_same_failure(tmp_path, reference, op):
    for module in NEEDS.get(reference.split(":")[0], ()):
        pytest.importorskip(module)
    failing = [r for r in measure(tmp_path, reference, op) if r["status"] in ("fail", "error")]
    assert failing, f"{reference} no longer fails {op}: the test would prove nothing"
    for record in failing:
        again = replay(record["id"], results=tmp_path)
        assert (again.recorded, again.now) == (record["status"], record["status"]), again.text()
        text = again.text()
        assert f"now:      {record['status']}" in text
        if record["check"] == "trajectory" and record["status"] == "fail":
            assert f"step {record['first_failing_step']} (the first failing step)" in text
            assert "spec after" in text and "backend after" in text
        elif record["check"] == "schedule":
            assert "spec lr" in text and "backend lr" in text
        elif record["check"] == "layout":
            assert "weights spec -> native -> spec" in text and record["message"] in text
        elif record["check"] == "defaults":
            assert "<- differs" in text
        elif record["status"] == "fail":
            assert "spec " in text and "backend " in text  # the side-by-side table


def test_the_cli_replays_a_failure_and_its_recorded_command_pastes_as_is(tmp_path, capsys):
    results = tmp_path / "my results"  # a space: the command must be quoted
    results.mkdir()
    (forward, *_) = measure(results, "wrong_adapters:WrongSlope", "leaky_relu")
    command = repro_command(forward["id"], results=results)
    assert shlex.split(command) == ["nnspec", "repro", forward["id"], "--results", str(results)]
    assert main(shlex.split(command)[1:]) == 0
    out = capsys.readouterr().out
    assert "recorded: fail" in out and "now:      fail" in out
    assert "spec value" in out and "backend value" in out
    x = float(decode_example(forward["counterexamples"][0]).inputs[0])
    assert repr(x) in out and repr(0.01 * x) in out  # the input and the spec's value, exactly


def test_repro_command_quotes_and_prefers_the_report():
    assert repro_command("a/b") == "nnspec repro a/b"
    quoted = repro_command("a b/c", results="r", report="reports/x y.json")
    assert quoted == "nnspec repro 'a b/c' --report 'reports/x y.json'"


def test_the_newest_record_of_an_id_wins(tmp_path):
    measure(tmp_path, "wrong_adapters:WrongSlope", "leaky_relu", run_id="old", started="2026-01-01T00:00:00+00:00")
    measure(tmp_path, "numpy", "leaky_relu", run_id="new", started="2026-02-01T00:00:00+00:00")
    # The newer run measured the same case with a fixed adapter: its record (a pass, nothing to replay) wins.
    record = {"kind": "check", "id": "wrong-slope/cpu/float64/leaky_relu/forward", "op": "leaky_relu",
              "backend": "wrong-slope", "device": "cpu", "dtype": "float64", "check": "forward", "status": "pass",
              "run_id": "new", "counterexample": None, "message": ""}
    with ResultsWriter(tmp_path / "wrong-slope-cpu-new.jsonl") as writer:
        writer.write({"kind": "environment", "run_id": "new", "started": "2026-02-01T00:00:00+00:00",
                      "backend": "wrong-slope", "device": "cpu"})
        writer.write(record)
    again = replay(record["id"], results=tmp_path)
    assert again.recorded == "pass" and "nothing to replay" in again.text()


# from a committed report ---------------------------------------------------------------------


def test_a_record_replays_from_a_report_as_from_the_results(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    records = measure(results, "wrong_optimizers:AdamWithoutBiasCorrection", "adam")
    (environment,) = [r for r in read_results(results) if r["kind"] == "environment"]
    report = tmp_path / "conformance.json"
    report.write_text(json.dumps({"runs": [environment], "records": records}))
    (trajectory,) = [r for r in records if r["check"] == "trajectory"]
    from_report = replay(trajectory["id"], report=report)
    assert from_report.now == "fail" and from_report.lines == replay(trajectory["id"], results=results).lines


def test_the_committed_report_replays_on_this_checkout():
    """The promise of `nnspec repro ID --report reports/conformance.json` on a fresh clone: the committed
    report's failures of the NumPy baseline (its run entries name no module:Class, so the record's backend
    name is loaded) replay as the same failures, with the same NumPy."""
    from pathlib import Path

    report = Path(__file__).parents[1] / "reports" / "conformance.json"
    records = read_report_file(report)["records"]  # in full, whichever schema the committed report has
    failing = [r for r in records if r["backend"] == "numpy" and r["status"] in ("fail", "error")
               and r["backend_version"] == np.__version__ and not r.get("counterexample_capped")]
    if not failing:
        pytest.skip(f"the committed report has no failure of numpy {np.__version__}")
    for record in failing:
        again = replay(record_id(record), report=report)
        assert again.now == record["status"], again.text()


def test_a_record_replays_from_the_status_file_nnspec_report_writes(tmp_path):
    """conformance.json (schema 3) keeps no run ids: the backend and the case's seed come from its environments."""
    from nnspec.report import build_report

    results = tmp_path / "results"
    results.mkdir()
    records = measure(results, "wrong_adapters:WrongSlope", "leaky_relu")
    build_report(results, tmp_path / "reports")
    report = tmp_path / "reports" / "conformance.json"
    failing = [r for r in records if r["status"] == "fail"]
    commands = [e["repro"] for e in read_report_file(report)["records"] if e.get("repro")]
    assert failing and commands and all(f"--report {report}" in command for command in commands)
    for record in failing:
        from_report = replay(record["id"], report=report)
        assert (from_report.now, from_report.lines) == ("fail", replay(record["id"], results=results).lines)


# cases whose worker died ---------------------------------------------------------------------


def died(results, reference, op, status, example, check="forward"):
    """A record as the run's controller writes it when a worker dies evaluating ``example``."""
    name = reference.split(":")[-1].lower()
    with ResultsWriter(results / f"{name}-cpu-dead.jsonl") as writer:
        writer.write({"kind": "environment", "run_id": "dead", "started": STARTED, "backend": name,
                      "backend_ref": reference, "device": "cpu"})
        writer.write({"kind": "check", "id": f"{name}/cpu/float64/{op}/{check}", "op": op, "backend": name,
                      "device": "cpu", "dtype": "float64", "check": check, "status": status, "run_id": "dead",
                      "message": "the worker died",
                      "counterexample": None if example is None else encode_example(example)})
    return f"{name}/cpu/float64/{op}/{check}"


X = Example([np.array([0.5, -2.0])], np.array([1.0, 1.0]), {})


@pytest.mark.parametrize("adapter, op, status, outcome", [
    ("Hangs", "tanh", "timeout", "timed out again after 3 s"),
    ("Segfaults", "sigmoid", "crashed", "crashed again: Segmentation fault"),
    ("Aborts", "relu", "crashed", "crashed again: Aborted"),
])
def test_a_case_that_killed_its_worker_kills_the_replay_child_not_repro(tmp_path, capsys, adapter, op, status, outcome):
    record_id = died(tmp_path, f"broken_adapters:{adapter}", op, status, X)
    assert main(["repro", record_id, "--results", str(tmp_path), "--timeout", "3"]) == 0
    out = capsys.readouterr().out
    assert f"now:      {status}" in out and outcome in out, out
    assert "x: float64[2] [0.5, -2]" in out  # the input that kills it
    assert "broken_adapters.py" in out and f"in {op}" in out  # faulthandler's stack: where it was


def test_the_crashed_records_of_a_real_run_replay_as_crashes(tmp_path, capsys):
    """End to end: `nnspec run` records the segfaulting op as crashed, with its input; each replays as a crash."""
    assert main(["run", "--backend", "broken_adapters:Segfaults", "--op", "sigmoid", "--dtype", "float64",
                 "--budget", "quick", "--results", str(tmp_path), "--seed", "1"]) == 0
    crashed = [r for r in read_results(tmp_path) if r["kind"] == "check" and r["status"] == "crashed"]
    assert {r["check"] for r in crashed} == {"forward", "gradient", "property"}
    for record in crashed:
        again = replay(record["id"], results=tmp_path, timeout=20)
        assert again.now == "crashed" and "crashed again: Segmentation fault" in again.text(), again.text()


def test_a_crash_that_no_longer_happens_says_so_with_the_verdict(tmp_path):
    again = replay(died(tmp_path, "numpy", "tanh", "crashed", X), results=tmp_path)
    assert (again.recorded, again.now) == ("crashed", "pass")
    assert "no longer crashes: pass" in again.text() and "spec value" in again.text()


def test_a_crash_without_a_recorded_input_reruns_the_whole_case(tmp_path):
    again = replay(died(tmp_path, "broken_adapters:Segfaults", "sigmoid", "crashed", None), results=tmp_path,
                   timeout=20)
    assert again.now == "crashed" and "no input was recorded" in again.text()


# errors: one line, exit 2 --------------------------------------------------------------------


def test_bad_requests_are_one_clear_line(tmp_path, capsys):
    measure(tmp_path, "wrong_adapters:WrongSlope", "leaky_relu")
    rid = "wrong-slope/cpu/float64/leaky_relu/forward"
    with ResultsWriter(tmp_path / "broken-cpu-x.jsonl") as writer:
        writer.write({"kind": "environment", "run_id": "x", "started": STARTED, "backend": "gone",
                      "backend_ref": "no_such_adapter_module:Gone", "device": "cpu"})
        writer.write({"kind": "check", "id": "gone/cpu/float64/relu/forward", "op": "relu", "backend": "gone",
                      "device": "cpu", "dtype": "float64", "check": "forward", "status": "fail", "run_id": "x",
                      "counterexample": encode_example(X)})
        writer.write({"kind": "check", "id": "gone/cpu/float64/no_op/forward", "op": "no_op", "backend": "gone",
                      "device": "cpu", "dtype": "float64", "check": "forward", "status": "fail", "run_id": "x"})
        writer.write({"kind": "check", "id": "gone/cpu/float64/tanh/forward", "op": "tanh", "backend": "gone",
                      "device": "cpu", "dtype": "float64", "check": "forward", "status": "fail", "run_id": "x",
                      "counterexample": {"inputs": [{"dtype": "float64", "values": "zz"}]}})
    (tmp_path / "report.json").write_text("{not json")
    (tmp_path / "odd.json").write_text(json.dumps({"runs": [], "records": [{"id": "a/b/c/d/e", "status": "fail"}]}))
    cases = {
        ("no/such/record/id/x", "--results", str(tmp_path)): "no record 'no/such/record/id/x'",
        (rid, "--results", str(tmp_path / "missing")): "no results directory",
        (rid, "--report", str(tmp_path / "missing.json")): "no report at",
        (rid, "--report", str(tmp_path / "report.json")): "is not a conformance.json report",
        ("gone/cpu/float64/relu/forward", "--results", str(tmp_path)): "no_such_adapter_module",
        ("gone/cpu/float64/no_op/forward", "--results", str(tmp_path)): "catalogue lacks",
        ("a/b/c/d/e", "--report", str(tmp_path / "odd.json")): "malformed: no op, backend, device, dtype, check",
        ("gone/cpu/float64/tanh/forward", "--results", str(tmp_path)): "malformed counterexample",
    }
    for argv, message in cases.items():
        assert main(["repro", *argv]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("nnspec repro: ") and message in err[-1], (argv, err)
        assert not any("Traceback" in line for line in err)
