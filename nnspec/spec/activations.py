"""Activation functions: the textbook formulas and their exact derivatives.

Every op ``f(x, **params)`` has a vector-Jacobian product ``f_vjp(x, cotangent,
**params)`` = cotangent * f'(x) (for softmax and log_softmax, the full Jacobian
transposed applied to the cotangent along ``axis``).

Conventions
-----------
* Values follow IEEE arithmetic of the stated formula: nan in, nan out; a
  softmax row holding +inf or nan is nan.
* Kinks. Where a formula switches branch at 0 (relu, leaky_relu, elu, selu) the
  derivative at exactly 0 is that of the branch the formula's ``x > 0`` test
  selects there, the left one (``kink="left"``, relu'(0) = 0). Frameworks that
  take the right derivative match the variant ``kink="right"``. The parameter
  changes nothing but the derivative at 0. Where a formula saturates on both sides
  (relu6, hard_sigmoid, hard_swish) the outer branches own both kinks
  (``kink="outer"``: relu6'(6) = 0); ``"inner"``, ``"left"``, ``"right"`` are the variants.
* Limits at ±inf are taken where the formula would read inf*0
  (swish(-inf) = gelu(-inf) = 0). Frameworks that evaluate the product in IEEE
  arithmetic (nan there) match the variant ``at_inf="ieee"``.
* Keyword-only parameters (after ``*``) select variants on the spec side; they are
  never passed to an adapter, whose op signature is the spec's without them.
* Formulas are written to stay accurate where a naive transcription cancels or
  overflows: sigmoid through exp(-|x|), 1 - tanh² through exp(-2|x|), Φ through
  erfc. The NumPy baseline evaluates these same lines in float16/bfloat16/float32.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ._float64 import float64

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
GELU_TANH_C = 0.044715
GELU_TANH_C_LO = 2.1960211427085595e-18  # the decimal 0.044715 - GELU_TANH_C
TWO_SQRT_2_OVER_PI = 1.5957691216057308  # 2·sqrt(2/pi), rounded
TWO_SQRT_2_OVER_PI_LO = -9.96930880911092e-17
SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2/pi)
SQRT_HALF = 0.7071067811865476  # 1/sqrt(2), rounded
SQRT_HALF_LO = -4.833646656726457e-17  # 1/sqrt(2) - SQRT_HALF
TWO_OVER_SQRT_PI = 1.1283791670955126  # 2/sqrt(pi)
INV_SQRT_2PI = 0.3989422804014327  # 1/sqrt(2*pi)


def _positive(x, kink):
    """Where the right-hand branch (derivative of x) applies."""
    return x > 0 if kink == "left" else x >= 0


def _two_product(a, b):
    """p + e == a·b exactly (Dekker's product, float64 only)."""
    p = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _split(v):
    c = 134217729.0 * v  # 2^27 + 1
    hi = c - (c - v)
    return hi, v - hi


def _normal_cdf(x):
    """Φ(x) = erfc(z)/2, z = −x/√2, accurate in the lower tail.

    erfc(z) magnifies a rounding of z by about 2z², so in float64 z is carried as
    z_hi + z_lo and, for z > 1/2, erfc(z) is taken as erfcx(z)·e^{−z²} with z²
    likewise carried exactly to first order. Other dtypes (the NumPy baseline)
    evaluate the plain erfc(−x/√2)/2.
    """
    if x.dtype != np.float64:
        return special.erfc(-x * SQRT_HALF) / 2
    z_hi, z_lo = _two_product(-x, SQRT_HALF)
    ordinary = np.abs(x) < 1e300  # beyond, Dekker's split overflows and erfc is 0 or 2 anyway
    z_lo = np.where(ordinary, z_lo - x * SQRT_HALF_LO, 0)
    near = special.erfc(z_hi) - z_lo * TWO_OVER_SQRT_PI * np.exp(-z_hi * z_hi)
    sq_hi, sq_lo = _two_product(z_hi, z_hi)
    sq_lo = np.where(np.isfinite(sq_hi), sq_lo + 2 * z_hi * z_lo, 0)
    scaled = special.erfcx(z_hi)
    scaled = scaled + z_lo * (2 * z_hi * scaled - TWO_OVER_SQRT_PI)
    tail = scaled * (np.exp(-sq_hi) * (1 - sq_lo))
    cdf = np.where(z_hi > 0.5, tail, near) / 2
    return np.where(ordinary, cdf, np.where(x > 0, 1.0, np.where(x < 0, 0.0, cdf)))


def _sigmoid_parts(x):
    """e = exp(-|x|), then sigmoid(x) and sigmoid'(x) = e/(1+e)² without cancellation."""
    e = np.exp(-np.abs(x))
    s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return s, e / ((1 + e) * (1 + e))


# linear -----------------------------------------------------------------------


@float64
def linear(x):
    """f(x) = x.   f'(x) = 1."""
    return x.copy()


@float64
def linear_vjp(x, cotangent):
    return cotangent.copy()


# sigmoid ----------------------------------------------------------------------


@float64
def sigmoid(x):
    """σ(x) = 1 / (1 + e^{-x}), as e^{x}/(1+e^{x}) for x < 0 so neither side overflows.

    σ'(x) = σ(x)(1 − σ(x)) = e^{-|x|} / (1 + e^{-|x|})².
    """
    return _sigmoid_parts(x)[0]


@float64
def sigmoid_vjp(x, cotangent):
    return cotangent * _sigmoid_parts(x)[1]


# tanh -------------------------------------------------------------------------


@float64
def tanh(x):
    """tanh(x) = (e^{x} − e^{-x}) / (e^{x} + e^{-x}).

    tanh'(x) = 1 − tanh²(x) = 4e^{-2|x|} / (1 + e^{-2|x|})².
    """
    return np.tanh(x)


@float64
def tanh_vjp(x, cotangent):
    e = np.exp(-2 * np.abs(x))
    return cotangent * (4 * e / ((1 + e) * (1 + e)))


# relu -------------------------------------------------------------------------


@float64
def relu(x):
    """relu(x) = max(x, 0).   relu'(x) = 1 if x > 0 else 0 (kink="left": relu'(0) = 0)."""
    return np.maximum(x, 0)


@float64
def relu_vjp(x, cotangent, *, kink="left"):
    return np.where(_positive(x, kink), cotangent, 0)


# leaky_relu -------------------------------------------------------------------


@float64
def leaky_relu(x, alpha=0.01):
    """leaky_relu(x) = x if x > 0 else α·x, α = ``alpha`` (negative slope, default 0.01).

    leaky_relu'(x) = 1 if x > 0 else α (kink="left": the derivative at 0 is α).
    """
    return np.where(x > 0, x, alpha * x)


@float64
def leaky_relu_vjp(x, cotangent, alpha=0.01, *, kink="left"):
    return np.where(_positive(x, kink), cotangent, alpha * cotangent)


# swish ------------------------------------------------------------------------


def _limit_at_minus_inf(x, y, at_inf):
    """y with its value at x = −inf set to the limit 0 (at_inf="limit") or left as IEEE made it."""
    if at_inf == "ieee":
        return y
    if at_inf != "limit":
        raise ValueError(f"at_inf must be 'limit' or 'ieee', got {at_inf!r}")
    return np.where(x == -np.inf, 0, y)


@float64
def swish(x, *, at_inf="limit"):
    """swish(x) = x·σ(x) (also called silu), with swish(−inf) = 0 (at_inf="ieee": −inf·0 = nan).

    swish'(x) = σ(x) + x·σ(x)(1 − σ(x)).
    """
    return _limit_at_minus_inf(x, x * _sigmoid_parts(x)[0], at_inf)


@float64
def swish_vjp(x, cotangent):
    s, ds = _sigmoid_parts(x)
    return cotangent * (s + np.where(ds == 0, 0, x * ds))


# gelu -------------------------------------------------------------------------


def _gelu_tanh_inner(x):
    """2u, u = √(2/π)(x + 0.044715x³): the tanh form is x·σ(2u) since (1+tanh u)/2 = σ(2u)."""
    return 2 * SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x)


