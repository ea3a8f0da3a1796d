"""The engine on loss rows, against deliberately wrong loss adapters (tests/wrong_losses.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import wrong_losses as W

from nnspec.backends.numpy import NumpyBackend
from nnspec.conformance.catalogue import CATALOGUE
from hypothesis import given, settings

from nnspec.conformance.engine import Case, check_values, decode_example, encode_example


def run(backend, op, dtype="float64", budget="standard", seed=3):
    records = check_values(Case(CATALOGUE[op], backend, "cpu", dtype, budget, seed))
    return {r["check"]: r for r in records}


@pytest.mark.parametrize("op", ["binary_cross_entropy", "huber", "sparse_categorical_cross_entropy", "mse", "nll",
                                "categorical_cross_entropy", "categorical_cross_entropy_with_logits"])
def test_baseline_passes_what_the_wrong_adapters_break(op):
    for record in run(NumpyBackend(), op).values():
        assert record["status"] == "pass", (op, record)


def test_a_bce_that_clips_is_caught_and_named():
    records = run(W.ClippingBCE(), "binary_cross_entropy")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == "binary_cross_entropy(clip_epsilon=1e-07)"
    example = decode_example(records["forward"]["counterexamples"][0])
    p, t = (a.astype(np.float64) for a in example.inputs)
    assert np.any(((p < 1e-7) & (t > 0)) | ((p > 1 - 1e-7) & (t < 1)))  # only the clip explains it


def test_a_huber_with_its_branches_swapped_fails_without_a_variant():
    records = run(W.SwappedHuber(), "huber")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] is None
    assert records["forward"]["repro"].startswith("nnspec repro swapped-huber/cpu/float64/huber/forward")


def test_a_sparse_cross_entropy_without_its_last_class_fails():
    forward = run(W.SparseWithoutLastClass(), "sparse_categorical_cross_entropy")["forward"]
    assert forward["status"] == "fail" and forward["matches_variant"] is None


def test_a_weighted_mean_over_the_rows_is_caught_and_named():
    records = run(W.WeightedMeanOverRows(), "nll")
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "fail", records[check]
        assert records[check]["matches_variant"] == "nll(mean_divisor='kept')"
        example = decode_example(records[check]["counterexamples"][0])
        assert example.params["reduction"] == "mean" and example.params["class_weight"] is not None


def test_ignored_rows_summed_but_not_counted_are_caught():
    forward = run(W.IgnoredRowsStillSummed(), "sparse_categorical_cross_entropy")["forward"]
    assert forward["status"] == "fail" and forward["matches_variant"] is None
    example = decode_example(forward["counterexamples"][0])
    labels, ignored = example.inputs[1], example.params["ignore_index"]
    assert ignored is not None and np.any(labels == ignored) and example.params["reduction"] in ("mean", "sum")


def test_a_soft_weighted_mean_over_the_samples_is_caught_and_named():
    records = run(W.SoftWeightedMeanOverSamples(), "categorical_cross_entropy_with_logits")
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "fail", records[check]
        assert records[check]["matches_variant"] == "categorical_cross_entropy_with_logits(mean_divisor='samples')"
        example = decode_example(records[check]["counterexamples"][0])
        assert example.params["reduction"] == "mean" and example.params["class_weight"] is not None


def test_soft_class_weights_in_the_divisor_only_are_caught():
    forward = run(W.SoftWeightsInTheDivisorOnly(), "categorical_cross_entropy")["forward"]
    assert forward["status"] == "fail" and forward["matches_variant"] is None
    example = decode_example(forward["counterexamples"][0])
    assert example.params["reduction"] == "mean" and example.params["class_weight"] is not None


@pytest.mark.parametrize("op", ["nll", "sparse_categorical_cross_entropy"])
def test_class_weights_and_ignored_labels_are_drawn_where_they_matter(op):
    """The ignored label hits labels in the batch, every row of a batch is ignored, weights of 0 appear;
    and a weighted example's class weights survive the record's JSON as the tuple drawn."""
    seen = {"hit": 0, "all ignored": 0, "zero weight": 0, "plain": 0}

    @settings(max_examples=300, derandomize=True, database=None, deadline=None)
    @given(CATALOGUE[op].example("float32"))
    def draw(example):
        labels, params = example.inputs[1], example.params
        ignored, weights = params["ignore_index"], params["class_weight"]
        seen["hit"] += ignored is not None and bool(np.any(labels == ignored))
        seen["all ignored"] += ignored is not None and bool(np.all(labels == ignored))
        seen["zero weight"] += weights is not None and 0.0 in weights
        seen["plain"] += ignored is None and weights is None
        assert decode_example(json.loads(json.dumps(encode_example(example)))).params == params

    draw()
    assert all(count >= 10 for count in seen.values()), seen


@pytest.mark.parametrize("op", ["categorical_cross_entropy", "categorical_cross_entropy_with_logits"])
def test_soft_class_weights_are_drawn_per_class_and_old_records_replay_unweighted(op):
    """Class weights of the row's class count (weights of 0 among them) and unweighted examples are both
    drawn, and survive the record's JSON; a record from before class_weight existed replays unweighted."""
    from nnspec.conformance.strategies import Example

    seen = {"weighted": 0, "zero weight": 0, "plain": 0}

    @settings(max_examples=200, derandomize=True, database=None, deadline=None)
    @given(CATALOGUE[op].example("float32"))
    def draw(example):
        weights = example.params["class_weight"]
        assert weights is None or len(weights) == example.inputs[0].shape[-1]
        seen["weighted"] += weights is not None
        seen["zero weight"] += weights is not None and 0.0 in weights
        seen["plain"] += weights is None
        assert decode_example(json.loads(json.dumps(encode_example(example)))).params == example.params

    draw()
    assert all(count >= 10 for count in seen.values()), seen
    x, t = np.array([[0.2, 0.8]]), np.array([[0.5, 0.5]])
    old = CATALOGUE[op].completed(Example([x, t], None, {"reduction": "mean", "label_smoothing": 0.0}))
    assert old.params["class_weight"] is None
    assert CATALOGUE[op].forward(*old.inputs, **old.params) == CATALOGUE[op].forward(x, t)


def test_a_parameter_value_the_backend_lacks_skips_those_examples_only():
    records = run(W.NoLabelSmoothing(), "binary_cross_entropy")
    for record in records.values():
        assert record["status"] == "pass" and record["examples"] > 0
        assert "examples unsupported: no label smoothing here" in record["message"]


def test_a_backend_that_declines_every_example_is_unsupported():
    records = run(W.DeclinesEverything(), "mse", budget="quick")
    assert {r["status"] for r in records.values()} == {"unsupported"}
    assert all(r["message"] == "mse is not offered" for r in records.values())


def test_per_row_losses_are_matched_to_their_variant_and_get_no_gradient_for_reduction_none():
    # Seed 0: at seeds whose first failure is the forward's shape error on a reduction="none" example,
    # the search ends there and the gradient sees only a handful of examples (a known engine limit).
    records = run(W.PerRowMse(), "mse", seed=0)
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == "mse(feature_mean=True)"
    assert "shape" in records["forward"]["message"] or "ULP" in records["forward"]["message"]
    gradient = records["gradient"]
    assert gradient["status"] == "fail" and gradient["matches_variant"] == "mse(feature_mean=True)"
    assert decode_example(gradient["counterexamples"][0]).params["reduction"] != "none"  # no per-element cotangent fits
