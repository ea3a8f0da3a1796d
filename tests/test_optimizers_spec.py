"""The optimizers, schedules and clipping spec against independent oracles.

Oracles: closed forms (a constant gradient makes Adam's bias-corrected moments exact, a
heavy-ball buffer a geometric sum), the published recurrences evaluated in mpmath at 50
digits, and hand-counted state machines. Never a framework.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from nnspec.spec import clipping as C
from nnspec.spec import optimizers as O
from nnspec.spec import schedules as L

mpmath.mp.dps = 50
ULP = np.finfo(np.float64).eps


def close(actual, expected, ulps=8):
    """|actual − expected| ≤ ulps·ε·max(|expected|, scale of the trajectory)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray([float(e) for e in np.ravel(expected)]).reshape(actual.shape)
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=ulps * ULP * scale)


def constant(g, steps):
    return np.full((steps, 1), g)


# optimizers --------------------------------------------------------------------------------------


def test_sgd_is_the_running_sum_of_lr_times_g():
    grads = np.array([[0.5], [-0.25], [3.0], [1e-3]])
    lrs = np.array([0.1, 0.2, 0.05, 1.0])
    expected = [1 - math.fsum(lrs[:t] * grads[:t, 0]) for t in range(1, 5)]
    close(O.sgd(np.array([1.0]), grads, lr=lrs)[:, 0], expected)


def test_momentum_with_a_constant_gradient_is_a_geometric_sum():
    g, lr, mu, steps = mpmath.mpf("0.7"), mpmath.mpf("0.01"), mpmath.mpf("0.9"), 50
    expected = [1 - lr * g * sum((1 - mu**s) / (1 - mu) for s in range(1, t + 1)) for t in range(1, steps + 1)]
    close(O.momentum(np.array([1.0]), constant(0.7, steps), lr=0.01, momentum=0.9)[:, 0], expected)


def _momentum_double_sum(grads, lrs, mu, lr_in_buffer):
    """w_t = w_0 − Σ_{s≤t} lr_s·Σ_{k≤s} μ^{s−k}·g_k, or with lr_k inside the inner sum."""
    out, w = [], mpmath.mpf(1)
    for s in range(len(grads)):
        inner = sum(mu ** (s - k) * mpmath.mpf(grads[k]) * (mpmath.mpf(lrs[k]) if lr_in_buffer else 1)
                    for k in range(s + 1))
        w -= inner if lr_in_buffer else mpmath.mpf(lrs[s]) * inner
        out.append(w)
    return out


@pytest.mark.parametrize("lr_in_buffer", [False, True])
def test_momentum_variants_differ_only_once_the_rate_changes(lr_in_buffer):
    grads, lrs, mu = [0.5, -1.0, 2.0, 0.25, 1.0], [0.1, 0.1, 0.02, 0.3, 0.3], mpmath.mpf("0.5")
    got = O.momentum(np.array([1.0]), np.array(grads)[:, None], lr=np.array(lrs), momentum=0.5,
                     lr_in_buffer=lr_in_buffer)
    close(got[:, 0], _momentum_double_sum(grads, lrs, mu, lr_in_buffer))
    same = [O.momentum(np.array([1.0]), np.array(grads)[:, None], lr=0.1, momentum=0.5, lr_in_buffer=flag)
            for flag in (False, True)]
    close(same[0], same[1])


def test_nesterov_reformulated_and_lookahead():
    g, lr, mu, steps = mpmath.mpf(2), mpmath.mpf("0.01"), mpmath.mpf("0.9"), 30
    v = [g * (1 - mu**s) / (1 - mu) for s in range(1, steps + 1)]
    expected = [1 - lr * sum(g + mu * v[s] for s in range(t)) for t in range(1, steps + 1)]
    close(O.nesterov(np.array([1.0]), constant(2.0, steps), lr=0.01, momentum=0.9)[:, 0], expected)
    # Sutskever's form with the supplied gradient is heavy ball with lr in the buffer.
    grads, lrs = np.array([[0.5], [-1.0], [2.0]]), np.array([0.1, 0.3, 0.2])
    close(O.nesterov(np.array([1.0]), grads, lr=lrs, momentum=0.5, formulation="lookahead"),
          O.momentum(np.array([1.0]), grads, lr=lrs, momentum=0.5, lr_in_buffer=True))


