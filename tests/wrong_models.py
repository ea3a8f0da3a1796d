"""Deliberately wrong model adapters: each is one way a port of a seed model breaks, which the models checks
must catch and localize. They subclass the torch adapter (torch.nn layers) and change one thing of its build."""

from __future__ import annotations

import torch

from nnspec.backends.torch import TorchBackend
from nnspec.backends.torch.models import _Build


class _Wrong(TorchBackend):
    build = _Build

    def _model_build(self, model_id, dtype):
        cache = self.__dict__.setdefault("_model_builds", {})
        if (model_id, dtype) not in cache:
            cache[(model_id, dtype)] = self.build(self, model_id, dtype)
        return cache[(model_id, dtype)]


class _TransposedKernelBuild(_Build):
    def native(self, P):
        native = super().native(P)
        if "conv2" in native:  # OIHW loaded as OIWH: the kernel's spatial axes swapped
            native["conv2"]["weight"] = native["conv2"]["weight"].transpose(2, 3)
        return native


class TransposedKernel(_Wrong):
    """Loads the cnn's conv2 kernel with its spatial axes swapped (a layout slip porting HWIO ↔ OIHW)."""

    name = "transposed-kernel"
    build = _TransposedKernelBuild


class _FlippedZBuild(_Build):
    def native(self, P):
        native = super().native(P)
        if "gru1" in native:  # forgets the recurrent mapping's sign flip of the z rows (torch keeps z·h)
            H = self.modules["gru1"].hidden_size
            flip = torch.ones(3 * H, 1, dtype=self.dtype)
            flip[H:2 * H] = -1
            for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0"):
                t = native["gru1"][name]
                native["gru1"][name] = t * (flip if t.ndim == 2 else flip[:, 0])
        return native


class FlippedGruZ(_Wrong):
    """The GRU's z convention flipped: the canonical z rows loaded as torch's without the sign flip."""

    name = "flipped-gru-z"
    build = _FlippedZBuild


class _InvertedMomentumBuild(_Build):
    def __init__(self, *args):
        super().__init__(*args)
        for module in self.modules.values():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = 1 - module.momentum  # Keras' momentum (0.9) read as torch's


class InvertedMomentum(_Wrong):
    """Batch norm with its momentum inverted: torch.nn.BatchNorm2d(momentum=0.9), Keras' number in torch's sense."""

    name = "inverted-bn-momentum"
    build = _InvertedMomentumBuild
