"""JAX adapter: jax.nn and jax's own autodiff (jax.vjp)."""

from __future__ import annotations

import jax
import numpy as np

from ..base import Backend, Unsupported, first_output
from .activations import Activations
from .attention import Attention
from .embedding import Embedding
from .layers import Layers
from .losses import Losses
from .metrics import Metrics
from .models import Models
from .normalization import Normalization
from .optimizers import Optimizers
from .quantization import Quantization
from .random import Random
from .recurrent import Recurrent

JAX_PLATFORMS = {"cpu": "cpu", "cuda": "gpu"}



def jax_device(device):
    return jax.devices(JAX_PLATFORMS[device])[0]


class JaxBackend(Models, Activations, Losses, Optimizers, Recurrent, Attention, Layers, Normalization, Quantization,
                 Embedding, Random, Metrics, Backend):
    name = "jax"

    def __init__(self):
        # float64 exists only with x64 on; conformance runs in full float32: no reduced-precision matmuls.
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_default_matmul_precision", "highest")
        self._jitted = {}
        self._output_avals = {}  # (op, static params, input shapes) -> first output's shape and dtype

    def _fast(self, kind, op, params, wrt=()):
        """The jitted form of call, vjp or evaluate for op, cached per non-float parameter values (and wrt).

        jax.jit is JAX's fast path (jax.nn functions are jitted themselves); eager
        vjp would dispatch and compile every primitive of the backward pass one by
        one. Float parameters stay traced (weakly typed, so they take x's dtype, as
        a Python float passed eagerly would); strings and axes are static. jax.jit
        itself keeps one executable per input shape and dtype.
        """
        static = {k: v for k, v in params.items() if not isinstance(v, float)}
        key = (kind, op, tuple(sorted(static.items())), tuple(wrt))
        if key not in self._jitted:
            if kind == "call":
                fn = lambda inputs, floats: self.native_call(op, inputs, {**static, **floats})  # noqa: E731
            elif kind == "vjp":
                fn = lambda inputs, cotangent, floats: self._vjp(op, inputs, cotangent, {**static, **floats}, wrt)[1]  # noqa: E731
            else:
                fn = lambda inputs, cotangent, floats: self._vjp(op, inputs, cotangent, {**static, **floats}, wrt)  # noqa: E731
            self._jitted[key] = jax.jit(fn)
        return self._jitted[key]

    def call(self, op, inputs, params):
        if getattr(getattr(type(self), op, None), "on_host", False):  # stepped from Python anyway (optimizers.on_host)
            return self.native_call(op, inputs, params)
        floats = {k: v for k, v in params.items() if isinstance(v, float)}
        return self._fast("call", op, params)(inputs, floats)

    def vjp(self, op, inputs, cotangent, params, wrt=(0,)):
        floats = {k: v for k, v in params.items() if isinstance(v, float)}
        gradients = self._fast("vjp", op, params, wrt)(inputs, cotangent, floats)
        if gradients is None:
            raise ValueError(f"{op}: the cotangent's shape {tuple(cotangent.shape)} is not the output's")
        return gradients

    def evaluate(self, op, inputs, params, cotangent=None, wrt=()):
        """Forward and VJPs from ONE jitted jax.vjp, so each shape compiles once, not once for call
        and once for vjp.

        Examples without a cotangent (non-finite inputs) run the same executable with a zero
        cotangent and drop its gradients: a forward-only jit would be one more compile per shape,
        and the forward value comes from the same executable either way. If the fused function
        raises, forward and backward run apart (the base evaluate), so each reports its own failure.
        """
        if not wrt:
            return super().evaluate(op, inputs, params, cotangent, wrt)
        floats = {k: v for k, v in params.items() if isinstance(v, float)}
        fused = self._fast("evaluate", op, params, wrt)
        try:
            given = cotangent if cotangent is not None else self._zero_cotangent(op, inputs, params, floats)
            value, gradients = fused(inputs, given, floats)
        except Unsupported:
            raise
        except Exception:
            return super().evaluate(op, inputs, params, cotangent, wrt)
        return value, (gradients if cotangent is not None else None)

    def _zero_cotangent(self, op, inputs, params, floats):
        """Zeros of the op's first output's shape and dtype, on the inputs' device (found by tracing, once per shape)."""
        key = (op, tuple(sorted((k, v) for k, v in params.items() if not isinstance(v, float))),
               tuple((tuple(a.shape), str(a.dtype)) for a in inputs))
        if key not in self._output_avals:
            static = {k: v for k, v in params.items() if not isinstance(v, float)}
            forward = lambda inputs, floats: first_output(self.native_call(op, inputs, {**static, **floats}))  # noqa: E731
            self._output_avals[key] = jax.eval_shape(forward, inputs, floats)
        aval = self._output_avals[key]
        # device_put of a NumPy array, not jnp.zeros: that would compile a broadcast per shape.
        return jax.device_put(np.zeros(aval.shape, aval.dtype), next(iter(inputs[0].devices())))

    def _vjp(self, op, inputs, cotangent, params, wrt):
        """(value, VJPs w.r.t. inputs[i] for i in wrt) from one jax.vjp, traced inside a jit.

        The gradients are None where the first output's shape is not the cotangent's (known
        at trace time): the forward check reports the shape, and the base evaluate does likewise."""

        def of_wrt(*values):
            args = list(inputs)
            for i, value in zip(wrt, values):
                args[i] = value
            value = self.native_call(op, args, params)
            return first_output(value), value

        output, pullback, value = jax.vjp(of_wrt, *(inputs[i] for i in wrt), has_aux=True)
        if jax.numpy.shape(output) != jax.numpy.shape(cotangent):
            return value, None
        return value, tuple(pullback(cotangent))

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

    def synchronize(self, device, *arrays):
        for array in arrays:  # dispatched asynchronously, even on CPU
            array.block_until_ready()
        if device == "cuda":
            # No global sync in JAX: a trivial computation queued behind the work finishes after it.
            (jax.device_put(np.float32(0), jax_device(device)) + 0).block_until_ready()

    def grad(self, fn, primals, cotangent, wrt=(0,)):
        def of_wrt(*values):
            args = list(primals)
            for i, value in zip(wrt, values):
                args[i] = value
            return fn(*args)

        _, pullback = jax.vjp(of_wrt, *(primals[i] for i in wrt))
        return tuple(pullback(cotangent))

    def compile(self, fn):
        return jax.jit(fn)