def _gelu_tanh_sigma(x):
    """σ(2u) accurate in the lower tail, where e^{2u} magnifies any rounding of 2u by |2u|.

    In float64, 2u is carried as a double-length sum v + v_err (with 0.044715 and
    2√(2/π) exact), and σ(v + δ) = e^{v}(1 + δ)/(1 + e^{v}(1 + δ)) for v < 0.
    Other dtypes (the NumPy baseline) evaluate the plain σ(2u).
    """
    if x.dtype != np.float64:
        return _sigmoid_parts(_gelu_tanh_inner(x))[0]
    ordinary = np.abs(x) < 1e100  # beyond, x³ overflows and σ(2u) is 0 or 1 anyway
    xs = np.where(ordinary, x, 0.0)
    x2, x2_err = _two_product(xs, xs)
    x3, x3_err = _two_product(x2, xs)
    x3_err = x3_err + x2_err * xs
    cx3, cx3_err = _two_product(GELU_TANH_C, x3)
    cx3_err = cx3_err + GELU_TANH_C * x3_err + GELU_TANH_C_LO * x3
    inner, inner_err = _two_sum(xs, cx3)
    inner_err = inner_err + cx3_err
    v, v_err = _two_product(TWO_SQRT_2_OVER_PI, inner)
    v_err = v_err + TWO_SQRT_2_OVER_PI * inner_err + TWO_SQRT_2_OVER_PI_LO * inner
    e = np.exp(-np.abs(v)) * (1 - np.sign(v) * v_err)
    sigma = np.where(v >= 0, 1 / (1 + e), e / (1 + e))
    return np.where(ordinary, sigma, _sigmoid_parts(_gelu_tanh_inner(x))[0])


