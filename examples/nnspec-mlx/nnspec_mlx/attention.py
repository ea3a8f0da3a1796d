"""MLX adapter, attention family: mlx.core.fast's fused kernels (attention, layer and RMS normalization)."""

from __future__ import annotations

import mlx.core as mx

from nnspec.backends import unsupported

SDPA = "mx.fast.scaled_dot_product_attention"


class Attention:
    UNSUPPORTED = {
        "scaled_dot_product_attention": [
            unsupported(f"{SDPA} has no dropout", dropout=lambda p: p != 0),
            unsupported(f"{SDPA} has no logit soft-capping", softcap=lambda c: c not in (None, 0)),
            unsupported(f"{SDPA} has no ALiBi", alibi=True),
            unsupported(f"{SDPA}'s mask is 'causal' or an array, not both",
                        where=lambda p: p["causal"] and p["use_mask"]),
            unsupported(f"{SDPA}'s causal mask has no offset", where=lambda p: p["causal"] and p["causal_offset"] != 0),
        ],
        "multi_head_attention": "not written in this example (mlx.nn.MultiHeadAttention exists: weight layouts to map)",
        "transformer_block": "not written in this example (mlx.nn.TransformerEncoderLayer exists)",
        "sinusoidal_positional_encoding": "not written in this example (mlx.nn.SinusoidalPositionalEncoding's "
                                          "layout of sin and cos columns differs)",
        "rotary_embedding": "mx.fast.rope takes an offset, not arbitrary positions",
    }

    def scaled_dot_product_attention(self, query, key, value, mask, use_mask, scale, causal, dropout, softcap,
                                     causal_offset, alibi):
        # MLX's scale has no default: the spec's None is 1/√d_k, the value every framework defaults to
        scale = query.shape[-1] ** -0.5 if scale is None else scale
        native_mask = "causal" if causal else (mask if use_mask else None)
        return mx.fast.scaled_dot_product_attention(query, key, value, scale=scale, mask=native_mask)

    def layer_norm(self, x, weight, bias, epsilon, affine):
        return mx.fast.layer_norm(x, weight if affine else None, bias if affine else None, eps=epsilon)

    def rms_norm(self, x, weight, epsilon):
        return mx.fast.rms_norm(x, weight, eps=epsilon)

    # mx.fast.layer_norm takes its weight and bias as they are: the native layout is the spec's arrays
    def to_native_layout(self, op, weights, params):
        if op == "layer_norm":
            return {name: self.asarray(array, "cpu") for name, array in weights.items()}
        return super().to_native_layout(op, weights, params)

    def from_native_layout(self, op, native, params):
        if op == "layer_norm":
            return {name: self.to_numpy(array) for name, array in native.items()}
        return super().from_native_layout(op, native, params)
