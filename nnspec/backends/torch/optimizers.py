"""Torch adapter, optimizers: torch.optim, torch.optim.lr_scheduler and torch.nn.utils clipping.

Optimizers: one ``torch.optim`` object per trajectory over a parameter holding the
initial values; before each ``step()`` the parameter's ``.grad`` is set to the check's
gradient (the optimizer never computes one) and the step's learning rate is written
into the param group. Schedulers step a throw-away SGD optimizer and read its rate:
torch computes rates as Python floats, returned in the dtype of the check's learning
rate (the cast a parameter update applies to them). Clipping sets ``.grad`` and calls
the in-place ``clip_grad_*_`` utilities.
"""

from __future__ import annotations

import torch
from torch.nn.utils import clip_grad_norm_, clip_grad_value_
from torch.optim import SGD, Adagrad, Adam, Adamax, AdamW, NAdam, RMSprop
from torch.optim import lr_scheduler as S

from ..base import Unsupported, same


def _beta(index):
    """The spec's β₁ or β₂ from torch's ``betas`` pair."""
    return lambda betas: betas[index]


def _steps(optimizer_class, params, grads, lr, **options):
    """The parameters after each step of ``optimizer_class`` fed ``grads``, stacked."""
    weight = torch.nn.Parameter(params.detach().clone())
    rates = lr.tolist()
    optimizer = optimizer_class([weight], lr=rates[0] if rates else 0.0, **options)
    trajectory = []
    for rate, grad in zip(rates, grads):
        optimizer.param_groups[0]["lr"] = rate
        weight.grad = grad.detach().clone()
        optimizer.step()
        trajectory.append(weight.detach().clone())
    return torch.stack(trajectory) if trajectory else params.new_zeros((0, *params.shape))


def _rates(lr, steps, make_scheduler):
    """The rate at steps 0..steps−1 of the scheduler ``make_scheduler(optimizer)``, in lr's dtype."""
    optimizer = SGD([torch.nn.Parameter(torch.zeros(()))], lr=float(lr))
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(int(steps)):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # a no-op (no gradient), in the order torch expects before scheduler.step()
        scheduler.step()
    return torch.tensor(rates, dtype=torch.float64).to(lr.dtype)


