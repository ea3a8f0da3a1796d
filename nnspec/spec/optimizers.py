"""Optimizers: one update step as a pure function, and the trajectory its steps trace.

Every optimizer ``op`` is stated three times over:

* ``op_init(params, ...) -> state``: the state before the first step (a dict of arrays
  shaped like ``params``);
* ``op_update(params, grad, state, step, hyper-parameters..., *, variants) -> (params, state)``:
  step ``step`` = 1, 2, ... from the gradient the caller supplies (an optimizer never
  computes its own gradient);
* ``op(params, grads, hyper-parameters..., *, variants)``: the trajectory, the parameters
  after each step, stacked: shape ``(len(grads), *params.shape)``, ``grads[t-1]`` being the
  gradient of step t. This is the op the catalogue and the adapters know.

The learning rate ``lr`` is a float or an array of one value per step (a schedule,
applied before each step; the check always passes the array), so that formulations
differing only once the learning rate changes are told apart. Hyper-parameters are
plain floats; every array is float64 (``@float64``), except in the NumPy baseline, which
runs the same lines in the parameters' dtype and rounds the parameters and the state to
it after every step.

Variants (keyword-only, never passed to an adapter) name the known formulation
differences, each with its reference:

* ``eps_placement``: where ε enters the denominator. "outside": √v̂ + ε (Kingma & Ba
  2015, Algorithm 1; torch). "inside": √(v̂ + ε) (Goodfellow et al. 2016, Algorithm 8.5;
  Keras and optax RMSprop and Adagrad). "raw" (Adam only): ε added to the square root of
  the *raw* second moment, the bias correction folded into the step size,
  lr·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε̂) (Kingma & Ba 2015, end of section 2; Keras).
  "max" (Adamax only): ε inside the max, u = max(β₂u, |g| + ε) (torch, optax).
* ``lr_in_buffer``: the momentum buffer accumulates lr·g instead of g (Keras SGD,
  Keras and optax RMSprop). The same trajectory while lr is constant; not once it changes.
* ``formulation`` (Nesterov): "reformulated", w −= lr·(g + μ·v) with v = μv + g
  (Bengio et al. 2013, the form torch, Keras and optax use), or "lookahead", Sutskever
  et al. 2013: v = μv − lr·∇f(w + μv), w += v, the supplied gradient being the one the
  caller evaluated at the look-ahead point w + μv.
* ``weight_decay_mode``: "coupled", λw added to the gradient (L2; torch's optimizers and
  optax's ``add_decayed_weights`` before the optimizer); "decoupled", w −= lr·λ·w before
  the update (Loshchilov & Hutter 2019 as torch AdamW, optax adamw and *every* Keras 3
  optimizer's ``weight_decay`` implement it); "decoupled_unscaled", w −= λ·w (the paper's
  own form, where λ is not multiplied by the learning rate). SGD, momentum, Nesterov,
  Adagrad, RMSprop and Adam take λ = ``weight_decay`` (default 0: none), coupled.
* ``amsgrad_max``: AMSGrad keeps the maximum of the "raw" second moments and
  bias-corrects it with the current step (torch, Keras), or the maximum of the
  "corrected" ones (optax).
* ``momentum_decay`` (NAdam): ψ in Dozat's momentum schedule μₜ = β₁(1 − ½·0.96^{tψ});
  0.004 (Dozat 2016, torch), 1.0 (0.96ᵗ, Keras 3), inf (μₜ = β₁: no schedule, optax).
* ``lr_dtype``: "float32": the learning rate is rounded to float32 before use (Keras
  holds it in a float32 variable whatever the parameters' dtype); likewise
  ``product_dtype`` for NAdam's running product of the μₜ (torch keeps it in a float32
  tensor whatever the parameters' dtype).

Conditions: ``<op>_condition(params, grads, hyper-parameters..., unit)`` states, per step,
how much the step magnifies a relative rounding ``unit`` of its coefficients or state
(κₜ ≥ 1); the trajectory check scales its per-step tolerance by it. Adam's bias
corrections 1 − βᵗ and centered RMSprop's v − ḡ² cancel; elsewhere κ = 1.
"""

