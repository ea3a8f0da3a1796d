"""What the benchmarks call besides the adapter: each built-in framework's own callables.

``native`` mode times the framework function an adapter wraps, called directly
with the framework's own keyword arguments (``F.softmax(x, dim=-1)``, not
``backend.call("softmax", [x], {"axis": -1})``), so that eager − native is the
adapter's overhead and nothing else. The tables mirror the adapters' choice of
callable (torch.nn.functional, keras.activations, jax.nn; for NumPy the spec
formula itself evaluated in the input's dtype, i.e. without the adapter's
``errstate``/``astype`` wrapper) and are declarative: op -> ``Native(callable,
spec parameter -> native parameter, spec value -> native value)``. Adapter files
are not read or changed; a third-party backend has no table and its native mode
is skipped with that reason.

``memcpy`` is a plain device-to-device copy of the same bytes, the yardstick for
expressing an op's speed as a fraction of the run's memory bandwidth.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

TF_DEVICES = {"cpu": "/CPU:0", "cuda": "/GPU:0"}
GELU_APPROXIMATE = {"none": False, "tanh": True}  # spec vocabulary -> keras/jax bool


@dataclass(frozen=True)
class Native:
    fn: Callable
    rename: Mapping[str, str] = field(default_factory=dict)
    translate: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)

    def bind(self, params: Mapping[str, Any]) -> Callable:
        """``fn`` with the spec parameters as native keywords; a C-level partial, so no Python frame is added."""
        kwargs = {self.rename.get(k, k): self.translate.get(k, lambda v: v)(v) for k, v in params.items()}
        return functools.partial(self.fn, **kwargs) if kwargs else self.fn


def _numpy(spec_fn: Callable | None) -> Native | None:
    # The "framework" is NumPy running the spec formula in the input's dtype.
    formula = getattr(spec_fn, "__wrapped__", None)
    return Native(formula) if formula is not None else None


@functools.cache
def _torch() -> dict[str, Native]:
    import torch
    import torch.nn.functional as F

    return {
        "linear": Native(torch.nn.Identity()),
        "sigmoid": Native(torch.sigmoid),
        "tanh": Native(torch.tanh),
        "relu": Native(F.relu),
        "leaky_relu": Native(F.leaky_relu, {"alpha": "negative_slope"}),
        "swish": Native(F.silu),
        "gelu": Native(F.gelu),
        "softmax": Native(F.softmax, {"axis": "dim"}),
        "log_softmax": Native(F.log_softmax, {"axis": "dim"}),
        "softplus": Native(F.softplus),
        "elu": Native(F.elu),
        "selu": Native(F.selu),
    }


@functools.cache
def _tensorflow() -> dict[str, Native]:
    import keras

    A = keras.activations
    gelu = {"approximate": GELU_APPROXIMATE.__getitem__}
    return {
        "linear": Native(A.linear),
        "sigmoid": Native(A.sigmoid),
        "tanh": Native(A.tanh),
        "relu": Native(A.relu),
        "leaky_relu": Native(A.leaky_relu, {"alpha": "negative_slope"}),
        "swish": Native(A.silu),
        "gelu": Native(A.gelu, translate=gelu),
        "softmax": Native(A.softmax),
        "log_softmax": Native(A.log_softmax),
        "softplus": Native(A.softplus),
        "elu": Native(A.elu),
        "selu": Native(A.selu),
    }


@functools.cache
def _jax() -> dict[str, Native]:
    import jax

    nn = jax.nn
    gelu = {"approximate": GELU_APPROXIMATE.__getitem__}
    return {
        "linear": Native(nn.identity),
        "sigmoid": Native(nn.sigmoid),
        "tanh": Native(nn.tanh),
        "relu": Native(nn.relu),
        "leaky_relu": Native(nn.leaky_relu, {"alpha": "negative_slope"}),
        "swish": Native(nn.silu),
        "gelu": Native(nn.gelu, translate=gelu),
        "softmax": Native(nn.softmax),
        "log_softmax": Native(nn.log_softmax),
        "softplus": Native(nn.softplus),
        "elu": Native(nn.elu),
        "selu": Native(nn.selu),
    }


_TABLES = {"torch": _torch, "tensorflow": _tensorflow, "jax": _jax}


def native_for(backend: str, op: str, spec_fn: Callable | None = None) -> Native | None:
    """The framework's own callable for ``op``, or None when none is declared here."""
    if backend == "numpy":
        return _numpy(spec_fn)
    table = _TABLES.get(backend)
    return table().get(op) if table else None


def _tf_copy(x):
    import tensorflow as tf

    # tf.identity may hand back the very same buffer on the same device; DeepCopy always copies.
    return tf.raw_ops.DeepCopy(x=x)


def _torch_memcpy():
    import torch

    return torch.Tensor.clone


def _jax_memcpy():
    import jax.numpy as jnp

    return functools.partial(jnp.array, copy=True)


#: backend -> () -> the framework's plain device-to-device copy (resolved lazily: no framework import here)
MEMCPY: dict[str, Callable[[], Callable]] = {
    "numpy": lambda: np.copy,
    "torch": _torch_memcpy,
    "tensorflow": lambda: _tf_copy,
    "jax": _jax_memcpy,
}


def memcpy_for(backend: str) -> Callable | None:
    resolve = MEMCPY.get(backend)
    return resolve() if resolve else None


@contextlib.contextmanager
def placement(backend: str, device: str):
    """Entered around a whole benchmark (outside the timed region).

    TensorFlow eager puts an op on the GPU whenever one exists, wherever its inputs
    live, so native calls and copies are pinned to the benchmarked device; torch and
    jax follow their (committed) inputs. NumPy's floating-point warnings are silenced
    as the adapter does, so the native formula does not pay for pytest recording them.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(np.errstate(all="ignore"))
        if backend == "tensorflow":
            import tensorflow as tf

            stack.enter_context(tf.device(TF_DEVICES.get(device, device)))
        yield
