"""MLX adapter, losses: mlx.nn.losses, one call each; what it has no function or option for is declared.

mlx.nn.losses speaks the spec's reduction vocabulary ("none", "mean", "sum"). Its KL divergence
takes log-probabilities (``kl_div_loss(inputs, targets)`` = Σ exp(t)·(t − p), both logs), so the
adapter hands it ``mx.log`` of the spec's probability rows, as a user holding probabilities must.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from nnspec.backends import unsupported
from nnspec.backends.binding import bind, same

L = nn.losses
SMOOTHING = "mlx.nn.losses.binary_cross_entropy has no label smoothing"
CLASS_WEIGHT = "mlx.nn.losses' weights= weighs each example, not each class (no class weights)"
SMOOTHING_RANGE = "mlx.nn.losses.cross_entropy requires label_smoothing in [0, 1) (ValueError at 1)"


def smoothed(value):
    return value != 0


class Losses:
    BINDINGS = {
        "mse": bind(L.mse_loss),
        "mae": bind(L.l1_loss),
        "huber": bind(L.huber_loss),
        "triplet": bind(L.triplet_loss),
    }
    NATIVE_DEFAULTS = {
        "binary_cross_entropy": {"reduction": (L.binary_cross_entropy, "reduction", same)},
        "binary_cross_entropy_with_logits": {"reduction": (L.binary_cross_entropy, "reduction", same)},
        "categorical_cross_entropy_with_logits": {"reduction": (L.cross_entropy, "reduction", same),
                                                  "label_smoothing": (L.cross_entropy, "label_smoothing", same)},
        "nll": {"reduction": (L.nll_loss, "reduction", same)},
        "kl_divergence": {"reduction": (L.kl_div_loss, "reduction", same)},
        "sparse_categorical_cross_entropy": {"reduction": (L.cross_entropy, "reduction", same),
                                             "label_smoothing": (L.cross_entropy, "label_smoothing", same)},
    }
    UNSUPPORTED = {
        "binary_cross_entropy": unsupported(SMOOTHING, label_smoothing=smoothed),
        "binary_cross_entropy_with_logits": unsupported(SMOOTHING, label_smoothing=smoothed),
        "categorical_cross_entropy": "mlx.nn.losses has no cross-entropy of probabilities (cross_entropy takes logits)",
        "categorical_cross_entropy_with_logits": [
            unsupported(CLASS_WEIGHT, class_weight=lambda w: w is not None),
            unsupported(SMOOTHING_RANGE, label_smoothing=lambda s: s >= 1),
        ],
        "sparse_categorical_cross_entropy": [
            unsupported("mlx.nn.losses.cross_entropy takes logits only", from_logits=False),
            unsupported(CLASS_WEIGHT, class_weight=lambda w: w is not None),
            unsupported("mlx.nn.losses.cross_entropy has no ignore_index", ignore_index=lambda i: i is not None),
            unsupported(SMOOTHING_RANGE, label_smoothing=lambda s: s >= 1),
        ],
        "nll": [
            unsupported(CLASS_WEIGHT, class_weight=lambda w: w is not None),
            unsupported("mlx.nn.losses.nll_loss has no ignore_index", ignore_index=lambda i: i is not None),
        ],
        "focal": "mlx.nn.losses has no focal loss",
        "dice": "mlx.nn.losses has no dice loss",
        "l1_penalty": "MLX has no weight penalties (regularizers)",
        "l2_penalty": "MLX has no weight penalties (regularizers)",
    }

    # label smoothing and class weights are declared unsupported where MLX lacks them: never reach these methods
    def binary_cross_entropy(self, prediction, target, reduction, label_smoothing):
        return L.binary_cross_entropy(prediction, target, with_logits=False, reduction=reduction)

    def binary_cross_entropy_with_logits(self, logits, target, reduction, label_smoothing):
        return L.binary_cross_entropy(logits, target, with_logits=True, reduction=reduction)

    def categorical_cross_entropy_with_logits(self, logits, target, reduction, label_smoothing, class_weight):
        return L.cross_entropy(logits, target, label_smoothing=label_smoothing, reduction=reduction)

    def sparse_categorical_cross_entropy(self, prediction, labels, from_logits, reduction, label_smoothing,
                                         class_weight, ignore_index):
        return L.cross_entropy(prediction, labels, label_smoothing=label_smoothing, reduction=reduction)

    def nll(self, log_probabilities, labels, reduction, class_weight, ignore_index):
        return L.nll_loss(log_probabilities, labels, reduction=reduction)

    def kl_divergence(self, prediction, target, reduction):
        return L.kl_div_loss(mx.log(prediction), mx.log(target), reduction=reduction)
