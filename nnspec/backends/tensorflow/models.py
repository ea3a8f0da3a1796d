"""Tensorflow adapter, models: the six seed models (nnspec/spec/models.py) built from Keras 3's own layers.

Each model is the Keras layers a port writes (Dense, Conv2D, BatchNormalization, MaxPooling2D, Permute +
Flatten, Dropout, GlobalAveragePooling2D/1D, Add, Embedding, LSTM, GRU, MultiHeadAttention, LayerNormalization),
built once per model and dtype and run by ``stateless_call`` on the native parameters. The canonical weights map
into the layers' variables through the families' own mappings (``layers.LAYOUT`` kernels, the recurrent mixin's
``_native`` / ``LAYOUTS``, the attention mixin's ``attention_variables``), as TF ops, so the tape differentiates
through the mapping back to the canonical weights (``model_forward``). ``model_train`` steps ``keras.Variable``
native parameters with ``keras.optimizers.SGD`` / ``Adam`` (``apply_gradients`` on the tape's gradients, an
Embedding's ``IndexedSlices`` as Keras' own ``fit`` passes them) and maps every step back through the inverse
mappings. The settings that make a model agree are ``MODEL_SETTINGS``: data, and the ones the builders use.
"""

from __future__ import annotations

import contextlib
import math

import keras
import numpy as np
import tensorflow as tf

from ...spec import models as M
from ...spec.models import Setting
from ...spec.recurrent import disassemble
from ..base import unsupported
from ..layouts import SPEC
from .attention import attention_variables, spec_projections
from .layers import LAYOUT, convert
from .recurrent import layout as recurrent_layout

ADAM_EPSILON_PER_STEP = True  # the setting _EPS states; False measures Keras' own epsilon
DENSE_EMBEDDING_GRADIENTS = True  # the setting _EMBEDDING states; False measures the trap
NUMPY_HYPER = True  # the setting _HYPER states (np.float64 hyper-parameters); False: Python floats, the trap
LAYER_DTYPE = True  # the setting _FLOAT64 states (dtype= on every layer); False: layers built under Keras' default
#                     policy (float32), the dtype set with keras.config.set_floatx only after they exist (trap)
SIGMOID_OUTPUT = False  # False: the setting _LOGITS states; True: the mlp as often written, Dense(1, sigmoid) and
#                         BinaryCrossentropy(from_logits=False) (the trap)
BN_MOMENTUM = 1.0 - M.BN["momentum"]  # Keras' momentum is the old statistic's weight

_BN = Setting("keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)", "bn1, bn2",
              "Keras' momentum weights the old running statistic (torch's 0.1 is Keras' 0.9); Keras' default "
              "epsilon is 1e-3")
_SAME = Setting("keras.layers.Conv2D(..., padding=\"same\")", "conv layers",
                "Keras' default is 'valid'; with stride 1 and an odd kernel 'same' is torch's padding=1")
_FLOAT64 = Setting("keras.config.set_floatx(\"float64\") before the optimizer is built, and dtype=\"float64\" on "
                   "every layer", "*", "without floatx the optimizer's learning_rate variable is float32: "
                   "lr=0.01 is rounded to 0.009999999776 (a relative 2.2e-8 per step on float64 weights)")
_HYPER = Setting("keras.optimizers.SGD(momentum=np.float64(0.9)), Adam(beta_1=np.float64(0.9), "
                 "beta_2=np.float64(0.999), learning_rate=np.float64(lr))", "optimizer",
                 "Keras casts a Python float hyper-parameter to the variable's dtype through float32 (ops.cast on "
                 "TensorFlow): momentum 0.9 becomes 0.8999999762, a 1.5e-9 weight difference by step 2 (float64)")
_EPS = Setting("optimizer.epsilon = eps * sqrt(1 - beta_2**t) before step t", "optimizer (adam)",
               "keras.optimizers.Adam adds epsilon to sqrt(v) before the bias correction (the 'epsilon hat' of "
               "Kingma & Ba's section 2): the textbook (torch, optax) step needs that per-step epsilon")
