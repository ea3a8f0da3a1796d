"""The float64 spec (``nnspec.spec.activations``) proved against independent oracles.

No framework appears here, and no oracle calls back into the spec's helpers. The
oracles are:

* **mpmath at 50 significant digits** (``mp.dps = 50``, raised further where a
  formula would otherwise cancel): every textbook formula and its closed-form
  derivative, evaluated on the *exact* value of the float64 input. A spec value
  must be within ``MAX_ULPS`` float64 steps of that exact value rounded to
  float64, with an absolute floor of the smallest normal float64 (below which
  float64 itself only has subnormals). Derivatives get a floor of ULP(|cotangent|).
* **``mpmath.diff``**, which cross-checks the closed-form derivatives above, so the
  derivative oracle rests on mpmath's own numerical differentiation, not on algebra
  done by hand.
* **Central finite differences of the spec's own float64 forward** at moderate
  inputs, which tie each VJP to its forward (the full Jacobian for softmax and
  log_softmax).
* **Literal conventions** from the module docstring: kink derivatives at exactly 0,
  limits at ±inf, IEEE nan rows of softmax, dtypes.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Callable

import ml_dtypes
import mpmath
import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from nnspec.spec import activations as A

mp = mpmath.mp

MAX_ULPS = 4
TINY = float(np.finfo(np.float64).tiny)  # smallest normal float64, 2.2250738585072014e-308
HUGE = float(np.finfo(np.float64).max)

ORACLE_SETTINGS = settings(max_examples=150, deadline=None)


pytestmark = pytest.mark.usefixtures("mpmath_50_digits")  # tests/conftest.py


# float64 rounding and ULP distance ---------------------------------------------------


def _ordinal(v: float) -> int:
    """Position of ``v`` on the float64 line: neighbours differ by 1, and +0 and -0 are both 0."""
    (bits,) = struct.unpack("<q", struct.pack("<d", v))
    return bits if bits >= 0 else -(bits & 0x7FFF_FFFF_FFFF_FFFF)


def to_float64(exact) -> float:
    """``exact`` (an mpf) rounded to the nearest float64, subnormals included, ±inf past the top."""
    exact = mpmath.mpf(exact)
    if not mpmath.isfinite(exact):
        return float(exact)
    if abs(exact) < TINY:  # the subnormal range has one fixed spacing, 2**-1074: round once onto it
        return math.ldexp(float(mpmath.nint(mpmath.ldexp(exact, 1074))), -1074)
    return float(exact)  # mpmath rounds to nearest at 53 bits; past the largest float it gives ±inf


def ulp_distance(actual, exact_mpf) -> float:
    """How many float64 steps ``actual`` lies from ``exact_mpf`` rounded to float64.

    0 means correctly rounded. nan matches only nan, an infinity only itself (inf otherwise).
    """
    actual = float(actual)
    expected = to_float64(exact_mpf)
    if math.isnan(actual) or math.isnan(expected):
        return 0.0 if math.isnan(actual) and math.isnan(expected) else math.inf
    if actual == expected:
        return 0.0
    if math.isinf(actual) or math.isinf(expected):
        return math.inf
    return float(abs(_ordinal(actual) - _ordinal(expected)))


def assert_ulps(actual, exact, *, floor=TINY, max_ulps=MAX_ULPS, what=""):
    """``actual`` is within ``max_ulps`` of ``exact`` rounded to float64, or within ``floor`` of it."""
    actual = float(actual)
    exact = mpmath.mpf(exact)
    distance = ulp_distance(actual, exact)
    if distance <= max_ulps:
        return
    if math.isfinite(actual) and mpmath.isfinite(exact) and abs(mpmath.mpf(actual) - exact) <= floor:
        return
    raise AssertionError(
        f"{what}: spec gives {actual!r}, exact value is {mpmath.nstr(exact, 20)} "
        f"(float64 {to_float64(exact)!r}): {distance:g} ULPs apart (allowed {max_ulps}, floor {floor:.3g})"
    )


def test_ulp_distance_helper():
    """The yardstick itself, on hand-checked cases: neighbours are 1 apart, ±0 coincide,
    rounding is to nearest (subnormals included)."""
    one = mpmath.mpf(1)
    assert ulp_distance(1.0, one) == 0
    assert ulp_distance(np.nextafter(1.0, 2.0), one) == 1
    assert ulp_distance(np.nextafter(1.0, 0.0), one) == 1
    assert ulp_distance(-0.0, mpmath.mpf(0)) == 0
    assert ulp_distance(5e-324, mpmath.mpf(0)) == 1
    assert ulp_distance(-5e-324, mpmath.mpf("5e-324")) == 2
    assert ulp_distance(0.1, mpmath.mpf("0.1")) == 0  # 0.1 is the float nearest one tenth
    assert ulp_distance(math.inf, mpmath.mpf(10) ** 400) == 0
    assert ulp_distance(HUGE, mpmath.mpf(10) ** 400) == math.inf
    assert ulp_distance(math.nan, mpmath.mpf("nan")) == 0
    assert ulp_distance(1.0, mpmath.mpf("nan")) == math.inf
    assert to_float64(mpmath.mpf(3) * mpmath.mpf(2) ** -1076) == 5e-324  # 0.75 of the spacing
    assert to_float64(mpmath.mpf(1) * mpmath.mpf(2) ** -1076) == 0.0  # 0.25 of the spacing


# mpmath oracles: the textbook formulas on the exact input ------------------------------

with mpmath.workdps(60):  # module-level mpfs are rounded when made: make them at 60 digits
    GELU_C = mpmath.mpf("0.044715")  # the textbook (decimal) coefficient of the tanh form


def _selu_constants():
    """λ01 and α01 from their closed forms (Klambauer et al. 2017, eq. 14), at 60 digits."""
    with mpmath.workdps(60):
        erfc, e, pi, sqrt = mpmath.erfc, mpmath.e, mpmath.pi, mpmath.sqrt
        r = erfc(1 / sqrt(2))
        alpha = -sqrt(2 / pi) / (r * sqrt(e) - 1)
        lam = (1 - r * sqrt(e)) * sqrt(2 * pi) / sqrt(
            2 * erfc(sqrt(2)) * e**2 + pi * r**2 * e - 2 * (2 + pi) * r * sqrt(e) + pi + 2
        )
        lam_alpha = lam * alpha
    return lam, alpha, lam_alpha


SELU_LAMBDA, SELU_ALPHA, SELU_LAMBDA_ALPHA = _selu_constants()


def _sigmoid(x):
    return 1 / (1 + mpmath.exp(-x))


def _dsigmoid(x):
    return _sigmoid(x) * _sigmoid(-x)  # σ(1 − σ), with 1 − σ(x) = σ(−x) exactly


def _gelu(x):
    if x < -1e100:
        # mpmath's erfc gives up on arguments this large. Mills' ratio bounds the exact value
        # 0 < Φ(x) < φ(x)/|x|, so |xΦ(x)| < φ(x) < 1e-(1e199): far below float64's last subnormal;
        # φ(x) stands in for it (the float64 rounding, -0, is the same).
        return -mpmath.npdf(x)
    return x * mpmath.ncdf(x)


def _dgelu(x):
    if x < -1e100:
        return x * mpmath.npdf(x)  # Φ(x) < φ(x)/|x| is dwarfed by xφ(x); both far below float64
    return mpmath.ncdf(x) + x * mpmath.npdf(x)


def _tanh_u(x):
    return mpmath.sqrt(2 / mpmath.pi) * (x + GELU_C * x**3)


def _one_plus_tanh(u):
    """1 + tanh(u), with enough extra bits that tanh(u) → −1 does not cancel it away."""
    with mpmath.extraprec(3 * int(min(abs(u), 4000)) + 20):
        return 1 + mpmath.tanh(u)


def _gelu_tanh(x):
    """x·(1 + tanh(√(2/π)(x + 0.044715x³)))/2, the textbook tanh form."""
    return x * _one_plus_tanh(_tanh_u(x)) / 2


def _dgelu_tanh(x):
    u = _tanh_u(x)
    du = mpmath.sqrt(2 / mpmath.pi) * (1 + 3 * GELU_C * x**2)
    return _one_plus_tanh(u) / 2 + x * mpmath.sech(u) ** 2 * du / 2


SELU_PARAMETERS = ((1.0, 1.0), (2.5, 0.75))  # α, λ off the defaults (ONNX's Selu takes both)


def _elu(alpha):
    a = mpmath.mpf(alpha)
    return lambda x: x if x > 0 else a * mpmath.expm1(x)


def _delu(alpha):
    a = mpmath.mpf(alpha)
    return lambda x: mpmath.mpf(1) if x > 0 else a * mpmath.exp(x)


def _selu(x):
    return SELU_LAMBDA * (x if x > 0 else SELU_ALPHA * mpmath.expm1(x))


def _dselu(x):
    return SELU_LAMBDA * (1 if x > 0 else SELU_ALPHA * mpmath.exp(x))


def _softsign(x):
    return x / (1 + abs(x))


def _dsoftsign(x):
    return 1 / (1 + abs(x)) ** 2


def _mish(x):
    return x * mpmath.tanh(mpmath.log1p(mpmath.exp(x)))


def _dmish(x):
    sp = mpmath.log1p(mpmath.exp(x))
    return mpmath.tanh(sp) + x * mpmath.sech(sp) ** 2 * _sigmoid(x)


def _relu6(x):
    return min(max(x, mpmath.mpf(0)), mpmath.mpf(6))


def _drelu6(x):
    return mpmath.mpf(1 if 0 < x < 6 else 0)


def _hard_sigmoid(x):
    return _relu6(x + 3) / 6


def _dhard_sigmoid(x):
    return mpmath.mpf(1) / 6 if -3 < x < 3 else mpmath.mpf(0)


def _hard_swish(x):
    return x * _hard_sigmoid(x)


def _dhard_swish(x):
    return (2 * x + 3) / 6 if -3 < x < 3 else mpmath.mpf(1 if x > 0 else 0)


def _celu(alpha):
    a = mpmath.mpf(alpha)
    return lambda x: x if x > 0 else a * mpmath.expm1(x / a)


def _dcelu(alpha):
    a = mpmath.mpf(alpha)
    return lambda x: mpmath.mpf(1) if x > 0 else mpmath.exp(x / a)


@dataclass(frozen=True)
class Op:
    """One elementwise spec op, its parameters, and its mpmath oracle f and f'."""

    name: str
    f: Callable
    vjp: Callable
    exact: Callable
    dexact: Callable
    params: dict = field(default_factory=dict)
    kinked: bool = False  # switches branch at 0: takes ``kink=`` and is not differentiable there
    curvature_jumps: bool = False  # f'' jumps at 0 (softsign, celu): a stencil across 0 is first-order accurate only
    kinks: tuple = ()  # two-sided saturation (relu6, hard_*): f' is a convention at these points, ``kink=`` names it

    def __str__(self):
        return self.name + "".join(f"[{k}={v}]" for k, v in self.params.items())


