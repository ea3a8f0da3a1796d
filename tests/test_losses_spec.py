"""The losses spec (``nnspec.spec.losses``) proved against independent oracles.

No framework appears here, and no oracle calls the spec's helpers. The oracles are:

* **mpmath at 50 digits**: each loss's textbook formula, per term and reduced, on the
  exact float64 inputs. The spec is within 8 float64 ULPs of it, or, where the value is a
  difference of larger terms (KL's terms of either sign, triplet's hinge), within 4 ULPs
  of the magnitude of those terms.
  Each oracle is itself written so that its 50 digits hold: −log_softmax as
  (m − x_i) + log1p(Σ_{j≠k} e^{x_j − m}), not logsumexp(x) − x_i, which cancels for a
  confident row (the loss of [81, 0] is 6.6e-36).
* **mpmath.diff** of that mpmath forward: each VJP's every component, away from kinks.
* **Central differences of the spec's own float64 forward**: every VJP under every
  reduction and the differentiable variants (clip, renormalise, feature_mean).
* **Literal conventions** from the module docstring: 0·log 0 = 0, the variants' values at
  the edges (torch's −100, Keras' ε rounded to the dtype), shapes, kinks, smoothing.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_spec_oracles import assert_ulps, to_float64

from nnspec.spec import losses as L

mp = mpmath.mp
MAX_ULPS = 8  # a few rounded operations per term (smoothing, a log, a product), then a pairwise sum
SETTINGS = settings(max_examples=60, deadline=None)
REDUCTIONS = ("mean", "sum", "none")


pytestmark = pytest.mark.usefixtures("mpmath_50_digits")  # tests/conftest.py


# mpmath oracles: the textbook formulas, on lists of exact values --------------------------------


def M(v):
    return mpmath.mpf(float(v))


def xlogy(x, y):
    return mpmath.mpf(0) if x == 0 else x * mpmath.log(y)


def softplus(z):
    return mpmath.log1p(mpmath.exp(z))


def reduce(terms, reduction):
    if reduction == "none":
        return terms
    total = mpmath.fsum(terms)
    return total if reduction == "sum" else total / len(terms)


def huber_term(p, t, delta):
    r = abs(p - t)
    return r * r / 2 if r <= delta else delta * (r - delta / 2)


def bce_term(p, t):
    return -(xlogy(t, p) + (0 if t == 1 else (1 - t) * mpmath.log1p(-p)))  # log1p: p may be 1e-300


def bce_logits_term(x, t):
    return t * softplus(-x) + (1 - t) * softplus(x)


def focal_term(p, t, alpha, gamma, from_logits):
    if from_logits:
        x, p = p, 1 / (1 + mpmath.exp(-p))
        bce = bce_logits_term(x, t)
    else:
        bce = bce_term(p, t)
    one_minus_pt = t * (1 - p) + (1 - t) * p  # = 1 − (t·p + (1 − t)(1 − p)), without its cancellation
    weight = 1 if alpha is None else alpha * t + (1 - alpha) * (1 - t)
    return weight * one_minus_pt ** M(gamma) * bce


def cce_row(p, t):
    return -mpmath.fsum(xlogy(ti, pi) for pi, ti in zip(p, t))


def neg_log_softmax(xs):
    """−log_softmax(x)_i = (m − x_i) + log1p(Σ_{j≠k} e^{x_j − m}), m = x_k the largest entry.

    Every term is ≥ 0 and none is a difference of large numbers: logsumexp(x) − x_i, written
    as it reads, loses the digits of a tiny loss ([81, 0]: 81 + 6.6e-36 − 81 keeps 13 of 50).
    """
    k = max(range(len(xs)), key=lambda j: xs[j])
    log_sum = mpmath.log1p(mpmath.fsum(mpmath.exp(x - xs[k]) for j, x in enumerate(xs) if j != k))
    return [(xs[k] - x) + log_sum for x in xs]


def cce_logits_row(x, t):
    return mpmath.fsum(ti * v for v, ti in zip(neg_log_softmax(x), t))


def kl_terms(p, t):
    return [mpmath.mpf(0) if ti == 0 else mpmath.inf if pi == 0 else ti * mpmath.log(ti / pi) for pi, ti in zip(p, t)]


def dice_row(p, t, smooth):
    with mpmath.workdps(800):  # 1 − ratio cancels: enough digits for a ratio 1e-300 away from 1
        inter = mpmath.fsum(pi * ti for pi, ti in zip(p, t))
        return +(1 - (2 * inter + smooth) / (mpmath.fsum(p) + mpmath.fsum(t) + smooth))


def distance(u, v):
    return mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in zip(u, v)))


def triplet_row(a, p, n, margin):
    return max(distance(a, p) - distance(a, n) + margin, mpmath.mpf(0))


def smooth_binary(t, eps):
    return t * (1 - eps) + eps / 2


def smooth_categorical(row, eps):
    return [t * (1 - eps) + eps / len(row) for t in row]


# comparisons -------------------------------------------------------------------------------------------


def assert_close(actual, exact, scale=None, what="", max_ulps=None):
    """Every element within MAX_ULPS (or ``max_ulps``) of the exact value, or of ``scale`` (the terms' magnitude)."""
    actual = np.atleast_1d(np.asarray(actual, dtype=np.float64)).ravel()
    exact = list(exact) if isinstance(exact, (list, tuple)) else [exact]
    scales = list(scale) if isinstance(scale, (list, tuple)) else [scale] * len(exact)
    assert actual.size == len(exact), (actual.shape, len(exact))
    for a, e, s in zip(actual, exact, scales):
        floor = 4 * float(np.spacing(float(abs(s)))) if s is not None else L.np.finfo(float).tiny
        assert_ulps(a, e, floor=max(floor, 2.3e-308), max_ulps=max_ulps or MAX_ULPS, what=what)


def rows(array):
    return [[M(v) for v in row] for row in np.asarray(array).reshape(-1, np.shape(array)[-1])]


def flat(array):
    return [M(v) for v in np.ravel(array)]


# strategies ------------------------------------------------------------------------------------------------


def arrays(elements, shapes=((1,), (3,), (2, 3))):
    return st.sampled_from(shapes).flatmap(
        lambda shape: st.lists(elements, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))).map(
            lambda xs: np.array(xs, dtype=np.float64).reshape(shape)))


REALS = st.one_of(st.floats(-10, 10), st.floats(-1e150, 1e150), st.sampled_from([0.0, 1.0, -1.0, 5e-324, 1e-300]))
LOGITS = st.one_of(st.floats(-30, 30), st.floats(-1e6, 1e6), st.sampled_from([0.0, 40.0, -40.0, 745.0, -745.0]))
PROBS = st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.5, 5e-324, 1e-300, 1e-16, 1 - 2**-53]),
                  st.floats(-300, 0).map(lambda e: 10.0**e))
OPEN_PROBS = st.one_of(st.floats(1e-6, 1 - 1e-6), st.floats(-12, -0.5).map(lambda e: 10.0**e))
TARGETS = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1))
SMOOTHING = st.sampled_from([0.0, 0.1, 0.25])


