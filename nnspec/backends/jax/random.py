"""Jax adapter, random: flax.linen.Dropout, jax.nn.initializers' initializers, and freshly initialized flax
Dense, Conv, OptimizedLSTMCell and Embed modules (their parameters as flax initializes them).

jax.nn.initializers read a kernel's fans from in_axis=−2 and out_axis=−1, the rest its receptive field
((in, out) and HWIO, as Keras): the adapter asks for the spec's (out, in, *receptive) shape in that order and
moves the sample back. Every draw takes ``jax.random.key(seed)``; dropout's is the module's ``dropout`` rng.
These run eagerly (``native_call``): a jit keyed on every seed would compile once per example.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ..binding import same
from ..declared import unsupported

DTYPES = {"float64": jnp.float64, "float32": jnp.float32, "float16": jnp.float16, "bfloat16": jnp.bfloat16}


def jax_order(shape) -> tuple[int, ...]:
    """The axes of a spec kernel (out, in, *receptive) in jax's (*receptive, in, out) order."""
    return (*range(2, len(shape)), 1, 0)


def _to_spec(native, shape):
    return jnp.transpose(native, tuple(int(a) for a in np.argsort(jax_order(shape))))


_JITTED = {}


def _init(name, shape, seed, dtype, **params):
    """jax.nn.initializers.<name>(**params), jitted once per shape and dtype (the key traced: no compile per seed)."""
    key = (name, tuple(sorted(params.items())))
    if key not in _JITTED:
        _JITTED[key] = jax.jit(getattr(jax.nn.initializers, name)(**params), static_argnums=(1, 2))
    native_shape = tuple(int(shape[a]) for a in jax_order(shape))
    return _to_spec(_JITTED[key](jax.random.key(seed), native_shape, DTYPES[dtype]), shape)


QR = "jnp.linalg.qr (behind jax.nn.initializers.orthogonal, flax's LSTM recurrent kernels) has no float16 or bfloat16"


class Random:
    UNSUPPORTED = {"orthogonal": unsupported(QR, dtypes={"float16", "bfloat16"}),
                   "lstm_init": unsupported(QR, dtypes={"float16", "bfloat16"})}
    NATIVE_DEFAULTS = {"orthogonal": {"gain": (jax.nn.initializers.orthogonal, "scale", same)}}
    # flax.linen.Dropout's rate has no default, and its deterministic (not training) defaults to None: required

    def dropout(self, x, seed, rate, training):
        return nn.Dropout(rate=rate, deterministic=not training).apply({}, x, rngs={"dropout": jax.random.key(seed)})

    def glorot_uniform(self, shape, seed, dtype):
        return _init("glorot_uniform", shape, seed, dtype)

    def glorot_normal(self, shape, seed, dtype):
        return _init("glorot_normal", shape, seed, dtype)

    def he_uniform(self, shape, seed, dtype):
        return _init("he_uniform", shape, seed, dtype)

    def he_normal(self, shape, seed, dtype):
        return _init("he_normal", shape, seed, dtype)

    def lecun_normal(self, shape, seed, dtype):
        return _init("lecun_normal", shape, seed, dtype)

    def orthogonal(self, shape, seed, dtype, gain):
        return _init("orthogonal", shape, seed, dtype, scale=gain)

    # each module as initialized, with its own default initializers

    def dense_init(self, shape, seed, dtype):
        params = nn.Dense(shape[0], param_dtype=DTYPES[dtype]).init(jax.random.key(seed), jnp.zeros((1, shape[1])))
        return (_to_spec(params["params"]["kernel"], shape),)

    def conv2d_init(self, shape, seed, dtype):
        module = nn.Conv(shape[0], tuple(shape[2:]), param_dtype=DTYPES[dtype])
        params = module.init(jax.random.key(seed), jnp.zeros((1, 8, 8, shape[1])))
        return (_to_spec(params["params"]["kernel"], shape),)

    def embedding_init(self, shape, seed, dtype):
        params = nn.Embed(shape[0], shape[1], param_dtype=DTYPES[dtype]).init(jax.random.key(seed),
                                                                              jnp.zeros((1,), jnp.int32))
        return (params["params"]["embedding"],)

    def lstm_init(self, shape, seed, dtype):
        hidden, inputs = shape
        cell = nn.LSTMCell(hidden, param_dtype=DTYPES[dtype])
        x = jnp.zeros((1, inputs))
        carry = cell.initialize_carry(jax.random.key(0), x.shape)
        params = cell.init(jax.random.key(seed), carry, x)["params"]
        # gates i, f, g, o (the spec's order): flax names them ii, if, ig, io (input) and hi, hf, hg, ho (hidden)
        kernel = jnp.concatenate([params[f"i{g}"]["kernel"] for g in "ifgo"], axis=-1)
        recurrent = jnp.concatenate([params[f"h{g}"]["kernel"] for g in "ifgo"], axis=-1)
        return kernel.T, recurrent.T