_LOGITS = Setting("keras.losses.<Loss>(from_logits=True, dtype=\"float64\") on a last layer without activation",
                  "loss",
                  "with a sigmoid/softmax output Keras' loss reads the logits back (`_keras_logits`) only "
                  "for some ops; from the logits is the spec's (and torch's *WithLogits) loss; a Keras loss computes in "
                  "floatx (float32) unless given dtype: 5e-9 relative on a float64 BCE")
_LSTM = Setting("keras.layers.LSTM(8, return_sequences=True) then keras.layers.LSTM(8)", "lstm1, lstm2",
                "torch's nn.LSTM(num_layers=2) is two Keras layers; torch's b_ih + b_hh is Keras' one bias "
                "(sum them when porting: see the training traps)")
_GRU = Setting("keras.layers.GRU(8, reset_after=True)", "gru1",
               "Keras keeps the old state with z (h = z*h + (1-z)*n): the z rows of kernel, recurrent_kernel and "
               "bias are torch's negated; bias (2, 3H) holds torch's b_ih and b_hh")
_EMBEDDING = Setting("grads = [tf.convert_to_tensor(g) for g in grads] before optimizer.apply_gradients", "embedding",
                     "the tape gives keras.layers.Embedding's gradient as tf.IndexedSlices and Keras' Adam applies "
                     "it sparsely: measured on 3 Adam steps (float64), the table is 0.023 (lstm_classifier) and 0.018 "
                     "(transformer_encoder) away from torch's dense Adam; densified, 3e-16 and 2e-12")
_ONE_BIAS = Setting("keras.layers.GRU(8, reset_after=True, bias_constraint=one_bias) with one_bias(b) keeping b[0] "
                    "and b[1, 2H:] and zeroing b[1, :2H]", "gru1",
                    "the reset-after GRU's bias (2, 3H) holds two z and two r biases (torch's b_ih, b_hh): trained, "
                    "the one bias of the spec (and flax) moves at twice the step under SGD and with two Adam steps; "
                    "the constraint, applied by the optimizer after each step, leaves one")
_FLATTEN = Setting("keras.layers.Permute((3, 1, 2)) before keras.layers.Flatten()", "flatten",
                   "channels_last Flatten orders (H, W, C); torch's Linear after Flatten reads (C, H, W)")
_DROPOUT = Setting("keras.layers.Dropout(0.5) called with training=False", "dropout",
                   "no way to share torch's mask: the deterministic checks run dropout off")
_BLOCK = Setting("keras.layers.MultiHeadAttention(num_heads=2, key_dim=4) + LayerNormalization(epsilon=1e-5) + "
                 "Dense(16, activation=\"relu\") + Dense(8), post-norm", "block",
                 "Keras has no encoder block (keras_hub's TransformerEncoder is not Keras); LayerNormalization's "
                 "default epsilon is 1e-3; q/k/v kernels are (E, heads, key_dim)")
_PE = Setting("the sinusoidal table written with keras.ops (no Keras layer)", "encoding",
              "keras_hub.layers.SinePositionEncoding concatenates sin|cos halves; the spec (Vaswani) interleaves")

_TRAIN = (_FLOAT64, _HYPER, _EPS, _LOGITS)
MODEL_SETTINGS = {
    "mlp": _TRAIN,
    "cnn": (_SAME, _BN, _FLATTEN, _DROPOUT) + _TRAIN,
    "resnet_block": (_SAME,) + _TRAIN,
    "lstm_classifier": (_LSTM, _EMBEDDING) + _TRAIN,
    "gru_regressor": (_GRU, _ONE_BIAS, _FLOAT64, _HYPER, _EPS),
    "transformer_encoder": (_BLOCK, _PE, _EMBEDDING) + _TRAIN,
}
MODEL_RESIDUALS = {
    "cnn": ("keras.layers.BatchNormalization updates moving_variance with the biased batch variance (torch and "
            "the spec: unbiased, n/(n-1)); no setting: bn1's running_var differs by 0.1*var/255, bn2's by "
            "0.1*var/63 per step",),
    "*": ("a parameter whose true gradient is zero (conv biases before batch norm, the key bias b_k) gets rounding "
          "noise as its gradient; Adam turns it into steps of up to lr each",),
}

def _switch(name, value):
    """A Trap's ``disable``: this module's switch ``name`` set to ``value`` for the block."""
    import sys

    return lambda backend: M.switch(sys.modules[__name__], name, value)


