"""The seed models of nnspec/spec/models.py against independent oracles: central finite differences of the
loss for every parameter's gradient, closed forms for the loss, the batch-norm state and the first optimizer
steps, and the pinned architecture constants."""

from __future__ import annotations

import numpy as np
import pytest

from nnspec.spec import models as M

H = 1e-6


@pytest.mark.parametrize("model_id", M.MODELS)
def test_every_gradient_is_the_finite_difference_of_the_loss(model_id):
    W = M.init_weights(model_id, 0)
    x, y = M.batch(model_id, 0)
    grads = M.forward(model_id, W, x, y, True)["gradients"]
    assert list(grads) == list(M.trainable(model_id))
    rng = np.random.default_rng(1)
    for name in M.trainable(model_id):
        layer_scale = max(np.max(np.abs(grads[n])) for n in grads if M.layer_of(n) == M.layer_of(name))
        for _ in range(2):
            idx = tuple(int(rng.integers(0, s)) for s in W[name].shape)
            plus, minus = dict(W), dict(W)
            plus[name], minus[name] = W[name].copy(), W[name].copy()
            plus[name][idx] += H
            minus[name][idx] -= H
            fd = (M.forward(model_id, plus, x, y, True)["loss"] - M.forward(model_id, minus, x, y, True)["loss"]) / (2 * H)
            assert abs(fd - grads[name][idx]) <= 1e-6 * layer_scale + 1e-9, (name, idx, fd, grads[name][idx])


def test_activations_and_weights_have_the_declared_shapes():
    for model_id in M.MODELS:
        W = M.init_weights(model_id, 3)
        assert {k: v.shape for k, v in W.items()} == M.SPECS[model_id].weights
        x, y = M.batch(model_id, 3)
        out = M.forward(model_id, W, x, y, False)
        assert tuple(out["activations"]) == M.LAYERS[model_id]
        assert out["logits"] is out["activations"][M.LAYERS[model_id][-1]]
        assert np.asarray(out["loss"]).shape == ()


def test_the_mlp_loss_is_binary_cross_entropy_of_the_sigmoid():
    W = M.init_weights("mlp", 0)
    x, y = M.batch("mlp", 0)
    out = M.forward("mlp", W, x, y, True)
    p = 1 / (1 + np.exp(-out["logits"]))
    assert out["loss"] == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), rel=1e-13)
    h = np.maximum(x @ W["dense1/w"].T + W["dense1/b"], 0)
    assert np.allclose(out["activations"]["dense1"], h, rtol=1e-14, atol=0)


def test_the_classifier_loss_is_cross_entropy_of_the_softmax():
    W = M.init_weights("resnet_block", 0)
    x, y = M.batch("resnet_block", 0)
    out = M.forward("resnet_block", W, x, y, True)
    z = out["logits"]
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    assert out["loss"] == pytest.approx(-np.mean(np.sum(y * log_p, axis=1)), rel=1e-13)


def test_batch_norm_state_is_torchs_convention():
    assert M.BN == {"momentum": 0.1, "epsilon": 1e-5}
    W = M.init_weights("cnn", 0)
    x, y = M.batch("cnn", 0)
    out = M.forward("cnn", W, x, y, True)
    conv1 = out["activations"]["conv1"]
    mean = conv1.mean(axis=(0, 2, 3))
    var = conv1.var(axis=(0, 2, 3), ddof=1)
    assert np.allclose(out["state"]["bn1/running_mean"], 0.9 * W["bn1/running_mean"] + 0.1 * mean, rtol=1e-13)
    assert np.allclose(out["state"]["bn1/running_var"], 0.9 * W["bn1/running_var"] + 0.1 * var, rtol=1e-13)
    assert M.forward("cnn", W, x, y, False)["state"] == {}


def test_a_bias_feeding_batch_norm_has_zero_true_gradient():
    W = M.init_weights("cnn", 0)
    x, y = M.batch("cnn", 0)
    grads = M.forward("cnn", W, x, y, True)["gradients"]
    assert np.max(np.abs(grads["conv1/b"])) < 1e-12 * np.max(np.abs(grads["conv1/w"]))


def test_the_first_steps_are_the_optimizers_closed_forms():
    model_id = "gru_regressor"
    W = M.init_weights(model_id, 0)
    x, y = M.batch(model_id, 0)
    g = M.forward(model_id, W, x, y, True)["gradients"]
    xs, ys = x[None], y[None]
    hyper = M.HYPER["momentum"]
    assert hyper == {"lr": 0.05, "momentum": 0.9}
    step = M.train(model_id, W, xs, ys, "momentum", hyper)
    for name in M.trainable(model_id):
        assert np.allclose(step[name][0], W[name] - 0.05 * g[name], rtol=1e-15, atol=0)
    hyper = M.HYPER["adam"]
    assert hyper == {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    step = M.train(model_id, W, xs, ys, "adam", hyper)
    for name in M.trainable(model_id):  # m̂ = g, v̂ = g²: w − lr·g/(|g| + ε)
        assert np.allclose(step[name][0], W[name] - 0.01 * g[name] / (np.abs(g[name]) + 1e-8), rtol=1e-13, atol=0)


def test_the_encoding_adds_interleaved_sinusoids():
    W = M.init_weights("transformer_encoder", 0)
    x, y = M.batch("transformer_encoder", 0)
    acts = M.forward("transformer_encoder", W, x, y, True)["activations"]
    pe = acts["encoding"] - acts["embedding"]
    pos, i = np.arange(6)[:, None], np.arange(0, 8, 2)[None]
    assert np.allclose(pe[0, :, 0::2], np.sin(pos / 10000 ** (i / 8)), atol=1e-14)
    assert np.allclose(pe[0, :, 1::2], np.cos(pos / 10000 ** (i / 8)), atol=1e-14)


def test_weights_are_drawn_by_seed_alone():
    a, b = M.init_weights("cnn", 5), M.init_weights("cnn", 5)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["conv1/w"], M.init_weights("cnn", 6)["conv1/w"])
