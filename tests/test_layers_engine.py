"""The engine against deliberately wrong layers adapters: each one is caught, by the check it breaks.

The wrong adapters change the NumPy baseline's forward; its gradients stay the spec's VJP formulas
(NumPy has no autodiff), so these tests judge the forward and layout checks."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import wrong_layers as W  # noqa: E402

from nnspec.backends.numpy import NumpyBackend  # noqa: E402
from nnspec.conformance.catalogue import CATALOGUE  # noqa: E402
from nnspec.conformance.engine import Case, check_values  # noqa: E402
from nnspec.conformance.layout import check_layout  # noqa: E402

OPS = [e.op for e in CATALOGUE.values() if e.family == "layers"]


def values(backend, op, dtype="float64"):
    return {r["check"]: r for r in check_values(Case(CATALOGUE[op], backend, "cpu", dtype, "quick", 0))}


def layout(backend, op, dtype="float64"):
    (record,) = check_layout(Case(CATALOGUE[op], backend, "cpu", dtype, "quick", 0))
    return record


@pytest.mark.parametrize("op", OPS)
def test_baseline_passes_what_the_wrong_adapters_break(op):
    records = values(NumpyBackend(), op, "float32")
    assert records["forward"]["status"] == "pass", records["forward"]["message"]
    assert records["gradient"]["status"] == "pass", records["gradient"]["message"]


@pytest.mark.parametrize("op", ["dense", "conv1d", "conv2d", "conv2d_transpose"])
def test_baseline_layout_round_trips(op):
    assert layout(NumpyBackend(), op)["status"] == "pass"


def test_a_symmetric_same_pad_is_the_odd_pad_before():
    """k//2 on both sides at stride 2 is TF's 'same' shifted by one cell: the variant that puts the odd pad first."""
    records = values(W.SymmetricSamePad(), "conv2d")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == "conv2d(same_odd_pad='before')"


def test_pads_counted_in_the_average_match_count_include_pad():
    records = values(W.PadsCounted(), "avg_pool2d")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == "avg_pool2d(count_include_pad=True)"


def test_a_transposed_kernel_fails_forward_and_layout():
    records = values(W.TransposedKernel(), "conv2d")
    assert records["forward"]["status"] in ("fail", "error") and records["forward"]["matches_variant"] is None
    record = layout(W.TransposedKernel(), "conv2d")
    assert record["status"] == "fail" and record["message"].startswith("w:")


def test_an_nhwc_flatten_fails_forward_as_the_channels_last_order():
    records = values(W.NHWCFlatten(), "flatten")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == "flatten(order='hwc')"


def test_torch_fed_k_over_2_pads_fails_forward_and_gradient_as_the_odd_pad_before():
    records = values(W.TorchSymmetricSamePad(), "conv2d", "float32")
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "fail"
        assert records[check]["matches_variant"] == "conv2d(same_odd_pad='before')"


def test_a_convolving_conv1d_fails_forward_as_the_kernel_flip():
    records = values(W.FlippedConv1dKernel(), "conv1d")
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == "conv1d(kernel_flip=True)"


def test_a_transpose_kernel_with_in_and_out_swapped_fails_forward_and_layout():
    records = values(W.SwappedTransposeKernel(), "conv2d_transpose")
    assert records["forward"]["status"] in ("fail", "error") and records["forward"]["matches_variant"] is None
    record = layout(W.SwappedTransposeKernel(), "conv2d_transpose")
    assert record["status"] == "fail" and record["message"].startswith("w:")


def test_torch_fed_a_reversed_conv1d_kernel_fails_forward_and_gradient_as_the_kernel_flip():
    records = values(W.TorchFlippedConv1d(), "conv1d", "float32")
    for check in ("forward", "gradient"):
        assert records[check]["status"] == "fail"
        assert records[check]["matches_variant"] == "conv1d(kernel_flip=True)"