_TRAP_EMBEDDING = M.Trap(
    "sparse Embedding gradients under Adam", ("training",), "embedding",
    setting_off="optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))  # Embedding: IndexedSlices",
    why="Keras' Adam squares an IndexedSlices gradient slice by slice (keras.ops.square keeps it sparse), so a token "
        "repeated in the batch adds sum(g_i**2) to v, not (sum g_i)**2 (slices 1 and 2 of one row: 5, not 9)",
    disable=_switch("DENSE_EMBEDDING_GRADIENTS", False))
MODEL_TRAPS = {
    "mlp": (
        M.Trap("Adam's epsilon hat", ("training",), "optimizer (adam)",
               setting_off="keras.optimizers.Adam(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-8)",
               why="Keras adds epsilon to sqrt(v) before the bias correction: a step of lr*m/(sqrt(v)+eps*sqrt(1-b2^t))"
                   " in the textbook's terms", disable=_switch("ADAM_EPSILON_PER_STEP", False)),
        M.Trap("Python-float hyper-parameters", ("training",), "optimizer",
               setting_off="keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), Adam(learning_rate=0.01, "
                           "beta_1=0.9, beta_2=0.999)",
               why="Keras casts a Python float to a float64 variable's dtype through float32 (0.9 -> 0.8999999762, "
                   "0.999 -> 0.9990000129: Adam's first bias correction 1 - beta_2 is off by 1.3e-5); only float64 "
                   "moves", disable=_switch("NUMPY_HYPER", False)),
        M.Trap("dtype policy set after the layers exist", ("forward", "gradient", "training"), "*",
               setting_off="layers built without dtype=, then keras.config.set_floatx(\"float64\") (or "
                           "set_dtype_policy) before the optimizer",
               why="a layer's dtype policy is fixed when it is built: it stays float32 and casts float64 inputs "
                   "and weights to float32 (float32 runs do not move)", disable=_switch("LAYER_DTYPE", False)),
        M.Trap("sigmoid output, BCE from probabilities", ("gradient", "training"), "dense3, loss",
               setting_off="keras.layers.Dense(1, activation=\"sigmoid\") and "
                           "keras.losses.BinaryCrossentropy(from_logits=False)",
               why="Keras' sigmoid leaves its input on the output (_keras_logits, eager tensors too) and the TF "
                   "backend's binary_crossentropy reads it back: the loss is still the from-logits one. Measured on a "
                   "saturated logit (z=20, y=0, float32): Keras 20.0; through tf.nn.sigmoid (no readback) 15.94, "
                   "the probability clipped to 1 - 1e-7; torch's nn.BCELoss()(torch.sigmoid(z)) 100, its log "
                   "clamped at -100",
               disable=_switch("SIGMOID_OUTPUT", True)),
    ),
    "lstm_classifier": (_TRAP_EMBEDDING,),
    "transformer_encoder": (_TRAP_EMBEDDING,),
    "gru_regressor": (
        M.Trap("two GRU biases", ("training",), "gru1", setting_off="keras.layers.GRU(8, reset_after=True)",
               why="the reset-after bias (2, 3H) holds two r and two z biases (torch's b_ih, b_hh): both train, so "
                   "the one canonical bias moves twice the step", disable=_switch("CONSTRAINTS", {})),
    ),
}


