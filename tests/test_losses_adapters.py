"""The losses family's adapter contract on every built-in backend whose framework is installed."""

from __future__ import annotations

import inspect

import pytest

from nnspec.backends import load_backend
from nnspec.conformance.catalogue import select

FRAMEWORKS = ["numpy", "torch", "tensorflow", "jax"]
ROWS = select("losses")


@pytest.fixture(scope="module", params=FRAMEWORKS)
def backend(request):
    pytest.importorskip(request.param)
    return load_backend(request.param)


def spec_parameters(fn):
    """What an adapter receives: the spec's positional-or-keyword parameters (keyword-only ones are variants)."""
    return [n for n, p in inspect.signature(fn).parameters.items() if p.kind is p.POSITIONAL_OR_KEYWORD]


def test_every_loss_has_the_spec_signature_without_defaults(backend):
    assert {row.op for row in ROWS} >= {"mse", "huber", "focal", "triplet", "l2_penalty", "kl_divergence"}
    for row in ROWS:
        assert backend.implements(row.op), f"{backend.name} lacks {row.op}"
        method = inspect.signature(getattr(backend, row.op)).parameters
        assert list(method) == spec_parameters(row.forward), row.op
        assert all(p.default is inspect.Parameter.empty for p in method.values()), f"{row.op} has defaults"


def test_native_defaults_are_read_from_the_framework(backend):
    """Every declared native default is read, and translated into the spec's vocabulary."""
    for row in ROWS:
        for parameter, spec_default in row.defaults.items():
            if backend.native_name(row.op, parameter) is None:
                continue
            value = backend.native_default(row.op, parameter)
            assert value is None or isinstance(value, type(spec_default)) or isinstance(spec_default, type(value)), (
                row.op, parameter, value)