@pytest.mark.parametrize("eps_placement", ["outside", "inside", "raw"])
def test_adam_with_a_constant_gradient_steps_by_lr_times_g_over_its_magnitude(eps_placement):
    """m̂ = g and v̂ = g² exactly, so each step is lr·g/(|g| + ε) (inside: √(g² + ε); raw: ε/√(1 − β₂ᵗ))."""
    g, lr, eps, b2, steps = mpmath.mpf("-0.3"), mpmath.mpf("0.01"), mpmath.mpf("1e-3"), mpmath.mpf("0.999"), 40
    denominators = {
        "outside": lambda t: abs(g) + eps,
        "inside": lambda t: mpmath.sqrt(g * g + eps),
        "raw": lambda t: abs(g) + eps / mpmath.sqrt(1 - b2**t),
    }
    expected = [1 - lr * g * sum(1 / denominators[eps_placement](s) for s in range(1, t + 1))
                for t in range(1, steps + 1)]
    got = O.adam(np.array([1.0]), constant(-0.3, steps), lr=0.01, eps=1e-3, eps_placement=eps_placement)
    close(got[:, 0], expected, ulps=16)


def _adam_mp(grads, lr, b1, b2, eps, amsgrad_max=None, w=1):
    """Adam by Kingma & Ba's Algorithm 1 in mpmath; AMSGrad keeping the max of raw or corrected v."""
    m = v = v_max = mpmath.mpf(0)
    w, out = mpmath.mpf(w), []
    for t, g in enumerate(grads, start=1):
        g = mpmath.mpf(g)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        if amsgrad_max == "raw":
            v_max = max(v_max, v)
            v_hat = v_max / (1 - b2**t)
        elif amsgrad_max == "corrected":
            v_max = max(v_max, v / (1 - b2**t))
            v_hat = v_max
        else:
            v_hat = v / (1 - b2**t)
        w -= lr * (m / (1 - b1**t)) / (mpmath.sqrt(v_hat) + eps)
        out.append(w)
    return out


@pytest.mark.parametrize("amsgrad_max", ["raw", "corrected"])
def test_amsgrad_keeps_the_maximum_of_the_raw_or_the_corrected_second_moment(amsgrad_max):
    grads, hyper = [3.0, 1.0, 0.5, 2.0], {"lr": 0.1, "beta1": 0.9, "beta2": 0.5, "eps": 1e-8}
    got = O.adam(np.array([1.0]), np.array(grads)[:, None], amsgrad=True, amsgrad_max=amsgrad_max, **hyper)
    b = {k: mpmath.mpf(v) for k, v in hyper.items()}
    close(got[:, 0], _adam_mp(grads, b["lr"], b["beta1"], b["beta2"], b["eps"], amsgrad_max))
    assert not np.allclose(got, O.adam(np.array([1.0]), np.array(grads)[:, None], amsgrad=False, **hyper))


def test_adam_follows_algorithm_1_on_a_varied_sequence():
    rng = np.random.default_rng(0)
    grads = rng.standard_normal(60) * 10.0 ** rng.integers(-3, 3, 60)
    got = O.adam(np.array([0.5]), grads[:, None], lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8)
    close(got[:, 0], _adam_mp(grads, mpmath.mpf("0.001"), mpmath.mpf("0.9"), mpmath.mpf("0.999"),
                              mpmath.mpf("1e-8"), w=0.5), ulps=64)


@pytest.mark.parametrize("mode", ["coupled", "decoupled", "decoupled_unscaled"])
def test_weight_decay_modes_after_one_step(mode):
    w, g, lr, lam, eps = 2.0, 0.5, 0.1, 0.01, 1e-8
    grad = g + lam * w if mode == "coupled" else g
    shrunk = {"coupled": w, "decoupled": w - lr * lam * w, "decoupled_unscaled": w - lam * w}[mode]
    expected = shrunk - lr * grad / (abs(grad) + eps)  # step 1: m̂ = g, v̂ = g²
    got = O.adam(np.array([w]), np.array([[g]]), lr=lr, weight_decay=lam, eps=eps, weight_decay_mode=mode)
    close(got[0, 0], expected)
    close(O.adamw(np.array([w]), np.array([[g]]), lr=lr, weight_decay=lam, eps=eps, weight_decay_mode=mode)[0, 0],
          expected)


