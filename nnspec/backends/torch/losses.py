"""Torch adapter, losses: torch.nn.functional losses; what torch has no function for is composed.

torch speaks the spec's reduction vocabulary ("mean", "sum", "none"), except kl_div,
whose "mean" averages every term and whose "batchmean" is the spec's "mean". torch
has no label smoothing for its binary losses: the smoothed target t(1 − ε) + ε/2 is
formed here, as a user would, and the loss is torch's own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..base import composed, native_default_of, same, unsupported

KL_REDUCTION = {"mean": "batchmean", "sum": "sum", "none": "none"}


def kl_reduction(native):
    """kl_div's reduction in spec vocabulary: its "mean" is the mean of every term, not of each row's KL."""
    return {"batchmean": "mean", "mean": "mean of every term"}.get(native, native)


def _reduce(losses, reduction):
    """The reduction of a composed loss, as torch's own losses do it."""
    return {"mean": torch.mean, "sum": torch.sum}.get(reduction, lambda x: x)(losses)


def no_class(native):
    """torch's ignore_index default, −100, in spec vocabulary: a negative index is no class, so it ignores
    no label in [0, C) — the spec's None. A class index would be itself."""
    return None if native < 0 else native


def _class_weight(class_weight, like):
    """The spec's C class weights as torch's ``weight``: a tensor in the prediction's dtype and device."""
    return None if class_weight is None else torch.tensor(class_weight, dtype=like.dtype, device=like.device)


def _ignored(ignore_index, loss):
    """torch's ignore_index: the spec's, or ``loss``'s own default (read from its signature) for None."""
    return native_default_of(loss, "ignore_index") if ignore_index is None else ignore_index


def _smooth_binary(target, label_smoothing):
    return target * (1 - label_smoothing) + 0.5 * label_smoothing


def _smooth_categorical(target, label_smoothing):
    return target * (1 - label_smoothing) + label_smoothing / target.shape[-1]


