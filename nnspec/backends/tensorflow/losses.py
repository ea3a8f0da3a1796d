"""Tensorflow adapter, losses: Keras 3 losses (keras.losses classes on the TensorFlow backend).

Each call builds the Keras loss with every parameter explicit — ``reduction`` in Keras'
vocabulary, ``axis=-1``, ``from_logits``, ``label_smoothing`` — and ``dtype`` set to the
prediction's: Keras computes a loss in ``keras.config.floatx()`` (float32) unless told
otherwise, so a float16 prediction would come back as a float32 loss. Keras has no nll
and no triplet loss: those two are composed from keras.ops.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from ..base import DTYPES, composed, native_default_of, same, unsupported

REDUCTION = {"mean": "sum_over_batch_size", "sum": "sum", "none": None}
FROM_KERAS = {"sum_over_batch_size": "mean", "mean": "mean", "sum": "sum", None: "none", "none": "none"}


def reduction(native):
    """Keras' reduction in spec vocabulary."""
    return FROM_KERAS.get(native, native)


def class_balancing(on):
    """BinaryFocalCrossentropy's alpha applies only with apply_class_balancing=True (else: no α)."""
    return native_default_of(keras.losses.BinaryFocalCrossentropy, "alpha") if on else None


def _per_sample_class_weight(class_weight, labels, dtype):
    """Class weights as Keras takes them: ``sample_weight`` = class_weight[y], one weight per row.

    Keras' losses have no class-weight parameter; ``Model.fit(class_weight=...)`` turns class weights
    into exactly this per-sample weight (its data adapters gather class_weight[y]) and passes it to
    the loss's __call__, so this is Keras' own documented mechanism, not a formula of ours. Labels
    outside [0, C) (an ignored label may be one) gather class 0; ignore_class zeroes their loss anyway.
    """
    if class_weight is None:
        return None
    weights = ops.convert_to_tensor(np.asarray(class_weight), dtype=dtype)
    classes = len(class_weight)
    return ops.take(weights, ops.where((labels >= 0) & (labels < classes), labels, 0))


def _dtype(tensor):
    return tensor.dtype.name


def _reduce(losses, how):
    return {"mean": ops.mean, "sum": ops.sum}.get(how, lambda x: x)(losses)


def _epsilon(dtype: str) -> float:
    """keras.config.epsilon() as the dtype holds it (subnormal in float16): what Dice adds."""
    return float(np.asarray(keras.config.epsilon(), dtype=DTYPES[dtype]))


def _defaults(cls, **more):
    return {"reduction": (cls, "reduction", reduction), **{k: (cls, name, to) for k, (name, to) in more.items()}}


