"""The porting guide is generated from the adapters' layout tables: committed and current, and its recipes port."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorflow")
pytest.importorskip("flax")

from nnspec.conformance import porting  # noqa: E402
from nnspec.spec import recurrent as R  # noqa: E402


COMMITTED_GUIDE = Path(__file__).resolve().parents[1] / "docs" / "porting-recurrent.md"  # the checkout's, not site-packages


def test_the_committed_guide_is_generated_from_the_current_tables():
    assert COMMITTED_GUIDE.read_text(encoding="utf-8") == porting.render(), (
        "docs/porting-recurrent.md is stale: python -m nnspec.conformance.porting --write")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_moving_weights_through_the_tables_between_every_pair_is_exact(kind):
    """torch → keras → flax → torch through disassemble/assemble of each table: every tensor comes back."""
    mods = porting.adapters()
    rng = np.random.default_rng(5)
    H, I = 3, 2
    G = len(R.GATES[kind])
    canonical = {"w_ih": rng.standard_normal((G * H, I)), "w_hh": rng.standard_normal((G * H, H)),
                 "b": rng.standard_normal(G * H)}
    if kind == "gru":
        canonical["b_hn"] = rng.standard_normal(H)

    weights = canonical
    for name in ("torch", "keras", "flax", "torch"):
        layout = mods[name].layout(kind, True)
        native = R.assemble(kind, layout, weights, R.NumpyOps)
        weights = R.disassemble(kind, layout, native, H)
    for name, array in canonical.items():
        assert weights[name].tobytes() == array.tobytes(), name
