"""Attention: scaled dot-product attention, multi-head attention and the transformer block.

Shapes (B batch, H heads, L queries, S keys, E features, d = E/H per head):

* ``scaled_dot_product_attention``: query (B, H, L, d), key and value (B, K, S, d)
  with K dividing H (K = H: multi-head; K < H: grouped-query, K = 1: multi-query);
  mask broadcastable to (B, H, L, S).
* ``multi_head_attention``: query (B, L, E_q), key and value (B, S, E_kv); projection
  weights in the textbook's right-multiplied layout: w_q (E_in, H·d) whose columns
  h·d … h·d + d − 1 are head h, w_k, w_v (E_kv, K·d) with K = ``num_kv_heads`` key/value
  heads (K = H unless given), w_o (H·d, E_out); biases b_q (H·d,), b_k, b_v (K·d,),
  b_o (E_out,); mask broadcastable to (B, L, S).
* ``transformer_block``: x (B, L, E), the attention weights above with E_in = E_out = E,
  the feed-forward w_1 (E, F), b_1 (F,), w_2 (F, E), b_2 (E,) and two layer norms.

The mask comes after the differentiated inputs, so each VJP returns one gradient per
input before it, in order.

Conventions
-----------
* A boolean mask means True = may attend (``mask_means="attend"``); a float mask is
  added to the logits (an additive bias, ALiBi-style or −1e4 "soft" masking). Either
  is applied only when ``use_mask`` (the framework call gets mask=None otherwise).
* ``causal`` lets query i attend keys j ≤ i + ``causal_offset`` (``causal_align="top_left"``;
  offset 0 is the ``tril(ones(L, S))`` that torch, JAX and Keras build; offset P is a
  decoder with P keys already in its key/value cache, query i being token P + i). With
  L ≠ S the other common alignment, j ≤ i + S − L (flash-attention's: the queries are the
  last L tokens), is the variant ``"bottom_right"``, which adds S − L to the offset:
  bottom_right is top_left with ``causal_offset = S − L``.
* Grouped-query heads: query head h uses key/value head h // (H/K), i.e. key/value are
  repeated H/K times along the head axis *interleaved* (``repeat_interleave``: kv head 0
  serves query heads 0 … H/K − 1), as torch's ``enable_gqa``, jax.nn's (B, T, K, G, H)
  grouping and Keras' GroupQueryAttention do.
* ``softcap`` c > 0 caps the scaled logits, s → c·tanh(s/c) (Gemma 2), before any bias or
  mask; None or 0 is off.
* ``alibi`` adds the ALiBi bias −m_h·(p_i − j) (Press et al. 2022) after the cap, p_i =
  i + offset the query's position under the same offset as the causal mask; the slopes
  ``alibi_slopes(H)`` are m_h = 2^(−8h/H), h = 1 … H, for H a power of two and, otherwise,
  those of the power of two n below H followed by every other slope of 2n (the paper's
  reference code).
* A masked logit becomes −∞ (``masked_fill="-inf"``), so a row whose keys are all
  masked is 0/0 = nan, as IEEE arithmetic of the textbook formula gives. Frameworks
  that fill a large finite negative instead (−1e9, finfo.min, −0.7·finfo.max: all
  ``masked_fill="-1e9"``) return uniform weights there; frameworks that zero such
  rows after the softmax match ``all_masked="zeros"`` (weights and output 0, and no
  gradient through them). Neither changes a row that keeps at least one key.
* A boolean mask read the other way round (True = masked, torch.nn.MultiheadAttention's
  own convention) is the variant ``mask_means="masked"``.
* ``dropout`` is part of the signature so that its default can be compared; the
  formula is deterministic and takes only 0.
"""

from __future__ import annotations

import numpy as np

from ._float64 import float64
from .activations import relu, relu_vjp, softmax
from .normalization import layer_norm, layer_norm_vjp

MASK_FILL = {"-inf": -np.inf, "-1e9": -1e9}


def _no_dropout(dropout):
    if dropout != 0:
        raise ValueError(f"dropout={dropout}: the spec is deterministic; conformance runs with dropout off")


def default_scale(query):
    """1/√d_k as a Python float (so that it takes the dtype of the array it multiplies)."""
    return float(1 / np.sqrt(query.shape[-1]))


def query_offset(queries, keys, causal_offset=0, causal_align="top_left"):
    """The position of query 0 among the keys: ``causal_offset``, plus S − L under bottom_right."""
    return causal_offset + (0 if causal_align == "top_left" else keys - queries)


