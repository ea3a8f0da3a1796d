"""Torch adapter, normalization: F.batch_norm (what nn.BatchNorm1d/2d call) and F.normalize.

``F.batch_norm`` updates the running statistics it is given in place (with torch's momentum, the
spec's convention, and the unbiased batch variance); the adapter hands it copies and returns them
after the call: (y, running_mean', running_var').
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..binding import bind, same


class Normalization:
    BINDINGS = {"l2_normalize": bind(F.normalize, axis="dim", epsilon="eps")}  # p = 2, F.normalize's default
    NATIVE_DEFAULTS = {
        "batch_norm": {
            "momentum": (F.batch_norm, "momentum", same),
            "epsilon": (F.batch_norm, "eps", same),
            "affine": (torch.nn.BatchNorm2d, "affine", same),
        },
    }

    def batch_norm(self, x, weight, bias, running_mean, running_var, training, momentum, epsilon, affine):
        mean, var = running_mean.detach().clone(), running_var.detach().clone()
        y = F.batch_norm(x, mean, var, weight if affine else None, bias if affine else None, training=training,
                         momentum=momentum, eps=epsilon)
        return y, mean, var
