"""Torch adapter, attention: F.scaled_dot_product_attention, MultiheadAttention, layer_norm, TransformerEncoderLayer,
F.rms_norm and torch.onnx.ops.rotary_embedding.

Layers run through ``torch.func.functional_call`` with the spec's weights mapped into
the module's own parameters, so autograd reaches every spec weight.

Weight layout (spec → torch). torch.nn.Linear stores W (out, in) and computes xWᵀ, the
spec's x W with W (in, out): every projection is transposed. nn.MultiheadAttention packs
the three input projections into ``in_proj_weight`` = [W_Qᵀ; W_Kᵀ; W_Vᵀ] (3E, E) when key
and value have the query's width (else ``q_proj_weight``, ``k_proj_weight``,
``v_proj_weight``), their biases always into ``in_proj_bias`` = [b_Q; b_K; b_V];
``out_proj.weight`` = W_Oᵀ. TransformerEncoderLayer holds that attention as ``self_attn``,
``linear1``/``linear2`` (W₁ᵀ, W₂ᵀ) and ``norm1``/``norm2`` (LN₁ after attention, LN₂
after the feed-forward layer).

Masks. torch's boolean masks in nn.MultiheadAttention mean True = masked (the spec's
True = attend is inverted); a (B, 1, S) spec mask is its ``key_padding_mask``, a
(B, L, S) one its ``attn_mask`` repeated per head. nn.MultiheadAttention takes no causal
flag of its own (``is_causal`` is a hint that attn_mask is causal), and
F.scaled_dot_product_attention refuses ``is_causal`` beside an explicit mask: there the
causal mask is built as torch documents it, ``ones(L, S).tril()``; with a key/value-cache
offset P (``causal_offset``) as ``ones(L, S).tril(diagonal=P)``, torch having no offset
flag of its own (``torch.nn.attention.bias.causal_lower_right`` is the one offset S − L).

Grouped-query attention: F.scaled_dot_product_attention takes key/value with fewer heads
under ``enable_gqa=True`` (repeat_interleave, the spec's grouping); nn.MultiheadAttention
has no key/value head count, so ``num_kv_heads`` ≠ ``num_heads`` is Unsupported there.
Neither has logit soft-capping or ALiBi (``softcap``, ``alibi``: Unsupported; only
flex_attention's ``score_mod`` would take them, as a formula written by the caller).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call
from torch.onnx import ops as onnx_ops

from ..base import Unsupported, composed, same, unsupported


def given(value):
    """A mask argument's default in spec vocabulary (use_mask): None is no mask."""
    return value is not None


MHA_FORWARD = torch.nn.MultiheadAttention.forward
ENCODER = torch.nn.TransformerEncoderLayer
PROJECTIONS = ("w_q", "b_q", "w_k", "b_k", "w_v", "b_v", "w_o", "b_o")
BLOCK_WEIGHTS = PROJECTIONS + ("ln1_weight", "ln1_bias", "w_1", "b_1", "w_2", "b_2", "ln2_weight", "ln2_bias")

# RMS norm: F.rms_norm's eps=None is "torch.finfo(x.dtype).eps" of the dtype it computes in: float64's for
# float64, float32's (1.19e-7) for float32 and for float16/bfloat16, which it computes in float32.
#
# Rotary: torch's one rotary op is torch.onnx.ops.rotary_embedding, the ONNX RotaryEmbedding operator (opset 23)
# run eagerly. It rotates; the cos and sin of the angles are its inputs (``cos_cache``, ``sin_cache``), which the
# ONNX operator leaves to its caller: the adapter builds them (composed), the rotation is torch's. Its layout is
# (B, H, L, d) (the spec's (B, L, H, d)); ``interleaved`` defaults to False, the half-split pairs.
ROTARY_PAIRS = {"interleaved": True, "half": False}  # spec pairs -> the ONNX op's ``interleaved``


def causal_keys(queries, keys, device, offset=0):
    """True where query i may attend key j ≤ i + offset: torch's documented ones(L, S).tril(diagonal=offset)."""
    return torch.ones(queries, keys, dtype=torch.bool, device=device).tril(diagonal=offset)


