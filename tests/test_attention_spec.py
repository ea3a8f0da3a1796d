"""The float64 attention family (attention, encoding, normalization) proved against independent oracles.

No framework appears here, and the oracles share no code with the spec:

* **mpmath at 50 digits**: the textbook formulas written out elementwise (softmax rows,
  head loops, the block's steps) on the exact values of the float64 inputs. Attention's
  spec is held to a few float64 ULPs of the magnitudes its result is computed from,
  Σ_j p_ij|v_j|·(1 + A_i) (the logits are rounded once in float64; see the catalogue);
  the encoding and layer norm to a few ULPs absolutely or relatively as stated below.
* **Derivatives by mpmath differences**: each VJP against the central difference of
  the exact forward's ⟨cotangent, output⟩ at 60 digits with a step of 1e-20, so the
  VJP formulas rest on the forward alone.
* **Literal conventions** from the module docstrings: masked rows (nan, uniform, zeros),
  the boolean mask's meaning, the causal alignments, odd widths and layouts of the
  encoding, dropout refused.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnspec.spec import attention as A
from nnspec.spec import encoding as E
from nnspec.spec import normalization as N

mp = mpmath.mp
EPS = float(np.finfo(np.float64).eps)
SETTINGS = settings(max_examples=25, deadline=None)


pytestmark = pytest.mark.usefixtures("mpmath_50_digits")  # tests/conftest.py


# the textbook in mpmath ---------------------------------------------------------------


def mpf_array(a):
    return np.vectorize(lambda v: mpmath.mpf(float(v)), otypes=[object])(np.asarray(a, dtype=np.float64))


def to_float(a):
    with np.errstate(invalid="ignore"):  # mpmath's nan becomes float nan
        return np.vectorize(lambda v: float(v), otypes=[np.float64])(a)


def exact_attention(q, k, v, allowed, bias=None, scale=None, all_masked="nan"):
    """softmax(scale·q kᵀ + bias) v for one head, q (L, d), k and v (S, d), elementwise at 50 digits."""
    q, k, v = mpf_array(q), mpf_array(k), mpf_array(v)
    queries, keys = q.shape[0], k.shape[0]
    scale = 1 / mpmath.sqrt(q.shape[1]) if scale is None else mpmath.mpf(scale)
    out = np.empty((queries, v.shape[1]), dtype=object)
    weights = np.empty((queries, keys), dtype=object)
    for i in range(queries):
        logits = [scale * mpmath.fsum(q[i] * k[j]) + (mpmath.mpf(float(bias[i, j])) if bias is not None else 0)
                  for j in range(keys)]
        kept = [j for j in range(keys) if allowed[i, j]]
        if not kept:
            fill = {"nan": mpmath.nan, "uniform": mpmath.mpf(1) / keys, "zeros": mpmath.mpf(0)}[all_masked]
            weights[i] = fill
        else:
            top = max(logits[j] for j in kept)
            e = [mpmath.exp(logits[j] - top) if j in kept else mpmath.mpf(0) for j in range(keys)]
            total = mpmath.fsum(e)
            weights[i] = [x / total for x in e]
        for c in range(v.shape[1]):
            out[i, c] = mpmath.fsum(weights[i, j] * v[j, c] for j in range(keys))
    return out, weights


def attention_floor(q, k, v, allowed, bias=None, scale=None):
    """Σ_j p_ij|v_jc|·(1 + A_i): what the float64 result can be held to (float64 arithmetic)."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    a = scale * (np.abs(q) @ np.abs(k).T) + (np.abs(bias) if bias is not None else 0)
    logits = np.where(allowed, scale * (q @ k.T) + (bias if bias is not None else 0), -np.inf)
    with np.errstate(all="ignore"):
        p = np.exp(logits - logits.max(axis=-1, keepdims=True))
        p = np.nan_to_num(p / p.sum(axis=-1, keepdims=True), nan=1.0 / k.shape[0])
    grow = 1 + np.max(np.where(allowed, a, 0), axis=-1, keepdims=True)
    return (p @ np.abs(v)) * grow, p * grow


def assert_close(actual, exact, floor, ulps, what=""):
    """|actual − exact| ≤ ulps·ε·max(|exact|, floor) elementwise; nan only where exact is nan."""
    exact_f = to_float(exact)
    nan = np.isnan(exact_f)
    assert np.array_equal(np.isnan(actual), nan), f"{what}: nan where the exact value is not, or the reverse"
    error = np.abs(np.where(nan, 0, actual) - np.where(nan, 0, exact_f))
    allowed = ulps * EPS * np.maximum(np.abs(np.where(nan, 0, exact_f)), np.where(nan, 0, floor))
    worst = np.max(error / np.maximum(allowed, 1e-300))
    assert np.all(error <= allowed), f"{what}: {worst:.3g} of the bound"


