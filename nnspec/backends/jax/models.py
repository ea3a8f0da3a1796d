"""Jax adapter, models: the six seed models (nnspec/spec/models.py) as flax.linen modules of flax's own layers.

Each model is one ``nn.Module`` (nn.Dense, nn.Conv, nn.BatchNorm, nn.max_pool, nn.Dropout, nn.Embed, nn.RNN over
nn.LSTMCell / nn.GRUCell, the attention family's ``Block`` of nn.MultiHeadDotProductAttention + nn.LayerNorm +
nn.Dense) and optax's losses. The canonical weights map into flax's parameter tree through the families' own
mappings (``layers.LAYOUT`` kernels, the recurrent mixin's ``_native``, the attention family's
``block_parameters``) as jnp ops, so ``jax.value_and_grad`` of the loss differentiates through the mapping back to
the canonical weights (``model_forward``). ``model_train`` steps flax's own parameter tree with ``optax.sgd`` /
``optax.adam`` and maps every step back through the inverse mappings. One jit per model, dtype and mode (shapes
are fixed per model). The settings that make a model agree are ``MODEL_SETTINGS``: data, and the ones used here.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ...spec import models as M
from ...spec.models import Setting
from ...spec.recurrent import disassemble
from ..layouts import SPEC, convert
from .attention import Block, block_parameters, spec_block
from .layers import LAYOUT
from .recurrent import LAYOUTS as RECURRENT, _flatten

BN_MOMENTUM = 1.0 - M.BN["momentum"]  # flax's momentum is the old statistic's weight
FAST_VARIANCE = False  # the setting _VARIANCE states; True measures flax's default

_BN = Setting("flax.linen.BatchNorm(momentum=0.9, epsilon=1e-5, use_fast_variance=False)", "bn1, bn2",
              "flax's momentum weights the old running statistic (torch's 0.1 is flax's 0.9); default epsilon "
              "1e-5 agrees; use_fast_variance=True (the default) computes E[x^2] - E[x]^2")
_POOL = Setting("flax.linen.max_pool(x, (2, 2), strides=(2, 2))", "pool1, pool2",
                "flax's pools default to strides (1, 1), torch's and Keras' to the window")
_FLATTEN = Setting("jnp.transpose(x, (0, 3, 1, 2)).reshape(B, -1) before the Dense", "flatten",
                   "flax is NHWC: x.reshape(B, -1) orders (H, W, C), torch's Linear after Flatten reads (C, H, W)")
_DROPOUT = Setting("flax.linen.Dropout(0.5, deterministic=True)", "dropout",
                   "no way to share torch's mask: the deterministic checks run dropout off")
_LSTM = Setting("flax.linen.RNN(flax.linen.LSTMCell(8)) twice, the second's carry (c, h)[1] as its output",
                "lstm1, lstm2", "flax's LSTMCell keeps the bias on its recurrent Denses (hi, hf, hg, ho): torch's "
                "b_ih + b_hh is one flax bias (sum them when porting)")
_GRU = Setting("flax.linen.RNN(flax.linen.GRUCell(8))", "gru1",
               "flax keeps the old state with z (h' = (1-z)*n + z*h): torch's z rows negated; the n bias on the "
               "input Dense 'in', b_hn on 'hn'; r and z one bias each (torch: two)")
_BLOCK = Setting("MultiHeadDotProductAttention(num_heads=2, qkv_features=8) + LayerNorm(epsilon=1e-5) + "
                 "Dense(16) relu Dense(8), post-norm", "block",
                 "flax has no encoder block; its LayerNorm default epsilon 1e-6; q/k/v kernels (E, heads, head_dim)")
_PE = Setting("the sinusoidal table written with jnp (no flax layer)", "encoding",
              "interleaved sin/cos columns (Vaswani), as the spec")
_X64 = Setting("jax.config.update(\"jax_enable_x64\", True) and param_dtype=dtype=jnp.float64 on every layer", "*",
               "without x64 every array is float32 whatever is asked; flax layers' param_dtype default is float32")
_LOSS = Setting("optax.losses.<loss>(logits, y).mean() on a last layer without activation", "loss",
                "optax's losses take logits (sigmoid_binary_cross_entropy, softmax_cross_entropy)")
_OPT = Setting("optax.sgd(lr, momentum=0.9) / optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8)", "optimizer",
               "optax's defaults are the textbook forms (eps outside the root, bias-corrected): no extra setting")

_TRAIN = (_X64, _LOSS, _OPT)
MODEL_SETTINGS = {
    "mlp": _TRAIN,
    "cnn": (_BN, _POOL, _FLATTEN, _DROPOUT) + _TRAIN,
    "resnet_block": _TRAIN,
    "lstm_classifier": (_LSTM,) + _TRAIN,
    "gru_regressor": (_GRU,) + _TRAIN,
    "transformer_encoder": (_BLOCK, _PE) + _TRAIN,
}
MODEL_RESIDUALS = {
    "cnn": ("flax.linen.BatchNorm updates the running variance with the biased batch variance (torch and the spec: "
            "unbiased, n/(n-1)); no setting: bn1's running_var differs by 0.1*var/255, bn2's by 0.1*var/63 per "
            "step",),
    "*": ("a parameter whose true gradient is zero (conv biases before batch norm, the key bias b_k) gets rounding "
          "noise as its gradient; Adam turns it into steps of up to lr each",),
}


class _Model(nn.Module):
    model_id: str
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x, training, pe=None):
        d = dict(dtype=self.dtype, param_dtype=self.dtype)
        m, acts = self.model_id, {}
        if m == "mlp":
            h = acts["dense1"] = nn.relu(nn.Dense(64, name="dense1", **d)(x))
            h = acts["dense2"] = nn.relu(nn.Dense(32, name="dense2", **d)(h))
            h = acts["dense3"] = nn.Dense(1, name="dense3", **d)(h)
        elif m == "cnn":
            h = convert(x, SPEC["image"], LAYOUT["image"])
            for i, c in ((1, 4), (2, 8)):
                h = nn.Conv(c, (3, 3), padding="SAME", name=f"conv{i}", **d)(h)
                acts[f"conv{i}"] = h
                h = nn.relu(nn.BatchNorm(use_running_average=not training, momentum=BN_MOMENTUM,
                                         epsilon=M.BN["epsilon"], use_fast_variance=FAST_VARIANCE, name=f"bn{i}",
                                         **d)(h))
                acts[f"bn{i}"] = h
                h = nn.max_pool(h, (2, 2), strides=(2, 2))
                acts[f"pool{i}"] = h
            h = acts["flatten"] = jnp.transpose(h, (0, 3, 1, 2)).reshape(h.shape[0], -1)
            h = acts["dense1"] = nn.relu(nn.Dense(16, name="dense1", **d)(h))
            h = nn.Dropout(0.5, deterministic=True)(h)
            h = acts["dense2"] = nn.Dense(M.CLASSES, name="dense2", **d)(h)
        elif m == "resnet_block":
            xi = convert(x, SPEC["image"], LAYOUT["image"])
            a1 = acts["conv1"] = nn.relu(nn.Conv(4, (3, 3), padding="SAME", name="conv1", **d)(xi))
            a2 = acts["conv2"] = nn.Conv(4, (3, 3), padding="SAME", name="conv2", **d)(a1)
            s = acts["shortcut"] = nn.Conv(4, (1, 1), padding="SAME", name="shortcut", **d)(xi)
            h = acts["add"] = nn.relu(a2 + s)
            h = acts["pool"] = jnp.mean(h, axis=(1, 2))
            h = acts["dense"] = nn.Dense(M.CLASSES, name="dense", **d)(h)
        elif m == "lstm_classifier":
            h = acts["embedding"] = nn.Embed(M.VOCAB, 8, name="embedding", **d)(x.astype(jnp.int32))
            h = acts["lstm1"] = nn.RNN(nn.LSTMCell(8, parent=None, **d), name="lstm1")(h)
            (_, h), _ = nn.RNN(nn.LSTMCell(8, parent=None, **d), return_carry=True, name="lstm2")(h)
            acts["lstm2"] = h
            h = acts["dense"] = nn.Dense(M.CLASSES, name="dense", **d)(h)
        elif m == "gru_regressor":
            h, _ = nn.RNN(nn.GRUCell(8, parent=None, **d), return_carry=True, name="gru1")(x)
            acts["gru1"] = h
            h = acts["dense"] = nn.Dense(1, name="dense", **d)(h)
        else:
            e = acts["embedding"] = nn.Embed(M.VOCAB, 8, name="embedding", **d)(x.astype(jnp.int32))
            h = acts["encoding"] = e + pe[None]
            h = acts["block"] = Block(M.HEADS, 8, 16, False, 1e-5, 0.0, self.dtype, name="block")(h, None)
            h = acts["pool"] = jnp.mean(h, axis=1)
            h = acts["dense"] = nn.Dense(M.CLASSES, name="dense", **d)(h)
        for k in ("conv1", "bn1", "pool1", "conv2", "bn2", "pool2", "shortcut", "add"):
            if k in acts:
                acts[k] = convert(acts[k], LAYOUT["image"], SPEC["image"])
        return h, acts


def _loss(model_id, logits, y):
    kind = M.SPECS[model_id].loss
    if kind == "binary_cross_entropy":
        return optax.losses.sigmoid_binary_cross_entropy(logits, y).mean()
    if kind == "mse":
        return optax.losses.squared_error(logits, y).mean()
    return optax.losses.softmax_cross_entropy(logits, y, axis=-1).mean()


def _to_native(self, model_id, W):
    """(params, batch_stats) flax trees from canonical arrays, by the families' mappings (jnp: differentiable)."""
    params, stats = {}, {}
    for name in dict.fromkeys(M.LAYERS[model_id] + ("shortcut",)):
        keys = {k.split("/")[1]: v for k, v in W.items() if k.split("/")[0] == name}
        if not keys:
            continue
        if name.startswith("dense"):
            params[name] = {"kernel": convert(keys["w"], SPEC["dense"], LAYOUT["dense"]), "bias": keys["b"]}
        elif name.startswith(("conv", "shortcut")):
            params[name] = {"kernel": convert(keys["w"], SPEC["kernel"], LAYOUT["kernel"]), "bias": keys["b"]}
        elif name.startswith("bn"):
            params[name] = {"scale": keys["weight"], "bias": keys["bias"]}
            stats[name] = {"mean": keys["running_mean"], "var": keys["running_var"]}
        elif name == "embedding":
            params[name] = {"embedding": keys["table"]}
        elif name.startswith(("lstm", "gru")):
            params[name] = {"cell": self._native(name[:-1], keys)}
        elif name == "block":
            params[name] = block_parameters(keys, M.HEADS)
    return params, stats


