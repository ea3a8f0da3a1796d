"""The metrics spec against exact rational arithmetic (fractions.Fraction), mpmath and hand-worked
cases, never a framework: brute-force oracles count every sample, pair and class one by one."""

from __future__ import annotations

import inspect
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from nnspec.spec import metrics as M


@st.composite
def labelled(draw, max_classes=4):
    k = draw(st.integers(2, max_classes))
    n = draw(st.integers(1, 12))
    t = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    p = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    return np.array(t, float), np.array(p, float), k


def oracle_counts(t, p, k):
    tp = [sum(1 for a, b in zip(t, p) if a == b == c) for c in range(k)]
    fp = [sum(1 for a, b in zip(t, p) if b == c and a != c) for c in range(k)]
    fn = [sum(1 for a, b in zip(t, p) if a == c and b != c) for c in range(k)]
    return tp, fp, fn


def oracle_metric(kind, tp, fp, fn, zd):
    num, den = {"precision": (tp, tp + fp), "recall": (tp, tp + fn), "f1": (2 * tp, 2 * tp + fp + fn)}[kind]
    return Fraction(num, den) if den else zd


def oracle_average(kind, t, p, k, average, zd):
    tp, fp, fn = oracle_counts(t, p, k)
    if average == "binary":
        return oracle_metric(kind, tp[1], fp[1], fn[1], zd)
    if average == "micro":
        return oracle_metric(kind, sum(tp), sum(fp), sum(fn), zd)
    per = [oracle_metric(kind, tp[c], fp[c], fn[c], zd) for c in range(k)]
    support = [tp[c] + fn[c] for c in range(k)]
    keep = [c for c in range(k) if not (isinstance(per[c], float) and math.isnan(per[c]))]
    if not keep:
        return math.nan
    weights = {c: 1 if average == "macro" else support[c] for c in keep}
    if sum(weights.values()) == 0:
        return zd
    return sum(Fraction(per[c]) * weights[c] for c in keep) / sum(weights.values())


def same(value, exact):
    value = float(value)
    if isinstance(exact, float) and math.isnan(exact):
        return math.isnan(value)
    return value == float(exact)  # the spec divides exact integers once, in float64: correctly rounded


@seed(19)
@settings(max_examples=300)
@given(labelled(), st.sampled_from(["precision", "recall", "f1"]), st.sampled_from(M.AVERAGES),
       st.sampled_from([0.0, 1.0, math.nan]))
def test_averaged_metrics_are_the_brute_force_counts(case, kind, average, zd):
    t, p, k = case
    if average == "binary" and k != 2:
        return
    value = getattr(M, kind)(t, p, num_classes=k, average=average, zero_division=zd)
    exact = oracle_average(kind, t, p, k, average, zd)
    if average in ("macro", "weighted") and not (isinstance(exact, float)):
        assert float(value) == pytest.approx(float(exact), rel=4e-16, abs=0)  # a sum of ≤ 4 quotients, then one
    else:
        assert same(value, exact)


@seed(19)
@settings(max_examples=200)
@given(labelled())
def test_confusion_matrix_and_accuracy_count_every_sample(case):
    t, p, k = case
    matrix = M.confusion_matrix(t, p, num_classes=k)
    for i in range(k):
        for j in range(k):
            assert matrix[i, j] == sum(1 for a, b in zip(t, p) if a == i and b == j)
    assert float(M.accuracy(t, p)) == float(Fraction(sum(a == b for a, b in zip(t, p)), len(t)))
    assert float(M.precision(t, p, num_classes=k, average="micro")) == float(M.accuracy(t, p))  # every class counted: micro P = accuracy


@st.composite
def scored(draw):
    n = draw(st.integers(1, 10))
    t = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    s = draw(st.lists(st.one_of(st.integers(0, 8).map(lambda i: i / 8), st.floats(0, 1)), min_size=n, max_size=n))
    return np.array(t, float), np.array(s)


@seed(23)
@settings(max_examples=300)
@given(scored())
def test_roc_auc_is_the_pairwise_probability_and_the_area_under_the_exact_curve(case):
    t, s = case
    pos, neg = s[t == 1], s[t == 0]
    value = float(M.roc_auc(t, s))
    if not len(pos) or not len(neg):
        assert math.isnan(value)
        return
    pairs = sum(Fraction(1) if a > b else Fraction(1, 2) if a == b else 0 for a in pos for b in neg)
    assert value == float(pairs / (len(pos) * len(neg)))
    # the same area as the trapezoids of the ROC curve through every distinct score
    cuts = sorted(set(s), reverse=True)
    points = [(Fraction(0), Fraction(0))] + [(Fraction(int(np.sum(neg >= c)), len(neg)),
                                              Fraction(int(np.sum(pos >= c)), len(pos))) for c in cuts]
    area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(points, points[1:]))
    assert value == float(area)