def exact_gradient(f, inputs, cotangent, index, step=mpmath.mpf("1e-20")):
    """⟨cotangent, ∂f/∂inputs[index]⟩ by central differences of the exact forward at 60 digits."""
    with mpmath.workdps(60):
        x = inputs[index]
        gradient = np.empty(x.shape, dtype=object)
        for position in np.ndindex(x.shape):
            values = []
            for sign in (1, -1):
                moved = list(inputs)
                moved[index] = x.copy()
                moved[index][position] = x[position] + sign * step
                values.append(mpmath.fsum((f(*moved) * cotangent).ravel()))
            gradient[position] = (values[0] - values[1]) / (2 * step)
        return gradient


# scaled dot-product attention --------------------------------------------------------------


def sdpa_case(seed, queries, keys, d, logit, masked):
    rng = np.random.default_rng(seed)
    c = np.sqrt(logit)
    q, k = rng.uniform(-c, c, (1, 1, queries, d)), rng.uniform(-c, c, (1, 1, keys, d))
    v = rng.uniform(-1, 1, (1, 1, keys, d))
    mask = rng.random((1, 1, queries, keys)) < 0.6 if masked else np.ones((1, 1, 1, 1), bool)
    return q, k, v, mask


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), queries=st.integers(1, 4), keys=st.integers(1, 5), d=st.integers(1, 4),
       logit=st.sampled_from([1.0, 30.0, 800.0]), masked=st.booleans(), causal=st.booleans(),
       scale=st.sampled_from([None, 0.3]))
def test_attention_matches_mpmath(seed, queries, keys, d, logit, masked, causal, scale):
    """Masks, causal, explicit scale, logits past exp's overflow, rows with every key masked (nan)."""
    q, k, v, mask = sdpa_case(seed, queries, keys, d, logit, masked)
    spec = A.scaled_dot_product_attention(q, k, v, mask, use_mask=masked, scale=scale, causal=causal)
    allowed = np.broadcast_to(mask[0, 0], (queries, keys)) & (
        np.tril(np.ones((queries, keys), bool)) if causal else True)
    exact, _ = exact_attention(q[0, 0], k[0, 0], v[0, 0], allowed, scale=scale)
    floor, _ = attention_floor(q[0, 0], k[0, 0], v[0, 0], allowed, scale=scale)
    assert_close(spec[0, 0], exact, floor, 8, "attention")


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), queries=st.integers(1, 3), keys=st.integers(1, 4))
def test_additive_mask_is_added_to_the_logits(seed, queries, keys):
    q, k, v, _ = sdpa_case(seed, queries, keys, 2, 30.0, False)
    bias = np.random.default_rng(seed).uniform(-16, 16, (1, 1, queries, keys))
    spec = A.scaled_dot_product_attention(q, k, v, bias, use_mask=True)
    allowed = np.ones((queries, keys), bool)
    exact, _ = exact_attention(q[0, 0], k[0, 0], v[0, 0], allowed, bias=bias[0, 0])
    floor, _ = attention_floor(q[0, 0], k[0, 0], v[0, 0], allowed, bias=bias[0, 0])
    assert_close(spec[0, 0], exact, floor, 8, "additive mask")


def sdpa_mp(q, k, v, allowed, scale=None, all_masked="nan"):
    return exact_attention(q, k, v, allowed, scale=scale, all_masked=all_masked)[0]


@pytest.mark.parametrize("variant,all_masked", [({}, None), ({"masked_fill": "-1e9"}, "uniform"),
                                                ({"all_masked": "zeros"}, "zeros")])
@pytest.mark.parametrize("seed", [0, 1])
def test_attention_vjp_matches_mpmath_differences(seed, variant, all_masked):
    """Rows with every key masked (for the variants that keep them finite) included."""
    q, k, v, mask = sdpa_case(seed, 3, 4, 2, 30.0, True)
    mask[0, 0, :, 0] = True
    if all_masked:
        mask[0, 0, 1] = False
    g = np.random.default_rng(seed + 7).uniform(-2, 2, (1, 1, 3, 2))
    spec = A.scaled_dot_product_attention_vjp(q, k, v, mask, g, use_mask=True, **variant)
    inputs = [mpf_array(a[0, 0]) for a in (q, k, v)]
    f = lambda q_, k_, v_: _attention_mp_exact(q_, k_, v_, mask[0, 0], all_masked)  # noqa: E731
    for index in range(3):
        want = to_float(exact_gradient(f, inputs, mpf_array(g[0, 0]), index))
        scale = float(np.max(np.abs(want))) + 1
        assert np.allclose(spec[index][0, 0], want, rtol=0, atol=1e-10 * scale), (index, spec[index], want)


