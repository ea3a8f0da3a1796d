"""RMS normalization and rotary position embeddings, proved against independent oracles.

* **mpmath at 50 digits**: RMSNorm written out row by row, and RoPE as complex multiplication
  z_i·e^{imθ_i} of the pairs read as complex numbers (mpmath's own exp, cos and sin), on the
  exact values of the float64 inputs.
* **numpy complex128**: RoPE once more as a complex product, for every layout and many shapes.
* **Derivatives by mpmath differences** (tests/test_attention_spec.py's ``exact_gradient``),
  so each VJP rests on the forward alone.
* **Properties**: a rotation keeps every pair's norm; ⟨RoPE(q, m), RoPE(k, n)⟩ depends on m − n
  only; the two layouts are the same rotation of permuted coordinates; RMSNorm is scale-free.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_attention_spec import exact_gradient, mpf_array, to_float

from nnspec.spec import encoding as E
from nnspec.spec import normalization as N

EPS = float(np.finfo(np.float64).eps)
SETTINGS = settings(max_examples=25, deadline=None)

pytestmark = pytest.mark.usefixtures("mpmath_50_digits")  # tests/conftest.py


# RMS normalization ----------------------------------------------------------------------------


def exact_rms_norm(x, weight, epsilon, at="inside_sqrt"):
    n = x.shape[-1]
    out = np.empty(x.shape, dtype=object)
    for row in np.ndindex(x.shape[:-1]):
        mean_square = mpmath.fsum(xi * xi for xi in x[row]) / n
        denominator = mpmath.sqrt(mean_square + epsilon) if at == "inside_sqrt" else mpmath.sqrt(mean_square) + epsilon
        out[row] = [xi / denominator * w for xi, w in zip(x[row], weight)]
    return out


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 9), spread=st.sampled_from([1e-300, 1e-3, 1.0, 1e150, 1e300]),
       epsilon=st.sampled_from([1e-6, 1e-12, 0.1]), at=st.sampled_from(["inside_sqrt", "outside_sqrt"]))
def test_rms_norm_matches_mpmath(seed, n, spread, epsilon, at):
    """Within 4 ULPs relatively, from rows whose squares underflow to rows whose squares overflow float64."""
    rng = np.random.default_rng(seed)
    x = spread * rng.uniform(-1, 1, (3, n))
    weight = rng.uniform(-2, 2, n)
    spec = N.rms_norm(x, weight, epsilon, epsilon_at=at)
    exact = to_float(exact_rms_norm(mpf_array(x), mpf_array(weight), mpmath.mpf(epsilon), at))
    assert np.all(np.abs(spec - exact) <= 4 * EPS * np.abs(exact) + 1e-300), np.max(np.abs(spec - exact))


@pytest.mark.parametrize("at", ["inside_sqrt", "outside_sqrt"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rms_norm_vjp_matches_mpmath_differences(seed, at):
    rng = np.random.default_rng(seed)
    x, weight, g = rng.uniform(-3, 3, (2, 5)), rng.uniform(0.5, 2, 5), rng.uniform(-1, 1, (2, 5))
    spec = N.rms_norm_vjp(x, weight, g, 0.1, epsilon_at=at)
    f = lambda *a: exact_rms_norm(*a, mpmath.mpf(0.1), at)  # noqa: E731
    for index in range(2):
        want = to_float(exact_gradient(f, [mpf_array(x), mpf_array(weight)], mpf_array(g), index))
        np.testing.assert_allclose(spec[index], want, rtol=1e-12, atol=1e-12)


def test_rms_norm_epsilon_placement_and_a_zero_row():
    """√(mean(x²) + ε) against √mean(x²) + ε on the 3-4-5 row; a zero row is 0 with slope 1/√ε (1/ε outside)."""
    x, ones = np.array([[3.0, 4.0]]), np.ones(2)
    mean_square = 12.5
    np.testing.assert_allclose(N.rms_norm(x, ones, 0.5), x / np.sqrt(mean_square + 0.5), rtol=1e-15)
    np.testing.assert_allclose(N.rms_norm(x, ones, 0.5, epsilon_at="outside_sqrt"), x / (np.sqrt(mean_square) + 0.5),
                               rtol=1e-15)
    zero = np.zeros((1, 3))
    np.testing.assert_array_equal(N.rms_norm(zero, np.ones(3)), zero)
    d_x, d_weight = N.rms_norm_vjp(zero, np.ones(3), np.ones((1, 3)), 0.25)
    np.testing.assert_allclose(d_x, np.full((1, 3), 2.0), rtol=1e-15)  # 1/√0.25
    np.testing.assert_array_equal(d_weight, np.zeros(3))
    d_x, _ = N.rms_norm_vjp(zero, np.ones(3), np.ones((1, 3)), 0.25, epsilon_at="outside_sqrt")
    np.testing.assert_allclose(d_x, np.full((1, 3), 4.0), rtol=1e-15)  # 1/0.25


def test_rms_norm_is_scale_free_when_epsilon_is_negligible():
    """RMSNorm(c·x) = RMSNorm(x) for c > 0 (Zhang & Sennrich's re-scaling invariance), exactly for c = 2^k."""
    x = np.random.default_rng(5).uniform(-1, 1, (4, 6))
    for c in (2.0**-40, 2.0**40):
        np.testing.assert_array_equal(N.rms_norm(c * x, np.ones(6), 0.0), N.rms_norm(x, np.ones(6), 0.0))


# rotary position embeddings ---------------------------------------------------------------


def complex_rotary(x, positions, base=10000.0, pairs="interleaved"):
    """RoPE in numpy complex128: the pairs as z = a + ib, times e^{imθ_i}, back to the layout."""
    d = x.shape[-1]
    first, second = (x[..., 0::2], x[..., 1::2]) if pairs == "interleaved" else (x[..., : d // 2], x[..., d // 2:])
    theta = base ** (-np.arange(0, d, 2) / d)
    z = (first + 1j * second) * np.exp(1j * positions[:, None, None] * theta)
    out = np.empty_like(x)
    if pairs == "interleaved":
        out[..., 0::2], out[..., 1::2] = z.real, z.imag
    else:
        out[..., : d // 2], out[..., d // 2:] = z.real, z.imag
    return out


def exact_rotary(x, positions, base, pairs):
    """RoPE at 50 digits: pair by pair, (a + ib)·e^{imθ_i} with mpmath's complex exponential."""
    d = x.shape[-1]
    out = np.empty(x.shape, dtype=object)
    for index in np.ndindex(x.shape[:-1]):
        m = positions[index[-2]]
        for i in range(d // 2):
            ja, jb = (2 * i, 2 * i + 1) if pairs == "interleaved" else (i, i + d // 2)
            z = mpmath.mpc(x[index + (ja,)], x[index + (jb,)]) * mpmath.exp(1j * m * mpmath.power(base, -mpmath.mpf(2 * i) / d))
            out[index + (ja,)], out[index + (jb,)] = z.real, z.imag
    return out


def rotary_case(seed, batch, length, heads, d, offset):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (batch, length, heads, d)), offset + np.arange(length, dtype=np.float64)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), length=st.integers(1, 4), d=st.sampled_from([2, 4, 6, 8]),
       offset=st.sampled_from([0.0, 3.0, 1000.0]), base=st.sampled_from([10000.0, 500000.0, 10.0]),
       pairs=st.sampled_from(["interleaved", "half"]))
def test_rotary_matches_mpmath(seed, length, d, offset, base, pairs):
    """Within 2 ULPs of (|a| + |b|) per pair: angle, cosine and sine in extended precision, rounded once."""
    x, positions = rotary_case(seed, 1, length, 2, d, offset)
    spec = E.rotary_embedding(x, positions, base, pairs=pairs)
    exact = to_float(exact_rotary(mpf_array(x), mpf_array(positions), mpmath.mpf(base), pairs))
    first, second = E._rotary_pairs(np.abs(x), pairs)
    size = E._rotary_join(first + second, first + second, pairs)
    assert np.all(np.abs(spec - exact) <= 2 * EPS * size), np.max(np.abs(spec - exact) / (EPS * size))


@pytest.mark.parametrize("pairs", ["interleaved", "half"])
@pytest.mark.parametrize("shape", [(1, 1, 1, 2), (2, 3, 2, 4), (1, 7, 3, 16)])
def test_rotary_is_complex_multiplication(shape, pairs):
    x, positions = rotary_case(sum(shape), *shape, offset=5.0)
    np.testing.assert_allclose(E.rotary_embedding(x, positions, pairs=pairs), complex_rotary(x, positions, pairs=pairs),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("pairs", ["interleaved", "half"])
def test_rotary_vjp_matches_mpmath_differences(pairs):
    x, positions = rotary_case(7, 1, 3, 1, 4, offset=2.0)
    g = np.random.default_rng(8).uniform(-1, 1, x.shape)
    spec = E.rotary_embedding_vjp(x, positions, g, pairs=pairs)
    f = lambda v: exact_rotary(v, mpf_array(positions), mpmath.mpf(10000), pairs)  # noqa: E731
    want = to_float(exact_gradient(f, [mpf_array(x)], mpf_array(g), 0))
    np.testing.assert_allclose(spec, want, rtol=1e-13, atol=1e-13)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), d=st.sampled_from([2, 8, 64]), pairs=st.sampled_from(["interleaved", "half"]))
def test_rotary_keeps_every_pairs_norm_and_its_vjp_undoes_it(seed, d, pairs):
    x, positions = rotary_case(seed, 2, 5, 3, d, offset=100.0)
    y = E.rotary_embedding(x, positions, pairs=pairs)
    norms = lambda v: np.hypot(*E._rotary_pairs(v, pairs))  # noqa: E731
    np.testing.assert_allclose(norms(y), norms(x), rtol=4 * EPS, atol=0)
    np.testing.assert_allclose(E.rotary_embedding_vjp(x, positions, y, pairs=pairs), x, rtol=0, atol=8 * EPS)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(0, 500), n=st.integers(0, 500), shift=st.integers(-100, 100),
       pairs=st.sampled_from(["interleaved", "half"]))
def test_rotary_scores_depend_on_the_relative_position_only(seed, m, n, shift, pairs):
    """⟨RoPE(q, m), RoPE(k, n)⟩ = ⟨RoPE(q, m + s), RoPE(k, n + s)⟩ (RoFormer's defining property)."""
    rng = np.random.default_rng(seed)
    q, k = rng.uniform(-1, 1, (1, 1, 1, 16)), rng.uniform(-1, 1, (1, 1, 1, 16))

    def score(a, b):
        return float(np.sum(E.rotary_embedding(q, np.array([a], float), pairs=pairs)
                            * E.rotary_embedding(k, np.array([b], float), pairs=pairs)))

    shifted = (m + shift, n + shift) if min(m, n) + shift >= 0 else (m - shift, n - shift)
    assert abs(score(m, n) - score(*shifted)) <= 64 * EPS * float(np.sum(np.abs(q)) * np.max(np.abs(k)))


def test_the_layouts_are_one_rotation_of_permuted_coordinates():
    """half(x) = P⁻¹ interleaved(P x), P the permutation taking (x_i, x_{i+d/2}) to (x_{2i}, x_{2i+1})."""
    x, positions = rotary_case(11, 2, 4, 3, 8, offset=0.0)
    to_interleaved = np.stack([np.arange(4), np.arange(4) + 4], axis=-1).ravel()  # 0, 4, 1, 5, 2, 6, 3, 7
    back = np.argsort(to_interleaved)
    np.testing.assert_array_equal(E.rotary_embedding(x, positions, pairs="half"),
                                  E.rotary_embedding(x[..., to_interleaved], positions)[..., back])
    assert not np.allclose(E.rotary_embedding(x, positions, pairs="half"), E.rotary_embedding(x, positions))


def test_rotary_at_position_zero_is_the_identity_and_odd_widths_are_refused():
    x, _ = rotary_case(3, 1, 2, 2, 6, 0.0)
    np.testing.assert_array_equal(E.rotary_embedding(x, np.zeros(2)), x)
    with pytest.raises(ValueError, match="must be even"):
        E.rotary_embedding(np.ones((1, 1, 1, 3)), np.zeros(1))
    with pytest.raises(ValueError, match="pairs"):
        E.rotary_embedding(x, np.zeros(2), pairs="rotate_half")


def test_every_new_op_has_its_vjp_and_the_same_parameters():
    import inspect

    for module, op in ((N, "rms_norm"), (E, "rotary_embedding")):
        forward = inspect.signature(getattr(module, op)).parameters
        backward = inspect.signature(getattr(module, f"{op}_vjp")).parameters
        assert [p for p in backward if p != "cotangent"] == list(forward), op
