"""Deliberately wrong metrics adapters: each is one way a metrics port breaks, which the engine must catch.

They subclass the NumPy baseline (the spec) and change one thing: the unbiased standard deviation in
a standard scaler, a micro average where a macro one was asked, the AUC of a fixed set of thresholds
(200, Keras' default, or only 20) instead of the exact area, early stopping one epoch late, and a
streaming accuracy that averages the batches' accuracies (wrong for batches of unequal size).
"""

from __future__ import annotations

import numpy as np

from nnspec.backends.numpy import NumpyBackend, in_dtype
from nnspec.spec import metrics as M


class UnbiasedStdScaler(NumpyBackend):
    """standard_scale with the sample (n − 1) standard deviation, whatever ddof was asked."""

    name = "unbiased-std-scaler"

    def standard_scale(self, x, ddof, epsilon):
        return in_dtype(M.standard_scale, x, ddof=1, epsilon=epsilon)


class MicroForMacro(NumpyBackend):
    """precision, recall and F1 averaged micro where macro was asked."""

    name = "micro-for-macro"

    def precision(self, y_true, y_pred, num_classes, average, zero_division):
        return in_dtype(M.precision, y_true, y_pred, num_classes=num_classes,
                        average="micro" if average == "macro" else average, zero_division=zero_division)

    def recall(self, y_true, y_pred, num_classes, average, zero_division):
        return in_dtype(M.recall, y_true, y_pred, num_classes=num_classes,
                        average="micro" if average == "macro" else average, zero_division=zero_division)

    def f1(self, y_true, y_pred, num_classes, average, zero_division):
        return in_dtype(M.f1, y_true, y_pred, num_classes=num_classes,
                        average="micro" if average == "macro" else average, zero_division=zero_division)


class ThresholdedAuc(NumpyBackend):
    """ROC AUC from 200 fixed thresholds (Keras' AUC default), not the exact area."""

    name = "thresholded-auc"
    THRESHOLDS = 200

    def roc_auc(self, y_true, scores):
        return in_dtype(M.roc_auc, y_true, scores, num_thresholds=self.THRESHOLDS)


class TooFewThresholdsAuc(ThresholdedAuc):
    """ROC AUC from only 20 thresholds: no declared variant is that coarse."""

    name = "too-few-thresholds-auc"
    THRESHOLDS = 20


class LateEarlyStopping(NumpyBackend):
    """Early stopping one epoch late: it stops once wait > patience, not wait ≥ patience."""

    name = "late-early-stopping"

    def early_stopping(self, start, values, patience, min_delta, mode, baseline):
        return in_dtype(M.early_stopping, start, values, patience=patience, min_delta=min_delta, mode=mode,
                        baseline=baseline, count="exceed")


class ConcatenatingStream(NumpyBackend):
    """An accumulated accuracy that is right: the spec's accuracy of every batch's samples together."""

    name = "concatenating-stream"

    def stream_accuracy(self, batches):
        return in_dtype(M.accuracy, *(np.concatenate([b[i] for b in batches]) for i in range(2)))


class MeanOfBatchAccuracies(NumpyBackend):
    """An accumulated accuracy that averages each batch's accuracy: wrong when the batches differ in size."""

    name = "mean-of-batch-accuracies"

    def stream_accuracy(self, batches):
        return np.mean([in_dtype(M.accuracy, *b) for b in batches]).astype(batches[0][0].dtype)
