"""Catalogue rows of the metrics family: scalers, classification metrics, ROC AUC and early stopping.

Labels are integers held in the dtype under test (every label of ≤ 4 classes is exact in
every dtype), drawn as losses' sparse labels are (the first and last class often, any
class otherwise) plus the degenerate cases on purpose, each a share of the draws: one class
only (every true label the same), no positive prediction (every prediction 0), predictions
equal to the truth, and a single sample. Scores are multiples of 1/8 a large share of the
time (ties) or any value in [0, 1], rounded to the dtype.

Tolerances. A count (a confusion matrix, an epoch) is exact: 0 ULP. A ratio of two counts
(accuracy, precision, …) is one division of exact integers: ½ ULP if the framework divides
in the dtype, more if it computes in float32 and rounds again (1 ULP covers both). An average
of K ≤ 4 ratios: K + 1 roundings. ROC AUC sums n⁺·n⁻ ≤ 64 exact terms and divides: 2 ULP.
The scalers' sums have n ≤ 8 terms, judged in ULPs of max(|y|, 1) (y is in units of the
column's spread, the error absolute in those units).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ...spec import metrics as M
from .. import strategies as S
from . import OpEntry, Tolerance

EXACT = Tolerance(0, "an integer count of exact integer arithmetic: any difference is a different count")
RATIO = Tolerance(1, "one division of two exact counts: ½ ULP in the dtype, 1 if computed in float32 and rounded")
AVERAGE = Tolerance(6, "the mean of ≤ 4 per-class ratios (a division each, a sum and a division: ≤ 6 roundings)")
AUC = Tolerance(2, "a sum of ≤ 64 exact ½-multiples of a count, divided once; float32 counts stay exact")
SCALE = Tolerance(24, "mean and variance are sums of ≤ 8 terms (each ≤ 8 roundings) then a square root and a "
                      "division, in ULPs of max(|y|, 1)", floor=1.0)
MIN_MAX = Tolerance(4, "a subtraction, a division and a multiply-add (scikit-learn's x·s + (a − min·s) "
                       "form), in ULPs of max(|y|, |a|, |b|, 1, |min·s|)", floor=1.0)
NO_GRADIENT = Tolerance(0, "no gradient: a metric is not differentiated")
ZERO_DIVISIONS = (0.0, 1.0, float("nan"))


def _param(values):
    return lambda dtype, inputs: st.sampled_from(values)


@lru_cache(maxsize=None)
def _labels(n, classes):
    """Labels in [0, classes): losses' sparse labels, or one class only, or all 0 (no positive prediction)."""
    index = st.one_of(st.sampled_from([0, classes - 1]), st.integers(0, classes - 1))
    some = hnp.arrays(np.int64, (n,), elements=index, fill=st.nothing())
    one_class = st.integers(0, classes - 1).map(lambda c: np.full(n, c, dtype=np.int64))
    return st.one_of(some, some, some, one_class)


def label_example(averaged: bool, with_classes: bool = True):
    """y_true and y_pred (labels in the dtype), num_classes; for an averaged metric average and zero_division."""

    def factory(dtype, params):
        @st.composite
        def example(draw):
            n = draw(st.sampled_from([1, 2, 5, 8, 12]))
            classes = draw(st.sampled_from([2, 3, 4]))
            y_true = draw(_labels(n, classes))
            drawn_pred = _labels(n, classes)
            y_pred = draw(st.one_of(drawn_pred, drawn_pred, drawn_pred, st.just(y_true.copy()),
                                    st.just(np.zeros(n, np.int64))))
            drawn = {"num_classes": classes} if with_classes else {}
            if averaged:
                averages = M.AVERAGES if classes == 2 else M.AVERAGES[1:]
                drawn["average"] = draw(st.sampled_from(averages))
                drawn["zero_division"] = draw(st.sampled_from(ZERO_DIVISIONS))
            inputs = [y_true.astype(S.np_dtype(dtype)), y_pred.astype(S.np_dtype(dtype))]
            return S.Example(inputs=inputs, cotangent=None, params=drawn)

        return example()

    return factory


