"""Torch adapter, normalization: F.batch_norm (what nn.BatchNorm1d/2d call), F.normalize, F.group_norm and
F.instance_norm (what nn.GroupNorm and nn.InstanceNorm2d call).

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
        "group_norm": {
            "epsilon": (F.group_norm, "eps", same),
            "affine": (torch.nn.GroupNorm, "affine", same),
        },
        "instance_norm": {
            "epsilon": (F.instance_norm, "eps", same),
            "affine": (torch.nn.InstanceNorm2d, "affine", same),
        },
    }

    def group_norm(self, x, weight, bias, num_groups, epsilon, affine):
        return F.group_norm(x, num_groups, weight if affine else None, bias if affine else None, eps=epsilon)

    def instance_norm(self, x, weight, bias, epsilon, affine):
        # the input's own statistics (use_input_stats), no running ones: nn.InstanceNorm2d's default
        return F.instance_norm(x, None, None, weight if affine else None, bias if affine else None,
                               use_input_stats=True, momentum=0.1, eps=epsilon)

    def batch_norm(self, x, weight, bias, running_mean, running_var, training, momentum, epsilon, affine):
        mean, var = running_mean.detach().clone(), running_var.detach().clone()
        y = F.batch_norm(x, mean, var, weight if affine else None, bias if affine else None, training=training,
                         momentum=momentum, eps=epsilon)
        return y, mean, var
