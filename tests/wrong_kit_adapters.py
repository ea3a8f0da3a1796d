"""Adapters that break nnspec's adapter contract, each one way: `nnspec check-adapter` must say so.

Each subclasses the NumPy baseline (which keeps the contract) and breaks one clause; PROBLEM gives
the words check-adapter's line must contain.

    nnspec check-adapter tests.wrong_kit_adapters:Float64ToFloat32
"""

from __future__ import annotations

import numpy as np

from nnspec.backends.numpy import NumpyBackend
from nnspec.backends.numpy.formulas import in_dtype
from nnspec.spec import activations as A

PROBLEM = {  # class -> what its check-adapter line says
    "Float64ToFloat32": "your adapter: asarray/to_numpy on cpu turns float64 into float32",
    "FlushesSubnormals": "your adapter: asarray/to_numpy on cpu changes the bits of float32",
    "MisnamedParameter": "your adapter: leaky_relu(x, negative_slope) is not the spec's leaky_relu(x, alpha)",
    "DefaultedParameter": "your adapter: gelu gives defaults to approximate",
    "SummedGradient": "your adapter: the VJP of softplus w.r.t. input 0 has shape",
    "UnreadableDefault": "your adapter: the native default of elu(alpha=...)",
    "TransposedWeights": "your adapter: the layout round trip of dense",
    "FrameworkRaises": "your framework: tanh raised",
    "WrittenButDeclared": "your adapter: gelu has a method and is declared unsupported as a whole",
}


class WrittenButDeclared(NumpyBackend):
    """The scaffold's author wrote gelu and forgot its line in UNSUPPORTED: the method never runs."""
    name = "written-but-declared"
    UNSUPPORTED = {"gelu": "not written yet"}


class Float64ToFloat32(NumpyBackend):
    """A framework whose default float is float32, converting without saying so."""
    name = "float64-to-float32"

    def asarray(self, array, device):
        with np.errstate(over="ignore"):  # float64 max overflows, as the framework's would
            return np.asarray(array, np.float32) if array.dtype == np.float64 else np.array(array, copy=True)


class FlushesSubnormals(NumpyBackend):
    name = "flushes-subnormals"

    def asarray(self, array, device):
        out = np.array(array, copy=True)
        if out.dtype == np.float32:
            out[np.abs(out) < np.finfo(np.float32).tiny] = 0
        return out


class MisnamedParameter(NumpyBackend):
    """The framework's keyword (torch's negative_slope) instead of the spec's alpha."""
    name = "misnamed-parameter"

    def leaky_relu(self, x, negative_slope):
        return in_dtype(A.leaky_relu, x, alpha=negative_slope)


class DefaultedParameter(NumpyBackend):
    name = "defaulted-parameter"

    def gelu(self, x, approximate="none"):
        return in_dtype(A.gelu, x, approximate=approximate)


class SummedGradient(NumpyBackend):
    """A VJP reduced to a scalar (the gradient of the sum, not of each input element)."""
    name = "summed-gradient"

    def vjp(self, op, inputs, cotangent, params, wrt=(0,)):
        gradients = super().vjp(op, inputs, cotangent, params, wrt)
        return tuple(np.asarray(g).sum() for g in gradients) if op == "softplus" else gradients


def _no_alpha(x):
    return x


class UnreadableDefault(NumpyBackend):
    """A NATIVE_DEFAULTS entry naming a parameter the native callable does not have."""
    name = "unreadable-default"
    NATIVE_DEFAULTS = {"elu": {"alpha": (_no_alpha, "alpha", float)}}


class TransposedWeights(NumpyBackend):
    """Weights read back from the native (in, out) layout without transposing them again."""
    name = "transposed-weights"

    def from_native_layout(self, op, native, params):
        back = super().from_native_layout(op, native, params)
        return {k: (v.T if op == "dense" and v.ndim == 2 else v) for k, v in back.items()}


class FrameworkRaises(NumpyBackend):
    name = "framework-raises"

    def tanh(self, x):
        raise RuntimeError("kernel not implemented")
