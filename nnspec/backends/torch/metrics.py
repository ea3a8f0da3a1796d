"""Torch adapter, metrics: torchmetrics (the PyTorch ecosystem's metrics library; torch itself has none).

The one-shot value is torchmetrics' functional API (``torchmetrics.functional.classification``);
the accumulated one (``stream_<op>``, the streaming check) its ``Metric`` object with one
``update`` per batch, then ``compute()``. Labels arrive as integer values in the dtype under test
and are handed over as int64 (torchmetrics' targets); predicted labels too, except for the
binary metrics, whose predictions are the 0/1 labels as floats above the threshold 0.5.
``accuracy`` takes the multiclass accuracy with ``average="micro"`` (the fraction correct) over
max(2, 1 + the largest label) classes (any K past it gives the same fraction). What torchmetrics returns
(float32 for counts' ratios) is converted to the dtype under test.

torch has no scaler (torch.std is a reduction: composing one would re-implement the scaler) and
no early stopping (it lives in PyTorch Lightning): those ops are declared unsupported. Without
torchmetrics installed every metric is declared unsupported.
"""

from __future__ import annotations

import torch

from ..binding import same
from ..declared import unsupported

try:
    import torchmetrics.classification as TM
    import torchmetrics.functional.classification as TF
except ImportError:  # torchmetrics is the torch extra's; a torch without it has no metrics
    TM = TF = None

NO_SCALER = "torch has no scaler (torch.std/torch.aminmax are reductions: composing them re-implements the scaler)"
METRICS = ("accuracy", "top_k_accuracy", "confusion_matrix", "precision", "recall", "f1", "roc_auc")
AVERAGED = {"precision": ("binary_precision", "multiclass_precision", "BinaryPrecision", "MulticlassPrecision"),
            "recall": ("binary_recall", "multiclass_recall", "BinaryRecall", "MulticlassRecall"),
            "f1": ("binary_f1_score", "multiclass_f1_score", "BinaryF1Score", "MulticlassF1Score")}


def _long(a):
    return a.to(torch.int64)


def _stream(metric, batches, prepare, dtype):
    for inputs in batches:
        metric.update(*prepare(*inputs))
    return metric.compute().to(dtype)


class Metrics:
    UNSUPPORTED = {
        "standard_scale": unsupported(NO_SCALER),
        "min_max_scale": unsupported(NO_SCALER),
        "early_stopping": unsupported("torch has no early stopping (PyTorch Lightning's EarlyStopping callback, "
                                      "not a torch API)"),
        **{op: unsupported("torchmetrics' Metric classes take zero_division 0 or 1 only (ValueError for nan)",
                           zero_division=lambda z: z != z) for op in AVERAGED},
        **({op: unsupported("torchmetrics is not installed (pip install 'nnspec[torch]')") for op in METRICS}
           if TF is None else {}),
    }
    NATIVE_DEFAULTS = {} if TF is None else {
        "top_k_accuracy": {"k": (TF.multiclass_accuracy, "top_k", same)},
        **{op: {"zero_division": (getattr(TF, names[1]), "zero_division", same),
                "average": (getattr(TF, names[1]), "average", same)} for op, names in AVERAGED.items()},
    }

    def accuracy(self, y_true, y_pred):
        t, p = _long(y_true), _long(y_pred)
        classes = max(int(max(t.max(), p.max())) + 1, 2)  # torchmetrics wants ≥ 2
        return TF.multiclass_accuracy(p, t, num_classes=classes, average="micro").to(y_true.dtype)

    def stream_accuracy(self, batches):
        classes = max(int(max(max(b[0].max(), b[1].max()) for b in batches)) + 1, 2)
        return _stream(TM.MulticlassAccuracy(num_classes=classes, average="micro"), batches,
                       lambda t, p: (_long(p), _long(t)), batches[0][0].dtype)

    def top_k_accuracy(self, y_true, scores, k):
        return TF.multiclass_accuracy(scores, _long(y_true), num_classes=scores.shape[1], top_k=k,
                                      average="micro").to(scores.dtype)

    def stream_top_k_accuracy(self, batches, k):
        return _stream(TM.MulticlassAccuracy(num_classes=batches[0][1].shape[1], top_k=k, average="micro"), batches,
                       lambda t, s: (s, _long(t)), batches[0][1].dtype)

    def confusion_matrix(self, y_true, y_pred, num_classes):
        return TF.multiclass_confusion_matrix(_long(y_pred), _long(y_true), num_classes=num_classes).to(y_true.dtype)

    def stream_confusion_matrix(self, batches, num_classes):
        return _stream(TM.MulticlassConfusionMatrix(num_classes=num_classes), batches,
                       lambda t, p: (_long(p), _long(t)), batches[0][0].dtype)

    def _averaged(self, op, y_true, y_pred, num_classes, average, zero_division):
        binary, multiclass, _, _ = AVERAGED[op]
        if average == "binary":
            value = getattr(TF, binary)(y_pred.to(torch.float32), _long(y_true), threshold=0.5,
                                        zero_division=zero_division)
        else:
            value = getattr(TF, multiclass)(_long(y_pred), _long(y_true), num_classes=num_classes, average=average,
                                            zero_division=zero_division)
        return value.to(y_true.dtype)

    def _streamed(self, op, batches, num_classes, average, zero_division):
        _, _, binary, multiclass = AVERAGED[op]
        if average == "binary":
            metric = getattr(TM, binary)(threshold=0.5, zero_division=zero_division)
            prepare = lambda t, p: (p.to(torch.float32), _long(t))  # noqa: E731
        else:
            metric = getattr(TM, multiclass)(num_classes=num_classes, average=average, zero_division=zero_division)
            prepare = lambda t, p: (_long(p), _long(t))  # noqa: E731
        return _stream(metric, batches, prepare, batches[0][0].dtype)

    def precision(self, y_true, y_pred, num_classes, average, zero_division):
        return self._averaged("precision", y_true, y_pred, num_classes, average, zero_division)

    def stream_precision(self, batches, num_classes, average, zero_division):
        return self._streamed("precision", batches, num_classes, average, zero_division)

    def recall(self, y_true, y_pred, num_classes, average, zero_division):
        return self._averaged("recall", y_true, y_pred, num_classes, average, zero_division)

    def stream_recall(self, batches, num_classes, average, zero_division):
        return self._streamed("recall", batches, num_classes, average, zero_division)

    def f1(self, y_true, y_pred, num_classes, average, zero_division):
        return self._averaged("f1", y_true, y_pred, num_classes, average, zero_division)

    def stream_f1(self, batches, num_classes, average, zero_division):
        return self._streamed("f1", batches, num_classes, average, zero_division)

    def roc_auc(self, y_true, scores):
        return TF.binary_auroc(scores, _long(y_true), thresholds=None).to(scores.dtype)

    def stream_roc_auc(self, batches):
        return _stream(TM.BinaryAUROC(thresholds=None), batches, lambda t, s: (s, _long(t)), batches[0][1].dtype)
