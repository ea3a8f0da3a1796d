"""NumPy baseline: the spec's own formulas evaluated in the input's dtype.

NumPy has no deep-learning library, so this adapter is the naive baseline any
framework should match or beat: the same lines the spec runs in float64, run
in float16, bfloat16 (ml_dtypes), float32 or float64. scipy.special.erfc (gelu)
computes float16/bfloat16 in a wider type; every result is rounded back to the
input's dtype. Derivatives are the spec's VJP formulas in the input's dtype,
since NumPy has no autodiff. NumPy has no native defaults to report.
"""

from __future__ import annotations

import numpy as np

from ..spec import activations as A
from .base import Backend


def in_dtype(formula, *arrays, **params):
    """Evaluates a spec formula (its unwrapped, dtype-preserving form) in the dtype of arrays[0]."""
    dtype = arrays[0].dtype
    with np.errstate(all="ignore"):
        return np.asarray(formula.__wrapped__(*arrays, **params)).astype(dtype, copy=False)


class NumpyBackend(Backend):
    name = "numpy"

    def version(self):
        return np.__version__

    def numerics(self):
        subnormal = np.float32(1e-40)
        return {"flush_to_zero": bool(subnormal * np.float32(1.0) == 0.0)}

    def asarray(self, array, device):
        return np.array(array, copy=True)

    def to_numpy(self, tensor):
        return np.asarray(tensor)

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        spec_vjp = getattr(A, f"{op}_vjp")
        return in_dtype(spec_vjp, *inputs, cotangent, **params)

    # activations ---------------------------------------------------------------

    def linear(self, x):
        return in_dtype(A.linear, x)

    def sigmoid(self, x):
        return in_dtype(A.sigmoid, x)

    def tanh(self, x):
        return in_dtype(A.tanh, x)

    def relu(self, x):
        return in_dtype(A.relu, x)

    def leaky_relu(self, x, alpha):
        return in_dtype(A.leaky_relu, x, alpha=alpha)

    def swish(self, x):
        return in_dtype(A.swish, x)

    def gelu(self, x, approximate):
        return in_dtype(A.gelu, x, approximate=approximate)

    def softmax(self, x, axis):
        return in_dtype(A.softmax, x, axis=axis)

    def log_softmax(self, x, axis):
        return in_dtype(A.log_softmax, x, axis=axis)

    def softplus(self, x):
        return in_dtype(A.softplus, x)

    def elu(self, x, alpha):
        return in_dtype(A.elu, x, alpha=alpha)

    def selu(self, x):
        return in_dtype(A.selu, x)
