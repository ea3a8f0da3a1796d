"""NumPy adapter, optimizers: the spec's optimizers, schedules and clipping in the input's dtype.

Optimizer trajectories run the spec's update lines on arrays of the parameters' dtype,
hyper-parameters as Python floats (NumPy rounds them at each use), the parameters and
state rounded to the dtype after every step. Schedules are evaluated in float64 and
rounded once to the learning rate's dtype. Clipping runs the spec's lines in the
gradients' dtype.
"""

from __future__ import annotations

import numpy as np

from ...spec import clipping as C
from ...spec import optimizers as O
from ...spec import schedules as L
from .formulas import in_dtype


def _each_in_dtype(formula, *arrays, **params):
    """Like ``in_dtype`` for a formula returning one array per input."""
    with np.errstate(all="ignore"):
        return tuple(np.asarray(y).astype(a.dtype) for y, a in zip(formula.__wrapped__(*arrays, **params), arrays))


class Optimizers:
    # optimizers -------------------------------------------------------------------------

    def sgd(self, params, grads, lr, weight_decay):
        return in_dtype(O.sgd, params, grads, lr=lr, weight_decay=weight_decay)

    def momentum(self, params, grads, lr, momentum, weight_decay):
        return in_dtype(O.momentum, params, grads, lr=lr, momentum=momentum, weight_decay=weight_decay)

    def nesterov(self, params, grads, lr, momentum, weight_decay):
        return in_dtype(O.nesterov, params, grads, lr=lr, momentum=momentum, weight_decay=weight_decay)

    def adagrad(self, params, grads, lr, initial_accumulator, eps, weight_decay, lr_decay):
        return in_dtype(O.adagrad, params, grads, lr=lr, initial_accumulator=initial_accumulator, eps=eps,
                        weight_decay=weight_decay, lr_decay=lr_decay)

    def rmsprop(self, params, grads, lr, rho, eps, centered, momentum, weight_decay):
        return in_dtype(O.rmsprop, params, grads, lr=lr, rho=rho, eps=eps, centered=centered, momentum=momentum,
                        weight_decay=weight_decay)

    def adam(self, params, grads, lr, beta1, beta2, eps, amsgrad, weight_decay):
        return in_dtype(O.adam, params, grads, lr=lr, beta1=beta1, beta2=beta2, eps=eps, amsgrad=amsgrad,
                        weight_decay=weight_decay)

    def adamw(self, params, grads, lr, beta1, beta2, eps, weight_decay):
        return in_dtype(O.adamw, params, grads, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)

    def adamax(self, params, grads, lr, beta1, beta2, eps):
        return in_dtype(O.adamax, params, grads, lr=lr, beta1=beta1, beta2=beta2, eps=eps)

    def nadam(self, params, grads, lr, beta1, beta2, eps):
        return in_dtype(O.nadam, params, grads, lr=lr, beta1=beta1, beta2=beta2, eps=eps)

    # schedules ----------------------------------------------------------------------------

    def step_decay(self, lr, steps, step_size, gamma):
        return in_dtype(L.step_decay, lr, steps=steps, step_size=step_size, gamma=gamma)

    def exponential_decay(self, lr, steps, gamma):
        return in_dtype(L.exponential_decay, lr, steps=steps, gamma=gamma)

    def cosine_annealing(self, lr_max, steps, T, lr_min):
        return in_dtype(L.cosine_annealing, lr_max, steps=steps, T=T, lr_min=lr_min)

    def linear_warmup(self, lr_peak, steps, warmup_steps, lr_start):
        return in_dtype(L.linear_warmup, lr_peak, steps=steps, warmup_steps=warmup_steps, lr_start=lr_start)

    def warmup_cosine(self, lr_peak, steps, warmup_steps, T, lr_start, lr_min):
        return in_dtype(L.warmup_cosine, lr_peak, steps=steps, warmup_steps=warmup_steps, T=T, lr_start=lr_start,
                        lr_min=lr_min)

    def reduce_on_plateau(self, lr, metrics, factor, patience, threshold, cooldown, min_lr):
        return in_dtype(L.reduce_on_plateau, lr, metrics, factor=factor, patience=patience, threshold=threshold,
                        cooldown=cooldown, min_lr=min_lr)

    # clipping -----------------------------------------------------------------------------

    def clip_by_value(self, x, clip_value):
        return in_dtype(C.clip_by_value, x, clip_value=clip_value)

    def clip_by_norm(self, x, max_norm):
        return in_dtype(C.clip_by_norm, x, max_norm=max_norm)

    def clip_by_global_norm(self, x1, x2, x3, max_norm):
        return _each_in_dtype(C.clip_by_global_norm, x1, x2, x3, max_norm=max_norm)
