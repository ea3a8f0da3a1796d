"""The engine against deliberately wrong adapters: each must come out with the right status."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import wrong_adapters as W

from nnspec.backends import BackendUnavailable, load_backend, unsupported
from nnspec.backends.numpy import NumpyBackend
from nnspec.cli import main
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.engine import Case, check_defaults, check_values, decode_example
from nnspec.conformance.results import read_lines
from nnspec.spec import activations as A


def run(backend, op, dtype="float64", budget="standard", seed=0):
    records = check_values(Case(CATALOGUE[op], backend, "cpu", dtype, budget, seed))
    return {r["check"]: r for r in records}


def test_baseline_passes_what_the_wrong_adapters_break():
    """The control: the unmodified baseline passes every check the wrong adapters below fail."""
    for op in ("leaky_relu", "gelu", "softmax", "tanh", "sigmoid", "relu"):
        for check, record in run(NumpyBackend(), op).items():
            assert record["status"] == "pass", (op, record)


def test_wrong_slope_fails_without_a_variant():
    forward = run(W.WrongSlope(), "leaky_relu")["forward"]
    assert forward["status"] == "fail"
    assert forward["matches_variant"] is None
    assert forward["counterexamples"] and forward["repro"].startswith("nnspec repro wrong-slope/")


def test_silent_tanh_gelu_is_matched_to_its_variant():
    records = run(W.SilentTanhGelu(), "gelu")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == "gelu(approximate='tanh')"
    assert records["gradient"]["matches_variant"] == "gelu(approximate='tanh')"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_without_max_subtraction_fails_on_large_inputs(dtype):
    forward = run(W.NaiveSoftmax(), "softmax", dtype)["forward"]
    assert forward["status"] == "fail"
    example = decode_example(forward["counterexamples"][0])
    assert np.max(np.abs(example.inputs[0].astype(np.float64))) > 80  # exp overflows only there


def test_an_adapter_that_raises_is_an_error_and_the_run_goes_on():
    records = run(W.Raises(), "tanh")
    assert records["forward"]["status"] == "error"
    assert "kernel not implemented" in records["forward"]["message"]
    assert run(W.Raises(), "sigmoid")["forward"]["status"] == "pass"


def test_nan_where_the_spec_is_finite_fails():
    forward = run(W.ReturnsNan(), "sigmoid")["forward"]
    assert forward["status"] == "fail"
    assert "nan where the spec is finite" in forward["message"]


def test_wrong_shape_fails():
    forward = run(W.WrongShape(), "relu")["forward"]
    assert forward["status"] == "fail" and "shape" in forward["message"]


def test_right_derivative_at_the_kink_is_matched():
    records = run(W.RightKink(), "relu")
    assert records["forward"]["status"] == "pass"
    assert records["gradient"]["status"] == "fail"
    assert records["gradient"]["matches_variant"] == "relu(kink='right')"


def test_a_kink_away_from_zero_is_drawn_and_its_convention_named():
    """relu6's kink at 6 is drawn exactly (the row's ``kinks``), so a convention differing only there shows."""
    records = run(W.LeftKinkRelu6(), "relu6")
    assert records["forward"]["status"] == "pass"
    assert records["gradient"]["status"] == "fail"
    assert records["gradient"]["matches_variant"] == "relu6(kink='left')"
    assert run(NumpyBackend(), "relu6")["gradient"]["status"] == "pass"


def test_keras2_hard_sigmoid_fails_without_a_variant():
    forward = run(W.Keras2HardSigmoid(), "hard_sigmoid")["forward"]
    assert forward["status"] == "fail" and forward["matches_variant"] is None
    assert run(NumpyBackend(), "hard_sigmoid")["forward"]["status"] == "pass"


def test_a_slope_gradient_averaged_instead_of_summed_fails():
    records = run(W.MeanSlopePrelu(), "prelu")
    assert records["forward"]["status"] == "pass"
    assert records["gradient"]["status"] == "fail" and records["gradient"]["matches_variant"] is None
    assert run(NumpyBackend(), "prelu")["gradient"]["status"] == "pass"


def test_wrong_gradient_fails():
    records = run(W.WrongSigmoidGradient(), "sigmoid")
    assert records["forward"]["status"] == "pass"
    assert records["gradient"]["status"] == "fail" and records["gradient"]["matches_variant"] is None


def test_property_catches_rows_not_summing_to_one():
    assert run(W.UnnormalisedSoftmax(), "softmax")["property"]["status"] == "fail"


def test_worst_error_is_recorded_even_when_passing():
    forward = run(NumpyBackend(), "sigmoid", "float32")["forward"]
    assert forward["status"] == "pass" and forward["examples"] > 0
    assert 0 < forward["max_ulp"] <= forward["tolerance"]


def test_defaults_differing_from_the_spec_fail_and_are_listed():
    summary, *entries = check_defaults(Case(CATALOGUE["leaky_relu"], W.DifferentDefault(), "cpu", "-"))
    assert summary["status"] == "fail"
    assert entries == [entries[0]] and entries[0]["native_default"] == 0.2 and entries[0]["spec_default"] == 0.01
    summary, *_ = check_defaults(Case(CATALOGUE["leaky_relu"], NumpyBackend(), "cpu", "-"))
    assert summary["status"] == "unsupported"  # the baseline has no native defaults: not a pass


def test_unsupported_dtype_is_reported_as_such():
    records = run(W.NoFloat16(), "relu", "float16")
    assert {r["status"] for r in records.values()} == {"unsupported"}


class Counting(NumpyBackend):
    """The baseline, counting what reaches it: every example converted and every op evaluated."""

    name = "counting"

    def __init__(self):
        self.evaluated = []

    def evaluate(self, op, inputs, params, cotangent=None, wrt=()):
        self.evaluated.append(dict(params))
        return super().evaluate(op, inputs, params, cotangent, wrt)


class GeluDeclaredUnsupported(Counting):
    name = "gelu-declared-unsupported"
    UNSUPPORTED = {"gelu": "this framework has no gelu", "relu": unsupported("no bfloat16 relu", dtypes={"bfloat16"})}


class TanhGeluDeclaredUnsupported(Counting):
    name = "tanh-gelu-declared-unsupported"
    UNSUPPORTED = {"gelu": unsupported("only the exact gelu", approximate="tanh"),
                   "leaky_relu": unsupported("no slope at all", alpha=lambda alpha: True)}


def test_an_op_declared_unsupported_is_recorded_without_a_search(monkeypatch):
    """What a backend declares unsupported as a whole costs no search: not one example is drawn."""
    from nnspec.conformance import search

    monkeypatch.setattr(search, "run", lambda *a, **k: pytest.fail("the search was entered"))
    backend = GeluDeclaredUnsupported()
    for dtype in ("float64", "float16"):
        records = run(backend, "gelu", dtype)
        assert {r["status"] for r in records.values()} == {"unsupported"}
        assert {r["message"] for r in records.values()} == {"this framework has no gelu"}
    records = run(backend, "relu", "bfloat16")
    assert {(r["status"], r["message"]) for r in records.values()} == {("unsupported", "no bfloat16 relu")}
    summary, *_ = check_defaults(Case(CATALOGUE["gelu"], backend, "cpu", "-"))
    assert (summary["status"], summary["message"]) == ("unsupported", "this framework has no gelu")
    assert backend.evaluated == []


def test_an_op_declared_unsupported_at_one_dtype_is_measured_at_the_others():
    backend = GeluDeclaredUnsupported()
    assert {r["status"] for r in run(backend, "relu", "float32", budget="quick").values()} == {"pass"}
    assert backend.evaluated


def test_a_parameter_value_declared_unsupported_is_never_drawn_to_the_adapter():
    backend = TanhGeluDeclaredUnsupported()
    records = run(backend, "gelu", budget="quick")
    assert {r["status"] for r in records.values()} == {"pass"}
    assert all("declared unsupported: only the exact gelu" in r["message"] for r in records.values())
    assert backend.evaluated and {p["approximate"] for p in backend.evaluated} == {"none"}


def test_a_case_whose_every_parameter_value_is_declared_unsupported_is_unsupported():
    backend = TanhGeluDeclaredUnsupported()
    records = run(backend, "leaky_relu", budget="quick")
    assert {(r["status"], r["message"]) for r in records.values()} == {("unsupported", "no slope at all")}
    assert backend.evaluated == []


def test_a_declared_unsupported_example_replayed_is_unsupported_not_run():
    from nnspec.backends import Unsupported
    from nnspec.conformance.engine import observe
    from nnspec.conformance.strategies import Example

    example = Example([np.array([0.5, -1.0])], np.array([1.0, 1.0]), {"approximate": "tanh"})
    backend = TanhGeluDeclaredUnsupported()
    with pytest.raises(Unsupported, match="only the exact gelu"):
        observe(CATALOGUE["gelu"], backend, "cpu", example)
    assert backend.evaluated == []


class SeluFixed(NumpyBackend):
    """The baseline with selu's α and λ declared fixed, as the frameworks' kernels have them."""

    name = "selu-fixed"
    FIXED = {"selu": {"alpha": (np.negative, A.SELU_ALPHA), "scale": (np.negative, A.SELU_SCALE)}}

    def __init__(self):
        self.evaluated = []

    def selu(self, x, alpha, scale):
        self.evaluated.append((alpha, scale))
        return super().selu(x, alpha, scale)


def test_a_fixed_parameter_is_drawn_at_its_fixed_value_only_and_read_as_the_native_default():
    backend = SeluFixed()
    records = run(backend, "selu", budget="quick")
    assert {r["status"] for r in records.values()} == {"pass"}
    assert set(backend.evaluated) == {(A.SELU_ALPHA, A.SELU_SCALE)}
    assert "declared unsupported: numpy.negative has no alpha option" in records["forward"]["message"]
    summary, *entries = check_defaults(Case(CATALOGUE["selu"], backend, "cpu", "-"))
    assert summary["status"] == "pass" and {e["native_default"] for e in entries} == {A.SELU_ALPHA, A.SELU_SCALE}
    assert all("(no " in e["native"] and "option: fixed)" in e["native"] for e in entries)


def test_a_fixed_value_that_differs_from_the_spec_default_is_a_differing_default():
    class ResetBefore(NumpyBackend):  # as torch's GRU: reset_after is no option, always True
        FIXED = {"gru_cell": {"reset_after": (np.negative, True)}}

    summary, entry = check_defaults(Case(CATALOGUE["gru_cell"], ResetBefore(), "cpu", "-"))
    assert summary["status"] == "fail" and "reset_after: native True, spec False" in summary["message"]
    assert entry["differs"] and entry["native_default"] is True


def test_a_fixed_claim_the_kernel_does_not_keep_fails_the_forward_check():
    forward = run(W.SeluFixedOffThePaper(), "selu", budget="quick")["forward"]
    assert forward["status"] == "fail"


@pytest.mark.parametrize("declaration, problem", [
    ({"no_such_op": "x"}, "the spec states no op 'no_such_op'"),
    ({"gelu": unsupported("x", approximation="tanh")}, "'approximation' is not a parameter of spec gelu"),
    ({"gelu": unsupported("x", dtypes={"float8"})}, "no dtype 'float8'"),
    ({"gelu": 3}, "UNSUPPORTED['gelu']"),
])
def test_an_impossible_unsupported_declaration_is_an_error_when_the_adapter_is_built(declaration, problem):
    from nnspec.backends.binding import BindingError

    with pytest.raises(BindingError, match=re.escape(problem)):
        type("Declares", (NumpyBackend,), {"name": "declares", "UNSUPPORTED": declaration})


def test_a_backend_that_crashes_on_start_gets_a_clear_error():
    with pytest.raises(BackendUnavailable, match="failed to start.*libcuda"):
        load_backend("wrong_adapters:CrashesOnStart")
    with pytest.raises(BackendUnavailable, match="unknown backend"):
        load_backend("no-such-backend")


def test_run_writes_every_record_at_once_and_keeps_them_when_interrupted(tmp_path, capsys):
    """Ctrl-C half-way: what was measured before stays in the results file, with no `finished` line."""
    code = main(["run", "--backend", "wrong_adapters:Interrupts", "--budget", "quick", "--results", str(tmp_path),
                 "--dtype", "float32", "--seed", "1"])
    assert code == 2  # pytest's "interrupted"
    (path,) = tmp_path.glob("interrupts-cpu-*.jsonl")  # one file per run
    lines = list(read_lines(path))
    kinds = [line["kind"] for line in lines]
    assert kinds[0] == "environment" and "finished" not in kinds
    measured = [line["op"] for line in lines if line["kind"] == "check"]
    assert measured[:3] == ["linear", "linear", "sigmoid"] or "linear" in measured


def test_a_complete_run_ends_with_finished_and_repro_replays_a_failure(tmp_path, capsys):
    code = main(["run", "--backend", "wrong_adapters:WrongSlope", "--op", "leaky_relu", "--dtype", "float64",
                 "--budget", "quick", "--results", str(tmp_path), "--seed", "2"])
    assert code == 0  # findings are results, not a failed run
    (path,) = tmp_path.glob("wrong-slope-cpu-*.jsonl")
    lines = list(read_lines(path))
    assert lines[-1]["kind"] == "finished"
    forward = next(r for r in lines if r.get("check") == "forward")
    assert forward["status"] == "fail"
    assert main(["repro", forward["id"], "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "spec value" in out and "backend value" in out
    assert main(["run", "--backend", "wrong_adapters:WrongSlope", "--op", "leaky_relu", "--dtype", "float64",
                 "--budget", "quick", "--results", str(tmp_path), "--strict"]) == 1


def test_bad_options_get_a_clear_error(tmp_path, capsys):
    assert main(["run", "--backend", "numpy", "--op", "no_such_op", "--results", str(tmp_path)]) != 0
    assert main(["run", "--backend", "numpy", "--device", "tpu", "--results", str(tmp_path)]) != 0
    assert main(["repro", "numpy/cpu/float32/relu/forward", "--results", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "no results directory" in err


def test_results_survive_a_truncated_line(tmp_path):
    path = tmp_path / "x-cpu.jsonl"
    good = {"kind": "check", "id": "a", "op": "relu", "backend": "numpy", "device": "cpu", "dtype": "float32",
            "check": "forward", "status": "pass"}  # every field reading requires (results.REQUIRED)
    path.write_text(json.dumps(good) + "\n" + '{"kind": "check", "id": "b", "sta')
    with pytest.warns(UserWarning, match="truncated"):
        assert [r["id"] for r in read_lines(path)] == ["a"]
