"""Catalogue rows of the models family: the six seed models of ``nnspec/spec/models.py`` (checks ``model``,
recording ``forward`` and ``gradient``, and ``training``; ``conformance/models.py`` says how they judge).

An example is a seed: the spec draws the canonical weights and the batches from it. The models are checked in
float64 and float32 (``dtypes``): a whole model in half precision measures its conditioning, not its port.

Error bounds. Each layer's arrays count in ULPs of the dtype at the layer's largest value. A layer is a
handful of the family ops, whose own bounds are a few ULPs each at this scale, composed over at most ten
layers and conditioned by the reductions they contain (sums of ≤ 64 terms, batch norm's x − μ, softmax): 64
ULPs bounds that composition with a margin for the conditioning (measured on torch: ≤ 8 in float32 and
float64). Training: 64 ULPs per step of the path's scale, summed over the steps (trajectory.py's argument).
"""

from __future__ import annotations

from ...spec import models as M
from hypothesis import strategies as st

from ..strategies import Example
from . import OpEntry, Tolerance


def seeds(dtype, params):
    """An example is one seed: the spec draws the weights and batches from it."""
    return st.integers(0, 2**20).map(lambda s: Example([], None, {"seed": s}))

BOUND = Tolerance(64, "≤ 10 layers of family ops, each a few ULPs at the layer's scale, composed with their "
                      "reductions (≤ 64 terms, batch norm, softmax)")


def _spec(model_id):
    def forward(seed, training):  # no defaults: a model has no parameters of its own (its layers' are their ops')
        """The spec's composed model on the seed's weights and batch (nnspec.spec.models.forward)."""
        x, y = M.batch(model_id, seed)
        return M.forward(model_id, M.init_weights(model_id, seed), x, y, training)

    forward.__name__ = f"{model_id}_model"
    return forward


ROWS = [OpEntry(op=m, family="models", forward=_spec(m), vjp=None, forward_tol=BOUND, gradient_tol=BOUND,
                inputs=seeds, checks=("model", "training"),
                dtypes=("float64", "float32")) for m in M.MODELS]