@st.composite
def pairs(draw, prediction, target, shapes=((1,), (3,), (2, 3))):
    shape = draw(st.sampled_from(shapes))
    return draw(arrays(prediction, [shape])), draw(arrays(target, [shape]))


@st.composite
def class_rows(draw, classes=(2, 3, 5), normalised=True, values=PROBS):
    """(batch, C) probability rows: normalised with zeros and near-zeros, or any values in [0, 1]."""
    shape = (draw(st.sampled_from([1, 2])), draw(st.sampled_from(classes)))
    raw = draw(arrays(values, [shape]))
    if not normalised:
        return raw
    raw = np.where(raw.sum(-1, keepdims=True) > 0, raw, np.eye(shape[-1])[0])
    return raw / raw.sum(-1, keepdims=True)


# 1. forward values against mpmath --------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@SETTINGS
@given(data=pairs(REALS, REALS), delta=st.sampled_from([1.0, 0.5, 3.0]))
def test_regression_losses_match_mpmath(reduction, data, delta):
    p, t = data
    assume(np.all(np.abs(p - t) < 1e150))
    for op, term in [(L.mse, lambda a, b: (a - b) ** 2), (L.mae, lambda a, b: abs(a - b))]:
        assert_close(op(p, t, reduction=reduction), reduce([term(a, b) for a, b in zip(flat(p), flat(t))], reduction),
                     what=op.__name__)
    exact = reduce([huber_term(a, b, M(delta)) for a, b in zip(flat(p), flat(t))], reduction)
    assert_close(L.huber(p, t, delta=delta, reduction=reduction), exact, what="huber")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@SETTINGS
@given(data=pairs(PROBS, TARGETS), logits=pairs(LOGITS, TARGETS), eps=SMOOTHING)
def test_binary_cross_entropies_match_mpmath(reduction, data, logits, eps):
    p, t = data
    exact = reduce([bce_term(a, smooth_binary(b, M(eps))) for a, b in zip(flat(p), flat(t))], reduction)
    assert_close(L.binary_cross_entropy(p, t, reduction=reduction, label_smoothing=eps), exact, what="bce")
    x, t = logits
    exact = reduce([bce_logits_term(a, smooth_binary(b, M(eps))) for a, b in zip(flat(x), flat(t))], reduction)
    actual = L.binary_cross_entropy_with_logits(x, t, reduction=reduction, label_smoothing=eps)
    assert_close(actual, exact, what="bce_with_logits")


@pytest.mark.parametrize("from_logits", [False, True])
@SETTINGS
@given(data=st.data(), alpha=st.sampled_from([0.25, None, 0.9]), gamma=st.sampled_from([0.0, 0.5, 2.0, 5.0]),
       reduction=st.sampled_from(REDUCTIONS), eps=SMOOTHING)
def test_focal_matches_mpmath(from_logits, data, alpha, gamma, reduction, eps):
    p, t = data.draw(pairs(LOGITS if from_logits else PROBS, TARGETS))
    terms = [focal_term(a, smooth_binary(b, M(eps)), None if alpha is None else M(alpha), gamma, from_logits)
             for a, b in zip(flat(p), flat(t))]
    actual = L.focal(p, t, alpha=alpha, gamma=gamma, from_logits=from_logits, reduction=reduction,
                     label_smoothing=eps)
    # (1 − p_t)^γ multiplies the rounding of 1 − p_t by γ: the bound grows with it.
    assert_close(actual, reduce(terms, reduction), what="focal", max_ulps=MAX_ULPS + 2 * gamma)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@SETTINGS
@given(p=class_rows(normalised=False), data=st.data(), eps=SMOOTHING)
def test_categorical_cross_entropies_match_mpmath(reduction, p, data, eps):
    t = data.draw(class_rows(classes=[p.shape[-1]]).filter(lambda r: r.shape == p.shape))
    exact = [cce_row(pr, smooth_categorical(tr, M(eps))) for pr, tr in zip(rows(p), rows(t))]
    actual = L.categorical_cross_entropy(p, t, reduction=reduction, label_smoothing=eps)
    assert_close(actual, reduce(exact, reduction), what="cce")
    x = data.draw(arrays(LOGITS, [p.shape]))
    exact = [cce_logits_row(xr, smooth_categorical(tr, M(eps))) for xr, tr in zip(rows(x), rows(t))]
    actual = L.categorical_cross_entropy_with_logits(x, t, reduction=reduction, label_smoothing=eps)
    assert_close(actual, reduce(exact, reduction),
                 what="cce_with_logits")


@pytest.mark.parametrize("row", [[81.0, 0.0], [0.0, 81.0], [81.0, 0.0, -3.0], [700.0, 0.0, 650.0], [1e6, 999970.0]])
def test_cross_entropy_of_a_confident_row_keeps_its_digits(row):
    """The loss of the largest logit's class is log1p(Σ e^{x_j − m}): 6.6e-36 for [81, 0].

    The oracle agrees to 45 digits with logsumexp(x) − x_k evaluated with 1000 digits (enough
    to carry e^{−700} past 700); the spec, dense and sparse, within 1 ULP of it.
    """
    x = np.array([row])
    k = int(np.argmax(x))
    t = np.eye(len(row))[[k]]
    with mpmath.workdps(1000):
        xs = [M(v) for v in row]
        top = max(xs)
        naive = +(top + mpmath.log(mpmath.fsum(mpmath.exp(v - top) for v in xs)) - xs[k])
    oracle = cce_logits_row(rows(x)[0], rows(t)[0])
    assert abs(oracle - naive) <= mpmath.mpf("1e-45") * naive, (oracle, naive)
    assert_close(L.categorical_cross_entropy_with_logits(x, t, reduction="sum"), oracle, what="cce", max_ulps=1)
    sparse = L.sparse_categorical_cross_entropy(x, np.array([k]), from_logits=True, reduction="sum")
    assert_close(sparse, oracle, what="sparse", max_ulps=1)


@pytest.mark.parametrize("from_logits", [False, True])
@SETTINGS
@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS), eps=SMOOTHING)
def test_sparse_cross_entropy_and_nll_match_mpmath(from_logits, data, reduction, eps):
    classes = data.draw(st.sampled_from([2, 3, 7]))
    shape = (data.draw(st.sampled_from([1, 3])), classes)
    prediction = data.draw(arrays(LOGITS, [shape])) if from_logits else data.draw(class_rows(classes=[classes]))
    labels = np.array(data.draw(st.lists(st.integers(0, prediction.shape[-1] - 1), min_size=prediction.shape[0],
                                         max_size=prediction.shape[0])))
    one_hot = [[M(1) if c == y else M(0) for c in range(prediction.shape[-1])] for y in labels]
    targets = [smooth_categorical(row, M(eps)) for row in one_hot]
    row_loss = cce_logits_row if from_logits else cce_row
    exact = [row_loss(pr, tr) for pr, tr in zip(rows(prediction), targets)]
    actual = L.sparse_categorical_cross_entropy(prediction, labels, from_logits=from_logits, reduction=reduction,
                                                label_smoothing=eps)
    assert_close(actual, reduce(exact, reduction), what="sparse")
    exact = [-pr[y] for pr, y in zip(rows(prediction), labels)]  # logits here: terms of either sign
    scale = reduce([abs(v) for v in exact], reduction)
    assert_close(L.nll(prediction, labels, reduction=reduction), reduce(exact, reduction), scale, what="nll")


