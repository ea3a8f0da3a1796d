"""The engine against deliberately wrong attention adapters: each must come out with the right status."""

from __future__ import annotations

import numpy as np
import pytest
import wrong_attention as W

from nnspec.backends.numpy import NumpyBackend
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.engine import Case, check_values, decode_example
from nnspec.conformance.layout import check_layout

SEED = 3


def run(backend, op, dtype="float64", budget="quick"):
    records = check_values(Case(CATALOGUE[op], backend, "cpu", dtype, budget, SEED))
    return {r["check"]: r for r in records}


@pytest.mark.parametrize("op", ["scaled_dot_product_attention", "sinusoidal_positional_encoding", "layer_norm",
                                "transformer_block"])
def test_baseline_passes_what_the_wrong_adapters_break(op):
    for record in run(NumpyBackend(), op).values():
        assert record["status"] == "pass", (op, record)


def test_scaling_by_dk_instead_of_its_square_root_fails_without_a_variant():
    records = run(W.ScaleByDk(), "scaled_dot_product_attention")
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "fail" and records[check]["matches_variant"] is None, records[check]
    example = decode_example(records["forward"]["counterexamples"][0])
    assert example.params["scale"] is None and example.inputs[0].shape[-1] > 1  # 1/d = 1/√d at d = 1


def test_a_mask_read_the_other_way_round_is_named():
    records = run(W.InvertedMask(), "scaled_dot_product_attention")
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "fail"
        assert records[check]["matches_variant"] == "scaled_dot_product_attention(mask_means='masked')"


def test_zeroed_rows_of_masked_keys_are_named():
    records = run(W.ZeroedMaskedRows(), "scaled_dot_product_attention")
    assert records["forward"]["status"] == "fail"
    assert "nan" in records["forward"]["message"]  # the textbook's −∞ fill gives nan there
    assert records["forward"]["matches_variant"] == "scaled_dot_product_attention(all_masked='zeros')"


def test_concatenated_instead_of_interleaved_encoding_is_named():
    records = run(W.ConcatenatedEncoding(), "sinusoidal_positional_encoding")
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "fail"
        assert records[check]["matches_variant"] == "sinusoidal_positional_encoding(layout='concatenated')"


def test_epsilon_outside_the_square_root_is_named():
    forward = run(W.EpsilonOutsideSqrt(), "layer_norm")["forward"]
    assert forward["status"] == "fail" and forward["matches_variant"] == "layer_norm(epsilon_at='outside_sqrt')"


def test_a_block_that_always_normalizes_first_is_named():
    forward = run(W.AlwaysPreNorm(), "transformer_block")["forward"]
    assert forward["status"] == "fail" and forward["matches_variant"] == "transformer_block(norm_first=True)"


def layout(backend, dtype="float64"):
    (record,) = check_layout(Case(CATALOGUE["multi_head_attention"], backend, "cpu", dtype, "quick", SEED))
    return record


def test_layout_round_trips_are_exact_and_inexact_ones_fail():
    pytest.importorskip("torch")
    from nnspec.backends.torch import TorchBackend

    torch_layout = layout(TorchBackend())
    assert torch_layout["status"] == "pass"  # its grouped-query examples declared unsupported, the others round-tripped
    assert "declared unsupported: torch.nn.MultiheadAttention has no grouped-query" in torch_layout["message"]
    lossy = layout(W.lossy_layout())
    assert lossy["status"] == "fail" and lossy["message"].startswith("w_o: differs"), lossy
    assert layout(W.lossy_layout(), "float32")["status"] == "pass"  # float32 survives float32
    swapped = layout(W.swapped_layout())
    assert swapped["status"] == "fail" and swapped["message"].split(":")[0] in ("w_q", "w_k"), swapped
    assert np.all([a.shape for a in decode_example(swapped["counterexamples"][0]).inputs[:2]])


