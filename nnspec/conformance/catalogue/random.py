"""Catalogue rows of the random family: dropout, the six initializers and each framework's default
initializer of dense, conv2d, lstm and embedding layers. Every row is checked by ``distribution``
(``conformance/distribution.py``): seeded samples tested against the spec's law, the deterministic part
exactly.

Sizes are chosen for power at the per-test false-alarm rate ``ALPHA``: a dropout input has 65536
elements (a rate off by 10% is ≥ 8.5σ off in the kept count, at the smallest rate drawn, 0.1), an initializer's shape is never
square and its fans differ by ≥ 2.5× (a Glorot drawn with fan_in alone has a variance off by ≥ 1.4×, a
Kolmogorov–Smirnov distance far past the test's), and every initializer's or layer's sample has ≥ 65536
elements: a normal and a truncated normal of one variance are ≈ 0.02 apart in CDF, which the test then
tells apart (p ≈ 1e-22).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ...spec import random as R
from .. import strategies as S
from . import Distribution, OpEntry, Tolerance

DROPOUT_SHAPES = [(65536,), (256, 256), (16, 16, 16, 16)]
RATES = (0.1, 0.3, 0.5, 0.7, 0.9)  # each example also runs rate 0, rate 1 and inference on its x
INIT_SHAPES = [(512, 128), (192, 480), (128, 64, 3, 3), (16, 64, 8, 8)]  # (out, in) and OIHW; fans never equal
ORTHOGONAL_SHAPES = [(4, 6), (6, 4), (5, 5), (3, 2, 2, 2)]  # small: the law is tested over DRAWS seeds
GAINS = (1.0, 2.0)
SEEDS = st.integers(0, 2**31 - 1)


def dropout_examples(dtype, params):
    @st.composite
    def example(draw):
        shape = draw(st.sampled_from(DROPOUT_SHAPES))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        # magnitudes in [0.5, 2): no zero, no underflow, so the output's zeros are exactly the dropped elements
        x = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
        return S.Example([x.astype(S.np_dtype(dtype))], None,
                         {"seed": draw(SEEDS), "rate": draw(st.sampled_from(RATES)), "training": True})

    return example()


def init_examples(shapes, gains=False):
    def factory(dtype, params):
        @st.composite
        def example(draw):
            drawn = {"shape": draw(st.sampled_from(shapes)), "seed": draw(SEEDS)}
            if gains:
                drawn["gain"] = draw(st.sampled_from(GAINS))
            return S.Example([], None, {**drawn, "dtype": dtype})

        return example()

    return factory


def layer_examples(shape):
    def factory(dtype, params):
        return st.builds(lambda seed: S.Example([], None, {"shape": shape, "seed": seed, "dtype": dtype}), SEEDS)

    return factory


KEPT = Tolerance(3, "a kept value is x/(1 − p): 1 − p rounded in the dtype, then a division or a reciprocal "
                    "and a product (x·(1/(1 − p)))")
SUPPORT = Tolerance(1, "a sample stays within its law's support, the bound rounded to the dtype (1 ULP)")
ORTHONORMAL = Tolerance(8, "QᵀQ or QQᵀ = gain²·I from a QR in the dtype: + n ULPs of gain², n the inner length",
                        extra=lambda example: max(R.orthogonal_shape(example.params["shape"])))
NONE = Tolerance(0, "no gradient: the op is a sample")


def _iid(law, name):
    return Distribution("iid", law=lambda example, **variant: law(example.params["shape"], **variant),
                        reason=f"every element iid of the spec's {name} law: one Kolmogorov–Smirnov test "
                               "of the flattened sample against its CDF")


def _init_row(op, law, variants=None):
    return OpEntry(op, "random", getattr(R, op), None, SUPPORT, NONE, inputs=init_examples(INIT_SHAPES),
                   variants=variants or {}, checks=("distribution",), distribution=_iid(law, op))


LAYERS = {  # op -> (the spec's shape, the weights the op returns)
    "dense_init": ((512, 256), ("kernel",)),
    "conv2d_init": ((128, 64, 3, 3), ("kernel",)),
    "embedding_init": ((1000, 64), ("embeddings",)),
    "lstm_init": ((128, 192), ("kernel", "recurrent_kernel")),  # (hidden, in): (512, 192) and (512, 128)
}

ROWS = [
    OpEntry("dropout", "random", R.dropout, None, KEPT, NONE, params={"rate": S.choice(*RATES),
                                                                       "training": S.choice(True)},
            inputs=dropout_examples, checks=("distribution", "defaults"),
            distribution=Distribution("dropout", law=lambda example, **variant: R.dropout_law(
                example.inputs[0], example.params["rate"]),
                reason="the kept count (the output's nonzeros) against Binomial(n, 1 − p): a two-sided exact "
                       "binomial test; the kept values against x/(1 − p) on that mask, exactly")),
    _init_row("glorot_uniform", R.glorot_uniform_law),
    _init_row("glorot_normal", R.glorot_normal_law, {"normal": ("truncated",)}),
    _init_row("he_uniform", R.he_uniform_law),
    _init_row("he_normal", R.he_normal_law, {"normal": ("truncated",)}),
    _init_row("lecun_normal", R.lecun_normal_law, {"normal": ("truncated",)}),
    OpEntry("orthogonal", "random", R.orthogonal, None, ORTHONORMAL, NONE, params={"gain": S.choice(*GAINS)},
            inputs=init_examples(ORTHOGONAL_SHAPES, gains=True), checks=("distribution", "defaults"),
            distribution=Distribution(
                "orthogonal", law=lambda example, **variant: R.orthogonal_law(example.params["shape"],
                                                                             example.params["gain"]),
                reason="orthonormal rows or columns in every draw (exact, in ULPs); entry [0, 0] over the "
                       "draws (independent seeds) against its Haar marginal: one Kolmogorov–Smirnov test")),
    *[OpEntry(op, "random", getattr(R, op), None, SUPPORT, NONE, inputs=layer_examples(shape), checks=("distribution",),
              distribution=Distribution("layer", weights=weights,
                                        reason="a fresh layer's weights fitted to every candidate law of the "
                                               "spec (Kolmogorov–Smirnov; orthonormality): the ones that fit "
                                               "are its default"))
      for op, (shape, weights) in LAYERS.items()],
]
