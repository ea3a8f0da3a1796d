"""Numpy adapter, losses: the spec's loss formulas in the input's dtype."""

from __future__ import annotations

from ...spec import losses as L
from .formulas import in_dtype


class Losses:
    def mse(self, prediction, target, reduction):
        return in_dtype(L.mse, prediction, target, reduction=reduction)

    def mae(self, prediction, target, reduction):
        return in_dtype(L.mae, prediction, target, reduction=reduction)

    def huber(self, prediction, target, delta, reduction):
        return in_dtype(L.huber, prediction, target, delta=delta, reduction=reduction)

    def binary_cross_entropy(self, prediction, target, reduction, label_smoothing):
        return in_dtype(L.binary_cross_entropy, prediction, target, reduction=reduction,
                        label_smoothing=label_smoothing)

    def binary_cross_entropy_with_logits(self, logits, target, reduction, label_smoothing):
        return in_dtype(L.binary_cross_entropy_with_logits, logits, target, reduction=reduction,
                        label_smoothing=label_smoothing)

    def categorical_cross_entropy(self, prediction, target, reduction, label_smoothing, class_weight):
        return in_dtype(L.categorical_cross_entropy, prediction, target, reduction=reduction,
                        label_smoothing=label_smoothing, class_weight=class_weight)

    def categorical_cross_entropy_with_logits(self, logits, target, reduction, label_smoothing, class_weight):
        return in_dtype(L.categorical_cross_entropy_with_logits, logits, target, reduction=reduction,
                        label_smoothing=label_smoothing, class_weight=class_weight)

    def sparse_categorical_cross_entropy(self, prediction, labels, from_logits, reduction, label_smoothing,
                                         class_weight, ignore_index):
        return in_dtype(L.sparse_categorical_cross_entropy, prediction, labels, from_logits=from_logits,
                        reduction=reduction, label_smoothing=label_smoothing, class_weight=class_weight,
                        ignore_index=ignore_index)

    def nll(self, log_probabilities, labels, reduction, class_weight, ignore_index):
        return in_dtype(L.nll, log_probabilities, labels, reduction=reduction, class_weight=class_weight,
                        ignore_index=ignore_index)

    def kl_divergence(self, prediction, target, reduction):
        return in_dtype(L.kl_divergence, prediction, target, reduction=reduction)

    def focal(self, prediction, target, alpha, gamma, from_logits, reduction, label_smoothing):
        return in_dtype(L.focal, prediction, target, alpha=alpha, gamma=gamma, from_logits=from_logits,
                        reduction=reduction, label_smoothing=label_smoothing)

    def dice(self, prediction, target, smooth, reduction):
        return in_dtype(L.dice, prediction, target, smooth=smooth, reduction=reduction)

    def triplet(self, anchor, positive, negative, margin, reduction):
        return in_dtype(L.triplet, anchor, positive, negative, margin=margin, reduction=reduction)

    def l1_penalty(self, weights, lam):
        return in_dtype(L.l1_penalty, weights, lam=lam)

    def l2_penalty(self, weights, lam):
        return in_dtype(L.l2_penalty, weights, lam=lam)
