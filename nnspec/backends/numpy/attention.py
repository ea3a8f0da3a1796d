"""Numpy adapter, attention: the spec's attention, encoding and normalization formulas in the input's dtype."""

from __future__ import annotations

from ...spec import attention as A
from ...spec import encoding as E
from ...spec import normalization as N
from .formulas import in_dtype


class Attention:

    def scaled_dot_product_attention(self, query, key, value, mask, use_mask, scale, causal, dropout, softcap,
                                     causal_offset, alibi):
        return in_dtype(A.scaled_dot_product_attention, query, key, value, mask, use_mask=use_mask, scale=scale,
                        causal=causal, dropout=dropout, softcap=softcap, causal_offset=causal_offset, alibi=alibi)

    def multi_head_attention(self, query, key, value, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, mask, num_heads,
                             use_mask, causal, bias, dropout, num_kv_heads):
        return in_dtype(A.multi_head_attention, query, key, value, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, mask,
                        num_heads=num_heads, use_mask=use_mask, causal=causal, bias=bias, dropout=dropout,
                        num_kv_heads=num_kv_heads)

    def sinusoidal_positional_encoding(self, positions, d_model, base):
        return in_dtype(E.sinusoidal_positional_encoding, positions, d_model=d_model, base=base)

    def layer_norm(self, x, weight, bias, epsilon, affine):
        return in_dtype(N.layer_norm, x, weight, bias, epsilon=epsilon, affine=affine)

    def transformer_block(self, x, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, ln1_weight, ln1_bias, w_1, b_1, w_2, b_2,
                          ln2_weight, ln2_bias, mask, num_heads, use_mask, norm_first, epsilon, dropout):
        return in_dtype(A.transformer_block, x, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, ln1_weight, ln1_bias, w_1,
                        b_1, w_2, b_2, ln2_weight, ln2_bias, mask, num_heads=num_heads, use_mask=use_mask,
                        norm_first=norm_first, epsilon=epsilon, dropout=dropout)

    # RMS normalization and rotary position embeddings ------------------------------------------------------------

    def rms_norm(self, x, weight, epsilon):
        return in_dtype(N.rms_norm, x, weight, epsilon=epsilon)

    def rotary_embedding(self, x, positions, base, pairs):
        return in_dtype(E.rotary_embedding, x, positions, base=base, pairs=pairs)
