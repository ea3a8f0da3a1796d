"""The seed models: six small networks composed from the spec's own ops, in float64.

A model is a fixed sequence of named layers over canonical weights ``{"<layer>/<param>": array}`` in the
spec's layouts (dense w (out, in); conv OIHW, images NCHW; recurrent weights as ``recurrent.py`` states them
for one layer and direction, w_ih (G·H, I), w_hh (G·H, H), b (G·H,), GRU b_hn (H,); the transformer block in
``attention.transformer_block``'s names and right-multiplied layout, w_q (E, E) …; batch norm weight, bias,
running_mean, running_var). ``init_weights(model_id, seed)`` draws them (the spec's own NumPy generator,
never a framework's initializer); ``batch(model_id, seed, dtype)`` draws one batch (x, y).

``forward(model_id, weights, x, y, training)`` returns a dict

    logits        the last layer's pre-activation (mlp: before the sigmoid; classifiers: before the softmax)
    loss          a 0-d array: the model's loss, mean over the batch
    activations   {layer: its output, after its activation function}, in forward order (``LAYERS``)
    gradients     {"<layer>/<param>": d loss / d param} of every trainable parameter (``trainable``)
    state         {"<bn>/running_mean", "<bn>/running_var": after this batch} (training with batch norm; else {})

Batch norm (momentum 0.1, ε 1e-5, unbiased running variance: torch's defaults) runs on the batch's statistics
in training and on the running ones in inference; dropout is off (the identity) in both. The gradients are
the chain rule through each op's spec VJP (``<op>_vjp``), exact in float64.

``train(model_id, weights, xs, ys, optimizer, hyper)`` runs len(xs) steps (batch t on step t, training mode)
with the spec's optimizer (``"momentum"``: SGD with momentum, v ← μv + g, w ← w − lr·v; ``"adam"``: Kingma & Ba
with ε outside the root) and returns {name: (steps, *shape)}: every trainable parameter and batch-norm
running statistic after every step.

Architectures (B the batch):
* ``mlp``: x (B, 10) → dense1 64 relu → dense2 32 relu → dense3 1 sigmoid; binary cross-entropy, y (B, 1) ∈ {0, 1}.
* ``cnn``: x (B, 1, 8, 8) → conv1 4×3×3 same → bn1 + relu → pool1 max 2×2 → conv2 8×3×3 same → bn2 + relu →
  pool2 max 2×2 → flatten (C, H, W order) 32 → dense1 16 relu → dropout (off) → dense2 3 softmax; categorical
  cross-entropy, y one-hot (B, 3).
* ``resnet_block``: x (B, 2, 6, 6) → conv1 4×3×3 same relu → conv2 4×3×3 same; shortcut 1×1 conv 2→4; add →
  relu (``add``) → pool global average → dense 3 softmax; categorical cross-entropy.
* ``lstm_classifier``: tokens (B, 6) in [0, 12) (integers in the float dtype) → embedding 12×8 → lstm1 8
  (sequence) → lstm2 8 (last state) → dense 3 softmax; categorical cross-entropy.
* ``gru_regressor``: x (B, 6, 3) → gru1 8 (reset after, torch's and Keras' default; last state) → dense 1
  linear; mean squared error, y (B, 1).
* ``transformer_encoder``: tokens (B, 6) in [0, 12) → embedding 12×8 → encoding (+ sinusoidal positional
  encoding, interleaved sin/cos) → block (post-norm encoder block, 2 heads, feed-forward 16, ε 1e-5) →
  pool (mean over positions) → dense 3 softmax; categorical cross-entropy.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import attention as A
from . import embedding as E
from . import encoding as PE
from . import layers as Ly
from . import losses as Lo
from . import normalization as N
from . import optimizers as O
from . import recurrent as R

MODELS = ("mlp", "cnn", "resnet_block", "lstm_classifier", "gru_regressor", "transformer_encoder")
BATCH = {"mlp": 8, "cnn": 4, "resnet_block": 4, "lstm_classifier": 4, "gru_regressor": 4,
         "transformer_encoder": 2}
VOCAB, CLASSES, T = 12, 3, 6
BN = {"momentum": 0.1, "epsilon": 1e-5}
HEADS = 2


@dataclass(frozen=True)
class Setting:
    """One setting that makes a framework's build of a model agree with the spec (a backend's MODEL_SETTINGS)."""

    api: str  # the public API call, e.g. "keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)"
    layer: str  # the layer(s) of the model it applies to ("bn1, bn2"; "*" the whole model; "optimizer")
    why: str  # one line: what differs without it


@dataclass(frozen=True)
class Trap:
    """A setting of ``MODEL_SETTINGS`` turned off the way a user would leave it (a backend's ``MODEL_TRAPS``): the
    models checks run ``checks`` once more inside ``disable(backend)`` and record what moved (``traps``)."""

    name: str  # short: "two recurrent biases", "sparse Embedding gradients under Adam"
    checks: tuple  # the models checks it shows in: "forward", "gradient", "training"
    layer: str  # where it bites ("gru1", "embedding", "optimizer (adam)", "*")
    setting_off: str  # what the user writes instead of the setting (public API)
    why: str  # one line: what the framework does then
    disable: Callable[[Any], Any] = field(compare=False, repr=False, default=None)  # backend -> context manager


@contextlib.contextmanager
def switch(target, name: str, value):
    """``target.name = value`` for the block (a module's switch or a backend's attribute), then as it was: what a
    ``Trap``'s ``disable`` is made of (``disable=lambda backend: switch(module, "ONE_BIAS", False)``)."""
    missing = object()
    before = vars(target).get(name, missing) if hasattr(target, "__dict__") else getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        if before is missing:
            delattr(target, name)  # an instance's attribute: its class's again
        else:
            setattr(target, name, before)


@dataclass(frozen=True)
class Model:
    layers: tuple[str, ...]  # in forward order: the keys of ``activations``
    weights: dict  # "<layer>/<param>" -> shape, in the spec's layout
    x_shape: tuple  # without the batch axis
    tokens: bool = False  # x holds integer token ids (in the float dtype)
    loss: str = "categorical_cross_entropy"


def _bn(name, c):
    return {f"{name}/weight": (c,), f"{name}/bias": (c,), f"{name}/running_mean": (c,), f"{name}/running_var": (c,)}


def _dense(name, out, inp):
    return {f"{name}/w": (out, inp), f"{name}/b": (out,)}


def _conv(name, out, inp, k):
    return {f"{name}/w": (out, inp, k, k), f"{name}/b": (out,)}


def _recurrent(name, gates, h, inp, b_hn=False):
    shapes = {f"{name}/w_ih": (gates * h, inp), f"{name}/w_hh": (gates * h, h), f"{name}/b": (gates * h,)}
    return {**shapes, f"{name}/b_hn": (h,)} if b_hn else shapes


_E, _F = 8, 16
_BLOCK = {"block/w_q": (_E, _E), "block/b_q": (_E,), "block/w_k": (_E, _E), "block/b_k": (_E,),
          "block/w_v": (_E, _E), "block/b_v": (_E,), "block/w_o": (_E, _E), "block/b_o": (_E,),
          "block/ln1_weight": (_E,), "block/ln1_bias": (_E,), "block/w_1": (_E, _F), "block/b_1": (_F,),
          "block/w_2": (_F, _E), "block/b_2": (_E,), "block/ln2_weight": (_E,), "block/ln2_bias": (_E,)}
BLOCK_ORDER = tuple(k.split("/")[1] for k in _BLOCK)  # transformer_block's weight arguments, in order

SPECS: dict[str, Model] = {
    "mlp": Model(("dense1", "dense2", "dense3"),
                 {**_dense("dense1", 64, 10), **_dense("dense2", 32, 64), **_dense("dense3", 1, 32)},
                 (10,), loss="binary_cross_entropy"),
    "cnn": Model(("conv1", "bn1", "pool1", "conv2", "bn2", "pool2", "flatten", "dense1", "dense2"),
                 {**_conv("conv1", 4, 1, 3), **_bn("bn1", 4), **_conv("conv2", 8, 4, 3), **_bn("bn2", 8),
                  **_dense("dense1", 16, 32), **_dense("dense2", CLASSES, 16)}, (1, 8, 8)),
    "resnet_block": Model(("conv1", "conv2", "shortcut", "add", "pool", "dense"),
                          {**_conv("conv1", 4, 2, 3), **_conv("conv2", 4, 4, 3), **_conv("shortcut", 4, 2, 1),
                           **_dense("dense", CLASSES, 4)}, (2, 6, 6)),
    "lstm_classifier": Model(("embedding", "lstm1", "lstm2", "dense"),
                             {"embedding/table": (VOCAB, 8), **_recurrent("lstm1", 4, 8, 8),
                              **_recurrent("lstm2", 4, 8, 8), **_dense("dense", CLASSES, 8)}, (T,), tokens=True),
    "gru_regressor": Model(("gru1", "dense"), {**_recurrent("gru1", 3, 8, 3, b_hn=True), **_dense("dense", 1, 8)},
                           (T, 3), loss="mse"),
    "transformer_encoder": Model(("embedding", "encoding", "block", "pool", "dense"),
                                 {"embedding/table": (VOCAB, _E), **_BLOCK, **_dense("dense", CLASSES, _E)}, (T,),
                                 tokens=True),
}
LAYERS = {m: s.layers for m, s in SPECS.items()}
STATE_PARAMS = ("running_mean", "running_var")


def trainable(model_id: str) -> tuple[str, ...]:
    """The parameters the loss is differentiated by and the optimizer steps (not the running statistics)."""
    return tuple(k for k in SPECS[model_id].weights if k.split("/")[1] not in STATE_PARAMS)


def layer_of(name: str) -> str:
    return name.split("/")[0]


def init_weights(model_id: str, seed: int = 0) -> dict:
    """The canonical weights: kernels uniform in ±1/√fan_in (torch's default range), biases in ±0.1, batch-norm
    γ in [0.5, 1.5], β in ±0.1, running mean in ±0.1 and running variance in [0.5, 1.5], tables N(0, 1)."""
    rng = np.random.default_rng([seed, MODELS.index(model_id)])
    out = {}
    for name, shape in SPECS[model_id].weights.items():
        param = name.split("/")[1]
        if param in ("weight", "ln1_weight", "ln2_weight", "running_var"):
            out[name] = rng.uniform(0.5, 1.5, shape)
        elif param == "table":
            out[name] = rng.standard_normal(shape)
        elif len(shape) == 1:
            out[name] = rng.uniform(-0.1, 0.1, shape)
        else:
            fan_in = shape[0] if name.startswith("block/") else int(np.prod(shape[1:]))
            bound = 1 / np.sqrt(fan_in)
            out[name] = rng.uniform(-bound, bound, shape)
    return out


def batch(model_id: str, seed: int = 0, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """One batch (x, y) in ``dtype``: token ids in [0, 12), or values in ±1 (images ±1); targets per the loss."""
    spec = SPECS[model_id]
    rng = np.random.default_rng([seed, 100 + MODELS.index(model_id)])
    b = BATCH[model_id]
    if spec.tokens:
        x = rng.integers(0, VOCAB, (b, *spec.x_shape)).astype(dtype)
    else:
        x = rng.uniform(-1, 1, (b, *spec.x_shape)).astype(dtype)
    if spec.loss == "binary_cross_entropy":
        y = rng.integers(0, 2, (b, 1)).astype(dtype)
    elif spec.loss == "mse":
        y = rng.uniform(-1, 1, (b, 1)).astype(dtype)
    else:
        y = np.eye(CLASSES)[rng.integers(0, CLASSES, b)].astype(dtype)
    return x, y


# layers: forward (output, cache) and backward (d input, {param: grad}) ------------------------------------------


def _relu(a):
    return np.maximum(a, 0.0)


def _sigmoid(a):
    return 0.5 * (1 + np.tanh(a / 2))


def _act_back(act, out, g):
    if act == "relu":
        return g * (out > 0)
    return g


class _Dense:
    def __init__(self, name, act=None):
        self.name, self.act = name, act

    def fwd(self, h, W, ctx):
        pre = Ly.dense.__wrapped__(h, W[f"{self.name}/w"], W[f"{self.name}/b"])
        return (_relu(pre) if self.act == "relu" else pre), pre

    def bwd(self, h, out, W, g, ctx):
        g = _act_back(self.act, out, g)
        dh, dw, db = Ly.dense_vjp.__wrapped__(h, W[f"{self.name}/w"], W[f"{self.name}/b"], g)
        return dh, {"w": dw, "b": db}


class _Conv:
    def __init__(self, name, act=None):
        self.name, self.act = name, act

    def fwd(self, h, W, ctx):
        pre = Ly.conv2d.__wrapped__(h, W[f"{self.name}/w"], W[f"{self.name}/b"], padding="same")
        return (_relu(pre) if self.act == "relu" else pre), pre

    def bwd(self, h, out, W, g, ctx):
        g = _act_back(self.act, out, g)
        dh, dw, db = Ly.conv2d_vjp.__wrapped__(h, W[f"{self.name}/w"], W[f"{self.name}/b"], g, padding="same")
        return dh, {"w": dw, "b": db}


class _BatchNormRelu:
    def __init__(self, name):
        self.name = name

    def _args(self, W):
        n = self.name
        return W[f"{n}/weight"], W[f"{n}/bias"], W[f"{n}/running_mean"], W[f"{n}/running_var"]

    def fwd(self, h, W, ctx):
        y, mean, var = N.batch_norm.__wrapped__(h, *self._args(W), training=ctx["training"], **BN)
        if ctx["training"]:
            ctx["state"][f"{self.name}/running_mean"] = mean
            ctx["state"][f"{self.name}/running_var"] = var
        return _relu(y), None

    def bwd(self, h, out, W, g, ctx):
        dh, dw, db = N.batch_norm_vjp.__wrapped__(h, *self._args(W), g * (out > 0), training=ctx["training"], **BN)
        return dh, {"weight": dw, "bias": db}


class _MaxPool:
    def fwd(self, h, W, ctx):
        return _first(Ly.max_pool2d.__wrapped__(h, (2, 2))), None

    def bwd(self, h, out, W, g, ctx):
        return _first(Ly.max_pool2d_vjp.__wrapped__(h, g, (2, 2))), {}


class _Flatten:
    def fwd(self, h, W, ctx):
        return Ly.flatten.__wrapped__(h), None

    def bwd(self, h, out, W, g, ctx):
        return _first(Ly.flatten_vjp.__wrapped__(h, g)), {}


class _Embedding:
    name = "embedding"

    def fwd(self, h, W, ctx):
        return E.embedding(W["embedding/table"], h.astype(np.int64)), None

    def bwd(self, h, out, W, g, ctx):
        return None, {"table": E.embedding_vjp.__wrapped__(W["embedding/table"], h.astype(np.int64), g)}


def _stack(W, name, keys):
    return [W[f"{name}/{k}"][None, None] for k in keys]


class _Recurrent:
    """One recurrent layer over a batch-first sequence: the whole sequence or its last state."""

    def __init__(self, name, kind, sequences):
        self.name, self.kind, self.sequences = name, kind, sequences
        self.keys = ("w_ih", "w_hh", "b", "b_hn") if kind == "gru" else ("w_ih", "w_hh", "b")

    def _call(self, h, W):
        B, H = h.shape[0], W[f"{self.name}/w_hh"].shape[1]
        zeros = np.zeros((1, 1, B, H))
        states = (zeros, zeros) if self.kind == "lstm" else (zeros,)
        extra = {"reset_after": True} if self.kind == "gru" else {}
        return states, extra

    def fwd(self, h, W, ctx):
        states, extra = self._call(h, W)
        op = R.lstm if self.kind == "lstm" else R.gru
        y = op.__wrapped__(h, *states, *_stack(W, self.name, self.keys), batch_first=True,
                           return_sequences=self.sequences, **extra)[0]
        return y, None

    def bwd(self, h, out, W, g, ctx):
        states, extra = self._call(h, W)
        op = R.lstm_vjp if self.kind == "lstm" else R.gru_vjp
        grads = op.__wrapped__(h, *states, *_stack(W, self.name, self.keys), g, batch_first=True,
                               return_sequences=self.sequences, **extra)
        params = grads[1 + len(states):]
        return grads[0], {k: np.asarray(p)[0, 0] for k, p in zip(self.keys, params)}


class _Encoding:
    def fwd(self, h, W, ctx):
        positions = np.arange(h.shape[1], dtype=np.float64)
        return h + PE.sinusoidal_positional_encoding.__wrapped__(positions, h.shape[2])[None], None

    def bwd(self, h, out, W, g, ctx):
        return g, {}


class _Block:
    def _weights(self, W):
        return [W[f"block/{k}"] for k in BLOCK_ORDER]

    def _mask(self, h):
        return np.ones((h.shape[0], h.shape[1], h.shape[1]), dtype=bool)

    def fwd(self, h, W, ctx):
        return A.transformer_block.__wrapped__(h, *self._weights(W), self._mask(h), HEADS, epsilon=1e-5), None

    def bwd(self, h, out, W, g, ctx):
        d_x, *grads = A.transformer_block_vjp.__wrapped__(h, *self._weights(W), self._mask(h), g, HEADS,
                                                           epsilon=1e-5)
        return d_x, dict(zip(BLOCK_ORDER, grads))


class _MeanPool:
    def __init__(self, axes):
        self.axes = axes

    def fwd(self, h, W, ctx):
        return np.mean(h, axis=self.axes), None

    def bwd(self, h, out, W, g, ctx):
        n = int(np.prod([h.shape[a] for a in self.axes]))
        return np.broadcast_to(np.expand_dims(g, self.axes), h.shape) / n, {}


def _sequential(model_id):
    return {
        "mlp": [_Dense("dense1", "relu"), _Dense("dense2", "relu"), _Dense("dense3")],
        "cnn": [_Conv("conv1"), _BatchNormRelu("bn1"), _MaxPool(), _Conv("conv2"), _BatchNormRelu("bn2"),
                _MaxPool(), _Flatten(), _Dense("dense1", "relu"), _Dense("dense2")],
        "lstm_classifier": [_Embedding(), _Recurrent("lstm1", "lstm", True), _Recurrent("lstm2", "lstm", False),
                            _Dense("dense")],
        "gru_regressor": [_Recurrent("gru1", "gru", False), _Dense("dense")],
        "transformer_encoder": [_Embedding(), _Encoding(), _Block(), _MeanPool((1,)), _Dense("dense")],
    }[model_id]


# the loss of the last layer's output (the logits) ---------------------------------------------------------------


def _loss(model_id, logits, y):
    kind = SPECS[model_id].loss
    if kind == "binary_cross_entropy":
        return (Lo.binary_cross_entropy_with_logits.__wrapped__(logits, y),
                Lo.binary_cross_entropy_with_logits_vjp.__wrapped__(logits, y, np.float64(1.0)))
    if kind == "mse":
        return Lo.mse.__wrapped__(logits, y), Lo.mse_vjp.__wrapped__(logits, y, np.float64(1.0))
    return (Lo.categorical_cross_entropy_with_logits.__wrapped__(logits, y),
            Lo.categorical_cross_entropy_with_logits_vjp.__wrapped__(logits, y, np.float64(1.0)))


def _first(v):
    return v[0] if isinstance(v, tuple) else v


def _resnet(W, x, y, ctx):
    acts = {}
    c1 = _Conv("conv1", "relu")
    a1, _ = c1.fwd(x, W, ctx)
    c2 = _Conv("conv2")
    a2, _ = c2.fwd(a1, W, ctx)
    sc = _Conv("shortcut")
    s, _ = sc.fwd(x, W, ctx)
    add = _relu(a2 + s)
    pool = _MeanPool((2, 3))
    p, _ = pool.fwd(add, W, ctx)
    dense = _Dense("dense")
    logits, _ = dense.fwd(p, W, ctx)
    acts.update(conv1=a1, conv2=a2, shortcut=s, add=add, pool=p, dense=logits)
    loss, g = _loss("resnet_block", logits, y)
    grads = {}
    g, d = dense.bwd(p, logits, W, _first(g), ctx)
    grads.update({f"dense/{k}": v for k, v in d.items()})
    g = pool.bwd(add, p, W, g, ctx)[0] * (add > 0)
    gs, d = sc.bwd(x, s, W, g, ctx)
    grads.update({f"shortcut/{k}": v for k, v in d.items()})
    g1, d = c2.bwd(a1, a2, W, g, ctx)
    grads.update({f"conv2/{k}": v for k, v in d.items()})
    gx, d = c1.bwd(x, a1, W, g1, ctx)
    grads.update({f"conv1/{k}": v for k, v in d.items()})
    return logits, loss, acts, grads


def forward(model_id: str, weights: dict, x, y, training: bool = True) -> dict:
    """logits, loss, every layer's activation and every trainable parameter's gradient, and the batch-norm state."""
    spec = SPECS[model_id]
    W = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ctx = {"training": training, "state": {}}
    if model_id == "resnet_block":
        logits, loss, acts, grads = _resnet(W, x, y, ctx)
    else:
        layers, inputs, outs = _sequential(model_id), [], []
        h = x
        for layer in layers:
            inputs.append(h)
            h, _ = layer.fwd(h, W, ctx)
            outs.append(h)
        acts = dict(zip(spec.layers, outs))
        logits = h
        loss, g = _loss(model_id, logits, y)
        g, grads = _first(g), {}
        for name, layer, h_in, out in reversed(list(zip(spec.layers, layers, inputs, outs))):
            g, d = layer.bwd(h_in, out, W, g, ctx)
            grads.update({f"{name}/{k}": v for k, v in d.items()})
    grads = {k: grads[k] for k in trainable(model_id)}  # the canonical order
    return {"logits": logits, "loss": np.asarray(loss, dtype=np.float64), "activations": acts,
            "gradients": grads, "state": ctx["state"]}


def output(model_id: str, logits):
    """The model's prediction from its logits: sigmoid (mlp), identity (gru_regressor), softmax (classifiers)."""
    kind = SPECS[model_id].loss
    if kind == "binary_cross_entropy":
        return _sigmoid(logits)
    if kind == "mse":
        return logits
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


OPTIMIZERS = ("momentum", "adam")
HYPER = {"momentum": {"lr": 0.05, "momentum": 0.9}, "adam": {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}}


def train(model_id: str, weights: dict, xs, ys, optimizer: str, hyper: dict) -> dict:
    """{name: (steps, *shape)}: every trainable parameter and running statistic after every step (batch t on step t)."""
    W = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    names = trainable(model_id)
    init, update = {"momentum": (O.momentum_init, O.momentum_update), "adam": (O.adam_init, O.adam_update)}[optimizer]
    lr, rest = hyper["lr"], {k: v for k, v in hyper.items() if k != "lr"}
    states = {k: init(W[k]) for k in names}
    history = {k: [] for k in W}
    for t, (x, y) in enumerate(zip(xs, ys), start=1):
        out = forward(model_id, W, x, y, training=True)
        for k in names:
            W[k], states[k] = update(W[k], out["gradients"][k], states[k], t, lr, **rest)
        W.update(out["state"])
        for k in W:
            history[k].append(W[k])
    return {k: np.stack(v) for k, v in history.items()}
