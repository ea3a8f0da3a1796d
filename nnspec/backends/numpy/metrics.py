"""Numpy adapter, metrics: the spec's metrics, scalers and early stopping in the input's dtype.

NumPy has no metrics library and no accumulated form of any metric: the streaming check is
unsupported here (it is the frameworks' update_state/update that it measures)."""

from __future__ import annotations

from ...spec import metrics as M
from .formulas import spec_binding

OPS = ("standard_scale", "min_max_scale", "accuracy", "top_k_accuracy", "confusion_matrix", "precision", "recall",
       "f1", "roc_auc", "early_stopping")


class Metrics:
    BINDINGS = {op: spec_binding(getattr(M, op)) for op in OPS}