LEAKY_ALPHAS = (0.01, 0.2, 3.0)
ELU_ALPHAS = (0.1, 1.0, 2.5)

ELEMENTWISE = [
    Op("linear", A.linear, A.linear_vjp, lambda x: x, lambda x: mpmath.mpf(1)),
    Op("sigmoid", A.sigmoid, A.sigmoid_vjp, _sigmoid, _dsigmoid),
    Op("tanh", A.tanh, A.tanh_vjp, mpmath.tanh, lambda x: mpmath.sech(x) ** 2),
    Op(
        "relu",
        A.relu,
        A.relu_vjp,
        lambda x: x if x > 0 else mpmath.mpf(0),
        lambda x: mpmath.mpf(1 if x > 0 else 0),
        kinked=True,
    ),
    *(
        Op(
            "leaky_relu",
            A.leaky_relu,
            A.leaky_relu_vjp,
            (lambda a: lambda x: x if x > 0 else mpmath.mpf(a) * x)(alpha),
            (lambda a: lambda x: mpmath.mpf(1) if x > 0 else mpmath.mpf(a))(alpha),
            {"alpha": alpha},
            kinked=True,
        )
        for alpha in LEAKY_ALPHAS
    ),
    Op("swish", A.swish, A.swish_vjp, lambda x: x * _sigmoid(x), lambda x: _sigmoid(x) + x * _dsigmoid(x)),
    Op("gelu", A.gelu, A.gelu_vjp, _gelu, _dgelu, {"approximate": "none"}),
    Op("gelu", A.gelu, A.gelu_vjp, _gelu_tanh, _dgelu_tanh, {"approximate": "tanh"}),
    Op("softplus", A.softplus, A.softplus_vjp, lambda x: mpmath.log1p(mpmath.exp(x)), _sigmoid),
    *(Op("elu", A.elu, A.elu_vjp, _elu(a), _delu(a), {"alpha": a}, kinked=True) for a in ELU_ALPHAS),
    Op("selu", A.selu, A.selu_vjp, _selu, _dselu, kinked=True),
    *(Op("selu", A.selu, A.selu_vjp, (lambda a, s: lambda x: s * _elu(a)(x))(a, s),
         (lambda a, s: lambda x: s * _delu(a)(x))(a, s), {"alpha": a, "scale": s}, kinked=True)
      for a, s in SELU_PARAMETERS),
    Op("softsign", A.softsign, A.softsign_vjp, _softsign, _dsoftsign, curvature_jumps=True),
    Op("mish", A.mish, A.mish_vjp, _mish, _dmish),
    *(Op("celu", A.celu, A.celu_vjp, _celu(a), _dcelu(a), {"alpha": a}, curvature_jumps=True) for a in ELU_ALPHAS),
    Op("relu6", A.relu6, A.relu6_vjp, _relu6, _drelu6, kinks=(0.0, 6.0)),
    Op("hard_sigmoid", A.hard_sigmoid, A.hard_sigmoid_vjp, _hard_sigmoid, _dhard_sigmoid, kinks=(-3.0, 3.0)),
    Op("hard_swish", A.hard_swish, A.hard_swish_vjp, _hard_swish, _dhard_swish, kinks=(-3.0, 3.0)),
]
OP_IDS = [str(op) for op in ELEMENTWISE]
SMOOTH = [op for op in ELEMENTWISE if not op.kinked]
KINKED = [op for op in ELEMENTWISE if op.kinked]

