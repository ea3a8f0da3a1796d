"""The distribution check against the NumPy baseline and deliberately wrong random adapters: each wrong one
is caught by the part of the check it breaks, a truncated normal is named as the variant it is, and the
statistical tests' false-alarm rate on the baseline is what the check states."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
import wrong_random as W
from scipy import stats

from nnspec.backends import DTYPES
from nnspec.backends.numpy import NumpyBackend
from nnspec.conformance import record
from nnspec.conformance.catalogue import ALPHA, CATALOGUE, select
from nnspec.conformance.distribution import RUN_FALSE_ALARMS, check_distribution, judge, observe, run_bound
from nnspec.conformance.engine import Case
from nnspec.conformance.results import encode_line
from nnspec.conformance.strategies import Example
from nnspec.spec import random as R

ROWS = [e.op for e in select(family="random")]


def distribution(op, backend, dtype="float64"):
    records = check_distribution(Case(CATALOGUE[op], backend, "cpu", dtype, "quick", 0))
    return records[0], records[1:]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", ROWS)
def test_the_baseline_passes(op, dtype):
    rec, _ = distribution(op, NumpyBackend(), dtype)
    assert rec["status"] == "pass", rec["message"]
    assert rec["examples"] >= 1 and f"α = {ALPHA:g}" in rec["tolerance_rule"]


def test_the_records_and_default_entries_meet_the_schema():
    validator = jsonschema.Draft202012Validator(record.schema())
    for op, backend in (("dropout", NumpyBackend()), ("glorot_normal", W.GlorotFanIn()),
                        ("lstm_init", NumpyBackend())):
        rec, extra = distribution(op, backend, "float32")
        validator.validate(json.loads(encode_line({**rec, "run_id": "r", "case": "c"})))
        assert all(e["kind"] == "default" for e in extra)


def test_dropout_without_rescaling_is_caught_on_its_kept_values():
    rec, _ = distribution("dropout", W.NoRescaleDropout())
    assert rec["status"] == "fail" and "kept values" in rec["message"]


@pytest.mark.parametrize("wrong", [W.KeepsWithRate, W.RateOffByTenPercent])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_biased_dropout_rate_is_caught_by_the_binomial_test(wrong, dtype):
    rec, _ = distribution("dropout", wrong(), dtype)
    assert rec["status"] == "fail" and "Binomial" in rec["message"] and "< α" in rec["message"]
    assert rec["counterexamples"] and rec["repro"]


@pytest.mark.parametrize("op", ["glorot_uniform", "glorot_normal"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_glorot_with_the_wrong_fan_is_caught(op, dtype):
    rec, _ = distribution(op, W.GlorotFanIn(), dtype)
    assert rec["status"] == "fail" and "Kolmogorov–Smirnov" in rec["message"]
    assert rec["matches_variant"] is None  # a truncated normal does not explain it


def test_an_orthogonal_matrix_with_qr_signs_left_in_is_not_haar():
    rec, _ = distribution("orthogonal", W.UnsignedOrthogonal())
    assert rec["status"] == "fail" and "entry [0, 0]" in rec["message"]


def test_an_orthogonal_matrix_without_its_gain_fails_orthonormality():
    rec, _ = distribution("orthogonal", W.OrthogonalWithoutGain())
    assert rec["status"] == "fail" and "orthonormal" in rec["message"]


class TruncatedGlorot(NumpyBackend):
    """Keras' and JAX's glorot_normal: truncated at ±2σ' with the variance kept (the spec's variant)."""

    name = "truncated-glorot"

    def glorot_normal(self, shape, seed, dtype):
        return np.asarray(R.glorot_normal(shape, seed, dtype, normal="truncated")).astype(dtype)


def test_a_truncated_normal_is_named_as_the_variant():
    rec, _ = distribution("glorot_normal", TruncatedGlorot(), "float32")
    assert rec["status"] == "fail" and rec["matches_variant"] == "glorot_normal(normal='truncated')"


class RateOneRaises(NumpyBackend):
    name = "rate-one-raises"

    def dropout(self, x, seed, rate, training):
        if rate == 1 and training:
            raise ValueError("rate must be in [0, 1)")
        return super().dropout(x, seed, rate, training)


def test_rate_one_raising_is_a_finding_not_a_crash():
    rec, _ = distribution("dropout", RateOneRaises())
    assert rec["status"] == "fail" and "rate 1: raised ValueError" in rec["message"]


def test_the_layer_defaults_are_measured_and_written_as_default_entries():
    rec, extra = distribution("lstm_init", NumpyBackend(), "float32")
    assert rec["status"] == "pass" and "fits" in rec["message"]
    assert {e["parameter"]: e["native_default"] for e in extra} == {"kernel": "glorot_uniform",
                                                                     "recurrent_kernel": "orthogonal"}
    assert not any(e["differs"] for e in extra)
    _, none = distribution("lstm_init", NumpyBackend(), "float64")
    assert none == []  # one dtype's case writes them


class TorchLikeLinear(NumpyBackend):
    """torch.nn.Linear's kaiming_uniform(a=√5): U(±1/√fan_in), measured as such, not as Glorot."""

    name = "torch-like-linear"

    def dense_init(self, shape, seed, dtype):
        bound = 1 / np.sqrt(shape[1])
        return (np.random.default_rng(seed).uniform(-bound, bound, shape).astype(dtype),)