def weighted_class_losses(row_losses, labels, class_weight, ignore_index, reduction, mean_divisor, empty_mean):
    """A plain loop over the rows: each kept row's loss (its terms already weighted), 0 for an ignored one,
    reduced; "mean" divides by Σ w_y over the kept rows, their count, or every row."""
    losses, weight_sum, kept = [], mpmath.mpf(0), 0
    for loss, y in zip(row_losses, labels):
        if ignore_index is not None and y == ignore_index:
            losses.append(mpmath.mpf(0))
            continue
        losses.append(loss)
        weight_sum += M(1) if class_weight is None else M(class_weight[y])
        kept += 1
    if reduction != "mean":
        return reduce(losses, reduction)
    divisor = {"weight_sum": weight_sum, "kept": mpmath.mpf(kept), "samples": mpmath.mpf(len(losses))}[mean_divisor]
    if divisor == 0:
        return mpmath.nan if empty_mean == "nan" else mpmath.mpf(0)
    return mpmath.fsum(losses) / divisor


WEIGHTED_MEANS = st.sampled_from([("weight_sum", "nan"), ("kept", "nan"), ("samples", "nan"), ("kept", "zero")])


@pytest.mark.parametrize("from_logits", [False, True])
@SETTINGS
@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS), eps=SMOOTHING, variant=WEIGHTED_MEANS)
def test_class_weights_and_ignored_labels_match_mpmath(from_logits, data, reduction, eps, variant):
    """−Σ_c w_c·t_c·log p_c per kept row, reduced by a loop; the ignored label is drawn among the labels."""
    classes = data.draw(st.sampled_from([2, 3, 7]))
    shape = (data.draw(st.sampled_from([1, 3, 4])), classes)
    prediction = data.draw(arrays(LOGITS, [shape])) if from_logits else data.draw(class_rows(classes=[classes]))
    shape = prediction.shape
    weight = st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0, 10))
    class_weight = data.draw(st.one_of(st.none(), st.tuples(*[weight] * shape[-1])))
    ignore_index = data.draw(st.one_of(st.none(), st.integers(0, shape[-1] - 1)))
    label = st.integers(0, shape[-1] - 1) if ignore_index is None else st.one_of(st.just(ignore_index),
                                                                                  st.integers(0, shape[-1] - 1))
    labels = np.array(data.draw(st.lists(label, min_size=shape[0], max_size=shape[0])))
    mean_divisor, empty_mean = variant
    w = [M(1)] * shape[-1] if class_weight is None else [M(v) for v in class_weight]
    row_loss = cce_logits_row if from_logits else cce_row
    exact = []
    for pr, y in zip(rows(prediction), labels):
        target = smooth_categorical([M(1) if c == y else M(0) for c in range(shape[-1])], M(eps))
        exact.append(row_loss(pr, [wc * tc for wc, tc in zip(w, target)]))
    want = weighted_class_losses(exact, labels, class_weight, ignore_index, reduction, mean_divisor, empty_mean)
    variants = {"mean_divisor": mean_divisor, "empty_mean": empty_mean}
    actual = L.sparse_categorical_cross_entropy(prediction, labels, from_logits=from_logits, reduction=reduction,
                                                label_smoothing=eps, class_weight=class_weight,
                                                ignore_index=ignore_index, **variants)
    if want is mpmath.nan or (not isinstance(want, list) and mpmath.isnan(want)):
        assert np.isnan(actual)
    else:
        assert_close(actual, want, what="sparse")
    exact = [-(w[y] * pr[y]) for pr, y in zip(rows(prediction), labels)]  # logits here: terms of either sign
    scale = weighted_class_losses([abs(v) for v in exact], labels, class_weight, ignore_index, reduction,
                                  mean_divisor, "zero")
    want = weighted_class_losses(exact, labels, class_weight, ignore_index, reduction, mean_divisor, empty_mean)
    actual = L.nll(prediction, labels, reduction=reduction, class_weight=class_weight, ignore_index=ignore_index,
                   **variants)
    if not isinstance(want, list) and mpmath.isnan(want):
        assert np.isnan(actual)
    else:
        assert_close(actual, want, scale, what="nll")


def test_weighted_nll_and_sparse_closed_forms():
    """Two rows, weights (1, 3): the mean is (1·log 2 + 3·log(4/3))/(1 + 3); ignoring label 1 leaves log 2."""
    lp = np.log(np.array([[0.5, 0.5], [0.25, 0.75]]))
    labels, w = np.array([0, 1]), (1.0, 3.0)
    weighted = (math.log(2) + 3 * math.log(4 / 3)) / 4
    assert L.nll(lp, labels, class_weight=w) == pytest.approx(weighted, rel=1e-15)
    assert L.nll(lp, labels, class_weight=w, mean_divisor="kept") == pytest.approx(4 * weighted / 2, rel=1e-15)
    assert L.nll(lp, labels, class_weight=w, ignore_index=1) == pytest.approx(math.log(2), rel=1e-15)
    assert L.nll(lp, labels, class_weight=w, ignore_index=1, mean_divisor="samples") == pytest.approx(
        math.log(2) / 2, rel=1e-15)
    np.testing.assert_array_equal(L.nll(lp, labels, reduction="none", ignore_index=0), [0.0, -lp[1, 1]])
    # the gradient of the weighted mean: −w_y/Σw at the label, 0 elsewhere and on an ignored row
    np.testing.assert_allclose(L.nll_vjp(lp, labels, np.float64(1.0), class_weight=w), [[-0.25, 0], [0, -0.75]],
                               rtol=1e-15)
    np.testing.assert_array_equal(L.nll_vjp(lp, labels, np.float64(1.0), ignore_index=1), [[-1.0, 0], [0, 0]])
    probabilities = np.exp(lp)
    assert L.sparse_categorical_cross_entropy(probabilities, labels, class_weight=w) == pytest.approx(weighted,
                                                                                                    rel=1e-15)


def soft_weighted_losses(row_losses, targets, class_weight, reduction, mean_divisor, empty_mean):
    """A plain loop: the rows' (already weighted) losses reduced; "mean" divides by Σ_i Σ_c w_c·t_ic of the
    unsmoothed targets ("weight_sum") or by the row count ("samples")."""
    if reduction != "mean":
        return reduce(row_losses, reduction)
    weight_sum = mpmath.fsum(M(w) * t for row in targets for w, t in zip(class_weight, row))
    divisor = weight_sum if mean_divisor == "weight_sum" else mpmath.mpf(len(row_losses))
    if divisor == 0:
        return mpmath.nan if empty_mean == "nan" else mpmath.mpf(0)
    return mpmath.fsum(row_losses) / divisor


