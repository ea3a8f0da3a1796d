"""Deliberately wrong loss adapters: each breaks one thing the engine must catch and report rightly.

They subclass the NumPy baseline, which passes these checks in float64, and change one op.
"""

from __future__ import annotations

import numpy as np

from nnspec.backends import Unsupported
from nnspec.backends.numpy import NumpyBackend, in_dtype
from nnspec.spec import losses as L


class ClippingBCE(NumpyBackend):
    """binary_cross_entropy that clips p to [1e-7, 1 − 1e-7] (as Keras does) where the spec does not."""

    name = "clipping-bce"

    def binary_cross_entropy(self, prediction, target, reduction, label_smoothing):
        return in_dtype(L.binary_cross_entropy, prediction, target, reduction=reduction,
                        label_smoothing=label_smoothing, clip_epsilon=1e-7)

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        if op == "binary_cross_entropy":
            return in_dtype(L.binary_cross_entropy_vjp, *inputs, cotangent, **params, clip_epsilon=1e-7)
        return super().vjp(op, inputs, cotangent, params, wrt)


class SwappedHuber(NumpyBackend):
    """huber with its branches swapped: linear inside |r| ≤ δ, quadratic outside."""

    name = "swapped-huber"

    def huber(self, prediction, target, delta, reduction):
        size = np.abs(prediction - target)
        terms = np.where(size <= delta, delta * (size - 0.5 * delta), 0.5 * size * size)
        return np.asarray({"mean": np.mean, "sum": np.sum}.get(reduction, lambda x: x)(terms), dtype=prediction.dtype)


class SparseWithoutLastClass(NumpyBackend):
    """sparse_categorical_cross_entropy normalised over every class but the last (an off-by-one)."""

    name = "sparse-without-last-class"

    def sparse_categorical_cross_entropy(self, prediction, labels, from_logits, reduction, label_smoothing,
                                         class_weight, ignore_index):
        last = prediction.shape[-1] - 1
        weights = None if class_weight is None else class_weight[:last]
        return in_dtype(L.sparse_categorical_cross_entropy, prediction[..., :last], np.minimum(labels, last - 1),
                        from_logits=from_logits, reduction=reduction, label_smoothing=label_smoothing,
                        class_weight=weights, ignore_index=ignore_index)


class WeightedMeanOverRows(NumpyBackend):
    """nll whose weighted "mean" divides by the count of kept rows, not by their weights' sum (as Keras'
    sum_over_batch_size with sample weights does)."""

    name = "weighted-mean-over-rows"

    def nll(self, log_probabilities, labels, reduction, class_weight, ignore_index):
        return in_dtype(L.nll, log_probabilities, labels, reduction=reduction, class_weight=class_weight,
                        ignore_index=ignore_index, mean_divisor="kept")

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        if op == "nll":
            return in_dtype(L.nll_vjp, *inputs, cotangent, **params, mean_divisor="kept")
        return super().vjp(op, inputs, cotangent, params, wrt)


class IgnoredRowsStillSummed(NumpyBackend):
    """sparse_categorical_cross_entropy whose ignored rows leave the mean's divisor but not its sum."""

    name = "ignored-rows-still-summed"

    def sparse_categorical_cross_entropy(self, prediction, labels, from_logits, reduction, label_smoothing,
                                         class_weight, ignore_index):
        every = in_dtype(L.sparse_categorical_cross_entropy, prediction, labels, from_logits=from_logits,
                         reduction="none" if reduction == "mean" else reduction, label_smoothing=label_smoothing,
                         class_weight=class_weight)  # no row ignored in the terms
        if reduction != "mean":
            return every
        divisor = L._divisor(labels, class_weight, ignore_index, np.float64, "weight_sum")
        with np.errstate(all="ignore"):  # an empty divisor: 0/0, as the spec's mean
            return np.asarray(np.sum(every.astype(np.float64)) / divisor, dtype=prediction.dtype)


class SoftWeightedMeanOverSamples(NumpyBackend):
    """categorical_cross_entropy_with_logits whose class-weighted "mean" divides by the row count N, not by
    Σ_i Σ_c w_c·t_ic (as torch's cross_entropy does for probability targets)."""

    name = "soft-weighted-mean-over-samples"

    def categorical_cross_entropy_with_logits(self, logits, target, reduction, label_smoothing, class_weight):
        return in_dtype(L.categorical_cross_entropy_with_logits, logits, target, reduction=reduction,
                        label_smoothing=label_smoothing, class_weight=class_weight, mean_divisor="samples")

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        if op == "categorical_cross_entropy_with_logits":
            return in_dtype(L.categorical_cross_entropy_with_logits_vjp, *inputs, cotangent, **params,
                            mean_divisor="samples")
        return super().vjp(op, inputs, cotangent, params, wrt)


class SoftWeightsInTheDivisorOnly(NumpyBackend):
    """categorical_cross_entropy whose weighted "mean" divides the unweighted terms by Σ_i Σ_c w_c·t_ic."""

    name = "soft-weights-in-the-divisor-only"

    def categorical_cross_entropy(self, prediction, target, reduction, label_smoothing, class_weight):
        plain = in_dtype(L.categorical_cross_entropy, prediction, target, reduction="sum" if reduction == "mean"
                         else reduction, label_smoothing=label_smoothing)
        if class_weight is None or reduction != "mean":
            return plain
        divisor = np.sum(target.astype(np.float64) * np.asarray(class_weight))
        with np.errstate(all="ignore"):
            return np.asarray(plain.astype(np.float64) / divisor, dtype=prediction.dtype)


class NoLabelSmoothing(NumpyBackend):
    """binary_cross_entropy that cannot smooth labels (raises Unsupported for ε ≠ 0), as torch's BCE."""

    name = "no-label-smoothing"

    def binary_cross_entropy(self, prediction, target, reduction, label_smoothing):
        if label_smoothing != 0:
            raise Unsupported("no label smoothing here")
        return super().binary_cross_entropy(prediction, target, reduction, label_smoothing)


class DeclinesEverything(NumpyBackend):
    """mse that raises Unsupported whatever it is given."""

    name = "declines-everything"

    def mse(self, prediction, target, reduction):
        raise Unsupported("mse is not offered")


class PerRowMse(NumpyBackend):
    """mse whose per-sample loss is the mean over the last axis (Keras' convention), so "none" is per row."""

    name = "per-row-mse"

    def mse(self, prediction, target, reduction):
        return in_dtype(L.mse, prediction, target, reduction=reduction, feature_mean=True)

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        if op == "mse":
            return in_dtype(L.mse_vjp, *inputs, cotangent, **params, feature_mean=True)
        return super().vjp(op, inputs, cotangent, params, wrt)
