"""What the benchmarks call besides the adapter: each built-in framework's own callables.

``native`` mode times the framework function an adapter wraps, called directly
with the framework's own keyword arguments (``F.softmax(x, dim=-1)``, not
``backend.call("softmax", [x], {"axis": -1})``), so that eager − native is the
adapter's overhead and nothing else. The callable and its keywords are the
adapter's own binding (``BINDINGS`` in its family mixins, ``nnspec/backends/binding.py``),
so a third-party backend that binds its ops gets native mode too; a hand-written op
has none and its native mode is skipped with that reason. For NumPy it is the spec
formula itself evaluated in the input's dtype, i.e. without the adapter's
``errstate``/``astype`` wrapper.

``memcpy`` is a plain device-to-device copy of the same bytes, the yardstick for
expressing an op's speed as a fraction of the run's memory bandwidth.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Callable

import numpy as np

from ..backends.base import Backend
from ..backends.binding import Binding, bind

TF_DEVICES = {"cpu": "/CPU:0", "cuda": "/GPU:0"}


def _numpy(spec_fn: Callable | None) -> Binding | None:
    # The "framework" is NumPy running the spec formula in the input's dtype.
    formula = getattr(spec_fn, "__wrapped__", None)
    return bind(formula, defaults=False) if formula is not None else None


def native_for(backend: Backend | str, op: str, spec_fn: Callable | None = None) -> Binding | None:
    """The framework's own callable for ``op`` (``.partial(params)`` binds the native keywords), or None.

    For NumPy the bare spec formula; for any other adapter the binding its family mixin
    declares (``BINDINGS``), None for a hand-written op."""
    name = backend if isinstance(backend, str) else backend.name
    if name == "numpy":
        return _numpy(spec_fn)
    return None if isinstance(backend, str) else backend.binding(op)


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
