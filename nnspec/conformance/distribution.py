"""The ``distribution`` check: a random op's seeded samples tested against the spec's law, and the
deterministic part of the op checked exactly.

A row with this check states a ``Distribution`` (its ``distribution`` field): which statistical test
runs on each example, and at which per-test false-alarm rate ``alpha``. Examples come from the one
search runner (``search.run``): hypothesis draws the seed with the shape and parameters, so a run is
reproducible, and a failing example is shrunk like any other (charged ``SHRINK_CALLS`` calls).

* ``dropout``: per example four calls on one x with no zero: the drawn rate p in training, inference
  (training=False: y = x bit for bit), rate 0 (y = x) and rate 1 (y = 0; an error is a finding, recorded
  as a failure of kind ``rate_one``, never a crash). At p: the mask is recovered from the output (its
  nonzeros), the kept values are compared with the spec's x/(1 − p) on that mask (``KEPT`` ULPs), and
  the kept count is tested against Binomial(n, 1 − p) (a two-sided exact binomial test, scipy's
  ``binomtest``).
* ``iid`` (the initializers): the sample's shape and dtype, its support (a uniform's bound, a truncated
  normal's 2σ', rounded to the dtype), and one Kolmogorov–Smirnov test (scipy's ``kstest``) of the
  flattened sample against the law's CDF. A row's variants (``normal="truncated"``) are laws too: the
  variant matcher re-tests the samples seen under each.
* ``orthogonal``: ``DRAWS`` draws at consecutive seeds; every draw's rows (or columns) orthonormal times
  gain (in ULPs of gain², deterministic), and entry [0, 0] over the draws, independent, against its
  Haar marginal (one Kolmogorov–Smirnov test): without R's diagonal signs taken out of a QR, that entry
  has one sign.
* ``layer``: a freshly built layer's weights (the framework's defaults) fitted to every candidate law
  of the spec (``spec.random.layer_candidates``) and to orthonormality; the record says which fit, and
  the float32 case writes one ``default`` entry per weight (the defaults table's row: the measured law
  beside the spec's stated one). Read by measurement, never typed in.

False alarms. Every test rejects at ``ALPHA``. A conforming backend's case fails on its first false
alarm; before it, a case judges at most ``EXAMPLES[budget] + 8`` examples (the known ones), each with at
most ``TESTS_PER_EXAMPLE`` tests of a true law, so a run of R rows × D dtypes raises a false alarm with
probability ≤ R·D·(EXAMPLES["thorough"] + 8)·TESTS_PER_EXAMPLE·ALPHA (Bonferroni), which ``run_bound``
computes and a test keeps below ``RUN_FALSE_ALARMS`` = 1e-6.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from hypothesis import reject
from scipy import stats

from ..backends import Unsupported
from ..spec import random as R
from . import flight, search
from .catalogue import ALPHA
from .engine import Case, encode_example, make_record, unsupported_case
from .measure import Verdict, compare, finfo
from .search import Failures, failure_type
from .strategies import Example, np_dtype

RUN_FALSE_ALARMS = 1e-6  # the bound on a run's false alarms over all its cases
EXAMPLES = {"quick": 3, "standard": 12, "thorough": 60}
LAYER_EXAMPLES = {"quick": 1, "standard": 2, "thorough": 4}  # a layer row's fit: large samples, many candidates
SHRINK_CALLS = 4  # examples judged after the first failure: a failing sample needs no simplest form
TESTS_PER_EXAMPLE = 2  # tests of a true law per example at most (an LSTM's two weights)
DRAWS = 96  # orthogonal: independent draws per example
KNOWN = 8


def run_bound(rows, dtypes) -> float:
    """A run's false-alarm probability bound: tests of a true law before a case's first failure × ALPHA."""
    return sum(len(dtypes) * (EXAMPLES["thorough"] + KNOWN) * TESTS_PER_EXAMPLE * row.distribution.alpha
               for row in rows if row.distribution is not None)


# observing ------------------------------------------------------------------------------------------


def _call(backend, device, op, inputs, params):
    """The op's outputs as NumPy arrays (a tuple), or the exception it raised: eager, ``native_call``."""
    try:
        native = [backend.asarray(a, device) for a in inputs]
        value = backend.native_call(op, native, params)
        values = value if isinstance(value, (tuple, list)) else (value,)
        return tuple(np.asarray(backend.to_numpy(v)) for v in values)
    except Unsupported:
        raise
    except Exception as exc:  # the adapter's failure is a measurement, not a crash
        return exc


