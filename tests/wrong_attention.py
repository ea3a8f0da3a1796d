"""Deliberately wrong attention adapters: each breaks one thing the engine must catch and name.

They subclass the NumPy baseline (which passes the attention family in float64) and change
one op, forward and VJP alike (the baseline's VJP is the spec's VJP formula); the layout
case subclasses the torch adapter, the NumPy baseline having no native layout.
"""

from __future__ import annotations

import numpy as np

from nnspec.backends.numpy import NumpyBackend, in_dtype
from nnspec.spec import attention as A
from nnspec.spec import encoding as E
from nnspec.spec import normalization as N


class _Changed(NumpyBackend):
    """Runs ``op`` (and its VJP) as the spec with ``changes`` applied to its arguments."""

    op: str  # the op changed
    backward = None  # its spec VJP

    def change(self, inputs, params):
        return inputs, params

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        if op != self.op:
            return super().vjp(op, inputs, cotangent, params, wrt)
        inputs, params = self.change(list(inputs), dict(params))
        gradients = in_dtype(type(self).backward, *inputs, cotangent, **params)
        return tuple(gradients[i] for i in wrt) if isinstance(gradients, tuple) else gradients


class ScaleByDk(_Changed):
    """Scaled dot-product attention scaled by 1/d_k instead of 1/√d_k."""

    name = "scale-by-dk"
    op, backward = "scaled_dot_product_attention", A.scaled_dot_product_attention_vjp

    def change(self, inputs, params):
        if params["scale"] is None:
            params["scale"] = 1.0 / inputs[0].shape[-1]
        return inputs, params

    def scaled_dot_product_attention(self, query, key, value, mask, use_mask, scale, causal, dropout, softcap,
                                     causal_offset, alibi):
        params = {"use_mask": use_mask, "scale": scale, "causal": causal, "dropout": dropout, "softcap": softcap,
                  "causal_offset": causal_offset, "alibi": alibi}
        inputs, params = self.change([query, key, value, mask], params)
        return in_dtype(A.scaled_dot_product_attention, *inputs, **params)


class InvertedMask(_Changed):
    """Scaled dot-product attention reading a boolean mask as True = masked."""

    name = "inverted-mask"
    op, backward = "scaled_dot_product_attention", A.scaled_dot_product_attention_vjp

    def change(self, inputs, params):
        if inputs[3].dtype == bool:
            inputs[3] = ~inputs[3]
        return inputs, params

    def scaled_dot_product_attention(self, query, key, value, mask, use_mask, scale, causal, dropout, softcap,
                                     causal_offset, alibi):
        inputs, _ = self.change([query, key, value, mask], {})
        return in_dtype(A.scaled_dot_product_attention, *inputs, use_mask=use_mask, scale=scale, causal=causal,
                        dropout=dropout, softcap=softcap, causal_offset=causal_offset, alibi=alibi)


class ZeroedMaskedRows(_Changed):
    """Scaled dot-product attention that zeroes the weights of a query whose keys are all masked."""

    name = "zeroed-masked-rows"
    op, backward = "scaled_dot_product_attention", A.scaled_dot_product_attention_vjp

    def change(self, inputs, params):
        return inputs, {**params, "all_masked": "zeros"}

    def scaled_dot_product_attention(self, query, key, value, mask, use_mask, scale, causal, dropout, softcap,
                                     causal_offset, alibi):
        return in_dtype(A.scaled_dot_product_attention, query, key, value, mask, use_mask=use_mask, scale=scale,
                        causal=causal, dropout=dropout, softcap=softcap, causal_offset=causal_offset, alibi=alibi,
                        all_masked="zeros")


class NoCacheOffset(_Changed):
    """Scaled dot-product attention that ignores the key/value-cache offset: query i sees keys j ≤ i."""

    name = "no-cache-offset"
    op, backward = "scaled_dot_product_attention", A.scaled_dot_product_attention_vjp

    def change(self, inputs, params):
        return inputs, {**params, "causal_offset": 0}

    def scaled_dot_product_attention(self, query, key, value, mask, use_mask, scale, causal, dropout, softcap,
                                     causal_offset, alibi):
        params = {"use_mask": use_mask, "scale": scale, "causal": causal, "dropout": dropout, "softcap": softcap,
                  "causal_offset": causal_offset, "alibi": alibi}
        inputs, params = self.change([query, key, value, mask], params)
        return in_dtype(A.scaled_dot_product_attention, *inputs, **params)