def _from_native(model_id, params, stats):
    params, stats = jax.tree_util.tree_map(np.asarray, (params, stats))
    out = {}
    for name, tree in params.items():
        if name.startswith("dense"):
            out[f"{name}/w"], out[f"{name}/b"] = convert(tree["kernel"], LAYOUT["dense"], SPEC["dense"]), tree["bias"]
        elif name.startswith(("conv", "shortcut")):
            out[f"{name}/w"], out[f"{name}/b"] = convert(tree["kernel"], LAYOUT["kernel"], SPEC["kernel"]), tree["bias"]
        elif name.startswith("bn"):
            out[f"{name}/weight"], out[f"{name}/bias"] = tree["scale"], tree["bias"]
            out[f"{name}/running_mean"], out[f"{name}/running_var"] = stats[name]["mean"], stats[name]["var"]
        elif name == "embedding":
            out["embedding/table"] = tree["embedding"]
        elif name.startswith(("lstm", "gru")):
            kind = name[:-1]
            canon = disassemble(kind, RECURRENT[kind], _flatten(tree["cell"]), 8)
            out.update({f"{name}/{k}": v for k, v in canon.items()})
        elif name == "block":
            out.update({f"block/{k}": v for k, v in spec_block(tree).items()})
    return {k: np.asarray(out[k]) for k in M.SPECS[model_id].weights}


