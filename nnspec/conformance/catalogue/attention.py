"""Catalogue rows of the attention family: attention, positional encoding, layer norm, the transformer block.

Error bounds. Attention is judged the way its rounding errors propagate, not in ULPs of
each output alone: a logit s_ij = scale·q_i·k_j (+ bias) computed in a dtype is off by
a few ULPs of a_ij = scale·Σ|q_i||k_j| + |bias_ij|, and the softmax turns an absolute
logit error δ into a relative weight error δ, so an output o_i = Σ_j p_ij v_j is known
to ε·Σ_j p_ij|v_j|·(1 + A_i), A_i = max_j a_ij. These magnitudes are the floors below
(errors count in ULPs of max(|spec|, floor)); they grow with the logits, which is why a
softmax of logits in the hundreds is only as accurate as the logits themselves. The
gradients' floors follow the VJP's own products with every term taken in magnitude.
Under a variant (a mask read the other way, another causal alignment) the floors are
that variant's own magnitudes.
"""

from __future__ import annotations

import functools
from collections import OrderedDict

import numpy as np
from hypothesis import strategies as st

from ...spec import attention as A
from ...spec import encoding as E
from ...spec import normalization as N
from .. import strategies as S
from . import OpEntry, Tolerance

# drawing ------------------------------------------------------------------------------

# Dropout off, as the integer 0: a switch every framework accepts, and one that JAX keeps
# static (a float would be traced, and flax's attention tests `dropout_rate > 0` in Python).
NO_DROPOUT = 0
SMALL = 48  # arrays up to this size are drawn element by element (they shrink to readable values)

# Logit magnitudes drawn: ordinary, large, and past where e^{logit} overflows the dtype
# (a softmax without max subtraction would return inf/nan there).
LOGITS = {"float64": (1.0, 16.0, 800.0), "float32": (1.0, 16.0, 120.0), "bfloat16": (1.0, 16.0, 120.0),
          "float16": (1.0, 4.0, 16.0)}


# u's elements when every one is drawn: uniform in [-1, 1], an eighth of them the exact 0, ±½, ±1 (the values
# hypothesis' floats(-1, 1) favours); one byte-string choice per array (strategies.mixed_arrays), so drawing stays
# cheap and the elements still shrink one by one towards 0.
UNIT = S.Mix(((0.875, S.Uniform(-1.0, 1.0)), (0.125, S.Values((0.0, -0.0, 0.5, -0.5, 1.0, -1.0)))))


def dense(draw, dtype, shape, scale=1.0, offset=0.0):
    """offset + scale·u, u uniform in [-1, 1], rounded to dtype: element by element when small, else from a seed."""
    if int(np.prod(shape)) <= SMALL:
        u = draw(S.mixed_arrays(UNIT, tuple(shape), "float64"))  # every one drawn
    else:
        u = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).uniform(-1, 1, shape)
    return (offset + scale * u).astype(S.np_dtype(dtype))


def booleans(draw, shape, density):
    """A boolean array, True with probability ``density`` (element by element when small)."""
    if int(np.prod(shape)) <= SMALL:  # a byte per element, its low bit (all-zero bytes: all False)
        size = int(np.prod(shape))
        return (np.frombuffer(draw(st.binary(min_size=size, max_size=size)), np.uint8) & 1).astype(bool).reshape(shape)
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random(shape) < density


def attention_mask(draw, dtype, kind, shape):
    """A mask of ``shape`` (broadcastable to (B, H, L, S)): "boolean" (random, some rows with every key
    masked), "padding" (shape (B, 1, 1, S): batch b attends its first n_b keys; n_b = 0 masks every
    row), "additive" (a bias on the logits, partly −1e4 "soft" masking) or "none" (one True)."""
    if kind == "none":
        return np.ones(shape, bool)
    if kind == "padding":
        length = st.one_of(st.sampled_from([0, shape[-1]]), st.integers(0, shape[-1]))  # none, all, some
        lengths = np.array(draw(st.lists(length, min_size=shape[0], max_size=shape[0])))
        return (np.arange(shape[-1]) < lengths[:, None]).reshape(shape)
    if kind == "additive":
        bias = dense(draw, dtype, shape, draw(st.sampled_from([1.0, 16.0])))
        soft = booleans(draw, shape, 0.3) & draw(st.booleans())
        return np.where(soft, -1e4, bias).astype(bias.dtype)
    mask = booleans(draw, shape, draw(st.sampled_from([0.5, 0.9])))
    if draw(st.booleans()):
        mask[booleans(draw, shape[:-1], 0.3)] = False  # rows with every key masked
    return mask