def test_a_non_glorot_default_is_measured_as_what_it_is():
    _, (entry,) = distribution("dense_init", TorchLikeLinear(), "float32")
    assert entry["native_default"] == "uniform(±1/√fan_in)" and entry["differs"]


# false alarms --------------------------------------------------------------------------------------------


def test_a_run_s_false_alarms_are_bounded_below_one_in_a_million():
    """Bonferroni over every case of a run at the thorough budget, all dtypes (the known examples included)."""
    assert run_bound(select(family="random"), list(DTYPES)) < RUN_FALSE_ALARMS == 1e-6
    assert all(e.distribution.alpha == ALPHA for e in select(family="random"))


SEEDS = 200


def _p_values(op, dtype="float32"):
    entry, backend = CATALOGUE[op], NumpyBackend()
    rng = np.random.default_rng(1)
    p_values = []
    for seed in range(SEEDS):
        if op == "dropout":
            x = (rng.uniform(0.5, 2, 65536) * rng.choice([-1.0, 1.0], 65536)).astype(dtype)
            example = Example([x], None, {"seed": seed, "rate": [0.1, 0.3, 0.5, 0.7, 0.9][seed % 5], "training": True})
        else:
            example = Example([], None, {"shape": (512, 128), "seed": seed, "dtype": dtype})
        judged = judge(entry, np.dtype(dtype), example, observe(entry, backend, "cpu", example))
        assert judged.verdict.ok, judged.verdict.message
        p_values.extend(judged.p_values)
    return np.array(p_values)


@pytest.mark.parametrize("op, continuous", [("dropout", False), ("glorot_uniform", True), ("he_normal", True)])
def test_the_false_alarm_rate_on_the_baseline_is_the_stated_one(op, continuous):
    """Over 200 seeds no test alarms at α (expected 200·α = 2e-9 alarms), and the p-values are calibrated: the
    share below 0.05 is within the 1e-6 quantiles of Binomial(200, 0.05) (the binomial test's discrete
    p-values are conservative: at most that). So α is the false-alarm rate the check states."""
    p = _p_values(op)
    assert len(p) == SEEDS and np.all(p >= ALPHA)
    below = int(np.sum(p < 0.05))
    assert below <= stats.binom(SEEDS, 0.05).isf(1e-6)
    if continuous:
        assert below >= stats.binom(SEEDS, 0.05).ppf(1e-6)
        assert stats.kstest(p, "uniform").pvalue > 1e-6  # uniform p-values: the test's null is exact


def test_repro_replays_a_distribution_counterexample():
    from nnspec.conformance import repro
    from nnspec.conformance.engine import decode_example

    rec, _ = distribution("dropout", W.KeepsWithRate(), "float32")
    examples = [decode_example(c) for c in rec["counterexamples"]]
    status, lines = repro.replay_distribution(CATALOGUE["dropout"], W.KeepsWithRate(), rec, examples)
    assert status == "fail" and any("Binomial" in line for line in lines)
    status, _ = repro.replay_distribution(CATALOGUE["dropout"], NumpyBackend(), rec, examples)
    assert status == "pass"