@lru_cache(maxsize=None)
def _scores(shape, dtype):
    grid = st.integers(0, 8).map(lambda i: i / 8)
    return hnp.arrays(np.float64, shape, elements=st.one_of(grid, grid, st.floats(0.0, 1.0)),
                      fill=st.nothing()).map(lambda a: a.astype(S.np_dtype(dtype)))


def top_k_example(dtype, params):
    @st.composite
    def example(draw):
        n, classes = draw(st.sampled_from([1, 3, 8])), draw(st.sampled_from([3, 5]))
        y_true = draw(_labels(n, classes))
        k = draw(st.integers(1, classes - 1))
        return S.Example([y_true.astype(S.np_dtype(dtype)), draw(_scores((n, classes), dtype))], None, {"k": k})

    return example()


def auc_example(dtype, params):
    @st.composite
    def example(draw):
        n = draw(st.sampled_from([1, 2, 5, 8]))
        y_true = draw(_labels(n, 2))
        return S.Example([y_true.astype(S.np_dtype(dtype)), draw(_scores((n,), dtype))], None, {})

    return example()


@lru_cache(maxsize=None)
def _columns(n, d, dtype):
    """A (n, d) array: quarters in [−8, 8] (exact sums), any in [−10, 10], or a constant column."""
    quarter = st.integers(-32, 32).map(lambda i: i / 4)
    values = hnp.arrays(np.float64, (n, d), elements=st.one_of(quarter, st.floats(-10.0, 10.0)), fill=st.nothing())
    constant = st.tuples(values, st.integers(0, d - 1), quarter).map(
        lambda drawn: np.where(np.arange(d) == drawn[1], drawn[2], drawn[0]))
    return st.one_of(values, values, constant).map(lambda a: a.astype(S.np_dtype(dtype)))


def scale_example(dtype, params):
    @st.composite
    def example(draw):
        ddof = draw(st.sampled_from([0, 1]))
        n = draw(st.sampled_from([2, 3, 8] if ddof else [1, 2, 3, 8]))
        x = draw(_columns(n, draw(st.sampled_from([1, 3])), dtype))
        return S.Example([x], None, {"ddof": ddof, "epsilon": draw(st.sampled_from([0.0, 1e-3]))})

    return example()


def min_max_example(dtype, params):
    @st.composite
    def example(draw):
        x = draw(_columns(draw(st.sampled_from([1, 2, 5, 8])), draw(st.sampled_from([1, 3])), dtype))
        return S.Example([x], None, {"feature_range": draw(st.sampled_from([(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)]))})

    return example()


def early_stopping_example(dtype, params):
    """A val-loss sequence of 3 to 20 epochs (a descent then plateaus; ties on a ⅛ grid), and its parameters."""

    @st.composite
    def example(draw):
        steps = draw(st.integers(3, 20))
        grid = st.integers(0, 16).map(lambda i: i / 8)
        values = draw(hnp.arrays(np.float64, (steps,), elements=st.one_of(grid, st.floats(0.0, 2.0)),
                                 fill=st.nothing()))
        if draw(st.booleans()):  # a descending run, then whatever: the usual training curve
            values = np.minimum.accumulate(values) if draw(st.booleans()) else np.sort(values)[::-1].copy()
        drawn = {"patience": draw(st.integers(0, 5)), "min_delta": draw(st.sampled_from([0.0, 0.125, 0.01])),
                 "mode": draw(st.sampled_from(["min", "max"])),
                 "baseline": draw(st.sampled_from([None, None, 1.0, 0.5]))}
        inputs = [np.zeros(2, S.np_dtype(dtype)), values.astype(S.np_dtype(dtype))]
        return S.Example(inputs, None, drawn)

    return example()