def observe(entry, backend, device, example: Example) -> dict:
    reason = backend.unsupported(entry.op, example.params.get("dtype") or str(example.inputs[0].dtype),
                                 example.params)
    if reason is not None:
        raise Unsupported(reason)
    flight.note(example)
    kind, p = entry.distribution.kind, example.params
    if kind == "dropout":
        x = example.inputs
        return {"drawn": _call(backend, device, entry.op, x, p),
                "inference": _call(backend, device, entry.op, x, {**p, "training": False}),
                "rate_zero": _call(backend, device, entry.op, x, {**p, "rate": 0.0}),
                "rate_one": _call(backend, device, entry.op, x, {**p, "rate": 1.0})}
    if kind == "orthogonal":
        draws = []
        for k in range(DRAWS):
            draws.append(_call(backend, device, entry.op, [], {**p, "seed": p["seed"] + k}))
            if isinstance(draws[-1], Exception):  # the first error says it
                break
        return {"draws": draws}
    return {"drawn": _call(backend, device, entry.op, [], p)}


# judging ---------------------------------------------------------------------------------------------


@dataclass
class Judged:
    verdict: Verdict
    p_values: list = field(default_factory=list)  # the statistical tests' p-values (of the default law)
    fits: dict = field(default_factory=dict)  # layer rows: weight -> the candidate laws that fit


def _bad(kind, message, status="fail") -> Verdict:
    return Verdict(False, status, kind, np.inf, np.inf, np.inf, message)


def _outputs(result, shapes, dtype, what) -> Verdict | None:
    if isinstance(result, Exception):
        return _bad("raised", f"{what}: raised {type(result).__name__}: {result}", "error")
    if len(result) != len(shapes) or any(r.shape != tuple(s) for r, s in zip(result, shapes)):
        return _bad("shape", f"{what}: shapes {[r.shape for r in result]}, spec {[tuple(s) for s in shapes]}")
    if any(r.dtype != dtype for r in result):
        return _bad("dtype", f"{what}: dtype {result[0].dtype}, expected {dtype}")
    return None


def _ks(sample, law) -> float:
    """The two-sided one-sample Kolmogorov–Smirnov p-value of ``sample`` against ``law``: scipy's kstest, or
    for a sample already sorted (``Sorted``, a layer's weight fitted to many laws) the same statistic D and
    its exact distribution (scipy's kstwo)."""
    if isinstance(sample, Sorted):
        cdf, n = law.cdf(sample.values), len(sample.values)
        d = max(float(np.max(np.arange(1, n + 1) / n - cdf)), float(np.max(cdf - np.arange(n) / n)))
        return float(stats.kstwo.sf(d, n))
    return float(stats.kstest(np.asarray(sample, dtype=np.float64).ravel(), law.cdf).pvalue)


@dataclass
class Sorted:
    values: np.ndarray


def _statistic(p_value, alpha, what) -> Verdict | None:
    if p_value < alpha:
        return _bad("statistic", f"{what}: p = {p_value:.3g} < α = {alpha:g}")
    return None


def judge_dropout(entry, dtype, example, observed, overrides) -> Judged:
    x = example.inputs[0]
    for what in ("inference", "rate_zero"):
        result = observed[what]
        if (bad := _outputs(result, [x.shape], dtype, what)) is not None:
            return Judged(bad)
        if not np.array_equal(result[0], x):
            return Judged(_bad("identity", f"{what}: not the identity ({np.sum(result[0] != x)} of {x.size} differ)"))
    rate_one = observed["rate_one"]
    if isinstance(rate_one, Exception):
        return Judged(_bad("rate_one", f"rate 1: raised {type(rate_one).__name__}: {rate_one}"))
    if (bad := _outputs(rate_one, [x.shape], dtype, "rate 1")) is not None:
        return Judged(bad)
    if np.any(rate_one[0] != 0):
        return Judged(_bad("rate_one", f"rate 1: {np.count_nonzero(rate_one[0])} of {x.size} elements kept"))
    result = observed["drawn"]
    if (bad := _outputs(result, [x.shape], dtype, f"rate {example.params['rate']}")) is not None:
        return Judged(bad)
    y, rate = result[0], example.params["rate"]
    mask = y != 0  # x has no zero and x/(1 − p) cannot underflow: the zeros are the dropped elements
    reference = R.dropout(x.astype(np.float64), example.params["seed"], rate=rate, training=True, mask=mask)
    verdict = compare(y, reference, dtype, entry.forward_tol.max_ulp)
    if not verdict.ok:
        verdict.message = f"kept values at rate {rate}: {verdict.message}"
        return Judged(verdict)
    law = entry.distribution.law(example)
    p_value = float(stats.binomtest(int(mask.sum()), mask.size, 1 - rate).pvalue)
    bad = _statistic(p_value, entry.distribution.alpha,
                     f"kept {int(mask.sum())} of {mask.size} at rate {rate} ({law.text})")
    return Judged(bad or verdict, [p_value])