@pytest.mark.parametrize("eps_placement", ["outside", "inside"])
def test_adagrad_sums_squared_gradients_from_the_initial_accumulator(eps_placement):
    g, lr, s0, eps, steps = mpmath.mpf("0.4"), mpmath.mpf("0.1"), mpmath.mpf("0.1"), mpmath.mpf("1e-6"), 30
    denominator = {"outside": lambda s: mpmath.sqrt(s) + eps, "inside": lambda s: mpmath.sqrt(s + eps)}[eps_placement]
    expected = [1 - sum(lr * g / denominator(s0 + k * g * g) for k in range(1, t + 1)) for t in range(1, steps + 1)]
    got = O.adagrad(np.array([1.0]), constant(0.4, steps), lr=0.1, initial_accumulator=0.1, eps=1e-6,
                    eps_placement=eps_placement)
    close(got[:, 0], expected)


def test_adagrad_lr_decay_divides_step_t_by_one_plus_t_minus_one_decays():
    g, lr, d, steps = mpmath.mpf("0.4"), mpmath.mpf("0.1"), mpmath.mpf("0.25"), 30
    expected = [1 - sum(lr / (1 + (k - 1) * d) * g / (mpmath.sqrt(k * g * g) + mpmath.mpf("1e-10"))
                        for k in range(1, t + 1)) for t in range(1, steps + 1)]
    got = O.adagrad(np.array([1.0]), constant(0.4, steps), lr=0.1, lr_decay=0.25)
    close(got[:, 0], expected)
    assert got[0, 0] == O.adagrad(np.array([1.0]), constant(0.4, 1), lr=0.1)[0, 0]  # step 1 is undecayed


@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_with_a_constant_gradient(centered):
    """v_t = g²(1 − ρᵗ); centered, ḡ_t = g(1 − ρᵗ) and v − ḡ² = g²(1 − ρᵗ)ρᵗ."""
    g, lr, rho, eps, steps = mpmath.mpf("0.5"), mpmath.mpf("0.01"), mpmath.mpf("0.9"), mpmath.mpf("1e-8"), 30

    def spread(t):
        return g * g * (1 - rho**t) * (rho**t if centered else 1)

    expected = [1 - sum(lr * g / (mpmath.sqrt(spread(s)) + eps) for s in range(1, t + 1)) for t in range(1, steps + 1)]
    got = O.rmsprop(np.array([1.0]), constant(0.5, steps), lr=0.01, rho=0.9, eps=1e-8, centered=centered)
    close(got[:, 0], expected, ulps=64)


@pytest.mark.parametrize("lr_in_buffer", [False, True])
def test_rmsprop_momentum_buffer(lr_in_buffer):
    grads, lrs, rho, mu, eps = [1.0, -2.0, 0.5], [0.1, 0.2, 0.05], mpmath.mpf("0.9"), mpmath.mpf("0.5"), 1e-8
    v = b = mpmath.mpf(0)
    w, expected = mpmath.mpf(1), []
    for g, lr in zip(grads, lrs):
        v = rho * v + (1 - rho) * mpmath.mpf(g) ** 2
        scaled = mpmath.mpf(g) / (mpmath.sqrt(v) + eps)
        b = mu * b + (mpmath.mpf(lr) * scaled if lr_in_buffer else scaled)
        w -= b if lr_in_buffer else mpmath.mpf(lr) * b
        expected.append(w)
    got = O.rmsprop(np.array([1.0]), np.array(grads)[:, None], lr=np.array(lrs), rho=0.9, eps=eps, momentum=0.5,
                    lr_in_buffer=lr_in_buffer)
    close(got[:, 0], expected)


def test_rmsprop_condition_flags_the_cancelling_centered_variance():
    grads = constant(1.0, 40)
    assert np.all(O.rmsprop_condition(np.array([0.0]), grads, centered=False) == 1)
    kappa = O.rmsprop_condition(np.array([0.0]), grads, rho=0.5, centered=True, unit=2.0**-24)
    assert kappa[0] < 100  # d/v = ρᵗ: resolvable at first,
    assert kappa[-1] > 1e6  # lost below float32's rounding after 40 steps