def explicit_scale(dtype):
    return st.floats(0.05, 2.0).map(lambda v: S.in_dtype(v, dtype))


def epsilons(dtype, common=(1e-5, 1e-6, 1e-3, 0.1)):
    return st.sampled_from(common).map(lambda v: S.in_dtype(v, dtype))


# Each op draws from a short menu of scenarios (shapes with their static parameters): a
# compiling framework (jax.jit) compiles once per scenario and dtype, not once per example.
# Values, masks' contents, scales and epsilons vary freely within a scenario. The first,
# which hypothesis tries first and shrinks towards, has a mask whose simplest draw masks
# every key: each run sees a row with every key masked.

# (B, H, L, S, d), mask kind and its shape's leading dims, causal, explicit scale
SDPA_SCENARIOS = [
    ((1, 1, 1, 1, 1), "boolean", False, False),
    ((1, 1, 3, 5, 4), "boolean", True, False),  # L < S: the causal alignment shows
    ((2, 2, 5, 3, 3), "padding", False, True),
    ((2, 16, 2, 3, 6), "additive", True, True),
    ((1, 4, 8, 8, 8), "none", False, False),
    ((1, 1, 256, 192, 32), "padding", True, False),
]

# Grouped-query, soft-capping, key/value-cache offsets and ALiBi, drawn beside the scenarios above
# (a framework lacking one declines those examples and is measured on the rest). The key/value
# heads K of each scenario: H, or a divisor of H drawn from GQA_HEADS (K = 1: multi-query).
GQA_HEADS = {16: (16, 4, 1), 4: (4, 2, 1), 2: (2, 1)}
OFFSETS = (0, 1, 2)  # the keys a decoder's cache holds before the queries (0: no cache)
SOFTCAPS = (None, None, 0.5, 20.0)  # off mostly; a cap below, and one within, the logits drawn


def attention_extras(draw, dtype, heads):
    """The key/value heads and the spec parameters softcap, causal_offset, alibi of one example."""
    kv_heads = draw(st.sampled_from(GQA_HEADS.get(heads, (heads,))))
    softcap = draw(st.sampled_from(SOFTCAPS))
    offset = draw(st.sampled_from(OFFSETS))
    alibi = draw(st.sampled_from([False, False, True]))  # mostly off: the frameworks decline it
    return kv_heads, {"softcap": None if softcap is None else S.in_dtype(softcap, dtype), "causal_offset": offset,
                      "alibi": alibi}


@st.composite
def sdpa_examples(draw, dtype, params):
    (b, h, l, s, d), kind, causal, scaled = draw(st.sampled_from(SDPA_SCENARIOS))
    kv_heads, extras = attention_extras(draw, dtype, h)
    c = np.sqrt(draw(st.sampled_from(LOGITS[dtype])))
    q, k = dense(draw, dtype, (b, h, l, d), c), dense(draw, dtype, (b, kv_heads, s, d), c)
    # values and cotangents off zero even when shrunk: a row with every key masked then tells uniform from zeros
    v_scale = draw(st.sampled_from([1.0, 100.0]))
    v = dense(draw, dtype, (b, kv_heads, s, d), v_scale, offset=v_scale / 2)
    shape = {"none": (1, 1, 1, 1), "padding": (b, 1, 1, s)}.get(kind, (b, h, l, s) if h > 2 else (1, 1, l, s))
    mask = attention_mask(draw, dtype, kind, shape)
    drawn = {"use_mask": kind != "none", "scale": draw(explicit_scale(dtype)) if scaled else None, "causal": causal,
             "dropout": NO_DROPOUT, **extras}
    return S.Example([q, k, v, mask], dense(draw, dtype, (b, h, l, d), offset=0.5), drawn)


# (B, L, S, E, E_kv, H), self-attention, mask kind, causal
MHA_SCENARIOS = [
    ((1, 1, 1, 1, 1, 1), True, "padding", False),
    ((2, 3, 5, 4, 4, 2), False, "padding", False),  # torch: packed in_proj
    ((2, 5, 3, 12, 7, 4), False, "boolean", True),  # torch: separate q/k/v projections
    ((1, 7, 7, 48, 48, 16), True, "none", True),
    ((1, 128, 96, 64, 32, 8), False, "boolean", False),
]
MHA_KV_HEADS = {2: (1,), 4: (2, 1), 16: (4,), 8: (2,)}  # num_heads -> the num_kv_heads drawn besides None


