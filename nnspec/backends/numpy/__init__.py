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

from ... import spec
from ..base import Backend, as_gradients
from .activations import Activations
from .attention import Attention
from .embedding import Embedding
from .formulas import in_dtype
from .layers import Layers
from .losses import Losses
from .metrics import Metrics
from .models import Models
from .normalization import Normalization
from .optimizers import Optimizers
from .quantization import Quantization
from .random import Random
from .recurrent import Recurrent


class NumpyBackend(Models, Activations, Losses, Optimizers, Recurrent, Attention, Layers, Normalization, Quantization,
                   Embedding, Random, Metrics, Backend):
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

    def vjp(self, op, inputs, cotangent, params, wrt=(0,)):
        spec_vjp = spec.formula(f"{op}_vjp")
        gradients = as_gradients(in_dtype(spec_vjp, *inputs, cotangent, **params))  # one per input, in order
        return tuple(gradients[i] for i in wrt)