def test_a_nan_row_poisons_the_gradients_it_touches():
    """IEEE arithmetic of the −∞ fill: the row's query gradient and every key and value gradient are nan."""
    q, k, v, mask = sdpa_case(2, 3, 4, 2, 1.0, True)
    mask[0, 0, :, 0] = True
    mask[0, 0, 1] = False
    d_q, d_k, d_v = A.scaled_dot_product_attention_vjp(q, k, v, mask, np.ones((1, 1, 3, 2)), use_mask=True)
    assert np.isnan(d_q[0, 0, 1]).all() and np.isfinite(d_q[0, 0, [0, 2]]).all()
    assert np.isnan(d_k).all() and np.isnan(d_v).all()


def _attention_mp_exact(q, k, v, allowed, all_masked):
    """exact_attention on mpf arrays (the differences move mpf inputs)."""
    queries, keys = q.shape[0], k.shape[0]
    scale = 1 / mpmath.sqrt(q.shape[1])
    out = np.empty((queries, v.shape[1]), dtype=object)
    for i in range(queries):
        logits = [scale * mpmath.fsum(q[i] * k[j]) for j in range(keys)]
        kept = [j for j in range(keys) if allowed[i, j]]
        if not kept:
            p = [mpmath.mpf(1) / keys if all_masked == "uniform" else mpmath.mpf(0)] * keys
        else:
            top = max(logits[j] for j in kept)
            e = [mpmath.exp(logits[j] - top) if j in kept else mpmath.mpf(0) for j in range(keys)]
            p = [x / mpmath.fsum(e) for x in e]
        for c in range(v.shape[1]):
            out[i, c] = mpmath.fsum(p[j] * v[j, c] for j in range(keys))
    return out


def test_all_masked_rows_follow_the_fill():
    """−∞ fill: 0/0 = nan; −1e9 fill: uniform weights (the mean of v); zeros: zero weights."""
    q, k, v, _ = sdpa_case(3, 2, 3, 2, 1.0, False)
    mask = np.array([[True, False, True], [False, False, False]])[None, None]
    textbook = A.scaled_dot_product_attention(q, k, v, mask, use_mask=True)
    assert np.isnan(textbook[0, 0, 1]).all() and np.isfinite(textbook[0, 0, 0]).all()
    uniform = A.scaled_dot_product_attention(q, k, v, mask, use_mask=True, masked_fill="-1e9")
    np.testing.assert_allclose(uniform[0, 0, 1], v[0, 0].mean(axis=0), rtol=1e-15)
    np.testing.assert_array_equal(uniform[0, 0, 0], textbook[0, 0, 0])  # a kept key makes the fill irrelevant
    zeros = A.scaled_dot_product_attention(q, k, v, mask, use_mask=True, all_masked="zeros")
    np.testing.assert_array_equal(zeros[0, 0, 1], 0.0)
    np.testing.assert_array_equal(zeros[0, 0, 0], textbook[0, 0, 0])