def attention_parameters(w, packed, prefix=""):
    """Spec projections (dict) -> nn.MultiheadAttention parameters (transposed, packed when widths agree)."""
    if packed:
        native = {"in_proj_weight": torch.cat([w["w_q"].T, w["w_k"].T, w["w_v"].T])}
    else:
        native = {"q_proj_weight": w["w_q"].T, "k_proj_weight": w["w_k"].T, "v_proj_weight": w["w_v"].T}
    native.update({"in_proj_bias": torch.cat([w["b_q"], w["b_k"], w["b_v"]]), "out_proj.weight": w["w_o"].T,
                   "out_proj.bias": w["b_o"]})
    return {prefix + name: value for name, value in native.items()}


def spec_projections(native, prefix=""):
    """nn.MultiheadAttention parameters -> the spec's projections, the inverse of attention_parameters."""
    native = {name[len(prefix):]: value for name, value in native.items() if name.startswith(prefix)}
    if native.get("in_proj_weight") is not None:
        w_q, w_k, w_v = native["in_proj_weight"].chunk(3)
    else:
        w_q, w_k, w_v = native["q_proj_weight"], native["k_proj_weight"], native["v_proj_weight"]
    b_q, b_k, b_v = native["in_proj_bias"].chunk(3)
    return {"w_q": w_q.T, "b_q": b_q, "w_k": w_k.T, "b_k": b_k, "w_v": w_v.T, "b_v": b_v,
            "w_o": native["out_proj.weight"].T, "b_o": native["out_proj.bias"]}


def block_parameters(w):
    native = attention_parameters(w, packed=True, prefix="self_attn.")
    native.update({"linear1.weight": w["w_1"].T, "linear1.bias": w["b_1"], "linear2.weight": w["w_2"].T,
                   "linear2.bias": w["b_2"], "norm1.weight": w["ln1_weight"], "norm1.bias": w["ln1_bias"],
                   "norm2.weight": w["ln2_weight"], "norm2.bias": w["ln2_bias"]})
    return native


def spec_block(native):
    weights = spec_projections(native, prefix="self_attn.")
    weights.update({"w_1": native["linear1.weight"].T, "b_1": native["linear1.bias"],
                    "w_2": native["linear2.weight"].T, "b_2": native["linear2.bias"],
                    "ln1_weight": native["norm1.weight"], "ln1_bias": native["norm1.bias"],
                    "ln2_weight": native["norm2.weight"], "ln2_bias": native["norm2.bias"]})
    return weights


def masked_per_head(mask, heads):
    """A spec (B|1, L, S) mask (True = attend) as torch's attn_mask: True = masked, (L, S) or (B·H, L, S)."""
    masked = ~mask
    return masked[0] if masked.shape[0] == 1 else masked.repeat_interleave(heads, dim=0)