SOFT_WEIGHTED_MEANS = st.sampled_from([("weight_sum", "nan"), ("samples", "nan"), ("weight_sum", "zero")])


@pytest.mark.parametrize("from_logits", [False, True])
@SETTINGS
@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS), eps=SMOOTHING, variant=SOFT_WEIGHTED_MEANS)
def test_class_weighted_categorical_cross_entropy_matches_mpmath(from_logits, data, reduction, eps, variant):
    """−Σ_c w_c·t_c·log p_c per row of probability targets (soft or any in [0, 1]), reduced by a loop."""
    classes = data.draw(st.sampled_from([2, 3, 5]))
    target = data.draw(class_rows(classes=[classes], normalised=data.draw(st.booleans()), values=TARGETS))
    prediction = (data.draw(arrays(LOGITS, [target.shape])) if from_logits
                  else data.draw(class_rows(classes=[classes]).filter(lambda p: p.shape == target.shape)))
    weight = st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0, 10))
    class_weight = data.draw(st.tuples(*[weight] * classes))
    mean_divisor, empty_mean = variant
    row_loss = cce_logits_row if from_logits else cce_row
    exact = [row_loss(pr, [M(w) * t for w, t in zip(class_weight, smooth_categorical(tr, M(eps)))])
             for pr, tr in zip(rows(prediction), rows(target))]
    want = soft_weighted_losses(exact, rows(target), class_weight, reduction, mean_divisor, empty_mean)
    op = L.categorical_cross_entropy_with_logits if from_logits else L.categorical_cross_entropy
    actual = op(prediction, target, reduction=reduction, label_smoothing=eps, class_weight=class_weight,
                mean_divisor=mean_divisor, empty_mean=empty_mean)
    if not isinstance(want, list) and mpmath.isnan(want):
        assert np.isnan(actual)
    else:
        assert_close(actual, want, what="weighted cce")


@pytest.mark.parametrize("from_logits", [False, True])
@SETTINGS
@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS), eps=SMOOTHING)
def test_class_weighted_cce_of_one_hot_targets_is_the_sparse_forms(from_logits, data, reduction, eps):
    """One-hot targets: the weighted loss, its textbook mean (Σ_i Σ_c w_c·t_ic = Σ w_{y_i}) and its gradient
    are the sparse form's of the labels, also under label smoothing (each smoothed term weighted)."""
    classes = data.draw(st.sampled_from([2, 3, 5]))
    prediction = (data.draw(arrays(LOGITS, [(3, classes)])) if from_logits
                  else data.draw(class_rows(classes=[classes], values=OPEN_PROBS)))
    labels = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=prediction.shape[0],
                                         max_size=prediction.shape[0])))
    class_weight = data.draw(st.tuples(*[st.sampled_from([0.5, 1.0, 2.0, 3.0])] * classes))
    one_hot = np.eye(classes)[labels]
    op, vjp = ((L.categorical_cross_entropy_with_logits, L.categorical_cross_entropy_with_logits_vjp) if from_logits
               else (L.categorical_cross_entropy, L.categorical_cross_entropy_vjp))
    params = {"reduction": reduction, "label_smoothing": eps, "class_weight": class_weight}
    sparse = {"from_logits": from_logits, **params}
    cotangent = np.ones(prediction.shape[:-1]) if reduction == "none" else np.float64(1.0)
    np.testing.assert_allclose(op(prediction, one_hot, **params),
                               L.sparse_categorical_cross_entropy(prediction, labels, **sparse), rtol=1e-13)
    np.testing.assert_allclose(vjp(prediction, one_hot, cotangent, **params),
                               L.sparse_categorical_cross_entropy_vjp(prediction, labels, cotangent, **sparse),
                               rtol=1e-13, atol=1e-300)


def test_class_weighted_cce_closed_forms():
    """Rows t = (1/2, 1/2), (0, 1), p = (1/2, 1/2), weights (1, 3): the losses are 2·log 2 and 3·log 2, the
    textbook mean divides their sum by 2 + 3, "samples" by 2; weights of 0 leave an empty (nan) mean."""
    p, t, w = np.full((2, 2), 0.5), np.array([[0.5, 0.5], [0.0, 1.0]]), (1.0, 3.0)
    log2 = math.log(2)
    np.testing.assert_allclose(L.categorical_cross_entropy(p, t, reduction="none", class_weight=w),
                               [2 * log2, 3 * log2], rtol=1e-15)
    assert L.categorical_cross_entropy(p, t, class_weight=w) == pytest.approx(log2, rel=1e-15)
    assert L.categorical_cross_entropy(p, t, class_weight=w, mean_divisor="samples") == pytest.approx(
        5 * log2 / 2, rel=1e-15)
    # d/dp_c = −w_c·t_c/p_c over the divisor 5
    np.testing.assert_allclose(L.categorical_cross_entropy_vjp(p, t, np.float64(1.0), class_weight=w),
                               [[-0.2, -0.6], [0.0, -1.2]], rtol=1e-15)
    x = np.zeros((2, 2))  # softmax(0) = 1/2: the logits form of the same rows
    assert L.categorical_cross_entropy_with_logits(x, t, class_weight=w) == pytest.approx(log2, rel=1e-15)
    np.testing.assert_allclose(L.categorical_cross_entropy_with_logits_vjp(x, t, np.float64(1.0), class_weight=w),
                               [[0.1, -0.1], [0.3, -0.3]], rtol=1e-15)  # (softmax·Σ_c w_c·t_c − w·t)/5
    assert np.isnan(L.categorical_cross_entropy(p, t, class_weight=(0.0, 0.0)))
    assert L.categorical_cross_entropy(p, t, class_weight=(0.0, 0.0), empty_mean="zero") == 0.0
    assert np.all(np.isnan(L.categorical_cross_entropy_vjp(p, t, np.float64(1.0), class_weight=(0.0, 0.0))))


def test_an_all_ignored_batch_has_a_nan_mean_and_no_gradient():
    """Every row ignored: the mean is 0/0 = nan (0 under empty_mean="zero"), the sum 0, each row 0; the loss
    does not depend on any row, so every gradient element is 0. Every kept row weighted 0: nan too, and the
    kept rows' gradient nan (at the label for nll and probabilities, the whole row through softmax)."""
    x = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    labels = np.array([1, 1])
    for op, vjp, params in [(L.nll, L.nll_vjp, {}),
                            (L.sparse_categorical_cross_entropy, L.sparse_categorical_cross_entropy_vjp,
                             {"from_logits": True, "label_smoothing": 0.1})]:
        assert np.isnan(op(x, labels, ignore_index=1, **params))
        assert op(x, labels, ignore_index=1, empty_mean="zero", **params) == 0.0
        assert op(x, labels, ignore_index=1, reduction="sum", **params) == 0.0
        np.testing.assert_array_equal(op(x, labels, ignore_index=1, reduction="none", **params), [0.0, 0.0])
        for reduction in REDUCTIONS:
            g = np.ones(2) if reduction == "none" else np.float64(1.0)
            np.testing.assert_array_equal(vjp(x, labels, g, ignore_index=1, reduction=reduction, **params), 0 * x)
    zero_weighted = dict(class_weight=(1.0, 0.0, 2.0), ignore_index=0)
    assert np.isnan(L.nll(x, labels, **zero_weighted))
    np.testing.assert_array_equal(np.isnan(L.nll_vjp(x, labels, np.float64(1.0), **zero_weighted)),
                                  [[False, True, False], [False, True, False]])
    logits_vjp = L.sparse_categorical_cross_entropy_vjp(x, labels, np.float64(1.0), from_logits=True, **zero_weighted)
    assert np.all(np.isnan(logits_vjp))
    p = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    probabilities_vjp = L.sparse_categorical_cross_entropy_vjp(p, labels, np.float64(1.0), **zero_weighted)
    np.testing.assert_array_equal(np.isnan(probabilities_vjp), [[False, True, False], [False, True, False]])