def projections(draw, dtype, pairs):
    """Weights (E_in, E_out) at Glorot scale √(3/E_in) and biases in [−0.25, 0.75], for each (E_in, E_out)."""
    weights = []
    for fan_in, fan_out in pairs:
        weights += [dense(draw, dtype, (fan_in, fan_out), np.sqrt(3 / fan_in)),
                    dense(draw, dtype, (fan_out,), 0.5, offset=0.25)]  # off zero even when shrunk
    return weights


@st.composite
def mha_examples(draw, dtype, params):
    (b, l, s, e, e_kv, h), self_attention, kind, causal = draw(st.sampled_from(MHA_SCENARIOS))
    # None (multi-head), or a divisor of H: grouped-query (key/value projections of K·d columns), 1: multi-query
    kv_heads = draw(st.sampled_from([None, None, *MHA_KV_HEADS.get(h, ())]))
    kv_features = e if kv_heads is None else kv_heads * (e // h)
    c = np.sqrt(draw(st.sampled_from(LOGITS[dtype])))
    query = dense(draw, dtype, (b, l, e), c)
    if self_attention:  # one sequence is query, key and value
        key = value = query
    else:
        key, value = dense(draw, dtype, (b, s, e_kv), c), dense(draw, dtype, (b, s, e_kv), c)
    weights = projections(draw, dtype, [(e, e), (e_kv, kv_features), (e_kv, kv_features), (e, e)])
    shape = {"none": (1, 1, 1, 1), "padding": (b, 1, 1, s)}.get(kind, (b, 1, l, s))
    mask = attention_mask(draw, dtype, kind, shape)[:, 0]
    drawn = {"num_heads": h, "use_mask": kind != "none", "causal": causal, "bias": True, "dropout": NO_DROPOUT,
             "num_kv_heads": kv_heads}
    cotangent = dense(draw, dtype, (b, l, e), offset=0.5)
    return S.Example([query, key.copy(), value.copy(), *weights, mask], cotangent, drawn)


# (B, L, E, H, F), mask, norm_first (E = 1 would normalize every row to 0)
BLOCK_SCENARIOS = [
    ((1, 1, 2, 1, 1), False, False),
    ((2, 3, 4, 2, 5), True, True),
    ((1, 64, 24, 4, 40), True, False),
]


@st.composite
def block_examples(draw, dtype, params):
    (b, l, e, h, f), masked, norm_first = draw(st.sampled_from(BLOCK_SCENARIOS))
    x = dense(draw, dtype, (b, l, e), draw(st.sampled_from([1.0, 8.0])))
    attention = projections(draw, dtype, [(e, e)] * 4)
    norm1 = [dense(draw, dtype, (e,), 0.5, offset=1.0), dense(draw, dtype, (e,), 0.5)]
    ffn = projections(draw, dtype, [(e, f), (f, e)])
    norm2 = [dense(draw, dtype, (e,), 0.5, offset=1.0), dense(draw, dtype, (e,), 0.5)]
    # every query attends at least itself: the block is about the block, masked rows are attention's business
    mask = booleans(draw, (b, l, l), 0.7) | np.eye(l, dtype=bool) if masked else np.ones((1, 1, 1), bool)
    drawn = {"num_heads": h, "use_mask": masked, "norm_first": norm_first,
             "epsilon": draw(epsilons(dtype, (1e-5, 1e-6, 1e-3))), "dropout": NO_DROPOUT}
    return S.Example([x, *attention, *norm1, *ffn, *norm2, mask], dense(draw, dtype, (b, l, e)), drawn)


LN_SHAPES = [(1,), (3,), (2, 5), (2, 3, 7), (8, 256)]
LN_SCALES = {"float16": (1e-2, 1.0, 10.0), "bfloat16": (1e-3, 1.0, 1e3), "float32": (1e-3, 1.0, 1e3),
             "float64": (1e-3, 1.0, 1e6)}


@st.composite
def layer_norm_examples(draw, dtype, params):
    shape = draw(st.sampled_from(LN_SHAPES))
    scale = draw(st.sampled_from(LN_SCALES[dtype]))
    offset = scale * draw(st.sampled_from([0.0, 10.0, 1000.0]))  # a mean far from 0 beside the spread: x − μ cancels
    x = dense(draw, dtype, shape, scale, offset)
    weight, bias = dense(draw, dtype, shape[-1:], 1.0, offset=1.0), dense(draw, dtype, shape[-1:], 1.0)
    drawn = {"epsilon": draw(epsilons(dtype)), "affine": True}
    return S.Example([x, weight, bias], dense(draw, dtype, shape), drawn)


ENCODING_SCENARIOS = [(1, 1), (3, 7), (16, 8), (100, 33), (256, 128)]  # (positions, d_model)


@st.composite
def encoding_examples(draw, dtype, params):
    n, d = draw(st.sampled_from(ENCODING_SCENARIOS))
    if draw(st.booleans()):
        positions = np.arange(n, dtype=np.float64).astype(S.np_dtype(dtype))  # token positions 0 … n−1
    else:
        positions = dense(draw, dtype, (n,), 128.0, offset=128.0)  # continuous positions (time steps) in [0, 256]
    drawn = {"d_model": d, "base": draw(st.sampled_from([10000.0, 100.0]))}
    return S.Example([positions], dense(draw, dtype, (n, d)), drawn)


# floors: the magnitudes each output is computed from ----------------------------------

def per_example(floors):
    """Remembers ``floors(example, gradient)`` for the examples judged last (up to 64 MB of them).

    Variant matching judges every example seen once per variant combination; the floors
    depend on the inputs and the parameters, the variant's included."""
    kept, size = OrderedDict(), [0]

    @functools.wraps(floors)
    def remembered(example, gradient):
        key = (id(example.inputs), gradient, tuple(sorted(example.params.items())))
        if key in kept and kept[key][0] is example.inputs and kept[key][1] is example.cotangent:
            kept.move_to_end(key)
            return kept[key][2]
        value = floors(example, gradient)
        kept[key] = (example.inputs, example.cotangent, value)
        size[0] += _bytes(value)
        while size[0] > 64 * 2**20 and len(kept) > 1:
            size[0] -= _bytes(kept.popitem(last=False)[1][2])
        return value

    return remembered


def _bytes(value):
    return sum(np.asarray(v).nbytes for v in value) if isinstance(value, tuple) else np.asarray(value).nbytes


def _variant(example):
    """The mask variants the example is judged under (keyword-only spec parameters)."""
    p = example.params
    return {"mask_means": p.get("mask_means", "attend"), "causal_align": p.get("causal_align", "top_left")}


def _extras(example):
    """The sdpa parameters beside the mask (soft cap, cache offset, ALiBi) at the example's values."""
    p = example.params
    return {"softcap": p.get("softcap"), "causal_offset": p.get("causal_offset", 0), "alibi": p.get("alibi", False)}


def _f64(*arrays):
    """Float inputs in float64 (bfloat16 included, whose numpy kind is "V"); masks as they are."""
    return [a if a.dtype.kind in "iub" else a.astype(np.float64) for a in map(np.asarray, arrays)]


def _weights_and_growth(q, k, mask, use_mask, scale, causal, variant, reach, extras=None):
    """The weights (uniform in rows with every key masked, whatever a variant returns there), the
    allowed keys, and the growth 1 + A_i·reach, A_i = max over allowed j of scale·Σ|q_i||k_j| + |bias_ij|:
    the logits are rounded to about reach = √(length of the sums that form them) ULPs of A_i. A soft
    cap's derivative is at most 1 (its rounding is within A_i's); ALiBi's bias counts as a bias."""
    extras = extras or {}
    weights, allowed = A.attention_weights(q, k, mask, use_mask, scale, causal, **extras, masked_fill="-1e9",
                                           **variant)
    scale = A.default_scale(q) if scale is None else scale
    k = A.repeat_kv(k, q.shape[-3])
    a = scale * (np.abs(q) @ np.swapaxes(np.abs(k), -1, -2))
    if use_mask and mask.dtype != bool:
        a = a + np.abs(mask)
    if extras.get("alibi"):
        queries, keys = a.shape[-2:]
        offset = A.query_offset(queries, keys, extras["causal_offset"], variant.get("causal_align", "top_left"))
        a = a + np.abs(A.alibi_bias(q.shape[-3], queries, keys, offset))
    return weights, allowed, 1 + reach * np.max(np.where(allowed, a, 0), axis=-1, keepdims=True), scale


def _attention_magnitudes(qa, ka, va, weights, allowed, grow, scale, ga=None):
    """Floors of o = PV and, given |G|, of dQ, dK, dV: the VJP's products taken in magnitude, × growth
    (grouped-query: key/value magnitudes repeated to the query's heads, dK and dV summed back)."""
    kv_heads = ka.shape[-3]
    ka, va = A.repeat_kv(ka, qa.shape[-3]), A.repeat_kv(va, qa.shape[-3])
    out = (weights @ va) * grow
    if ga is None:
        return out
    d_value = A.sum_groups(np.swapaxes(weights, -1, -2) @ (ga * grow), kv_heads)
    spread = ga @ np.swapaxes(va, -1, -2) + np.sum(ga * (weights @ va), axis=-1, keepdims=True)
    u = np.where(allowed, weights * spread * grow, 0)
    return out, scale * (u @ ka), A.sum_groups(scale * (np.swapaxes(u, -1, -2) @ qa), kv_heads), d_value


@per_example
def _sdpa_floors(example, gradient):
    q, k, v, mask = _f64(*example.inputs)
    p = example.params
    w, allowed, grow, scale = _weights_and_growth(q, k, mask, p["use_mask"], p["scale"], p["causal"], _variant(example),
                                                  np.sqrt(q.shape[-1]), _extras(example))
    ga = np.abs(example.cotangent.astype(np.float64)) if gradient else None
    magnitudes = _attention_magnitudes(np.abs(q), np.abs(k), np.abs(v), w, allowed, grow, scale, ga)
    return magnitudes[1:] if gradient else magnitudes


@per_example
def _mha_floors(example, gradient):
    query, key, value, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, mask = _f64(*example.inputs)
    p = example.params
    heads = p["num_heads"]
    kv_heads = A.kv_heads_of(heads, p.get("num_kv_heads"))
    split = lambda x: A._split_heads(x, heads)  # noqa: E731
    split_kv = lambda x: A._split_heads(x, kv_heads)  # noqa: E731
    q, k = split(query @ w_q + b_q), split_kv(key @ w_k + b_k)
    qa, ka = split(np.abs(query) @ np.abs(w_q) + np.abs(b_q)), split_kv(np.abs(key) @ np.abs(w_k) + np.abs(b_k))
    va = split_kv(np.abs(value) @ np.abs(w_v) + np.abs(b_v))
    head_mask = mask[:, None]
    reach = 2 * np.sqrt(query.shape[-1]) + np.sqrt(q.shape[-1])  # the projections' sums, then the heads' dot products
    w, allowed, grow, scale = _weights_and_growth(q, k, head_mask, p["use_mask"], None, p["causal"], _variant(example),
                                                  reach)
    out_a = A._merge_heads(_attention_magnitudes(qa, ka, va, w, allowed, grow, scale))
    if not gradient:
        return out_a @ np.abs(w_o) + np.abs(b_o), w * grow
    ga = np.abs(example.cotangent.astype(np.float64))
    d_heads = split(ga @ np.abs(w_o).T)
    _, dq, dk, dv = (A._merge_heads(m) for m in _attention_magnitudes(qa, ka, va, w, allowed, grow, scale, d_heads))
    grads = []
    for x, weight, d in ((query, w_q, dq), (key, w_k, dk), (value, w_v, dv)):
        d_w, d_b = A._sum_rows(np.abs(x), d)
        grads.append((d @ np.abs(weight).T, d_w, d_b))
    (dxq, dwq, dbq), (dxk, dwk, dbk), (dxv, dwv, dbv) = grads
    d_w_o, d_b_o = A._sum_rows(out_a, ga)
    return dxq, dxk, dxv, dwq, dbq, dwk, dbk, dwv, dbv, d_w_o, d_b_o


def _layer_norm_parts(example):
    x, weight, bias = _f64(*example.inputs)
    epsilon = example.params["epsilon"]
    x_hat, inverse, _ = N.normalize(x, epsilon)
    # x − μ rounded in the dtype is off by ε(|x| + |μ|): relative to the denominator, κ per row
    kappa = (np.max(np.abs(x), axis=-1, keepdims=True) + np.abs(np.mean(x, axis=-1, keepdims=True))) * inverse
    return x, weight, bias, x_hat, inverse, 1 + kappa


def _layer_norm_floor(example):
    _, weight, bias, _, _, grow = _layer_norm_parts(example)
    return grow * np.abs(weight) + np.abs(bias)


def _layer_norm_gradient_floor(example):
    x, weight, _, x_hat, inverse, grow = _layer_norm_parts(example)
    g = np.abs(example.cotangent.astype(np.float64))
    d_hat = g * np.abs(weight)
    spread = np.mean(d_hat * (1 + np.abs(x_hat)), axis=-1, keepdims=True)
    d_x = inverse * (d_hat + (1 + np.abs(x_hat)) * spread) * grow
    rows = (-1, x.shape[-1])
    return d_x, np.sum((g * grow).reshape(rows), axis=0), np.sum(g.reshape(rows), axis=0)


def _encoding_angles(example):
    positions = np.abs(example.inputs[0].astype(np.float64))
    d, base = example.params["d_model"], example.params["base"]
    denominators = np.power(base, 2 * (np.arange(d) // 2) / d)
    return positions[..., None] / denominators, denominators


def _encoding_floor(example):
    """1 + |angle|: sin and cos are accurate to absolute error, and the angle pos/base^{2i/d} to ε|angle|."""
    return 1 + _encoding_angles(example)[0]


def _encoding_gradient_floor(example):
    angles, denominators = _encoding_angles(example)
    g = np.abs(example.cotangent.astype(np.float64))
    return np.sum(g * (1 + angles) / denominators, axis=-1)


@per_example
def _block_floors(example, gradient):
    """Normwise: the largest magnitude of the spec's output (or of any of its gradients), × the
    attention's growth: a block composes too many steps for elementwise bounds, and its gradients
    include exact zeros (b_k's always: the softmax ignores the shift q·b_k common to a row)."""
    inputs, params = example.inputs, example.params
    x, w_q, b_q, w_k, b_k, ln1_weight, ln1_bias = _f64(*inputs[:5], *inputs[9:11])
    a = N.layer_norm(x, ln1_weight, ln1_bias, params["epsilon"]) if params["norm_first"] else x
    split = lambda t: A._split_heads(t, params["num_heads"])  # noqa: E731
    qa, ka = split(np.abs(a) @ np.abs(w_q) + np.abs(b_q)), split(np.abs(a) @ np.abs(w_k) + np.abs(b_k))
    logits = A.default_scale(qa) * (qa @ np.swapaxes(ka, -1, -2))
    grow = 1 + (2 * np.sqrt(x.shape[-1]) + np.sqrt(qa.shape[-1])) * float(np.max(logits))
    if gradient:
        reference = A.transformer_block_vjp(*inputs, example.cotangent, **params)
        return grow * max(float(np.max(np.abs(r), initial=0.0)) for r in reference)
    return grow * float(np.max(np.abs(A.transformer_block(*inputs, **params))))


# tolerances ------------------------------------------------------------------------------

ATTENTION = Tolerance(
    16, "logits, a softmax and a weighted sum, each rounded: in ULPs of Σ_j p_ij|v_j|·(1 + A_i)",
    floor=lambda example: _sdpa_floors(example, gradient=False),
)
ATTENTION_BACKWARD = Tolerance(32, "the attention VJP's products and row sums: in ULPs of their magnitudes")
PROJECTED = Tolerance(
    16, "projections, attention and the output projection, each rounded: in ULPs of the magnitudes they sum",
    floor=lambda example: _mha_floors(example, gradient=False),
)
NORMALIZED = Tolerance(
    8, "mean, variance, a root and the affine map: in ULPs of (1 + κ)|γ| + |β|, κ = (max|x| + |μ|)/√(σ²+ε)",
    floor=_layer_norm_floor,
)
NORMALIZED_BACKWARD = Tolerance(16, "two row means and a product per element: in ULPs of their magnitudes")
SINUSOID = Tolerance(8, "a power, a division and sin/cos: in ULPs of 1 + |angle| (the angle's rounding)",
                     floor=_encoding_floor)
SINUSOID_BACKWARD = Tolerance(16, "the derivative summed over columns: in ULPs of Σ_j |g_j|(1 + |angle_j|)/base^{2i/d}")
BLOCK = Tolerance(
    64, "attention, two layer norms, a feed-forward layer and residuals: in ULPs of the largest output × growth",
    floor=lambda example: _block_floors(example, gradient=False),
)
BLOCK_BACKWARD = Tolerance(64, "the chain rule through every step: in ULPs of the largest gradient × growth")

ALL_CHECKS = ("values", "defaults", "layout")  # layout: a skip record for the ops without weights
MASKING = {"masked_fill": ("-1e9",), "all_masked": ("zeros",), "mask_means": ("masked",),
           "causal_align": ("bottom_right",)}

ROWS = [
    OpEntry(
        "scaled_dot_product_attention", "attention", A.scaled_dot_product_attention,
        A.scaled_dot_product_attention_vjp, ATTENTION, ATTENTION_BACKWARD,
        params={"use_mask": S.choice(False, True), "scale": lambda dtype, inputs: explicit_scale(dtype),
                "causal": S.choice(False, True), "dropout": S.choice(NO_DROPOUT), "softcap": S.choice(*SOFTCAPS),
                "causal_offset": S.choice(*OFFSETS), "alibi": S.choice(False, True)},
        variants=MASKING, inputs=sdpa_examples, wrt=(0, 1, 2),
        gradient_floor=lambda example: _sdpa_floors(example, gradient=True), checks=ALL_CHECKS,
    ),
    OpEntry(
        "multi_head_attention", "attention", A.multi_head_attention, A.multi_head_attention_vjp, PROJECTED,
        ATTENTION_BACKWARD,
        params={"num_heads": S.choice(1), "use_mask": S.choice(False, True), "causal": S.choice(False, True),
                "bias": S.choice(True), "dropout": S.choice(NO_DROPOUT), "num_kv_heads": S.choice(None, 1)},
        variants=MASKING, inputs=mha_examples, wrt=tuple(range(11)),
        gradient_floor=lambda example: _mha_floors(example, gradient=True),
        checks=ALL_CHECKS, weights=("w_q", "b_q", "w_k", "b_k", "w_v", "b_v", "w_o", "b_o"),
    ),
    OpEntry(
        "sinusoidal_positional_encoding", "attention", E.sinusoidal_positional_encoding,
        E.sinusoidal_positional_encoding_vjp, SINUSOID, SINUSOID_BACKWARD,
        params={"d_model": S.choice(*(d for _, d in ENCODING_SCENARIOS)), "base": S.choice(10000.0, 100.0)},
        variants={"layout": ("concatenated",)}, inputs=encoding_examples, gradient_floor=_encoding_gradient_floor,
        checks=ALL_CHECKS,
    ),
    OpEntry(
        "layer_norm", "attention", N.layer_norm, N.layer_norm_vjp, NORMALIZED, NORMALIZED_BACKWARD,
        params={"epsilon": lambda dtype, inputs: epsilons(dtype), "affine": S.choice(True)},
        variants={"epsilon_at": ("outside_sqrt",)}, inputs=layer_norm_examples, wrt=(0, 1, 2),
        gradient_floor=_layer_norm_gradient_floor,
        checks=ALL_CHECKS, weights=("weight", "bias"),
    ),
    OpEntry(
        "transformer_block", "attention", A.transformer_block, A.transformer_block_vjp, BLOCK, BLOCK_BACKWARD,
        params={"num_heads": S.choice(1), "use_mask": S.choice(False, True), "norm_first": S.choice(False, True),
                "epsilon": lambda dtype, inputs: epsilons(dtype), "dropout": S.choice(NO_DROPOUT)},
        variants={"norm_first": (True,), "mask_means": ("masked",)}, inputs=block_examples,
        wrt=tuple(range(17)), gradient_floor=lambda example: _block_floors(example, gradient=True),
        checks=ALL_CHECKS,
        weights=("w_q", "b_q", "w_k", "b_k", "w_v", "b_v", "w_o", "b_o", "ln1_weight", "ln1_bias", "w_1", "b_1",
                 "w_2", "b_2", "ln2_weight", "ln2_bias"),
    ),
]


# RMS normalization and rotary position embeddings ----------------------------------------------------------------

RMS_SHAPES = [(1,), (3,), (2, 5), (2, 3, 7), (8, 256)]
RMS_SCALES = {"float16": (1e-2, 1.0, 10.0), "bfloat16": (1e-3, 1.0, 1e3), "float32": (1e-3, 1.0, 1e3),
              "float64": (1e-3, 1.0, 1e6)}


@st.composite
def rms_norm_examples(draw, dtype, params):
    shape = draw(st.sampled_from(RMS_SHAPES))
    scale = draw(st.sampled_from(RMS_SCALES[dtype]))
    one_sign = draw(st.booleans())  # rows of mixed signs in [−s, s], and rows of one sign in [0, s]
    x = dense(draw, dtype, shape, scale / 2, scale / 2) if one_sign else dense(draw, dtype, shape, scale)
    # ε beside mean(x²) from negligible to dominant: the two placements of ε differ most where it is not negligible
    drawn = {"epsilon": draw(epsilons(dtype, (1e-6, 1e-5, 1e-3, 0.1)))}
    return S.Example([x, dense(draw, dtype, shape[-1:], 1.0, offset=1.0)], dense(draw, dtype, shape), drawn)


def _rms_parts(example):
    x, weight = _f64(*example.inputs)
    x_hat, inverse, _ = N._rms_scaled(x, example.params["epsilon"], example.params.get("epsilon_at", "inside_sqrt"))
    return x, weight, x_hat, inverse


def _rms_norm_floor(example):
    """|γ|: x̂ is accurate relatively (a sum of squares does not cancel), and |x̂| is of order 1 beside it."""
    _, weight, _, _ = _rms_parts(example)
    return np.broadcast_to(np.abs(weight), example.inputs[0].shape)


def _rms_norm_gradient_floor(example):
    x, weight, x_hat, inverse = _rms_parts(example)
    g = np.abs(example.cotangent.astype(np.float64))
    d_hat = g * np.abs(weight)
    d_x = inverse * (d_hat + np.abs(x_hat) * np.mean(d_hat * (1 + np.abs(x_hat)), axis=-1, keepdims=True))
    return d_x, np.sum((g * (1 + np.abs(x_hat))).reshape(-1, x.shape[-1]), axis=0)


# (B, L, H, d): one pair; a few tokens and heads; Llama-like widths
ROTARY_SCENARIOS = [(1, 1, 1, 2), (2, 3, 2, 4), (1, 16, 4, 8), (2, 64, 2, 32), (1, 128, 4, 64)]
ROTARY_BASES = (10000.0, 500000.0)  # RoFormer's; Llama 3's


@st.composite
def rotary_examples(draw, dtype, params):
    b, l, h, d = draw(st.sampled_from(ROTARY_SCENARIOS))
    x = dense(draw, dtype, (b, l, h, d), draw(st.sampled_from([1.0, 100.0])))
    offset = draw(st.sampled_from([0.0, 3.0, 100.0]))  # the first token's position (a cached prefix before it)
    positions = (offset + np.arange(l, dtype=np.float64)).astype(S.np_dtype(dtype))  # exact in every dtype drawn
    drawn = {"base": draw(st.sampled_from(ROTARY_BASES)), "pairs": draw(st.sampled_from(E.ROTARY_PAIRS))}
    return S.Example([x, positions], dense(draw, dtype, (b, l, h, d)), drawn)


def _rotary_magnitudes(example, values):
    """(|a| + |b|)(1 + |mθ_i|) for both members of every pair (a, b) of ``values``, in the example's pairing:
    the rotation is accurate to the pair's size, and the angle mθ_i only to ε|mθ_i|."""
    values, positions = _f64(values, example.inputs[1])
    pairs = example.params["pairs"]
    first, second = E._rotary_pairs(np.abs(values), pairs)
    half = values.shape[-1] // 2
    angles = np.abs(positions)[..., None, None] * np.power(example.params["base"], -2 * np.arange(half) / (2 * half))
    size = (first + second) * (1 + angles)
    return E._rotary_join(size, size, pairs)


ROWS += [
    OpEntry(
        "rms_norm", "attention", N.rms_norm, N.rms_norm_vjp,
        Tolerance(8, "a mean of squares (no cancellation), a root and a product: in ULPs of max(|y|, |γ|)",
                  floor=_rms_norm_floor),
        Tolerance(16, "a row mean and a product per element: in ULPs of their magnitudes"),
        params={"epsilon": lambda dtype, inputs: epsilons(dtype, (1e-6, 1e-5, 1e-3, 0.1))},
        variants={"epsilon_at": ("outside_sqrt",)}, inputs=rms_norm_examples, wrt=(0, 1),
        gradient_floor=_rms_norm_gradient_floor, checks=("values", "defaults"),
    ),
    OpEntry(
        "rotary_embedding", "attention", E.rotary_embedding, E.rotary_embedding_vjp,
        Tolerance(8, "m·θ_i, its cos and sin, and a 2×2 rotation: in ULPs of (|a| + |b|)(1 + |mθ_i|)",
                  floor=lambda example: _rotary_magnitudes(example, example.inputs[0])),
        Tolerance(8, "the inverse rotation of the cotangent: in ULPs of (|g_a| + |g_b|)(1 + |mθ_i|)"),
        params={"base": S.choice(*ROTARY_BASES), "pairs": S.choice(*E.ROTARY_PAIRS)},
        variants={"pairs": ("half",)}, inputs=rotary_examples, wrt=(0,),
        gradient_floor=lambda example: _rotary_magnitudes(example, example.cotangent), checks=("values", "defaults"),
    ),
]
