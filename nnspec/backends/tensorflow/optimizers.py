"""TensorFlow adapter, optimizers: keras.optimizers, keras.optimizers.schedules, Keras'
ReduceLROnPlateau callback, and tf.clip_by_* (Keras 3 on the TensorFlow backend).

Optimizers: one Keras optimizer per trajectory over a ``keras.Variable`` holding the
initial values, stepped by ``apply_gradients`` with the check's gradient (the optimizer
never computes one) in a traced loop that gives the eager loop's bits (see ``_steps``);
where the learning rate changes, the step's rate is assigned to ``optimizer.learning_rate``
before the step. Schedules are built with the initial rate
as a tensor in the dtype under test (Keras schedules compute in its dtype) and called
at each step. ReduceLROnPlateau is fed each epoch's metric through ``on_epoch_end``,
with a model stand-in carrying an optimizer whose rate it reduces.
"""

from __future__ import annotations

import contextlib
import logging
import types
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras.optimizers import SGD, Adagrad, Adam, Adamax, AdamW, Nadam, RMSprop
from keras.optimizers import schedules as K

from ..base import same, unsupported


def _steps(optimizer, params, grads, lr):
    """The parameters after each ``apply_gradients`` of ``optimizer(learning_rate)`` fed ``grads``, stacked.

    The steps run as one traced ``tf.while_loop`` (a tf.function per trajectory, since Keras bakes
    the hyper-parameters into the trace) with Grappler off: bit for bit the eager loop, for a
    quarter of its CPU time. Grappler's rewrites (``x / sqrt(y)`` into ``x * rsqrt(y)``, ...)
    change Adagrad's, RMSprop's and Adam's roundings, so it stays off for these graphs; see
    docs/performance.md for the measurement.
    """
    variable = keras.Variable(params)
    rates = lr.numpy().astype(np.float64).tolist()
    varying = len(set(rates)) > 1
    instance = optimizer(rates[0] if rates else 0.0)
    if not rates:
        return tf.stack([])
    instance.build([variable])  # as the first eager apply_gradients would, outside the trace
    rate_dtype, n = instance.learning_rate.dtype, len(rates)

    def steps(grads, rates):
        def step(t, trajectory):
            if varying:
                instance.learning_rate = tf.cast(rates[t], rate_dtype)  # the eager loop assigns a Python float
            instance.apply_gradients([(grads[t], variable)])
            return t + 1, trajectory.write(t, variable.value)

        trajectory = tf.TensorArray(variable.dtype, size=n)
        _, trajectory = tf.while_loop(lambda t, _: t < n, step, (tf.constant(0), trajectory))
        return trajectory.stack()

    with _without_grappler(), _quiet_retracing():
        return tf.function(steps, autograph=False)(grads, tf.constant(rates, tf.float64))


def _eager_steps(optimizer, params, grads, lr):
    """The same steps one eager ``apply_gradients`` at a time: what ``_steps`` must equal bit for bit
    (tests/test_optimizers_adapters.py holds it to that)."""
    variable = keras.Variable(params)
    rates = lr.numpy().astype(np.float64).tolist()
    varying = len(set(rates)) > 1
    instance = optimizer(rates[0] if rates else 0.0)
    trajectory = []
    for rate, grad in zip(rates, tf.unstack(grads)):
        if varying:
            instance.learning_rate = rate
        instance.apply_gradients([(grad, variable)])
        trajectory.append(tf.identity(variable.value))
    return tf.stack(trajectory)


@contextlib.contextmanager
def _without_grappler():
    """Graphs run as traced, no Grappler rewrites (TF's option is process-wide: restored on leaving)."""
    before = tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": before})


class _RetracingWarning(logging.Filter):
    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def _quiet_retracing():
    """One trace per trajectory is the design here: TF's warning about frequent retracing is not for us."""
    logger, quiet = tf.get_logger(), _RetracingWarning()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def _rates(schedule, steps, dtype):
    """The schedule's rate at steps 0..steps−1, as the optimizer would query it."""
    return tf.cast(tf.stack([schedule(tf.constant(t, tf.int64)) for t in range(int(steps))]), dtype)


def _no_decay(value):
    """Keras' weight_decay=None (no decay) in the spec's vocabulary, λ = 0."""
    return 0.0 if value is None else value