def allowed_keys(shape, mask, use_mask, causal, *, mask_means="attend", causal_align="top_left", causal_offset=0):
    """Boolean array (…, L, S): which keys each query may attend (True = attend)."""
    allowed = np.ones(shape, dtype=bool)
    if use_mask and mask.dtype == bool:
        allowed = allowed & (mask if mask_means == "attend" else ~mask)
    if causal:
        queries, keys = shape[-2:]
        offset = query_offset(queries, keys, causal_offset, causal_align)
        allowed = allowed & (np.arange(keys) <= np.arange(queries)[:, None] + offset)
    return allowed


def alibi_slopes(heads):
    """ALiBi's head slopes m_1 … m_H: 2^(−8h/H) for H a power of two; otherwise the slopes of the
    largest power of two n < H, then slopes 1, 3, 5, … of 2n up to H in all (Press et al.'s code)."""
    def geometric(n):
        return [2.0 ** (-8.0 * h / n) for h in range(1, n + 1)]

    n = 2 ** int(np.floor(np.log2(heads)))
    return np.array(geometric(n) if n == heads else geometric(n) + geometric(2 * n)[0::2][:heads - n])


def alibi_bias(heads, queries, keys, offset):
    """(H, L, S): −m_h·(i + offset − j), the query's position minus the key's, times the head's slope."""
    distance = np.arange(queries)[:, None] + offset - np.arange(keys)
    return -alibi_slopes(heads)[:, None, None] * distance