def _one_bias(bias):
    """keras.layers.GRU's reset-after bias (2, 3H) with its recurrent z and r biases zeroed: one bias per gate."""
    h2 = 2 * (bias.shape[1] // 3)
    return keras.ops.concatenate([bias[:1], keras.ops.concatenate([keras.ops.zeros_like(bias[1:, :h2]),
                                                                   bias[1:, h2:]], axis=1)], axis=0)


ONE_BIAS = True  # the setting _ONE_BIAS states; False measures the trap
CONSTRAINTS = {"gru_regressor": {"gru1/bias": _one_bias}} if ONE_BIAS else {}

_LOSSES = {"binary_cross_entropy": keras.losses.BinaryCrossentropy,
           "categorical_cross_entropy": keras.losses.CategoricalCrossentropy,
           "mse": keras.losses.MeanSquaredError}


def _t(x):
    return tf.transpose(x)


def _nchw(y):
    return convert(y, LAYOUT["image"], SPEC["image"])


@contextlib.contextmanager
def _floatx(dtype):
    before = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(before)


class _Built:
    """One model's Keras layers (built) and how the native parameters name their variables."""

    def __init__(self, model_id, dtype):
        self.model_id, self.dtype = model_id, dtype
        d = dict(dtype=dtype) if LAYER_DTYPE else {}  # without: the policy of Keras' default floatx (the trap)
        sigmoid = SIGMOID_OUTPUT and model_id == "mlp"
        L = keras.layers
        conv = lambda n, k, act=None: L.Conv2D(n, k, padding="same", activation=act, **d)  # noqa: E731
        bn = lambda: L.BatchNormalization(axis=-1, momentum=BN_MOMENTUM, epsilon=M.BN["epsilon"], **d)  # noqa: E731
        spec = M.SPECS[model_id]
        if model_id == "mlp":
            self.layers = {"dense1": L.Dense(64, activation="relu", **d), "dense2": L.Dense(32, activation="relu", **d),
                           "dense3": L.Dense(1, activation="sigmoid" if sigmoid else None, **d)}
        elif model_id == "cnn":
            self.layers = {"conv1": conv(4, 3), "bn1": bn(), "pool1": L.MaxPooling2D(2, **d), "conv2": conv(8, 3),
                           "bn2": bn(), "pool2": L.MaxPooling2D(2, **d), "permute": L.Permute((3, 1, 2), **d),
                           "flatten": L.Flatten(**d), "dense1": L.Dense(16, activation="relu", **d),
                           "dropout": L.Dropout(0.5, **d), "dense2": L.Dense(M.CLASSES, **d)}
        elif model_id == "resnet_block":
            self.layers = {"conv1": conv(4, 3, "relu"), "conv2": conv(4, 3), "shortcut": conv(4, 1),
                           "add": L.Add(**d), "pool": L.GlobalAveragePooling2D(**d), "dense": L.Dense(M.CLASSES, **d)}
        elif model_id == "lstm_classifier":
            self.layers = {"embedding": L.Embedding(M.VOCAB, 8, **d),
                           "lstm1": L.LSTM(8, return_sequences=True, **d), "lstm2": L.LSTM(8, **d),
                           "dense": L.Dense(M.CLASSES, **d)}
        elif model_id == "gru_regressor":
            self.layers = {"gru1": L.GRU(8, reset_after=True, **d), "dense": L.Dense(1, **d)}
        else:
            self.layers = {"embedding": L.Embedding(M.VOCAB, 8, **d),
                           "attention": L.MultiHeadAttention(num_heads=M.HEADS, key_dim=8 // M.HEADS, **d),
                           "norm1": L.LayerNormalization(epsilon=1e-5, **d),
                           "ffn1": L.Dense(16, activation="relu", **d), "ffn2": L.Dense(8, **d),
                           "norm2": L.LayerNormalization(epsilon=1e-5, **d),
                           "pool": L.GlobalAveragePooling1D(**d), "dense": L.Dense(M.CLASSES, **d)}
        # build by one symbolic-free call on zeros of the input's shape
        x = np.zeros((M.BATCH[model_id], *spec.x_shape), dtype)
        if model_id in ("cnn", "resnet_block"):
            x = np.transpose(x, (0, 2, 3, 1))
        loss = dict(from_logits=not sigmoid) if spec.loss != "mse" else {}
        self.loss = _LOSSES[spec.loss](dtype=dtype, **loss)  # a Keras loss computes in floatx unless given dtype
        if LAYER_DTYPE:
            self._build(tf.constant(x))
        else:
            with _floatx("float32"):  # Keras' default, when the layers were built; the dtype is set only after
                self._build(tf.constant(x))

    def _build(self, x):
        layers = self.layers
        if self.model_id == "transformer_encoder":
            h = layers["embedding"](tf.cast(x, "int32"))
            layers["attention"](h, h)
            h = layers["norm1"](h)
            layers["norm2"](layers["ffn2"](layers["ffn1"](h)))
            layers["dense"](layers["pool"](h))
            return
        h = tf.cast(x, "int32") if self.model_id == "lstm_classifier" else x
        for name, layer in layers.items():
            if name == "shortcut":
                layer(x)
                continue
            if name == "add":
                h = layer([h, h])
                continue
            h = layer(h)


def _suffix(variable, parts):
    return "/".join(variable.path.split("/")[-parts:])


def _run(layer, prefix, P, state, *args, parts=1, **kwargs):
    """``layer.stateless_call`` with its variables from ``P`` (``prefix/<name>``), its non-trainable ones from
    ``state``; returns (output, {prefix/<name>: updated non-trainable value})."""
    trainable = [P[f"{prefix}/{_suffix(v, parts)}"] for v in layer.trainable_variables]
    names = [f"{prefix}/{_suffix(v, parts)}" for v in layer.non_trainable_variables]
    current = [state[n] if n in state else v.value for n, v in zip(names, layer.non_trainable_variables)]
    out, updated = layer.stateless_call(trainable, current, *args, **kwargs)  # a dropout's seed state kept as is
    return out, {n: u for n, u in zip(names, updated) if n in state}


_NO_BF16 = ("measured on TF 2.21 CPU: keras.layers.LSTM/GRU in bfloat16 raise InvalidArgumentError (\"Value for "
            "attr 'T' of bfloat16 is not in the list of allowed values\": an op of the recurrent step has no "
            "bfloat16 CPU kernel)")


class Models:
    UNSUPPORTED = {"lstm_classifier": unsupported(_NO_BF16, dtypes={"bfloat16"}),
                   "gru_regressor": unsupported(_NO_BF16, dtypes={"bfloat16"})}
    MODEL_SETTINGS = MODEL_SETTINGS
    MODEL_RESIDUALS = MODEL_RESIDUALS
    MODEL_TRAPS = MODEL_TRAPS

    def _model(self, model_id, dtype):
        cache = self.__dict__.setdefault("_models", {})
        key = (model_id, dtype, LAYER_DTYPE, SIGMOID_OUTPUT)  # a trap's switch builds other layers
        if key not in cache:
            cache[key] = _Built(model_id, dtype)
        return cache[key]

    # canonical <-> native -----------------------------------------------------------------------------------

    def _to_native(self, model_id, W):
        """{native name: tensor} (trainable) and {native name: tensor} (batch-norm statistics) from canonical
        tensors, by the families' mappings (TF ops: differentiable)."""
        P, S = {}, {}
        for name in M.LAYERS[model_id] + ("shortcut",):
            keys = {k.split("/")[1]: v for k, v in W.items() if k.split("/")[0] == name}
            if not keys:
                continue
            if name.startswith("dense"):
                P[f"{name}/kernel"], P[f"{name}/bias"] = convert(keys["w"], SPEC["dense"], LAYOUT["dense"]), keys["b"]
            elif name.startswith(("conv", "shortcut")):
                P[f"{name}/kernel"], P[f"{name}/bias"] = convert(keys["w"], SPEC["kernel"], LAYOUT["kernel"]), keys["b"]
            elif name.startswith("bn"):
                P[f"{name}/gamma"], P[f"{name}/beta"] = keys["weight"], keys["bias"]
                S[f"{name}/moving_mean"], S[f"{name}/moving_variance"] = keys["running_mean"], keys["running_var"]
            elif name == "embedding":
                P["embedding/embeddings"] = keys["table"]
            elif name.startswith(("lstm", "gru")):
                kind = name[:-1]
                native = self._native(kind, keys, kind == "gru")
                P.update({f"{name}/{path[0]}": t for path, t in native.items()})
            elif name == "block":
                P.update({f"attention/{k}": v for k, v in attention_variables(keys, M.HEADS).items()})
                for norm, ln in (("norm1", "ln1"), ("norm2", "ln2")):
                    P[f"{norm}/gamma"], P[f"{norm}/beta"] = keys[f"{ln}_weight"], keys[f"{ln}_bias"]
                for ffn, i in (("ffn1", "1"), ("ffn2", "2")):
                    P[f"{ffn}/kernel"], P[f"{ffn}/bias"] = keys[f"w_{i}"], keys[f"b_{i}"]  # right-multiplied as is
        return P, S

    def _from_native(self, model_id, P, S):
        """The canonical weights (NumPy, spec layout) back from native values: the inverse mappings."""
        P = {k: np.asarray(tf.convert_to_tensor(v).numpy()) for k, v in P.items()}
        out = {}
        for name in M.LAYERS[model_id] + ("shortcut",):
            if f"{name}/kernel" in P and name.startswith("dense"):
                out[f"{name}/w"] = convert(tf.constant(P[f"{name}/kernel"]), LAYOUT["dense"], SPEC["dense"]).numpy()
                out[f"{name}/b"] = P[f"{name}/bias"]
            elif f"{name}/kernel" in P and name.startswith(("conv", "shortcut")):
                out[f"{name}/w"] = convert(tf.constant(P[f"{name}/kernel"]), LAYOUT["kernel"], SPEC["kernel"]).numpy()
                out[f"{name}/b"] = P[f"{name}/bias"]
            elif name.startswith("bn"):
                out[f"{name}/weight"], out[f"{name}/bias"] = P[f"{name}/gamma"], P[f"{name}/beta"]
                out[f"{name}/running_mean"] = np.asarray(S[f"{name}/moving_mean"])
                out[f"{name}/running_var"] = np.asarray(S[f"{name}/moving_variance"])
            elif name == "embedding":
                out["embedding/table"] = P["embedding/embeddings"]
            elif name.startswith(("lstm", "gru")):
                kind = name[:-1]
                arrays = {(k.split("/")[1],): v for k, v in P.items() if k.split("/")[0] == name}
                canon = disassemble(kind, recurrent_layout(kind, kind == "gru"), arrays, 8)
                out.update({f"{name}/{k}": v for k, v in canon.items()})
            elif name == "block":
                att = {k[len("attention/"):]: tf.constant(v) for k, v in P.items() if k.startswith("attention/")}
                out.update({f"block/{k}": v.numpy() for k, v in spec_projections(att).items()})
                for norm, ln in (("norm1", "ln1"), ("norm2", "ln2")):
                    out[f"block/{ln}_weight"], out[f"block/{ln}_bias"] = P[f"{norm}/gamma"], P[f"{norm}/beta"]
                for ffn, i in (("ffn1", "1"), ("ffn2", "2")):
                    out[f"block/w_{i}"], out[f"block/b_{i}"] = P[f"{ffn}/kernel"], P[f"{ffn}/bias"]
        return {k: out[k] for k in M.SPECS[model_id].weights}

    # the forward pass: Keras layers on native parameters ------------------------------------------------------

    def _apply(self, built, P, S, x, training):
        """(logits, {layer: activation in spec layout}, updated batch-norm statistics)."""
        L, m = built.layers, built.model_id
        acts, new = {}, {}

        def run(name, *args, **kw):
            out, upd = _run(L[name], name, P, S, *args, **kw)
            new.update(upd)
            return out

        if m == "mlp":
            h = x
            for name in ("dense1", "dense2", "dense3"):
                h = acts[name] = run(name, h)
        elif m == "cnn":
            h = convert(x, SPEC["image"], LAYOUT["image"])
            for name in ("conv1", "bn1", "pool1", "conv2", "bn2", "pool2"):
                if name.startswith("bn"):
                    h = tf.nn.relu(run(name, h, training=training))  # keras.layers.ReLU's op
                elif name.startswith("pool"):
                    h = L[name](h)
                else:
                    h = run(name, h)
                acts[name] = _nchw(h)
            h = acts["flatten"] = L["flatten"](L["permute"](h))
            h = acts["dense1"] = run("dense1", h)
            h = L["dropout"](h, training=False)
            h = acts["dense2"] = run("dense2", h)
        elif m == "resnet_block":
            xi = convert(x, SPEC["image"], LAYOUT["image"])
            a1 = run("conv1", xi)
            a2 = run("conv2", a1)
            s = run("shortcut", xi)
            add = tf.nn.relu(L["add"]([a2, s]))
            acts.update(conv1=_nchw(a1), conv2=_nchw(a2), shortcut=_nchw(s), add=_nchw(add))
            p = acts["pool"] = L["pool"](add)
            h = acts["dense"] = run("dense", p)
        elif m == "lstm_classifier":
            h = acts["embedding"] = run("embedding", tf.cast(x, "int32"))
            h = acts["lstm1"] = run("lstm1", h)
            h = acts["lstm2"] = run("lstm2", h)
            h = acts["dense"] = run("dense", h)
        elif m == "gru_regressor":
            h = acts["gru1"] = run("gru1", x)
            h = acts["dense"] = run("dense", h)
        else:
            e = acts["embedding"] = run("embedding", tf.cast(x, "int32"))
            positions = tf.range(x.shape[1], dtype=e.dtype)
            h = acts["encoding"] = e + self.sinusoidal_positional_encoding(positions, e.shape[-1], 10000.0)[None]
            a = run("attention", h, h, key=h, training=False, parts=2)
            h = run("norm1", h + a)
            h = acts["block"] = run("norm2", h + run("ffn2", run("ffn1", h)))
            p = acts["pool"] = L["pool"](h)
            h = acts["dense"] = run("dense", p)
        return h, acts, new

    def model_forward(self, model_id, weights, x, y, training):
        dtype = np.asarray(x).dtype.name
        built = self._model(model_id, dtype)
        names = M.trainable(model_id)
        W = {k: tf.constant(v) for k, v in weights.items()}
        x, y = tf.constant(x), tf.constant(y)
        with tf.GradientTape() as tape:
            tape.watch([W[k] for k in names])
            P, S = self._to_native(model_id, W)
            logits, acts, new = self._apply(built, P, S, x, training)
            loss = built.loss(y, logits)
        grads = tape.gradient(loss, [W[k] for k in names], unconnected_gradients=tf.UnconnectedGradients.ZERO)
        grads = [tf.convert_to_tensor(g) for g in grads]
        state = {}
        if training:
            for k, v in new.items():
                layer, var = k.split("/")
                state[f"{layer}/{'running_mean' if var == 'moving_mean' else 'running_var'}"] = v.numpy()
        return {"logits": logits.numpy(), "loss": np.asarray(loss.numpy()),
                "activations": {k: np.asarray(v) for k, v in acts.items()},
                "gradients": {k: g.numpy() for k, g in zip(names, grads)}, "state": state}

    def model_train(self, model_id, weights, xs, ys, optimizer, hyper):
        dtype = np.asarray(xs).dtype.name
        built = self._model(model_id, dtype)
        with _floatx(dtype):  # the optimizer's learning_rate and iterations in the dtype under test
            f = np.float64 if dtype == "float64" and NUMPY_HYPER else float  # Keras' ops.cast(python float, float64) goes through float32 (MODEL_SETTINGS)
            if optimizer == "momentum":
                opt = keras.optimizers.SGD(learning_rate=f(hyper["lr"]), momentum=f(hyper["momentum"]), nesterov=False)
            else:
                opt = keras.optimizers.Adam(learning_rate=f(hyper["lr"]), beta_1=f(hyper["beta1"]),
                                            beta_2=f(hyper["beta2"]), epsilon=hyper["eps"])
            P0, S = self._to_native(model_id, {k: tf.constant(v) for k, v in weights.items()})
            variables = {k: keras.Variable(v, name=k.replace("/", "_")) for k, v in P0.items()}
            for k, constraint in CONSTRAINTS.get(model_id, {}).items():
                variables[k].constraint = constraint  # what keras.layers.GRU(bias_constraint=...) sets on its bias
            opt.build(list(variables.values()))
        history = {k: [] for k in M.SPECS[model_id].weights}
        for t, (x, y) in enumerate(zip(xs, ys), start=1):
            with tf.GradientTape() as tape:
                P = {k: v.value for k, v in variables.items()}
                logits, _, new = self._apply(built, P, S, tf.constant(x), True)
                loss = built.loss(tf.constant(y), logits)
            keys = list(variables)
            grads = tape.gradient(loss, [variables[k].value for k in keys],
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
            if optimizer == "adam" and ADAM_EPSILON_PER_STEP:
                opt.epsilon = hyper["eps"] * math.sqrt(1.0 - hyper["beta2"] ** t)  # the textbook step (MODEL_SETTINGS)
            if DENSE_EMBEDDING_GRADIENTS:
                grads = [tf.convert_to_tensor(g) for g in grads]
            opt.apply_gradients([(g, variables[k]) for g, k in zip(grads, keys)])
            S = {**S, **new}
            for k, v in self._from_native(model_id, {k: v.value for k, v in variables.items()}, S).items():
                history[k].append(v)
        return {k: np.stack(v) for k, v in history.items()}
