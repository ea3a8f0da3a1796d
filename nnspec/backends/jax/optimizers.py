"""JAX adapter, optimizers: optax optimizers, schedules, reduce_on_plateau and clipping.

Optimizers: one optax ``GradientTransformation`` per trajectory, ``init`` on the initial
parameters, then ``update`` with the check's gradient and ``optax.apply_updates`` at
each step (eagerly; the optimizer never computes a gradient). The rate of each step is
passed as an optax schedule reading it by step count. Schedules are called at an int32
step count as optax's optimizers call them, their value cast to the learning rate's
dtype as ``scale_by_schedule`` casts it to the updates'. Clipping transformations are
applied to the gradients as updates.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib

from ..base import same, unsupported


def on_host(result):
    """Runs the decorated op eagerly, also when ``JaxBackend.call`` traces it under jax.jit.

    Optimizers, schedules and ReduceLROnPlateau are stepped from Python with concrete
    settings, as optax is used (its constructors validate their floats in Python, which a
    traced float cannot pass). Under jit the op's arrays and traced settings are handed
    to a host callback that calls the op with concrete values. ``result(*arrays, **settings)``
    gives the (shape, dtype) of its output.
    """

    def decorate(method):
        @functools.wraps(method)
        def op(self, *arrays, **settings):
            if not any(isinstance(v, jax.core.Tracer) for v in (*arrays, *settings.values())):
                return method(self, *arrays, **settings)
            traced = {k: v for k, v in settings.items() if isinstance(v, jax.core.Tracer)}
            static = {k: v for k, v in settings.items() if k not in traced}

            def eagerly(arrays, traced):
                concrete = {k: np.asarray(v).item() for k, v in traced.items()}
                return np.asarray(method(self, *map(jnp.asarray, arrays), **static, **concrete))

            shape, dtype = result(*arrays, **settings)
            return jax.pure_callback(eagerly, jax.ShapeDtypeStruct(shape, dtype), arrays, traced)

        op.on_host = True  # JaxBackend.call runs it eagerly: no jit to trace, and Unsupported reaches the engine
        return op

    return decorate


trajectory = on_host(lambda params, grads, lr, **_: (grads.shape, params.dtype))
schedule = on_host(lambda lr, steps, **_: ((int(steps),), lr.dtype))
plateau = on_host(lambda lr, metrics, **_: (metrics.shape, lr.dtype))


def _learning_rate(lr):
    """The rate of each step as an optax schedule of the step count."""
    return lambda count: lr[count]


def _steps(optimizer, params, grads):
    """The parameters after each step of ``optimizer`` fed ``grads``, stacked."""
    state = optimizer.init(params)
    trajectory = []
    for grad in grads:
        updates, state = optimizer.update(grad, state, params)
        params = optax.apply_updates(params, updates)
        trajectory.append(params)
    return jnp.stack(trajectory)


def _l2(optimizer, weight_decay):
    """``optimizer`` with L2 weight decay λ: optax's way is ``add_decayed_weights`` (g + λw) chained before it."""
    return optax.chain(optax.add_decayed_weights(weight_decay), optimizer) if weight_decay else optimizer


def _rates(schedule, steps, dtype):
    """The schedule's value at counts 0..steps−1, cast to ``dtype``."""
    return jnp.stack([jnp.asarray(schedule(jnp.asarray(t, jnp.int32))) for t in range(int(steps))]).astype(dtype)