def test_a_zero_class_weight_at_a_zero_probability_is_zero_and_nan_under_ieee():
    """w_y = 0 at p_y = 0: the term 0·log 0 is 0 (the limit); zero_weight="ieee" makes it nan, as torch's
    nll_loss of log p does; an ignored row is no term at all, nan only in the ieee gradient (0/0 through log)."""
    p, labels = np.array([[0.0, 1.0], [0.5, 0.5]]), np.array([0, 1])
    weighted = {"class_weight": (0.0, 1.0), "reduction": "sum"}
    assert L.sparse_categorical_cross_entropy(p, labels, **weighted) == pytest.approx(math.log(2), rel=1e-15)
    assert np.isnan(L.sparse_categorical_cross_entropy(p, labels, **weighted, zero_weight="ieee"))
    ignored = {"ignore_index": 0, "reduction": "sum"}
    assert L.sparse_categorical_cross_entropy(p, labels, **ignored, zero_weight="ieee") == pytest.approx(math.log(2))
    gradient = L.sparse_categorical_cross_entropy_vjp(p, labels, np.float64(1.0), **ignored, zero_weight="ieee")
    np.testing.assert_array_equal(np.isnan(gradient), [[True, False], [False, False]])
    np.testing.assert_array_equal(L.sparse_categorical_cross_entropy_vjp(p, labels, np.float64(1.0), **ignored),
                                  [[0.0, 0.0], [0.0, -2.0]])


@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS))
@SETTINGS
def test_the_defaults_and_neutral_values_are_the_unweighted_loss(data, reduction):
    """class_weight None and ignore_index None are the loss as it was before it had them (bit for bit, the
    engine replays old examples at these defaults); all-ones weights and an absent label equal it too."""
    x = data.draw(arrays(LOGITS, [(3, 4)]))
    labels = np.array(data.draw(st.lists(st.integers(0, 2), min_size=3, max_size=3)))
    for op, params in [(L.nll, {}), (L.sparse_categorical_cross_entropy, {"from_logits": True})]:
        plain = op(x, labels, reduction=reduction, **params)
        for variant in ({}, {"mean_divisor": "kept"}, {"mean_divisor": "samples"}, {"empty_mean": "zero"}):
            np.testing.assert_array_equal(op(x, labels, reduction=reduction, **params, **variant), plain)
            for neutral in ({"class_weight": (1.0,) * 4}, {"ignore_index": 3}):
                np.testing.assert_allclose(op(x, labels, reduction=reduction, **params, **neutral, **variant), plain,
                                           rtol=4e-16)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@SETTINGS
@given(p=class_rows(normalised=True), data=st.data())
def test_kl_divergence_matches_mpmath(reduction, p, data):
    """Where the terms cancel (t ≈ p), to within 4 ULPs of the sum of their magnitudes."""
    t = data.draw(class_rows(classes=[p.shape[-1]]).filter(lambda r: r.shape == p.shape))
    terms = [kl_terms(pr, tr) for pr, tr in zip(rows(p), rows(t))]
    scale = reduce([mpmath.fsum(abs(v) for v in row) for row in terms], reduction)
    scale = [mpmath.mpf(0) if mpmath.isinf(v) else v for v in (scale if reduction == "none" else [scale])]
    assert_close(L.kl_divergence(p, t, reduction=reduction), reduce([mpmath.fsum(row) for row in terms], reduction),
                 scale, what="kl")


def test_kl_divergence_terms_of_nearly_equal_rows_are_accurate():
    """t/p within 1e-12 of 1: each term t·log1p((t − p)/p) keeps the digits a naive log(t/p) loses.

    (Their sum, 2e-24 from terms of ±1e-12, is only as accurate as the terms' magnitude.)
    """
    p = np.array([[0.5, 0.5]])
    t = np.array([[0.5 + 1e-12, 0.5 - 1e-12]])
    terms = kl_terms(rows(p)[0], rows(t)[0])
    assert_close(L.kl_divergence(p, t, reduction="none", elementwise=True), terms, what="kl terms near 0")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@SETTINGS
@given(data=st.data(), smooth=st.sampled_from([1.0, 1e-7, 0.0, 2.5]))
def test_dice_matches_mpmath(reduction, data, smooth):
    p = data.draw(class_rows(normalised=False))
    t = data.draw(arrays(TARGETS, [p.shape]))
    assume(smooth > 0 or (p.sum(-1) + t.sum(-1)).min() > 0)
    exact = [dice_row(pr, tr, M(smooth)) for pr, tr in zip(rows(p), rows(t))]
    assert_close(L.dice(p, t, smooth=smooth, reduction=reduction), reduce(exact, reduction), what="dice")


def test_dice_of_a_perfect_overlap_is_exactly_zero_and_accurate_nearby():
    one_hot = np.array([[0.0, 1.0, 0.0]])
    assert L.dice(one_hot, one_hot, smooth=1e-7, reduction="sum") == 0.0
    near = np.array([[1e-20, 1.0, 0.0]])
    exact = dice_row(rows(near)[0], rows(one_hot)[0], M(0))
    assert_close(L.dice(near, one_hot, smooth=0.0, reduction="sum"), exact, what="dice")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@SETTINGS
@given(data=st.data(), margin=st.sampled_from([1.0, 0.0, 0.3, 2.0]))
def test_triplet_matches_mpmath(reduction, data, margin):
    """Near the hinge, to within 4 ULPs of ‖a − p‖ + ‖a − n‖ + margin, what it subtracts."""
    shape = data.draw(st.sampled_from([(1, 1), (2, 3), (1, 5)]))
    a, p, n = (data.draw(arrays(st.floats(-3, 3), [shape])) for _ in range(3))
    exact = [triplet_row(ar, pr, nr, M(margin)) for ar, pr, nr in zip(rows(a), rows(p), rows(n))]
    scale = [distance(ar, pr) + distance(ar, nr) + margin for ar, pr, nr in zip(rows(a), rows(p), rows(n))]
    actual = L.triplet(a, p, n, margin=margin, reduction=reduction)
    assert_close(actual, reduce(exact, reduction), reduce(scale, reduction), what="triplet")