def _two_sum(a, b):
    """s + e == a + b exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@float64
def gelu(x, approximate="none", *, at_inf="limit"):
    """gelu(x) = x·Φ(x), Φ the standard normal CDF, Φ(x) = erfc(−x/√2)/2.

    approximate="tanh": x·(1 + tanh(√(2/π)(x + 0.044715x³)))/2, the approximation
    some frameworks use by default; it is a *variant* of this spec, not its value.
    gelu'(x) = Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π);
    tanh form: σ(2u) + x·σ'(2u)·2u', u' = √(2/π)(1 + 3·0.044715x²).
    gelu(−inf) = 0 (at_inf="ieee": −inf·0 = nan).
    """
    if approximate == "tanh":
        y = x * _gelu_tanh_sigma(x)
    elif approximate == "none":
        y = x * _normal_cdf(x)
    else:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _limit_at_minus_inf(x, y, at_inf)


@float64
def gelu_vjp(x, cotangent, approximate="none"):
    if approximate == "tanh":
        s, ds = _sigmoid_parts(_gelu_tanh_inner(x))
        du = 2 * SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_C * x * x)
        return cotangent * (s + np.where(ds == 0, 0, x * ds * du))
    if approximate == "none":
        phi = np.exp(-x * x / 2) * INV_SQRT_2PI
        return cotangent * (_normal_cdf(x) + np.where(phi == 0, 0, x * phi))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


# softmax / log_softmax --------------------------------------------------------


def _shift_by_max(x, axis):
    """d = x − m, m the row maximum, as an unevaluated sum d + d_err (Knuth's TwoSum).

    x − m is rounded wherever x and m are more than a factor 2 apart; e^{d}
    magnifies that rounding by |d|, so the lost part d_err is carried along.
    """
    d, d_err = _two_sum(x, -np.max(x, axis=axis, keepdims=True))
    return d, np.where(np.isfinite(d_err), d_err, 0)


@float64
def softmax(x, axis=-1):
    """softmax(x)_i = e^{x_i − m} / Σ_j e^{x_j − m}, m = max_j x_j along ``axis`` (default −1).

    Subtracting m changes nothing mathematically and keeps e^{·} ≤ 1; the rounding
    of x_i − m is compensated (e^{d + δ} = e^{d}(1 + δ)).
    VJP: s ⊙ (g − Σ_j g_j s_j).
    """
    d, d_err = _shift_by_max(x, axis)
    z = np.exp(d) * (1 + d_err)
    return z / np.sum(z, axis=axis, keepdims=True)


@float64
def softmax_vjp(x, cotangent, axis=-1):
    s = softmax.__wrapped__(x, axis=axis)
    return s * (cotangent - np.sum(cotangent * s, axis=axis, keepdims=True))


@float64
def log_softmax(x, axis=-1):
    """log_softmax(x)_i = (x_i − m) − log Σ_j e^{x_j − m}, m = max_j x_j along ``axis``.

    log Σ is taken as log1p(Σ_{j≠k} e^{x_j − m}), k one index of the maximum, so
    that it stays accurate when Σ is close to 1; x_i − m is compensated as in softmax.
    VJP: g − softmax(x) · Σ_j g_j.
    """
    d, d_err = _shift_by_max(x, axis)
    others = np.exp(d) * (1 + d_err)
    top = np.expand_dims(np.argmax(x, axis=axis), axis)
    np.put_along_axis(others, top, 0, axis=axis)
    log_sum = np.log1p(np.sum(others, axis=axis, keepdims=True))
    log_sum = np.where(np.any(np.isnan(d), axis=axis, keepdims=True), np.nan, log_sum)  # +inf or nan in the row
    return (d - log_sum) + d_err


@float64
def log_softmax_vjp(x, cotangent, axis=-1):
    s = softmax.__wrapped__(x, axis=axis)
    return cotangent - s * np.sum(cotangent, axis=axis, keepdims=True)


# softplus ---------------------------------------------------------------------


@float64
def softplus(x):
    """softplus(x) = log(1 + e^{x}) = max(x, 0) + log1p(e^{−|x|}).   softplus'(x) = σ(x)."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


@float64
def softplus_vjp(x, cotangent):
    return cotangent * _sigmoid_parts(x)[0]


# elu / selu -------------------------------------------------------------------


@float64
def elu(x, alpha=1.0):
    """elu(x) = x if x > 0 else α(e^{x} − 1), α = ``alpha`` (default 1.0); e^{x} − 1 via expm1.

    elu'(x) = 1 if x > 0 else α·e^{x} (kink="left": α at 0).
    """
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


@float64
def elu_vjp(x, cotangent, alpha=1.0, *, kink="left"):
    # α·e^x first: g·α could overflow where the product with e^x (x <= 0) does not.
    return np.where(_positive(x, kink), cotangent, cotangent * (alpha * np.exp(np.minimum(x, 0))))


@float64
def selu(x, alpha=SELU_ALPHA, scale=SELU_SCALE):
    """selu(x) = λ·elu(x, α): λx if x > 0 else λα(e^{x} − 1), α = ``alpha``, λ = ``scale``.

    Defaults: the self-normalising fixed point of Klambauer et al. 2017 (eq. 14),
    λ = 1.0507009873554804934…, α = 1.6732632423543772848… (ONNX's Selu takes both as attributes;
    torch, Keras and JAX fix them at these values).
    selu'(x) = λ if x > 0 else λα·e^{x} (kink="left": λα at 0).
    """
    return scale * elu.__wrapped__(x, alpha)


@float64
def selu_vjp(x, cotangent, alpha=SELU_ALPHA, scale=SELU_SCALE, *, kink="left"):
    negative_slope = (scale * alpha) * np.exp(np.minimum(x, 0))
    return np.where(_positive(x, kink), cotangent * scale, cotangent * negative_slope)


# softsign / mish / celu ----------------------------------------------------------------


def _limit_at_infinity(x, y, at_inf, limit):
    """y with its values at x = ±inf set to ``limit(±inf)`` (at_inf="limit") or left as IEEE made them."""
    if at_inf == "ieee":
        return y
    if at_inf != "limit":
        raise ValueError(f"at_inf must be 'limit' or 'ieee', got {at_inf!r}")
    return np.where(np.isinf(x), limit(x), y)


@float64
def softsign(x, *, at_inf="limit"):
    """softsign(x) = x / (1 + |x|), with softsign(±inf) = ±1 (at_inf="ieee": inf/inf = nan).

    softsign'(x) = 1 / (1 + |x|)², applied as (g / (1 + |x|)) / (1 + |x|) so that the square
    cannot overflow.
    """
    return _limit_at_infinity(x, x / (1 + np.abs(x)), at_inf, np.sign)


@float64
def softsign_vjp(x, cotangent):
    d = 1 + np.abs(x)
    return cotangent / d / d


def _mish_parts(x):
    """(t, s) = (tanh(softplus(x)), sech²(softplus(x))·σ(x)) through w = e^{−|x|} ≤ 1, never overflowing.

    With n = e^{2x} + 2e^{x}: tanh(softplus(x)) = n / (n + 2) and sech²(softplus(x))·σ(x) =
    4e^{x}(1 + e^{x}) / (n + 2)². For x ≤ 0 (w = e^{x}): t = w(w + 2)/d, s = 4w(1 + w)/d²,
    d = w² + 2w + 2; for x > 0 (w = e^{−x}, numerator and denominator divided by e^{2x}):
    t = (1 + 2w)/d, s = 4w²(1 + w)/d², d = 1 + 2w + 2w².
    """
    w = np.exp(-np.abs(x))
    positive = x > 0
    d = np.where(positive, 1 + 2 * w + 2 * w * w, w * w + 2 * w + 2)
    t = np.where(positive, 1 + 2 * w, w * (w + 2)) / d
    s = np.where(positive, 4 * w * w * (1 + w), 4 * w * (1 + w)) / (d * d)
    return t, s


@float64
def mish(x, *, at_inf="limit"):
    """mish(x) = x·tanh(softplus(x)) (Misra 2019), with mish(−inf) = 0 (at_inf="ieee": −inf·0 = nan).

    mish'(x) = tanh(softplus(x)) + x·sech²(softplus(x))·σ(x).
    """
    return _limit_at_minus_inf(x, x * _mish_parts(x)[0], at_inf)


@float64
def mish_vjp(x, cotangent):
    t, s = _mish_parts(x)
    return cotangent * (t + np.where(s == 0, 0, x * s))


@float64
def celu(x, alpha=1.0):
    """celu(x) = x if x > 0 else α(e^{x/α} − 1), α = ``alpha`` (Barron 2017, default 1.0); via expm1.

    celu'(x) = 1 if x > 0 else e^{x/α}: continuous at 0 (1 on both sides), so no kink to choose.
    """
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha))