# Inputs: the whole float64 line, the region where the curves bend, and named edges --------

EDGE_INPUTS = [
    0.0, -0.0, 5e-324, -5e-324, 1e-310, -1e-310, TINY, -TINY, 1e-300, -1e-300,
    1e-8, -1e-8, 0.5, -0.5, 1.0, -1.0, -1.5, 3.0, -3.0, 6.0, 20.0, -20.0, 37.5, -37.5,
    700.0, -700.0, 709.78, -709.78, 745.2, -745.2, 1e5, -1e5, 1e300, -1e300, HUGE, -HUGE,
]  # fmt: skip

FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),  # every finite float64, subnormals included
    st.floats(min_value=-50.0, max_value=50.0),
    st.floats(min_value=-800.0, max_value=800.0),
    st.sampled_from(EDGE_INPUTS),
)
COTANGENTS = st.one_of(
    st.floats(min_value=-1e3, max_value=1e3),
    st.floats(min_value=-1e300, max_value=1e300),  # near float64's top: test_vjp_huge_cotangent
)


def _with_edge_examples(**extra):
    def decorate(test):
        for v in EDGE_INPUTS:
            test = example(x=v, **extra)(test)
        return test

    return decorate


def _scalar(a) -> float:
    a = np.asarray(a)
    assert a.shape == () and a.dtype == np.float64, (a.shape, a.dtype)
    return float(a)


