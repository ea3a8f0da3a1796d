"""NumPy baseline, models: the spec-composed seed models (``nnspec/spec/models.py``) as the baseline.

NumPy has no layers, autodiff or optimizers of its own, so its build of a model *is* the spec's composition
(float64, then rounded to the dtype under test): the baseline column says what a backend that agrees with the
spec to its dtype's rounding looks like, and exercises the checks end to end. Marked composed.
"""

from __future__ import annotations

import numpy as np

from ...spec import models as M
from ..base import composed


def _cast(value, dtype):
    if isinstance(value, dict):
        return {k: _cast(v, dtype) for k, v in value.items()}
    return np.asarray(value).astype(dtype)


class Models:
    @composed
    def model_forward(self, model_id, weights, x, y, training):
        return _cast(M.forward(model_id, weights, x, y, training), np.asarray(x).dtype)

    @composed
    def model_train(self, model_id, weights, xs, ys, optimizer, hyper):
        return _cast(M.train(model_id, weights, xs, ys, optimizer, hyper), np.asarray(xs).dtype)