def test_mask_meaning_and_causal_alignment():
    q, k, v, mask = sdpa_case(4, 3, 5, 2, 4.0, True)
    flipped = A.scaled_dot_product_attention(q, k, v, mask, use_mask=True, mask_means="masked")
    np.testing.assert_array_equal(flipped, A.scaled_dot_product_attention(q, k, v, ~mask, use_mask=True))
    top_left = A.allowed_keys((3, 5), None, False, True)
    np.testing.assert_array_equal(top_left, [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]])
    bottom_right = A.allowed_keys((3, 5), None, False, True, causal_align="bottom_right")
    np.testing.assert_array_equal(bottom_right, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
    q2, k2, v2, _ = sdpa_case(5, 4, 2, 2, 4.0, False)  # L > S bottom-right: the first queries see no key
    out = A.scaled_dot_product_attention(q2, k2, v2, np.ones((1, 1, 1, 1), bool), causal=True,
                                         causal_align="bottom_right")
    assert np.isnan(out[0, 0, :2]).all() and np.isfinite(out[0, 0, 2:]).all()


def test_dropout_is_refused():
    q, k, v, mask = sdpa_case(0, 1, 1, 1, 1.0, False)
    with pytest.raises(ValueError, match="dropout"):
        A.scaled_dot_product_attention(q, k, v, mask, dropout=0.1)


# grouped-query heads, soft-capping, the cache offset and ALiBi -------------------------------


def paper_slopes(n):
    """ALiBi's slopes as Press et al.'s reference code computes them (get_slopes), at 50 digits."""
    def power_of_2(n):
        start = mpmath.mpf(2) ** (-(mpmath.mpf(2) ** -(mpmath.log(n, 2) - 3)))
        return [start * start**i for i in range(n)]

    if mpmath.log(n, 2) == int(mpmath.log(n, 2)):
        return power_of_2(n)
    closest = 2 ** int(mpmath.floor(mpmath.log(n, 2)))
    return power_of_2(closest) + paper_slopes(2 * closest)[0::2][:n - closest]


def exact_extended(q, k, v, causal=False, offset=0, softcap=None, alibi=False, scale=None):
    """softmax(cap(scale·q·k) − m_h(i + offset − j), j ≤ i + offset when causal) v, every head written out:
    q (H, L, d) mpf, k and v (K, S, d) mpf, query head h reading kv head h // (H/K)."""
    heads, queries, d = q.shape
    kv_heads, keys = k.shape[:2]
    scale = 1 / mpmath.sqrt(d) if scale is None else mpmath.mpf(scale)
    slopes = paper_slopes(heads)
    out = np.empty(q.shape[:2] + (v.shape[-1],), dtype=object)
    for h in range(heads):
        kv = h // (heads // kv_heads)
        for i in range(queries):
            logits = []
            for j in range(keys):
                s = scale * mpmath.fsum(q[h, i] * k[kv, j])
                if softcap:
                    s = softcap * mpmath.tanh(s / softcap)
                if alibi:
                    s = s - slopes[h] * (i + offset - j)
                logits.append(s)
            kept = [j for j in range(keys) if not causal or j <= i + offset]
            if not kept:
                out[h, i] = mpmath.nan
                continue
            top = max(logits[j] for j in kept)
            e = [mpmath.exp(logits[j] - top) if j in kept else mpmath.mpf(0) for j in range(keys)]
            total = mpmath.fsum(e)
            for c in range(v.shape[-1]):
                out[h, i, c] = mpmath.fsum(e[j] / total * v[kv, j, c] for j in range(keys))
    return out


def extended_case(seed, heads, kv_heads, queries, keys, d, logit=4.0):
    rng = np.random.default_rng(seed)
    c = np.sqrt(logit)
    q = rng.uniform(-c, c, (1, heads, queries, d))
    k = rng.uniform(-c, c, (1, kv_heads, keys, d))
    v = rng.uniform(-1, 1, (1, kv_heads, keys, d))
    return q, k, v, np.ones((1, 1, 1, 1), bool)


@pytest.mark.parametrize("heads", [1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 64])
def test_alibi_slopes_are_the_papers(heads):
    np.testing.assert_allclose(A.alibi_slopes(heads), [float(m) for m in paper_slopes(heads)], rtol=2 * EPS)


def test_alibi_slopes_closed_forms():
    """H = 8: 1/2 … 1/256 (the paper's example); H = 6: those of 4, then slopes 1 and 3 of 8."""
    np.testing.assert_array_equal(A.alibi_slopes(8), 2.0 ** -np.arange(1, 9))
    np.testing.assert_array_equal(A.alibi_slopes(6), [2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3])
    bias = A.alibi_bias(2, 2, 3, 0)  # −m_h·(i − j): 0 on the diagonal, positive for later keys
    np.testing.assert_array_equal(bias[0], -(2.0**-4) * np.array([[0, -1, -2], [1, 0, -1]]))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), grouping=st.sampled_from([(1, 1), (2, 1), (4, 2), (6, 3), (4, 4)]),
       queries=st.integers(1, 3), keys=st.integers(1, 4), causal=st.booleans(), offset=st.sampled_from([0, 1, 3]),
       softcap=st.sampled_from([None, 0.5, 5.0]), alibi=st.booleans())
def test_grouped_capped_offset_alibi_attention_matches_mpmath(seed, grouping, queries, keys, causal, offset, softcap,
                                                              alibi):
    heads, kv_heads = grouping
    q, k, v, mask = extended_case(seed, heads, kv_heads, queries, keys, 2)
    spec = A.scaled_dot_product_attention(q, k, v, mask, causal=causal, softcap=softcap, causal_offset=offset,
                                          alibi=alibi)
    exact = exact_extended(mpf_array(q[0]), mpf_array(k[0]), mpf_array(v[0]), causal, offset,
                           softcap and mpmath.mpf(softcap), alibi)
    assert spec.shape == q.shape
    # the logits are below 2 + 3·max slope·(distance) here: 64 ULPs of the values' scale (1) is generous
    assert_close(spec[0], exact, np.ones(spec.shape[1:]), 64, "extended attention")


