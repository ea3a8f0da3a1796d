"""Jax adapter, attention: jax.nn.dot_product_attention, flax.linen.MultiHeadDotProductAttention and LayerNorm.

Flax modules run through ``module.apply`` with the spec's weights as their parameter tree.

Weight layout (spec → flax). flax's DenseGeneral kernels keep the spec's right-multiplied
orientation, with the head axis split out: query/key/value ``kernel`` (E_in, H, d) is
W_Q/W_K/W_V reshaped, their ``bias`` (H, d); the output projection's ``kernel`` (H, d, E)
is W_O reshaped. LayerNorm's ``scale`` is γ and ``bias`` β; nn.Dense's kernel (in, out)
is the spec's W₁/W₂ as is.

Masks: flax and jax.nn take True = attend, the spec's own convention. jax.nn's layout is
(B, L, H, d), the spec's (B, H, L, d): transposed on the way in and out. flax's attention
has no causal flag: the causal mask is made with flax's own ``make_attention_mask`` and
``combine_masks``. jax.nn.dot_product_attention has no dropout at all.

Grouped-query attention: jax.nn.dot_product_attention takes key/value with K < N heads
(its (B, T, K, G, H) grouping is the spec's h // (H/K)); flax's MultiHeadDotProductAttention
projects key and value to ``num_heads`` heads, so ``num_kv_heads`` ≠ ``num_heads`` is
Unsupported there. A key/value-cache offset P of the causal mask (``causal_offset``) is
jax.nn's own ``local_window_size=(L + S, P)`` (query i attends keys i − L − S … i + P, i.e.
every j ≤ i + P) in place of ``is_causal``. jax.nn has no logit soft-capping and no ALiBi
(``softcap``, ``alibi``: Unsupported; its ``bias`` takes any additive bias, and jax documents
no ALiBi recipe).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from ..base import Unsupported, composed, same, unsupported

PROJECTIONS = ("w_q", "b_q", "w_k", "b_k", "w_v", "b_v", "w_o", "b_o")
BLOCK_WEIGHTS = PROJECTIONS + ("ln1_weight", "ln1_bias", "w_1", "b_1", "w_2", "b_2", "ln2_weight", "ln2_bias")


def given(value):
    """A mask argument's default in spec vocabulary (use_mask): None is no mask."""
    return value is not None


def attention_parameters(w, heads):
    """Spec projections -> flax MultiHeadDotProductAttention parameters (kernels with the head axis split out)."""
    features = w["w_q"].shape[1]
    split = (heads, features // heads)
    native = {name: {"kernel": w[f"w_{short}"].reshape(w[f"w_{short}"].shape[0], *split),
                     "bias": w[f"b_{short}"].reshape(split)}
              for name, short in (("query", "q"), ("key", "k"), ("value", "v"))}
    native["out"] = {"kernel": w["w_o"].reshape(*split, w["w_o"].shape[1]), "bias": w["b_o"]}
    return native


def spec_projections(native):
    """flax attention parameters -> the spec's projections, the inverse of attention_parameters."""
    weights = {}
    for name, short in (("query", "q"), ("key", "k"), ("value", "v")):
        kernel = native[name]["kernel"]
        weights[f"w_{short}"] = kernel.reshape(kernel.shape[0], -1)
        weights[f"b_{short}"] = native[name]["bias"].reshape(-1)
    kernel = native["out"]["kernel"]
    weights["w_o"], weights["b_o"] = kernel.reshape(-1, kernel.shape[-1]), native["out"]["bias"]
    return weights


def block_parameters(w, heads):
    return {"attention": attention_parameters(w, heads),
            "norm1": {"scale": w["ln1_weight"], "bias": w["ln1_bias"]},
            "dense1": {"kernel": w["w_1"], "bias": w["b_1"]}, "dense2": {"kernel": w["w_2"], "bias": w["b_2"]},
            "norm2": {"scale": w["ln2_weight"], "bias": w["ln2_bias"]}}


def spec_block(native):
    weights = spec_projections(native["attention"])
    weights.update({"ln1_weight": native["norm1"]["scale"], "ln1_bias": native["norm1"]["bias"],
                    "w_1": native["dense1"]["kernel"], "b_1": native["dense1"]["bias"],
                    "w_2": native["dense2"]["kernel"], "b_2": native["dense2"]["bias"],
                    "ln2_weight": native["norm2"]["scale"], "ln2_bias": native["norm2"]["bias"]})
    return weights


def attention_module(heads, features, bias, dropout, dtype, name=None):
    return nn.MultiHeadDotProductAttention(num_heads=heads, qkv_features=features, out_features=features,
                                           use_bias=bias, dropout_rate=dropout, deterministic=True, dtype=dtype,
                                           param_dtype=dtype, name=name)


def layer_norm_module(epsilon, affine, dtype, name=None):
    return nn.LayerNorm(epsilon=epsilon, use_bias=affine, use_scale=affine, dtype=dtype, param_dtype=dtype, name=name)


class Block(nn.Module):
    """The transformer encoder block from flax's attention, LayerNorm and Dense (flax has no block of its own)."""

    heads: int
    features: int
    hidden: int
    norm_first: bool
    epsilon: float
    dropout: float
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x, mask):
        attention = attention_module(self.heads, self.features, True, self.dropout, self.dtype, name="attention")
        norm1 = layer_norm_module(self.epsilon, True, self.dtype, name="norm1")
        norm2 = layer_norm_module(self.epsilon, True, self.dtype, name="norm2")
        dense1 = nn.Dense(self.hidden, dtype=self.dtype, param_dtype=self.dtype, name="dense1")
        dense2 = nn.Dense(self.features, dtype=self.dtype, param_dtype=self.dtype, name="dense2")

        def ffn(h):
            return dense2(nn.relu(dense1(h)))

        if self.norm_first:
            a = norm1(x)
            h = x + attention(a, a, a, mask=mask)
            return h + ffn(norm2(h))
        h = norm1(x + attention(x, x, x, mask=mask))
        return norm2(h + ffn(h))


