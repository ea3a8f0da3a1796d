"""The random family's spec against closed forms and independent oracles (mpmath, scipy's own moments):
fans, the initializers' bounds and standard deviations, the truncated normal's variance factor, the Haar
marginal, dropout's deterministic part, and the layers' stated defaults pinned."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy import stats

from nnspec.spec import random as R

SHAPES = [(256, 64), (64, 16, 3, 3), (8, 32, 5, 5)]


@pytest.mark.parametrize("shape, fans", [((256, 64), (64, 256)), ((64, 16, 3, 3), (144, 576)),
                                         ((8, 32, 5, 5), (800, 200))])
def test_fans_of_dense_and_conv_kernels(shape, fans):
    """(out, in, *receptive): fan_in = in·∏receptive, fan_out = out·∏receptive (Glorot & Bengio; He et al.)."""
    assert R.fans(shape) == fans


def test_a_vector_has_no_fans():
    with pytest.raises(ValueError):
        R.fans((5,))


def test_the_truncated_normal_std_factor_is_mpmath_s():
    """Var of N(0, 1) truncated to (−2, 2) = 1 − 2·2φ(2)/(2Φ(2) − 1): the constant Keras and JAX divide by."""
    mpmath.mp.dps = 30
    phi = mpmath.npdf(2)
    big_phi = mpmath.ncdf(2) - mpmath.ncdf(-2)
    exact = mpmath.sqrt(1 - 4 * phi / big_phi)
    assert R.TRUNCATED_STD == pytest.approx(float(exact), rel=1e-15)
    assert R.TRUNCATED_STD == pytest.approx(.87962566103423978, rel=1e-15)  # the literal in keras and jax
    assert R.TRUNCATED_STD == pytest.approx(stats.truncnorm(-2, 2).std(), rel=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_the_closed_forms(shape):
    fan_in, fan_out = R.fans(shape)
    assert R.glorot_uniform_law(shape).dist.support() == pytest.approx(
        (-math.sqrt(6 / (fan_in + fan_out)), math.sqrt(6 / (fan_in + fan_out))), rel=1e-15)
    assert R.he_uniform_law(shape).dist.support()[1] == pytest.approx(math.sqrt(6 / fan_in), rel=1e-15)
    assert R.glorot_normal_law(shape).dist.std() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=1e-15)
    assert R.he_normal_law(shape).dist.std() == pytest.approx(math.sqrt(2 / fan_in), rel=1e-15)
    assert R.lecun_normal_law(shape).dist.std() == pytest.approx(math.sqrt(1 / fan_in), rel=1e-15)


@pytest.mark.parametrize("law", [R.glorot_normal_law, R.he_normal_law, R.lecun_normal_law])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_truncated_normal_keeps_the_variance_and_ends_at_two_of_its_sigmas(law, shape):
    untruncated, truncated = law(shape), law(shape, normal="truncated")
    assert truncated.dist.std() == pytest.approx(untruncated.dist.std(), rel=1e-12)
    sigma = untruncated.dist.std() / R.TRUNCATED_STD
    assert truncated.dist.support() == pytest.approx((-2 * sigma, 2 * sigma), rel=1e-15)
    assert truncated.dist.mean() == pytest.approx(0, abs=1e-15)


@pytest.mark.parametrize("shape, n", [((4, 6), 6), ((6, 4), 6), ((5, 5), 5), ((3, 2, 2, 2), 8)])
def test_the_haar_marginal_has_variance_gain_squared_over_n(shape, n):
    """A coordinate of a uniform point on S^{n−1} has mean 0 and variance 1/n (the rows sum to 1 in squares)."""
    for gain in (1.0, 2.0):
        law = R.orthogonal_law(shape, gain)
        assert law.dist.mean() == pytest.approx(0, abs=1e-15)
        assert law.dist.var() == pytest.approx(gain**2 / n, rel=1e-12)
        assert law.dist.support() == pytest.approx((-gain, gain))


def test_the_haar_marginal_density_is_mpmath_s():
    """Density of u₁ on S^{n−1}: Γ(n/2)/(√π Γ((n−1)/2))·(1 − t²)^((n−3)/2)."""
    n = 6
    law = R.orthogonal_law((4, n))
    for t in (-0.7, 0.0, 0.3, 0.9):
        exact = mpmath.gamma(n / 2) / (mpmath.sqrt(mpmath.pi) * mpmath.gamma((n - 1) / 2)) * (1 - t * t) ** ((n - 3) / 2)
        assert law.dist.pdf(t) == pytest.approx(float(exact), rel=1e-12)


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (5, 5), (3, 2, 2, 2)])
def test_the_orthogonal_sampler_is_orthogonal_times_gain(shape):
    q = R.orthogonal(shape, 3, "float64", 2.0).reshape(R.orthogonal_shape(shape))
    gram = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
    assert np.allclose(gram, 4 * np.eye(len(gram)), atol=1e-13)


def test_dropout_is_inverted_identity_in_inference_and_at_rate_zero_and_zeros_at_rate_one():
    x = np.linspace(0.5, 2.0, 1000)
    assert np.array_equal(R.dropout(x, 1, rate=0.3, training=False), x)
    assert np.array_equal(R.dropout(x, 1, rate=0.0, training=True), x)
    assert np.array_equal(R.dropout(x, 1, rate=1.0, training=True), np.zeros_like(x))
    mask = np.arange(1000) % 3 == 0
    y = R.dropout(x, 1, rate=0.25, training=True, mask=mask)
    assert np.array_equal(y[mask], x[mask] / 0.75) and np.all(y[~mask] == 0)
    drawn = R.dropout(x, 7, rate=0.25, training=True)
    assert np.array_equal(drawn != 0, np.random.default_rng(7).random(1000) >= 0.25)  # kept with prob 1 − p


def test_the_dropout_law_is_the_kept_count_s():
    law = R.dropout_law(np.zeros((10, 20)), 0.3)
    assert law.dist.mean() == pytest.approx(200 * 0.7) and law.dist.var() == pytest.approx(200 * 0.7 * 0.3)


def test_the_layer_defaults_the_spec_states():
    """Glorot & Bengio for kernels (Keras' choice), Saxe et al.'s orthogonal for an LSTM's recurrent kernel,
    N(0, 1) for embeddings (torch's, Mikolov-era practice)."""
    assert R.LAYER_DEFAULTS == {
        "dense_init": {"kernel": "glorot_uniform"}, "conv2d_init": {"kernel": "glorot_uniform"},
        "embedding_init": {"embeddings": "normal(0, 1)"},
        "lstm_init": {"kernel": "glorot_uniform", "recurrent_kernel": "orthogonal"}}
    assert R.KERAS_UNIFORM == 0.05
    for op, weights in R.LAYER_DEFAULTS.items():
        for name in weights.values():
            assert name == "orthogonal" or name in R.layer_candidates((64, 32), None)


def test_the_torch_linear_candidate_is_kaiming_uniform_with_a_sqrt5():
    """kaiming_uniform(a=√5): gain √(2/(1 + 5)), bound gain·√(3/fan_in) = 1/√fan_in."""
    fan_in = 32
    gain = math.sqrt(2 / (1 + 5))
    law = R.layer_candidates((64, fan_in), None)["uniform(±1/√fan_in)"]
    assert law.dist.support()[1] == pytest.approx(gain * math.sqrt(3 / fan_in), rel=1e-15)
    assert law.dist.support()[1] == pytest.approx(1 / math.sqrt(fan_in), rel=1e-15)


def test_the_samplers_draw_their_laws():
    """A loose sanity check of the baseline's samplers (the engine tests measure them at the check's α)."""
    for sampler, law in ((R.glorot_uniform, R.glorot_uniform_law), (R.he_normal, R.he_normal_law)):
        sample = sampler((256, 64), 0, "float64")
        assert stats.kstest(sample.ravel(), law((256, 64)).cdf).pvalue > 1e-3