@pytest.mark.parametrize("eps_placement", ["outside", "max"])
def test_adamax_follows_algorithm_2(eps_placement):
    grads, lr, b1, b2, eps = [2.0, -1.0, 0.5, 3.0], mpmath.mpf("0.002"), mpmath.mpf("0.9"), mpmath.mpf("0.5"), 1e-3
    m = u = mpmath.mpf(0)
    w, expected = mpmath.mpf(1), []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        u = max(b2 * u, abs(mpmath.mpf(g)) + (eps if eps_placement == "max" else 0))
        w -= lr / (1 - b1**t) * m / (u + (eps if eps_placement == "outside" else 0))
        expected.append(w)
    got = O.adamax(np.array([1.0]), np.array(grads)[:, None], lr=0.002, beta1=0.9, beta2=0.5, eps=eps,
                   eps_placement=eps_placement)
    close(got[:, 0], expected)


@pytest.mark.parametrize("momentum_decay", [0.004, 1.0, math.inf])
def test_nadam_follows_dozats_update_with_its_momentum_schedule(momentum_decay):
    grads = [0.5, -1.0, 2.0, 0.25, 1.5]
    lr, b1, b2, eps = mpmath.mpf("0.002"), mpmath.mpf("0.9"), mpmath.mpf("0.999"), mpmath.mpf("1e-8")

    def mu(t):
        return b1 * (1 - mpmath.mpf("0.5") * mpmath.mpf("0.96") ** (t * mpmath.mpf(momentum_decay)))

    m = v = mpmath.mpf(0)
    product, w, expected = mpmath.mpf(1), mpmath.mpf(1), []
    for t, g in enumerate(grads, start=1):
        product *= mu(t)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * mpmath.mpf(g) ** 2
        m_hat = (1 - mu(t)) * g / (1 - product) + mu(t + 1) * m / (1 - product * mu(t + 1))
        w -= lr * m_hat / (mpmath.sqrt(v / (1 - b2**t)) + eps)
        expected.append(w)
    got = O.nadam(np.array([1.0]), np.array(grads)[:, None], momentum_decay=momentum_decay)
    close(got[:, 0], expected, ulps=16)


def test_nadam_with_a_constant_momentum_is_adam_with_nesterov_bias_corrections():
    """μₜ = β₁ (ψ = ∞): m̂ = β₁·m/(1 − β₁ᵗ⁺¹) + (1 − β₁)·g/(1 − β₁ᵗ), optax's formulation."""
    g, b1, lr, eps, steps = 0.5, 0.9, 0.002, 1e-8, 5
    w, expected = 1.0, []
    for t in range(1, steps + 1):
        m = g * (1 - b1**t)
        m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        w -= lr * m_hat / (abs(g) + eps)
        expected.append(w)
    close(O.nadam(np.array([1.0]), constant(g, steps), momentum_decay=math.inf)[:, 0], expected)


def test_the_learning_rate_variants_round_the_rate_to_float32():
    grads = np.array([[1.0]])
    assert O.sgd(np.array([0.0]), grads, lr=0.1)[0, 0] == -0.1
    assert O.sgd(np.array([0.0]), grads, lr=0.1, lr_dtype="float32")[0, 0] == -float(np.float32(0.1))


def test_trajectories_keep_the_parameters_dtype_in_the_baseline():
    params, grads = np.ones(3, np.float32), np.ones((4, 3), np.float32)
    assert O.adam.__wrapped__(params, grads, lr=np.full(4, 0.1, np.float32)).dtype == np.float32
    assert O.adam(params, grads).shape == (4, 3) and O.adam(params, grads).dtype == np.float64


# schedules ----------------------------------------------------------------------------------------


def test_step_and_exponential_decay_at_their_boundaries():
    lr = np.float64(0.1)
    rates = L.step_decay(lr, steps=10, step_size=3, gamma=0.5)
    assert rates.tolist() == [0.1] * 3 + [0.05] * 3 + [0.025] * 3 + [0.0125]
    close(L.exponential_decay(lr, steps=5, gamma=0.9), [mpmath.mpf("0.1") * mpmath.mpf("0.9") ** t for t in range(5)])
    close(L.step_decay(lr, steps=10, step_size=3, gamma=0.5, form="recursive"), rates)