class Attention:
    NATIVE_DEFAULTS = {
        "scaled_dot_product_attention": {
            "use_mask": (jax.nn.dot_product_attention, "mask", given),
            "scale": (jax.nn.dot_product_attention, "scale", same),
            "causal": (jax.nn.dot_product_attention, "is_causal", same),
        },
        "multi_head_attention": {
            "use_mask": (nn.MultiHeadDotProductAttention.__call__, "mask", given),
            "bias": (nn.MultiHeadDotProductAttention, "use_bias", same),
            "dropout": (nn.MultiHeadDotProductAttention, "dropout_rate", same),
        },
        "layer_norm": {
            "epsilon": (nn.LayerNorm, "epsilon", same),
            "affine": (nn.LayerNorm, "use_scale", same),
        },
        "transformer_block": {  # composed: the defaults of the flax layers it is built from
            "epsilon": (nn.LayerNorm, "epsilon", same),
            "dropout": (nn.MultiHeadDotProductAttention, "dropout_rate", same),
        },
    }

    UNSUPPORTED = {
        "scaled_dot_product_attention": [
            # any cap given is declined, 0 included: the method would see a traced float under jit
            unsupported("jax.nn.dot_product_attention has no logit soft-capping (softcap)",
                        softcap=lambda cap: cap is not None),
            unsupported("jax.nn.dot_product_attention has no ALiBi (alibi=True)", alibi=True),
        ],
        "multi_head_attention": unsupported(
            "flax.linen.MultiHeadDotProductAttention has no grouped-query attention (num_kv_heads)",
            where=lambda p: p["num_kv_heads"] not in (None, p["num_heads"])),
    }

    def scaled_dot_product_attention(self, query, key, value, mask, use_mask, scale, causal, dropout, softcap,
                                     causal_offset, alibi):
        boolean = use_mask and mask.dtype == jnp.bool_
        window = None
        if causal and causal_offset:  # jax.nn's own window: keys i − left … i + right
            window, causal = (query.shape[-2] + key.shape[-2], causal_offset), False
        out = jax.nn.dot_product_attention(
            *(jnp.swapaxes(t, 1, 2) for t in (query, key, value)), bias=mask if use_mask and not boolean else None,
            mask=mask if boolean else None, scale=scale, is_causal=causal, local_window_size=window)
        return jnp.swapaxes(out, 1, 2)

    def multi_head_attention(self, query, key, value, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, mask, num_heads,
                             use_mask, causal, bias, dropout, num_kv_heads):
        weights = dict(zip(PROJECTIONS, (w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o)))
        module = attention_module(num_heads, w_q.shape[1], bias, dropout, query.dtype)
        allowed = mask[:, None] if use_mask else None
        if causal:
            causal_mask = nn.make_attention_mask(jnp.arange(query.shape[1])[None], jnp.arange(key.shape[1])[None],
                                                 jnp.greater_equal)
            allowed = nn.combine_masks(allowed, causal_mask)
        out, state = module.apply({"params": attention_parameters(weights, num_heads)}, query, key, value,
                                  mask=allowed, sow_weights=True, mutable=["intermediates"])
        return out, state["intermediates"]["attention_weights"][0]

    @composed
    def sinusoidal_positional_encoding(self, positions, d_model, base):
        columns = jnp.arange(d_model)
        exponents = (2 * (columns // 2)).astype(positions.dtype) / d_model
        angles = positions[..., None] / jnp.power(jnp.asarray(base, dtype=positions.dtype), exponents)
        return jnp.where(columns % 2 == 0, jnp.sin(angles), jnp.cos(angles))

    def layer_norm(self, x, weight, bias, epsilon, affine):
        module = layer_norm_module(epsilon, affine, x.dtype)
        return module.apply({"params": {"scale": weight, "bias": bias} if affine else {}}, x)

    @composed
    def transformer_block(self, x, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, ln1_weight, ln1_bias, w_1, b_1, w_2, b_2,
                          ln2_weight, ln2_bias, mask, num_heads, use_mask, norm_first, epsilon, dropout):
        weights = dict(zip(BLOCK_WEIGHTS, (w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, ln1_weight, ln1_bias, w_1, b_1,
                                           w_2, b_2, ln2_weight, ln2_bias)))
        block = Block(num_heads, x.shape[-1], w_1.shape[1], norm_first, epsilon, dropout, x.dtype)
        return block.apply({"params": block_parameters(weights, num_heads)}, x, mask[:, None] if use_mask else None)

    # weight layouts -------------------------------------------------------------------

    def to_native_layout(self, op, weights, params):
        """The parameter tree, checked against the tree flax's own ``init`` makes for the module."""
        w = {name: self.asarray(array, "cpu") for name, array in weights.items()}
        if op == "multi_head_attention":
            if params.get("num_kv_heads") not in (None, params["num_heads"]):
                raise Unsupported("flax.linen.MultiHeadDotProductAttention has no grouped-query attention")
            native = attention_parameters(w, params["num_heads"])
            module = attention_module(params["num_heads"], w["w_q"].shape[1], params["bias"], params["dropout"],
                                      w["w_q"].dtype)
            example = (jnp.zeros((1, 1, w["w_q"].shape[0]), w["w_q"].dtype),
                       jnp.zeros((1, 1, w["w_k"].shape[0]), w["w_q"].dtype))
            example += example[1:]
        elif op == "transformer_block":
            native = block_parameters(w, params["num_heads"])
            features, hidden = w["w_1"].shape
            module = Block(params["num_heads"], features, hidden, params["norm_first"], params["epsilon"],
                           params["dropout"], w["w_1"].dtype)
            example = (jnp.zeros((1, 1, features), w["w_1"].dtype), None)
        elif op == "layer_norm":
            native = {"scale": w["weight"], "bias": w["bias"]}
            module = layer_norm_module(params["epsilon"], params["affine"], w["weight"].dtype)
            example = (jnp.zeros((1, w["weight"].shape[0]), w["weight"].dtype),)
        else:
            return super().to_native_layout(op, weights, params)
        made = jax.eval_shape(module.init, jax.random.key(0), *example)["params"]
        if jax.tree.map(lambda a: (a.shape, a.dtype), made) != jax.tree.map(lambda a: (a.shape, a.dtype), native):
            raise ValueError(f"the mapped parameters do not have the tree flax makes for {op}")
        return {"params": native}

    def from_native_layout(self, op, native, params):
        if op == "multi_head_attention":
            weights = spec_projections(native["params"])
        elif op == "transformer_block":
            weights = spec_block(native["params"])
        elif op == "layer_norm":
            weights = {"weight": native["params"]["scale"], "bias": native["params"]["bias"]}
        else:
            return super().from_native_layout(op, native, params)
        return {name: self.to_numpy(array) for name, array in weights.items()}

    # RMS normalization (its own block, merged into the family's defaults). Neither JAX nor flax (linen, nnx) has
    # a rotary embedding: rotary_embedding is unsupported here. -----------------------------------------------------

    NATIVE_DEFAULTS = {**NATIVE_DEFAULTS, "rms_norm": {"epsilon": (nn.RMSNorm, "epsilon", same)}}

    def rms_norm(self, x, weight, epsilon):
        module = nn.RMSNorm(epsilon=epsilon, dtype=x.dtype, param_dtype=x.dtype)
        return module.apply({"params": {"scale": weight}}, x)
