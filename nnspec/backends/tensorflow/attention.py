"""Tensorflow adapter, attention: keras.ops.dot_product_attention, MultiHeadAttention, LayerNormalization.

Layers run through ``layer.stateless_call`` with the spec's weights as their variables'
values, so tf.GradientTape reaches every spec weight.

Weight layout (spec → Keras). Keras' EinsumDense kernels keep the spec's right-multiplied
orientation with the head axis split out: ``query``/``key``/``value`` kernel (E_in, H, d)
is W_Q/W_K/W_V reshaped, their bias (H, d); ``attention_output`` kernel (H, d, E) is W_O
reshaped. LayerNormalization's ``gamma`` is γ and ``beta`` β; Dense's kernel (in, out)
is the spec's W₁/W₂ as is. Variables are matched by the last two parts of their path.

Masks: Keras takes True = attend, the spec's own convention, as ``attention_mask``
(B, L, S). Keras' layout is (B, L, H, d), the spec's (B, H, L, d): transposed on the way
in and out of keras.ops.dot_product_attention.

Grouped-query attention: keras.ops.dot_product_attention takes key/value with fewer heads
(``ops.repeat`` along the head axis, the spec's h // (H/K)); ``num_kv_heads`` ≠
``num_heads`` runs keras.layers.GroupQueryAttention (its key/value kernels (E_kv, K, d)),
else MultiHeadAttention. Keras' causal masks are top-left only: a key/value-cache offset
(``causal_offset`` ≠ 0) is Unsupported. ``attn_logits_soft_cap`` exists but Keras refuses it
except for JAX on TPU (``softcap``: Unsupported here); Keras has no ALiBi (``alibi``: Unsupported).
"""

from __future__ import annotations

import keras
from keras import ops

from ..base import composed, same, unsupported
from ..binding import bind

PROJECTIONS = ("w_q", "b_q", "w_k", "b_k", "w_v", "b_v", "w_o", "b_o")
BLOCK_WEIGHTS = PROJECTIONS + ("ln1_weight", "ln1_bias", "w_1", "b_1", "w_2", "b_2", "ln2_weight", "ln2_bias")
MHA = keras.layers.MultiHeadAttention
GQA = keras.layers.GroupQueryAttention


def given(value):
    """A mask argument's default in spec vocabulary (use_mask): None is no mask."""
    return value is not None