def _support_violation(sample, law, dtype) -> Verdict | None:
    low, high = law.dist.support()
    if not np.isfinite(high):
        return None
    slack = float(finfo(dtype).eps) * max(abs(low), abs(high))
    outside = (sample < low - slack) | (sample > high + slack)
    if np.any(outside):
        worst = float(np.max(np.abs(sample)))
        return _bad("support", f"{np.sum(outside)} values outside [{low:.6g}, {high:.6g}] ({law.text}); "
                               f"max |w| = {worst:.6g}")
    return None


def judge_iid(entry, dtype, example, observed, overrides) -> Judged:
    result = observed["drawn"]
    if (bad := _outputs(result, [example.params["shape"]], dtype, "sample")) is not None:
        return Judged(bad)
    law = entry.distribution.law(example, **{k: v for k, v in overrides.items() if k in entry.variants})
    sample = result[0].astype(np.float64)
    if (bad := _support_violation(sample, law, dtype)) is not None:
        return Judged(bad)
    p_value = _ks(sample, law)
    bad = _statistic(p_value, entry.distribution.alpha, f"Kolmogorov–Smirnov against {law.text}, n = {sample.size}")
    return Judged(bad or Verdict(True), [p_value])


def orthonormality(q, gain, dtype) -> float:
    """max |QQᵀ − gain²I| (rows ≤ columns; else QᵀQ) in ULPs of gain² in ``dtype``."""
    q = np.asarray(q, dtype=np.float64)
    gram = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
    return float(np.max(np.abs(gram - gain**2 * np.eye(len(gram)))) / (gain**2 * float(finfo(dtype).eps)))


def judge_orthogonal(entry, dtype, example, observed, overrides) -> Judged:
    shape, gain = example.params["shape"], example.params["gain"]
    rows, cols = R.orthogonal_shape(shape)
    bound = entry.forward_tol.bound(example)
    worst, corner = 0.0, []
    for k, result in enumerate(observed["draws"]):
        if (bad := _outputs(result, [shape], dtype, f"draw {k}")) is not None:
            return Judged(bad)
        q = result[0].reshape(rows, cols)
        worst = max(worst, orthonormality(q, gain, dtype))
        corner.append(float(q[0, 0]))
    if worst > bound:
        return Judged(Verdict(False, "fail", "orthogonality", worst, np.inf, np.inf,
                              f"rows/columns not orthonormal·gain: {worst:.3g} ULP > {bound:g}"))
    law = entry.distribution.law(example)
    p_value = _ks(corner, law)
    bad = _statistic(p_value, entry.distribution.alpha, f"entry [0, 0] over {DRAWS} seeds against {law.text}")
    return Judged(bad or Verdict(True, max_ulp=worst), [p_value])


def layer_shapes(op, shape):
    return R.lstm_shapes(shape) if op == "lstm_init" else (tuple(shape),)


def judge_layer(entry, dtype, example, observed, overrides) -> Judged:
    shape = example.params["shape"]
    shapes = layer_shapes(entry.op, shape)
    result = observed["drawn"]
    if (bad := _outputs(result, shapes, dtype, "weights")) is not None:
        return Judged(bad)
    fits, p_values = {}, []
    for name, weight, weight_shape in zip(entry.distribution.weights, result, shapes):
        hidden = shape[0] if entry.op == "lstm_init" else None
        w = weight.astype(np.float64)
        ordered = Sorted(np.sort(w.ravel()))
        fit = [law_name for law_name, law in R.layer_candidates(weight_shape, hidden).items()
               if _support_violation(w, law, dtype) is None and _ks(ordered, law) >= entry.distribution.alpha]
        # a QR's rounding, then each entry rounded to the dtype: ~√n ULPs; an iid weight is off by ~1 (of 1)
        tolerance = 8 + 2 * np.sqrt(max(weight_shape))
        if orthonormality(w.reshape(weight_shape[0], -1), 1.0, dtype) <= tolerance:
            fit = ["orthogonal"]  # decisive: an iid sample is never orthonormal (whose entries look normal)
        elif len(weight_shape) == 2 and weight_shape[0] % 4 == 0 and all(
                orthonormality(block, 1.0, dtype) <= tolerance for block in np.split(w, 4)):
            fit = ["orthogonal per gate"]
        fits[name] = fit
    return Judged(Verdict(True), p_values, fits)


JUDGES = {"dropout": judge_dropout, "iid": judge_iid, "orthogonal": judge_orthogonal, "layer": judge_layer}


def judge(entry, dtype, example, observed, overrides=None) -> Judged:
    return JUDGES[entry.distribution.kind](entry, dtype, example, observed, overrides or {})