@seed(23)
@settings(max_examples=100)
@given(scored())
def test_200_thresholds_are_exact_on_scores_of_eighths(case):
    """Keras' thresholds i/199 never fall on a multiple of 1/8 inside (0, 1): every distinct score is cut."""
    t, s = case
    s = np.round(s * 8) / 8
    exact, thresholded = float(M.roc_auc(t, s)), float(M.roc_auc(t, s, num_thresholds=200))
    assert (math.isnan(exact) and math.isnan(thresholded)) or thresholded == pytest.approx(exact, abs=1e-15)


def test_roc_auc_textbook_example_and_too_few_thresholds():
    t = np.array([0, 0, 1, 1.0])
    assert float(M.roc_auc(t, np.array([0.1, 0.4, 0.35, 0.8]))) == 0.75  # scikit-learn's documented example
    s = np.array([0.1, 0.6, 0.35, 0.8])
    assert float(M.roc_auc(t, s)) == 0.75
    assert float(M.roc_auc(t, s, num_thresholds=3)) == 0.5  # one inner threshold (½): a coarse curve


@seed(29)
@settings(max_examples=200)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 4), min_size=n, max_size=n), st.lists(st.lists(
        st.integers(0, 4).map(lambda i: i / 4), min_size=5, max_size=5), min_size=n, max_size=n))),
    st.integers(1, 5), st.sampled_from(["all", "last", "first"]))
def test_top_k_accuracy_by_brute_force(case, k, ties):
    t, s = np.array(case[0], float), np.array(case[1])
    hits = 0
    for label, row in zip(case[0], case[1]):
        higher = sum(v > row[label] for v in row)
        tied_before = sum(1 for c, v in enumerate(row) if v == row[label] and (c > label if ties == "last" else c < label))
        hits += higher < k if ties == "all" else higher + tied_before < k
    assert float(M.top_k_accuracy(t, s, k=k, ties=ties)) == float(Fraction(hits, len(t)))
    if k == 5:
        assert float(M.top_k_accuracy(t, s, k=k, ties=ties)) == 1.0  # every class is in the top K


@seed(31)
@settings(max_examples=200)
@given(st.integers(1, 8).flatmap(lambda n: st.lists(st.lists(st.floats(-10, 10), min_size=2, max_size=2),
                                                    min_size=n, max_size=n)),
       st.sampled_from([0, 1]), st.sampled_from([0.0, 1e-3]))
def test_standard_scale_against_mpmath(rows, ddof, epsilon):
    x = np.array(rows)
    n = len(rows)
    if n - ddof <= 0:
        return
    y = M.standard_scale(x, ddof, epsilon)
    mpmath.mp.prec = 200
    for j in range(2):
        col = [mpmath.mpf(float(v)) for v in x[:, j]]
        mean = sum(col) / n
        var = sum((v - mean) ** 2 for v in col) / (n - ddof)
        scale = mpmath.sqrt(var + mpmath.mpf(epsilon))
        for i in range(n):
            exact = (col[i] - mean) / scale if scale != 0 else col[i] - mean
            assert abs(y[i, j] - float(exact)) <= 64 * 2.0 ** -52 * max(1.0, abs(float(exact)))  # sums of ≤ 8 terms


def test_standard_scale_pinned_cases():
    assert M.standard_scale(np.array([[0.0], [2.0]])).tolist() == [[-1.0], [1.0]]  # std 1 (biased)
    assert M.standard_scale(np.array([[0.0], [2.0]]), ddof=1) == pytest.approx(np.array([[-2 ** -0.5], [2 ** -0.5]]))
    assert M.standard_scale(np.array([[3.0], [3.0], [3.0]])).tolist() == [[0.0]] * 3  # zero variance: scale 1
    assert M.standard_scale(np.array([[5.0]])).tolist() == [[0.0]]  # a single sample


@seed(37)
@settings(max_examples=200)
@given(st.integers(1, 6).flatmap(lambda n: st.lists(st.integers(-16, 16).map(lambda i: i / 4), min_size=n,
                                                    max_size=n)),
       st.sampled_from([(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)]))
