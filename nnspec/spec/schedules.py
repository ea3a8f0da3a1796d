"""Learning-rate schedules: the learning rate at every step, in float64.

A schedule op takes its initial (or peak) learning rate first — a scalar, in the check
in the dtype under test — then ``steps``, and returns lr_t for t = 0, 1, …, steps − 1,
t being the number of scheduler steps taken so far (lr_0 is the rate of the first
optimizer step). ``reduce_on_plateau`` takes the metric of each epoch instead of
``steps`` and returns the rate in force after each.

Variants (keyword-only, never passed to an adapter):

* ``form="recursive"``: each rate computed from the previous one by the recurrences
  torch's schedulers document and run when stepped (its "chainable" form), instead of
  the closed form. Same values in exact arithmetic; the roundings accumulate.
* ``after_T="periodic"`` (cosine): past T the cosine goes on, rising again (torch's
  CosineAnnealingLR), where the closed form "hold" stays at lr_min (SGDR's single
  cycle; Keras, optax).
* reduce_on_plateau: see its docstring.
"""

from __future__ import annotations

import math

import numpy as np

from ._float64 import float64


def _steps(steps):
    return np.arange(int(steps), dtype=np.float64)


def _recurrence(first, steps, next_value):
    values = [first]
    for t in range(1, int(steps)):
        values.append(next_value(t, values[-1]))
    return np.array(values[: int(steps)], dtype=np.float64)


def _check_form(form):
    if form not in ("closed", "recursive"):
        raise ValueError(f"form must be 'closed' or 'recursive', got {form!r}")


# step_decay / exponential_decay ----------------------------------------------------------


@float64
def step_decay(lr, steps, step_size, gamma=0.1, *, form="closed"):
    """lr_t = lr·γ^⌊t / step_size⌋: the rate multiplied by γ (0.1) every ``step_size`` steps.

    form="recursive": lr_t = lr_{t−1}·γ where t is a multiple of step_size, lr_{t−1} elsewhere.
    """
    _check_form(form)
    lr = float(lr)
    if form == "recursive":
        return _recurrence(lr, steps, lambda t, prev: prev * gamma if t % step_size == 0 else prev)
    return lr * gamma ** np.floor(_steps(steps) / step_size)


@float64
def exponential_decay(lr, steps, gamma, *, form="closed"):
    """lr_t = lr·γᵗ.   form="recursive": lr_t = lr_{t−1}·γ."""
    _check_form(form)
    lr = float(lr)
    if form == "recursive":
        return _recurrence(lr, steps, lambda t, prev: prev * gamma)
    return lr * gamma ** _steps(steps)


# cosine_annealing ---------------------------------------------------------------------------


def _cosine(lr_max, lr_min, t, T, after_T):
    if after_T == "hold":
        t = np.minimum(t, T)
    elif after_T != "periodic":
        raise ValueError(f"after_T must be 'hold' or 'periodic', got {after_T!r}")
    return lr_min + (lr_max - lr_min) * (1 + np.cos(math.pi * t / T)) / 2