# 1. forward values against mpmath --------------------------------------------------------


# The module constants (SELU's λ and α, gelu's, √(2/π), ...) are pinned in test_spec_constants.py.


@pytest.mark.parametrize("op", ELEMENTWISE, ids=OP_IDS)
@ORACLE_SETTINGS
@_with_edge_examples()
@given(x=FLOATS)
def test_forward_matches_mpmath(op, x):
    """mpmath (50 digits) of the textbook formula at the exact input: the spec is within 4 ULPs.

    Floor: an absolute error up to the smallest normal float64 passes (the subnormal range,
    where float64 has fewer than 53 bits to give).
    """
    actual = _scalar(op.f(x, **op.params))
    assert_ulps(actual, op.exact(mpmath.mpf(x)), what=f"{op}({x!r})")


# 2a. derivatives against mpmath ----------------------------------------------------------


@pytest.mark.parametrize("op", ELEMENTWISE, ids=OP_IDS)
@ORACLE_SETTINGS
@_with_edge_examples(g=-1.5)
@given(x=FLOATS, g=COTANGENTS)
def test_vjp_matches_mpmath_derivative(op, x, g):
    """mpmath closed-form f'(x) times the cotangent: the spec's VJP is within 4 ULPs of it.

    Floor: ULP(|cotangent|) (and the smallest normal). Kinked ops are checked off 0 here;
    their value at 0 is a convention, tested below.
    """
    _check_vjp_against_mpmath(op, x, g)


@pytest.mark.parametrize("op", ELEMENTWISE, ids=OP_IDS)
@settings(max_examples=50, deadline=None)
@example(x=-1.0, g=1.5e308)
@given(
    x=FLOATS,
    g=st.one_of(st.floats(min_value=1e307, max_value=HUGE), st.floats(min_value=-HUGE, max_value=-1e307)),
)
def test_vjp_huge_cotangent(op, x, g):
    """The same mpmath oracle with cotangents near float64's largest value: where the exact
    g·f'(x) is finite, the VJP must be too (no intermediate product may overflow)."""
    _check_vjp_against_mpmath(op, x, g)


def _check_vjp_against_mpmath(op, x, g):
    if op.kinked:
        assume(x != 0)
    assume(x not in op.kinks)
    actual = _scalar(op.vjp(x, g, **op.params))
    exact = mpmath.mpf(g) * op.dexact(mpmath.mpf(x))
    assert_ulps(actual, exact, floor=max(math.ulp(g), TINY), what=f"{op}_vjp({x!r}, {g!r})")


@pytest.mark.parametrize("op", ELEMENTWISE, ids=OP_IDS)
@settings(max_examples=30, deadline=None)
@given(x=st.floats(min_value=-30.0, max_value=30.0))
def test_closed_form_derivatives_match_mpmath_diff(op, x):
    """mpmath.diff of the mpmath forward agrees with the closed-form f' used as oracle above.

    This keeps the derivative oracle honest: it rests on mpmath's numerical differentiation
    at 50 digits, not only on the hand-derived formulas.
    """
    if op.kinked:
        assume(abs(x) > 1e-3)
    assume(all(abs(x - k) > 1e-3 for k in op.kinks))
    xm = mpmath.mpf(x)
    numeric = mpmath.diff(op.exact, xm)
    closed = op.dexact(xm)
    assert abs(numeric - closed) <= mpmath.mpf(10) ** -35 * max(1, abs(closed)), (x, numeric, closed)


# 2b. derivatives against finite differences of the spec's own forward -------------------


def _central_difference(f, x: float) -> tuple[float, float]:
    """(f(x+h) − f(x−h)) / ((x+h) − (x−h)) in float64, h ≈ ∛eps·max(1, |x|); returns (slope, h)."""
    h = 2.0**-17 * max(1.0, abs(x))
    xp, xm = x + h, x - h
    return (float(f(xp)) - float(f(xm))) / (xp - xm), h


@pytest.mark.parametrize("op", ELEMENTWISE, ids=OP_IDS)
@ORACLE_SETTINGS
@given(x=st.floats(min_value=-20.0, max_value=20.0), g=st.floats(min_value=-10.0, max_value=10.0))
def test_vjp_matches_central_differences(op, x, g):
    """Central differences of the spec's own float64 forward: VJP = g·slope to 1e-6 relative.

    Absolute slack 1e-9·|g| covers the float64 rounding of the difference quotient.
    """
    slope, h = _central_difference(lambda t: op.f(t, **op.params), x)
    if op.kinked or op.curvature_jumps:
        assume(abs(x) > 4 * h)  # both stencil points on one branch
    assume(all(abs(x - k) > 4 * h for k in op.kinks))
    actual = _scalar(op.vjp(x, g, **op.params))
    expected = g * slope
    assert abs(actual - expected) <= 1e-6 * abs(expected) + 1e-9 * abs(g), (x, g, actual, expected)


# softmax / log_softmax -------------------------------------------------------------------


def _softmax_exact(xs):
    """e^{x_i} / Σ_j e^{x_j} in mpmath (no shift needed: mpmath does not overflow)."""
    es = [mpmath.exp(v) for v in xs]
    total = mpmath.fsum(es)
    return [e / total for e in es]


