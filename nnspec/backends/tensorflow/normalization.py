"""Tensorflow adapter, normalization: keras.layers.BatchNormalization by ``stateless_call``, keras.ops.normalize,
keras.layers.GroupNormalization (instance norm: its groups = C, the case its documentation names).

The layer's axis is the spec's channel axis 1 (Keras normalizes any axis; no layout change). Its
``momentum`` is the weight of the *old* running value (moving = moving·momentum + batch·(1 − momentum)),
1 − the spec's: translated both ways. ``stateless_call(..., training=True)`` returns the updated
moving mean and variance, which the adapter returns after y: (y, running_mean', running_var').
"""

from __future__ import annotations

import keras

from ..binding import bind, same


def old_weight(momentum):
    """The spec's momentum (the batch's weight) as Keras' and flax's (the old value's), and back."""
    return 1.0 - momentum


def backend_epsilon(native):
    """keras.ops.normalize's epsilon=None means keras.config.epsilon() (1e-7 unless configured)."""
    return keras.config.epsilon() if native is None else native


def batch_weight(native):
    """Keras' default momentum (the old value's weight) in the spec's vocabulary, the batch's weight: 1 − 0.99 = 0.01,
    rounded to 15 digits so that the defaults table shows 0.01, not 1 − 0.99's binary residue 0.010000000000000009."""
    return float(f"{1.0 - native:.15g}")


class Normalization:
    BINDINGS = {"l2_normalize": bind(keras.ops.normalize, to_spec={"epsilon": backend_epsilon})}  # order = 2
    NATIVE_DEFAULTS = {
        "batch_norm": {
            "momentum": (keras.layers.BatchNormalization, "momentum", batch_weight),
            "epsilon": (keras.layers.BatchNormalization, "epsilon", same),
            "affine": (keras.layers.BatchNormalization, "scale", same),
        },
        "group_norm": {
            "epsilon": (keras.layers.GroupNormalization, "epsilon", same),
            "affine": (keras.layers.GroupNormalization, "scale", same),
        },
        "instance_norm": {
            "epsilon": (keras.layers.GroupNormalization, "epsilon", same),
            "affine": (keras.layers.GroupNormalization, "scale", same),
        },
    }

    def group_norm(self, x, weight, bias, num_groups, epsilon, affine):
        layer = self._group_norm_layer(tuple(x.shape), num_groups, epsilon, affine, x.dtype)
        trainable = [{"gamma": weight, "beta": bias}[v.path.split("/")[-1]] for v in layer.trainable_variables]
        y, _ = layer.stateless_call(trainable, [], x)
        return y

    def instance_norm(self, x, weight, bias, epsilon, affine):
        return self.group_norm(x, weight, bias, x.shape[1], epsilon, affine)

    def _group_norm_layer(self, shape, groups, epsilon, affine, dtype):
        def make():
            layer = keras.layers.GroupNormalization(groups=groups, axis=1, epsilon=epsilon, center=affine,
                                                    scale=affine, dtype=dtype.name)
            layer.build(shape)
            return layer

        return self._keras_cache(("group_norm", shape, groups, epsilon, affine, dtype.name), make)

    def batch_norm(self, x, weight, bias, running_mean, running_var, training, momentum, epsilon, affine):
        layer = self._batch_norm_layer(tuple(x.shape), momentum, epsilon, affine, x.dtype)
        trainable = [{"gamma": weight, "beta": bias}[v.path.split("/")[-1]] for v in layer.trainable_variables]
        state = [{"moving_mean": running_mean, "moving_variance": running_var}[v.path.split("/")[-1]]
                 for v in layer.non_trainable_variables]
        y, updated = layer.stateless_call(trainable, state, x, training=training)
        named = {v.path.split("/")[-1]: u for v, u in zip(layer.non_trainable_variables, updated)}
        return y, named["moving_mean"], named["moving_variance"]

    def _batch_norm_layer(self, shape, momentum, epsilon, affine, dtype):
        def make():
            layer = keras.layers.BatchNormalization(axis=1, momentum=old_weight(momentum), epsilon=epsilon,
                                                    center=affine, scale=affine, dtype=dtype.name)
            layer.build(shape)
            return layer

        return self._keras_cache(("batch_norm", shape, momentum, epsilon, affine, dtype.name), make)
