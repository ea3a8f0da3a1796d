"""The conv porting guide is generated from the layers adapters' tables: committed and current, and its recipes hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorflow")
pytest.importorskip("flax")

from nnspec.backends.layouts import order  # noqa: E402
from nnspec.conformance import porting_conv  # noqa: E402
from nnspec.spec import layers as L  # noqa: E402

COMMITTED_GUIDE = Path(__file__).resolve().parents[1] / "docs" / "porting-conv.md"  # the checkout's


def test_the_committed_guide_is_generated_from_the_current_tables():
    assert COMMITTED_GUIDE.read_text(encoding="utf-8") == porting_conv.render(), (
        "docs/porting-conv.md is stale: python -m nnspec.conformance.porting_conv --write")


def test_the_flatten_recipe_keeps_a_dense_layer_after_a_conv():
    """torch's dense weights reordered by the guide's recipe give, on Keras' H, W, C flatten, torch's output."""
    rng = np.random.default_rng(3)
    x, out = rng.standard_normal((2, 3, 4, 5)), 6
    W = rng.standard_normal((out, 3 * 4 * 5))
    axes = tuple(a + 1 for a in order("CHW", "HWC"))
    moved = W.reshape(out, 3, 4, 5).transpose((0, *axes)).reshape(out, -1)
    # the same 60 products summed in another order: equal up to rounding (a wrong order is off by O(1))
    np.testing.assert_allclose(L.flatten(x, order="hwc") @ moved.T, L.flatten(x) @ W.T, rtol=0, atol=1e-12)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(L.flatten(x, order="hwc") @ W.T, L.flatten(x) @ W.T, rtol=0, atol=1e-12)
    assert "H, W, C" in porting_conv.render()