def _log_softmax_exact(xs):
    """x_i − log Σ_j e^{x_j}, written −log1p(Σ_{j≠i} e^{x_j−x_i}) so the largest entry keeps its digits."""
    return [
        -mpmath.log1p(mpmath.fsum(mpmath.exp(xj - xi) for j, xj in enumerate(xs) if j != i))
        for i, xi in enumerate(xs)
    ]


def _softmax_vjp_exact(xs, gs):
    """Σ_i g_i ∂s_i/∂x_j with the exact Jacobian ∂s_i/∂x_j = s_i(δ_ij − s_j), in mpmath."""
    s = _softmax_exact(xs)
    n = len(xs)
    return [mpmath.fsum(gs[i] * s[i] * ((1 if i == j else 0) - s[j]) for i in range(n)) for j in range(n)]


def _log_softmax_vjp_exact(xs, gs):
    """Σ_i g_i ∂ls_i/∂x_j with the exact Jacobian ∂ls_i/∂x_j = δ_ij − s_j, in mpmath."""
    s = _softmax_exact(xs)
    n = len(xs)
    return [mpmath.fsum(gs[i] * ((1 if i == j else 0) - s[j]) for i in range(n)) for j in range(n)]


ROW_OPS = {
    "softmax": (A.softmax, A.softmax_vjp, _softmax_exact, _softmax_vjp_exact),
    "log_softmax": (A.log_softmax, A.log_softmax_vjp, _log_softmax_exact, _log_softmax_vjp_exact),
}

LOGITS = st.one_of(
    st.floats(min_value=-30.0, max_value=30.0),
    st.floats(min_value=-1e3, max_value=1e3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e-300, 700.0, -700.0, 1000.0, -1000.0, 1e5, -1e5, HUGE, -HUGE]),
)
ROWS = st.lists(LOGITS, min_size=1, max_size=5)


@pytest.mark.parametrize("name", ROW_OPS)
@ORACLE_SETTINGS
@example(row=[1000.0, 0.0, -1000.0])
@example(row=[0.0, 0.0])
@example(row=[3.0, 1.0, 0.2])
@example(row=[5.0, 0.0])
@example(row=[0.1, -30.3])
@example(row=[-1e5, 1e5])
@given(row=ROWS)
def test_row_ops_match_mpmath(name, row):
    """mpmath (50 digits) of e^{x_i}/Σe^{x_j} and x_i − log Σe^{x_j}: every entry within 4 ULPs."""
    f, _, exact_f, _ = ROW_OPS[name]
    actual = f(np.array(row))
    assert actual.dtype == np.float64 and actual.shape == (len(row),)
    exact = exact_f([mpmath.mpf(v) for v in row])
    for i in range(len(row)):
        assert_ulps(actual[i], exact[i], what=f"{name}({row!r})[{i}]")


@pytest.mark.parametrize("name", ROW_OPS)
@ORACLE_SETTINGS
@example(row=[1000.0, 0.0, -1000.0], cot=[1.0, -2.0, 0.5])
@example(row=[0.0, 0.0], cot=[1.0, 1.0])
@given(row=ROWS, cot=st.lists(st.floats(min_value=-1e3, max_value=1e3), min_size=5, max_size=5))
def test_row_vjps_match_mpmath_jacobian(name, row, cot):
    """mpmath's exact Jacobian transposed, applied to the cotangent: every entry within 4 ULPs.

    Floor: n·ULP(max|g|), the rounding of the one reduction over the row that the VJP needs.
    """
    _, vjp, _, exact_vjp = ROW_OPS[name]
    g = cot[: len(row)]
    actual = vjp(np.array(row), np.array(g))
    assert actual.dtype == np.float64
    exact = exact_vjp([mpmath.mpf(v) for v in row], [mpmath.mpf(v) for v in g])
    floor = max(len(row) * math.ulp(max(abs(v) for v in g)), TINY)
    for j in range(len(row)):
        assert_ulps(actual[j], exact[j], floor=floor, what=f"{name}_vjp({row!r}, {g!r})[{j}]")


@pytest.mark.parametrize("name", ROW_OPS)
@ORACLE_SETTINGS
@given(
    data=st.data(),
    shape=st.sampled_from([(1,), (2,), (3,), (5,), (2, 3), (3, 2), (1, 4)]),
)
def test_row_vjps_match_central_difference_jacobian(name, data, shape):
    """Full Jacobian of the spec's own float64 forward by central differences, transposed onto g.

    The VJP must equal Jᵀg to 1e-6 relative (plus the O(h²) truncation slack), along either axis of 2-D input.
    """
    f, vjp, _, _ = ROW_OPS[name]
    elems = st.floats(min_value=-20.0, max_value=20.0)
    size = math.prod(shape)
    x = np.array(data.draw(st.lists(elems, min_size=size, max_size=size))).reshape(shape)
    g = np.array(data.draw(st.lists(elems, min_size=x.size, max_size=x.size))).reshape(shape)
    axis = data.draw(st.sampled_from(range(-len(shape), len(shape))))
    jacobian = np.empty((x.size, x.size))  # jacobian[k, m] = ∂f_k / ∂x_m over the flattened array
    for m in range(x.size):
        h = 2.0**-17 * max(1.0, abs(x.flat[m]))
        xp, xm = x.copy(), x.copy()
        xp.flat[m] += h
        xm.flat[m] -= h
        jacobian[:, m] = (f(xp, axis=axis) - f(xm, axis=axis)).ravel() / (xp.flat[m] - xm.flat[m])
    expected = jacobian.T @ g.ravel()
    actual = vjp(x, g, axis=axis).ravel()
    # Central differences err by O(h^2)·|f'''|·Σ|g| with h ∝ max(1, |x|): the slack follows that bound.
    slack = 1e-10 * max(1.0, float(np.max(np.abs(x)))) ** 2 * max(1.0, float(np.sum(np.abs(g))))
    tol = 1e-6 * np.abs(expected) + slack
    assert np.all(np.abs(actual - expected) <= tol), (x, g, axis, actual, expected)


