"""Deliberately wrong normalization adapters: each is one way a batch-norm port breaks, which the engine must catch.

They subclass the NumPy baseline (the spec in the input's dtype) and change one thing: the momentum's
convention, the running variance's estimator, or the batch variance's formula (one pass).
"""

from __future__ import annotations

import numpy as np

from nnspec.backends.numpy import NumpyBackend, in_dtype
from nnspec.spec import normalization as N


class InvertedMomentum(NumpyBackend):
    """Reads the spec's momentum as Keras' (the old value's weight): running ← m·running + (1 − m)·batch."""

    name = "inverted-momentum"

    def batch_norm(self, x, weight, bias, running_mean, running_var, training, momentum, epsilon, affine):
        return in_dtype(N.batch_norm, x, weight, bias, running_mean, running_var, training=training,
                        momentum=1 - momentum, epsilon=epsilon, affine=affine)


class BiasedRunningVariance(NumpyBackend):
    """Moves the running variance towards the biased batch variance σ² (Keras' and flax's), not σ²·K/(K − 1)."""

    name = "biased-running-variance"

    def batch_norm(self, x, weight, bias, running_mean, running_var, training, momentum, epsilon, affine):
        return in_dtype(N.batch_norm, x, weight, bias, running_mean, running_var, training=training,
                        momentum=momentum, epsilon=epsilon, affine=affine, running_variance="biased")


class OnePassVariance(NumpyBackend):
    """The batch variance as E[x²] − E[x]² in the input's dtype (the fast one-pass formula), clipped at 0:
    it cancels where the channel's mean is large beside its spread."""

    name = "one-pass-variance"

    def batch_norm(self, x, weight, bias, running_mean, running_var, training, momentum, epsilon, affine):
        if not training:
            return super().batch_norm(x, weight, bias, running_mean, running_var, training, momentum, epsilon,
                                      affine)
        axes = (0, *range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        mean = np.mean(x, axis=axes)
        var = np.maximum(np.mean(x * x, axis=axes) - mean * mean, 0)
        k = x.size // x.shape[1]
        y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + x.dtype.type(epsilon))
        if affine:
            y = y * weight.reshape(shape) + bias.reshape(shape)
        m = x.dtype.type(momentum)
        return (y.astype(x.dtype), ((1 - m) * running_mean + m * mean).astype(x.dtype),
                ((1 - m) * running_var + m * var * x.dtype.type(k / (k - 1))).astype(x.dtype))


class SquaredSumEpsilon(NumpyBackend):
    """Bounds Σx² by ε, as tf.math.l2_normalize does (x/√max(Σx², ε)): the floor on the norm is √ε, not ε."""

    name = "squared-sum-epsilon"

    def l2_normalize(self, x, axis, epsilon):
        return in_dtype(N.l2_normalize, x, axis=axis, epsilon=epsilon, epsilon_at="squared_sum")


class UnscaledSquares(NumpyBackend):
    """‖x‖ as √Σx² in the input's dtype, unscaled: Σx² overflows (y = 0) while x is far from the largest float."""

    name = "unscaled-squares"

    def l2_normalize(self, x, axis, epsilon):
        with np.errstate(all="ignore"):
            norm = np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
            return (x / np.maximum(norm, x.dtype.type(epsilon))).astype(x.dtype)


class InterleavedGroups(NumpyBackend):
    """Puts channel c in group c mod G (a strided split) instead of the spec's consecutive blocks of C/G."""

    name = "interleaved-groups"

    def group_norm(self, x, weight, bias, num_groups, epsilon, affine):
        order = np.argsort(np.arange(x.shape[1]) % num_groups, kind="stable")
        back = np.argsort(order)
        y = in_dtype(N.group_norm, np.ascontiguousarray(x[:, order]), weight[order], bias[order],
                     num_groups=num_groups, epsilon=epsilon, affine=affine)
        return np.ascontiguousarray(y[:, back])


class InstanceAsLayerNorm(NumpyBackend):
    """Normalizes each sample over all its channels at once (one group: layer norm over C, H, W)."""

    name = "instance-as-layer-norm"

    def instance_norm(self, x, weight, bias, epsilon, affine):
        return in_dtype(N.group_norm, x, weight, bias, num_groups=1, epsilon=epsilon, affine=affine)


class UnbiasedNormalising(NumpyBackend):
    """Normalizes the training output with the unbiased batch variance σ²·K/(K − 1) (the one the running variance
    takes), not the biased σ²: y is off by √((K − 1)/K), most on small batches."""

    name = "unbiased-normalising"

    def batch_norm(self, x, weight, bias, running_mean, running_var, training, momentum, epsilon, affine):
        y, mean, var = in_dtype(N.batch_norm, x, weight, bias, running_mean, running_var, training=training,
                                momentum=momentum, epsilon=epsilon, affine=affine)
        if not training:
            return y, mean, var
        k = x.size // x.shape[1]
        axes, shape = (0, *range(2, x.ndim)), (1, -1) + (1,) * (x.ndim - 2)
        centred = x.astype(np.float64) - np.mean(x.astype(np.float64), axis=axes).reshape(shape)
        unbiased = np.sum(centred * centred, axis=axes) / (k - 1)
        y = centred / np.sqrt(unbiased.reshape(shape) + epsilon)
        if affine:
            y = y * weight.reshape(shape) + bias.reshape(shape)
        return y.astype(x.dtype), mean, var


class AffineGradientWithoutAffine(NumpyBackend):
    """With affine=False, still returns γ's and β's gradients as if they were applied (Σ G·x̂, Σ G), where they are
    unused and the spec's gradient is 0: seen only where the row draws affine=False."""

    name = "affine-gradient-without-affine"

    def vjp(self, op, inputs, cotangent, params, wrt=(0,)):
        gradients = super().vjp(op, inputs, cotangent, params, wrt)
        if op != "batch_norm" or params["affine"]:
            return gradients
        as_affine = super().vjp(op, inputs, cotangent, {**params, "affine": True}, wrt)
        return (gradients[0], *as_affine[1:])
