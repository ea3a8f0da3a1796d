"""Metrics, preprocessing and early stopping: the numbers people publish after training.

Conventions
-----------
* Class labels arrive as integer values held in the dtype under test (as quantization's
  integers do: every label of a few classes is exact in float16 and bfloat16); ``y_true`` and
  ``y_pred`` have shape (n,), ``scores`` (n, K). Every result is returned as float64 values (the
  engine compares them in the dtype under test); counts are integers, exact.
* Classes are 0 … num_classes − 1, all of them, whether or not they occur (scikit-learn's
  ``labels=range(K)``): a class that is never true and never predicted still counts in a
  macro average.
* Precision of a class is tp / (tp + fp), recall tp / (tp + fn), F1 2·tp / (2·tp + fp + fn)
  (scikit-learn's form since 1.3; ``f1_form="harmonic"`` is 2PR/(P + R) of the zero-division
  resolved P and R, Keras' F1Score). ``macro_as="micro"`` (a variant) is a micro average where a
  macro one was asked. An empty denominator gives ``zero_division`` (0, 1 or
  nan). ``average``: ``"binary"`` (class 1 of two), ``"macro"`` (the unweighted mean over
  classes; a nan class is left out of the mean, scikit-learn's rule, and all nan gives nan),
  ``"micro"`` (the metric of the summed counts), ``"weighted"`` (mean weighted by each
  class's support, the number of true labels of it).
* ``roc_auc`` is exact: the probability that a random positive scores above a random negative,
  ties counting ½ (Mann–Whitney U / (n⁺·n⁻)), the trapezoidal area under the full ROC curve. With
  one class only it is undefined: nan. ``num_thresholds`` (keyword-only variant) is the
  thresholded approximation Keras' ``AUC`` computes: thresholds 0 − ε, 1/(m−1), …, (m−2)/(m−1),
  1 + ε (ε = 1e-7), a score counted positive when it is strictly above the threshold, and the
  trapezoidal sum over those m (fpr, tpr) points.
* ``standard_scale`` fits the column statistics of x (axis 0) and transforms x with them:
  y = (x − mean) / √(var + ε), var = Σ(x − mean)² / (n − ddof); a column of zero variance with
  ε = 0 has scale 1 (scikit-learn's ``_handle_zeros_in_scale``): y = 0 there.
* ``min_max_scale``: y = a + (x − min) / (max − min) · (b − a) per column, (a, b) the
  feature range; a constant column has range 1: y = a.
* ``early_stopping`` runs the state machine of Keras' EarlyStopping callback over a sequence of
  monitored values (see its docstring).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from ._float64 import float64
from .losses import _spec  # @float64 that also passes the dtype x arrived in (the near-constant variant's eps)

AVERAGES = ("binary", "macro", "micro", "weighted")
AUC_EPSILON = 1e-7  # Keras' thresholds stick out of [0, 1] by it


def _labels(a) -> np.ndarray:
    return np.asarray(a).astype(np.int64)


def _classes(y_true, y_pred, num_classes):
    return int(num_classes) if num_classes is not None else int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)


@float64
def accuracy(y_true, y_pred):
    """Accuracy: the fraction of samples whose predicted label equals the true one, mean(y_true = y_pred)."""
    t, p = _labels(y_true), _labels(y_pred)
    return np.asarray(np.count_nonzero(t == p) / t.size, dtype=np.float64)


@float64
def top_k_accuracy(y_true, scores, k=5, *, ties="all"):
    """Top-k accuracy: the fraction of samples whose true class is among the k highest scores.

    ``ties="all"`` (default: tf.math.in_top_k's rule) counts a class whose score ties the k-th
    highest as in the top k (fewer than k classes score strictly higher); ``"last"`` breaks ties
    by the larger class index first (scikit-learn's reversed stable argsort), ``"first"`` by the
    smaller."""
    t = _labels(y_true)
    s = np.asarray(scores)
    n, classes = s.shape
    hits = 0
    for i in range(n):
        own = s[i, t[i]]
        if ties == "all":
            hits += np.count_nonzero(s[i] > own) < k
        else:
            order = sorted(range(classes), key=lambda c: (-s[i, c], -c if ties == "last" else c))
            hits += t[i] in order[:k]
    return np.asarray(hits / n, dtype=np.float64)


@float64
def confusion_matrix(y_true, y_pred, num_classes=None):
    """Confusion matrix C (K × K): C[i, j] the number of samples of true class i predicted j."""
    t, p = _labels(y_true), _labels(y_pred)
    k = _classes(t, p, num_classes)
    matrix = np.zeros((k, k))
    np.add.at(matrix, (t, p), 1.0)
    return matrix


def _counts(y_true, y_pred, num_classes):
    matrix = confusion_matrix.__wrapped__(y_true, y_pred, num_classes)
    tp = np.diag(matrix)
    return tp, matrix.sum(axis=0) - tp, matrix.sum(axis=1) - tp  # tp, fp, fn per class


def _ratio(numerator, denominator, zero_division):
    numerator, denominator = np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), zero_division)


def _averaged(kind, y_true, y_pred, num_classes, average, zero_division, f1_form="counts", nan_average="ignore",
              macro_as="macro"):
    average = macro_as if average == "macro" else average
    tp, fp, fn = _counts(y_true, y_pred, num_classes)

    def metric(tp, fp, fn):
        if kind == "precision":
            return _ratio(tp, tp + fp, zero_division)
        if kind == "recall":
            return _ratio(tp, tp + fn, zero_division)
        if f1_form == "harmonic":
            p, r = _ratio(tp, tp + fp, zero_division), _ratio(tp, tp + fn, zero_division)
            return _ratio(2 * p * r, p + r, zero_division)
        return _ratio(2 * tp, 2 * tp + fp + fn, zero_division)

    if average == "binary":
        if len(tp) != 2:
            raise ValueError(f"average='binary' needs 2 classes, not {len(tp)}")
        return np.asarray(metric(tp[1], fp[1], fn[1]), dtype=np.float64)
    if average == "micro":
        return np.asarray(metric(tp.sum(), fp.sum(), fn.sum()), dtype=np.float64)
    per_class = metric(tp, fp, fn)
    weights = np.ones_like(per_class) if average == "macro" else tp + fn  # support
    if average not in ("macro", "weighted"):
        raise ValueError(f"average must be one of {AVERAGES}, not {average!r}")
    keep = ~np.isnan(per_class) if nan_average == "ignore" else np.ones(per_class.shape, bool)
    if not keep.any() or weights[keep].sum() == 0:
        return np.asarray(np.nan if not keep.any() else zero_division, dtype=np.float64)
    return np.asarray(np.sum(per_class[keep] * weights[keep]) / np.sum(weights[keep]), dtype=np.float64)


@float64
def precision(y_true, y_pred, num_classes=None, average="binary", zero_division=0.0, *, nan_average="ignore",
              macro_as="macro"):
    """Precision tp / (tp + fp), averaged by ``average``; ``zero_division`` where tp + fp = 0."""
    return _averaged("precision", y_true, y_pred, num_classes, average, zero_division, nan_average=nan_average,
                     macro_as=macro_as)


@float64
def recall(y_true, y_pred, num_classes=None, average="binary", zero_division=0.0, *, nan_average="ignore",
           macro_as="macro"):
    """Recall tp / (tp + fn), averaged by ``average``; ``zero_division`` where tp + fn = 0."""
    return _averaged("recall", y_true, y_pred, num_classes, average, zero_division, nan_average=nan_average,
                     macro_as=macro_as)


@float64
def f1(y_true, y_pred, num_classes=None, average="binary", zero_division=0.0, *, f1_form="counts",
       nan_average="ignore", macro_as="macro"):
    """F1 score 2·tp / (2·tp + fp + fn), averaged by ``average``; ``zero_division`` where 2·tp + fp + fn = 0."""
    return _averaged("f1", y_true, y_pred, num_classes, average, zero_division, f1_form, nan_average, macro_as)


def _roc_points(positive, scores, thresholds):
    p, n = positive.sum(), (~positive).sum()
    tpr = np.array([np.count_nonzero(positive & (scores > t)) / p for t in thresholds])
    fpr = np.array([np.count_nonzero(~positive & (scores > t)) / n for t in thresholds])
    return fpr, tpr


@float64
def roc_auc(y_true, scores, *, num_thresholds=None):
    """Area under the ROC curve: P(score of a positive > score of a negative) + ½·P(tie), exact.

    ``num_thresholds=m`` (a variant) is Keras' thresholded approximation: the trapezoidal sum
    over the (fpr, tpr) of m fixed thresholds in [−ε, 1 + ε]."""
    positive = _labels(y_true) == 1
    s = np.asarray(scores, dtype=np.float64)
    pos, neg = s[positive], s[~positive]
    if pos.size == 0 or neg.size == 0:
        return np.asarray(np.nan)
    if num_thresholds is None:
        greater = np.count_nonzero(pos[:, None] > neg[None, :])
        ties = np.count_nonzero(pos[:, None] == neg[None, :])
        return np.asarray((greater + 0.5 * ties) / (pos.size * neg.size))
    m = int(num_thresholds)
    thresholds = np.array([-AUC_EPSILON] + [i / (m - 1) for i in range(1, m - 1)] + [1.0 + AUC_EPSILON])
    fpr, tpr = _roc_points(positive, s, thresholds)
    return np.asarray(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2.0))


@float64
def standard_scale(x, ddof=0, epsilon=0.0):
    """Standardization: y = (x − mean) / √(var + ε) per column (axis 0), var = Σ(x − mean)² / (n − ddof).

    A column of zero variance with ε = 0 is scaled by 1 (y = x − mean = 0 there)."""
    x = np.asarray(x)
    mean = np.mean(x, axis=0)
    var = np.sum((x - mean) ** 2, axis=0) / (x.shape[0] - ddof)
    scale = np.sqrt(var + epsilon)
    scale = np.where(scale == 0, 1.0, scale)
    return (x - mean) / scale


@_spec
def min_max_scale(x, feature_range=(0.0, 1.0), *, near_constant="zero", dtype=None):
    """Min–max scaling: y = a + (x − min) / (max − min) · (b − a) per column, (a, b) = feature_range.

    A constant column has range 1 (y = a there). ``near_constant="10eps"`` (a variant: scikit-learn's
    ``_handle_zeros_in_scale``) also treats a range below 10·eps of the input's dtype as constant."""
    x = np.asarray(x)
    a, b = (float(v) for v in feature_range)
    low, high = np.min(x, axis=0), np.max(x, axis=0)
    constant = (high - low == 0) if near_constant == "zero" else (high - low < 10 * float(ml_dtypes.finfo(dtype).eps))
    span = np.where(constant, 1.0, high - low)
    return a + (x - low) / span * (b - a)


@float64
def early_stopping(start, values, patience=0, min_delta=0.0, mode="min", baseline=None, *, count="reach"):
    """Early stopping (Keras' EarlyStopping callback): per epoch, whether training has stopped and the best epoch.

    ``start`` is the state before the first epoch, (stopped, best epoch) = (0, 0); ``values`` the
    monitored value of each epoch. At each epoch t (until stopped): wait ← wait + 1; the value v
    improves on the best b when v < b − min_delta (mode "min"; v > b + min_delta for "max"; the first
    value always does); on an improvement best ← v, best epoch ← t, and wait ← 0 if v also improves
    on ``baseline`` (or there is none). Otherwise training stops after epoch t when wait ≥ patience
    and t > 0. Returns (T, 2): column 0 is 1 from the epoch training stops at on (0 before),
    column 1 the best epoch so far — the epoch whose weights ``restore_best_weights`` restores.

    ``count="exceed"`` (a variant) stops only once wait > patience: one epoch later (flax's
    ``EarlyStopping`` compares its count before incrementing it)."""
    values = np.asarray(values, dtype=np.float64)
    stopped, best_epoch = bool(start[0]), int(start[1])
    best, wait = None, 0
    sign = 1.0 if mode == "min" else -1.0

    def improves(v, reference):
        return reference is None or sign * (v - reference) < -min_delta

    out = np.zeros((len(values), 2))
    for t, v in enumerate(values):
        if not stopped:
            wait += 1
            if improves(v, best):
                best, best_epoch = v, t
                if baseline is None or improves(v, baseline):
                    wait = 0
            elif (wait > patience if count == "exceed" else wait >= patience) and t > 0:
                stopped = True
        out[t] = (float(stopped), float(best_epoch))
    return out