class Losses:
    NATIVE_DEFAULTS = {
        "mse": _defaults(keras.losses.MeanSquaredError),
        "mae": _defaults(keras.losses.MeanAbsoluteError),
        "huber": _defaults(keras.losses.Huber, delta=("delta", same)),
        "binary_cross_entropy": _defaults(keras.losses.BinaryCrossentropy, label_smoothing=("label_smoothing", same)),
        "binary_cross_entropy_with_logits": _defaults(keras.losses.BinaryCrossentropy,
                                                      label_smoothing=("label_smoothing", same)),
        "categorical_cross_entropy": _defaults(keras.losses.CategoricalCrossentropy,
                                               label_smoothing=("label_smoothing", same)),
        "categorical_cross_entropy_with_logits": _defaults(keras.losses.CategoricalCrossentropy,
                                                           label_smoothing=("label_smoothing", same)),
        "sparse_categorical_cross_entropy": _defaults(keras.losses.SparseCategoricalCrossentropy,
                                                      from_logits=("from_logits", same),
                                                      ignore_index=("ignore_class", same)),
        "kl_divergence": _defaults(keras.losses.KLDivergence),
        "focal": _defaults(keras.losses.BinaryFocalCrossentropy, alpha=("apply_class_balancing", class_balancing),
                           gamma=("gamma", same), from_logits=("from_logits", same),
                           label_smoothing=("label_smoothing", same)),
        "dice": _defaults(keras.losses.Dice),
        "l1_penalty": {"lam": (keras.regularizers.L1, "l1", same)},
        "l2_penalty": {"lam": (keras.regularizers.L2, "l2", same)},
    }
    UNSUPPORTED = {
        **{op: unsupported(
            "keras.losses.CategoricalCrossentropy takes no class weights; Model.fit(class_weight=) weights a "
            "row of probability targets by the weight of its argmax class, not by Σ_c w_c·t_c",
            class_weight=lambda w: w is not None)
           for op in ("categorical_cross_entropy", "categorical_cross_entropy_with_logits")},
        "sparse_categorical_cross_entropy": unsupported(
            "keras.losses.SparseCategoricalCrossentropy has no label_smoothing",
            label_smoothing=lambda smoothing: smoothing != 0),
        "dice": [unsupported("keras.losses.Dice has no smoothing parameter: it adds keras.config.epsilon() to the "
                             "denominator only", dtypes=dtype, smooth=lambda smooth, dtype=dtype: smooth != _epsilon(dtype))
                 for dtype in DTYPES],
        "nll": unsupported("Keras has no nll loss (composed here from keras.ops): no native class weights or "
                           "ignored label to pass",
                           where=lambda p: p["class_weight"] is not None or p["ignore_index"] is not None),
    }

    def mse(self, prediction, target, reduction):
        loss = keras.losses.MeanSquaredError(reduction=REDUCTION[reduction], dtype=_dtype(prediction))
        return loss(target, prediction)

    def mae(self, prediction, target, reduction):
        loss = keras.losses.MeanAbsoluteError(reduction=REDUCTION[reduction], dtype=_dtype(prediction))
        return loss(target, prediction)

    def huber(self, prediction, target, delta, reduction):
        loss = keras.losses.Huber(delta=delta, reduction=REDUCTION[reduction], dtype=_dtype(prediction))
        return loss(target, prediction)

    def binary_cross_entropy(self, prediction, target, reduction, label_smoothing):
        loss = keras.losses.BinaryCrossentropy(from_logits=False, label_smoothing=label_smoothing, axis=-1,
                                               reduction=REDUCTION[reduction], dtype=_dtype(prediction))
        return loss(target, prediction)

    def binary_cross_entropy_with_logits(self, logits, target, reduction, label_smoothing):
        loss = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=label_smoothing, axis=-1,
                                               reduction=REDUCTION[reduction], dtype=_dtype(logits))
        return loss(target, logits)

    def categorical_cross_entropy(self, prediction, target, reduction, label_smoothing, class_weight):
        loss = keras.losses.CategoricalCrossentropy(from_logits=False, label_smoothing=label_smoothing, axis=-1,
                                                    reduction=REDUCTION[reduction], dtype=_dtype(prediction))
        return loss(target, prediction)

    def categorical_cross_entropy_with_logits(self, logits, target, reduction, label_smoothing, class_weight):
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=label_smoothing, axis=-1,
                                                    reduction=REDUCTION[reduction], dtype=_dtype(logits))
        return loss(target, logits)

    def sparse_categorical_cross_entropy(self, prediction, labels, from_logits, reduction, label_smoothing,
                                         class_weight, ignore_index):
        # Keras' "sum_over_batch_size" (its default, the spec's "mean") divides a weighted sum by the count of
        # rows (of kept rows under ignore_class), not by the weights' sum: the spec's mean_divisor="kept".
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=ignore_index,
                                                          axis=-1, reduction=REDUCTION[reduction],
                                                          dtype=_dtype(prediction))
        weights = _per_sample_class_weight(class_weight, labels, _dtype(prediction))
        return loss(labels, prediction, sample_weight=weights)

    @composed
    def nll(self, log_probabilities, labels, reduction, class_weight, ignore_index):
        picked = ops.take_along_axis(log_probabilities, ops.expand_dims(labels, -1), axis=-1)
        return _reduce(-ops.squeeze(picked, -1), reduction)

    def kl_divergence(self, prediction, target, reduction):
        loss = keras.losses.KLDivergence(reduction=REDUCTION[reduction], dtype=_dtype(prediction))
        return loss(target, prediction)

    def focal(self, prediction, target, alpha, gamma, from_logits, reduction, label_smoothing):
        loss = keras.losses.BinaryFocalCrossentropy(
            apply_class_balancing=alpha is not None, alpha=0.25 if alpha is None else alpha,  # unused when off
            gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing, axis=-1,
            reduction=REDUCTION[reduction], dtype=_dtype(prediction))
        return loss(target, prediction)

    def dice(self, prediction, target, smooth, reduction):
        loss = keras.losses.Dice(reduction=REDUCTION[reduction], axis=-1, dtype=_dtype(prediction))
        return loss(target, prediction)

    @composed
    def triplet(self, anchor, positive, negative, margin, reduction):
        near = ops.norm(anchor - positive, ord=2, axis=-1)
        far = ops.norm(anchor - negative, ord=2, axis=-1)
        return _reduce(ops.maximum(near - far + margin, 0), reduction)

    def l1_penalty(self, weights, lam):
        return keras.regularizers.L1(l1=lam)(weights)

    def l2_penalty(self, weights, lam):
        return keras.regularizers.L2(l2=lam)(weights)