class Attention:
    UNSUPPORTED = {
        "scaled_dot_product_attention": [
            unsupported("torch's F.scaled_dot_product_attention has no logit soft-capping (softcap)",
                        softcap=lambda cap: bool(cap)),
            unsupported("torch's F.scaled_dot_product_attention has no ALiBi (alibi=True)", alibi=True),
        ],
        "multi_head_attention": unsupported(
            "torch.nn.MultiheadAttention has no grouped-query attention (num_kv_heads)",
            where=lambda p: p["num_kv_heads"] not in (None, p["num_heads"])),
    }
    NATIVE_DEFAULTS = {
        "scaled_dot_product_attention": {
            "use_mask": (F.scaled_dot_product_attention, "attn_mask", given),
            "scale": (F.scaled_dot_product_attention, "scale", same),
            "causal": (F.scaled_dot_product_attention, "is_causal", same),
            "dropout": (F.scaled_dot_product_attention, "dropout_p", same),
            # softcap, causal_offset, alibi: no native keyword (see the module docstring)
        },
        "multi_head_attention": {
            "use_mask": (MHA_FORWARD, "attn_mask", given),
            "causal": (MHA_FORWARD, "is_causal", same),
            "bias": (torch.nn.MultiheadAttention, "bias", same),
            "dropout": (torch.nn.MultiheadAttention, "dropout", same),
        },
        "layer_norm": {
            "epsilon": (torch.nn.LayerNorm, "eps", same),
            "affine": (torch.nn.LayerNorm, "elementwise_affine", same),
        },
        "transformer_block": {
            "use_mask": (ENCODER.forward, "src_mask", given),
            "norm_first": (ENCODER, "norm_first", same),
            "epsilon": (ENCODER, "layer_norm_eps", same),
            "dropout": (ENCODER, "dropout", same),
        },
    }

    def scaled_dot_product_attention(self, query, key, value, mask, use_mask, scale, causal, dropout, softcap,
                                     causal_offset, alibi):
        attn_mask = mask if use_mask else None
        if causal and (use_mask or causal_offset):
            allowed = causal_keys(query.shape[-2], key.shape[-2], query.device, causal_offset)
            if attn_mask is None:
                attn_mask = allowed
            else:
                attn_mask = mask & allowed if mask.dtype == torch.bool else mask.masked_fill(~allowed, float("-inf"))
            causal = False
        return F.scaled_dot_product_attention(query, key, value, attn_mask=attn_mask, dropout_p=dropout,
                                              is_causal=causal, scale=scale,
                                              enable_gqa=key.shape[-3] != query.shape[-3])

    def multi_head_attention(self, query, key, value, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, mask, num_heads,
                             use_mask, causal, bias, dropout, num_kv_heads):
        weights = dict(zip(PROJECTIONS, (w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o)))
        module = self._mha_module(weights, num_heads, bias, dropout)
        padding = attn_mask = None
        if use_mask and mask.shape[1] == 1:
            padding = ~mask[:, 0]
        elif use_mask:
            attn_mask = masked_per_head(mask, num_heads)
        if causal:
            forbidden = ~causal_keys(query.shape[1], key.shape[1], query.device)
            attn_mask = forbidden if attn_mask is None else attn_mask | forbidden
        parameters = attention_parameters(weights, module.in_proj_weight is not None)
        return functional_call(module, parameters, (query, key, value),
                               dict(key_padding_mask=padding, attn_mask=attn_mask, need_weights=True,
                                    average_attn_weights=False))

    @composed
    def sinusoidal_positional_encoding(self, positions, d_model, base):
        columns = torch.arange(d_model, device=positions.device)
        exponents = (2 * (columns // 2)).to(positions.dtype) / d_model
        angles = positions[..., None] / torch.pow(torch.tensor(base, dtype=positions.dtype), exponents)
        return torch.where(columns % 2 == 0, torch.sin(angles), torch.cos(angles))

    def layer_norm(self, x, weight, bias, epsilon, affine):
        return F.layer_norm(x, x.shape[-1:], weight if affine else None, bias if affine else None, eps=epsilon)

    def transformer_block(self, x, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, ln1_weight, ln1_bias, w_1, b_1, w_2, b_2,
                          ln2_weight, ln2_bias, mask, num_heads, use_mask, norm_first, epsilon, dropout):
        weights = dict(zip(BLOCK_WEIGHTS, (w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, ln1_weight, ln1_bias, w_1, b_1,
                                           w_2, b_2, ln2_weight, ln2_bias)))
        module = self._encoder_module(weights, num_heads, norm_first, epsilon, dropout)
        src_mask = masked_per_head(mask, num_heads) if use_mask else None
        return functional_call(module, block_parameters(weights), (x,), dict(src_mask=src_mask))

    # modules and weight layouts ----------------------------------------------------------

    def _mha_module(self, w, heads, bias, dropout):
        embed, kdim, vdim = w["w_q"].shape[0], w["w_k"].shape[0], w["w_v"].shape[0]
        key = ("mha", embed, kdim, vdim, heads, bias, dropout, w["w_q"].dtype, w["w_q"].device)
        return self._attention_cache(key, lambda: torch.nn.MultiheadAttention(
            embed, heads, dropout=dropout, bias=bias, kdim=kdim, vdim=vdim, batch_first=True,
            dtype=w["w_q"].dtype, device=w["w_q"].device))

    def _encoder_module(self, w, heads, norm_first, epsilon, dropout):
        d_model, d_ff = w["w_1"].shape
        key = ("encoder", d_model, d_ff, heads, norm_first, epsilon, dropout, w["w_1"].dtype, w["w_1"].device)
        return self._attention_cache(key, lambda: torch.nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=d_ff, dropout=dropout, activation="relu", layer_norm_eps=epsilon,
            batch_first=True, norm_first=norm_first, dtype=w["w_1"].dtype, device=w["w_1"].device))

    def _attention_cache(self, key, make):
        """One module per configuration, in eval mode (its initial weights are replaced on every call)."""
        modules = self.__dict__.setdefault("_attention_modules", {})
        if key not in modules:
            modules[key] = make().eval()
        return modules[key]

    def to_native_layout(self, op, weights, params):
        tensors = {name: self.asarray(array, "cpu") for name, array in weights.items()}
        if op == "multi_head_attention":
            if params.get("num_kv_heads") not in (None, params["num_heads"]):
                raise Unsupported("torch.nn.MultiheadAttention has no grouped-query attention (num_kv_heads)")
            module = self._mha_module(tensors, params["num_heads"], params["bias"], params["dropout"])
            native = attention_parameters(tensors, module.in_proj_weight is not None)
        elif op == "transformer_block":
            module = self._encoder_module(tensors, params["num_heads"], params["norm_first"], params["epsilon"],
                                          params["dropout"])
            native = block_parameters(tensors)
        elif op == "layer_norm":
            module = torch.nn.LayerNorm(tensors["weight"].shape, eps=params["epsilon"], dtype=tensors["weight"].dtype)
            native = {"weight": tensors["weight"], "bias": tensors["bias"]}
        else:
            return super().to_native_layout(op, weights, params)
        module.load_state_dict(native, strict=True)
        return module

    def from_native_layout(self, op, native, params):
        state = native.state_dict()
        if op == "multi_head_attention":
            weights = spec_projections(state)
        elif op == "transformer_block":
            weights = spec_block(state)
        elif op == "layer_norm":
            weights = {"weight": state["weight"], "bias": state["bias"]}
        else:
            return super().from_native_layout(op, native, params)
        return {name: self.to_numpy(tensor.contiguous()) for name, tensor in weights.items()}


    # RMS normalization and rotary position embeddings (their own block, merged into the family's defaults) --------

    NATIVE_DEFAULTS = {
        **NATIVE_DEFAULTS,
        "rms_norm": {"epsilon": (F.rms_norm, "eps", same)},
        "rotary_embedding": {"pairs": (onnx_ops.rotary_embedding, "interleaved",
                                       {native: spec for spec, native in ROTARY_PAIRS.items()}.__getitem__)},
    }

    def rms_norm(self, x, weight, epsilon):
        return F.rms_norm(x, x.shape[-1:], weight, eps=epsilon)

    @composed
    def rotary_embedding(self, x, positions, base, pairs):
        """The caches as Llama's ports build them: angles in float32 at least, cos and sin cast to x's dtype."""
        half, work = x.shape[-1] // 2, torch.promote_types(x.dtype, torch.float32)
        frequencies = torch.pow(torch.tensor(base, dtype=work, device=x.device),
                                -(2 * torch.arange(half, device=x.device)).to(work) / (2 * half))
        angles = (positions.to(work)[:, None] * frequencies).expand(x.shape[0], -1, -1)  # (B, L, d/2)
        out = onnx_ops.rotary_embedding(x.transpose(1, 2), torch.cos(angles).to(x.dtype),
                                        torch.sin(angles).to(x.dtype), interleaved=ROTARY_PAIRS[pairs])
        return out.transpose(1, 2)
