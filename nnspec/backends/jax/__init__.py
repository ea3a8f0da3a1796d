"""JAX adapter: jax.nn and jax's own autodiff (jax.vjp)."""

from __future__ import annotations

import jax
import numpy as np

from ..base import Backend, first_output
from .activations import Activations
from .attention import Attention
from .losses import Losses
from .optimizers import Optimizers
from .recurrent import Recurrent

JAX_PLATFORMS = {"cpu": "cpu", "cuda": "gpu"}



def jax_device(device):
    return jax.devices(JAX_PLATFORMS[device])[0]


class JaxBackend(Activations, Losses, Optimizers, Recurrent, Attention, Backend):
    name = "jax"

    def __init__(self):
        # float64 exists only with x64 on; conformance runs in full float32: no reduced-precision matmuls.
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_default_matmul_precision", "highest")
        self._jitted = {}

    def _fast(self, kind, op, params):
        """The jitted form of call/vjp for op, cached per non-float parameter values.

        jax.jit is JAX's fast path (jax.nn functions are jitted themselves); eager
        vjp would dispatch and compile every primitive of the backward pass one by
        one. Float parameters stay traced (weakly typed, so they take x's dtype, as
        a Python float passed eagerly would); strings and axes are static.
        """
        static = {k: v for k, v in params.items() if not isinstance(v, float)}
        key = (kind, op, tuple(sorted(static.items())))
        if key not in self._jitted:
            if kind == "call":
                fn = lambda inputs, floats: getattr(self, op)(*inputs, **static, **floats)  # noqa: E731
            else:
                fn = lambda inputs, cotangent, floats: self._gradients(op, inputs, cotangent, {**static, **floats})  # noqa: E731
            self._jitted[key] = jax.jit(fn)
        return self._jitted[key]

    def call(self, op, inputs, params):
        floats = {k: v for k, v in params.items() if isinstance(v, float)}
        return self._fast("call", op, params)(inputs, floats)

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        floats = {k: v for k, v in params.items() if isinstance(v, float)}
        return self._fast("vjp", op, params)(inputs, cotangent, floats)[wrt]

    def _gradients(self, op, inputs, cotangent, params):
        """The VJP w.r.t. every floating input from one jax.vjp: one compile per shape, whichever wrt is asked."""
        floating = [i for i, a in enumerate(inputs) if jax.numpy.issubdtype(a.dtype, jax.numpy.inexact)]

        def of_floating(*values):
            args = list(inputs)
            for i, value in zip(floating, values):
                args[i] = value
            return first_output(getattr(self, op)(*args, **params))

        _, pullback = jax.vjp(of_floating, *(inputs[i] for i in floating))
        gradients = dict(zip(floating, pullback(cotangent)))
        return [gradients.get(i) for i in range(len(inputs))]

    def version(self):
        return jax.__version__

    def devices(self):
        try:
            return ["cpu"] + (["cuda"] if jax.devices("gpu") else [])
        except RuntimeError:  # no GPU backend installed or no GPU present
            return ["cpu"]

    def numerics(self):
        subnormal = jax.device_put(np.float32(1e-40), jax_device("cpu"))
        return {
            "flush_to_zero": bool(np.asarray(subnormal * 1.0) == 0.0),
            "enable_x64": jax.config.jax_enable_x64,
            "default_matmul_precision": jax.config.jax_default_matmul_precision,
            "default_backend": jax.default_backend(),
            "cpu_async_dispatch": jax.config.values.get("jax_cpu_enable_async_dispatch"),
        }

    def asarray(self, array, device):
        return jax.device_put(np.array(array, copy=True), jax_device(device))

    def to_numpy(self, tensor):
        return np.asarray(tensor)

    def synchronize(self, device):
        if device == "cuda":
            # No global sync in JAX: a trivial computation queued behind the work finishes after it.
            (jax.device_put(np.float32(0), jax_device(device)) + 0).block_until_ready()

    def grad(self, fn, primals, cotangent, wrt=0):
        def of_wrt(primal):
            return fn(*primals[:wrt], primal, *primals[wrt + 1 :])

        _, pullback = jax.vjp(of_wrt, primals[wrt])
        (gradient,) = pullback(cotangent)
        return gradient

    def compile(self, fn):
        return jax.jit(fn)
