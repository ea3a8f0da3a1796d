"""scikit-learn adapter, metrics: sklearn.preprocessing's scalers and sklearn.metrics' functions.

Labels arrive as integer values in the dtype under test and are handed to scikit-learn as
int64 (what a user's label array is); every class 0 … K − 1 is named with ``labels=range(K)``,
as the spec counts them. scikit-learn returns Python/NumPy float64 (or int64 counts); the result
is rounded to the dtype under test, the one rounding the engine measures in that dtype.
scikit-learn has no accumulated (batch by batch) form of a metric: the streaming check is
unsupported, and no early-stopping callback (an estimator's ``n_iter_no_change`` is internal to
its ``fit``).
"""

from __future__ import annotations

import numpy as np
import sklearn.metrics as skm
import sklearn.preprocessing as skp

from ..binding import same
from ..declared import unsupported


def _labels(a):
    return np.asarray(a).astype(np.int64)


def _in(dtype, value):
    return np.asarray(value, dtype=np.float64).astype(dtype)


class Metrics:
    UNSUPPORTED = {
        **{op: unsupported("sklearn.metrics reads bfloat16 scores as non-numeric (ValueError)", dtypes={"bfloat16"})
           for op in ("top_k_accuracy", "roc_auc")},
        "early_stopping": unsupported("scikit-learn has no early-stopping callback (an estimator's "
                                      "n_iter_no_change is internal to its fit)"),
        "standard_scale": unsupported("sklearn.preprocessing validates float64, float32 and float16 only",
                                      dtypes={"bfloat16"}),
        "min_max_scale": unsupported("sklearn.preprocessing validates float64, float32 and float16 only",
                                     dtypes={"bfloat16"}),
    }
    FIXED = {
        "standard_scale": {"ddof": (skp.StandardScaler, 0), "epsilon": (skp.StandardScaler, 0.0)},
    }
    NATIVE_DEFAULTS = {
        "min_max_scale": {"feature_range": (skp.MinMaxScaler, "feature_range", same)},
        "top_k_accuracy": {"k": (skm.top_k_accuracy_score, "k", same)},
        **{op: {"average": (fn, "average", same), "zero_division": (fn, "zero_division", same)}
           for op, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score))},
    }

    def standard_scale(self, x, ddof, epsilon):
        return _in(x.dtype, skp.StandardScaler().fit_transform(x))

    def min_max_scale(self, x, feature_range):
        return _in(x.dtype, skp.MinMaxScaler(feature_range=tuple(feature_range)).fit_transform(x))

    def accuracy(self, y_true, y_pred):
        return _in(y_true.dtype, skm.accuracy_score(_labels(y_true), _labels(y_pred)))

    def top_k_accuracy(self, y_true, scores, k):
        labels = np.arange(scores.shape[1])
        return _in(y_true.dtype, skm.top_k_accuracy_score(_labels(y_true), scores, k=k, labels=labels))

    def confusion_matrix(self, y_true, y_pred, num_classes):
        return _in(y_true.dtype, skm.confusion_matrix(_labels(y_true), _labels(y_pred), labels=np.arange(num_classes)))

    def _averaged(self, fn, y_true, y_pred, num_classes, average, zero_division):
        labels = None if average == "binary" else np.arange(num_classes)
        return _in(y_true.dtype, fn(_labels(y_true), _labels(y_pred), labels=labels, average=average, pos_label=1,
                                    zero_division=zero_division))

    def precision(self, y_true, y_pred, num_classes, average, zero_division):
        return self._averaged(skm.precision_score, y_true, y_pred, num_classes, average, zero_division)

    def recall(self, y_true, y_pred, num_classes, average, zero_division):
        return self._averaged(skm.recall_score, y_true, y_pred, num_classes, average, zero_division)

    def f1(self, y_true, y_pred, num_classes, average, zero_division):
        return self._averaged(skm.f1_score, y_true, y_pred, num_classes, average, zero_division)

    def roc_auc(self, y_true, scores):
        return _in(scores.dtype, skm.roc_auc_score(_labels(y_true), scores))