class Models:
    MODEL_SETTINGS = MODEL_SETTINGS
    MODEL_RESIDUALS = MODEL_RESIDUALS

    def _pe(self, dtype):
        """The transformer's sinusoidal table: the attention family's jnp composition (flax has no layer)."""
        return self.sinusoidal_positional_encoding(jnp.arange(M.T, dtype=dtype), 8, 10000.0)

    def _model_jit(self, key, make):
        cache = self.__dict__.setdefault("_model_jits", {})
        if key not in cache:
            cache[key] = make()
        return cache[key]

    def model_forward(self, model_id, weights, x, y, training):
        dtype = np.asarray(x).dtype
        module = _Model(model_id, dtype)
        names = M.trainable(model_id)
        pe = self._pe(dtype)

        def make():
            def loss_of(trainable, fixed, x, y):
                params, stats = _to_native(self, model_id, {**trainable, **fixed})
                variables = {"params": params, **({"batch_stats": stats} if stats else {})}
                if training and stats:
                    (logits, acts), updated = module.apply(variables, x, True, pe, mutable=["batch_stats"])
                    new = updated["batch_stats"]
                else:
                    logits, acts = module.apply(variables, x, training, pe)
                    new = {}
                return _loss(model_id, logits, y), (logits, acts, new)

            return jax.jit(jax.value_and_grad(loss_of, has_aux=True))

        step = self._model_jit(("forward", model_id, dtype.name, bool(training)), make)
        trainable = {k: jnp.asarray(weights[k]) for k in names}
        fixed = {k: jnp.asarray(v) for k, v in weights.items() if k not in trainable}
        (loss, (logits, acts, new)), grads = step(trainable, fixed, jnp.asarray(x), jnp.asarray(y))
        state = {}
        if training:
            for bn, s in new.items():
                state[f"{bn}/running_mean"], state[f"{bn}/running_var"] = np.asarray(s["mean"]), np.asarray(s["var"])
        return {"logits": np.asarray(logits), "loss": np.asarray(loss),
                "activations": {k: np.asarray(v) for k, v in acts.items()},
                "gradients": {k: np.asarray(grads[k]) for k in names}, "state": state}

    def model_train(self, model_id, weights, xs, ys, optimizer, hyper):
        dtype = np.asarray(xs).dtype
        module = _Model(model_id, dtype)
        pe = self._pe(dtype)
        if optimizer == "momentum":
            tx = optax.sgd(hyper["lr"], momentum=hyper["momentum"], nesterov=False)
        else:
            tx = optax.adam(hyper["lr"], b1=hyper["beta1"], b2=hyper["beta2"], eps=hyper["eps"])
        params, stats = _to_native(self, model_id, {k: jnp.asarray(v) for k, v in weights.items()})

        def make():
            def step(params, stats, opt_state, x, y):
                def loss_of(params):
                    variables = {"params": params, **({"batch_stats": stats} if stats else {})}
                    if stats:
                        (logits, _), updated = module.apply(variables, x, True, pe, mutable=["batch_stats"])
                        return _loss(model_id, logits, y), updated["batch_stats"]
                    logits, _ = module.apply(variables, x, True, pe)
                    return _loss(model_id, logits, y), stats

                (_, new_stats), grads = jax.value_and_grad(loss_of, has_aux=True)(params)
                updates, opt_state = tx.update(grads, opt_state, params)
                return optax.apply_updates(params, updates), new_stats, opt_state

            return jax.jit(step)

        key = ("train", model_id, dtype.name, optimizer, tuple(sorted(hyper.items())))
        step = self._model_jit(key, make)
        opt_state = tx.init(params)
        history = {k: [] for k in M.SPECS[model_id].weights}
        for x, y in zip(xs, ys):
            params, stats, opt_state = step(params, stats, opt_state, jnp.asarray(x), jnp.asarray(y))
            for k, v in _from_native(model_id, params, stats).items():
                history[k].append(v)
        return {k: np.stack(v) for k, v in history.items()}
