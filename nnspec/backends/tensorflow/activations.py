"""Tensorflow adapter, activations: Keras 3 activations (keras.activations on the TensorFlow backend)."""

from __future__ import annotations

import keras

from ..binding import bind

GELU_APPROXIMATE = {"none": False, "tanh": True}  # spec vocabulary -> Keras' bool (and back, for its default)
A = keras.activations


class Activations:
    BINDINGS = {
        "linear": bind(A.linear),
        "sigmoid": bind(A.sigmoid),
        "tanh": bind(A.tanh),
        "relu": bind(A.relu),
        "leaky_relu": bind(A.leaky_relu, alpha="negative_slope"),
        "swish": bind(A.silu),
        "gelu": bind(A.gelu, translate={"approximate": GELU_APPROXIMATE}),
        "softmax": bind(A.softmax),
        "log_softmax": bind(A.log_softmax),
        "softplus": bind(A.softplus),
        "elu": bind(A.elu),
        "selu": bind(A.selu),
        "softsign": bind(A.softsign),
        "mish": bind(A.mish),
        "celu": bind(A.celu),
        "relu6": bind(A.relu6),
        "hard_sigmoid": bind(A.hard_sigmoid),
        "hard_swish": bind(A.hard_silu),
    }
