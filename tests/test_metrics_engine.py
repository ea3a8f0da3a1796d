"""The engine against wrong metrics adapters: each caught, and the variant named where one exists;
the baseline passes every metrics row; the streaming check on a right and a wrong accumulation."""

from __future__ import annotations

import json

import jsonschema
import pytest

import wrong_metrics as W

from nnspec.backends.numpy import NumpyBackend
from nnspec.conformance import record
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.checkers import CHECKERS
from nnspec.conformance.engine import Case, check_values
from nnspec.conformance.results import encode_line
from nnspec.conformance.streaming import check_streaming
from nnspec.conformance.trajectory import check_trajectory

OPS = [e.op for e in CATALOGUE.values() if e.family == "metrics"]


def values(backend, op, dtype="float64"):
    return {r["check"]: r for r in check_values(Case(CATALOGUE[op], backend, "cpu", dtype, "quick", 0))}


@pytest.mark.parametrize("op", [op for op in OPS if "values" in CATALOGUE[op].checks])
def test_baseline_passes_every_metrics_row(op):
    records = values(NumpyBackend(), op, "float32")
    assert records["forward"]["status"] == "pass", records["forward"]["message"]
    assert records["gradient"]["status"] == "skip"  # nothing is differentiated


def test_baseline_passes_early_stopping():
    (r,) = check_trajectory(Case(CATALOGUE["early_stopping"], NumpyBackend(), "cpu", "float32", "quick", 0))
    assert r["status"] == "pass", r["message"]


def test_unbiased_std_is_caught_and_named():
    records = values(W.UnbiasedStdScaler(), "standard_scale")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == "standard_scale(ddof=1)"


@pytest.mark.parametrize("op", ["precision", "recall", "f1"])
def test_micro_where_macro_was_asked_is_caught_and_named(op):
    records = values(W.MicroForMacro(), op)
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == f"{op}(macro_as='micro')"


def test_thresholded_auc_is_caught_and_named():
    records = values(W.ThresholdedAuc(), "roc_auc", "float64")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == "roc_auc(num_thresholds=200)"


def test_auc_from_too_few_thresholds_is_caught_and_matches_no_variant():
    records = values(W.TooFewThresholdsAuc(), "roc_auc", "float64")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] is None  # 20 thresholds: no declared variant is that coarse


def test_early_stopping_one_epoch_late_is_caught_and_named():
    (r,) = check_trajectory(Case(CATALOGUE["early_stopping"], W.LateEarlyStopping(), "cpu", "float64", "quick", 0))
    assert r["status"] == "fail"
    assert r["matches_variant"] == "early_stopping(count='exceed')"
    assert r["first_failing_step"] is not None


def _validate(records):
    validator = jsonschema.Draft202012Validator(record.schema())
    for r in records:
        validator.validate(json.loads(encode_line({**r, "run_id": "r", "case": "c"})))


def test_streaming_is_a_check_of_the_one_runner():
    assert CHECKERS["streaming"].per_dtype and CHECKERS["streaming"].records(CATALOGUE["accuracy"]) == ("streaming",)


def test_streaming_of_a_backend_without_an_accumulated_form_is_unsupported_without_a_draw():
    (r,) = check_streaming(Case(CATALOGUE["accuracy"], NumpyBackend(), "cpu", "float32", "quick", 0))
    assert r["status"] == "unsupported" and r["examples"] == 0 and "accumulated" in r["message"]
    _validate([r])


def test_a_right_accumulation_passes_streaming():
    (r,) = check_streaming(Case(CATALOGUE["accuracy"], W.ConcatenatingStream(), "cpu", "float32", "quick", 0))
    assert r["status"] == "pass", r["message"]
    assert r["examples"] > 0 and r["tolerance_rule"].startswith("the accumulated value")
    _validate([r])


def test_a_mean_of_batch_accuracies_fails_streaming_with_the_split_recorded():
    (r,) = check_streaming(Case(CATALOGUE["accuracy"], W.MeanOfBatchAccuracies(), "cpu", "float64", "quick", 0))
    assert r["status"] == "fail"
    (counterexample,) = r["counterexamples"]
    sizes = counterexample["params"]["batches"]
    assert len(set(sizes)) > 1  # only batches of unequal size tell the two apart
    assert sum(sizes) == len(counterexample["inputs"][0]["values"])
    _validate([r])


def test_a_streaming_counterexample_replays():
    from nnspec.conformance import repro
    from nnspec.conformance.engine import decode_example

    (r,) = check_streaming(Case(CATALOGUE["accuracy"], W.MeanOfBatchAccuracies(), "cpu", "float64", "quick", 0))
    examples = [decode_example(c) for c in r["counterexamples"]]
    status, lines = repro.replay_streaming(CATALOGUE["accuracy"], W.MeanOfBatchAccuracies(), r, examples)
    assert status == "fail" and any("accumulated" in line for line in lines)
    assert repro.REPLAYERS["streaming"] is repro.replay_streaming


def test_a_known_counterexample_without_a_split_streams_one_sample_per_batch():
    from nnspec.conformance.streaming import batch_sizes, streamed
    from nnspec.conformance.strategies import Example
    import numpy as np

    example = Example([np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0])], None, {})  # a forward counterexample
    assert batch_sizes(example) == (1, 1, 1)
    case = Case(CATALOGUE["accuracy"], W.MeanOfBatchAccuracies(), "cpu", "float64", "quick", 0, known=[example])
    (r,) = check_streaming(case)
    assert r["status"] == "fail"  # the search still runs after the known example
    assert streamed(CATALOGUE["accuracy"]) is streamed(CATALOGUE["accuracy"])
