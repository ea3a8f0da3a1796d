"""PyTorch adapter: torch.nn.functional and torch's own autograd."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import torch

from ..base import Backend
from .activations import Activations
from .attention import Attention
from .embedding import Embedding
from .layers import Layers
from .losses import Losses
from .metrics import Metrics
from .normalization import Normalization
from .optimizers import Optimizers
from .quantization import Quantization
from .random import Random
from .recurrent import Recurrent
from .models import Models

TORCH_DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


class TorchBackend(Models, Activations, Losses, Optimizers, Recurrent, Attention, Layers, Normalization, Quantization,
                   Embedding, Random, Metrics, Backend):
    name = "torch"

    def __init__(self):
        # Conformance runs in full float32: no TF32 behind the user's back on GPUs.
        torch.set_float32_matmul_precision("highest")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    def version(self):
        return torch.__version__

    def devices(self):
        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    def numerics(self):
        subnormal = torch.tensor(1e-40, dtype=torch.float32)
        return {
            "flush_to_zero": bool((subnormal * 1.0).item() == 0.0),
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "mkldnn": torch.backends.mkldnn.is_available(),
            "threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        }

    def asarray(self, array, device):
        if array.dtype == ml_dtypes.bfloat16:
            tensor = torch.from_numpy(np.array(array, copy=True).view(np.uint16)).view(torch.bfloat16)
        else:
            tensor = torch.from_numpy(np.array(array, copy=True))
        return tensor.to(device)

    def to_numpy(self, tensor):
        tensor = tensor.detach().cpu()
        if tensor.dtype == torch.bfloat16:
            return tensor.view(torch.uint16).numpy().view(ml_dtypes.bfloat16)
        return tensor.numpy()

    def synchronize(self, device, *arrays):
        if device == "cuda":
            torch.cuda.synchronize()

    def grad(self, fn, primals, cotangent, wrt=(0,)):
        # Only the inputs asked for require grad: the forward runs as a user differentiating them would.
        primals = [p.detach().requires_grad_(i in wrt) for i, p in enumerate(primals)]
        # An input the output does not depend on (batch norm's γ, β with affine=False) gets the zero gradient the
        # spec states (materialize_grads), where autograd would raise
        return tuple(torch.autograd.grad(fn(*primals), [primals[i] for i in wrt], cotangent, materialize_grads=True))

    def compile(self, fn):
        return torch.compile(fn, fullgraph=True, dynamic=False)