# RMS norm and rotary embeddings ------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["rms_norm", "rotary_embedding"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_baseline_passes_rms_norm_and_rotary(op, dtype):
    for record in run(NumpyBackend(), op, dtype).values():
        assert record["status"] == "pass", (op, record)


def test_epsilon_outside_the_root_of_rms_norm_is_named():
    records = run(W.RmsEpsilonOutsideSqrt(), "rms_norm")
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "fail"
        assert records[check]["matches_variant"] == "rms_norm(epsilon_at='outside_sqrt')", records[check]


def test_rms_norm_over_the_wrong_axis_fails_without_a_variant():
    forward = run(W.RmsOverTheWrongAxis(), "rms_norm")["forward"]
    assert forward["status"] == "fail" and forward["matches_variant"] is None, forward
    assert decode_example(forward["counterexamples"][0]).inputs[0].ndim >= 2  # one row cannot tell the axes apart


def test_half_split_rotary_where_the_spec_says_interleaved_is_named():
    records = run(W.HalfSplitRotary(), "rotary_embedding")
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "fail"
        assert records[check]["matches_variant"] == "rotary_embedding(pairs='half')", records[check]
    example = decode_example(records["forward"]["counterexamples"][0])
    assert example.params["pairs"] == "interleaved" and example.inputs[0].shape[-1] > 2  # d = 2: one pair, same


def test_a_causal_mask_without_the_cache_offset_fails():
    records = run(W.NoCacheOffset(), "scaled_dot_product_attention")
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "fail", records[check]
    example = decode_example(records["forward"]["counterexamples"][0])
    assert example.params["causal_offset"] > 0 and (example.params["causal"] or example.params["alibi"])


def test_tiled_instead_of_repeat_interleaved_kv_heads_fails():
    records = run(W.TiledKvHeads(), "scaled_dot_product_attention")
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "fail" and records[check]["matches_variant"] is None, records[check]
    query, key = decode_example(records["forward"]["counterexamples"][0]).inputs[:2]
    assert 1 < key.shape[-3] < query.shape[-3]  # tiling and interleaving agree for K = 1 and K = H


def test_the_new_parameters_default_to_the_old_formula():
    """An example recorded before softcap, causal_offset, alibi and num_kv_heads existed replays at defaults
    that are the formula it was measured against (OpEntry.completed fills them)."""
    from nnspec.conformance.strategies import Example

    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(1, 2, 3, 4)) for _ in range(3))
    mask = np.ones((1, 1, 1, 1), bool)
    old = {"use_mask": False, "scale": None, "causal": True, "dropout": 0}
    entry = CATALOGUE["scaled_dot_product_attention"]
    example = entry.completed(Example([q, k, v, mask], None, dict(old)))
    assert {p: example.params[p] for p in ("softcap", "causal_offset", "alibi")} == {
        "softcap": None, "causal_offset": 0, "alibi": False}
    logits = q @ np.swapaxes(k, -1, -2) / 2 + np.where(np.tril(np.ones((3, 3), bool)), 0, -np.inf)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    expected = (weights / weights.sum(-1, keepdims=True)) @ v
    np.testing.assert_allclose(entry.forward(*example.inputs, **example.params), expected, rtol=1e-14)
    mha = CATALOGUE["multi_head_attention"]
    assert mha.completed(Example([None] * 12, None, {"num_heads": 2})).params["num_kv_heads"] is None


def test_tiled_kv_heads_in_multi_head_attention_fail():
    records = run(W.TiledKvHeadsMHA(), "multi_head_attention")
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "fail" and records[check]["matches_variant"] is None, records[check]
    params = decode_example(records["forward"]["counterexamples"][0]).params
    assert 1 < params["num_kv_heads"] < params["num_heads"]


def test_the_baseline_passes_grouped_query_multi_head_attention():
    for record in run(NumpyBackend(), "multi_head_attention").values():
        assert record["status"] == "pass", record