def tiled(x, heads):
    """(…, K, S, d) -> (…, H, S, d) by tiling: query head h gets kv head h mod K (the wrong grouping)."""
    return np.tile(x, (1,) * (x.ndim - 3) + (heads // x.shape[-3], 1, 1))


class TiledKvHeads(_Changed):
    """Grouped-query attention whose key/value heads are tiled (kv head h mod K) instead of repeat-interleaved."""

    name = "tiled-kv-heads"
    op, backward = "scaled_dot_product_attention", A.scaled_dot_product_attention_vjp

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        if op != self.op:
            return super().vjp(op, inputs, cotangent, params, wrt)
        query, key, value, mask = inputs
        heads, kv_heads = query.shape[-3], key.shape[-3]
        gradients = in_dtype(A.scaled_dot_product_attention_vjp, query, tiled(key, heads), tiled(value, heads), mask,
                             cotangent, **params)
        def untile(d):  # the transpose of tiled: copy c of kv head k is head c·K + k
            return d.reshape(*d.shape[:-3], heads // kv_heads, kv_heads, *d.shape[-2:]).sum(axis=-4)

        gradients = (gradients[0], untile(gradients[1]), untile(gradients[2]))
        return tuple(gradients[i] for i in wrt)

    def scaled_dot_product_attention(self, query, key, value, mask, use_mask, scale, causal, dropout, softcap,
                                     causal_offset, alibi):
        heads = query.shape[-3]
        return in_dtype(A.scaled_dot_product_attention, query, tiled(key, heads), tiled(value, heads), mask,
                        use_mask=use_mask, scale=scale, causal=causal, dropout=dropout, softcap=softcap,
                        causal_offset=causal_offset, alibi=alibi)


class ConcatenatedEncoding(_Changed):
    """Sinusoidal encoding with all sines first, then all cosines."""

    name = "concatenated-encoding"
    op, backward = "sinusoidal_positional_encoding", E.sinusoidal_positional_encoding_vjp

    def change(self, inputs, params):
        return inputs, {**params, "layout": "concatenated"}

    def sinusoidal_positional_encoding(self, positions, d_model, base):
        return in_dtype(E.sinusoidal_positional_encoding, positions, d_model=d_model, base=base, layout="concatenated")


class EpsilonOutsideSqrt(_Changed):
    """Layer norm dividing by σ + ε."""

    name = "epsilon-outside-sqrt"
    op, backward = "layer_norm", N.layer_norm_vjp

    def change(self, inputs, params):
        return inputs, {**params, "epsilon_at": "outside_sqrt"}

    def layer_norm(self, x, weight, bias, epsilon, affine):
        return in_dtype(N.layer_norm, x, weight, bias, epsilon=epsilon, affine=affine, epsilon_at="outside_sqrt")


class AlwaysPreNorm(_Changed):
    """A transformer block that normalizes first whatever it is asked."""

    name = "always-pre-norm"
    op, backward = "transformer_block", A.transformer_block_vjp

    def change(self, inputs, params):
        return inputs, {**params, "norm_first": True}

    def transformer_block(self, *inputs, num_heads, use_mask, norm_first, epsilon, dropout):
        return in_dtype(A.transformer_block, *inputs, num_heads=num_heads, use_mask=use_mask, norm_first=True,
                        epsilon=epsilon, dropout=dropout)


def lossy_layout():
    """The torch adapter, except that W_O comes back from nn.MultiheadAttention through float32."""
    from nnspec.backends.torch import TorchBackend

    class LossyLayout(TorchBackend):
        name = "lossy-layout"

        def from_native_layout(self, op, native, params):
            weights = super().from_native_layout(op, native, params)
            if op == "multi_head_attention":
                weights["w_o"] = weights["w_o"].astype(np.float32).astype(weights["w_o"].dtype)
            return weights

    return LossyLayout()


def swapped_layout():
    """The torch adapter, except that it unpacks in_proj_weight as [W_K; W_Q; W_V]."""
    from nnspec.backends.torch import TorchBackend

    class SwappedLayout(TorchBackend):
        name = "swapped-layout"

        def from_native_layout(self, op, native, params):
            weights = super().from_native_layout(op, native, params)
            if op == "multi_head_attention" and native.in_proj_weight is not None:
                weights["w_q"], weights["w_k"] = weights["w_k"], weights["w_q"]
            return weights

    return SwappedLayout()


class RmsEpsilonOutsideSqrt(_Changed):
    """RMS norm dividing by √mean(x²) + ε (Zhang & Sennrich's code) where the spec says √(mean(x²) + ε)."""

    name = "rms-epsilon-outside-sqrt"
    op, backward = "rms_norm", N.rms_norm_vjp

    def change(self, inputs, params):
        return inputs, {**params, "epsilon_at": "outside_sqrt"}

    def rms_norm(self, x, weight, epsilon):
        return in_dtype(N.rms_norm, x, weight, epsilon=epsilon, epsilon_at="outside_sqrt")


class RmsOverTheWrongAxis(_Changed):
    """RMS norm taking mean(x²) over the first axis instead of the last (no variant reproduces it)."""

    name = "rms-wrong-axis"
    op, backward = "rms_norm", N.rms_norm_vjp

    def rms_norm(self, x, weight, epsilon):
        moved = np.moveaxis(x, 0, -1)
        if moved.shape[-1] != weight.shape[0]:  # a square matrix would let the weight broadcast: keep the shape
            scale = in_dtype(N.rms_norm, moved, np.ones(moved.shape[-1], x.dtype), epsilon=epsilon)
            return np.moveaxis(scale, -1, 0) * weight
        return np.moveaxis(in_dtype(N.rms_norm, moved, weight, epsilon=epsilon), -1, 0)


class HalfSplitRotary(_Changed):
    """Rotary embedding rotating (x_i, x_{i+d/2}) (GPT-NeoX's rotate-half) whatever pairing it is asked for."""

    name = "half-split-rotary"
    op, backward = "rotary_embedding", E.rotary_embedding_vjp

    def change(self, inputs, params):
        return inputs, {**params, "pairs": "half"}

    def rotary_embedding(self, x, positions, base, pairs):
        return in_dtype(E.rotary_embedding, x, positions, base=base, pairs="half")


class TiledKvHeadsMHA(_Changed):
    """Grouped-query multi-head attention whose key/value heads are tiled (query head h reads kv head h mod K):
    the spec's multi-head attention on key/value projections widened to H heads by tiling their head columns."""

    name = "tiled-kv-heads-mha"
    op, backward = "multi_head_attention", A.multi_head_attention_vjp

    @staticmethod
    def widen(w, heads, kv_heads):
        """(…, K·d) -> (…, H·d): head column block h is kv block h mod K."""
        d = w.shape[-1] // kv_heads
        blocks = [w[..., (h % kv_heads) * d:(h % kv_heads + 1) * d] for h in range(heads)]
        return np.concatenate(blocks, axis=-1)

    @staticmethod
    def narrow(dw, heads, kv_heads):
        """The transpose of widen: each kv block's tiled copies summed."""
        d = dw.shape[-1] // heads
        return np.concatenate([sum(dw[..., h * d:(h + 1) * d] for h in range(k, heads, kv_heads))
                               for k in range(kv_heads)], axis=-1)

    def _widened(self, inputs, params):
        heads, kv_heads = params["num_heads"], A.kv_heads_of(params["num_heads"], params["num_kv_heads"])
        inputs = list(inputs)
        for i in (5, 6, 7, 8):  # w_k, b_k, w_v, b_v
            inputs[i] = self.widen(inputs[i], heads, kv_heads)
        return inputs, {**params, "num_kv_heads": None}, heads, kv_heads

    def vjp(self, op, inputs, cotangent, params, wrt=0):
        if op != self.op:
            return super().vjp(op, inputs, cotangent, params, wrt)
        inputs, params, heads, kv_heads = self._widened(inputs, params)
        gradients = list(in_dtype(A.multi_head_attention_vjp, *inputs, cotangent, **params))
        for i in (5, 6, 7, 8):
            gradients[i] = self.narrow(gradients[i], heads, kv_heads)
        return tuple(gradients[i] for i in wrt)

    def multi_head_attention(self, query, key, value, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, mask, num_heads,
                             use_mask, causal, bias, dropout, num_kv_heads):
        params = {"num_heads": num_heads, "use_mask": use_mask, "causal": causal, "bias": bias, "dropout": dropout,
                  "num_kv_heads": num_kv_heads}
        inputs, params, _, _ = self._widened([query, key, value, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, mask], params)
        return in_dtype(A.multi_head_attention, *inputs, **params)