class Optimizers:
    # Keras 3's Adagrad decays its rate only through a schedule (InverseTimeDecay)
    UNSUPPORTED = {"adagrad": unsupported("keras.optimizers.Adagrad has no lr_decay", lr_decay=lambda d: d != 0)}
    NATIVE_DEFAULTS = {
        "sgd": {"lr": (SGD, "learning_rate", same), "weight_decay": (SGD, "weight_decay", _no_decay)},
        "momentum": {"lr": (SGD, "learning_rate", same), "momentum": (SGD, "momentum", same),
                     "weight_decay": (SGD, "weight_decay", _no_decay)},
        "nesterov": {"lr": (SGD, "learning_rate", same), "momentum": (SGD, "momentum", same),
                     "weight_decay": (SGD, "weight_decay", _no_decay)},
        "adagrad": {"lr": (Adagrad, "learning_rate", same),
                    "initial_accumulator": (Adagrad, "initial_accumulator_value", same),
                    "eps": (Adagrad, "epsilon", same), "weight_decay": (Adagrad, "weight_decay", _no_decay)},
        "rmsprop": {"lr": (RMSprop, "learning_rate", same), "rho": (RMSprop, "rho", same),
                    "eps": (RMSprop, "epsilon", same), "centered": (RMSprop, "centered", same),
                    "momentum": (RMSprop, "momentum", same), "weight_decay": (RMSprop, "weight_decay", _no_decay)},
        "adam": {"lr": (Adam, "learning_rate", same), "beta1": (Adam, "beta_1", same), "beta2": (Adam, "beta_2", same),
                 "eps": (Adam, "epsilon", same), "amsgrad": (Adam, "amsgrad", same),
                 "weight_decay": (Adam, "weight_decay", _no_decay)},
        "adamw": {"lr": (AdamW, "learning_rate", same), "beta1": (AdamW, "beta_1", same),
                  "beta2": (AdamW, "beta_2", same), "eps": (AdamW, "epsilon", same),
                  "weight_decay": (AdamW, "weight_decay", same)},
        "adamax": {"lr": (Adamax, "learning_rate", same), "beta1": (Adamax, "beta_1", same),
                   "beta2": (Adamax, "beta_2", same), "eps": (Adamax, "epsilon", same)},
        "nadam": {"lr": (Nadam, "learning_rate", same), "beta1": (Nadam, "beta_1", same),
                  "beta2": (Nadam, "beta_2", same), "eps": (Nadam, "epsilon", same)},
        # alpha is lr_min as a fraction of the initial rate: 0 either way.
        "cosine_annealing": {"lr_min": (K.CosineDecay, "alpha", same)},
        "reduce_on_plateau": {p: (keras.callbacks.ReduceLROnPlateau, n, same) for p, n in (
            ("factor", "factor"), ("patience", "patience"), ("threshold", "min_delta"), ("cooldown", "cooldown"),
            ("min_lr", "min_lr"))},
    }

    # optimizers -------------------------------------------------------------------------

    # λ = 0 is passed as Keras' own spelling of no decay, weight_decay=None.
    def sgd(self, params, grads, lr, weight_decay):
        return _steps(lambda rate: SGD(learning_rate=rate, momentum=0.0, nesterov=False,
                                       weight_decay=weight_decay or None), params, grads, lr)

    def momentum(self, params, grads, lr, momentum, weight_decay):
        return _steps(lambda rate: SGD(learning_rate=rate, momentum=momentum, nesterov=False,
                                       weight_decay=weight_decay or None), params, grads, lr)

    def nesterov(self, params, grads, lr, momentum, weight_decay):
        return _steps(lambda rate: SGD(learning_rate=rate, momentum=momentum, nesterov=True,
                                       weight_decay=weight_decay or None), params, grads, lr)

    def adagrad(self, params, grads, lr, initial_accumulator, eps, weight_decay, lr_decay):
        return _steps(lambda rate: Adagrad(learning_rate=rate, initial_accumulator_value=initial_accumulator,
                                           epsilon=eps, weight_decay=weight_decay or None), params, grads, lr)

    def rmsprop(self, params, grads, lr, rho, eps, centered, momentum, weight_decay):
        return _steps(lambda rate: RMSprop(learning_rate=rate, rho=rho, momentum=momentum, epsilon=eps,
                                           centered=centered, weight_decay=weight_decay or None), params, grads, lr)

    def adam(self, params, grads, lr, beta1, beta2, eps, amsgrad, weight_decay):
        return _steps(lambda rate: Adam(learning_rate=rate, beta_1=beta1, beta_2=beta2, epsilon=eps, amsgrad=amsgrad,
                                        weight_decay=weight_decay), params, grads, lr)

    def adamw(self, params, grads, lr, beta1, beta2, eps, weight_decay):
        return _steps(lambda rate: AdamW(learning_rate=rate, weight_decay=weight_decay, beta_1=beta1, beta_2=beta2,
                                         epsilon=eps), params, grads, lr)

    def adamax(self, params, grads, lr, beta1, beta2, eps):
        return _steps(lambda rate: Adamax(learning_rate=rate, beta_1=beta1, beta_2=beta2, epsilon=eps),
                      params, grads, lr)

    def nadam(self, params, grads, lr, beta1, beta2, eps):
        return _steps(lambda rate: Nadam(learning_rate=rate, beta_1=beta1, beta_2=beta2, epsilon=eps),
                      params, grads, lr)

    # schedules ----------------------------------------------------------------------------

    def step_decay(self, lr, steps, step_size, gamma):
        schedule = K.ExponentialDecay(lr, decay_steps=step_size, decay_rate=gamma, staircase=True)
        return _rates(schedule, steps, lr.dtype)

    def exponential_decay(self, lr, steps, gamma):
        return _rates(K.ExponentialDecay(lr, decay_steps=1, decay_rate=gamma, staircase=False), steps, lr.dtype)

    def cosine_annealing(self, lr_max, steps, T, lr_min):
        # Keras' alpha is lr_min as a fraction of the initial rate.
        schedule = K.CosineDecay(lr_max, decay_steps=T, alpha=lr_min / float(lr_max))
        return _rates(schedule, steps, lr_max.dtype)

    def linear_warmup(self, lr_peak, steps, warmup_steps, lr_start):
        # Keras' linear schedule: PolynomialDecay of power 1 (it rises as well as it decays).
        start = tf.constant(lr_start, dtype=lr_peak.dtype)
        schedule = K.PolynomialDecay(start, decay_steps=warmup_steps, end_learning_rate=lr_peak, power=1.0)
        return _rates(schedule, steps, lr_peak.dtype)

    def warmup_cosine(self, lr_peak, steps, warmup_steps, T, lr_start, lr_min):
        start = tf.constant(lr_start, dtype=lr_peak.dtype)
        schedule = K.CosineDecay(start, decay_steps=T, alpha=lr_min / float(lr_peak), warmup_target=lr_peak,
                                 warmup_steps=warmup_steps)
        return _rates(schedule, steps, lr_peak.dtype)

    def reduce_on_plateau(self, lr, metrics, factor, patience, threshold, cooldown, min_lr):
        # Keras' nearest knob for the threshold is min_delta (an absolute one).
        callback = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=factor, patience=patience, mode="min",
                                                     min_delta=threshold, cooldown=cooldown, min_lr=min_lr)
        optimizer = SGD(learning_rate=float(lr))
        callback.set_model(types.SimpleNamespace(optimizer=optimizer))
        callback.on_train_begin()
        rates = []
        with warnings.catch_warnings():  # Keras' convert_to_numpy of its own Variable warns under NumPy 2
            warnings.simplefilter("ignore", DeprecationWarning)
            for epoch, metric in enumerate(metrics.numpy().tolist()):
                callback.on_epoch_end(epoch, {"val_loss": metric})
                rates.append(tf.identity(optimizer.learning_rate))
        return tf.cast(tf.stack(rates), lr.dtype)

    # clipping -----------------------------------------------------------------------------

    def clip_by_value(self, x, clip_value):
        return tf.clip_by_value(x, -clip_value, clip_value)

    def clip_by_norm(self, x, max_norm):
        return tf.clip_by_norm(x, max_norm)

    def clip_by_global_norm(self, x1, x2, x3, max_norm):
        clipped, _ = tf.clip_by_global_norm([x1, x2, x3], max_norm)
        return tuple(clipped)
