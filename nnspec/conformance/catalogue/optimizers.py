"""Catalogue rows of the optimizers family: optimizers, learning-rate schedules, gradient clipping.

Optimizer rows run the ``trajectory`` check (conformance/trajectory.py) on examples of
``STEPS`` gradients; schedule rows the ``schedule`` check; clipping rows, stateless,
the ordinary ``values`` check (forward only: clipping is applied to gradients, never
differentiated, so their examples carry no cotangent and the gradient check skips).

Examples are drawn in the dtype under test, so both sides use the same numbers: the
learning rates rounded to it, the other hyper-parameters as float32 numbers rounded to it
(see ``rounded``; a β that rounds to 1 is redrawn). A gradient
sequence is built from a few segments drawn by hypothesis — zeros, a run of one
repeated gradient, sign flips, random gradients, a single huge spike — each at its own
magnitude (1, tiny, huge, ...), cycled to ``STEPS`` steps; the values inside a segment
come from NumPy's generator seeded by hypothesis (drawing thousands of floats one by
one would dominate the run), so hypothesis shrinks the structure, not each value.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ...spec import clipping as C
from ...spec import optimizers as O
from ...spec import schedules as L
from .. import strategies as S
from ..measure import finfo
from . import OpEntry, Tolerance

STEPS = 100
# Optimizers are elementwise: a row shorter and one longer than a SIMD register suffice (every
# new shape costs a compiling framework one compile per primitive).
SHAPES = [(3,), (16,)]
KINDS = ("zeros", "constant", "flip", "random", "spike")  # simplest first: hypothesis shrinks towards it


def magnitudes(dtype: str) -> dict:
    """Gradient magnitudes: 'huge' keeps STEPS·g² finite in ``dtype`` (Adagrad sums g² over every
    step); 'tiny' is √(smallest normal), so that g² reaches the bottom of the range while g, lr·g and
    (1 − β)·g stay normal (subnormals are the values checks' business: here they would only measure
    flush-to-zero, which every moment it touches hides behind ε)."""
    info = finfo(S.np_dtype(dtype))
    return {"one": 1.0, "small": 1e-3, "large": 1e3, "tiny": math.sqrt(float(info.tiny)),
            "huge": math.sqrt(float(info.max) / STEPS) / 4}


@st.composite
def gradient_sequence(draw, dtype: str, shape, steps: int = STEPS) -> np.ndarray:
    sizes = magnitudes(dtype)
    segments = draw(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(1, 40), st.sampled_from(list(sizes)),
                                       st.integers(0, 2**32 - 1)), min_size=1, max_size=8))
    parts = []
    for kind, length, size, rng_seed in segments:
        rng, scale = np.random.default_rng(rng_seed), sizes[size]
        one = scale * rng.uniform(-1, 1, shape)
        if kind == "zeros":
            parts.append(np.zeros((length, *shape)))
        elif kind == "constant":
            parts.append(np.broadcast_to(one, (length, *shape)))
        elif kind == "flip":
            parts.append(one * np.where(np.arange(length) % 2 == 0, 1.0, -1.0).reshape(-1, *[1] * len(shape)))
        elif kind == "random":
            parts.append(scale * rng.uniform(-1, 1, (length, *shape)))
        else:  # spike: one step at the largest magnitude
            parts.append(sizes["huge"] * np.sign(one + (one == 0))[None])
    sequence = np.concatenate(parts)
    cycled = sequence[np.arange(steps) % len(sequence)]
    return cycled.astype(S.np_dtype(dtype))


@st.composite
def trajectory_example(draw, dtype: str, params: dict) -> S.Example:
    """Initial parameters of one shape, STEPS gradients of that shape, the learning rate of each step,
    and the other hyper-parameters.

    The learning rate is drawn with the hyper-parameters (its strategy is the row's "lr", whose
    default the defaults check reads) but travels as the third input, an array of one rate per
    step: a sequence of rates is data, not a setting (and JAX's adapter keeps its settings static).
    """
    shape = draw(st.sampled_from(SHAPES))
    start_scale = draw(st.sampled_from([1.0, 0.0, 1e-3, 1e3]))
    start = start_scale * np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal(shape)
    inputs = [np.asarray(start).astype(S.np_dtype(dtype)), draw(gradient_sequence(dtype, shape))]
    drawn = {name: draw(strategy(dtype, inputs)) for name, strategy in params.items()}
    inputs.append(np.broadcast_to(np.asarray(drawn.pop("lr"), dtype=np.float64), (STEPS,)).astype(S.np_dtype(dtype)))
    return S.Example(inputs=inputs, cotangent=None, params=drawn)


# hyper-parameter strategies: (dtype, inputs) -> strategy ---------------------------------


def rounded(values, low: float, high: float, below_one: bool = False, positive: bool = False):
    """A float hyper-parameter: the common values often, else uniform in [low, high]; a float32 number
    rounded to the dtype (Keras casts Python-float hyper-parameters through float32, even for float64
    variables: drawing float32 numbers keeps that rounding of the input from masking the formulas)."""

    def draw(dtype, inputs):
        tiny = float(finfo(S.np_dtype(dtype)).tiny)
        strategy = st.one_of(st.sampled_from(values), st.floats(low, high)).map(
            lambda v: S.in_dtype(S.in_dtype(v, "float32"), dtype))
        if below_one:
            strategy = strategy.filter(lambda v: v < 1)
        if positive:  # a subnormal ε would be flushed to 0 by FTZ arithmetic, and then divide by zero
            strategy = strategy.filter(lambda v: v >= tiny)
        return strategy

    return draw


def learning_rates(dtype, inputs):
    """A constant rate, or one per step (changing rates tell apart formulations that agree while it is constant)."""
    steps = len(inputs[1])
    base = st.one_of(st.sampled_from([1e-3, 1e-2, 0.1, 1.0]), st.floats(-5, 0).map(lambda e: 10.0**e))
    pattern = st.sampled_from(["constant", "constant", "halving", "cosine", "random"])

    @st.composite
    def draw(draw_):
        lr, kind = draw_(base), draw_(pattern)
        if kind == "constant":
            return S.in_dtype(lr, dtype)
        t = np.arange(steps)
        if kind == "halving":
            factors = 0.5 ** (t // draw_(st.integers(1, 30)))
        elif kind == "cosine":
            factors = (1 + np.cos(np.pi * t / steps)) / 2 + 1e-3
        else:
            factors = np.random.default_rng(draw_(st.integers(0, 2**32 - 1))).uniform(0.1, 1.0, steps)
        return [S.in_dtype(lr * f, dtype) for f in factors]

    return draw()


BETA1 = rounded([0.9, 0.0, 0.5, 0.99], 0.0, 0.999, below_one=True)
BETA2 = rounded([0.999, 0.99, 0.9, 0.9999], 0.9, 0.99999, below_one=True)
EPS = rounded([1e-8, 1e-7, 1e-10, 1e-6, 1e-4, 1e-3], 1e-10, 1e-3, positive=True)
MOMENTUM = rounded([0.9, 0.0, 0.5, 0.99], 0.0, 0.999, below_one=True)
NESTEROV = rounded([0.9, 0.5, 0.99], 0.01, 0.999, below_one=True)  # μ = 0 is plain SGD (torch refuses it)
RHO = rounded([0.9, 0.99, 0.5], 0.5, 0.999, below_one=True)
WEIGHT_DECAY = rounded([0.0, 0.01, 0.1, 1e-4], 0.0, 0.1)
ACCUMULATOR = rounded([0.0, 0.1, 1.0], 0.0, 1.0)
LR_DECAY = rounded([0.0, 0.0, 0.0, 0.01], 0.0, 0.1)  # d = 0 often: the frameworks without the option check on those
FLAG = S.choice(False, True)

# tolerances: k ULPs of the path's scale a step (the trajectory check allows Σ k·κₜ) -------------

# Each rounding costs ≤ ½ ULP of its result; an update is at most twice the path's scale (w₁ = w₀ − u),
# so a step whose update carries r rounded operations is within about r + ½ ULPs of the path's scale.
ONE_STEP = Tolerance(1, "lr·g and w − lr·g: two roundings a step; the trajectory allows the sum over its steps")
MOMENTUM_STEP = Tolerance(2, "μv + g, lr·v and the subtraction: four roundings a step, summed over the steps")
NESTEROV_STEP = Tolerance(3, "the buffer, g + μv, lr·(…) and the subtraction: six roundings a step, summed")
ADAPTIVE_STEP = Tolerance(6, "g², the accumulator, √, +ε, lr·g, ÷ and the subtraction: seven roundings a step "
                             "(more with momentum or centering), summed over the steps")
ADAM_STEP = Tolerance(10, "two moving averages (two roundings each), g², two bias corrections, √, +ε, ÷, lr·(…) "
                          "and the subtraction a step, summed (× κₜ where 1 − βᵗ cancels)")
NADAM_STEP = Tolerance(12, "Adam's roundings plus the momentum schedule's two-term update a step, summed "
                           "(× κₜ where 1 − μₜ, 1 − Πμ or 1 − β₂ᵗ cancel)")

LR = {"lr_dtype": ("float32",)}  # Keras holds the learning rate in a float32 variable


def optimizer(op, forward, tolerance, params, variants=None):
    return OpEntry(op, "optimizers", forward, None, tolerance, tolerance, params={"lr": learning_rates, **params},
                   variants={**(variants or {}), **LR}, inputs=trajectory_example, checks=("trajectory", "defaults"))


L2 = {"weight_decay": WEIGHT_DECAY}  # λ, coupled by default: which frameworks decouple it is the finding
DECOUPLED = {"weight_decay_mode": ("decoupled", "decoupled_unscaled")}

OPTIMIZERS = [
    optimizer("sgd", O.sgd, ONE_STEP, L2, DECOUPLED),
    optimizer("momentum", O.momentum, MOMENTUM_STEP, {"momentum": MOMENTUM, **L2}, {"lr_in_buffer": (True,), **DECOUPLED}),
    optimizer("nesterov", O.nesterov, NESTEROV_STEP, {"momentum": NESTEROV, **L2},
              {"lr_in_buffer": (True,), "formulation": ("lookahead",), **DECOUPLED}),
    optimizer("adagrad", O.adagrad, ADAPTIVE_STEP, {"initial_accumulator": ACCUMULATOR, "eps": EPS, **L2, "lr_decay": LR_DECAY},
              {"eps_placement": ("inside",), **DECOUPLED}),
    optimizer("rmsprop", O.rmsprop, ADAPTIVE_STEP,
              {"rho": RHO, "eps": EPS, "centered": FLAG, "momentum": MOMENTUM, **L2},
              {"eps_placement": ("inside",), "lr_in_buffer": (True,), **DECOUPLED}),
    optimizer("adam", O.adam, ADAM_STEP,
              {"beta1": BETA1, "beta2": BETA2, "eps": EPS, "amsgrad": FLAG, **L2},
              {"eps_placement": ("raw", "inside"), "amsgrad_max": ("corrected",), **DECOUPLED}),
    optimizer("adamw", O.adamw, ADAM_STEP,
              {"beta1": BETA1, "beta2": BETA2, "eps": EPS, "weight_decay": WEIGHT_DECAY},
              {"eps_placement": ("raw", "inside"), "weight_decay_mode": ("decoupled_unscaled", "coupled")}),
    optimizer("adamax", O.adamax, ADAPTIVE_STEP, {"beta1": BETA1, "beta2": BETA2, "eps": EPS},
              {"eps_placement": ("max",)}),
    optimizer("nadam", O.nadam, NADAM_STEP, {"beta1": BETA1, "beta2": BETA2, "eps": EPS},
              {"momentum_decay": (1.0, math.inf), "product_dtype": ("float32",)}),
]


# schedules ----------------------------------------------------------------------------------


def schedule_example(*extra_inputs):
    """The initial (or peak) rate as a scalar in the dtype, ``extra_inputs`` strategies
    (dtype -> strategy of an array), the number of steps, and the parameters."""

    @st.composite
    def example(draw, dtype: str, params: dict) -> S.Example:
        rates = st.one_of(st.sampled_from([0.1, 1e-3, 1.0, 0.01]), st.floats(-5, 0).map(lambda e: 10**e))
        lr = S.in_dtype(draw(rates), dtype)
        inputs = [np.asarray(lr, dtype=S.np_dtype(dtype))] + [draw(make(dtype)) for make in extra_inputs]
        drawn = {} if extra_inputs else {"steps": draw(st.integers(1, STEPS))}
        drawn.update({name: draw(strategy(dtype, inputs)) for name, strategy in params.items()})
        return S.Example(inputs=inputs, cotangent=None, params=drawn)

    return example


def fraction_of_lr(values, low, high):
    """A rate given as a fraction of the example's initial rate (lr_min, lr_start, min_lr)."""

    def draw(dtype, inputs):
        lr = float(inputs[0])
        return st.one_of(st.sampled_from(values), st.floats(low, high)).map(lambda f: S.in_dtype(f * lr, dtype))

    return draw


def integers(low, high):
    def draw(dtype, inputs):
        return st.integers(low, high)

    return draw


def metric_sequence(dtype: str):
    """Up to STEPS epochs of a validation metric: segments that improve, stall, wiggle or creep
    down by about the threshold, from NumPy's generator seeded by hypothesis."""

    @st.composite
    def draw(draw_):
        segments = draw_(st.lists(st.tuples(st.sampled_from(["flat", "down", "wiggle", "creep"]),
                                            st.integers(1, 30), st.integers(0, 2**32 - 1)), min_size=1, max_size=8))
        value, metrics = 1.0, []
        for kind, length, rng_seed in segments:
            rng = np.random.default_rng(rng_seed)
            for _ in range(length):
                if kind == "down":
                    value *= 1 - rng.uniform(0.01, 0.3)
                elif kind == "wiggle":
                    value *= 1 + rng.uniform(-0.05, 0.05)
                elif kind == "creep":
                    value *= 1 - 10 ** rng.uniform(-6, -2)
                metrics.append(value)
        return np.asarray(metrics[:STEPS]).astype(S.np_dtype(dtype))

    return draw()


GAMMA = rounded([0.1, 0.5, 0.9, 0.99], 0.01, 0.999, below_one=True)
FACTOR = rounded([0.1, 0.5, 0.2], 0.01, 0.9)

CLOSED_FORM = Tolerance(4, "a power (or a product) and a product, each within an ULP or two")
COSINE = Tolerance(8, "cos(πt/T) is accurate to absolute error, its argument rounded: ULPs of the peak rate",
                   floor=1.0)
LINEAR = Tolerance(4, "a ratio t/W, a product and a sum: ULPs of the peak rate", floor=1.0)
PLATEAU = Tolerance(64, "one rounding per reduction, at most ~50 in 100 epochs with patience ≥ 1; a different "
                        "decision is off by the factor (≥ 10%: hundreds of ULPs even in float16)")
RECURSIVE = {"form": ("recursive",)}

SCHEDULES = [
    OpEntry("step_decay", "optimizers", L.step_decay, None, CLOSED_FORM, CLOSED_FORM,
            params={"step_size": integers(1, 30), "gamma": GAMMA}, variants=RECURSIVE,
            inputs=schedule_example(), checks=("schedule", "defaults")),
    OpEntry("exponential_decay", "optimizers", L.exponential_decay, None, CLOSED_FORM, CLOSED_FORM,
            params={"gamma": GAMMA}, variants=RECURSIVE, inputs=schedule_example(), checks=("schedule",)),
    OpEntry("cosine_annealing", "optimizers", L.cosine_annealing, None, COSINE, COSINE,
            params={"T": integers(1, 60), "lr_min": fraction_of_lr([0.0, 0.01, 0.1], 0.0, 0.5)},
            variants={**RECURSIVE, "after_T": ("periodic",)}, inputs=schedule_example(),
            checks=("schedule", "defaults")),
    OpEntry("linear_warmup", "optimizers", L.linear_warmup, None, LINEAR, LINEAR,
            params={"warmup_steps": integers(1, 40), "lr_start": fraction_of_lr([0.0, 0.1, 1 / 3], 0.0, 1.0)},
            variants=RECURSIVE, inputs=schedule_example(), checks=("schedule", "defaults")),
    OpEntry("warmup_cosine", "optimizers", L.warmup_cosine, None, COSINE, COSINE,
            params={"warmup_steps": integers(1, 40), "T": integers(1, 60),
                    "lr_start": fraction_of_lr([0.0, 0.1, 1 / 3], 0.0, 1.0),
                    "lr_min": fraction_of_lr([0.0, 0.01, 0.1], 0.0, 0.5)},
            variants={**RECURSIVE, "after_T": ("periodic",)}, inputs=schedule_example(),
            checks=("schedule", "defaults")),
    OpEntry("reduce_on_plateau", "optimizers", L.reduce_on_plateau, None, PLATEAU, PLATEAU,
            params={"factor": FACTOR, "patience": integers(1, 10),
                    "threshold": rounded([1e-4, 1e-3, 1e-2], 1e-6, 0.1, positive=True),
                    "cooldown": integers(0, 5), "min_lr": fraction_of_lr([0.0, 0.01, 0.1], 0.0, 0.5)},
            variants={"threshold_mode": ("abs",), "patience_rule": ("reaches",), "cooldown_rule": ("last_counts",),
                      "min_decay": (1e-8,), "lr_dtype": ("float32",)},
            inputs=schedule_example(metric_sequence), checks=("schedule", "defaults")),
]


# clipping -------------------------------------------------------------------------------------


def gradients(shapes=None):
    """Finite gradient arrays — one of a shape from the menu, or one per shape in ``shapes`` — and the
    clipping parameter; no cotangent: clipping is not differentiated.

    Values span the dtype's range up to the magnitude at which the sum of all squares would
    overflow (norms are computed in the gradients' dtype everywhere; past that, no norm is).
    """

    @st.composite
    def example(draw, dtype: str, params: dict) -> S.Example:
        drawn_shapes = shapes or [draw(st.sampled_from(S.SHAPES))]
        size = sum(math.prod(shape) for shape in drawn_shapes)
        largest = math.sqrt(float(finfo(S.np_dtype(dtype)).max) / max(size, 1)) / 2
        inputs = [np.clip(draw(S.arrays(dtype, shape, finite=True)), -largest, largest).astype(S.np_dtype(dtype))
                  for shape in drawn_shapes]
        return S.Example(inputs, None, {name: draw(strategy(dtype, inputs)) for name, strategy in params.items()})

    return example


def summation(example: S.Example) -> float:
    """ULPs a sum of n squares may lose, relative to the norm: n/4 (n/2 for the sum, halved by √)."""
    return sum(a.size for a in example.inputs) / 4


EXACT = Tolerance(0, "min and max round nothing")
THRESHOLD = rounded([1.0, 0.5, 5.0, 0.1], 1e-3, 100.0, positive=True)
NORM = Tolerance(4, "the norm (a sum of squares, extra n/4 ULPs, and a root), a quotient and a product",
                 extra=summation)
NORM_EPS = {"norm_eps": (1e-6,)}

CLIPPING = [
    OpEntry("clip_by_value", "optimizers", C.clip_by_value, None, EXACT, EXACT, params={"clip_value": THRESHOLD},
            inputs=gradients(), checks=("values",)),
    OpEntry("clip_by_norm", "optimizers", C.clip_by_norm, None, NORM, NORM, params={"max_norm": THRESHOLD},
            variants=NORM_EPS, inputs=gradients(), checks=("values",)),
    OpEntry("clip_by_global_norm", "optimizers", C.clip_by_global_norm, None, NORM, NORM,
            params={"max_norm": THRESHOLD}, variants=NORM_EPS, inputs=gradients([(), (3,), (2, 4)]),
            checks=("values",)),
]

ROWS = [*OPTIMIZERS, *SCHEDULES, *CLIPPING]
