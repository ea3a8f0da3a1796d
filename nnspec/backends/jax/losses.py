"""Jax adapter, losses: optax.losses where optax has the loss; what it has not is composed from jax.numpy.

optax losses return per-element (or per-row) values and leave the reduction to the
user: ``jnp.mean`` or ``jnp.sum`` of them, as optax's own examples do. optax has no
label smoothing for binary losses: the smoothed target t(1 − ε) + ε/2 is formed here,
as a user would; categorical targets are smoothed by ``optax.smooth_labels``. Float
parameters arrive traced (see the backend's ``_fast``), so nothing here branches on one
in Python.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax.scipy.special import xlog1py, xlogy

from ..base import composed, same, unsupported


def _reduce(losses, reduction):
    return {"mean": jnp.mean, "sum": jnp.sum}.get(reduction, lambda x: x)(losses)


def _smooth_binary(target, label_smoothing):
    return target * (1 - label_smoothing) + 0.5 * label_smoothing


def _binary_cross_entropy(p, t):
    """−[t·log p + (1 − t)·log1p(−p)], with 0·log 0 = 0 (optax has BCE on logits only)."""
    return -(xlogy(t, p) + xlog1py(1 - t, -p))


class Losses:
    UNSUPPORTED = {
        "categorical_cross_entropy": unsupported(
            "optax has no cross-entropy of probabilities (composed here): no class weights to pass",
            class_weight=lambda w: w is not None),
        "categorical_cross_entropy_with_logits": unsupported(
            "optax.losses.softmax_cross_entropy takes no class weights", class_weight=lambda w: w is not None),
        "sparse_categorical_cross_entropy": [
            unsupported("optax's cross-entropies take no class weights", class_weight=lambda w: w is not None),
            unsupported("optax has no cross-entropy of probabilities (composed here): no ignored label to pass",
                        where=lambda p: p["ignore_index"] is not None and not p["from_logits"]),
        ],
        "nll": unsupported("optax has no nll loss (composed here from jax.numpy): no native class weights or "
                           "ignored label to pass",
                           where=lambda p: p["class_weight"] is not None or p["ignore_index"] is not None),
    }
    NATIVE_DEFAULTS = {
        "huber": {"delta": (optax.losses.huber_loss, "delta", same)},
        "focal": {"alpha": (optax.losses.sigmoid_focal_loss, "alpha", same),
                  "gamma": (optax.losses.sigmoid_focal_loss, "gamma", same)},
        "triplet": {"margin": (optax.losses.triplet_margin_loss, "margin", same)},
    }

    def mse(self, prediction, target, reduction):
        return _reduce(optax.losses.squared_error(prediction, target), reduction)

    @composed
    def mae(self, prediction, target, reduction):
        return _reduce(jnp.abs(prediction - target), reduction)

    def huber(self, prediction, target, delta, reduction):
        return _reduce(optax.losses.huber_loss(prediction, target, delta=delta), reduction)

    @composed
    def binary_cross_entropy(self, prediction, target, reduction, label_smoothing):
        return _reduce(_binary_cross_entropy(prediction, _smooth_binary(target, label_smoothing)), reduction)

    def binary_cross_entropy_with_logits(self, logits, target, reduction, label_smoothing):
        target = _smooth_binary(target, label_smoothing)
        return _reduce(optax.losses.sigmoid_binary_cross_entropy(logits, target), reduction)

    @composed
    def categorical_cross_entropy(self, prediction, target, reduction, label_smoothing, class_weight):
        target = optax.smooth_labels(target, label_smoothing, axis=-1)
        return _reduce(-jnp.sum(xlogy(target, prediction), axis=-1), reduction)

    def categorical_cross_entropy_with_logits(self, logits, target, reduction, label_smoothing, class_weight):
        target = optax.smooth_labels(target, label_smoothing, axis=-1)
        return _reduce(optax.losses.softmax_cross_entropy(logits, target, axis=-1), reduction)

    def sparse_categorical_cross_entropy(self, prediction, labels, from_logits, reduction, label_smoothing,
                                         class_weight, ignore_index):
        # optax's where= leaves the ignored rows out (their loss 0); the mean over every row is then jnp.mean's.
        where = None if ignore_index is None else labels != ignore_index
        target = optax.smooth_labels(jax.nn.one_hot(labels, prediction.shape[-1], dtype=prediction.dtype),
                                     label_smoothing, axis=-1)
        if not from_logits:  # optax's cross-entropies take logits: on probabilities it is composed
            return _reduce(-jnp.sum(xlogy(target, prediction), axis=-1), reduction)

        # The integer-label form has no smoothing: with ε > 0, the smoothed one-hot goes to the dense form.
        def integer(args):
            return optax.losses.softmax_cross_entropy_with_integer_labels(args[0], labels, axis=-1, where=where)

        def smoothed(args):
            return optax.losses.softmax_cross_entropy(args[0], args[1], axis=-1, where=where)

        return _reduce(jax.lax.cond(label_smoothing == 0, integer, smoothed, (prediction, target)), reduction)

    @composed
    def nll(self, log_probabilities, labels, reduction, class_weight, ignore_index):
        picked = jnp.take_along_axis(log_probabilities, labels[..., None], axis=-1)[..., 0]
        return _reduce(-picked, reduction)

    def kl_divergence(self, prediction, target, reduction):
        return _reduce(optax.losses.kl_divergence(jnp.log(prediction), target, axis=-1), reduction)

    def focal(self, prediction, target, alpha, gamma, from_logits, reduction, label_smoothing):
        target = _smooth_binary(target, label_smoothing)
        if from_logits:
            return _reduce(optax.losses.sigmoid_focal_loss(prediction, target, alpha=alpha, gamma=gamma), reduction)
        # optax's focal loss takes logits; on probabilities, its formula on the composed BCE.
        p_t = prediction * target + (1 - prediction) * (1 - target)
        loss = _binary_cross_entropy(prediction, target) * (1 - p_t) ** gamma
        if alpha is not None:
            loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
        return _reduce(loss, reduction)

    @composed
    def dice(self, prediction, target, smooth, reduction):
        # optax.losses.dice_loss wants softmax-normalised class rows (checked eagerly, so not under jit).
        intersection = jnp.sum(prediction * target, axis=-1)
        ratio = (2 * intersection + smooth) / (jnp.sum(prediction, axis=-1) + jnp.sum(target, axis=-1) + smooth)
        return _reduce(1 - ratio, reduction)

    def triplet(self, anchor, positive, negative, margin, reduction):
        loss = optax.losses.triplet_margin_loss(anchor, positive, negative, axis=-1, norm_degree=2, margin=margin)
        return _reduce(loss, reduction)

    @composed
    def l1_penalty(self, weights, lam):
        return lam * jnp.sum(jnp.abs(weights))

    @composed
    def l2_penalty(self, weights, lam):
        return lam * jnp.sum(jnp.square(weights))
