"""Adapters broken the ways real ones break: each breaks one activation, the run must survive it.

Every class subclasses the NumPy baseline and breaks one op on every call; the rest of the
activations family must be measured exactly as for the baseline. The ones that take the
process down (hang, segfault, abort) are caught by the worker isolation
(nnspec/conformance/isolation.py); the others by the engine.

    nnspec run --backend tests.broken_adapters:Segfaults --family activations --budget quick
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from nnspec.backends.numpy import NumpyBackend

BROKEN_OP = {  # class -> the op it breaks, and the status that op must get
    "Raises": ("tanh", "error"),
    "ReturnsNan": ("sigmoid", "fail"),
    "WrongShape": ("relu", "fail"),
    "WrongDtype": ("softplus", "fail"),
    "ReturnsList": ("relu", "fail"),
    "ReturnsNone": ("swish", "fail"),
    "Hangs": ("tanh", "timeout"),
    "Segfaults": ("sigmoid", "crashed"),
    "Aborts": ("relu", "crashed"),
    "AllocatesWithoutBound": ("softplus", "error"),
}


class Raises(NumpyBackend):
    name = "raises"

    def tanh(self, x):
        raise RuntimeError("kernel not implemented")


class ReturnsNan(NumpyBackend):
    name = "returns-nan"

    def sigmoid(self, x):
        return np.full_like(x, np.nan)


class WrongShape(NumpyBackend):
    name = "wrong-shape"

    def relu(self, x):
        return super().relu(x).reshape(-1)[:1]


class WrongDtype(NumpyBackend):
    name = "wrong-dtype"

    def softplus(self, x):
        return super().softplus(x).astype(np.float64 if x.dtype != np.float64 else np.float32)


class ReturnsList(NumpyBackend):
    name = "returns-list"

    def relu(self, x):
        return [1.0, 2.0, 3.0]


class ReturnsNone(NumpyBackend):
    name = "returns-none"

    def swish(self, x):
        return None


class Hangs(NumpyBackend):
    name = "hangs"

    def tanh(self, x):
        while True:  # a kernel that never returns
            pass


class Segfaults(NumpyBackend):
    name = "segfaults"

    def sigmoid(self, x):
        ctypes.string_at(0)  # reads address 0: SIGSEGV


class Aborts(NumpyBackend):
    name = "aborts"

    def relu(self, x):
        os.abort()  # what a failed C++ assertion does: SIGABRT


class AllocatesWithoutBound(NumpyBackend):
    name = "allocates-without-bound"

    def softplus(self, x):
        hoard = []
        while True:  # address space only (np.empty touches no page): the worker's memory limit stops it
            hoard.append(np.empty(2**30, dtype=np.uint8))


class BrokenEverywhere(Hangs, Segfaults, Aborts, ReturnsNone, Raises):
    """All at once, one op each: tanh hangs, sigmoid segfaults, relu aborts, swish returns None."""

    name = "broken-everywhere"

    def tanh(self, x):
        return Hangs.tanh(self, x)


EVERYWHERE = {"tanh": "timeout", "sigmoid": "crashed", "relu": "crashed", "swish": "fail"}