@pytest.mark.parametrize("softcap,offset,alibi,grouping", [(None, 0, False, (4, 2)), (0.7, 1, True, (4, 2)),
                                                           (2.0, 2, False, (2, 1)), (None, 1, True, (3, 3))])
def test_extended_attention_vjp_matches_mpmath_differences(softcap, offset, alibi, grouping):
    heads, kv_heads = grouping
    q, k, v, mask = extended_case(3, heads, kv_heads, 3, 4, 2)
    g = np.random.default_rng(11).uniform(-2, 2, q.shape)
    params = dict(causal=True, softcap=softcap, causal_offset=offset, alibi=alibi)
    spec = A.scaled_dot_product_attention_vjp(q, k, v, mask, g, **params)
    cap = softcap and mpmath.mpf(softcap)
    f = lambda q_, k_, v_: exact_extended(q_, k_, v_, True, offset, cap, alibi)  # noqa: E731
    inputs = [mpf_array(a[0]) for a in (q, k, v)]
    for index in range(3):
        want = to_float(exact_gradient(f, inputs, mpf_array(g[0]), index))
        assert spec[index].shape == (q, k, v)[index].shape
        scale = float(np.max(np.abs(want))) + 1
        assert np.allclose(spec[index][0], want, rtol=0, atol=1e-10 * scale), (index, spec[index], want)


def test_grouped_query_heads_are_repeat_interleaved_not_tiled():
    """K kv heads serve H/K consecutive query heads each: the same as MHA on np.repeat(kv, H/K, heads), and
    not as on np.tile (which would give query head h the kv head h mod K)."""
    q, k, v, mask = extended_case(5, 4, 2, 3, 4, 3)
    grouped = A.scaled_dot_product_attention(q, k, v, mask)
    repeated = A.scaled_dot_product_attention(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1), mask)
    np.testing.assert_array_equal(grouped, repeated)
    tiled = A.scaled_dot_product_attention(q, np.tile(k, (1, 2, 1, 1)), np.tile(v, (1, 2, 1, 1)), mask)
    assert not np.allclose(grouped[:, 1:3], tiled[:, 1:3])
    with pytest.raises(ValueError, match="multiple"):
        A.scaled_dot_product_attention(q, k[:, :1].repeat(3, axis=1), v[:, :1].repeat(3, axis=1), mask)


def test_the_cache_offset_shifts_the_causal_diagonal_and_bottom_right_is_the_offset_s_minus_l():
    offset_2 = A.allowed_keys((2, 5), None, False, True, causal_offset=2)
    np.testing.assert_array_equal(offset_2, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]])
    for offset in (0, 1, 3):
        np.testing.assert_array_equal(A.allowed_keys((3, 5), None, False, True, causal_align="bottom_right",
                                                     causal_offset=offset),
                                      A.allowed_keys((3, 5), None, False, True, causal_offset=offset + 2))
    q, k, v, mask = extended_case(6, 2, 2, 3, 5, 2)
    np.testing.assert_array_equal(  # with ALiBi too: the queries' positions move with the offset
        A.scaled_dot_product_attention(q, k, v, mask, causal=True, alibi=True, causal_align="bottom_right"),
        A.scaled_dot_product_attention(q, k, v, mask, causal=True, alibi=True, causal_offset=2))
    np.testing.assert_array_equal(  # without causal (and ALiBi) the offset changes nothing
        A.scaled_dot_product_attention(q, k, v, mask, causal_offset=3), A.scaled_dot_product_attention(q, k, v, mask))


def test_softcap_off_is_none_or_zero_and_caps_the_logits():
    q, k, v, mask = extended_case(7, 2, 2, 3, 4, 2, logit=400.0)
    plain = A.scaled_dot_product_attention(q, k, v, mask)
    np.testing.assert_array_equal(A.scaled_dot_product_attention(q, k, v, mask, softcap=0), plain)
    np.testing.assert_allclose(A.scaled_dot_product_attention(q, k, v, mask, softcap=1e8), plain, rtol=1e-9)
    weights, _ = A.attention_weights(q, k, mask, False, None, False, 0.5)
    ratios = weights.max(axis=-1) / weights.min(axis=-1)
    assert np.all(ratios <= np.exp(1.0) * (1 + 1e-12))  # each row's logits within ±0.5: weight ratios ≤ e


# multi-head attention ------------------------------------------------------------------------