class Optimizers:
    # optax decays a rate only through a schedule passed as learning_rate
    UNSUPPORTED = {"adagrad": unsupported("optax.adagrad has no lr_decay", lr_decay=lambda d: d != 0)}
    # optax's optimizers take the learning rate without a default: none to read for lr.
    NATIVE_DEFAULTS = {
        "momentum": {"momentum": (optax.sgd, "momentum", lambda v: 0.0 if v is None else v)},
        "nesterov": {"momentum": (optax.sgd, "momentum", lambda v: 0.0 if v is None else v)},
        "adagrad": {"initial_accumulator": (optax.adagrad, "initial_accumulator_value", same),
                    "eps": (optax.adagrad, "eps", same)},
        "rmsprop": {"rho": (optax.rmsprop, "decay", same), "eps": (optax.rmsprop, "eps", same),
                    "centered": (optax.rmsprop, "centered", same),
                    "momentum": (optax.rmsprop, "momentum", lambda v: 0.0 if v is None else v)},
        "adam": {"beta1": (optax.adam, "b1", same), "beta2": (optax.adam, "b2", same),
                 "eps": (optax.adam, "eps", same)},
        "adamw": {"beta1": (optax.adamw, "b1", same), "beta2": (optax.adamw, "b2", same),
                  "eps": (optax.adamw, "eps", same), "weight_decay": (optax.adamw, "weight_decay", same)},
        "adamax": {"beta1": (optax.adamax, "b1", same), "beta2": (optax.adamax, "b2", same),
                   "eps": (optax.adamax, "eps", same)},
        "nadam": {"beta1": (optax.nadam, "b1", same), "beta2": (optax.nadam, "b2", same),
                  "eps": (optax.nadam, "eps", same)},
        # alpha is lr_min as a fraction of the initial rate: 0 either way.
        "cosine_annealing": {"lr_min": (optax.cosine_decay_schedule, "alpha", same)},
        # min_scale is min_lr as a fraction of the initial rate: 0 either way.
        "reduce_on_plateau": {p: (optax.contrib.reduce_on_plateau, n, same) for p, n in (
            ("factor", "factor"), ("patience", "patience"), ("threshold", "rtol"), ("cooldown", "cooldown"),
            ("min_lr", "min_scale"))},
    }

    # optimizers -------------------------------------------------------------------------

    @trajectory
    def sgd(self, params, grads, lr, weight_decay):
        return _steps(_l2(optax.sgd(_learning_rate(lr), momentum=None), weight_decay), params, grads)

    @trajectory
    def momentum(self, params, grads, lr, momentum, weight_decay):
        optimizer = optax.sgd(_learning_rate(lr), momentum=momentum, nesterov=False)
        return _steps(_l2(optimizer, weight_decay), params, grads)

    @trajectory
    def nesterov(self, params, grads, lr, momentum, weight_decay):
        optimizer = optax.sgd(_learning_rate(lr), momentum=momentum, nesterov=True)
        return _steps(_l2(optimizer, weight_decay), params, grads)

    @trajectory
    def adagrad(self, params, grads, lr, initial_accumulator, eps, weight_decay, lr_decay):
        optimizer = optax.adagrad(_learning_rate(lr), initial_accumulator_value=initial_accumulator,
                                  eps=eps)
        return _steps(_l2(optimizer, weight_decay), params, grads)

    @trajectory
    def rmsprop(self, params, grads, lr, rho, eps, centered, momentum, weight_decay):
        optimizer = optax.rmsprop(_learning_rate(lr), decay=rho, eps=eps, initial_scale=0.0,
                                  centered=centered, momentum=momentum or None)
        return _steps(_l2(optimizer, weight_decay), params, grads)

    @trajectory
    def adam(self, params, grads, lr, beta1, beta2, eps, amsgrad, weight_decay):
        make = optax.amsgrad if amsgrad else optax.adam
        optimizer = make(_learning_rate(lr), b1=beta1, b2=beta2, eps=eps)
        return _steps(_l2(optimizer, weight_decay), params, grads)

    @trajectory
    def adamw(self, params, grads, lr, beta1, beta2, eps, weight_decay):
        optimizer = optax.adamw(_learning_rate(lr), b1=beta1, b2=beta2, eps=eps,
                                weight_decay=weight_decay)
        return _steps(optimizer, params, grads)

    @trajectory
    def adamax(self, params, grads, lr, beta1, beta2, eps):
        return _steps(optax.adamax(_learning_rate(lr), b1=beta1, b2=beta2, eps=eps), params, grads)

    @trajectory
    def nadam(self, params, grads, lr, beta1, beta2, eps):
        return _steps(optax.nadam(_learning_rate(lr), b1=beta1, b2=beta2, eps=eps), params, grads)

    # schedules ----------------------------------------------------------------------------

    @schedule
    def step_decay(self, lr, steps, step_size, gamma):
        schedule = optax.exponential_decay(lr, transition_steps=step_size, decay_rate=gamma, staircase=True)
        return _rates(schedule, steps, lr.dtype)

    @schedule
    def exponential_decay(self, lr, steps, gamma):
        return _rates(optax.exponential_decay(lr, transition_steps=1, decay_rate=gamma), steps, lr.dtype)

    @schedule
    def cosine_annealing(self, lr_max, steps, T, lr_min):
        # optax's alpha is lr_min as a fraction of the initial rate.
        schedule = optax.cosine_decay_schedule(lr_max, decay_steps=T, alpha=lr_min / float(lr_max))
        return _rates(schedule, steps, lr_max.dtype)

    @schedule
    def linear_warmup(self, lr_peak, steps, warmup_steps, lr_start):
        schedule = optax.linear_schedule(init_value=lr_start, end_value=lr_peak, transition_steps=warmup_steps)
        return _rates(schedule, steps, lr_peak.dtype)

    @schedule
    def warmup_cosine(self, lr_peak, steps, warmup_steps, T, lr_start, lr_min):
        # optax's decay_steps counts the warmup too.
        schedule = optax.warmup_cosine_decay_schedule(init_value=lr_start, peak_value=lr_peak,
                                                      warmup_steps=warmup_steps, decay_steps=warmup_steps + T,
                                                      end_value=lr_min)
        return _rates(schedule, steps, lr_peak.dtype)

    @plateau
    def reduce_on_plateau(self, lr, metrics, factor, patience, threshold, cooldown, min_lr):
        # optax scales the updates: the rate is lr·scale, min_scale is min_lr as a fraction of lr.
        plateau = optax.contrib.reduce_on_plateau(factor=factor, patience=patience, rtol=threshold, atol=0.0,
                                                  cooldown=cooldown, accumulation_size=1,
                                                  min_scale=min_lr / float(lr))
        zero = jnp.zeros((), lr.dtype)

        def epoch(state, metric):  # one update per epoch's metric, scanned under jit as a training loop would
            _, state = plateau.update(zero, state, value=metric)
            return state, lr * state.scale

        _, rates = jax.jit(lambda metrics: jax.lax.scan(epoch, plateau.init(zero), metrics))(metrics)
        return rates.astype(lr.dtype)

    # clipping -----------------------------------------------------------------------------

    def clip_by_value(self, x, clip_value):
        return optax.clip(clip_value).update(x, optax.EmptyState())[0]

    def clip_by_norm(self, x, max_norm):
        # optax clips by the norm of a whole tree: of one tensor, its own norm.
        clip = optax.clip_by_global_norm(max_norm)
        return clip.update(x, clip.init(x))[0]

    def clip_by_global_norm(self, x1, x2, x3, max_norm):
        clip = optax.clip_by_global_norm(max_norm)
        return clip.update((x1, x2, x3), clip.init((x1, x2, x3)))[0]
