"""Torch adapter, models: the six seed models (``nnspec/spec/models.py``) built from torch.nn's own layers.

Each layer is a torch.nn module run by ``torch.func.functional_call`` on its native parameters, which are
computed from the canonical weights through the families' own mappings (dense and conv: ``layouts.convert``
with ``layers.LAYOUT``; LSTM/GRU: the recurrent mixin's ``_native``, i.e. ``spec.recurrent.assemble`` with
torch ops; the encoder block: ``attention.block_parameters``). ``model_forward`` differentiates the loss by
the canonical weights (autograd through the mapping); ``model_train`` steps the *native* parameters with
torch.optim's own SGD / Adam, as a torch user's training loop does, and maps them back after every step
(``spec.recurrent.disassemble``: the canonical bias is bias_ih + bias_hh; ``attention.spec_block``). torch has no positional-encoding layer:
the attention mixin's composed ``sinusoidal_positional_encoding`` is used, so ``model_forward`` is composed there.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.func import functional_call

from ...spec import models as M
from ...spec.recurrent import disassemble
from ..layouts import SPEC, convert
from .attention import block_parameters, spec_block
from .layers import LAYOUT
from .recurrent import LAYOUTS as RECURRENT_LAYOUTS
from .recurrent import _TorchOps

BN_MODULE = dict(momentum=M.BN["momentum"], eps=M.BN["epsilon"])


class _Build:
    """One model's torch.nn modules (cached per model and dtype) and its layer sequence."""

    def __init__(self, backend, model_id, dtype):
        self.backend, self.model_id, self.dtype = backend, model_id, dtype
        spec = M.SPECS[model_id]
        self.modules = {}
        for name, shape in spec.weights.items():
            layer, param = name.split("/")
            if layer in self.modules:
                continue
            if param == "table":
                self.modules[layer] = torch.nn.Embedding(*shape, dtype=dtype)
            elif param in ("weight",):
                self.modules[layer] = torch.nn.BatchNorm2d(shape[0], **BN_MODULE, dtype=dtype)
            elif param == "w" and len(shape) == 4:
                self.modules[layer] = torch.nn.Conv2d(shape[1], shape[0], shape[2:], padding="same", dtype=dtype)
            elif param == "w":
                self.modules[layer] = torch.nn.Linear(shape[1], shape[0], dtype=dtype)
            elif param == "w_ih":
                kind = "lstm" if layer.startswith("lstm") else "gru"
                hidden = spec.weights[f"{layer}/w_hh"][1]
                self.modules[layer] = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(
                    shape[1], hidden, batch_first=True, dtype=dtype)
            elif layer == "block":
                d_model, d_ff = spec.weights["block/w_1"]
                self.modules[layer] = torch.nn.TransformerEncoderLayer(
                    d_model, M.HEADS, dim_feedforward=d_ff, dropout=0.0, activation="relu", layer_norm_eps=1e-5,
                    batch_first=True, norm_first=False, dtype=dtype)

    # canonical <-> native ------------------------------------------------------------------------------------

    def native(self, P: dict) -> dict:
        """{layer: {native parameter or buffer name: tensor}} from canonical tensors P (differentiable)."""
        out = {}
        for layer, module in self.modules.items():
            own = {k.split("/")[1]: v for k, v in P.items() if k.split("/")[0] == layer}
            if isinstance(module, torch.nn.Embedding):
                out[layer] = {"weight": own["table"]}
            elif isinstance(module, torch.nn.BatchNorm2d):
                out[layer] = {"weight": own["weight"], "bias": own["bias"], "running_mean": own["running_mean"],
                              "running_var": own["running_var"],
                              "num_batches_tracked": torch.zeros((), dtype=torch.long)}
            elif isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                kind = "kernel" if isinstance(module, torch.nn.Conv2d) else "dense"
                out[layer] = {"weight": convert(own["w"], SPEC[kind], LAYOUT[kind]), "bias": own["b"]}
            elif isinstance(module, (torch.nn.LSTM, torch.nn.GRU)):
                kind = "lstm" if isinstance(module, torch.nn.LSTM) else "gru"
                out[layer] = self.backend._native(kind, {k: v[None, None] for k, v in own.items()}, ops=_TorchOps)
            else:
                out[layer] = block_parameters(own)
        return out

    def canonical(self, native: dict) -> dict:
        """Canonical NumPy weights back from native tensors (the inverse mapping)."""
        to_numpy = self.backend.to_numpy
        out = {}
        for layer, module in self.modules.items():
            n = {k: np.array(to_numpy(v), copy=True) for k, v in native[layer].items()}
            if isinstance(module, torch.nn.Embedding):
                own = {"table": n["weight"]}
            elif isinstance(module, torch.nn.BatchNorm2d):
                own = {k: n[k] for k in ("weight", "bias", "running_mean", "running_var")}
            elif isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                kind = "kernel" if isinstance(module, torch.nn.Conv2d) else "dense"
                own = {"w": np.asarray(convert(n["weight"], LAYOUT[kind], SPEC[kind])), "b": n["bias"]}
            elif isinstance(module, (torch.nn.LSTM, torch.nn.GRU)):
                kind = "lstm" if isinstance(module, torch.nn.LSTM) else "gru"
                own = disassemble(kind, RECURRENT_LAYOUTS[kind],
                                  {(p.path[0],): n[p.path[0] + "_l0"] for p in RECURRENT_LAYOUTS[kind]},
                                  module.hidden_size)
            else:  # the attention family's inverse mapping, on torch tensors
                own = {k: np.array(to_numpy(v), copy=True)
                       for k, v in spec_block({k: t.detach() for k, t in native[layer].items()}).items()}
            out.update({f"{layer}/{k}": np.asarray(v) for k, v in own.items()})
        return out

    # the forward pass ----------------------------------------------------------------------------------------

    def _call(self, layer, native, *args):
        return functional_call(self.modules[layer], native[layer], args)

    def run(self, native: dict, x, training: bool):
        """(logits, {layer: activation in spec layout}): the layers in the model's order."""
        for module in self.modules.values():
            module.train(training)
        call, acts = self._call, {}
        m = self.model_id
        if m == "mlp":
            h = x
            for layer in ("dense1", "dense2"):
                h = acts[layer] = torch.relu(call(layer, native, h))
            h = acts["dense3"] = call("dense3", native, h)
        elif m == "cnn":
            h = acts["conv1"] = call("conv1", native, x)
            h = acts["bn1"] = torch.relu(call("bn1", native, h))
            h = acts["pool1"] = torch.nn.MaxPool2d(2)(h)
            h = acts["conv2"] = call("conv2", native, h)
            h = acts["bn2"] = torch.relu(call("bn2", native, h))
            h = acts["pool2"] = torch.nn.MaxPool2d(2)(h)
            h = acts["flatten"] = torch.nn.Flatten()(h)
            h = acts["dense1"] = torch.relu(call("dense1", native, h))
            h = torch.nn.Dropout(0.0)(h)  # the model's dropout, off for the deterministic checks
            h = acts["dense2"] = call("dense2", native, h)
        elif m == "resnet_block":
            a = acts["conv1"] = torch.relu(call("conv1", native, x))
            a = acts["conv2"] = call("conv2", native, a)
            s = acts["shortcut"] = call("shortcut", native, x)
            h = acts["add"] = torch.relu(a + s)
            h = acts["pool"] = torch.nn.AdaptiveAvgPool2d(1)(h).flatten(1)
            h = acts["dense"] = call("dense", native, h)
        elif m == "lstm_classifier":
            h = acts["embedding"] = call("embedding", native, x.long())
            h = acts["lstm1"] = call("lstm1", native, h)[0]
            h = acts["lstm2"] = call("lstm2", native, h)[0][:, -1]
            h = acts["dense"] = call("dense", native, h)
        elif m == "gru_regressor":
            h = acts["gru1"] = call("gru1", native, x)[0][:, -1]
            h = acts["dense"] = call("dense", native, h)
        elif m == "transformer_encoder":
            h = acts["embedding"] = call("embedding", native, x.long())
            positions = torch.arange(x.shape[1], dtype=h.dtype)  # the attention mixin's (composed) encoding
            pe = self.backend.sinusoidal_positional_encoding(positions, h.shape[2], 10000.0)
            h = acts["encoding"] = h + pe
            h = acts["block"] = call("block", native, h)
            h = acts["pool"] = h.mean(dim=1)
            h = acts["dense"] = call("dense", native, h)
        return h, acts

    def loss(self, logits, y):
        kind = M.SPECS[self.model_id].loss
        if kind == "binary_cross_entropy":  # Dense(1, sigmoid) then BCE, as the model is written
            return torch.nn.BCELoss()(torch.sigmoid(logits), y)
        if kind == "mse":
            return torch.nn.MSELoss()(logits, y)
        return torch.nn.CrossEntropyLoss()(logits, y)  # softmax + categorical CE of one-hot targets

    def state(self, native):
        return {f"{layer}/{k}": self.backend.to_numpy(native[layer][k]).copy()
                for layer, module in self.modules.items() if isinstance(module, torch.nn.BatchNorm2d)
                for k in ("running_mean", "running_var")}


