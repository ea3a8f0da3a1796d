"""The one check record: typed, with a published JSON schema that every kind of check's records meet."""

from __future__ import annotations

import json

import jsonschema
import pytest
import wrong_adapters as W
import wrong_embedding as WE
import wrong_optimizers as WO
import wrong_normalization as WN

from nnspec.backends import load_backend
from nnspec.conformance import record
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.engine import Case, check_values, make_record
from nnspec.conformance.layout import check_layout
from nnspec.conformance.out_of_range import check_out_of_range
from nnspec.conformance.results import encode_line
from nnspec.conformance.running_stats import check_running_stats
from nnspec.conformance.trajectory import check_schedule, check_trajectory


def test_the_committed_schema_is_the_dataclass_s():
    assert record.SCHEMA_PATH.read_text() == record.schema_text(), "regenerate: record.SCHEMA_PATH.write_text(schema_text())"


def _validate(records):
    validator = jsonschema.Draft202012Validator(record.schema())
    for r in records:
        validator.validate(json.loads(encode_line({**r, "run_id": "r", "case": "c"})))


def test_records_of_every_check_meet_the_schema():
    numpy = load_backend("numpy")
    cases = [
        (check_values, CATALOGUE["leaky_relu"], W.WrongSlope(), "float32"),  # a failure with counterexamples
        (check_values, CATALOGUE["sigmoid"], W.ReturnsNan(), "float64"),  # non-finite errors
        (check_values, CATALOGUE["gelu"], numpy, "float16"),  # a pass
        (check_trajectory, CATALOGUE["sgd"], numpy, "float32"),
        (check_schedule, CATALOGUE["step_decay"], numpy, "float32"),
        (check_layout, CATALOGUE["lstm"], numpy, "float32"),
        (check_running_stats, CATALOGUE["batch_norm"], numpy, "float32"),
        (check_running_stats, CATALOGUE["batch_norm"], WN.BiasedRunningVariance(), "float64"),  # with a variant
        (check_out_of_range, CATALOGUE["embedding"], numpy, "float32"),
        (check_out_of_range, CATALOGUE["embedding"], WE.WrapsAndFillsNan(), "float64"),  # with a variant
        (check_out_of_range, CATALOGUE["embedding"], WE.Modulo(), "float16"),  # with counterexamples
    ]
    for check, entry, backend, dtype in cases:
        records = check(Case(entry, backend, "cpu", dtype, "quick", 0))
        assert records
        _validate(records)
    failing = check_values(Case(CATALOGUE["leaky_relu"], W.WrongSlope(), "cpu", "float32", "quick", 0))
    forward = {r["check"]: r for r in failing}["forward"]
    assert forward["counterexamples"] and "counterexample" not in forward  # one list, no copy of its head


def test_trajectory_tolerance_is_a_number_with_its_rule():
    (r,) = check_trajectory(Case(CATALOGUE["adam"], WO.AdamWithoutBiasCorrection(), "cpu", "float32", "quick", 0))
    assert r["status"] == "fail" and r["counterexamples"][0]["message"] == r["message"]
    assert isinstance(r["tolerance"], (int, float)) and r["tolerance_rule"].startswith("a step")
    _validate([r])


def test_an_unknown_field_or_a_non_number_error_is_refused():
    case = Case(CATALOGUE["gelu"], load_backend("numpy"), "cpu", "float32", "quick", 0)
    with pytest.raises(TypeError):
        make_record(case, "forward", "pass", max_ulps=1.0)  # misspelt
    with pytest.raises(TypeError):
        make_record(case, "forward", "pass", max_ulp="1.0")
    with pytest.raises(ValueError):
        make_record(case, "forward", "passed")