# 3. conventions --------------------------------------------------------------------------

KINK_CASES = [  # op, params, derivative of the left branch at 0, of the right branch
    (A.relu_vjp, {}, 0.0, 1.0),
    *((A.leaky_relu_vjp, {"alpha": a}, a, 1.0) for a in LEAKY_ALPHAS),
    *((A.elu_vjp, {"alpha": a}, a, 1.0) for a in ELU_ALPHAS),
    (A.selu_vjp, {}, SELU_LAMBDA_ALPHA, SELU_LAMBDA),
    *((A.selu_vjp, {"alpha": a, "scale": s}, mpmath.mpf(a) * s, s) for a, s in SELU_PARAMETERS),
]


@pytest.mark.parametrize("zero", [0.0, -0.0], ids=["+0", "-0"])
@pytest.mark.parametrize("vjp, params, left, right", KINK_CASES, ids=[str(op) for op in KINKED])
@pytest.mark.parametrize("g", [1.0, -2.5, 1e-300])
def test_kink_derivative_at_zero(vjp, params, left, right, zero, g):
    """Docstring convention: at exactly ±0, kink="left" (the default) takes the x ≤ 0 branch's
    slope and kink="right" the x > 0 branch's (λα and λ for selu, from mpmath's closed forms)."""
    assert_ulps(_scalar(vjp(zero, g, **params)), mpmath.mpf(g) * left, what="default")
    assert_ulps(_scalar(vjp(zero, g, **params, kink="left")), mpmath.mpf(g) * left, what="left")
    assert_ulps(_scalar(vjp(zero, g, **params, kink="right")), mpmath.mpf(g) * right, what="right")


@pytest.mark.parametrize("op", KINKED, ids=[str(op) for op in KINKED])
@settings(max_examples=100, deadline=None)
@given(x=FLOATS, g=COTANGENTS)
def test_kink_changes_nothing_off_zero(op, x, g):
    """Docstring: the kink parameter changes nothing but the derivative at 0 (bit-identical elsewhere)."""
    assume(x != 0)
    left = op.vjp(x, g, **op.params, kink="left")
    right = op.vjp(x, g, **op.params, kink="right")
    np.testing.assert_array_equal(left, right)


TWO_KINKS = [op for op in ELEMENTWISE if op.kinks]
# op -> kink="outer", "inner", "left", "right": f' at the (lower, upper) kink, from the mpmath pieces
TWO_KINK_CASES = {
    "relu6": {"outer": (0, 0), "inner": (1, 1), "left": (0, 1), "right": (1, 0)},
    "hard_sigmoid": {"outer": (0, 0), "inner": (mpmath.mpf(1) / 6,) * 2, "left": (0, mpmath.mpf(1) / 6),
                     "right": (mpmath.mpf(1) / 6, 0)},
    "hard_swish": {"outer": (0, 1), "inner": (mpmath.mpf(-1) / 2, mpmath.mpf(3) / 2), "left": (0, mpmath.mpf(3) / 2),
                   "right": (mpmath.mpf(-1) / 2, 1)},
}


@pytest.mark.parametrize("op", TWO_KINKS, ids=[str(op) for op in TWO_KINKS])
@pytest.mark.parametrize("kink", ["outer", "inner", "left", "right"])
@pytest.mark.parametrize("g", [1.0, -2.5])
def test_two_kink_derivatives(op, kink, g):
    """Docstring convention: at each kink of a two-sided saturation, kink="outer" (the default) takes the
    outer branch's slope, "inner" the middle one's, "left"/"right" the branch on that side."""
    low, high = op.kinks
    at_low, at_high = TWO_KINK_CASES[op.name][kink]
    assert_ulps(_scalar(op.vjp(low, g, kink=kink)), mpmath.mpf(g) * at_low, what=f"{kink} at {low}")
    assert_ulps(_scalar(op.vjp(high, g, kink=kink)), mpmath.mpf(g) * at_high, what=f"{kink} at {high}")
    if kink == "outer":
        assert _scalar(op.vjp(low, g)) == _scalar(op.vjp(low, g, kink="outer"))


@pytest.mark.parametrize("op", TWO_KINKS, ids=[str(op) for op in TWO_KINKS])
@settings(max_examples=100, deadline=None)
@given(x=FLOATS, g=COTANGENTS)
def test_two_kink_conventions_change_nothing_off_the_kinks(op, x, g):
    """The kink parameter changes nothing but the derivative at the two kinks (bit-identical elsewhere)."""
    assume(x not in op.kinks)
    outer = op.vjp(x, g, kink="outer")
    for kink in ("inner", "left", "right"):
        np.testing.assert_array_equal(op.vjp(x, g, kink=kink), outer)