def repeat_kv(x, heads):
    """(…, K, S, d) -> (…, H, S, d): kv head h // (H/K) for query head h (repeat_interleave)."""
    kv_heads = x.shape[-3]
    if heads % kv_heads:
        raise ValueError(f"{heads} query heads are not a multiple of {kv_heads} key/value heads")
    return np.repeat(x, heads // kv_heads, axis=-3)


def sum_groups(d, kv_heads):
    """(…, H, S, d) -> (…, K, S, d): the transpose of repeat_kv (each kv head's query heads summed)."""
    *lead, heads, rows, cols = d.shape
    return d.reshape(*lead, kv_heads, heads // kv_heads, rows, cols).sum(axis=-3)


def _capped_logits(query, key, scale, softcap):
    """scale·QKᵀ capped (c·tanh(s/c) when softcap), and its derivative with respect to the uncapped s."""
    logits = scale * (query @ np.swapaxes(repeat_kv(key, query.shape[-3]), -1, -2))
    if not softcap:
        return logits, 1
    capped = np.tanh(logits / softcap)
    return softcap * capped, 1 - capped * capped


def attention_weights(query, key, mask, use_mask, scale, causal, softcap=None, causal_offset=0, alibi=False, *,
                      masked_fill="-inf", all_masked="softmax", mask_means="attend", causal_align="top_left"):
    """P = softmax(cap(scale·QKᵀ) + ALiBi + additive mask, masked logits filled), and the allowed-key array.

    ``query`` (…, H, L, d); ``key`` (…, K, S, d), its heads repeated to H (``repeat_kv``)."""
    scale = default_scale(query) if scale is None else scale
    logits, _ = _capped_logits(query, key, scale, softcap)
    queries, keys = logits.shape[-2:]
    if alibi:
        logits = logits + alibi_bias(query.shape[-3], queries, keys,
                                     query_offset(queries, keys, causal_offset, causal_align))
    if use_mask and mask.dtype != bool:
        logits = logits + mask
    allowed = allowed_keys(logits.shape, mask, use_mask, causal, mask_means=mask_means, causal_align=causal_align,
                           causal_offset=causal_offset)
    logits = np.where(allowed, logits, np.asarray(MASK_FILL[masked_fill], dtype=logits.dtype))
    weights = softmax.__wrapped__(logits, axis=-1)
    if all_masked == "zeros":
        weights = np.where(allowed.any(axis=-1, keepdims=True), weights, 0)
    return weights.astype(query.dtype, copy=False), allowed


# scaled dot-product attention -----------------------------------------------------------


@float64
def scaled_dot_product_attention(query, key, value, mask, use_mask=False, scale=None, causal=False, dropout=0.0,
                                 softcap=None, causal_offset=0, alibi=False, *, masked_fill="-inf",
                                 all_masked="softmax", mask_means="attend", causal_align="top_left"):
    """Attention(Q, K, V) = softmax(cap(QKᵀ·scale) + M) V, scale = 1/√d_k unless given (``scale=None``).

    M: −∞ where the boolean ``mask`` (True = attend) or ``causal`` (key j ≤ i + ``causal_offset``)
    forbids a key, or the float ``mask`` itself, added (when ``use_mask``), plus the ALiBi
    bias −m_h·(i + causal_offset − j) when ``alibi``; cap(s) = c·tanh(s/c) for ``softcap`` c,
    the identity for None or 0. Key and value may have fewer heads K than the query's H
    (grouped-query): query head h uses key/value head h // (H/K). The softmax subtracts each
    row's maximum (compensated, as ``activations.softmax``). ``dropout`` must be 0.
    VJP, with P the weights and G the cotangent: dV = PᵀG; dS = P ⊙ (GVᵀ − rowsum(P ⊙ GVᵀ)),
    zero at masked keys, times cap′(s) = 1 − tanh²(s/c); dQ = scale·dS K; dK = scale·dSᵀ Q;
    under grouped-query dK and dV summed over each key/value head's H/K query heads.
    """
    _no_dropout(dropout)
    weights, _ = attention_weights(query, key, mask, use_mask, scale, causal, softcap, causal_offset, alibi,
                                   masked_fill=masked_fill, all_masked=all_masked, mask_means=mask_means,
                                   causal_align=causal_align)
    return weights @ repeat_kv(value, query.shape[-3])


@float64
def scaled_dot_product_attention_vjp(query, key, value, mask, cotangent, use_mask=False, scale=None, causal=False,
                                     dropout=0.0, softcap=None, causal_offset=0, alibi=False, *, masked_fill="-inf",
                                     all_masked="softmax", mask_means="attend", causal_align="top_left"):
    _no_dropout(dropout)
    weights, allowed = attention_weights(query, key, mask, use_mask, scale, causal, softcap, causal_offset, alibi,
                                         masked_fill=masked_fill, all_masked=all_masked, mask_means=mask_means,
                                         causal_align=causal_align)
    return _sdpa_backward(query, key, value, weights, allowed, cotangent, scale, softcap)


def _sdpa_backward(query, key, value, weights, allowed, cotangent, scale, softcap=None):
    scale = default_scale(query) if scale is None else scale
    heads, kv_heads = query.shape[-3], key.shape[-3]
    key_h, value_h = repeat_kv(key, heads), repeat_kv(value, heads)
    d_weights = cotangent @ np.swapaxes(value_h, -1, -2)
    d_logits = weights * (d_weights - np.sum(weights * d_weights, axis=-1, keepdims=True))
    # A filled logit does not depend on Q or K (nan stays: a −∞-filled row is nan throughout, as IEEE gives).
    d_logits = np.where(allowed | np.isnan(d_logits), d_logits, 0)
    d_logits = d_logits * _capped_logits(query, key, scale, softcap)[1]
    d_query = scale * (d_logits @ key_h)
    d_key = sum_groups(scale * (np.swapaxes(d_logits, -1, -2) @ query), kv_heads)
    d_value = sum_groups(np.swapaxes(weights, -1, -2) @ cotangent, kv_heads)
    return d_query, d_key, d_value


# multi-head attention ---------------------------------------------------------------------


def _split_heads(x, heads):
    """(B, T, H·d) -> (B, H, T, d): head h is columns h·d … h·d + d − 1."""
    b, t, features = x.shape
    return np.swapaxes(x.reshape(b, t, heads, features // heads), 1, 2)


def _merge_heads(x):
    """(B, H, T, d) -> (B, T, H·d), the inverse of _split_heads."""
    b, heads, t, d = x.shape
    return np.swapaxes(x, 1, 2).reshape(b, t, heads * d)


def kv_heads_of(num_heads, num_kv_heads):
    """The number of key/value heads: ``num_kv_heads``, or ``num_heads`` when None (multi-head)."""
    kv_heads = num_heads if num_kv_heads is None else num_kv_heads
    if kv_heads < 1 or num_heads % kv_heads:
        raise ValueError(f"num_heads={num_heads} is not a multiple of num_kv_heads={num_kv_heads}")
    return kv_heads


def _mha_parts(query, key, value, mask, w_q, b_q, w_k, b_k, w_v, b_v, num_heads, use_mask, causal, bias, variants,
               num_kv_heads=None):
    biases = (b_q, b_k, b_v) if bias else (0, 0, 0)
    kv_heads = kv_heads_of(num_heads, num_kv_heads)
    q = _split_heads(query @ w_q + biases[0], num_heads)
    k = _split_heads(key @ w_k + biases[1], kv_heads)
    v = _split_heads(value @ w_v + biases[2], kv_heads)
    head_mask = mask[:, None] if mask.ndim == 3 else mask
    weights, allowed = attention_weights(q, k, head_mask, use_mask, None, causal, **variants)
    return q, k, v, weights, allowed


@float64
def multi_head_attention(query, key, value, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, mask, num_heads, use_mask=False,
                         causal=False, bias=True, dropout=0.0, num_kv_heads=None, *, masked_fill="-inf",
                         all_masked="softmax", mask_means="attend", causal_align="top_left"):
    """MultiHead(Q, K, V) = Concat(head_1 … head_H) W_O + b_O, head_h = Attention(QW_Q^h + b_Q^h, KW_K^h + b_K^h, …).

    Returns (output (B, L, E_out), attention weights (B, H, L, S)); each head is scaled
    dot-product attention with scale 1/√d, d = (H·d)/``num_heads``; the boolean ``mask``
    (B, L, S) applies to every head. ``bias=False``: no projection biases (b_* ignored).
    ``num_kv_heads`` K (dividing H; None: K = H, multi-head; 1: multi-query): the key and
    value projections make K heads of width d, and query head h attends with key/value
    head h // (H/K) (grouped-query attention, Ainslie et al. 2023; torch's
    ``repeat_interleave``, not a tiling of the K heads).
    VJP (of the output; the weights are not differentiated): dW_O = Oᵀ G, db_O = ΣG,
    dO = G W_Oᵀ split into heads, then each head's attention VJP, and through each
    projection dX = dP Wᵀ, dW = Xᵀ dP, db = ΣdP.
    """
    _no_dropout(dropout)
    variants = dict(masked_fill=masked_fill, all_masked=all_masked, mask_means=mask_means, causal_align=causal_align)
    _, _, v, weights, _ = _mha_parts(query, key, value, mask, w_q, b_q, w_k, b_k, w_v, b_v, num_heads, use_mask,
                                     causal, bias, variants, num_kv_heads)
    output = _merge_heads(weights @ repeat_kv(v, num_heads)) @ w_o + (b_o if bias else 0)
    return output, weights


@float64
def multi_head_attention_vjp(query, key, value, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, mask, cotangent, num_heads,
                             use_mask=False, causal=False, bias=True, dropout=0.0, num_kv_heads=None, *,
                             masked_fill="-inf", all_masked="softmax", mask_means="attend", causal_align="top_left"):
    """Gradients w.r.t. (query, key, value, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o)."""
    _no_dropout(dropout)
    variants = dict(masked_fill=masked_fill, all_masked=all_masked, mask_means=mask_means, causal_align=causal_align)
    q, k, v, weights, allowed = _mha_parts(query, key, value, mask, w_q, b_q, w_k, b_k, w_v, b_v, num_heads,
                                           use_mask, causal, bias, variants, num_kv_heads)
    heads = _merge_heads(weights @ repeat_kv(v, num_heads))
    d_w_o, d_b_o = _sum_rows(heads, cotangent)
    d_heads = _split_heads(cotangent @ w_o.T, num_heads)
    d_q, d_k, d_v = (_merge_heads(g) for g in _sdpa_backward(q, k, v, weights, allowed, d_heads, None))
    grads = []
    for x, w, d in ((query, w_q, d_q), (key, w_k, d_k), (value, w_v, d_v)):
        d_w, d_b = _sum_rows(x, d)
        grads.append((d @ w.T, d_w, d_b if bias else np.zeros_like(d_b)))
    (d_query, d_w_q, d_b_q), (d_key, d_w_k, d_b_k), (d_value, d_w_v, d_b_v) = grads
    return (d_query, d_key, d_value, d_w_q, d_b_q, d_w_k, d_b_k, d_w_v, d_b_v, d_w_o,
            d_b_o if bias else np.zeros_like(d_b_o))


def _sum_rows(x, d):
    """dW = Σ_rows xᵀ d and db = Σ_rows d for a right-multiplied weight, x and d of shape (…, features)."""
    x2, d2 = x.reshape(-1, x.shape[-1]), d.reshape(-1, d.shape[-1])
    return x2.T @ d2, d2.sum(axis=0)


# the transformer block -------------------------------------------------------------------


def _feed_forward(h, w_1, b_1, w_2, b_2):
    pre = h @ w_1 + b_1
    return relu.__wrapped__(pre) @ w_2 + b_2, pre


@float64
def transformer_block(x, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, ln1_weight, ln1_bias, w_1, b_1, w_2, b_2, ln2_weight,
                      ln2_bias, mask, num_heads, use_mask=False, norm_first=False, epsilon=1e-5, dropout=0.0, *,
                      mask_means="attend"):
    """The encoder block of Vaswani et al. (2017), post-norm (``norm_first=False``):

        h = LN₁(x + MHA(x, x, x)),   y = LN₂(h + FFN(h)),   FFN(h) = relu(h W₁ + b₁) W₂ + b₂;

    pre-norm (``norm_first=True``, Xiong et al. 2020): h = x + MHA(LN₁(x)), y = h + FFN(LN₂(h)).
    MHA is ``multi_head_attention`` with biases (its weights output dropped), LN is
    ``layer_norm`` with ``epsilon`` and affine weights, ``mask`` (B, L, L) as there.
    VJP: the chain rule through the same steps (each step's own VJP).
    """
    _no_dropout(dropout)
    y, _ = _block_forward(x, mask, (w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o), (ln1_weight, ln1_bias),
                          (w_1, b_1, w_2, b_2), (ln2_weight, ln2_bias), num_heads, use_mask, norm_first, epsilon,
                          mask_means)
    return y


def _block_forward(x, mask, attention, norm1, ffn, norm2, heads, use_mask, norm_first, epsilon, mask_means):
    mha = dict(num_heads=heads, use_mask=use_mask, mask_means=mask_means)
    if norm_first:
        a = layer_norm.__wrapped__(x, *norm1, epsilon)
        h = x + multi_head_attention.__wrapped__(a, a, a, *attention, mask, **mha)[0]
        n = layer_norm.__wrapped__(h, *norm2, epsilon)
        y = h + _feed_forward(n, *ffn)[0]
        return y, (a, h, n)
    r1 = x + multi_head_attention.__wrapped__(x, x, x, *attention, mask, **mha)[0]
    h = layer_norm.__wrapped__(r1, *norm1, epsilon)
    r2 = h + _feed_forward(h, *ffn)[0]
    return layer_norm.__wrapped__(r2, *norm2, epsilon), (r1, h, r2)


@float64
def transformer_block_vjp(x, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, ln1_weight, ln1_bias, w_1, b_1, w_2, b_2,
                          ln2_weight, ln2_bias, mask, cotangent, num_heads, use_mask=False, norm_first=False,
                          epsilon=1e-5, dropout=0.0, *, mask_means="attend"):
    """Gradients w.r.t. x and every weight, in the order of the signature."""
    _no_dropout(dropout)
    attention, norm1 = (w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o), (ln1_weight, ln1_bias)
    ffn, norm2 = (w_1, b_1, w_2, b_2), (ln2_weight, ln2_bias)
    _, saved = _block_forward(x, mask, attention, norm1, ffn, norm2, num_heads, use_mask, norm_first, epsilon,
                              mask_means)
    mha = dict(num_heads=num_heads, use_mask=use_mask, mask_means=mask_means)

    def through_attention(inp, g):  # self-attention: inp is query, key and value
        d_q, d_k, d_v, *d_attention = multi_head_attention_vjp.__wrapped__(inp, inp, inp, *attention, mask, g, **mha)
        return d_q + d_k + d_v, d_attention

    def through_ffn(h, g):
        _, pre = _feed_forward(h, *ffn)
        d_hidden = relu_vjp.__wrapped__(pre, g @ ffn[2].T)
        d_w_2, d_b_2 = _sum_rows(relu.__wrapped__(pre), g)
        d_w_1, d_b_1 = _sum_rows(h, d_hidden)
        return d_hidden @ ffn[0].T, [d_w_1, d_b_1, d_w_2, d_b_2]

    if norm_first:
        a, h, n = saved
        d_n, d_ffn = through_ffn(n, cotangent)
        d_h, *d_norm2 = layer_norm_vjp.__wrapped__(h, *norm2, d_n, epsilon)
        d_h = d_h + cotangent
        d_a, d_attention = through_attention(a, d_h)
        d_x, *d_norm1 = layer_norm_vjp.__wrapped__(x, *norm1, d_a, epsilon)
        d_x = d_x + d_h
    else:
        r1, h, r2 = saved
        d_r2, *d_norm2 = layer_norm_vjp.__wrapped__(r2, *norm2, cotangent, epsilon)
        d_h, d_ffn = through_ffn(h, d_r2)
        d_h = d_h + d_r2
        d_r1, *d_norm1 = layer_norm_vjp.__wrapped__(r1, *norm1, d_h, epsilon)
        d_x, d_attention = through_attention(x, d_r1)
        d_x = d_x + d_r1
    return (d_x, *d_attention, *d_norm1, *d_ffn, *d_norm2)