@float64
def celu_vjp(x, cotangent, alpha=1.0):
    return np.where(x > 0, cotangent, cotangent * np.exp(np.minimum(x, 0) / alpha))


# relu6 / hard_sigmoid / hard_swish: two kinks -----------------------------------------


def _middle(x, low, high, kink):
    """Where the sloped middle branch's derivative applies, with ``kink`` choosing who owns x = low, high.

    kink="outer" (the spec's): the outer branches own both kinks, so a saturated unit's
    derivative at its edge is the outer one (relu6'(0) = relu6'(6) = 0); "inner": the middle
    branch owns both; "left"/"right": at each kink the branch on that side.
    """
    owned = {"outer": (x > low, x < high), "inner": (x >= low, x <= high),
             "left": (x > low, x <= high), "right": (x >= low, x < high)}
    if kink not in owned:
        raise ValueError(f"kink must be one of {', '.join(owned)}, got {kink!r}")
    above_low, below_high = owned[kink]
    return above_low & below_high


@float64
def relu6(x):
    """relu6(x) = min(max(x, 0), 6) (Krizhevsky 2010; MobileNet's capped relu).

    relu6'(x) = 1 for 0 < x < 6, else 0 (kink="outer": 0 at both kinks; see ``_middle``).
    """
    return np.minimum(np.maximum(x, 0), 6)