def test_triplet_distances_do_not_overflow():
    a = np.array([[1e200, 1e200]])
    far = np.zeros_like(a)
    assert L.triplet(a, a, far, margin=1.0, reduction="sum") == 0.0  # ‖a‖ ≈ 1.4e200: no overflow to inf − inf
    exact = mpmath.sqrt(2) * mpmath.mpf("1e200") + 1
    assert_close(L.triplet(far, a, far, margin=1.0, reduction="sum"), exact, what="triplet")


@SETTINGS
@given(w=arrays(REALS, [(), (4,), (2, 3)]), lam=st.sampled_from([0.01, 1e-4, 0.7]))
def test_penalties_match_mpmath(w, lam):
    assert_close(L.l1_penalty(w, lam=lam), M(lam) * mpmath.fsum(abs(v) for v in flat(w)), what="l1")
    assert_close(L.l2_penalty(w, lam=lam), M(lam) * mpmath.fsum(v * v for v in flat(w)), what="l2")


# 2. gradients against mpmath.diff of the mpmath forward -------------------------------------------------------


def _diff_check(spec_vjp, args, index, exact_loss, *, what, **params):
    """Each component of the spec's VJP (cotangent 1, reduction "sum") against mpmath.diff."""
    x = np.asarray(args[index], dtype=np.float64)
    got = np.asarray(spec_vjp(*args, np.float64(1.0), **params), dtype=np.float64)
    for i in np.ndindex(x.shape):
        def along(v, i=i):
            values = [[M(e) for e in np.ravel(a)] for a in args]
            values[index][int(np.ravel_multi_index(i, x.shape))] = v
            return exact_loss(*values)

        derivative = mpmath.diff(along, M(x[i]))
        assert_ulps(got[i], derivative, floor=1e-300 + 8 * float(np.spacing(1.0)) * float(abs(derivative) + 1),
                    max_ulps=64, what=f"{what} at {i}")


@settings(max_examples=25, deadline=None)
@given(data=pairs(st.floats(-5, 5), st.floats(-5, 5), shapes=((3,),)), delta=st.sampled_from([1.0, 0.4]))
def test_regression_vjps_match_mpmath_diff(data, delta):
    p, t = data
    assume(np.all(np.abs(np.abs(p - t) - delta) > 1e-3) and np.all(np.abs(p - t) > 1e-3))  # off the kinks
    _diff_check(L.mse_vjp, (p, t), 0, lambda a, b: mpmath.fsum((x - y) ** 2 for x, y in zip(a, b)),
                what="mse", reduction="sum")
    _diff_check(L.huber_vjp, (p, t), 0, lambda a, b: mpmath.fsum(huber_term(x, y, M(delta)) for x, y in zip(a, b)),
                what="huber", delta=delta, reduction="sum")


@settings(max_examples=25, deadline=None)
@given(data=pairs(OPEN_PROBS, TARGETS, shapes=((3,),)), x=arrays(st.floats(-20, 20), [(3,)]),
       alpha=st.sampled_from([0.25, None]), gamma=st.sampled_from([0.0, 0.5, 2.0]), eps=SMOOTHING)
def test_binary_vjps_match_mpmath_diff(data, x, alpha, gamma, eps):
    p, t = data
    ts = lambda b: smooth_binary(b, M(eps))
    _diff_check(L.binary_cross_entropy_vjp, (p, t), 0,
                lambda a, b: mpmath.fsum(bce_term(u, ts(v)) for u, v in zip(a, b)),
                what="bce", reduction="sum", label_smoothing=eps)
    _diff_check(L.binary_cross_entropy_with_logits_vjp, (x, t), 0,
                lambda a, b: mpmath.fsum(bce_logits_term(u, ts(v)) for u, v in zip(a, b)),
                what="bce_with_logits", reduction="sum", label_smoothing=eps)
    a_ = None if alpha is None else M(alpha)
    for prediction, from_logits in [(p, False), (x, True)]:
        _diff_check(L.focal_vjp, (prediction, t), 0,
                    lambda a, b, logits=from_logits: mpmath.fsum(focal_term(u, ts(v), a_, gamma, logits)
                                                                 for u, v in zip(a, b)),
                    what=f"focal(from_logits={from_logits})", alpha=alpha, gamma=gamma, from_logits=from_logits,
                    reduction="sum", label_smoothing=eps)


@settings(max_examples=25, deadline=None)
@given(p=class_rows(classes=[3], values=OPEN_PROBS), data=st.data(), eps=SMOOTHING)
def test_row_vjps_match_mpmath_diff(p, data, eps):
    t = data.draw(class_rows(classes=[3]).filter(lambda r: r.shape == p.shape))
    x = data.draw(arrays(st.floats(-10, 10), [p.shape]))
    labels = np.zeros(p.shape[0], dtype=np.int64) + data.draw(st.integers(0, 2))
    by_rows = lambda f: lambda a, *rest: mpmath.fsum(
        f(*(list(r) for r in row)) for row in zip(*(np.reshape(v, (-1, 3)).tolist() for v in (a, *rest))))
    _diff_check(L.categorical_cross_entropy_vjp, (p, t), 0,
                by_rows(lambda a, b: cce_row(a, smooth_categorical(b, M(eps)))),
                what="cce", reduction="sum", label_smoothing=eps)
    _diff_check(L.categorical_cross_entropy_with_logits_vjp, (x, t), 0,
                by_rows(lambda a, b: cce_logits_row(a, smooth_categorical(b, M(eps)))),
                what="cce_with_logits", reduction="sum", label_smoothing=eps)
    w = data.draw(st.tuples(*[st.sampled_from([0.0, 0.5, 1.0, 3.0])] * 3))
    weighted = lambda b: [M(wc) * tc for wc, tc in zip(w, smooth_categorical(b, M(eps)))]
    _diff_check(L.categorical_cross_entropy_vjp, (p, t), 0, by_rows(lambda a, b: cce_row(a, weighted(b))),
                what="weighted cce", reduction="sum", label_smoothing=eps, class_weight=w)
    _diff_check(L.categorical_cross_entropy_with_logits_vjp, (x, t), 0,
                by_rows(lambda a, b: cce_logits_row(a, weighted(b))),
                what="weighted cce_with_logits", reduction="sum", label_smoothing=eps, class_weight=w)
    _diff_check(L.kl_divergence_vjp, (p, t), 0, by_rows(lambda a, b: mpmath.fsum(kl_terms(a, b))),
                what="kl", reduction="sum")
    _diff_check(L.dice_vjp, (p, t), 0, by_rows(lambda a, b: dice_row(a, b, M(0.5))), what="dice", smooth=0.5,
                reduction="sum")
    one_hot = np.eye(3)[labels]
    _diff_check(lambda a, y, g, **kw: L.sparse_categorical_cross_entropy_vjp(a, labels, g, **kw), (x, one_hot), 0,
                by_rows(lambda a, b: cce_logits_row(a, smooth_categorical(b, M(eps)))),
                what="sparse", from_logits=True, reduction="sum", label_smoothing=eps)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), margin=st.sampled_from([1.0, 2.0, 0.5]))
