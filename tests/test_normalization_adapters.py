"""The normalization family's adapter contract on every built-in backend whose framework is installed,
and the momentum conventions each translates (Keras' and flax's momentum is the old value's weight)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from nnspec.backends import load_backend
from nnspec.conformance.catalogue import select
from nnspec.spec import normalization as N

FRAMEWORKS = ["numpy", "torch", "tensorflow", "jax"]
ROWS = select("normalization")


@pytest.fixture(scope="module", params=FRAMEWORKS)
def backend(request):
    pytest.importorskip(request.param)
    return load_backend(request.param)


def spec_parameters(fn):
    return [n for n, p in inspect.signature(fn).parameters.items() if p.kind is p.POSITIONAL_OR_KEYWORD]


def test_every_normalization_op_has_the_spec_signature_without_defaults(backend):
    assert {row.op for row in ROWS} == {"batch_norm", "l2_normalize", "group_norm", "instance_norm"}
    for row in ROWS:
        assert backend.implements(row.op), f"{backend.name} lacks {row.op}"
        method = inspect.signature(getattr(backend, row.op)).parameters
        assert list(method) == spec_parameters(row.forward), row.op
        assert all(p.default is inspect.Parameter.empty for p in method.values()), f"{row.op} has defaults"


def test_native_defaults_are_read_and_in_spec_vocabulary(backend):
    for row in ROWS:
        for parameter, spec_default in row.defaults.items():
            if backend.native_name(row.op, parameter) is None:
                continue
            value = backend.native_default(row.op, parameter)
            assert isinstance(value, type(spec_default)), (row.op, parameter, value)
            if parameter == "momentum":  # the batch's weight: below ½ in every framework's default
                assert 0 < value < 0.5, (backend.name, value)


def test_one_training_step_moves_the_running_statistics_in_the_spec_convention(backend):
    """momentum 0.25 (a power of two's complement: exact both ways) from (0, 1): mean' = μ/4 in every framework."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    weight, bias, mean, var = (np.ones(3, np.float32), np.zeros(3, np.float32), np.zeros(3, np.float32),
                               np.ones(3, np.float32))
    native = [backend.asarray(a, "cpu") for a in (x, weight, bias, mean, var)]
    _, new_mean, _ = backend.batch_norm(*native, training=True, momentum=0.25, epsilon=1e-5, affine=True)
    _, expected, _ = N.batch_norm(x, weight, bias, mean, var, True, 0.25, 1e-5, True)
    np.testing.assert_allclose(backend.to_numpy(new_mean), expected, rtol=1e-6, atol=1e-7)


MOMENTUM_DEFAULTS = {"torch": 0.1, "tensorflow": 0.01, "jax": 0.01}  # Keras' and flax's 0.99 is the old value's weight


def test_the_defaults_table_states_momentum_as_the_batchs_weight(backend):
    """Keras' and flax's momentum=0.99 is shown as the spec's 0.01 (not 0.99, nor 1 − 0.99's 0.010000000000000009)."""
    if backend.name not in MOMENTUM_DEFAULTS:
        pytest.skip("no native defaults")
    assert backend.native_default("batch_norm", "momentum") == MOMENTUM_DEFAULTS[backend.name]


@pytest.mark.parametrize("training", [True, False])
def test_without_affine_gamma_and_beta_get_the_spec_zero_gradient(backend, training):
    """affine=False leaves γ and β unused: the VJP is the spec's zeros (torch's autograd would raise, TF's tape
    give None) and dx the spec's."""
    rng = np.random.default_rng(1)
    x, g = rng.normal(size=(4, 3)), rng.uniform(-1, 1, (4, 3))
    weight, bias, mean, var = rng.uniform(0.5, 1.5, 3), rng.uniform(-1, 1, 3), np.zeros(3), np.ones(3)
    params = {"training": training, "momentum": 0.1, "epsilon": 1e-3, "affine": False}
    native = [backend.asarray(a, "cpu") for a in (x, weight, bias, mean, var)]
    _, gradients = backend.evaluate("batch_norm", native, params, backend.asarray(g, "cpu"), (0, 1, 2))
    expected = N.batch_norm_vjp(x, weight, bias, mean, var, g, **params)
    for got, want in zip(gradients, expected):
        np.testing.assert_allclose(backend.to_numpy(got), want, rtol=1e-12, atol=1e-15)
    assert not np.any(backend.to_numpy(gradients[1])) and not np.any(backend.to_numpy(gradients[2]))