def test_cosine_annealing_from_lr_max_to_lr_min_and_held_after_T():
    lr_max, lr_min, T = mpmath.mpf("0.1"), mpmath.mpf("0.001"), 10
    expected = [lr_min + (lr_max - lr_min) * (1 + mpmath.cos(mpmath.pi * min(t, T) / T)) / 2 for t in range(15)]
    rates = L.cosine_annealing(np.float64(0.1), steps=15, T=T, lr_min=0.001)
    close(rates, expected, ulps=2)
    assert rates[0] == 0.1 and rates[T] == 0.001 and rates[-1] == 0.001


def test_the_recursive_cosine_equals_the_closed_form_within_one_cycle_and_is_periodic():
    lr, T = np.float64(0.1), 8
    recursive = L.cosine_annealing(lr, steps=3 * T, T=T, lr_min=0.01, form="recursive")
    np.testing.assert_allclose(recursive[: T + 1], L.cosine_annealing(lr, steps=T + 1, T=T, lr_min=0.01),
                               rtol=1e-13)
    np.testing.assert_allclose(recursive, L.cosine_annealing(lr, steps=3 * T, T=T, lr_min=0.01, after_T="periodic"),
                               rtol=1e-12)


def test_linear_warmup_and_warmup_then_cosine():
    lr = np.float64(0.2)
    rates = L.linear_warmup(lr, steps=7, warmup_steps=4, lr_start=0.0)
    close(rates, [0.0, 0.05, 0.1, 0.15, 0.2, 0.2, 0.2])
    close(L.linear_warmup(lr, steps=7, warmup_steps=4, lr_start=0.02, form="recursive"),
          L.linear_warmup(lr, steps=7, warmup_steps=4, lr_start=0.02))
    both = L.warmup_cosine(lr, steps=12, warmup_steps=4, T=5, lr_start=0.0, lr_min=0.01)
    close(both[:4], rates[:4])
    close(both[4:], L.cosine_annealing(lr, steps=8, T=5, lr_min=0.01))


def _plateau(metrics, **params):
    return L.reduce_on_plateau(np.float64(1.0), np.asarray(metrics, dtype=np.float64), **params).tolist()


def test_reduce_on_plateau_counts_bad_epochs_past_patience():
    flat = [1.0] * 8
    # epoch 1 improves on inf; bad epochs 2, 3, 4: more than patience 2 at epoch 4.
    assert _plateau(flat, factor=0.5, patience=2) == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert _plateau(flat, factor=0.5, patience=2, patience_rule="reaches") == [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125,
                                                                                0.125]
    assert _plateau(flat, factor=0.5, patience=0, min_lr=0.2) == [1, 0.5, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2]


