"""Jax adapter, normalization: flax.linen.BatchNorm, applied with its ``batch_stats`` collection mutable;
l2_normalize as a JAX model writes it (neither jax nor flax has one): x / max(jnp.linalg.norm(x), ε);
flax.linen.GroupNorm and InstanceNorm, channels-last (feature axis −1): NCHW moved to NHWC and back.

The module's axis is the spec's channel axis 1 (flax normalizes any feature axis). flax's
``momentum`` is the weight of the *old* running value (ra = momentum·ra + (1 − momentum)·batch),
1 − the spec's: translated both ways. ``use_running_average`` is ``not training``. Every other
field is flax's own default (``use_fast_variance`` included): the adapter returns
(y, running_mean', running_var') from the updated collection.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from ..base import composed
from ..binding import same
from ..layouts import convert


def _channels_last(x):
    return convert(x, "NCHW", "NHWC") if x.ndim == 4 else x


def _channels_first(y):
    return convert(y, "NHWC", "NCHW") if y.ndim == 4 else y


def old_weight(momentum):
    """The spec's momentum (the batch's weight) as flax's (the old value's), and back."""
    return 1.0 - momentum


def batch_weight(native):
    """flax's default momentum (the old value's weight) in the spec's vocabulary, the batch's weight: 1 − 0.99 = 0.01,
    rounded to 15 digits so that the defaults table shows 0.01, not 1 − 0.99's binary residue 0.010000000000000009."""
    return float(f"{1.0 - native:.15g}")


class Normalization:
    NATIVE_DEFAULTS = {
        "batch_norm": {
            "momentum": (nn.BatchNorm, "momentum", batch_weight),
            "epsilon": (nn.BatchNorm, "epsilon", same),
            "affine": (nn.BatchNorm, "use_scale", same),
        },
        "group_norm": {
            "epsilon": (nn.GroupNorm, "epsilon", same),
            "affine": (nn.GroupNorm, "use_scale", same),
        },
        "instance_norm": {
            "epsilon": (nn.InstanceNorm, "epsilon", same),
            "affine": (nn.InstanceNorm, "use_scale", same),
        },
    }

    def group_norm(self, x, weight, bias, num_groups, epsilon, affine):
        module = nn.GroupNorm(num_groups=num_groups, epsilon=epsilon, use_bias=affine, use_scale=affine,
                              dtype=x.dtype, param_dtype=x.dtype)
        return self._apply_channels_last(module, x, weight, bias, affine)

    def instance_norm(self, x, weight, bias, epsilon, affine):
        module = nn.InstanceNorm(epsilon=epsilon, use_bias=affine, use_scale=affine, dtype=x.dtype,
                                 param_dtype=x.dtype)
        return self._apply_channels_last(module, x, weight, bias, affine)

    def _apply_channels_last(self, module, x, weight, bias, affine):
        params = {"scale": weight, "bias": bias} if affine else {}
        return _channels_first(module.apply({"params": params}, _channels_last(x)))

    def batch_norm(self, x, weight, bias, running_mean, running_var, training, momentum, epsilon, affine):
        module = nn.BatchNorm(use_running_average=not training, axis=1, momentum=old_weight(momentum),
                              epsilon=epsilon, use_bias=affine, use_scale=affine, dtype=x.dtype,
                              param_dtype=x.dtype)
        params = {"scale": weight, "bias": bias} if affine else {}
        variables = {"params": params, "batch_stats": {"mean": running_mean, "var": running_var}}
        y, updated = module.apply(variables, x, mutable=["batch_stats"])
        return y, updated["batch_stats"]["mean"], updated["batch_stats"]["var"]

    @composed
    def l2_normalize(self, x, axis, epsilon):
        return x / jnp.maximum(jnp.linalg.norm(x, axis=axis, keepdims=True), epsilon)