class Losses:
    NATIVE_DEFAULTS = {
        "mse": {"reduction": (F.mse_loss, "reduction", same)},
        "mae": {"reduction": (F.l1_loss, "reduction", same)},
        "huber": {"delta": (F.huber_loss, "delta", same), "reduction": (F.huber_loss, "reduction", same)},
        "binary_cross_entropy": {"reduction": (F.binary_cross_entropy, "reduction", same)},
        "binary_cross_entropy_with_logits": {"reduction": (F.binary_cross_entropy_with_logits, "reduction", same)},
        "categorical_cross_entropy_with_logits": {
            "reduction": (F.cross_entropy, "reduction", same),
            "label_smoothing": (F.cross_entropy, "label_smoothing", same),
            "class_weight": (F.cross_entropy, "weight", same),
        },
        "sparse_categorical_cross_entropy": {
            "reduction": (F.cross_entropy, "reduction", same),
            "label_smoothing": (F.cross_entropy, "label_smoothing", same),
            "class_weight": (F.cross_entropy, "weight", same),
            "ignore_index": (F.cross_entropy, "ignore_index", no_class),
        },
        "nll": {"reduction": (F.nll_loss, "reduction", same), "class_weight": (F.nll_loss, "weight", same),
                "ignore_index": (F.nll_loss, "ignore_index", no_class)},
        "kl_divergence": {"reduction": (F.kl_div, "reduction", kl_reduction)},
        "triplet": {"margin": (F.triplet_margin_loss, "margin", same),
                    "reduction": (F.triplet_margin_loss, "reduction", same)},
    }
    UNSUPPORTED = {
        "categorical_cross_entropy": unsupported(
            "torch has no cross-entropy of probabilities (composed here): its class weights (weight=) are "
            "cross_entropy's, on logits", class_weight=lambda w: w is not None),
        "sparse_categorical_cross_entropy": unsupported(
            "torch smooths labels in cross_entropy (logits) only, not in nll_loss",
            from_logits=False, label_smoothing=lambda smoothing: smoothing != 0),
        "triplet": unsupported("F.triplet_margin_loss requires margin > 0", margin=lambda margin: margin <= 0),
    }

    def mse(self, prediction, target, reduction):
        return F.mse_loss(prediction, target, reduction=reduction)

    def mae(self, prediction, target, reduction):
        return F.l1_loss(prediction, target, reduction=reduction)

    def huber(self, prediction, target, delta, reduction):
        return F.huber_loss(prediction, target, reduction=reduction, delta=delta)

    def binary_cross_entropy(self, prediction, target, reduction, label_smoothing):
        target = _smooth_binary(target, label_smoothing)
        return F.binary_cross_entropy(prediction, target, reduction=reduction)

    def binary_cross_entropy_with_logits(self, logits, target, reduction, label_smoothing):
        target = _smooth_binary(target, label_smoothing)
        return F.binary_cross_entropy_with_logits(logits, target, reduction=reduction)

    @composed
    def categorical_cross_entropy(self, prediction, target, reduction, label_smoothing, class_weight):
        # torch's cross-entropies take logits or log-probabilities; here −Σ t·log p (xlogy: 0·log 0 = 0).
        target = _smooth_categorical(target, label_smoothing)
        return _reduce(-torch.xlogy(target, prediction).sum(dim=-1), reduction)

    def categorical_cross_entropy_with_logits(self, logits, target, reduction, label_smoothing, class_weight):
        return F.cross_entropy(logits, target, weight=_class_weight(class_weight, logits), reduction=reduction,
                               label_smoothing=label_smoothing)

    def sparse_categorical_cross_entropy(self, prediction, labels, from_logits, reduction, label_smoothing,
                                         class_weight, ignore_index):
        weight = _class_weight(class_weight, prediction)
        if from_logits:
            ignored = _ignored(ignore_index, F.cross_entropy)
            return F.cross_entropy(prediction, labels, weight=weight, ignore_index=ignored, reduction=reduction,
                                   label_smoothing=label_smoothing)
        # torch's way for probabilities
        return F.nll_loss(torch.log(prediction), labels, weight=weight, ignore_index=_ignored(ignore_index, F.nll_loss),
                          reduction=reduction)

    def nll(self, log_probabilities, labels, reduction, class_weight, ignore_index):
        return F.nll_loss(log_probabilities, labels, weight=_class_weight(class_weight, log_probabilities),
                          ignore_index=_ignored(ignore_index, F.nll_loss), reduction=reduction)

    def kl_divergence(self, prediction, target, reduction):
        return F.kl_div(torch.log(prediction), target, reduction=KL_REDUCTION[reduction], log_target=False)

    @composed
    def focal(self, prediction, target, alpha, gamma, from_logits, reduction, label_smoothing):
        # torch has no focal loss; torchvision.ops.sigmoid_focal_loss's formula, on torch's own BCE.
        target = _smooth_binary(target, label_smoothing)
        if from_logits:
            p = torch.sigmoid(prediction)
            bce = F.binary_cross_entropy_with_logits(prediction, target, reduction="none")
        else:
            p = prediction
            bce = F.binary_cross_entropy(prediction, target, reduction="none")
        p_t = p * target + (1 - p) * (1 - target)
        loss = bce * (1 - p_t) ** gamma
        if alpha is not None:
            loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
        return _reduce(loss, reduction)

    @composed
    def dice(self, prediction, target, smooth, reduction):
        intersection = (prediction * target).sum(dim=-1)
        ratio = (2 * intersection + smooth) / (prediction.sum(dim=-1) + target.sum(dim=-1) + smooth)
        return _reduce(1 - ratio, reduction)

    def triplet(self, anchor, positive, negative, margin, reduction):
        return F.triplet_margin_loss(anchor, positive, negative, margin=margin, p=2.0, swap=False,
                                     reduction=reduction)

    @composed
    def l1_penalty(self, weights, lam):
        return lam * weights.abs().sum()

    @composed
    def l2_penalty(self, weights, lam):
        return lam * weights.pow(2).sum()