from __future__ import annotations

import math

import numpy as np

from ._float64 import float64

# -- the trajectory, shared by every optimizer ------------------------------------------


def learning_rate(lr, step: int, lr_dtype=None) -> float:
    """The learning rate of step ``step`` (1-based): ``lr`` itself, or its entry for that step."""
    value = float(lr[step - 1]) if np.ndim(lr) else float(lr)
    return float(np.float32(value)) if lr_dtype == "float32" else value


def trajectory(init, update, params, grads, lr, hyper: dict, init_args: dict | None = None):
    """Folds ``update`` over ``grads`` from ``init(params)``: the parameters after each step.

    Parameters and state are rounded back to the parameters' dtype after each step: a
    no-op in float64 and float32, and for bfloat16 (whose NumPy arithmetic promotes to
    float32) the state a bfloat16 optimizer keeps.
    """
    dtype = params.dtype
    state = init(params, **(init_args or {}))
    steps = []
    for t, grad in enumerate(grads, start=1):
        params, state = update(params, grad, state, t, lr, **hyper)
        params = np.asarray(params).astype(dtype, copy=False)
        state = {k: np.asarray(v).astype(dtype, copy=False) for k, v in state.items()}
        steps.append(params)
    return np.stack(steps) if steps else np.zeros((0, *params.shape), dtype)


def _weight_decayed(params, grad, rate, weight_decay, weight_decay_mode):
    """(w, g) after weight decay λ: coupled g + λw, decoupled w − lr·λ·w, decoupled_unscaled w − λ·w."""
    if weight_decay_mode == "coupled":
        return params, grad + weight_decay * params
    if weight_decay_mode == "decoupled":
        return params - rate * weight_decay * params, grad
    if weight_decay_mode == "decoupled_unscaled":
        return params - weight_decay * params, grad
    raise ValueError(f"unknown weight_decay_mode {weight_decay_mode!r}")


def _zeros(params, *names):
    return {name: np.zeros_like(params) for name in names}


def _denominator(second_moment, eps, eps_placement):
    """√v + ε ("outside") or √(v + ε) ("inside")."""
    if eps_placement == "outside":
        return np.sqrt(second_moment) + eps
    if eps_placement == "inside":
        return np.sqrt(second_moment + eps)
    raise ValueError(f"eps_placement must be 'outside' or 'inside', got {eps_placement!r}")


# sgd ----------------------------------------------------------------------------------


def sgd_init(params):
    return {}


def sgd_update(params, grad, state, step, lr, weight_decay=0.0, *, weight_decay_mode="coupled", lr_dtype=None):
    """w ← w − lr·g."""
    rate = learning_rate(lr, step, lr_dtype)
    params, grad = _weight_decayed(params, grad, rate, weight_decay, weight_decay_mode)
    return params - rate * grad, state


@float64
def sgd(params, grads, lr=0.01, weight_decay=0.0, *, weight_decay_mode="coupled", lr_dtype=None):
    """Plain gradient descent: w ← w − lr·g, g ← g + λw first (L2, λ = ``weight_decay``, default 0).

    lr: learning rate (no textbook default; 0.01 as Keras).
    """
    hyper = {"weight_decay": weight_decay, "weight_decay_mode": weight_decay_mode, "lr_dtype": lr_dtype}
    return trajectory(sgd_init, sgd_update, params, grads, lr, hyper)


# momentum -------------------------------------------------------------------------------


def momentum_init(params):
    return _zeros(params, "v")


def momentum_update(params, grad, state, step, lr, momentum=0.9, weight_decay=0.0, *, weight_decay_mode="coupled",
                    lr_in_buffer=False, lr_dtype=None):
    """v ← μv + g, w ← w − lr·v   (lr_in_buffer: v ← μv + lr·g, w ← w − v)."""
    rate = learning_rate(lr, step, lr_dtype)
    params, grad = _weight_decayed(params, grad, rate, weight_decay, weight_decay_mode)
    if lr_in_buffer:
        v = momentum * state["v"] + rate * grad
        return params - v, {"v": v}
    v = momentum * state["v"] + grad
    return params - rate * v, {"v": v}


