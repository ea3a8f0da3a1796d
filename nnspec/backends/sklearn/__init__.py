"""scikit-learn adapter: sklearn.preprocessing and sklearn.metrics, the metrics family only.

scikit-learn has no deep-learning ops, no autodiff and no devices but the CPU: every op of
another family is declared unsupported up front (from the spec's own op list), so those cases
are recorded ``unsupported`` without a single draw. Arrays stay NumPy arrays.
"""

from __future__ import annotations

import inspect

import numpy as np
import sklearn

from ... import spec
from ..base import MODEL_IDS, Backend, Unsupported
from .metrics import Metrics

NOT_DEEP_LEARNING = "scikit-learn has no deep-learning ops: only preprocessing and metrics (the metrics family)"


def _spec_ops() -> list[str]:
    """The ops the spec states outside the metrics family: each family module's public functions and
    their ``_vjp``-less names (helpers that are not ops are declared harmlessly)."""
    ops = []
    for family, module in spec.FAMILIES.items():
        if family == "metrics":
            continue
        for name, fn in vars(module).items():
            if (not name.startswith("_") and inspect.isfunction(fn) and fn.__module__ == module.__name__
                    and not name.endswith(("_vjp", "_condition")) and name == name.lower()):
                ops.append(name)
    return ops


class SklearnBackend(Metrics, Backend):
    name = "sklearn"
    UNSUPPORTED = {op: NOT_DEEP_LEARNING for op in (*_spec_ops(), *MODEL_IDS)}  # the seed models are no functions

    def version(self):
        return sklearn.__version__

    def asarray(self, array, device):
        if device != "cpu":
            raise Unsupported("scikit-learn runs on the CPU only")
        return np.array(array, copy=True)

    def to_numpy(self, tensor):
        return np.asarray(tensor)

    def grad(self, fn, primals, cotangent, wrt=(0,)):
        raise Unsupported("scikit-learn has no autodiff")
