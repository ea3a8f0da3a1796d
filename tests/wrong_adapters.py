"""Deliberately wrong adapters: each breaks one thing the engine must catch and report rightly.

They subclass the NumPy baseline (which passes these checks in float64) and change one op.
"""

from __future__ import annotations

import numpy as np

from nnspec.backends import Unsupported
from nnspec.backends.numpy import NumpyBackend, in_dtype
from nnspec.spec import activations as A


class WrongSlope(NumpyBackend):
    """leaky_relu with the negative slope doubled."""

    name = "wrong-slope"

    def leaky_relu(self, x, alpha):
        return in_dtype(A.leaky_relu, x, alpha=2 * alpha + 0.5)


class SilentTanhGelu(NumpyBackend):
    """gelu that ignores approximate='none' and always uses the tanh approximation."""

    name = "silent-tanh-gelu"

    def gelu(self, x, approximate):
        return in_dtype(A.gelu, x, approximate="tanh")

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        if op == "gelu":
            params = {**params, "approximate": "tanh"}
        return super().vjp(op, inputs, cotangent, params, wrt)


class NaiveSoftmax(NumpyBackend):
    """softmax without subtracting the row maximum: overflows on large logits."""

    name = "naive-softmax"

    def softmax(self, x, axis):
        with np.errstate(all="ignore"):
            e = np.exp(x)
            return (e / np.sum(e, axis=axis, keepdims=True)).astype(x.dtype)


class Raises(NumpyBackend):
    """tanh that raises."""

    name = "raises"

    def tanh(self, x):
        raise RuntimeError("kernel not implemented")


class ReturnsNan(NumpyBackend):
    """sigmoid that returns nan wherever x < -1."""

    name = "returns-nan"

    def sigmoid(self, x):
        y = super().sigmoid(x)
        return np.where(x < -1, np.nan, y).astype(x.dtype)


class WrongShape(NumpyBackend):
    """relu that flattens its output."""

    name = "wrong-shape"

    def relu(self, x):
        return super().relu(x).reshape(-1)


class RightKink(NumpyBackend):
    """relu whose derivative at 0 is 1 (the right derivative), as some frameworks take it."""

    name = "right-kink"

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        if op == "relu":
            return in_dtype(A.relu_vjp, *inputs, cotangent, kink="right")
        return super().vjp(op, inputs, cotangent, params, wrt)


class LeftKinkRelu6(NumpyBackend):
    """relu6 whose derivative at 6 is the middle branch's 1 (x ≤ 6 in the mask); at 0 it is right (0)."""

    name = "left-kink-relu6"

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        if op == "relu6":
            return in_dtype(A.relu6_vjp, *inputs, cotangent, kink="left")
        return super().vjp(op, inputs, cotangent, params, wrt)


class Keras2HardSigmoid(NumpyBackend):
    """hard_sigmoid as Keras 2 wrote it, clip(0.2x + 0.5, 0, 1): another function, not a rounding."""

    name = "keras2-hard-sigmoid"

    def hard_sigmoid(self, x):
        return np.clip(0.2 * x.astype(np.float64) + 0.5, 0, 1).astype(x.dtype)


class MeanSlopePrelu(NumpyBackend):
    """prelu whose slope gradient is the mean of g·x over a channel instead of its sum."""

    name = "mean-slope-prelu"

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        gradients = super().vjp(op, inputs, cotangent, params, wrt)
        if op == "prelu":
            x, weight = inputs
            return gradients[0], (gradients[1] / (x.size // weight.shape[0])).astype(weight.dtype)
        return gradients


class WrongSigmoidGradient(NumpyBackend):
    """sigmoid whose VJP forgets the (1 − σ) factor."""

    name = "wrong-sigmoid-gradient"

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        if op == "sigmoid":
            return (cotangent * super().sigmoid(inputs[0])).astype(cotangent.dtype)
        return super().vjp(op, inputs, cotangent, params, wrt)


class UnnormalisedSoftmax(NumpyBackend):
    """softmax whose rows sum to 1 + 1e-3."""

    name = "unnormalised-softmax"

    def softmax(self, x, axis):
        return (super().softmax(x, axis) * (1 + 1e-3)).astype(x.dtype)


def _leaky_relu_slope_two(x, negative_slope=0.2):
    """Stands in for a native leaky_relu whose default slope differs from the spec's."""


class DifferentDefault(NumpyBackend):
    """Declares a native leaky_relu whose default negative slope is 0.2, not the spec's 0.01."""

    name = "different-default"
    NATIVE_DEFAULTS = {"leaky_relu": {"alpha": (_leaky_relu_slope_two, "negative_slope", lambda v: v)}}


class NoFloat16(NumpyBackend):
    """Cannot hold float16."""

    name = "no-float16"

    def asarray(self, array, device):
        if array.dtype == np.float16:
            raise Unsupported("float16 is not supported")
        return super().asarray(array, device)


class Interrupts(NumpyBackend):
    """The user presses Ctrl-C while sigmoid runs."""

    name = "interrupts"

    def sigmoid(self, x):
        raise KeyboardInterrupt


class CrashesOnStart(NumpyBackend):
    name = "crashes-on-start"

    def __init__(self):
        raise OSError("libcuda.so: cannot open shared object file")


class WrongAtOnePoint(NumpyBackend):
    """tanh wrong at one input only (x = 0.8125): a random search of 20 examples does not find it,
    a counterexample recorded by an earlier run does."""

    name = "wrong-at-one-point"

    def tanh(self, x):
        return np.where(x == np.asarray(0.8125, x.dtype), np.asarray(0.5, x.dtype), np.tanh(x))


class SeluFixedOffThePaper(NumpyBackend):
    """selu whose adapter declares α and λ FIXED at the paper's values while its kernel uses α = 1.6733, a
    rounded constant: the forward check at the fixed value must catch it (FIXED is a claim, measured)."""

    name = "selu-fixed-off-the-paper"
    FIXED = {"selu": {"alpha": (A.selu, A.SELU_ALPHA), "scale": (A.selu, A.SELU_SCALE)}}

    def selu(self, x, alpha, scale):
        return in_dtype(A.selu, x, alpha=1.6733, scale=A.SELU_SCALE)