@float64
def momentum(params, grads, lr=0.01, momentum=0.9, weight_decay=0.0, *, weight_decay_mode="coupled",
             lr_in_buffer=False, lr_dtype=None):
    """Heavy-ball momentum (Polyak 1964): v ← μv + g, w ← w − lr·v, v₀ = 0; g ← g + λw first (L2).

    μ = ``momentum`` (0.9, Sutskever et al. 2013), λ = ``weight_decay`` (0). lr_in_buffer: v ← μv + lr·g, w ← w − v.
    """
    hyper = {"momentum": momentum, "weight_decay": weight_decay, "weight_decay_mode": weight_decay_mode,
             "lr_in_buffer": lr_in_buffer, "lr_dtype": lr_dtype}
    return trajectory(momentum_init, momentum_update, params, grads, lr, hyper)


# nesterov -------------------------------------------------------------------------------


def nesterov_init(params):
    return _zeros(params, "v")


def nesterov_update(params, grad, state, step, lr, momentum=0.9, weight_decay=0.0, *, formulation="reformulated",
                    weight_decay_mode="coupled", lr_in_buffer=False, lr_dtype=None):
    """v ← μv + g, w ← w − lr·(g + μv)   (see ``nesterov`` for the variants)."""
    rate = learning_rate(lr, step, lr_dtype)
    params, grad = _weight_decayed(params, grad, rate, weight_decay, weight_decay_mode)
    if formulation == "lookahead":
        v = momentum * state["v"] - rate * grad
        return params + v, {"v": v}
    if formulation != "reformulated":
        raise ValueError(f"formulation must be 'reformulated' or 'lookahead', got {formulation!r}")
    if lr_in_buffer:
        v = momentum * state["v"] + rate * grad
        return params - (rate * grad + momentum * v), {"v": v}
    v = momentum * state["v"] + grad
    return params - rate * (grad + momentum * v), {"v": v}


@float64
def nesterov(params, grads, lr=0.01, momentum=0.9, weight_decay=0.0, *, formulation="reformulated",
             weight_decay_mode="coupled", lr_in_buffer=False, lr_dtype=None):
    """Nesterov momentum, reformulated (Bengio et al. 2013): v ← μv + g, w ← w − lr·(g + μv); g ← g + λw first.

    formulation="lookahead" (Sutskever et al. 2013): v ← μv − lr·g, w ← w + v, g being the
    gradient at the look-ahead point w + μv. lr_in_buffer: v ← μv + lr·g, w ← w − (lr·g + μv).
    λ = ``weight_decay`` (0), coupled (L2).
    """
    hyper = {"momentum": momentum, "weight_decay": weight_decay, "formulation": formulation,
             "weight_decay_mode": weight_decay_mode, "lr_in_buffer": lr_in_buffer, "lr_dtype": lr_dtype}
    return trajectory(nesterov_init, nesterov_update, params, grads, lr, hyper)


# adagrad --------------------------------------------------------------------------------


def adagrad_init(params, initial_accumulator=0.0):
    return {"sum": np.full_like(params, initial_accumulator)}


def adagrad_update(params, grad, state, step, lr, eps=1e-10, weight_decay=0.0, lr_decay=0.0, *,
                   eps_placement="outside", weight_decay_mode="coupled", lr_dtype=None):
    """s ← s + g², w ← w − lrₜ·g/(√s + ε), lrₜ = lr / (1 + (t − 1)·d)."""
    rate = learning_rate(lr, step, lr_dtype) / (1 + (step - 1) * lr_decay)
    params, grad = _weight_decayed(params, grad, rate, weight_decay, weight_decay_mode)
    total = state["sum"] + grad * grad
    return params - rate * grad / _denominator(total, eps, eps_placement), {"sum": total}


