"""The batch-norm spec against independent oracles: mpmath at 50 digits, closed forms, finite differences.

* Forward and running statistics: each channel's mean, biased and unbiased variance and normalized
  values computed in mpmath from the float64 inputs, the spec within a few ULPs of them, also for
  channels whose mean is 10⁶ times their spread (where a one-pass E[x²] − μ² in float64 loses
  every digit: measured here too, so the examples are known to be able to tell the two apart).
* Closed forms: two values per channel, a constant channel (σ² = 0: x̂ = 0), inference with the
  running statistics, momentum 0 and 1.
* VJP: the adjoint identity ⟨g, J·v⟩ = ⟨VJP(g), v⟩ with J·v a central finite difference.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnspec.spec import normalization as N

SHAPES = [(4, 3), (2, 3, 4, 4), (3, 2, 3, 5), (2, 1)]


@st.composite
def cases(draw, offsets=(0.0, 10.0, 1e6)):
    shape = draw(st.sampled_from(SHAPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    offset = draw(st.sampled_from(offsets))
    x = offset * rng.uniform(0.5, 1, shape[1]).reshape((1, -1) + (1,) * (len(shape) - 2)) + rng.normal(size=shape)
    weight, bias = rng.uniform(0.5, 1.5, shape[1]), rng.uniform(-1, 1, shape[1])
    mean, var = rng.uniform(-2, 2, shape[1]), rng.uniform(0.1, 4, shape[1])
    params = {"momentum": draw(st.sampled_from([0.1, 0.01, 0.9])), "epsilon": draw(st.sampled_from([1e-5, 0.1]))}
    return x, weight, bias, mean, var, params


def channel_oracle(x, weight, bias, mean, var, momentum, epsilon):
    """Per channel in mpmath: (y, running_mean', running_var' unbiased, running_var' biased)."""
    with mpmath.workdps(50):
        rows = N._rows(x)
        k = rows.shape[1]
        y_rows, new_mean, unbiased, biased = [], [], [], []
        for c, row in enumerate(rows):
            values = [mpmath.mpf(float(v)) for v in row]
            mu = mpmath.fsum(values) / k
            s2 = mpmath.fsum((v - mu) ** 2 for v in values) / k
            y_rows.append([float((v - mu) / mpmath.sqrt(s2 + epsilon) * weight[c] + bias[c]) for v in values])
            m = mpmath.mpf(momentum)
            new_mean.append(float((1 - m) * mean[c] + m * mu))
            unbiased.append(float((1 - m) * var[c] + m * s2 * k / (k - 1)))
            biased.append(float((1 - m) * var[c] + m * s2))
        y = N._unrows(np.array(y_rows), x.shape)
    return y, np.array(new_mean), np.array(unbiased), np.array(biased)


def ulps(actual, expected, floor):
    return float(np.max(np.abs(actual - expected) / np.spacing(np.maximum(np.abs(expected), floor))))


@settings(max_examples=40)
@given(cases())
def test_training_matches_mpmath_even_on_large_means(case):
    x, weight, bias, mean, var, p = case
    y, new_mean, new_var = N.batch_norm(x, weight, bias, mean, var, True, p["momentum"], p["epsilon"], True)
    y_o, mean_o, unbiased_o, biased_o = channel_oracle(x, weight, bias, mean, var, p["momentum"], p["epsilon"])
    # y in ULPs of |γ| + |β| (x̂'s own scale): the spec rounds x − μ, a root and the affine map
    assert ulps(y, y_o, N._per_channel(np.abs(weight) + np.abs(bias), x.ndim)) <= 8
    # (1 − m)·mean + m·μ cancels where the two have opposite signs: in ULPs of the terms' magnitudes
    terms = (1 - p["momentum"]) * np.abs(mean) + p["momentum"] * np.mean(np.abs(N._rows(x)), axis=-1)
    assert ulps(new_mean, mean_o, terms) <= 4
    assert ulps(new_var, unbiased_o, 1e-300) <= 4
    _, _, biased = N.batch_norm(x, weight, bias, mean, var, True, p["momentum"], p["epsilon"], True,
                                running_variance="biased")
    assert ulps(biased, biased_o, 1e-300) <= 4


def one_pass_variance(x):
    rows = N._rows(x)
    return np.mean(rows * rows, axis=-1) - np.mean(rows, axis=-1) ** 2


def test_a_one_pass_variance_loses_every_digit_where_the_spec_keeps_them():
    """The pitfall the catalogue's large-mean examples are drawn for, measured: at mean/spread = 10⁶ in
    float64 the one-pass E[x²] − μ² is off by more than 10⁹ ULPs (its rounding is u·μ², 10¹² times u·σ²); the spec
    is within 4 ULPs."""
    rng = np.random.default_rng(0)
    x = 1e6 + rng.normal(size=(8, 2, 3, 3))
    exact = np.array([float(mpmath.fsum((mpmath.mpf(float(v)) - mpmath.fsum(map(mpmath.mpf, map(float, r))) / r.size)
                                        ** 2 for v in r) / r.size) for r in N._rows(x)])
    zeros, ones = np.zeros(2), np.ones(2)
    _, _, spec = N.batch_norm(x, ones, zeros, zeros, zeros, True, 1.0, 1e-5, True, running_variance="biased")
    assert ulps(spec, exact, 1e-300) <= 4
    assert ulps(one_pass_variance(x), exact, 1e-300) > 1e9


def test_two_values_per_channel_closed_form():
    """x = (a, b) per channel: μ = (a + b)/2, σ² = ((a − b)/2)², x̂ = ±|a − b|/2/√(σ² + ε); unbiased σ²·2."""
    x = np.array([[1.0, 10.0], [3.0, -2.0]])  # (N=2, C=2)
    zeros, ones = np.zeros(2), np.ones(2)
    y, mean, var = N.batch_norm(x, ones, zeros, zeros, ones, True, 0.5, 0.0, True)
    np.testing.assert_allclose(y, [[-1.0, 1.0], [1.0, -1.0]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(mean, [0.5 * 2.0, 0.5 * 4.0], rtol=1e-15)
    np.testing.assert_allclose(var, [0.5 + 0.5 * 2.0, 0.5 + 0.5 * 72.0], rtol=1e-15)  # σ² = 1, 36; ×2/(2 − 1)


def test_a_constant_channel_normalizes_to_zero_and_its_variance_to_zero():
    x = np.full((4, 1, 2, 2), 3.0)
    y, mean, var = N.batch_norm(x, np.array([2.0]), np.array([0.5]), np.zeros(1), np.zeros(1), True, 1.0, 1e-5, True)
    assert np.all(y == 0.5) and mean[0] == 3.0 and var[0] == 0.0


def test_momentum_zero_keeps_the_state_and_one_takes_the_batch():
    rng = np.random.default_rng(1)
    x, mean, var = rng.normal(size=(5, 3)), rng.normal(size=3), rng.uniform(1, 2, 3)
    ones, zeros = np.ones(3), np.zeros(3)
    _, kept_mean, kept_var = N.batch_norm(x, ones, zeros, mean, var, True, 0.0, 1e-5, True)
    assert np.array_equal(kept_mean, mean) and np.array_equal(kept_var, var)
    _, new_mean, new_var = N.batch_norm(x, ones, zeros, mean, var, True, 1.0, 1e-5, True)
    np.testing.assert_allclose(new_mean, x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(new_var, x.var(axis=0, ddof=1), rtol=1e-14)


def test_inference_uses_the_running_statistics_and_keeps_them():
    rng = np.random.default_rng(2)
    x, weight, bias = rng.normal(size=(3, 2, 2, 2)), rng.normal(size=2), rng.normal(size=2)
    mean, var = np.array([0.5, -1.0]), np.array([4.0, 0.25])
    y, same_mean, same_var = N.batch_norm(x, weight, bias, mean, var, False, 0.1, 0.0, True)
    expected = (x - mean[None, :, None, None]) / np.sqrt(var)[None, :, None, None] * weight[None, :, None, None] \
        + bias[None, :, None, None]
    np.testing.assert_allclose(y, expected, rtol=1e-15, atol=1e-15)
    assert same_mean is not None and np.array_equal(same_mean, mean) and np.array_equal(same_var, var)
    plain, _, _ = N.batch_norm(x, weight, bias, mean, var, False, 0.1, 0.0, False)
    np.testing.assert_allclose(plain, (x - mean[None, :, None, None]) / np.sqrt(var)[None, :, None, None], rtol=1e-15)


def test_training_with_one_value_per_channel_is_refused():
    with pytest.raises(ValueError):
        N.batch_norm(np.ones((1, 3)), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), True)


@settings(max_examples=30)
@given(cases(offsets=(0.0, 10.0)), st.booleans(), st.booleans())
def test_vjp_is_the_adjoint_of_central_differences(case, training, affine):
    x, weight, bias, mean, var, p = case
    if x.shape[0] * int(np.prod(x.shape[2:])) < 2:
        return
    params = dict(training=training, momentum=p["momentum"], epsilon=p["epsilon"], affine=affine)
    rng = np.random.default_rng(3)
    g = rng.normal(size=x.shape)
    grads = N.batch_norm_vjp(x, weight, bias, mean, var, g, **params)
    inputs = [x, weight, bias]
    h = 1e-6
    for i, grad in enumerate(grads):
        v = rng.normal(size=inputs[i].shape)
        plus = [a + h * v if j == i else a for j, a in enumerate(inputs)]
        minus = [a - h * v if j == i else a for j, a in enumerate(inputs)]
        jv = (N.batch_norm(*plus, mean, var, **params)[0] - N.batch_norm(*minus, mean, var, **params)[0]) / (2 * h)
        lhs, rhs = np.sum(g * jv), np.sum(grad * v)
        assert abs(lhs - rhs) <= 1e-6 * (1 + np.sum(np.abs(g * jv))), (i, lhs, rhs)
    if not affine:
        assert not np.any(grads[1]) and not np.any(grads[2])


# l2_normalize ------------------------------------------------------------------------------------------


def l2_oracle(x, axis, epsilon, epsilon_at="norm"):
    """x / max(‖x‖, ε) (or x / √max(Σx², ε)) per vector in mpmath at 50 digits."""
    with mpmath.workdps(50):
        moved = np.moveaxis(x, axis, -1)
        out = np.empty(moved.shape)
        for index in np.ndindex(moved.shape[:-1]):
            values = [mpmath.mpf(float(v)) for v in moved[index]]
            squares = mpmath.fsum(v * v for v in values)
            if epsilon_at == "norm":
                denominator = max(mpmath.sqrt(squares), mpmath.mpf(epsilon))
            else:
                denominator = mpmath.sqrt(max(squares, mpmath.mpf(epsilon)))
            out[index] = [float(v / denominator) for v in values]
        return np.moveaxis(out, -1, axis)


@st.composite
def l2_cases(draw):
    shape = draw(st.sampled_from([(3,), (2, 5), (4, 3, 2)]))
    axis = draw(st.sampled_from([-1, 0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1.0, 1e-13, 1e-9, 1e200, 1e-200]))  # 1e200: Σx² overflows unless scaled
    return scale * rng.normal(size=shape), axis, draw(st.sampled_from([1e-12, 1e-6]))


@settings(max_examples=50)
@given(l2_cases(), st.sampled_from(["norm", "squared_sum"]))
def test_l2_normalize_matches_mpmath_at_every_magnitude(case, epsilon_at):
    x, axis, epsilon = case
    y = N.l2_normalize(x, axis, epsilon, epsilon_at=epsilon_at)
    assert ulps(y, l2_oracle(x, axis, epsilon, epsilon_at), 1e-300) <= 4


def test_l2_normalize_closed_forms():
    np.testing.assert_array_equal(N.l2_normalize(np.array([3.0, 4.0])), [0.6, 0.8])
    np.testing.assert_array_equal(N.l2_normalize(np.array([[3.0], [4.0]]), axis=0), [[0.6], [0.8]])
    tiny = np.array([3e-14, 4e-14])  # ‖x‖ = 5e-14 < ε = 1e-12: x/ε
    np.testing.assert_allclose(N.l2_normalize(tiny), tiny / 1e-12, rtol=1e-15)
    between = np.array([3e-9, 4e-9])  # ε < ‖x‖ = 5e-9 < √ε = 1e-6: torch's unit vector, TF's x/√ε
    np.testing.assert_allclose(N.l2_normalize(between), [0.6, 0.8], rtol=1e-15)
    np.testing.assert_allclose(N.l2_normalize(between, epsilon_at="squared_sum"), between / 1e-6, rtol=1e-15)
    assert np.all(N.l2_normalize(np.zeros(3)) == 0)
    np.testing.assert_allclose(N.l2_normalize(np.array([3e200, 4e200])), [0.6, 0.8], rtol=1e-15)


@settings(max_examples=40)
@given(l2_cases(), st.sampled_from(["norm", "squared_sum"]))
def test_l2_normalize_vjp_is_the_adjoint_of_central_differences(case, epsilon_at):
    x, axis, epsilon = case
    x = x / np.max(np.abs(x)) * (1e-13 if np.max(np.abs(x)) < 1e-11 else 1.0)  # below ε, or of norm ~1
    rng = np.random.default_rng(4)
    g, v = rng.normal(size=x.shape), rng.normal(size=x.shape)
    h = 1e-7 * np.max(np.abs(x))
    f = lambda z: N.l2_normalize(z, axis, epsilon, epsilon_at=epsilon_at)  # noqa: E731
    jv = (f(x + h * v) - f(x - h * v)) / (2 * h)
    lhs = np.sum(g * jv)
    rhs = np.sum(N.l2_normalize_vjp(x, g, axis, epsilon, epsilon_at=epsilon_at) * v)
    assert abs(lhs - rhs) <= 1e-6 * (1 + np.sum(np.abs(g * jv))), (lhs, rhs)


# group_norm, instance_norm ----------------------------------------------------------------------------


def group_oracle(x, weight, bias, num_groups, epsilon):
    """Each (sample, group of C/G consecutive channels) normalized in mpmath at 50 digits, then γ, β per channel."""
    n, c = x.shape[:2]
    size = c // num_groups
    y = np.empty(x.shape)
    with mpmath.workdps(50):
        for i in range(n):
            for g in range(num_groups):
                block = x[i, g * size:(g + 1) * size]
                values = [mpmath.mpf(float(v)) for v in block.ravel()]
                mu = mpmath.fsum(values) / len(values)
                s2 = mpmath.fsum((v - mu) ** 2 for v in values) / len(values)
                r = 1 / mpmath.sqrt(s2 + epsilon)
                for ch in range(size):
                    channel = g * size + ch
                    y[i, channel] = [[float((mpmath.mpf(float(v)) - mu) * r * weight[channel] + bias[channel])
                                      for v in row] for row in x[i, channel]]
    return y


@st.composite
def group_cases(draw):
    shape, groups = draw(st.sampled_from([((2, 4, 3, 3), 2), ((1, 6, 2, 2), 3), ((2, 3, 2, 2), 1), ((1, 4, 2, 1), 4)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    offset = draw(st.sampled_from([0.0, 10.0, 1e6]))
    x = offset + rng.normal(size=shape)
    return x, rng.uniform(0.5, 1.5, shape[1]), rng.uniform(-1, 1, shape[1]), groups, draw(st.sampled_from([1e-5, 0.1]))


@settings(max_examples=30)
@given(group_cases())
def test_group_norm_matches_mpmath_even_on_large_means(case):
    x, weight, bias, groups, epsilon = case
    y = N.group_norm(x, weight, bias, groups, epsilon)
    scale = N._per_channel(np.abs(weight) + np.abs(bias), 4)  # x̂'s own scale, as for batch norm
    assert ulps(y, group_oracle(x, weight, bias, groups, epsilon), scale) <= 8


def test_instance_norm_is_group_norm_with_one_channel_a_group_and_group_norm_of_one_group_is_layer_norm():
    rng = np.random.default_rng(5)
    x, weight, bias = rng.normal(size=(2, 3, 4, 2)), rng.normal(size=3), rng.normal(size=3)
    np.testing.assert_array_equal(N.instance_norm(x, weight, bias, 1e-5), N.group_norm(x, weight, bias, 3, 1e-5))
    ones, zeros = np.ones(3), np.zeros(3)
    whole = N.layer_norm(x.reshape(2, -1), np.ones(24), np.zeros(24), 1e-5).reshape(x.shape)
    np.testing.assert_allclose(N.group_norm(x, ones, zeros, 1, 1e-5), whole, rtol=0, atol=1e-14)


def test_group_norm_refuses_groups_that_do_not_divide_the_channels():
    with pytest.raises(ValueError):
        N.group_norm(np.ones((1, 4, 2, 2)), np.ones(4), np.zeros(4), 3)


@settings(max_examples=30)
@given(group_cases(), st.booleans())
def test_group_norm_vjp_is_the_adjoint_of_central_differences(case, affine):
    x, weight, bias, groups, epsilon = case
    x = x - np.mean(x)  # the differences need no large mean
    rng = np.random.default_rng(6)
    g = rng.normal(size=x.shape)
    grads = N.group_norm_vjp(x, weight, bias, g, groups, epsilon, affine)
    inputs, h = [x, weight, bias], 1e-6
    for i, grad in enumerate(grads):
        v = rng.normal(size=inputs[i].shape)
        plus = [a + h * v if j == i else a for j, a in enumerate(inputs)]
        minus = [a - h * v if j == i else a for j, a in enumerate(inputs)]
        jv = (N.group_norm(*plus, groups, epsilon, affine) - N.group_norm(*minus, groups, epsilon, affine)) / (2 * h)
        lhs, rhs = np.sum(g * jv), np.sum(grad * v)
        assert abs(lhs - rhs) <= 1e-6 * (1 + np.sum(np.abs(g * jv))), (i, lhs, rhs)
    np.testing.assert_array_equal(N.instance_norm_vjp(x, weight, bias, g, epsilon, affine)[0],
                                  N.group_norm_vjp(x, weight, bias, g, x.shape[1], epsilon, affine)[0])