@pytest.mark.parametrize("op", KINKED, ids=[str(op) for op in KINKED])
def test_kinked_forward_at_zero(op):
    """At ±0 every kinked forward is 0 (both branches meet there)."""
    for zero in (0.0, -0.0):
        assert _scalar(op.f(zero, **op.params)) == 0.0


INF = mpmath.inf
LIMITS = {  # op id: (f(−inf), f'(−inf), f(+inf), f'(+inf)): textbook limits
    "linear": (-INF, 1, INF, 1),
    "sigmoid": (0, 0, 1, 0),
    "tanh": (-1, 0, 1, 0),
    "relu": (0, 0, INF, 1),
    **{f"leaky_relu[alpha={a}]": (-INF, mpmath.mpf(a), INF, 1) for a in LEAKY_ALPHAS},
    "swish": (0, 0, INF, 1),
    "gelu[approximate=none]": (0, 0, INF, 1),
    "gelu[approximate=tanh]": (0, 0, INF, 1),
    "softplus": (0, 0, INF, 1),
    **{f"elu[alpha={a}]": (-mpmath.mpf(a), 0, INF, 1) for a in ELU_ALPHAS},
    "selu": (-SELU_LAMBDA_ALPHA, 0, INF, SELU_LAMBDA),
    **{f"selu[alpha={a}][scale={s}]": (-mpmath.mpf(a) * s, 0, INF, s) for a, s in SELU_PARAMETERS},
    "softsign": (-1, 0, 1, 0),
    "mish": (0, 0, INF, 1),
    "relu6": (0, 0, 6, 0),
    "hard_sigmoid": (0, 0, 1, 0),
    "hard_swish": (0, 0, INF, 1),
    **{f"celu[alpha={a}]": (-mpmath.mpf(a), 0, INF, 1) for a in ELU_ALPHAS},
}


@pytest.mark.parametrize("op", ELEMENTWISE, ids=OP_IDS)
def test_limits_at_infinity(op):
    """Docstring: limits are taken at ±inf (swish(−inf) = gelu(−inf) = 0, not inf·0 = nan),
    for values and derivatives, to 4 ULPs of the exact limit."""
    f_lo, d_lo, f_hi, d_hi = (mpmath.mpf(v) for v in LIMITS[str(op)])
    g = 3.0
    assert_ulps(_scalar(op.f(-math.inf, **op.params)), f_lo, what="f(-inf)")
    assert_ulps(_scalar(op.f(math.inf, **op.params)), f_hi, what="f(+inf)")
    assert_ulps(_scalar(op.vjp(-math.inf, g, **op.params)), g * d_lo, what="vjp(-inf)")
    assert_ulps(_scalar(op.vjp(math.inf, g, **op.params)), g * d_hi, what="vjp(+inf)")


def test_swish_and_gelu_are_zero_at_minus_infinity():
    """The two limits the docstring names, stated literally."""
    assert A.swish(-np.inf) == 0
    assert A.gelu(-np.inf) == 0
    assert A.gelu(-np.inf, approximate="tanh") == 0


@pytest.mark.parametrize("op", ELEMENTWISE, ids=OP_IDS)
def test_nan_in_nan_out(op):
    """Docstring: values follow IEEE arithmetic, nan in, nan out (forward)."""
    assert math.isnan(_scalar(op.f(math.nan, **op.params)))


@pytest.mark.parametrize("name", ROW_OPS)
def test_softmax_rows_with_inf_or_nan_are_nan(name):
    """Docstring: a row holding +inf or nan is nan (IEEE: inf − inf); other rows are untouched,
    and −inf entries are ordinary (softmax 0, log_softmax −inf)."""
    f = ROW_OPS[name][0]
    x = np.array([[1.0, np.inf, 0.0], [1.0, np.nan, 0.0], [0.0, -np.inf, 0.0], [0.0, 1.0, 2.0]])
    y = f(x)
    assert np.all(np.isnan(y[0])) and np.all(np.isnan(y[1]))
    assert not np.any(np.isnan(y[2:]))
    np.testing.assert_array_equal(y[3], f(x[3]))
    if name == "softmax":
        np.testing.assert_array_equal(y[2], [0.5, 0.0, 0.5])
    else:
        np.testing.assert_array_equal(y[2], [-math.log(2), -np.inf, -math.log(2)])


@ORACLE_SETTINGS
@example(row=[1000.0, 0.0, -1000.0])
@example(row=[1e5, 1e5, -1e5])
@example(row=[HUGE, -HUGE, 0.0])
@given(row=st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=8))
def test_softmax_rows_sum_to_one(row):
    """Exact sum (math.fsum) of each softmax row is 1 within 2 ULPs, large logits included."""
    s = A.softmax(np.array(row))
    assert ulp_distance(math.fsum(s), mpmath.mpf(1)) <= 2, (row, s)


@pytest.mark.parametrize("bad", ["erf", "TANH", "", None, "approximate"])
def test_gelu_rejects_unknown_approximation(bad):
    """gelu and gelu_vjp accept only approximate='none' or 'tanh'."""
    with pytest.raises(ValueError):
        A.gelu(np.array([1.0]), approximate=bad)
    with pytest.raises(ValueError):
        A.gelu_vjp(np.array([1.0]), np.array([1.0]), approximate=bad)