@float64
def adagrad(params, grads, lr=0.01, initial_accumulator=0.0, eps=1e-10, weight_decay=0.0, lr_decay=0.0, *,
            eps_placement="outside", weight_decay_mode="coupled", lr_dtype=None):
    """AdaGrad (Duchi et al. 2011): s ← s + g², w ← w − lrₜ·g/(√s + ε), s₀ = ``initial_accumulator``; g ← g + λw first.

    lrₜ = lr / (1 + (t − 1)·d) at step t = 1, 2, …, d = ``lr_decay`` (torch's inverse-time decay of
    the rate; d = 0 is the paper's constant rate).
    Defaults: lr 0.01, s₀ = 0 (the sum of squared gradients starts empty), ε = 1e-10, λ = 0, d = 0.
    eps_placement="inside": w ← w − lrₜ·g/√(s + ε).
    """
    hyper = {"eps": eps, "weight_decay": weight_decay, "lr_decay": lr_decay, "eps_placement": eps_placement,
             "weight_decay_mode": weight_decay_mode, "lr_dtype": lr_dtype}
    return trajectory(adagrad_init, adagrad_update, params, grads, lr, hyper, {"initial_accumulator": initial_accumulator})


# rmsprop --------------------------------------------------------------------------------


def rmsprop_init(params):
    return _zeros(params, "v", "mean", "buffer")


def rmsprop_update(params, grad, state, step, lr, rho=0.9, eps=1e-8, centered=False, momentum=0.0, weight_decay=0.0,
                   *, eps_placement="outside", weight_decay_mode="coupled", lr_in_buffer=False, lr_dtype=None):
    """v ← ρv + (1−ρ)g²; d = v (centered: v − ḡ², ḡ ← ρḡ + (1−ρ)g); w ← w − lr·g/(√d + ε)."""
    rate = learning_rate(lr, step, lr_dtype)
    params, grad = _weight_decayed(params, grad, rate, weight_decay, weight_decay_mode)
    v = rho * state["v"] + (1 - rho) * (grad * grad)
    mean = rho * state["mean"] + (1 - rho) * grad if centered else state["mean"]
    scaled = grad / _denominator(v - mean * mean if centered else v, eps, eps_placement)
    new = {"v": v, "mean": mean, "buffer": state["buffer"]}
    if momentum == 0:
        return params - rate * scaled, new
    if lr_in_buffer:
        new["buffer"] = momentum * state["buffer"] + rate * scaled
        return params - new["buffer"], new
    new["buffer"] = momentum * state["buffer"] + scaled
    return params - rate * new["buffer"], new


def rmsprop_condition(params, grads, rho=0.9, eps=1e-8, centered=False, *, unit=2.0**-53, eps_placement="outside"):
    """How much each step magnifies the relative rounding ``unit`` of the moments: κₜ ≥ 1, one per step.

    Centered, d = v − ḡ² cancels: a run of identical gradients drives d/v towards ρᵗ. The
    moving averages carry relative errors up to c·unit, c = 2 + 4/(1 − ρ) (two roundings a
    step, damped by ρ; ḡ² doubles ḡ's), which move d by up to Δ = c·unit·(v + ḡ²). The
    denominator s = √d + ε (√(d + ε) inside) then lies between s⁻ and s⁺ (d ∓ Δ, d − Δ
    floored at 0), and the update g/s is off by up to κ = max(s⁺ − s, s − s⁻)/(s⁻·unit)
    units: finite but huge once Δ ≥ d, where the dtype cannot resolve d at all. κₜ is the
    worst over the elements; 1 when not centered.
    """
    if not centered:
        return np.ones(len(grads))
    hyper = {"rho": rho, "eps": eps, "centered": True, "eps_placement": eps_placement}
    inside = eps_placement == "inside"

    def denominator(d):
        return np.sqrt(d + eps) if inside else np.sqrt(d) + eps

    params = np.asarray(params, dtype=np.float64)
    state, kappa = rmsprop_init(params), []
    with np.errstate(all="ignore"):
        for t, grad in enumerate(np.asarray(grads, dtype=np.float64), start=1):
            params, state = rmsprop_update(params, grad, state, t, 0.0, **hyper)  # the moments need no rate
            v, mean = state["v"], state["mean"]
            d = np.maximum(v - mean * mean, 0)
            moved = unit * (2 + 4 / (1 - rho)) * (v + mean * mean)
            low, mid, high = denominator(np.maximum(d - moved, 0)), denominator(d), denominator(d + moved)
            gain = np.maximum(high - mid, mid - low) / (low * unit)
            kappa.append(float(np.max(np.nan_to_num(gain, nan=1.0), initial=1.0)))
    return np.maximum(np.array(kappa), 1.0)


