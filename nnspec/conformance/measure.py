"""Error measures: how far a backend's output is from the float64 spec, in ULPs of the output dtype.

For a reference value r (float64, from the spec) and a backend's value a (in dtype d):

    err_ulp = |a − r| / ULP_d(r),   ULP_d(r) = max(spacing_d(max(|r|, floor)), tiny_d)

spacing_d(v) is the gap between consecutive d-numbers at v's binade and tiny_d the
smallest normal number of d. Measuring against the unrounded r means a correctly
rounded result scores at most 0.5 ULP.

The floor near zero. Never finer than tiny_d, so flushing a subnormal result to zero
(flush-to-zero arithmetic, recorded in each run's numerics) costs at most one ULP
rather than millions. An op may raise its floor where its formula is computed to
absolute rather than relative accuracy (log_softmax near 0: a floor of 1), and the
gradient check floors each element at its cotangent's magnitude, so a backward
formula is judged in ULPs of max(|vjp|, |cotangent|) (the usual mixed
absolute/relative criterion; σ' = σ(1−σ) loses relative accuracy where σ' is tiny,
harmlessly for training).

Non-finite values: nan where the spec is nan and the same infinity where the spec is
(or rounds to) that infinity score 0; anything else non-finite scores inf.
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np


def finfo(dtype):
    return ml_dtypes.finfo(dtype) if np.dtype(dtype) == ml_dtypes.bfloat16 else np.finfo(dtype)


def spacing(magnitude: np.ndarray, dtype) -> np.ndarray:
    """Gap between consecutive ``dtype`` numbers at each (float64, finite, >= 0) magnitude, normal range."""
    info = finfo(dtype)
    digits = info.nmant + 1
    clamped = np.clip(magnitude, float(info.tiny), float(info.max))
    _, exponent = np.frexp(clamped)  # clamped = m·2^exponent, m in [0.5, 1)
    return np.ldexp(1.0, exponent - digits)


@dataclass
class Verdict:
    """One example judged on one check."""

    ok: bool
    status: str = "pass"  # pass | fail | error
    kind: str = ""  # what went wrong: raised | shape | dtype | nonfinite | ulp | property
    max_ulp: float = 0.0
    max_abs: float = 0.0
    max_rel: float = 0.0
    message: str = ""


def compare(actual, reference: np.ndarray, dtype, max_ulp, floor=None) -> Verdict:
    """Judges a backend's ``actual`` array (expected dtype ``dtype``) against the float64 ``reference``.

    ``max_ulp`` is the tolerance: one number, or one per element where an op's error
    bound grows with its input (softmax's rounding of x − max)."""
    dtype = np.dtype(dtype)
    actual = np.asarray(actual)
    if actual.shape != reference.shape:
        return Verdict(False, "fail", "shape", np.inf, np.inf, np.inf, f"shape {actual.shape}, spec has {reference.shape}")
    if actual.dtype != dtype:
        return Verdict(False, "fail", "dtype", np.inf, np.inf, np.inf, f"dtype {actual.dtype}, expected {dtype}")
    if actual.size == 0:
        return Verdict(True)
    a = actual.astype(np.float64)
    r = reference
    with np.errstate(all="ignore"):
        rounded = r.astype(dtype).astype(np.float64)  # overflows to inf exactly where d would
        delta = np.abs(a - r)
        magnitude = np.abs(r) if floor is None else np.maximum(np.abs(r), floor)
        ulp = np.maximum(spacing(magnitude, dtype), float(finfo(dtype).tiny))
        err = delta / ulp
        rel = np.where(r != 0, delta / np.abs(r), np.where(delta == 0, 0.0, np.inf))
    both_nan = np.isnan(a) & np.isnan(r)
    same_inf = np.isinf(rounded) & (a == rounded)
    exact = both_nan | same_inf
    err = np.where(exact, 0.0, np.where(np.isnan(err), np.inf, err))
    delta = np.where(exact, 0.0, np.where(np.isnan(delta), np.inf, delta))
    rel = np.where(exact, 0.0, np.where(np.isnan(rel), np.inf, rel))
    bound = np.broadcast_to(np.asarray(max_ulp, dtype=np.float64), err.shape)
    ok = bool(np.all(err <= bound))
    worst = int(np.argmax(err if ok else err - bound))
    verdict = Verdict(
        ok=ok,
        status="pass",
        max_ulp=float(err.max()),
        max_abs=float(delta.max()),
        max_rel=float(rel.max()),
    )
    if not verdict.ok:
        verdict.status = "fail"
        index = tuple(int(i) for i in np.unravel_index(worst, err.shape)) if err.shape else ()
        got, want = float(a.flat[worst]), float(r.flat[worst])
        if np.isfinite(got) and np.isfinite(want):
            verdict.kind, what = "ulp", f"{err.flat[worst]:.4g} ULP (bound {bound.flat[worst]:.4g})"
        else:
            verdict.kind, what = "nonfinite", ("nan where the spec is finite" if np.isnan(got) else "non-finite mismatch")
        verdict.message = f"{what} at index {index}: got {got!r}, spec {want!r}"
    return verdict