def mha_case(seed, queries, keys, features, kv_features, heads, kv_heads=None):
    rng = np.random.default_rng(seed)
    query = rng.uniform(-2, 2, (1, queries, features))
    key, value = rng.uniform(-2, 2, (2, 1, keys, kv_features))
    weights = []
    kv_width = features if kv_heads is None else kv_heads * (features // heads)
    for fan_in, fan_out in ((features, features), (kv_features, kv_width), (kv_features, kv_width),
                            (features, features)):
        weights += [rng.uniform(-1, 1, (fan_in, fan_out)), rng.uniform(-0.5, 0.5, fan_out)]
    mask = rng.random((1, queries, keys)) < 0.7
    mask[:, :, 0] = True
    return [query, key, value, *weights, mask], heads


def exact_mha(query, key, value, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, allowed, heads, kv_heads=None):
    """The textbook, head by head: each head's columns h·d … h·d + d − 1 of each projection; query head h
    reads key/value head h // (H/K), columns of the key/value projections."""
    project = lambda x, w, b: np.array([[mpmath.fsum(x[t] * w[:, c]) + b[c] for c in range(w.shape[1])]  # noqa
                                        for t in range(x.shape[0])], dtype=object)
    q, k, v = project(query, w_q, b_q), project(key, w_k, b_k), project(value, w_v, b_v)
    d = q.shape[1] // heads
    group = heads // (heads if kv_heads is None else kv_heads)
    outs = []
    for h in range(heads):
        cols, kv_cols = slice(h * d, (h + 1) * d), slice(h // group * d, (h // group + 1) * d)
        outs.append(_attention_mp_exact(q[:, cols], k[:, kv_cols], v[:, kv_cols], allowed, "nan"))
    return project(np.concatenate(outs, axis=1), w_o, b_o)


@pytest.mark.parametrize("seed,shape", [(0, (2, 3, 4, 4, 2)), (1, (3, 2, 6, 5, 3)), (2, (1, 1, 2, 2, 1)),
                                        (3, (2, 3, 4, 3, 4, 2)), (4, (2, 2, 6, 5, 3, 1)), (5, (1, 2, 2, 2, 2, 2))])
def test_multi_head_attention_and_its_vjp_match_mpmath(seed, shape):
    """Multi-head, grouped-query (K = 2 of 4 heads) and multi-query (K = 1), and K = H given explicitly."""
    inputs, heads = mha_case(seed, *shape)
    kv_heads = shape[5] if len(shape) > 5 else None
    *arrays, mask = inputs
    spec_out, spec_weights = A.multi_head_attention(*arrays, mask, num_heads=heads, use_mask=True,
                                                    num_kv_heads=kv_heads)
    exact_inputs = [mpf_array(a[0]) if a.ndim == 3 else mpf_array(a) for a in arrays]
    f = lambda *x: exact_mha(*x, mask[0], heads, kv_heads)  # noqa: E731
    exact = f(*exact_inputs)
    np.testing.assert_allclose(spec_out[0], to_float(exact), rtol=1e-12, atol=1e-12)
    assert spec_weights.shape == (1, heads, shape[0], shape[1])
    np.testing.assert_allclose(spec_weights.sum(axis=-1), 1.0, rtol=1e-14)
    g = np.random.default_rng(seed + 9).uniform(-1, 1, spec_out.shape)
    spec = A.multi_head_attention_vjp(*arrays, mask, g, num_heads=heads, use_mask=True, num_kv_heads=kv_heads)
    for index, gradient in enumerate(spec):
        assert gradient.shape == arrays[index].shape
        want = to_float(exact_gradient(f, exact_inputs, mpf_array(g[0]), index))
        got = gradient[0] if gradient.ndim == 3 else gradient
        scale = float(np.max(np.abs(want))) + 1
        assert np.allclose(got, want, rtol=0, atol=1e-9 * scale), (index, got, want)


# layer norm -------------------------------------------------------------------------------------


def exact_layer_norm(x, weight, bias, epsilon, at="inside_sqrt"):
    n = x.shape[-1]
    out = np.empty(x.shape, dtype=object)
    for row in np.ndindex(x.shape[:-1]):
        mean = mpmath.fsum(x[row]) / n
        var = mpmath.fsum((xi - mean) ** 2 for xi in x[row]) / n
        denominator = mpmath.sqrt(var + epsilon) if at == "inside_sqrt" else mpmath.sqrt(var) + epsilon
        out[row] = [(xi - mean) / denominator * w + b for xi, w, b in zip(x[row], weight, bias)]
    return out


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 9), spread=st.sampled_from([1e-300, 1e-3, 1.0, 1e150]),
       offset=st.sampled_from([0.0, 1e3, 1e8]), epsilon=st.sampled_from([1e-5, 1e-12, 0.1]),
       at=st.sampled_from(["inside_sqrt", "outside_sqrt"]))