@float64
def relu6_vjp(x, cotangent, *, kink="outer"):
    return np.where(_middle(x, 0, 6, kink), cotangent, 0.0)


@float64
def hard_sigmoid(x):
    """hard_sigmoid(x) = relu6(x + 3) / 6 = min(max(x/6 + 1/2, 0), 1) (Howard et al. 2019, MobileNetV3).

    hard_sigmoid'(x) = 1/6 for −3 < x < 3, else 0 (kink="outer"), applied as g / 6. (Keras 2's
    hard sigmoid, clip(0.2x + 0.5, 0, 1), is another function, not a rounding of this one.)
    """
    return relu6.__wrapped__(x + 3) / 6


@float64
def hard_sigmoid_vjp(x, cotangent, *, kink="outer"):
    return np.where(_middle(x, -3, 3, kink), cotangent / 6, 0.0)


@float64
def hard_swish(x, *, at_inf="limit"):
    """hard_swish(x) = x·relu6(x + 3)/6 (Howard et al. 2019), with hard_swish(−inf) = 0 (at_inf="ieee": −inf·0 = nan).

    hard_swish'(x) = (2x + 3)/6 for −3 < x < 3, 0 below, 1 above (kink="outer": 0 at −3, 1 at 3).
    """
    return _limit_at_minus_inf(x, x * hard_sigmoid.__wrapped__(x), at_inf)