def _min_max_floor(example):
    """max(|a|, |b|, 1, |min·s|) per column, s = (b − a)/(max − min): the terms scikit-learn's x·s + (a − min·s)
    adds, whose rounding is absolute at that scale."""
    a, b = example.params.get("feature_range", (0.0, 1.0))
    x = example.inputs[0].astype(np.float64)
    low, span = x.min(axis=0), x.max(axis=0) - x.min(axis=0)
    s = (b - a) / np.where(span == 0, 1.0, span)
    return np.broadcast_to(np.maximum(max(abs(a), abs(b), 1.0), np.abs(low * s)), x.shape)


CLASSIFICATION = ("values", "defaults", "streaming")
AVERAGED_PARAMS = {"num_classes": _param([2, 3, 4]), "average": _param(M.AVERAGES),
                   "zero_division": _param(ZERO_DIVISIONS)}

ROWS = [
    OpEntry(op="standard_scale", family="metrics", forward=M.standard_scale, vjp=None, forward_tol=SCALE,
            gradient_tol=NO_GRADIENT, inputs=scale_example, wrt=(),
            params={"ddof": _param([0, 1]), "epsilon": _param([0.0, 1e-3])}, variants={"ddof": (1,)}),
    OpEntry(op="min_max_scale", family="metrics", forward=M.min_max_scale, vjp=None,
            forward_tol=Tolerance(MIN_MAX.max_ulp, MIN_MAX.reason, floor=_min_max_floor), gradient_tol=NO_GRADIENT,
            inputs=min_max_example, wrt=(), params={"feature_range": _param([(0.0, 1.0), (-1.0, 1.0)])},
            variants={"near_constant": ("10eps",)}),
    OpEntry(op="accuracy", family="metrics", forward=M.accuracy, vjp=None, forward_tol=RATIO,
            gradient_tol=NO_GRADIENT, inputs=label_example(False, with_classes=False), wrt=(), checks=("values", "streaming")),
    OpEntry(op="top_k_accuracy", family="metrics", forward=M.top_k_accuracy, vjp=None, forward_tol=RATIO,
            gradient_tol=NO_GRADIENT, inputs=top_k_example, wrt=(), params={"k": _param([1, 2])},
            variants={"ties": ("last", "first")}, checks=CLASSIFICATION),
    OpEntry(op="confusion_matrix", family="metrics", forward=M.confusion_matrix, vjp=None, forward_tol=EXACT,
            gradient_tol=NO_GRADIENT, inputs=label_example(False), wrt=(), params={"num_classes": _param([2, 3, 4])},
            checks=CLASSIFICATION),
    *(OpEntry(op=op, family="metrics", forward=getattr(M, op), vjp=None, forward_tol=AVERAGE,
              gradient_tol=NO_GRADIENT, inputs=label_example(True), wrt=(), params=AVERAGED_PARAMS,
              variants={"macro_as": ("micro",), "nan_average": ("propagate",),
                        **({"f1_form": ("harmonic",)} if op == "f1" else {})},
              checks=CLASSIFICATION)
      for op in ("precision", "recall", "f1")),
    OpEntry(op="roc_auc", family="metrics", forward=M.roc_auc, vjp=None, forward_tol=AUC, gradient_tol=NO_GRADIENT,
            inputs=auc_example, wrt=(), variants={"num_thresholds": (200,)}, checks=("values", "streaming")),
    OpEntry(op="early_stopping", family="metrics", forward=M.early_stopping, vjp=None, forward_tol=EXACT,
            gradient_tol=EXACT, inputs=early_stopping_example, wrt=(),
            params={"patience": _param([0, 2, 5]), "min_delta": _param([0.0, 0.125]), "mode": _param(["min", "max"]),
                    "baseline": _param([None, 1.0])},
            variants={"count": ("exceed",)}, checks=("trajectory", "defaults")),
]