def test_triplet_vjp_matches_mpmath_diff(data, margin):
    a, p, n = (data.draw(arrays(st.floats(-3, 3), [(1, 3)])) for _ in range(3))
    hinge = float(triplet_row(rows(a)[0], rows(p)[0], rows(n)[0], M(margin)))
    assume(abs(np.linalg.norm(a - p) - np.linalg.norm(a - n) + margin) > 1e-3)  # off the kink
    assume(np.linalg.norm(a - p) > 1e-3 and np.linalg.norm(a - n) > 1e-3)
    _diff_check(L.triplet_vjp, (a, p, n), 0, lambda x, y, z: triplet_row(x, y, z, M(margin)),
                what=f"triplet (hinge {hinge:.3g})", margin=margin, reduction="sum")


# 3. every VJP, reduction and differentiable variant against central differences of the float64 forward -------


def central_difference(f, args, index, cotangent, h=1e-6):
    x = np.asarray(args[index], dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        hi = f(*args[:index], up, *args[index + 1:])
        lo = f(*args[:index], down, *args[index + 1:])
        grad[i] = np.sum(cotangent * (hi - lo)) / (2 * h)
    return grad


RNG = np.random.default_rng(7)
P = RNG.uniform(0.05, 0.95, (3, 4))
T = RNG.uniform(0.0, 1.0, (3, 4))
X = RNG.normal(0, 3, (3, 4))
PC, TC = P / P.sum(-1, keepdims=True), T / T.sum(-1, keepdims=True)
LABELS = np.array([0, 3, 2])
ANCHOR, POSITIVE, NEGATIVE = RNG.normal(0, 1, (3, 3, 5))

CASES = [
    ("mse", (X, T), {}), ("mae", (X, T), {}), ("huber", (X, T), {"delta": 0.7}),
    ("mse", (X, T), {"feature_mean": True}), ("huber", (X, T), {"delta": 2.0, "feature_mean": True}),
    ("binary_cross_entropy", (P, T), {"label_smoothing": 0.1}),
    ("binary_cross_entropy", (P, T), {"clip_epsilon": 0.1, "feature_mean": True}),
    ("binary_cross_entropy_with_logits", (X, T), {"label_smoothing": 0.2}),
    ("categorical_cross_entropy", (PC, TC), {"label_smoothing": 0.1}),
    ("categorical_cross_entropy", (P, TC), {"renormalise": "before_clip", "clip_epsilon": 0.1}),
    ("categorical_cross_entropy", (P, TC), {"renormalise": "after_clip", "clip_epsilon": 0.1}),
    ("categorical_cross_entropy_with_logits", (X, T), {"label_smoothing": 0.1}),
    ("sparse_categorical_cross_entropy", (X, LABELS), {"from_logits": True, "label_smoothing": 0.1}),
    ("sparse_categorical_cross_entropy", (PC, LABELS), {"from_logits": False, "label_smoothing": 0.1}),
    ("sparse_categorical_cross_entropy", (P, LABELS), {"renormalise": "after_clip", "clip_epsilon": 0.1}),
    ("nll", (X, LABELS), {}),
    *((op, (X, np.array([0, 3, 3])), {**more, **weighted})
      for op, more in (("nll", {}), ("sparse_categorical_cross_entropy", {"from_logits": True, "label_smoothing": 0.1}))
      for weighted in ({"class_weight": (0.5, 2.0, 0.0, 3.0)}, {"ignore_index": 3},
                       {"class_weight": (0.5, 2.0, 1.5, 3.0), "ignore_index": 0, "mean_divisor": "kept"},
                       {"class_weight": (0.5, 2.0, 1.5, 3.0), "ignore_index": 3, "mean_divisor": "samples"})),
    ("sparse_categorical_cross_entropy", (PC, np.array([0, 3, 3])), {"class_weight": (0.5, 2.0, 1.5, 3.0),
                                                                     "ignore_index": 0}),
    ("kl_divergence", (PC, TC), {}), ("kl_divergence", (P, T), {"clip_epsilon": 0.1}),
    *(("focal", (X if logits else P, T), {"alpha": alpha, "gamma": gamma, "from_logits": logits,
                                          "label_smoothing": 0.1})
      for logits in (False, True) for alpha in (None, 0.25) for gamma in (0.0, 0.5, 2.0)),
    ("focal", (P, T), {"gamma": 1.5, "clip_epsilon": 0.1, "feature_mean": True}),
    ("dice", (P, T), {"smooth": 0.5}), ("dice", (P, T), {"smooth": 0.5, "smoothing": "denominator"}),
    ("triplet", (ANCHOR, POSITIVE, NEGATIVE), {"margin": 2.0}),
    ("triplet", (ANCHOR, POSITIVE, NEGATIVE), {"margin": 2.0, "difference_eps": 0.1, "squared_eps": 0.2}),
    ("l1_penalty", (X,), {"lam": 0.3}), ("l2_penalty", (X,), {"lam": 0.3}),
]  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("op, args, params", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_vjp_matches_central_differences(op, args, params, reduction):
    forward, vjp = getattr(L, op), getattr(L, f"{op}_vjp")
    if "penalty" in op:
        reduction_params = {}
    else:
        reduction_params = {"reduction": reduction}
    forward_params = {k: v for k, v in params.items() if k != "kink"}
    out = forward(*args, **forward_params, **reduction_params)
    cotangent = RNG.uniform(-2, 2, np.shape(out))
    want = central_difference(lambda *a: forward(*a, **forward_params, **reduction_params), list(args), 0, cotangent)
    got = vjp(*args, cotangent, **params, **reduction_params)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7 * max(1.0, float(np.max(np.abs(want)))))


# 4. conventions ------------------------------------------------------------------------------------------------


def test_zero_times_log_zero_is_zero_and_the_ieee_variant_is_nan():
    p, t = np.array([0.0, 1.0]), np.array([0.0, 1.0])
    assert L.binary_cross_entropy(p, t, reduction="sum") == 0.0
    assert np.all(L.binary_cross_entropy_vjp(p, t, np.float64(1.0), reduction="sum") == [1.0, -1.0])
    assert np.isnan(L.binary_cross_entropy(p, t, reduction="sum", zero_weight="ieee"))
    assert L.categorical_cross_entropy(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]), reduction="sum") == 0.0
    one_hot = np.array([[1.0, 0.0]])
    assert np.isnan(L.kl_divergence(one_hot, one_hot, reduction="sum", zero_weight="ieee"))
    assert L.kl_divergence(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]), reduction="sum") == 0.0


def test_a_zero_cotangent_pulls_back_to_zero_through_an_infinite_derivative():
    p, t = np.array([0.0]), np.array([0.5])
    assert L.binary_cross_entropy_vjp(p, t, np.float64(1.0), reduction="sum")[0] == -np.inf
    assert L.binary_cross_entropy_vjp(p, t, np.float64(0.0), reduction="sum")[0] == 0.0
    assert np.isnan(L.binary_cross_entropy_vjp(p, t, np.float64(0.0), reduction="sum", zero_weight="ieee")[0])


