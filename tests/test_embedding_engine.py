"""The engine against deliberately wrong embedding adapters: a gradient that overwrites repeated indices and a
padding row that gets a gradient are caught; what an adapter does with out-of-range indices is recorded and named
as the variant it is (or as none).

The wrong adapters change the NumPy baseline in one place; the rest stays the spec's."""

from __future__ import annotations

import pytest
import wrong_embedding as W

from nnspec.backends.numpy import NumpyBackend
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.engine import Case, check_values
from nnspec.conformance.out_of_range import check_out_of_range

ROW = CATALOGUE["embedding"]


def values(backend, dtype="float64"):
    return {r["check"]: r for r in check_values(Case(ROW, backend, "cpu", dtype, "quick", 0))}


def out_of_range(backend, dtype="float64"):
    (record,) = check_out_of_range(Case(ROW, backend, "cpu", dtype, "quick", 0))
    return record


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_the_baseline_passes_every_check(dtype):
    records = values(NumpyBackend(), dtype)
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "pass", records[check]["message"]
        assert records[check]["examples"] > 10
    record = out_of_range(NumpyBackend(), dtype)
    assert record["status"] == "pass" and record["examples"] > 0
    assert record["message"].startswith(f"raised on {record['examples']} of {record['examples']} examples")


def test_a_gradient_that_overwrites_repeated_indices_is_caught():
    records = values(W.OverwritingGradient())
    assert records["forward"]["status"] == "pass"
    gradient = records["gradient"]
    assert gradient["status"] == "fail" and gradient["matches_variant"] is None
    (example,) = gradient["counterexamples"][:1]
    indices = example["inputs"][1]["values"]
    assert len(set(indices)) < len(indices)  # the counterexample repeats an index


def test_a_padding_row_that_gets_a_gradient_is_caught():
    gradient = values(W.PaddingGetsGradient())["gradient"]
    assert gradient["status"] == "fail" and gradient["matches_variant"] is None
    assert gradient["counterexamples"][0]["params"]["padding_idx"] is not None


@pytest.mark.parametrize("backend, variant", [
    (W.Clamping(), "embedding(out_of_range='clamp')"),
    (W.WrapsAndFillsNan(), "embedding(negative='wrap', out_of_range='fill_nan')"),
])
def test_out_of_range_behaviours_are_recorded_as_their_variant(backend, variant):
    record = out_of_range(backend)
    assert record["status"] == "fail" and record["matches_variant"] == variant
    assert record["message"].endswith(f"returned values on all {record['examples']} examples")
    assert values(backend)["forward"]["status"] == "pass"  # in range they are the spec


def test_indices_read_modulo_the_table_are_no_stated_behaviour():
    record = out_of_range(W.Modulo())
    assert record["status"] == "fail" and record["matches_variant"] is None
    assert record["counterexamples"]


def test_repro_replays_an_out_of_range_counterexample():
    from nnspec.conformance import repro
    from nnspec.conformance.engine import decode_example

    record = out_of_range(W.WrapsAndFillsNan())
    examples = [decode_example(c) for c in record["counterexamples"]]
    status, lines = repro.replay_out_of_range(ROW, W.WrapsAndFillsNan(), record, examples)
    assert status == "fail"
    assert any("returned values where the spec raises" in line for line in lines)
    assert any("backend returned:" in line for line in lines)