@float64
def hard_swish_vjp(x, cotangent, *, kink="outer"):
    outer = np.where(x > 0, cotangent, 0.0)
    return np.where(_middle(x, -3, 3, kink), cotangent * ((2 * x + 3) / 6), outer)


# prelu: a slope that is a weight -----------------------------------------------------------


def _channel_slope(x, weight):
    """``weight`` laid along x's channel axis 1 (shape (C,)), or one slope for all elements (shape (1,))."""
    shape = [1] * x.ndim
    shape[1] = weight.shape[0]
    return weight.reshape(shape)


@float64
def prelu(x, weight):
    """prelu(x) = x if x > 0 else a_c·x (He et al. 2015), a = ``weight``: one learned slope per channel
    (x's axis 1, ``weight`` of shape (C,)) or one shared by all (shape (1,)); x is (N, C, ...).

    ∂/∂x = 1 if x > 0 else a_c (kink="left": a_c at 0; "right": 1; "zero": 0, as relu(x) − a·relu(−x)
    differentiates there); ∂/∂a_c = Σ g·x over channel c's elements with x ≤ 0.
    """
    return np.where(x > 0, x, _channel_slope(x, weight) * x)


@float64
def prelu_vjp(x, weight, cotangent, *, kink="left"):
    slope = _channel_slope(x, weight)
    at_zero = {"left": cotangent * slope, "right": cotangent, "zero": 0.0 * cotangent}
    if kink not in at_zero:
        raise ValueError(f"kink must be one of {', '.join(at_zero)}, got {kink!r}")
    dx = np.where(x == 0, at_zero[kink], np.where(x > 0, cotangent, cotangent * slope))
    slope_terms = np.where(x > 0, 0.0, cotangent * x)  # at x = 0 the term is 0 whichever branch owns it
    axes = tuple(i for i in range(x.ndim) if i != 1 or weight.shape[0] == 1)
    return dx, slope_terms.sum(axis=axes).reshape(weight.shape)
