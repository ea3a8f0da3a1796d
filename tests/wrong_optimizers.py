"""Deliberately wrong optimizers, schedules and clipping: each breaks one thing the trajectory,
schedule and values checks must catch, and name where a variant fits.

They subclass the NumPy baseline (which passes these checks in float64) and change one op,
stepping the spec's own ``trajectory`` with one wrong update.
"""

from __future__ import annotations

import math

import numpy as np

from nnspec.backends.numpy import NumpyBackend, in_dtype
from nnspec.spec import clipping as C
from nnspec.spec import optimizers as O
from nnspec.spec import schedules as L


def _adam_without_bias_correction(params, grad, state, step, lr, beta1, beta2, eps, amsgrad, weight_decay):
    """Adam's moments used raw: m/(√v + ε), no division by 1 − βᵗ."""
    grad = grad + weight_decay * params
    m = beta1 * state["m"] + (1 - beta1) * grad
    v = beta2 * state["v"] + (1 - beta2) * (grad * grad)
    v_max = np.maximum(state["v_max"], v) if amsgrad else state["v_max"]
    second = v_max if amsgrad else v
    return params - O.learning_rate(lr, step) * m / (np.sqrt(second) + eps), {"m": m, "v": v, "v_max": v_max}


class AdamWithoutBiasCorrection(NumpyBackend):
    """adam that forgets the bias correction of both moments (no variant explains it)."""

    name = "adam-without-bias-correction"

    def adam(self, params, grads, lr, beta1, beta2, eps, amsgrad, weight_decay):
        hyper = {"beta1": beta1, "beta2": beta2, "eps": eps, "amsgrad": amsgrad, "weight_decay": weight_decay}
        with np.errstate(all="ignore"):
            return O.trajectory(O.adam_init, _adam_without_bias_correction, params, grads, lr, hyper)


class RmspropEpsInside(NumpyBackend):
    """rmsprop with ε moved inside the square root, √(v + ε) (as Keras and optax do)."""

    name = "rmsprop-eps-inside"

    def rmsprop(self, params, grads, lr, rho, eps, centered, momentum, weight_decay):
        return in_dtype(O.rmsprop, params, grads, lr=lr, rho=rho, eps=eps, centered=centered, momentum=momentum,
                        weight_decay=weight_decay, eps_placement="inside")


def _momentum_scaled_buffer(params, grad, state, step, lr, momentum, weight_decay):
    """v ← μv + lr·(g + λw), w ← w − v: written out here, not taken from the spec's variant."""
    v = momentum * state["v"] + O.learning_rate(lr, step) * (grad + weight_decay * params)
    return params - v, {"v": v}


class MomentumLrInBuffer(NumpyBackend):
    """momentum whose buffer accumulates lr·g (as Keras' SGD does): visible once lr changes."""

    name = "momentum-lr-in-buffer"

    def momentum(self, params, grads, lr, momentum, weight_decay):
        return O.trajectory(O.momentum_init, _momentum_scaled_buffer, params, grads, lr,
                            {"momentum": momentum, "weight_decay": weight_decay})


class DriftingSgd(NumpyBackend):
    """sgd whose learning rate creeps up by 1e-6 per step: fine at first, wrong after a while."""

    name = "drifting-sgd"

    def sgd(self, params, grads, lr, weight_decay):
        creeping = np.asarray(lr, dtype=np.float64) * (1 + 1e-6) ** np.arange(1, len(grads) + 1)
        return in_dtype(O.sgd, params, grads, lr=creeping.astype(params.dtype), weight_decay=weight_decay)


class KerasStyleWeightDecay(NumpyBackend):
    """momentum whose weight decay shrinks w by lr·λ·w before the step instead of adding λw to g (as every
    Keras 3 optimizer's weight_decay does): written out here, not taken from the spec's variant."""

    name = "keras-style-weight-decay"

    def momentum(self, params, grads, lr, momentum, weight_decay):
        def update(params, grad, state, step, lr, momentum, weight_decay):
            rate = O.learning_rate(lr, step)
            params = params - rate * weight_decay * params
            v = momentum * state["v"] + grad
            return params - rate * v, {"v": v}

        return O.trajectory(O.momentum_init, update, params, grads, lr, {"momentum": momentum,
                                                                          "weight_decay": weight_decay})


class AdagradDecayFromStepOne(NumpyBackend):
    """Adagrad whose rate is lr / (1 + t·d) from the first step on, where torch and the spec
    start decaying at the second (lr / (1 + (t − 1)·d)): written out here, not the spec's."""

    name = "adagrad-decay-from-step-one"

    def adagrad(self, params, grads, lr, initial_accumulator, eps, weight_decay, lr_decay):
        def update(params, grad, state, step, lr, eps, weight_decay, lr_decay):
            rate = O.learning_rate(lr, step) / (1 + step * lr_decay)
            grad = grad + weight_decay * params
            total = state["sum"] + grad * grad
            return params - rate * grad / (np.sqrt(total) + eps), {"sum": total}

        return O.trajectory(O.adagrad_init, update, params, grads, lr,
                            {"eps": eps, "weight_decay": weight_decay, "lr_decay": lr_decay},
                            {"initial_accumulator": initial_accumulator})


class RaisingNadam(NumpyBackend):
    name = "raising-nadam"

    def nadam(self, params, grads, lr, beta1, beta2, eps):
        raise RuntimeError("fused kernel unavailable")


class RecursiveCosine(NumpyBackend):
    """cosine_annealing stepped by torch's recurrence instead of the closed form (periodic past T)."""

    name = "recursive-cosine"

    def cosine_annealing(self, lr_max, steps, T, lr_min):
        lr = float(lr_max)

        def next_value(t, prev):
            if (t - 1 - T) % (2 * T) == 0:
                return prev + (lr - lr_min) * (1 - math.cos(math.pi / T)) / 2
            return (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (prev - lr_min) + lr_min

        rates = [lr]
        for t in range(1, int(steps)):
            rates.append(next_value(t, rates[-1]))
        return np.asarray(rates[: int(steps)]).astype(lr_max.dtype)


class StepDecayOffByOne(NumpyBackend):
    """step_decay that decays one step late (⌊(t − 1)/step_size⌋): wrong at every boundary."""

    name = "step-decay-off-by-one"

    def step_decay(self, lr, steps, step_size, gamma):
        t = np.arange(int(steps))
        return (float(lr) * gamma ** np.floor(np.maximum(t - 1, 0) / step_size)).astype(lr.dtype)


class ClipNormWithEps(NumpyBackend):
    """clip_by_norm dividing by ‖x‖ + 1e-6 (as torch's clip_grad_norm_)."""

    name = "clip-norm-with-eps"

    def clip_by_norm(self, x, max_norm):
        return in_dtype(C.clip_by_norm, x, max_norm=max_norm, norm_eps=1e-6)


def _reduce_on_plateau_reaches(lr, metrics, **params):
    return L.reduce_on_plateau.__wrapped__(lr, metrics, **params, patience_rule="reaches")


class PlateauReducesEarly(NumpyBackend):
    """reduce_on_plateau reducing once the bad epochs reach ``patience`` (Keras, optax)."""

    name = "plateau-reduces-early"

    def reduce_on_plateau(self, lr, metrics, factor, patience, threshold, cooldown, min_lr):
        rates = _reduce_on_plateau_reaches(lr, metrics, factor=factor, patience=patience, threshold=threshold,
                                           cooldown=cooldown, min_lr=min_lr)
        return rates.astype(lr.dtype)