@float64
def rmsprop(params, grads, lr=0.001, rho=0.9, eps=1e-8, centered=False, momentum=0.0, weight_decay=0.0, *,
            eps_placement="outside", weight_decay_mode="coupled", lr_in_buffer=False, lr_dtype=None):
    """RMSprop (Hinton 2012, lecture 6e): v ← ρv + (1−ρ)g², w ← w − lr·g/(√v + ε), v₀ = 0.

    centered (Graves 2013): ḡ ← ρḡ + (1−ρ)g and √(v − ḡ²) in place of √v.
    momentum μ > 0: b ← μb + g/(√v + ε), w ← w − lr·b (lr_in_buffer: b ← μb + lr·g/(√v + ε), w ← w − b).
    Defaults: lr 0.001, ρ 0.9 (Hinton), ε 1e-8. eps_placement="inside": √(v + ε). g ← g + λw first
    (L2, λ = ``weight_decay``, default 0).
    """
    hyper = {"rho": rho, "eps": eps, "centered": centered, "momentum": momentum, "weight_decay": weight_decay,
             "eps_placement": eps_placement, "weight_decay_mode": weight_decay_mode, "lr_in_buffer": lr_in_buffer,
             "lr_dtype": lr_dtype}
    return trajectory(rmsprop_init, rmsprop_update, params, grads, lr, hyper)


# adam / adamw ---------------------------------------------------------------------------


def adam_init(params):
    return _zeros(params, "m", "v", "v_max")


def adam_update(params, grad, state, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, amsgrad=False, weight_decay=0.0, *,
                eps_placement="outside", amsgrad_max="raw", weight_decay_mode="coupled", lr_dtype=None):
    """m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − lr·m̂/(√v̂ + ε), m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)."""
    rate = learning_rate(lr, step, lr_dtype)
    params, grad = _weight_decayed(params, grad, rate, weight_decay, weight_decay_mode)
    m = beta1 * state["m"] + (1 - beta1) * grad
    v = beta2 * state["v"] + (1 - beta2) * (grad * grad)
    correction1, correction2 = 1 - beta1**step, 1 - beta2**step
    v_max = state["v_max"]
    if not amsgrad:
        raw, corrected = v, v / correction2
    elif amsgrad_max == "raw":
        v_max = np.maximum(v_max, v)
        raw, corrected = v_max, v_max / correction2
    elif amsgrad_max == "corrected":
        v_max = np.maximum(v_max, v / correction2)
        raw, corrected = v_max * correction2, v_max
    else:
        raise ValueError(f"amsgrad_max must be 'raw' or 'corrected', got {amsgrad_max!r}")
    if eps_placement == "raw":
        update = (rate * math.sqrt(correction2) / correction1) * m / (np.sqrt(raw) + eps)
    else:
        update = rate * (m / correction1) / _denominator(corrected, eps, eps_placement)
    return params - update, {"m": m, "v": v, "v_max": v_max}


@float64
def adam(params, grads, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, amsgrad=False, weight_decay=0.0, *,
         eps_placement="outside", amsgrad_max="raw", weight_decay_mode="coupled", lr_dtype=None):
    """Adam (Kingma & Ba 2015, Algorithm 1): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
    w ← w − lr·m̂/(√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ).

    Defaults lr 0.001, β₁ 0.9, β₂ 0.999, ε 1e-8 (the paper's). amsgrad (Reddi et al. 2018):
    v̂ from v_max ← max(v_max, v). weight_decay λ: L2, g ← g + λw (see the module's variants).
    """
    hyper = {"beta1": beta1, "beta2": beta2, "eps": eps, "amsgrad": amsgrad, "weight_decay": weight_decay,
             "eps_placement": eps_placement, "amsgrad_max": amsgrad_max, "weight_decay_mode": weight_decay_mode,
             "lr_dtype": lr_dtype}
    return trajectory(adam_init, adam_update, params, grads, lr, hyper)