class Optimizers:
    NATIVE_DEFAULTS = {
        "sgd": {"lr": (SGD, "lr", same), "weight_decay": (SGD, "weight_decay", same)},
        "momentum": {"lr": (SGD, "lr", same), "momentum": (SGD, "momentum", same),
                     "weight_decay": (SGD, "weight_decay", same)},
        "nesterov": {"lr": (SGD, "lr", same), "momentum": (SGD, "momentum", same),
                     "weight_decay": (SGD, "weight_decay", same)},
        "adagrad": {"lr": (Adagrad, "lr", same), "lr_decay": (Adagrad, "lr_decay", same), "initial_accumulator": (Adagrad, "initial_accumulator_value", same),
                    "eps": (Adagrad, "eps", same), "weight_decay": (Adagrad, "weight_decay", same)},
        "rmsprop": {"lr": (RMSprop, "lr", same), "rho": (RMSprop, "alpha", same), "eps": (RMSprop, "eps", same),
                    "centered": (RMSprop, "centered", same), "momentum": (RMSprop, "momentum", same),
                    "weight_decay": (RMSprop, "weight_decay", same)},
        "adam": {"lr": (Adam, "lr", same), "beta1": (Adam, "betas", _beta(0)), "beta2": (Adam, "betas", _beta(1)),
                 "eps": (Adam, "eps", same), "amsgrad": (Adam, "amsgrad", same),
                 "weight_decay": (Adam, "weight_decay", same)},
        "adamw": {"lr": (AdamW, "lr", same), "beta1": (AdamW, "betas", _beta(0)),
                  "beta2": (AdamW, "betas", _beta(1)), "eps": (AdamW, "eps", same),
                  "weight_decay": (AdamW, "weight_decay", same)},
        "adamax": {"lr": (Adamax, "lr", same), "beta1": (Adamax, "betas", _beta(0)),
                   "beta2": (Adamax, "betas", _beta(1)), "eps": (Adamax, "eps", same)},
        "nadam": {"lr": (NAdam, "lr", same), "beta1": (NAdam, "betas", _beta(0)),
                  "beta2": (NAdam, "betas", _beta(1)), "eps": (NAdam, "eps", same)},
        "step_decay": {"gamma": (S.StepLR, "gamma", same)},
        "cosine_annealing": {"lr_min": (S.CosineAnnealingLR, "eta_min", same)},
        "reduce_on_plateau": {p: (S.ReduceLROnPlateau, n, same) for p, n in (
            ("factor", "factor"), ("patience", "patience"), ("threshold", "threshold"), ("cooldown", "cooldown"),
            ("min_lr", "min_lr"))},
    }

    # optimizers -------------------------------------------------------------------------

    def sgd(self, params, grads, lr, weight_decay):
        return _steps(SGD, params, grads, lr, momentum=0.0, weight_decay=weight_decay)

    def momentum(self, params, grads, lr, momentum, weight_decay):
        return _steps(SGD, params, grads, lr, momentum=momentum, dampening=0.0, nesterov=False,
                      weight_decay=weight_decay)

    def nesterov(self, params, grads, lr, momentum, weight_decay):
        return _steps(SGD, params, grads, lr, momentum=momentum, dampening=0.0, nesterov=True,
                      weight_decay=weight_decay)

    def adagrad(self, params, grads, lr, initial_accumulator, eps, weight_decay, lr_decay):
        return _steps(Adagrad, params, grads, lr, lr_decay=lr_decay, initial_accumulator_value=initial_accumulator, eps=eps,
                      weight_decay=weight_decay)

    def rmsprop(self, params, grads, lr, rho, eps, centered, momentum, weight_decay):
        return _steps(RMSprop, params, grads, lr, alpha=rho, eps=eps, centered=centered, momentum=momentum,
                      weight_decay=weight_decay)

    def adam(self, params, grads, lr, beta1, beta2, eps, amsgrad, weight_decay):
        return _steps(Adam, params, grads, lr, betas=(beta1, beta2), eps=eps, amsgrad=amsgrad,
                      weight_decay=weight_decay)

    def adamw(self, params, grads, lr, beta1, beta2, eps, weight_decay):
        return _steps(AdamW, params, grads, lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)

    def adamax(self, params, grads, lr, beta1, beta2, eps):
        return _steps(Adamax, params, grads, lr, betas=(beta1, beta2), eps=eps)

    def nadam(self, params, grads, lr, beta1, beta2, eps):
        # ψ = 0.004 is the spec's momentum schedule (a constant there, a parameter here).
        return _steps(NAdam, params, grads, lr, betas=(beta1, beta2), eps=eps, momentum_decay=0.004)

    # schedules ----------------------------------------------------------------------------

    def step_decay(self, lr, steps, step_size, gamma):
        return _rates(lr, steps, lambda o: S.StepLR(o, step_size=step_size, gamma=gamma))

    def exponential_decay(self, lr, steps, gamma):
        return _rates(lr, steps, lambda o: S.ExponentialLR(o, gamma=gamma))

    def cosine_annealing(self, lr_max, steps, T, lr_min):
        return _rates(lr_max, steps, lambda o: S.CosineAnnealingLR(o, T_max=T, eta_min=lr_min))

    def linear_warmup(self, lr_peak, steps, warmup_steps, lr_start):
        return _rates(lr_peak, steps, lambda o: _linear(o, lr_peak, lr_start, warmup_steps))

    def warmup_cosine(self, lr_peak, steps, warmup_steps, T, lr_start, lr_min):
        def sequential(o):
            warmup = _linear(o, lr_peak, lr_start, warmup_steps)
            cosine = S.CosineAnnealingLR(o, T_max=T, eta_min=lr_min)
            return S.SequentialLR(o, [warmup, cosine], milestones=[warmup_steps])

        return _rates(lr_peak, steps, sequential)

    def reduce_on_plateau(self, lr, metrics, factor, patience, threshold, cooldown, min_lr):
        optimizer = SGD([torch.nn.Parameter(torch.zeros(()))], lr=float(lr))
        scheduler = S.ReduceLROnPlateau(optimizer, mode="min", factor=factor, patience=patience, threshold=threshold,
                                        threshold_mode="rel", cooldown=cooldown, min_lr=min_lr)
        rates = []
        for metric in metrics.tolist():
            optimizer.step()
            scheduler.step(metric)
            rates.append(optimizer.param_groups[0]["lr"])
        return torch.tensor(rates, dtype=torch.float64).to(lr.dtype)

    # clipping -----------------------------------------------------------------------------

    def clip_by_value(self, x, clip_value):
        return _clipped(lambda p: clip_grad_value_(p, clip_value), x)[0]

    def clip_by_norm(self, x, max_norm):
        return _clipped(lambda p: clip_grad_norm_(p, max_norm), x)[0]

    def clip_by_global_norm(self, x1, x2, x3, max_norm):
        return _clipped(lambda p: clip_grad_norm_(p, max_norm), x1, x2, x3)


def _linear(optimizer, lr_peak, lr_start, warmup_steps):
    """LinearLR from lr_start to lr_peak: its factors are relative to the optimizer's rate, lr_peak."""
    start_factor = float(lr_start) / float(lr_peak)
    if not 0 < start_factor <= 1:
        raise Unsupported(f"torch LinearLR needs 0 < lr_start/lr_peak <= 1, got {start_factor!r}")
    return S.LinearLR(optimizer, start_factor=start_factor, end_factor=1.0, total_iters=warmup_steps)


def _clipped(clip, *grads):
    """Gradients after ``clip`` acted in place on parameters whose ``.grad`` they are."""
    weights = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for weight, grad in zip(weights, grads):
        weight.grad = grad.detach().clone()
    clip(weights)
    return tuple(weight.grad for weight in weights)