def test_reduce_on_plateau_cooldown_and_thresholds():
    flat = [1.0] * 9
    assert _plateau(flat, factor=0.5, patience=1, cooldown=2) == [1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    # Keras: the epoch that ends the cooldown already counts as bad.
    assert _plateau(flat, factor=0.5, patience=1, cooldown=2, cooldown_rule="last_counts") == [
        1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]
    creeping = [1.0, 0.99995, 0.9999, 0.99985]  # improvements smaller than threshold·best are bad epochs
    assert _plateau(creeping, factor=0.5, patience=1, threshold=1e-4) == [1, 1, 0.5, 0.5]
    assert _plateau(creeping, factor=0.5, patience=1, threshold=1e-6) == [1, 1, 1, 1]
    assert _plateau([2.0, 1.5, 1.4], factor=0.5, patience=0, threshold=0.2, threshold_mode="abs") == [1, 1, 0.5]


def test_reduce_on_plateau_min_decay_skips_tiny_reductions():
    assert _plateau([1.0] * 3, factor=0.5, patience=0, min_lr=0.999999999) == [1, 0.999999999, 0.999999999]
    assert _plateau([1.0] * 3, factor=0.5, patience=0, min_lr=0.999999999, min_decay=1e-8) == [1, 1, 1]


# clipping ------------------------------------------------------------------------------------------


def test_clip_by_value_is_symmetric():
    np.testing.assert_array_equal(C.clip_by_value(np.array([-3.0, -0.5, 0.0, 2.0]), clip_value=1.0), [-1, -0.5, 0, 1])


@pytest.mark.parametrize("scale", [1.0, 1e-200, 1e200])
def test_clip_by_norm_scales_to_max_norm_without_overflow(scale):
    x = np.array([3.0, -4.0, 12.0]) * scale
    norm = mpmath.sqrt(sum(mpmath.mpf(float(v)) ** 2 for v in x))
    c = 0.5 * scale
    close(C.clip_by_norm(x, max_norm=c) / scale, [mpmath.mpf(float(v)) / norm * mpmath.mpf(c) / scale for v in x])
    np.testing.assert_array_equal(C.clip_by_norm(x, max_norm=20 * scale), x)  # within the norm: untouched


def test_clip_by_global_norm_uses_the_norm_of_all_tensors():
    a, b, c = np.array(3.0), np.array([4.0]), np.array([[0.0, 12.0]])
    clipped = C.clip_by_global_norm(a, b, c, max_norm=6.5)  # the global norm is 13
    for got, x in zip(clipped, (a, b, c)):
        close(got, x / 2)
    eps = C.clip_by_global_norm(a, b, c, max_norm=6.5, norm_eps=1e-6)
    close(eps[0], 3.0 * 6.5 / (13 + 1e-6))


L2_OPTIMIZERS = {"sgd": {}, "momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9},
                 "adagrad": {"eps": 1e-10}, "rmsprop": {"eps": 1e-8}, "adam": {"eps": 1e-8}}


@pytest.mark.parametrize("op", L2_OPTIMIZERS)
def test_decoupled_weight_decay_without_gradients_shrinks_geometrically(op):
    """g = 0: only the decay moves w, w_t = w₀(1 − lr·λ)ᵗ decoupled and w₀(1 − λ)ᵗ unscaled (closed form, mpmath)."""
    w0, lr, lam, steps = 1.5, 0.1, 0.05, 20
    f = getattr(O, op)
    for mode, factor in (("decoupled", 1 - mpmath.mpf("0.1") * mpmath.mpf("0.05")), ("decoupled_unscaled", 1 - mpmath.mpf("0.05"))):
        got = f(np.array([w0]), np.zeros((steps, 1)), lr=lr, weight_decay=lam, weight_decay_mode=mode,
                **L2_OPTIMIZERS[op])
        close(got[:, 0], [w0 * factor**t for t in range(1, steps + 1)], ulps=8 * steps)


@pytest.mark.parametrize("op", L2_OPTIMIZERS)
def test_coupled_weight_decay_is_the_gradient_of_the_l2_penalty(op):
    """Coupled λ is L2 regularisation: the same optimizer without decay, fed g + ∇(λ/2·‖w‖²) = g + λw at each
    step's own w, traces the same path (bit for bit: the same operations in the same order)."""
    rng = np.random.default_rng(1)
    w0, grads, lr, lam = rng.standard_normal(3), rng.standard_normal((12, 3)), 0.05, 0.1
    f = getattr(O, op)
    coupled = f(w0, grads, lr=lr, weight_decay=lam, **L2_OPTIMIZERS[op])
    previous = np.vstack([w0, coupled[:-1]])
    penalised = grads + lam * previous
    # one step at a time would need the state; the whole run fed the penalised gradients is the same fold
    np.testing.assert_array_equal(f(w0, penalised, lr=lr, **L2_OPTIMIZERS[op]), coupled)
    assert not np.array_equal(f(w0, grads, lr=lr, **L2_OPTIMIZERS[op]), coupled)


def test_weight_decay_modes_differ_for_momentum_but_not_for_sgd():
    """With a buffer, coupled λw accumulates in it and decoupled decay does not; plain SGD cannot tell them apart."""
    rng = np.random.default_rng(2)
    w0, grads = rng.standard_normal(4), rng.standard_normal((10, 4))
    def run(op, mode, **hyper):
        return getattr(O, op)(w0, grads, lr=0.1, weight_decay=0.1, weight_decay_mode=mode, **hyper)
    np.testing.assert_allclose(run("sgd", "coupled"), run("sgd", "decoupled"), rtol=1e-14)
    assert np.max(np.abs(run("momentum", "coupled", momentum=0.9) - run("momentum", "decoupled", momentum=0.9))) > 1e-3
