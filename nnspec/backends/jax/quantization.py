"""JAX adapter, quantization: jmp's dynamic loss scale; no quantizer.

Neither jax (jax.numpy, jax.lax, jax.nn), flax nor optax has an affine quantizer, a fake-quant op,
a straight-through estimator or a quantized dense layer; Google's AQT (aqt.jax) is a separate
library, not installed here, and Keras 3's quantizers running on JAX are Keras' code, measured as
the tensorflow backend's. Composing round/clip (or lax.dot_general with an int32 accumulator and a
dequantization around it) from jax.numpy would be nnspec's formula, not JAX's: those ops are
unsupported, stated.

``dynamic_loss_scale``: DeepMind's jmp (``jmp.DynamicLossScale``, the JAX ecosystem's mixed
precision library; optax has only ``apply_if_finite``, which skips but has no scale), stepped as its
docstring prescribes: ``jax.grad`` of ``scale(loss)``, ``unscale``, ``all_finite``, ``adjust``, and
``select_tree`` keeping the old optax SGD parameters and state on a non-finite step. Without jmp
installed the op is declared unsupported.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax

try:
    import jmp
except ImportError:  # the jax extra installs it; the backend still loads without
    jmp = None

from ..base import unsupported
from .optimizers import on_host


def _factory_default(name):
    """A dataclass field's default made by its default_factory (the signature shows only a sentinel)."""
    field = next(f for f in dataclasses.fields(jmp.DynamicLossScale) if f.name == name)
    return lambda _sentinel: float(field.default_factory())


NONE = "jax, flax and optax have no quantizer (aqt, which has, is not installed)"


class Quantization:
    UNSUPPORTED = {
        **{op: NONE for op in ("quantize", "dequantize", "fake_quantize", "quant_params")},
        "quantized_dense": "no quantized dense layer in jax, flax or optax: lax.dot_general(int8, int8, "
                           "preferred_element_type=int32) is the integer matmul alone; the zero-point correction and "
                           "the requantization to an output scale and zero point would be nnspec's formula",
        "dynamic_loss_scale": [
            unsupported("mixed precision keeps the loss scale and master parameters in float32 "
                        "(a scale doubling past 2^15 leaves float16)", dtypes={"float16"}),
            unsupported("jmp.DynamicLossScale has one integer factor: it grows by it and backs off by its reciprocal",
                        where=lambda p: p["backoff_factor"] * p["growth_factor"] != 1
                        or p["growth_factor"] != int(p["growth_factor"])),
        ],
    }
    if jmp is None:
        UNSUPPORTED["dynamic_loss_scale"] = "jmp (JAX's mixed-precision library) is not installed"
    NATIVE_DEFAULTS = {} if jmp is None else {
        "dynamic_loss_scale": {
            "growth_interval": (jmp.DynamicLossScale, "period", int),
            "growth_factor": (jmp.DynamicLossScale, "factor", float),
            "backoff_factor": (jmp.DynamicLossScale, "factor", lambda f: 1.0 / f),
            "min_scale": (jmp.DynamicLossScale, "min_loss_scale", _factory_default("min_loss_scale")),
        },
    }

    @on_host(lambda params, grads, **_: ((grads.shape[0], params.size + 1), params.dtype))
    def dynamic_loss_scale(self, params, grads, lr, init_scale, growth_factor, backoff_factor, growth_interval,
                           min_scale):
        scaler = jmp.DynamicLossScale(jnp.asarray(init_scale, jnp.float32), period=int(growth_interval),
                                      factor=int(growth_factor), min_loss_scale=jnp.asarray(min_scale, jnp.float32))
        optimizer = optax.sgd(float(lr))
        state, states = optimizer.init(params), []
        for g in grads:
            scaled = jax.grad(lambda w: scaler.scale(jnp.sum(w * g)))(params)  # S·g in the parameters' dtype
            unscaled = scaler.unscale(scaled)
            finite = jmp.all_finite(unscaled)
            scaler = scaler.adjust(finite)
            updates, stepped = optimizer.update(unscaled, state, params)
            params, state = jmp.select_tree(finite, (optax.apply_updates(params, updates), stepped), (params, state))
            states.append(jnp.concatenate([params.ravel(), scaler.loss_scale.astype(params.dtype)[None]]))
        return jnp.stack(states)