def _cosine_recursive(lr_max, lr_min, steps, T):
    """torch's recurrence: η_t = η_min + (η_{t−1} − η_min)·(1 + cos(πt/T))/(1 + cos(π(t−1)/T)),
    and η_t = η_{t−1} + (η_max − η_min)(1 − cos(π/T))/2 where t − 1 − T is a multiple of 2T
    (there the ratio would divide by 1 + cos(π) = 0)."""

    def next_value(t, prev):
        if (t - 1 - T) % (2 * T) == 0:
            return prev + (lr_max - lr_min) * (1 - math.cos(math.pi / T)) / 2
        return (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (prev - lr_min) + lr_min

    return _recurrence(lr_max, steps, next_value)


@float64
def cosine_annealing(lr_max, steps, T, lr_min=0.0, *, form="closed", after_T="hold"):
    """lr_t = lr_min + (lr_max − lr_min)·(1 + cos(π·min(t, T)/T))/2 (Loshchilov & Hutter 2017, one cycle).

    lr_min defaults to 0. form="recursive": torch's recurrence (always periodic past T).
    """
    _check_form(form)
    lr_max = float(lr_max)
    if form == "recursive":
        return _cosine_recursive(lr_max, lr_min, steps, T)
    return _cosine(lr_max, lr_min, _steps(steps), T, after_T)


# linear_warmup / warmup_cosine -------------------------------------------------------------


def _warmup(lr_peak, lr_start, t, warmup_steps):
    return lr_start + (lr_peak - lr_start) * np.minimum(t, warmup_steps) / warmup_steps


def _warmup_recursive(lr_peak, lr_start, steps, warmup_steps):
    """torch LinearLR's recurrence with start factor s = lr_start/lr_peak and end factor 1:
    η_0 = lr_peak·s, η_t = η_{t−1}·(1 + (1 − s)/(W·s + (t − 1)(1 − s))) for t ≤ W, then constant
    (undefined for s = 0: nan)."""
    start = np.float64(lr_start) / lr_peak  # NumPy scalars: lr_start = 0 gives inf/nan (torch refuses it)

    def next_value(t, prev):
        if t > warmup_steps:
            return prev
        with np.errstate(all="ignore"):
            return prev * (1 + (1 - start) / (warmup_steps * start + (t - 1) * (1 - start)))

    return _recurrence(lr_peak * start, steps, next_value)


@float64
def linear_warmup(lr_peak, steps, warmup_steps, lr_start=0.0, *, form="closed"):
    """lr_t = lr_start + (lr_peak − lr_start)·min(t, W)/W, W = ``warmup_steps`` (Goyal et al. 2017).

    lr_start defaults to 0. form="recursive": torch LinearLR's recurrence.
    """
    _check_form(form)
    lr_peak = float(lr_peak)
    if form == "recursive":
        return _warmup_recursive(lr_peak, lr_start, steps, warmup_steps)
    return _warmup(lr_peak, lr_start, _steps(steps), warmup_steps)


@float64
def warmup_cosine(lr_peak, steps, warmup_steps, T, lr_start=0.0, lr_min=0.0, *, form="closed", after_T="hold"):
    """Linear warmup from lr_start to lr_peak over W steps, then cosine annealing to lr_min over T steps:

    lr_t = linear_warmup(t) for t < W, cosine_annealing(t − W) from lr_peak for t ≥ W.
    form="recursive": torch's SequentialLR of LinearLR and CosineAnnealingLR (the cosine
    restarting from its closed form at t = W, then recursive).
    """
    _check_form(form)
    lr_peak = float(lr_peak)
    t = _steps(steps)
    if form == "recursive":
        warm = _warmup_recursive(lr_peak, lr_start, steps, warmup_steps)
        decay = _cosine_recursive(lr_peak, lr_min, max(int(steps) - warmup_steps, 0), T)
        return np.concatenate([warm[:warmup_steps], decay])[: int(steps)]
    decay = _cosine(lr_peak, lr_min, np.maximum(t - warmup_steps, 0), T, after_T)
    return np.where(t < warmup_steps, _warmup(lr_peak, lr_start, t, warmup_steps), decay)


# reduce_on_plateau -----------------------------------------------------------------------


@float64
def reduce_on_plateau(lr, metrics, factor=0.1, patience=10, threshold=1e-4, cooldown=0, min_lr=0.0, *,
                      threshold_mode="rel", patience_rule="exceeds", cooldown_rule="reset", min_decay=0.0,
                      lr_dtype=None):
    """The rate after each epoch's metric (lower is better), by the state machine of torch's ReduceLROnPlateau:

    an epoch improves when m < best·(1 − threshold); otherwise it is a bad epoch. After more
    than ``patience`` bad epochs in a row: lr ← max(lr·factor, min_lr), then ``cooldown``
    epochs in which bad epochs are not counted. Defaults factor 0.1, patience 10,
    threshold 1e-4, cooldown 0, min_lr 0.

    Variants: threshold_mode="abs": m < best − threshold (Keras' min_delta);
    patience_rule="reaches": reduce once the bad epochs reach ``patience`` (Keras, optax);
    cooldown_rule="last_counts": the epoch that ends a cooldown already counts as bad
    (Keras); min_decay=1e-8: a reduction smaller than that is skipped (torch's eps);
    lr_dtype="float32": the rate is held in float32 (Keras).
    """
    if threshold_mode not in ("rel", "abs") or patience_rule not in ("exceeds", "reaches"):
        raise ValueError(f"unknown threshold_mode {threshold_mode!r} or patience_rule {patience_rule!r}")
    if cooldown_rule not in ("reset", "last_counts"):
        raise ValueError(f"cooldown_rule must be 'reset' or 'last_counts', got {cooldown_rule!r}")
    held = (lambda v: float(np.float32(v))) if lr_dtype == "float32" else float
    rate, best, bad, cooling, rates = held(lr), math.inf, 0, 0, []
    for metric in np.asarray(metrics, dtype=np.float64).ravel():
        better = metric < (best * (1 - threshold) if threshold_mode == "rel" else best - threshold)
        if cooldown_rule == "last_counts":
            if cooling > 0:
                cooling, bad = cooling - 1, 0
            if better:
                best, bad = metric, 0
            elif cooling == 0:
                bad += 1
        else:
            best, bad = (metric, 0) if better else (best, bad + 1)
            if cooling > 0:
                cooling, bad = cooling - 1, 0
        if bad > patience if patience_rule == "exceeds" else bad >= patience:
            reduced = max(rate * factor, min_lr)
            if rate - reduced > min_decay:
                rate = held(reduced)
            cooling, bad = cooldown, 0
        rates.append(rate)
    return np.array(rates, dtype=np.float64)