class Models:
    #: train the canonical one bias per gate: torch's bias_hh (the −0 addend) frozen (LSTM) or its r, z rows
    #: masked (GRU); with both biases training, their sum moves twice the step (False measures that trap)
    ONE_RECURRENT_BIAS = True
    MODEL_SETTINGS = {
        "cnn": (M.Setting("torch.nn.BatchNorm2d(C, momentum=0.1, eps=1e-05)", "bn1, bn2",
                          "the spec's batch norm (torch's defaults)"),
                M.Setting('torch.nn.Conv2d(..., padding="same")', "conv1, conv2", "3×3 same padding, stride 1")),
        "transformer_encoder": (M.Setting("torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, "
                                          "batch_first=True, norm_first=False)", "block",
                                          "post-norm, no dropout; the default dropout 0.1 is not off"),),
        "lstm_classifier": (M.Setting("torch.nn.LSTM(8, 8, batch_first=True)", "lstm1, lstm2",
                                      "canonical b into bias_ih, bias_hh = −0"),
                            M.Setting("lstm.bias_hh_l0.requires_grad_(False)", "lstm1, lstm2",
                                      "else bias_ih and bias_hh both train: their sum moves twice the step")),
        "gru_regressor": (M.Setting("torch.nn.GRU(3, 8, batch_first=True)", "gru1",
                                    "reset-after form, z rows negated (torch keeps z·h)"),
                          M.Setting("gru.bias_hh_l0.register_hook(lambda g: g * keep)  # keep: 0 on the r, z rows",
                                    "gru1", "else the r, z biases train twice (bias_ih + bias_hh); b_hn (n rows) "
                                    "trains")),
    }

    MODEL_TRAPS = {
        model: (M.Trap("two recurrent biases", ("training",), layer, setting_off=f"torch.nn.{cls}(...) trained with "
                       "every parameter (bias_ih and bias_hh both in the optimizer)",
                       why="the canonical bias is bias_ih + bias_hh: both step, so it moves twice the step "
                           "(SGD: 2x the update; Adam: two unit-size steps)",
                       disable=lambda backend: M.switch(backend, "ONE_RECURRENT_BIAS", False)),)
        for model, layer, cls in (("lstm_classifier", "lstm1, lstm2", "LSTM"), ("gru_regressor", "gru1", "GRU"))
    }

    def _model_build(self, model_id, dtype):
        cache = self.__dict__.setdefault("_model_builds", {})
        if (model_id, dtype) not in cache:
            cache[(model_id, dtype)] = _Build(self, model_id, dtype)
        return cache[(model_id, dtype)]

    def model_forward(self, model_id, weights, x, y, training):
        x_t, y_t = self.asarray(x, "cpu"), self.asarray(y, "cpu")
        build = self._model_build(model_id, x_t.dtype)
        P = {k: self.asarray(v, "cpu") for k, v in weights.items()}
        names = M.trainable(model_id)
        for k in names:
            P[k].requires_grad_(True)
        native = build.native(P)
        for layer, module in build.modules.items():  # buffers (running statistics) updated in place: fresh copies
            if isinstance(module, torch.nn.BatchNorm2d):
                for k in ("running_mean", "running_var"):
                    native[layer][k] = native[layer][k].detach().clone()
        logits, acts = build.run(native, x_t, training)
        loss = build.loss(logits, y_t)
        grads = torch.autograd.grad(loss, [P[k] for k in names], allow_unused=True)
        gradients = {k: (self.to_numpy(g) if g is not None else np.zeros_like(weights[k]))
                     for k, g in zip(names, grads)}
        return {"logits": self.to_numpy(logits), "loss": self.to_numpy(loss),
                "activations": {k: self.to_numpy(v) for k, v in acts.items()}, "gradients": gradients,
                "state": build.state(native) if training else {}}

    def model_train(self, model_id, weights, xs, ys, optimizer, hyper):
        build = self._model_build(model_id, self.asarray(xs[:1], "cpu").dtype)
        P = {k: self.asarray(v, "cpu") for k, v in weights.items()}
        native = {layer: {k: v.detach().clone() for k, v in params.items()} for layer, params in
                  build.native(P).items()}
        leaves = [v.requires_grad_(True) for layer, params in native.items() for k, v in params.items()
                  if v.is_floating_point() and k not in ("running_mean", "running_var")
                  and not (self.ONE_RECURRENT_BIAS and k == "bias_hh_l0" and layer.startswith("lstm"))]
        if self.ONE_RECURRENT_BIAS:  # the GRU's bias_hh holds b_hn in its n rows: only its r, z rows stay at −0
            for layer, module in build.modules.items():
                if isinstance(module, torch.nn.GRU):
                    keep = torch.ones(3 * module.hidden_size, dtype=build.dtype)
                    keep[:2 * module.hidden_size] = 0
                    native[layer]["bias_hh_l0"].register_hook(lambda g, keep=keep: g * keep)
        if optimizer == "momentum":
            opt = torch.optim.SGD(leaves, lr=hyper["lr"], momentum=hyper["momentum"], dampening=0.0,
                                  nesterov=False, weight_decay=0.0)
        else:
            opt = torch.optim.Adam(leaves, lr=hyper["lr"], betas=(hyper["beta1"], hyper["beta2"]), eps=hyper["eps"],
                                   weight_decay=0.0, amsgrad=False)
        history = []
        for x, y in zip(xs, ys):
            opt.zero_grad()
            logits, _ = build.run(native, self.asarray(x, "cpu"), True)
            build.loss(logits, self.asarray(y, "cpu")).backward()
            opt.step()
            history.append(build.canonical(native))
        return {k: np.stack([h[k] for h in history]) for k in M.SPECS[model_id].weights}