def test_layer_norm_matches_mpmath(seed, n, spread, offset, epsilon, at):
    """x̂ to a few ULPs of max(|x̂|, 1), even where the mean is 1e8 times the spread, then the affine map."""
    rng = np.random.default_rng(seed)
    x = spread * (offset + rng.uniform(-1, 1, (2, n)))
    weight, bias = rng.uniform(0.5, 2, n), rng.uniform(-1, 1, n)
    spec = N.layer_norm(x, weight, bias, epsilon, epsilon_at=at)
    exact = to_float(exact_layer_norm(mpf_array(x), mpf_array(weight), mpf_array(bias), mpmath.mpf(epsilon), at))
    floor = np.abs(weight) + np.abs(bias)  # x − μ accurate to its own size: the corrected two-pass mean
    np.testing.assert_array_less(np.abs(spec - exact), 8 * EPS * np.maximum(np.abs(exact), floor) + 1e-300)


@pytest.mark.parametrize("at", ["inside_sqrt", "outside_sqrt"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layer_norm_vjp_matches_mpmath_differences(seed, at):
    rng = np.random.default_rng(seed)
    x, weight, bias = rng.uniform(-3, 3, (2, 4)) + 5, rng.uniform(0.5, 2, 4), rng.uniform(-1, 1, 4)
    g = rng.uniform(-1, 1, (2, 4))
    spec = N.layer_norm_vjp(x, weight, bias, g, 0.1, epsilon_at=at)
    f = lambda *a: exact_layer_norm(*a, mpmath.mpf(0.1), at)  # noqa: E731
    for index in range(3):
        want = to_float(exact_gradient(f, [mpf_array(x), mpf_array(weight), mpf_array(bias)], mpf_array(g), index))
        np.testing.assert_allclose(spec[index], want, rtol=1e-12, atol=1e-12)


def test_layer_norm_of_a_constant_row_is_its_bias():
    x = np.full((1, 5), 1e8 + 0.5)
    np.testing.assert_array_equal(N.layer_norm(x, np.ones(5), np.arange(5.0)), np.arange(5.0)[None])


# sinusoidal positional encoding ----------------------------------------------------------------


def exact_encoding(positions, d, base):
    out = np.empty(positions.shape + (d,), dtype=object)
    for index in np.ndindex(positions.shape):
        for j in range(d):
            angle = positions[index] / mpmath.power(base, mpmath.mpf(2 * (j // 2)) / d)
            out[index + (j,)] = mpmath.sin(angle) if j % 2 == 0 else mpmath.cos(angle)
    return out


@SETTINGS
@given(positions=st.lists(st.floats(0, 512), min_size=1, max_size=6), d=st.integers(1, 17),
       base=st.sampled_from([10000.0, 100.0]))
def test_encoding_matches_mpmath(positions, d, base):
    """Within 2 ULPs of 1, absolutely: the angle is formed and its sine taken in extended precision."""
    positions = np.array(positions)
    spec = E.sinusoidal_positional_encoding(positions, d, base)
    exact = to_float(exact_encoding(mpf_array(positions), d, mpmath.mpf(base)))
    np.testing.assert_array_less(np.abs(spec - exact), 2 * EPS)


@pytest.mark.parametrize("d", [1, 4, 7])
def test_encoding_vjp_matches_mpmath_differences(d):
    positions, g = np.array([0.0, 1.5, 300.25]), np.random.default_rng(d).uniform(-1, 1, (3, d))
    spec = E.sinusoidal_positional_encoding_vjp(positions, g, d)
    want = exact_gradient(lambda p: exact_encoding(p, d, mpmath.mpf(10000)), [mpf_array(positions)], mpf_array(g), 0)
    np.testing.assert_allclose(spec, to_float(want), rtol=1e-13, atol=1e-13)


def test_encoding_layouts_and_odd_widths():
    """Odd d ends with a sine; concatenated = the same columns, sines first."""
    pe = E.sinusoidal_positional_encoding(np.array([0.0, 2.0]), 5)
    np.testing.assert_array_equal(pe[0], [0, 1, 0, 1, 0])
    np.testing.assert_allclose(pe[1, 4], np.sin(2.0 / 10000 ** 0.8), rtol=1e-15)
    concatenated = E.sinusoidal_positional_encoding(np.array([0.0, 2.0]), 5, layout="concatenated")
    np.testing.assert_array_equal(concatenated, pe[:, [0, 2, 4, 1, 3]])


# the transformer block -------------------------------------------------------------------------


def block_case(seed, length=2, features=2, hidden=3, heads=1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (1, length, features))
    weights = []
    for shape in [(features, features), (features,)] * 4:
        weights.append(rng.uniform(-1, 1, shape))
    norm1 = [rng.uniform(0.5, 1.5, features), rng.uniform(-0.5, 0.5, features)]
    ffn = [rng.uniform(-1, 1, (features, hidden)), rng.uniform(-0.5, 0.5, hidden),
           rng.uniform(-1, 1, (hidden, features)), rng.uniform(-0.5, 0.5, features)]
    norm2 = [rng.uniform(0.5, 1.5, features), rng.uniform(-0.5, 0.5, features)]
    mask = np.ones((1, length, length), bool)
    mask[0, 0, -1] = False
    return [x, *weights, *norm1, *ffn, *norm2], mask, heads


def exact_block(x, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, g1, c1, w_1, b_1, w_2, b_2, g2, c2, allowed, heads,
                norm_first, epsilon):
    mha = lambda a: exact_mha(a, a, a, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, allowed, heads)  # noqa: E731
    relu = np.vectorize(lambda t: t if t > 0 else mpmath.mpf(0), otypes=[object])
    dense = lambda h, w, b: np.array([[mpmath.fsum(h[t] * w[:, c]) + b[c] for c in range(w.shape[1])]  # noqa: E731
                                      for t in range(h.shape[0])], dtype=object)
    ffn = lambda h: dense(relu(dense(h, w_1, b_1)), w_2, b_2)  # noqa: E731
    norm = lambda h, g, c: exact_layer_norm(h, g, c, epsilon)  # noqa: E731
    if norm_first:
        h = x + mha(norm(x, g1, c1))
        return h + ffn(norm(h, g2, c2))
    h = norm(x + mha(x), g1, c1)
    return norm(h + ffn(h), g2, c2)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_transformer_block_and_its_vjp_match_mpmath(seed, norm_first):
    arrays, mask, heads = block_case(seed, heads=1 + seed)
    if seed == 1:
        arrays, mask, heads = block_case(seed, length=3, features=4, hidden=2, heads=2)
    params = dict(num_heads=heads, use_mask=True, norm_first=norm_first, epsilon=1e-3)
    spec = A.transformer_block(*arrays, mask, **params)
    exact_inputs = [mpf_array(a[0]) if a.ndim == 3 else mpf_array(a) for a in arrays]
    f = lambda *a: exact_block(*a, mask[0], heads, norm_first, mpmath.mpf(1e-3))  # noqa: E731
    np.testing.assert_allclose(spec[0], to_float(f(*exact_inputs)), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(seed + 5).uniform(-1, 1, spec.shape)
    gradients = A.transformer_block_vjp(*arrays, mask, g, **params)
    assert len(gradients) == len(arrays)
    for index, gradient in enumerate(gradients):
        want = to_float(exact_gradient(f, exact_inputs, mpf_array(g[0]), index))
        got = gradient[0] if gradient.ndim == 3 else gradient
        scale = float(np.max(np.abs(want))) + 1
        assert np.allclose(got, want, rtol=0, atol=1e-9 * scale), (index, got, want)


def test_the_block_is_built_from_the_family_s_own_steps():
    """Post-norm: LN₂(h + FFN(h)), h = LN₁(x + MHA(x)); pre-norm: h + FFN(LN₂(h)), h = x + MHA(LN₁(x))."""
    arrays, mask, heads = block_case(3, length=3, features=4, hidden=5, heads=2)
    x, attention, (g1, c1), ffn, (g2, c2) = arrays[0], arrays[1:9], arrays[9:11], arrays[11:15], arrays[15:17]

    def feed_forward(h):
        return np.maximum(h @ ffn[0] + ffn[1], 0) @ ffn[2] + ffn[3]

    def mha(a):
        return A.multi_head_attention(a, a, a, *attention, mask, num_heads=heads, use_mask=True)[0]

    h = N.layer_norm(x + mha(x), g1, c1, 1e-5)
    post = N.layer_norm(h + feed_forward(h), g2, c2, 1e-5)
    np.testing.assert_allclose(A.transformer_block(*arrays, mask, num_heads=heads, use_mask=True), post, rtol=1e-14)
    h = x + mha(N.layer_norm(x, g1, c1, 1e-5))
    pre = h + feed_forward(N.layer_norm(h, g2, c2, 1e-5))
    np.testing.assert_allclose(A.transformer_block(*arrays, mask, num_heads=heads, use_mask=True, norm_first=True), pre,
                               rtol=1e-14)


def test_every_spec_op_has_its_vjp_and_the_same_parameters():
    for module, ops in ((A, ["scaled_dot_product_attention", "multi_head_attention", "transformer_block"]),
                        (E, ["sinusoidal_positional_encoding"]), (N, ["layer_norm"])):
        for op in ops:
            import inspect

            forward = inspect.signature(getattr(module, op)).parameters
            backward = inspect.signature(getattr(module, f"{op}_vjp")).parameters
            assert [p for p in backward if p != "cotangent"] == list(forward), op