def attention_variables(w, heads, kv_heads=None):
    """Spec projections -> MultiHeadAttention (or GroupQueryAttention, key/value with ``kv_heads`` heads)
    variables by path suffix (kernels with the head axis split out)."""
    features = w["w_q"].shape[1]
    split = (heads, features // heads)
    kv_split = (heads if kv_heads is None else kv_heads, features // heads)
    native = {}
    for name, short in (("query", "q"), ("key", "k"), ("value", "v")):
        kernel, shape = w[f"w_{short}"], split if short == "q" else kv_split
        native[f"{name}/kernel"] = ops.reshape(kernel, (kernel.shape[0], *shape))
        native[f"{name}/bias"] = ops.reshape(w[f"b_{short}"], shape)
    native["attention_output/kernel"] = ops.reshape(w["w_o"], (*split, w["w_o"].shape[1]))
    native["attention_output/bias"] = w["b_o"]
    return native


def spec_projections(native):
    """MultiHeadAttention variables -> the spec's projections, the inverse of attention_variables."""
    weights = {}
    for name, short in (("query", "q"), ("key", "k"), ("value", "v")):
        kernel = native[f"{name}/kernel"]
        weights[f"w_{short}"] = ops.reshape(kernel, (kernel.shape[0], -1))
        weights[f"b_{short}"] = ops.reshape(native[f"{name}/bias"], (-1,))
    kernel = native["attention_output/kernel"]
    weights["w_o"] = ops.reshape(kernel, (-1, kernel.shape[-1]))
    weights["b_o"] = native["attention_output/bias"]
    return weights


def norm_variables(weight, bias):
    return {"gamma": weight, "beta": bias}


def dense_variables(kernel, bias):
    return {"kernel": kernel, "bias": bias}


def suffix(variable, parts):
    return "/".join(variable.path.split("/")[-parts:])


def stateless(layer, values, *args, **kwargs):
    """``layer`` called with its variables set to ``values`` (matched by path suffix)."""
    parts = len(next(iter(values), "").split("/"))
    trainable = [values[suffix(v, parts)] for v in layer.trainable_variables]
    output, _ = layer.stateless_call(trainable, [], *args, **kwargs)
    return output


def assign(layer, values):
    parts = len(next(iter(values)).split("/"))
    for variable in layer.trainable_variables:
        variable.assign(values[suffix(variable, parts)])


def read(layer, parts):
    return {suffix(v, parts): v.value for v in layer.trainable_variables}


def broadcast_mask(mask, queries, keys):
    """A spec (B|1, L|1, S) mask as Keras' attention_mask (B, L, S) (the batch broadcast by Keras)."""
    return ops.broadcast_to(mask, (mask.shape[0], queries, keys))


class Attention:
    NATIVE_DEFAULTS = {
        "scaled_dot_product_attention": {
            "use_mask": (ops.dot_product_attention, "mask", given),
            "scale": (ops.dot_product_attention, "scale", same),
            "causal": (ops.dot_product_attention, "is_causal", same),
            "softcap": (ops.dot_product_attention, "attn_logits_soft_cap", same),
        },
        "multi_head_attention": {
            "use_mask": (MHA.call, "attention_mask", given),
            "causal": (MHA.call, "use_causal_mask", same),
            "bias": (MHA, "use_bias", same),
            "dropout": (MHA, "dropout", same),
        },
        "layer_norm": {
            "epsilon": (keras.layers.LayerNormalization, "epsilon", same),
            "affine": (keras.layers.LayerNormalization, "scale", same),
        },
        "transformer_block": {  # composed: the defaults of the Keras layers it is built from
            "epsilon": (keras.layers.LayerNormalization, "epsilon", same),
            "dropout": (MHA, "dropout", same),
        },
    }

    UNSUPPORTED = {"scaled_dot_product_attention": [
        unsupported("keras.ops.dot_product_attention takes attn_logits_soft_cap only for JAX on TPU",
                    softcap=lambda cap: bool(cap)),
        unsupported("keras.ops.dot_product_attention has no ALiBi (alibi=True)", alibi=True),
        unsupported("keras.ops.dot_product_attention's causal mask has no key/value-cache offset",
                    where=lambda p: p["causal"] and p["causal_offset"] != 0),
    ]}

    def scaled_dot_product_attention(self, query, key, value, mask, use_mask, scale, causal, dropout, softcap,
                                     causal_offset, alibi):
        boolean = use_mask and mask.dtype.is_bool
        out = ops.dot_product_attention(
            *(ops.swapaxes(t, 1, 2) for t in (query, key, value)), bias=mask if use_mask and not boolean else None,
            mask=mask if boolean else None, scale=scale, is_causal=causal)
        return ops.swapaxes(out, 1, 2)

    def multi_head_attention(self, query, key, value, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, mask, num_heads,
                             use_mask, causal, bias, dropout, num_kv_heads):
        weights = dict(zip(PROJECTIONS, (w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o)))
        layer = self._mha_layer(query.shape[-1], key.shape[-1], w_q.shape[1], num_heads, bias, dropout, query.dtype,
                                num_kv_heads)
        attention_mask = broadcast_mask(mask, query.shape[1], key.shape[1]) if use_mask else None
        return stateless(layer, attention_variables(weights, num_heads, num_kv_heads), query, value, key=key,
                         attention_mask=attention_mask, return_attention_scores=True, use_causal_mask=causal,
                         training=False)

    @composed
    def sinusoidal_positional_encoding(self, positions, d_model, base):
        columns = ops.arange(d_model)
        exponents = ops.cast(2 * (columns // 2), positions.dtype) / d_model
        angles = positions[..., None] / ops.power(ops.cast(base, positions.dtype), exponents)
        return ops.where(columns % 2 == 0, ops.sin(angles), ops.cos(angles))

    def layer_norm(self, x, weight, bias, epsilon, affine):
        layer = self._norm_layer(x.shape[-1], epsilon, affine, x.dtype)
        return stateless(layer, norm_variables(weight, bias) if affine else {}, x)

    @composed
    def transformer_block(self, x, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, ln1_weight, ln1_bias, w_1, b_1, w_2, b_2,
                          ln2_weight, ln2_bias, mask, num_heads, use_mask, norm_first, epsilon, dropout):
        """Vaswani's block from Keras' MultiHeadAttention, LayerNormalization and Dense (Keras has none of its own)."""
        w = dict(zip(BLOCK_WEIGHTS, (w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, ln1_weight, ln1_bias, w_1, b_1, w_2, b_2,
                                     ln2_weight, ln2_bias)))
        features, hidden = w_1.shape
        mha = self._mha_layer(features, features, features, num_heads, True, dropout, x.dtype)
        norm = self._norm_layer(features, epsilon, True, x.dtype)
        dense1 = self._dense_layer(features, hidden, "relu", x.dtype)
        dense2 = self._dense_layer(hidden, features, None, x.dtype)
        attention_mask = broadcast_mask(mask, x.shape[1], x.shape[1]) if use_mask else None

        def attend(a):
            return stateless(mha, attention_variables(w, num_heads), a, a, key=a, attention_mask=attention_mask,
                             training=False)

        def ffn(h):
            return stateless(dense2, dense_variables(w_2, b_2), stateless(dense1, dense_variables(w_1, b_1), h))

        def norm1(h):
            return stateless(norm, norm_variables(ln1_weight, ln1_bias), h)

        def norm2(h):
            return stateless(norm, norm_variables(ln2_weight, ln2_bias), h)

        if norm_first:
            h = x + attend(norm1(x))
            return h + ffn(norm2(h))
        h = norm1(x + attend(x))
        return norm2(h + ffn(h))

    # layers and weight layouts ------------------------------------------------------------

    def _mha_layer(self, query_dim, kv_dim, features, heads, bias, dropout, dtype, kv_heads=None):
        """MultiHeadAttention, or GroupQueryAttention when the key/value heads are fewer than the query's."""
        grouped = kv_heads not in (None, heads)

        def make():
            if grouped:
                layer = GQA(head_dim=features // heads, num_query_heads=heads, num_key_value_heads=kv_heads,
                            dropout=dropout, use_bias=bias, dtype=dtype.name)
            else:
                layer = MHA(num_heads=heads, key_dim=features // heads, value_dim=features // heads, dropout=dropout,
                            use_bias=bias, dtype=dtype.name)
            layer.build((1, 1, query_dim), (1, 1, kv_dim), (1, 1, kv_dim))
            return layer

        key = ("gqa" if grouped else "mha", query_dim, kv_dim, features, heads, kv_heads if grouped else heads, bias,
               dropout, dtype.name)
        return self._keras_cache(key, make)

    def _norm_layer(self, features, epsilon, affine, dtype):
        def make():
            layer = keras.layers.LayerNormalization(epsilon=epsilon, center=affine, scale=affine, dtype=dtype.name)
            layer.build((1, features))
            return layer

        return self._keras_cache(("norm", features, epsilon, affine, dtype.name), make)

    def _dense_layer(self, fan_in, fan_out, activation, dtype):
        def make():
            layer = keras.layers.Dense(fan_out, activation=activation, dtype=dtype.name)
            layer.build((1, fan_in))
            return layer

        return self._keras_cache(("dense", fan_in, fan_out, activation, dtype.name), make)

    def _keras_cache(self, key, make):
        layers = self.__dict__.setdefault("_attention_layers", {})
        if key not in layers:
            layers[key] = make()
        return layers[key]

    def to_native_layout(self, op, weights, params):
        """The Keras layer(s) built for op, their variables assigned from the spec's weights."""
        w = {name: self.asarray(array, "cpu") for name, array in weights.items()}
        if op == "multi_head_attention":
            features = w["w_q"].shape[1]
            kv_heads = params.get("num_kv_heads")
            layer = self._mha_layer(w["w_q"].shape[0], w["w_k"].shape[0], features, params["num_heads"],
                                    params["bias"], params["dropout"], w["w_q"].dtype, kv_heads)
            assign(layer, attention_variables(w, params["num_heads"], kv_heads))
            return layer
        if op == "layer_norm":
            layer = self._norm_layer(w["weight"].shape[0], params["epsilon"], params["affine"], w["weight"].dtype)
            assign(layer, norm_variables(w["weight"], w["bias"]))
            return layer
        if op == "transformer_block":
            features, hidden = w["w_1"].shape
            dtype = w["w_1"].dtype
            layers = {  # fresh layers: the block holds two norms and two dense layers of the same kind
                "attention": MHA(params["num_heads"], features // params["num_heads"], dtype=dtype.name),
                "norm1": keras.layers.LayerNormalization(epsilon=params["epsilon"], dtype=dtype.name),
                "dense1": keras.layers.Dense(hidden, activation="relu", dtype=dtype.name),
                "dense2": keras.layers.Dense(features, dtype=dtype.name),
                "norm2": keras.layers.LayerNormalization(epsilon=params["epsilon"], dtype=dtype.name),
            }
            layers["attention"].build((1, 1, features), (1, 1, features), (1, 1, features))
            for name, fan_in in (("norm1", features), ("dense1", features), ("dense2", hidden), ("norm2", features)):
                layers[name].build((1, fan_in))
            assign(layers["attention"], attention_variables(w, params["num_heads"]))
            assign(layers["norm1"], norm_variables(w["ln1_weight"], w["ln1_bias"]))
            assign(layers["dense1"], dense_variables(w["w_1"], w["b_1"]))
            assign(layers["dense2"], dense_variables(w["w_2"], w["b_2"]))
            assign(layers["norm2"], norm_variables(w["ln2_weight"], w["ln2_bias"]))
            return layers
        return super().to_native_layout(op, weights, params)

    def from_native_layout(self, op, native, params):
        if op == "multi_head_attention":
            weights = spec_projections(read(native, 2))
        elif op == "layer_norm":
            values = read(native, 1)
            weights = {"weight": values["gamma"], "bias": values["beta"]}
        elif op == "transformer_block":
            weights = spec_projections(read(native["attention"], 2))
            for norm, name in (("norm1", "ln1"), ("norm2", "ln2")):
                values = read(native[norm], 1)
                weights.update({f"{name}_weight": values["gamma"], f"{name}_bias": values["beta"]})
            for dense, name in (("dense1", "1"), ("dense2", "2")):
                values = read(native[dense], 1)
                weights.update({f"w_{name}": values["kernel"], f"b_{name}": values["bias"]})
        else:
            return super().from_native_layout(op, native, params)
        return {name: self.to_numpy(ops.convert_to_tensor(value)) for name, value in weights.items()}

    # RMS normalization (its own block). Keras 3 has no rotary embedding (it is keras_hub's RotaryEmbedding layer,
    # not Keras'): rotary_embedding is unsupported here. ------------------------------------------------------------

    BINDINGS = {  # x, weight -> rms_normalization(x, scale, axis=-1, epsilon=...): one native call
        # epsilon=None is keras.config.epsilon(), read when the op runs; the RMSNormalization layer's default is 1e-6
        "rms_norm": bind(ops.rms_normalization,
                         to_spec={"epsilon": lambda value: keras.config.epsilon() if value is None else value}),
    }