def test_torch_log_floor_and_its_gradient():
    """torch: each log ≥ −100; its gradient (p − t)/max(p(1 − p), float32(1e-12)), 0 floor in float16."""
    p, t = np.array([0.0, 1e-50]), np.array([1.0, 0.3])
    assert np.all(L.binary_cross_entropy(p, t, reduction="none", log_floor=-100.0) == [100.0, 30.0])
    grad = L.binary_cross_entropy_vjp(p, t, np.ones(2), reduction="none", log_floor=-100.0)
    np.testing.assert_allclose(grad, [-1 / L.TORCH_BCE_EPSILON, -0.3 / L.TORCH_BCE_EPSILON], rtol=1e-15)
    zero = np.zeros(1, dtype=np.float16)
    assert np.isnan(L.binary_cross_entropy_vjp(zero, zero, np.float16(1), reduction="sum", log_floor=-100.0)[0])
    assert L.binary_cross_entropy_vjp(zero.astype(np.float32), zero.astype(np.float32), np.float32(1), reduction="sum",
                                      log_floor=-100.0)[0] == 0.0


@pytest.mark.parametrize("dtype, low, high", [
    (np.float64, 1e-7, 1 - 1e-7), (np.float32, float(np.float32(1e-7)), float(np.float32(1 - 1e-7))),
    (np.float16, float(np.float16(1e-7)), 1.0),  # 1 − 1e-7 rounds to 1 in float16: no upper clip at all
])  # fmt: skip
def test_keras_clip_bounds_are_rounded_to_the_dtype(dtype, low, high):
    p = np.array([0.0, 1.0], dtype=dtype)
    t = np.array([1.0, 0.0], dtype=dtype)
    loss = L.binary_cross_entropy(p, t, reduction="none", clip_epsilon=1e-7)
    assert loss[0] == pytest.approx(-math.log(low), rel=1e-14)
    assert loss[1] == (np.inf if high == 1.0 else pytest.approx(-math.log1p(-high), rel=1e-14))


def test_reduction_shapes_and_per_sample_losses():
    x = np.ones((2, 3))
    assert L.mse(x, x, reduction="none").shape == (2, 3)
    assert L.mse(x, x, reduction="none", feature_mean=True).shape == (2,)
    assert L.mse(x, x, reduction="mean").shape == () and L.mse(x, x, reduction="sum").shape == ()
    assert L.categorical_cross_entropy(x / 3, x / 3, reduction="none").shape == (2,)
    assert L.kl_divergence(x / 3, x / 3, reduction="none").shape == (2,)
    assert L.kl_divergence(x / 3, x / 3, reduction="none", elementwise=True).shape == (2, 3)
    assert L.triplet(x, x, x, margin=1.0, reduction="none").shape == (2,)
    assert L.l2_penalty(x).shape == ()
    two, eight = np.array([[0.0, 2.0]]), np.array([[0.0, 0.0]])
    assert L.mse(two, eight, reduction="sum") == 4.0 and L.mse(two, eight, reduction="sum", feature_mean=True) == 2.0


def test_sparse_cross_entropy_is_the_categorical_one_of_one_hot_labels():
    x = np.array([[1.0, -2.0, 0.5], [3.0, 3.0, -1.0]])
    labels = np.array([2, 0])
    one_hot = np.eye(3)[labels]
    for eps in (0.0, 0.2):
        sparse = L.sparse_categorical_cross_entropy(x, labels, from_logits=True, reduction="none", label_smoothing=eps)
        dense = L.categorical_cross_entropy_with_logits(x, one_hot, reduction="none", label_smoothing=eps)
        np.testing.assert_allclose(sparse, dense, rtol=1e-15)


def test_label_smoothing():
    t = np.array([0.0, 1.0])
    assert np.all(L._smooth_binary(t, 0.2) == [0.1, 0.9])
    rows_ = np.array([[0.0, 1.0, 0.0, 0.0]])
    np.testing.assert_allclose(L._smooth_categorical(rows_, 0.2), [[0.05, 0.85, 0.05, 0.05]], rtol=1e-15)


def test_huber_branches_meet_at_delta():
    delta = 0.75
    p, t = np.array([delta, -delta]), np.zeros(2)
    assert np.all(L.huber(p, t, delta=delta, reduction="none") == [delta**2 / 2] * 2)
    assert np.all(L.huber_vjp(p, t, np.ones(2), delta=delta, reduction="none") == [delta, -delta])


def test_kinks():
    zero = np.zeros(1)
    assert L.mae_vjp(zero, zero, np.float64(1.0), reduction="sum")[0] == 0.0
    assert L.mae_vjp(zero, zero, np.float64(1.0), reduction="sum", kink="right")[0] == 1.0
    assert L.l1_penalty_vjp(zero, np.float64(1.0), lam=0.5, kink="right")[0] == 0.5
    a, p, n = np.zeros((1, 1)), np.zeros((1, 1)), np.ones((1, 1))  # hinge 0 − 1 + 1 = 0
    assert L.triplet_vjp(a, np.full((1, 1), 0.5), n, np.float64(1.0), margin=0.5, reduction="sum")[0, 0] == 0.0
    at_zero = L.triplet_vjp(a, p, n, np.float64(1.0), margin=1.0, reduction="sum", kink="half")[0, 0]
    assert at_zero == 0.5  # ‖a − p‖ = 0: its unit vector is 0; −(a − n)/‖a − n‖ = 1, halved
    assert np.isnan(L.triplet_vjp(a, p, n, np.float64(1.0), margin=1.0, reduction="sum", kink="right",
                                     zero_distance="nan")[0, 0])


def test_normalised_targets_variant_is_softmax_minus_target():
    x, t = np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]])  # Σt = 2
    assert np.all(L.categorical_cross_entropy_with_logits_vjp(x, t, np.float64(1.0), reduction="sum") == [[0.0, 0.0]])
    assert np.all(L.categorical_cross_entropy_with_logits_vjp(x, t, np.float64(1.0), reduction="sum",
                                                              normalised_targets=True) == [[-0.5, -0.5]])


def test_weight_decay_is_the_gradient_of_l2_penalty_at_half_the_rate():
    """SGD's weight_decay wd adds wd·w to the gradient: ∇ l2_penalty(w, λ = wd/2) = wd·w."""
    w, wd = np.array([0.5, -2.0, 3.0]), 0.1
    np.testing.assert_allclose(L.l2_penalty_vjp(w, np.float64(1.0), lam=wd / 2), wd * w, rtol=1e-15)


def test_numpy_baseline_form_defaults_the_dtype_to_the_prediction():
    """``formula.__wrapped__`` (the NumPy baseline) rounds the variants' constants to the input's own dtype."""
    p, t = np.array([1.0], dtype=np.float16), np.array([0.0], dtype=np.float16)
    with np.errstate(all="ignore"):  # the baseline form computes in float16, where log1p(−1) is −inf
        assert np.isinf(L.binary_cross_entropy.__wrapped__(p, t, reduction="sum", clip_epsilon=1e-7))
    assert to_float64(mpmath.mpf(L.KERAS_EPSILON)) == 1e-7