def test_min_max_scale_is_exact_on_quarters(column, feature_range):
    x = np.array(column)[:, None]
    y = M.min_max_scale(x, feature_range)
    a, b = (Fraction(v) for v in feature_range)
    low, high = Fraction(min(column)), Fraction(max(column))
    for v, got in zip(column, y[:, 0]):
        exact = a + (Fraction(v) - low) / ((high - low) or 1) * (b - a)
        assert abs(got - float(exact)) <= 2 * 2.0 ** -52 * max(1.0, abs(float(b)))


def test_min_max_near_constant_variant_is_scikit_learns_10_eps_rule():
    x = np.array([[0.0], [1e-16]])
    assert M.min_max_scale(x).tolist() == [[0.0], [1.0]]
    assert M.min_max_scale(x, near_constant="10eps").tolist() == [[0.0], [1e-16]]  # range < 10·2⁻⁵² : constant
    x32 = np.array([[0.0], [1e-6]], np.float32)  # below 10·eps of float32 (1.19e-6), not of float64
    assert M.min_max_scale(x32, near_constant="10eps")[1, 0] == pytest.approx(1e-6)
    assert M.min_max_scale(x32.astype(np.float64), near_constant="10eps")[1, 0] == 1.0


EARLY = [  # values, params, the epoch training stops after (None: never), the best epoch at the end
    ([1.0, 0.9, 0.95, 0.96, 0.97], {"patience": 2}, 3, 1),
    ([1.0, 0.9, 0.95, 0.96, 0.97], {"patience": 0}, 2, 1),  # patience 0: the first non-improving epoch stops
    ([1.0, 0.9, 0.8, 0.7], {"patience": 1}, None, 3),
    ([1.0, 0.95, 0.9, 0.85], {"patience": 2, "min_delta": 0.1}, 2, 0),  # steps of 0.05 are no improvement
    ([0.1, 0.2, 0.3, 0.25, 0.2], {"patience": 2, "mode": "max"}, 4, 2),
    ([2.0, 1.5, 1.2, 1.2, 1.2], {"patience": 3, "baseline": 1.0}, 3, 2),  # never beats the baseline: wait runs on
    ([1.0, 1.0, 1.0], {"patience": 1}, 1, 0),  # a tie is no improvement
]


@pytest.mark.parametrize("values, params, stop, best", EARLY)
def test_early_stopping_hand_worked(values, params, stop, best):
    full = {"patience": 0, "min_delta": 0.0, "mode": "min", "baseline": None, **params}
    out = M.early_stopping(np.zeros(2), np.array(values), **full)
    stopped = [t for t in range(len(values)) if out[t, 0] == 1]
    assert (stopped[0] if stopped else None) == stop
    assert all(out[t, 0] == 1 for t in stopped[:1] for t in range(t, len(values)))  # stopped stays stopped
    assert out[-1, 1] == best


def test_the_exceed_variant_stops_one_epoch_later():
    full = {"patience": 2, "min_delta": 0.0, "mode": "min", "baseline": None}
    values = np.array([1.0, 0.9, 0.95, 0.96, 0.97, 0.98])
    reach = M.early_stopping(np.zeros(2), values, **full)[:, 0]
    exceed = M.early_stopping(np.zeros(2), values, **full, count="exceed")[:, 0]
    assert reach.tolist() == [0, 0, 0, 1, 1, 1] and exceed.tolist() == [0, 0, 0, 0, 1, 1]


def test_textbook_defaults_are_pinned():
    def defaults(fn):
        return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}

    assert defaults(M.standard_scale) == {"ddof": 0, "epsilon": 0.0}  # the population std: StandardScaler's
    assert defaults(M.min_max_scale) == {"feature_range": (0.0, 1.0), "near_constant": "zero", "dtype": None}
    assert defaults(M.top_k_accuracy) == {"k": 5, "ties": "all"}  # Keras' TopKCategoricalAccuracy
    for fn in (M.precision, M.recall):
        assert defaults(fn) == {"num_classes": None, "average": "binary", "zero_division": 0.0,
                                "nan_average": "ignore", "macro_as": "macro"}
    assert defaults(M.roc_auc) == {"num_thresholds": None}  # exact
    assert defaults(M.early_stopping) == {"patience": 0, "min_delta": 0.0, "mode": "min", "baseline": None,
                                          "count": "reach"}  # Keras' EarlyStopping
    assert M.AUC_EPSILON == 1e-7
