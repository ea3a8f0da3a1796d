"""TensorFlow adapter, metrics: keras.metrics.*, keras.layers.Normalization, keras.callbacks.EarlyStopping,
tf.math.confusion_matrix.

A Keras metric is an object: the one-shot value is a fresh metric's ``update_state`` on every
sample then ``result()``; the accumulated one (``stream_<op>``, the streaming check) is one
``update_state`` per batch. Metrics are built in the dtype under test (``dtype=``), labels are
handed over as they arrive (integer values in that dtype), and what ``result()`` returns is
converted to the dtype under test (a float32 result of a float64 case is measured as float32
arithmetic: that is what Keras computed).

* ``precision`` and ``recall``: keras.metrics.Precision / Recall are binary (predictions above
  the threshold 0.5 are positive; 0/1 labels pass through unchanged); other averages are
  declared unsupported; an empty denominator gives 0 (``divide_no_nan``): zero_division FIXED 0.
* ``f1``: keras.metrics.F1Score(average=...) on one-hot labels and one-hot predictions (its
  threshold=None takes the largest prediction); ``average=None`` (per class) has no spec
  counterpart and "binary" is not one of its averages: declared unsupported.
* ``roc_auc``: keras.metrics.AUC() — 200 thresholds and trapezoidal interpolation, the spec's
  ``num_thresholds=200`` variant, not the exact area.
* ``standard_scale``: keras.layers.Normalization(axis=-1) adapted on x, then applied to it:
  biased variance (ddof FIXED 0) and √var floored at 1e-7 rather than an ε under the root
  (epsilon FIXED 0).
* ``early_stopping``: the callback on a stand-in model (stop_training and get/set_weights are all
  it touches), ``on_epoch_end(t, {"val_loss": v})`` per epoch until it stops.
* ``confusion_matrix``: tf.math.confusion_matrix; Keras 3 has no confusion-matrix metric to
  accumulate.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ..binding import same
from ..declared import unsupported


def _run(cls, batches, dtype, prepare=lambda *inputs: inputs, **kwargs):
    metric = cls(dtype=dtype.name, **kwargs)
    for inputs in batches:
        metric.update_state(*prepare(*inputs))
    return tf.cast(metric.result(), dtype)


def _one_hot(labels, classes, dtype):
    return tf.one_hot(tf.cast(labels, tf.int32), classes, dtype=dtype)


class _StandInModel:
    """What EarlyStopping touches of a model: stop_training and its weights (here the epoch they are from)."""

    def __init__(self):
        self.stop_training = False
        self.weights_epoch = 0

    def get_weights(self):
        return [self.weights_epoch]

    def set_weights(self, weights):
        self.weights_epoch = weights[0]


class Metrics:
    UNSUPPORTED = {
        "min_max_scale": unsupported("Keras has no min-max scaling layer (keras.layers.Normalization standardizes)"),
        **{op: unsupported(f"keras.metrics.{name} is binary: micro, macro and weighted averages are not options",
                           average=lambda a: a != "binary")
           for op, name in (("precision", "Precision"), ("recall", "Recall"))},
        "top_k_accuracy": unsupported("tf.math.in_top_k (under keras.metrics.SparseTopKCategoricalAccuracy) takes "
                                      "float32 predictions only (InvalidArgumentError)",
                                      dtypes={"float64", "float16", "bfloat16"}),
        "f1": unsupported("keras.metrics.F1Score has no 'binary' average (average=None is per class)",
                          average="binary"),
    }
    FIXED = {
        "standard_scale": {"ddof": (keras.layers.Normalization, 0), "epsilon": (keras.layers.Normalization, 0.0)},
        **{op: {"zero_division": (getattr(keras.metrics, name), 0.0)}
           for op, name in (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1Score"))},
    }
    NATIVE_DEFAULTS = {
        "top_k_accuracy": {"k": (keras.metrics.SparseTopKCategoricalAccuracy, "k", same)},
        "f1": {"average": (keras.metrics.F1Score, "average", same)},
        "early_stopping": {p: (keras.callbacks.EarlyStopping, p, same) for p in ("patience", "min_delta", "mode",
                                                                                "baseline")},
    }

    def standard_scale(self, x, ddof, epsilon):
        layer = keras.layers.Normalization(axis=-1, dtype=x.dtype.name)
        layer.adapt(x)
        return layer(x)

    def accuracy(self, y_true, y_pred):
        return self.stream_accuracy([[y_true, y_pred]])

    def stream_accuracy(self, batches):
        return _run(keras.metrics.Accuracy, batches, batches[0][0].dtype)

    def top_k_accuracy(self, y_true, scores, k):
        return self.stream_top_k_accuracy([[y_true, scores]], k=k)

    def stream_top_k_accuracy(self, batches, k):
        return _run(keras.metrics.SparseTopKCategoricalAccuracy, batches, batches[0][1].dtype, k=k)

    def confusion_matrix(self, y_true, y_pred, num_classes):
        counts = tf.math.confusion_matrix(tf.cast(y_true, tf.int32), tf.cast(y_pred, tf.int32),
                                          num_classes=num_classes)
        return tf.cast(counts, y_true.dtype)

    def precision(self, y_true, y_pred, num_classes, average, zero_division):
        return self.stream_precision([[y_true, y_pred]], num_classes, average, zero_division)

    def stream_precision(self, batches, num_classes, average, zero_division):
        return _run(keras.metrics.Precision, batches, batches[0][0].dtype)

    def recall(self, y_true, y_pred, num_classes, average, zero_division):
        return self.stream_recall([[y_true, y_pred]], num_classes, average, zero_division)

    def stream_recall(self, batches, num_classes, average, zero_division):
        return _run(keras.metrics.Recall, batches, batches[0][0].dtype)

    def f1(self, y_true, y_pred, num_classes, average, zero_division):
        return self.stream_f1([[y_true, y_pred]], num_classes, average, zero_division)

    def stream_f1(self, batches, num_classes, average, zero_division):
        dtype = batches[0][0].dtype
        return _run(keras.metrics.F1Score, batches, dtype,
                    prepare=lambda t, p: (_one_hot(t, num_classes, dtype), _one_hot(p, num_classes, dtype)),
                    average=average)

    def roc_auc(self, y_true, scores):
        return self.stream_roc_auc([[y_true, scores]])

    def stream_roc_auc(self, batches):
        return _run(keras.metrics.AUC, batches, batches[0][1].dtype)

    def early_stopping(self, start, values, patience, min_delta, mode, baseline):
        callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, min_delta=min_delta, mode=mode,
                                                 baseline=baseline)
        model = _StandInModel()
        callback.set_model(model)
        callback.on_train_begin()
        rows = []
        for t, v in enumerate(values.numpy().astype(np.float64)):
            if not model.stop_training:
                model.weights_epoch = t
                callback.on_epoch_end(t, {"val_loss": float(v)})
            rows.append((float(model.stop_training), float(callback.best_epoch)))
        return tf.constant(np.array(rows), dtype=values.dtype)