# the check ---------------------------------------------------------------------------------------------


def _default_entries(case, fits: dict) -> list[dict]:
    backend = case.backend
    entries = []
    for weight, fit in fits.items():
        spec_default = R.LAYER_DEFAULTS[case.entry.op][weight]
        native = " | ".join(fit) if fit else "none of the candidates"
        entries.append({
            "kind": "default", "op": case.entry.op, "parameter": weight, "spec_default": spec_default,
            "backend": backend.name, "backend_version": backend.version(),
            "native": f"a fresh {backend.name} layer's {weight}, measured (Kolmogorov–Smirnov at α = {ALPHA:g})",
            "native_default": native, "differs": spec_default not in fit,
        })
    return entries


def check_distribution(case: Case) -> list[dict]:
    """The ``distribution`` record of one (op, backend, device, dtype); a layer row's float32 case adds its
    ``default`` entries."""
    started = time.perf_counter()
    entry, dtype = case.entry, np.dtype(np_dtype(case.dtype))
    spec = entry.distribution
    rule = (f"{spec.reason}; each statistical test at α = {spec.alpha:g} (a run's false alarms ≤ "
            f"{RUN_FALSE_ALARMS:g} over all cases, Bonferroni); deterministic parts within the tolerance")
    if (reason := unsupported_case(case)) is not None:
        return [make_record(case, "distribution", "unsupported", message=reason, tolerance_rule=rule)]
    failures, seen, declined = Failures(), [], []
    state = {"examples": 0, "max_ulp": 0.0, "min_p": None, "fits": None, "fits_differ": set()}

    def body(example):
        try:
            observed = observe(entry, case.backend, case.device, example)
        except Unsupported as exc:
            declined.append(str(exc))
            reject()
        judged = judge(entry, dtype, example, observed)
        state["examples"] += 1
        if np.isfinite(judged.verdict.max_ulp):
            state["max_ulp"] = max(state["max_ulp"], judged.verdict.max_ulp)
        if judged.p_values:
            state["min_p"] = min([*judged.p_values] + ([state["min_p"]] if state["min_p"] is not None else []))
        if judged.fits:
            if state["fits"] is None:
                state["fits"] = judged.fits
            elif judged.fits != state["fits"]:
                state["fits_differ"].add(repr(judged.fits))
        if len(seen) < search.KEEP_EXAMPLES:
            seen.append((example, observed))
        if not judged.verdict.ok:
            failures.add(judged.verdict.kind, example, judged.verdict)
            raise failure_type("distribution", judged.verdict.kind)(judged.verdict.message)

    try:
        outcome = search.run(case, body, shrink_calls=SHRINK_CALLS,
                             max_examples=(LAYER_EXAMPLES if spec.kind == "layer" else EXAMPLES)[case.budget])
    except Unsupported as exc:
        return [make_record(case, "distribution", "unsupported", message=str(exc), tolerance_rule=rule)]
    kinds = list(failures.found)
    fields = {}
    if kinds:
        verdicts = [failures[k][1] for k in kinds]
        status = "error" if all(v.status == "error" for v in verdicts) else "fail"
        message = "; ".join(v.message for v in verdicts)
        fields["counterexamples"] = [dict(encode_example(failures[k][0]), message=failures[k][1].message)
                                     for k in kinds]
        if status == "fail" and entry.variants:
            fields["matches_variant"] = search.matching_variant(
                entry, sorted(seen, key=lambda pair: pair[0] is not failures[kinds[0]][0]),
                lambda example, observed, overrides: judge(entry, dtype, example, observed, overrides).verdict)
    elif state["examples"] == 0:
        status = "unsupported"
        message = "; ".join(outcome.declared or declined[:1]) or (outcome.error or "no example ran")
    elif outcome.error:
        status, message = "error", outcome.error
    else:
        status, message = "pass", ""
    if state["fits"] is not None:
        message = "; ".join(filter(None, [message, "fits: " + "; ".join(
            f"{w}: {' | '.join(f) or 'none of the candidates'}" for w, f in state["fits"].items())]))
        if state["fits_differ"]:
            message += f" (other examples fit differently: {sorted(state['fits_differ'])[0]})"
    if state["min_p"] is not None and status == "pass":
        message = f"smallest p-value {state['min_p']:.3g} (α = {spec.alpha:g})"
    record = make_record(case, "distribution", status, message=message, examples=state["examples"],
                         max_ulp=state["max_ulp"], tolerance_rule=rule, unsupported_examples=len(declined),
                         seconds=time.perf_counter() - started, **fields)
    extra = _default_entries(case, state["fits"]) if state["fits"] is not None and case.dtype == "float32" else []
    return [record, *extra]