def _cancellation(beta, steps):
    """βᵗ/(1 − βᵗ) for t = 1..steps: how much 1 − βᵗ magnifies a relative rounding of βᵗ."""
    power = beta ** np.arange(1, steps + 1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(power / (1 - power), nan=0.0, posinf=np.inf)


def adam_condition(params, grads, beta1=0.9, beta2=0.999, *, unit=2.0**-53):
    """How much each step magnifies a relative rounding of its coefficients: κₜ = 1 + β₁ᵗ/(1 − β₁ᵗ)
    + ½·β₂ᵗ/(1 − β₂ᵗ). The bias corrections 1 − βᵗ cancel at small t when β is near 1, so an
    implementation computing βᵗ in the parameters' dtype loses that many ULPs (½: under √)."""
    steps = len(grads)
    return 1 + _cancellation(beta1, steps) + _cancellation(beta2, steps) / 2


adamw_condition = adam_condition
adamw_init = adam_init


def adamw_update(params, grad, state, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, *,
                 eps_placement="outside", weight_decay_mode="decoupled", lr_dtype=None):
    """w ← w − lr·λ·w, then Adam's step."""
    return adam_update(params, grad, state, step, lr, beta1, beta2, eps, False, weight_decay,
                       eps_placement=eps_placement, weight_decay_mode=weight_decay_mode, lr_dtype=lr_dtype)


@float64
def adamw(params, grads, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, *,
          eps_placement="outside", weight_decay_mode="decoupled", lr_dtype=None):
    """AdamW (Loshchilov & Hutter 2019): w ← w − lr·λ·w, then Adam's step from the gradient alone.

    λ = ``weight_decay`` (0.01). weight_decay_mode="decoupled_unscaled": w ← w − λ·w.
    """
    hyper = {"beta1": beta1, "beta2": beta2, "eps": eps, "weight_decay": weight_decay,
             "eps_placement": eps_placement, "weight_decay_mode": weight_decay_mode, "lr_dtype": lr_dtype}
    return trajectory(adamw_init, adamw_update, params, grads, lr, hyper)


# adamax -----------------------------------------------------------------------------------


def adamax_init(params):
    return _zeros(params, "m", "u")


def adamax_update(params, grad, state, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, *, eps_placement="outside",
                  lr_dtype=None):
    """m ← β₁m + (1−β₁)g, u ← max(β₂u, |g|), w ← w − lr/(1−β₁ᵗ)·m/(u + ε)."""
    rate = learning_rate(lr, step, lr_dtype)
    m = beta1 * state["m"] + (1 - beta1) * grad
    if eps_placement == "outside":
        u = np.maximum(beta2 * state["u"], np.abs(grad))
        denominator = u + eps
    elif eps_placement == "max":
        u = np.maximum(beta2 * state["u"], np.abs(grad) + eps)
        denominator = u
    else:
        raise ValueError(f"eps_placement must be 'outside' or 'max', got {eps_placement!r}")
    return params - (rate / (1 - beta1**step)) * m / denominator, {"m": m, "u": u}


@float64
def adamax(params, grads, lr=0.002, beta1=0.9, beta2=0.999, eps=1e-8, *, eps_placement="outside", lr_dtype=None):
    """AdaMax (Kingma & Ba 2015, Algorithm 2): m ← β₁m + (1−β₁)g, u ← max(β₂u, |g|),
    w ← w − lr/(1−β₁ᵗ)·m/(u + ε).

    The paper has no ε; it is added to the denominator as in Adam (eps_placement="max":
    u ← max(β₂u, |g| + ε), w ← w − lr/(1−β₁ᵗ)·m/u). Defaults lr 0.002, β₁ 0.9, β₂ 0.999.
    """
    hyper = {"beta1": beta1, "beta2": beta2, "eps": eps, "eps_placement": eps_placement, "lr_dtype": lr_dtype}
    return trajectory(adamax_init, adamax_update, params, grads, lr, hyper)


def adamax_condition(params, grads, beta1=0.9, *, unit=2.0**-53):
    """κₜ = 1 + β₁ᵗ/(1 − β₁ᵗ): the one bias correction (see ``adam_condition``)."""
    return 1 + _cancellation(beta1, len(grads))


# nadam ------------------------------------------------------------------------------------


def nadam_init(params):
    return {**_zeros(params, "m", "v"), "mu_product": np.ones((), params.dtype)}


def _nadam_mu(beta1, step, momentum_decay):
    return beta1 * (1 - 0.5 * 0.96 ** (step * momentum_decay))


def nadam_update(params, grad, state, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, *, momentum_decay=0.004,
                 product_dtype=None, lr_dtype=None):
    """μₜ = β₁(1 − ½·0.96^{tψ}); w ← w − lr·[(1−μₜ)g/(1−Πμ) + μₜ₊₁m/(1−Πμ·μₜ₊₁)]/(√v̂ + ε)."""
    rate = learning_rate(lr, step, lr_dtype)
    mu, mu_next = _nadam_mu(beta1, step, momentum_decay), _nadam_mu(beta1, step + 1, momentum_decay)
    product = float(state["mu_product"]) * mu
    if product_dtype == "float32":  # a float32 running product times μ rounded to float32
        product = float(np.float32(state["mu_product"]) * np.float32(mu))
    m = beta1 * state["m"] + (1 - beta1) * grad
    v = beta2 * state["v"] + (1 - beta2) * (grad * grad)
    denominator = np.sqrt(v / (1 - beta2**step)) + eps
    m_hat = ((1 - mu) / (1 - product)) * grad + (mu_next / (1 - product * mu_next)) * m
    return params - rate * m_hat / denominator, {"m": m, "v": v, "mu_product": np.asarray(product)}


def nadam_condition(params, grads, beta1=0.9, beta2=0.999, *, momentum_decay=0.004, unit=2.0**-53):
    """κₜ = 1 + μₜ/(1 − μₜ) + Πμ/(1 − Πμ) + ½·β₂ᵗ/(1 − β₂ᵗ): the momentum schedule's coefficients
    1 − μₜ and 1 − Πμ cancel like Adam's bias corrections (see ``adam_condition``)."""
    t = np.arange(1, len(grads) + 1, dtype=np.float64)
    mu = np.array([_nadam_mu(beta1, step, momentum_decay) for step in t]) if len(t) else np.zeros(0)
    product = np.cumprod(mu)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 + mu / (1 - mu) + product / (1 - product) + _cancellation(beta2, len(grads)) / 2


@float64
def nadam(params, grads, lr=0.002, beta1=0.9, beta2=0.999, eps=1e-8, *, momentum_decay=0.004, product_dtype=None,
          lr_dtype=None):
    """NAdam (Dozat 2016): Adam with Nesterov momentum and the momentum schedule
    μₜ = β₁(1 − ½·0.96^{tψ}), ψ = 0.004:

    m̂ = (1−μₜ)·g/(1 − Π_{s≤t}μₛ) + μₜ₊₁·m/(1 − Π_{s≤t+1}μₛ), v̂ = v/(1−β₂ᵗ), w ← w − lr·m̂/(√v̂ + ε).
    Defaults lr 0.002, β₁ 0.9, β₂ 0.999, ε 1e-8. momentum_decay is ψ (a variant: 1.0 as
    Keras 3, inf for a constant μ = β₁); product_dtype="float32": Πμ held in float32 (torch).
    """
    hyper = {"beta1": beta1, "beta2": beta2, "eps": eps, "momentum_decay": momentum_decay,
             "product_dtype": product_dtype, "lr_dtype": lr_dtype}
    return trajectory(nadam_init, nadam_update, params, grads, lr, hyper)