ALL_FUNCTIONS = [
    *((op.f, op.vjp, op.params) for op in ELEMENTWISE),
    (A.softmax, A.softmax_vjp, {}),
    (A.log_softmax, A.log_softmax_vjp, {}),
]
ALL_IDS = [*OP_IDS, "softmax", "log_softmax"]
LOW_PRECISION = [np.float16, np.float32, ml_dtypes.bfloat16]


@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("f, vjp, params", ALL_FUNCTIONS, ids=ALL_IDS)
def test_spec_computes_in_float64_whatever_the_input(f, vjp, params, dtype):
    """The @float64 promise: float16/float32/bfloat16 in, float64 out, and the very value of
    the formula on the input first cast to float64."""
    x = np.array([-3.0, -0.5, 0.0, 0.25, 2.0], dtype=dtype)
    g = np.array([1.0, -2.0, 0.5, 3.0, -1.0], dtype=dtype)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    y, dy = f(x, **params), vjp(x, g, **params)
    assert y.dtype == np.float64 and dy.dtype == np.float64
    np.testing.assert_array_equal(y, f(x64, **params))
    np.testing.assert_array_equal(dy, vjp(x64, g64, **params))


# 4. the NumPy baseline's premise ---------------------------------------------------------


@pytest.mark.parametrize("f, vjp, params", ALL_FUNCTIONS, ids=ALL_IDS)
def test_wrapped_formula_keeps_float32(f, vjp, params):
    """``f.__wrapped__`` is the bare formula: on float32 input it computes (and returns) float32,
    which is what lets the NumPy baseline run the spec's own lines in the input's dtype."""
    x = np.array([-3.0, -0.5, 0.0, 0.25, 2.0], dtype=np.float32)
    g = np.array([1.0, -2.0, 0.5, 3.0, -1.0], dtype=np.float32)
    assert f.__wrapped__(x, **params).dtype == np.float32
    assert vjp.__wrapped__(x, g, **params).dtype == np.float32


# prelu: a slope per channel ------------------------------------------------------------------


@ORACLE_SETTINGS
@given(data=st.data(), shape=st.sampled_from([(1, 1), (2, 3), (2, 3, 4), (2, 2, 3, 3)]), shared=st.booleans())
def test_prelu_is_leaky_relu_with_each_channels_slope(data, shape, shared):
    """Element by element: x if x > 0 else a_c·x, c the element's index on axis 1 (one a for all when shared);
    the product of two float64 is correctly rounded, so the float64 product is the exact reference rounded."""
    values = st.floats(-1e3, 1e3)
    x = np.array(data.draw(st.lists(values, min_size=math.prod(shape), max_size=math.prod(shape)))).reshape(shape)
    weight = np.array(data.draw(st.lists(st.floats(0, 1), min_size=1 if shared else shape[1],
                                         max_size=1 if shared else shape[1])))
    y = A.prelu(x, weight)
    for index in np.ndindex(shape):
        a = weight[0 if shared else index[1]]
        exact = mpmath.mpf(x[index]) if x[index] > 0 else mpmath.mpf(a) * mpmath.mpf(x[index])
        assert_ulps(float(y[index]), exact, what=f"prelu at {index}")


@ORACLE_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), shape=st.sampled_from([(2, 3), (2, 3, 4), (3, 2, 2, 2)]), shared=st.booleans())
def test_prelu_vjp_matches_central_differences(seed, shape, shared):
    """∂x and each ∂a_c against central differences of the spec's own forward (prelu is linear in a, so the
    quotient is exact up to the rounding of the sums); inputs kept off the kink at 0."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.1, 3, shape) * rng.choice([-1, 1], shape)
    weight = rng.uniform(0, 1, 1 if shared else shape[1])
    g = rng.standard_normal(shape)
    dx, dw = A.prelu_vjp(x, weight, g)
    h = 1e-6
    for c in range(weight.size):
        up, down = weight.copy(), weight.copy()
        up[c] += h
        down[c] -= h
        slope = np.sum(g * (A.prelu(x, up) - A.prelu(x, down))) / (up[c] - down[c])
        assert abs(dw[c] - slope) <= 1e-8 * max(1.0, float(np.sum(np.abs(g * x)))), (c, dw[c], slope)
    for index in [(0,) * len(shape), tuple(s - 1 for s in shape)]:
        step = np.zeros(shape)
        step[index] = h
        slope = np.sum(g * (A.prelu(x + step, weight) - A.prelu(x - step, weight))) / (2 * h)
        assert abs(dx[index] - slope) <= 1e-8 * max(1.0, abs(slope)), (index, dx[index], slope)


@pytest.mark.parametrize("kink, expected", [("left", 0.25 * -2.0), ("right", -2.0), ("zero", 0.0)])
def test_prelu_kink_at_zero(kink, expected):
    """Docstring convention at x = ±0: a (left, the default), 1 (right), 0 (zero: relu(x) − a·relu(−x)); the
    slope's gradient takes nothing from x = 0 under any of them."""
    x, weight, g = np.array([[0.0, -0.0]]), np.array([0.25]), np.array([[-2.0, -2.0]])
    dx, dw = A.prelu_vjp(x, weight, g, kink=kink)
    np.testing.assert_array_equal(dx, [[expected, expected]])
    np.testing.assert_array_equal(dw, [0.0])
    if kink == "left":
        np.testing.assert_array_equal(A.prelu_vjp(x, weight, g)[0], dx)
