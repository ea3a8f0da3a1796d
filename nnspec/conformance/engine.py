"""The engine: runs one catalogue row on one backend, device and dtype, and returns its records.

One hypothesis search per (op, backend, device, dtype) draws each example once and
judges every value check on it — ``forward`` (backend vs spec), ``gradient``
(backend autodiff VJP vs spec VJP, on examples whose inputs are finite) and
``property`` (laws on the backend's own output). ``hypothesis.target`` steers the
search towards each check's worst error, and the worst error seen is kept even when
the check passes. A failing check raises its own exception type, so hypothesis
shrinks each check's failure separately; each kind of failure records the simplest
failing example evaluated. What a case may spend is counted in adapter calls (see
``search``): generation stops where hypothesis finds no new kind of failure, and
shrinking where ``SHRINK_CALLS`` runs out, whatever the machine's load.

When forward or gradient fails against the spec default, each declared variant (and
``subnormals="flush"``) is judged on every example seen, the counterexamples first;
the first that fits all of them is recorded as ``matches_variant``.

An adapter that raises is an ``error`` (shrunk like a failure), a wrong shape or
dtype, a nan where the spec is finite or an error beyond tolerance is a ``fail``; a
dtype the backend cannot represent is ``unsupported``; an example the backend
raises ``Unsupported`` on (a parameter value it lacks) is skipped and counted in the
records' message, and a case where every example is, is ``unsupported``. Nothing an
adapter does stops the run.
"""

from __future__ import annotations

import inspect
import time
import zlib
from dataclasses import dataclass, field

import numpy as np
from hypothesis import reject

from ..backends import Backend, Unsupported
from . import flight, search
from .catalogue import OpEntry
from .measure import Verdict, compare, finfo
from .record import CheckRecord
from .search import KEEP_EXAMPLES, Failures, failure_type, matching_variant
from .strategies import Example, np_dtype

VALUE_CHECKS = ("forward", "gradient", "property")


SEVERITY = ("raised", "shape", "dtype", "nonfinite", "ulp", "property")  # the record shows the first


@dataclass
class Observed:
    """What the backend returned for one example: arrays, or the exception it raised."""

    value: object
    gradient: object = None  # None when the gradient was not asked for


@dataclass
class Worst:
    """Running worst error of one check over all examples judged."""

    examples: int = 0
    max_ulp: float = 0.0
    max_abs: float = 0.0
    max_rel: float = 0.0
    failures: Failures = field(default_factory=Failures)  # kind -> (example, verdict), the simplest seen

    def add(self, verdict: Verdict):
        self.examples += 1
        self.max_ulp = max(self.max_ulp, verdict.max_ulp)
        self.max_abs = max(self.max_abs, verdict.max_abs)
        self.max_rel = max(self.max_rel, verdict.max_rel)


def _accepted(fn, params: dict) -> dict:
    names = inspect.signature(fn).parameters
    return {k: v for k, v in params.items() if k in names}


def is_float(array) -> bool:
    return np.asarray(array).dtype.kind not in "iub"  # labels and masks are not measured


def as_tuple(value) -> tuple:
    """Outputs and gradients as tuples: one element per output (or per differentiated input)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def gradient_applies(example: Example) -> bool:
    """Derivatives are compared at finite inputs only: at ±inf they are limits, at nan nothing."""
    return example.cotangent is not None and all(
        np.all(np.isfinite(a.astype(np.float64))) for a in example.inputs if is_float(a)
    )


def observe(entry: OpEntry, backend: Backend, device: str, example: Example) -> Observed:
    """The backend's value and, where the gradient applies, its VJPs of every input in ``entry.wrt``,
    from one ``Backend.evaluate`` (one backward pass); an exception in either half is that half's result."""

    def to_numpy(result):
        if isinstance(result, Exception):
            return result
        try:
            return tuple(backend.to_numpy(t) for t in as_tuple(result))
        except Unsupported:
            raise
        except Exception as exc:  # the adapter's failure is a measurement, not a crash
            return exc

    reason = backend.unsupported(entry.op, example_dtype(example), example.params)
    if reason is not None:  # declared: never handed to the adapter (a known example, a repro)
        raise Unsupported(reason)
    flight.note(example)  # a worker that dies on this example names it
    native = [backend.asarray(a, device) for a in example.inputs]
    cotangent = backend.asarray(example.cotangent, device) if gradient_applies(example) else None
    value, gradients = backend.evaluate(entry.op, native, example.params, cotangent, entry.wrt)
    observed = Observed(value=to_numpy(value))
    if gradients is not None and _cotangent_fits(observed.value, example.cotangent):
        observed.gradient = to_numpy(gradients)
    return observed


def example_dtype(example: Example) -> str | None:
    """The dtype name of an example's (first floating) inputs: the dtype its case is of."""
    for array in example.inputs:
        if is_float(array):
            return str(np.asarray(array).dtype)
    return None


def unsupported_case(case: "Case") -> str | None:
    """Why the backend cannot run any example of ``case``, or None: an op it has no method for, one it
    declares unsupported as a whole (``Backend.UNSUPPORTED``; at the case's dtype), or a dtype or device
    ``asarray`` refuses. Decided before any example is drawn, so an unsupported case costs no search."""
    dtype = None if case.dtype == "-" else case.dtype
    reason = case.backend.unsupported(case.entry.op, dtype)
    if reason is not None or dtype is None:
        return reason
    try:
        case.backend.asarray(np.zeros(1, np_dtype(dtype)), case.device)
    except Unsupported as exc:
        return str(exc)
    return None


def _cotangent_fits(value, cotangent) -> bool:
    """No VJP of an output whose shape is not the spec's: the forward check already reports it
    (Keras' per-row losses for reduction="none"), and a cotangent shaped for the spec means nothing to it."""
    return isinstance(value, Exception) or np.shape(value[0]) == np.shape(cotangent)


def _raised(exc: Exception) -> Verdict:
    return Verdict(False, "error", "raised", np.inf, np.inf, np.inf, f"{type(exc).__name__}: {exc}".strip())


def flush_example(example: Example, observed: Observed, dtype) -> tuple[Example, Observed]:
    """The example's inputs and cotangent and the backend's results with subnormals read as zero."""
    return (Example([flush_subnormals(a, dtype) for a in example.inputs], flush_subnormals(example.cotangent, dtype),
                    example.params),
            Observed(flush_subnormals(observed.value, dtype), flush_subnormals(observed.gradient, dtype)))


def flush_subnormals(value, dtype):
    """Subnormals of ``dtype`` replaced by a zero of the same sign (what FTZ/DAZ arithmetic sees)."""
    if value is None or isinstance(value, Exception):
        return value
    if isinstance(value, tuple):
        return tuple(flush_subnormals(v, dtype) for v in value)
    array = np.asarray(value)
    if not is_float(array):
        return array
    wide = array.astype(np.float64)
    flushed = np.where(np.abs(wide) < float(finfo(dtype).tiny), np.copysign(0.0, wide), wide)
    return flushed.astype(array.dtype)


def compare_all(actual: tuple, reference: tuple, dtype, max_ulp: float, floor=None) -> Verdict:
    """``compare`` over every output; the first failing verdict (or the worst passing one) stands."""
    if len(actual) != len(reference):
        return Verdict(False, "fail", "shape", np.inf, np.inf, np.inf,
                       f"{len(actual)} outputs, the spec has {len(reference)}")
    verdicts = [compare(a, r, dtype, per_output(max_ulp, r, i), per_output(floor, r, i))
                for i, (a, r) in enumerate(zip(actual, reference))]
    failing = [v for v in verdicts if not v.ok]
    chosen = failing[0] if failing else max(verdicts, key=lambda v: v.max_ulp)
    chosen.max_ulp = max(v.max_ulp for v in verdicts)
    chosen.max_abs = max(v.max_abs for v in verdicts)
    chosen.max_rel = max(v.max_rel for v in verdicts)
    return chosen


def per_output(value, reference, index=0):
    """A per-element floor or bound for one output: broadcast to its shape, else its largest element.
    A tuple holds one such value per output (outputs, or gradients, of different shapes)."""
    if isinstance(value, tuple):
        value = value[index]
    if value is None or np.ndim(value) == 0:
        return value
    try:
        return np.broadcast_to(value, np.shape(reference))
    except ValueError:
        return float(np.max(value)) if np.size(value) else None


def judge(entry: OpEntry, dtype, example: Example, observed: Observed, overrides: dict | None = None) -> dict:
    """Verdicts of every value check for one example; ``overrides`` selects a variant of the spec.

    The variant ``subnormals="flush"`` belongs to every op: inputs, outputs and
    gradients on both sides with subnormals read as zero (flush-to-zero and
    denormals-are-zero arithmetic, which XLA and oneDNN switch on on CPUs).
    """
    overrides = dict(overrides or {})
    flush = overrides.pop("subnormals", "keep") == "flush"
    if flush:
        example, observed = flush_example(example, observed, dtype)
    params = {**example.params, **overrides}
    judged = Example(example.inputs, example.cotangent, params) if overrides else example  # a variant's own bounds
    verdicts = {}
    if isinstance(observed.value, Exception):
        verdicts["forward"] = _raised(observed.value)
    else:
        reference = as_tuple(entry.forward(*example.inputs, **_accepted(entry.forward, params)))
        reference = flush_subnormals(reference, dtype) if flush else reference
        floor = entry.forward_tol.floor  # a number, or example -> per-element floors
        verdicts["forward"] = compare_all(observed.value, reference, dtype, entry.forward_tol.bound(judged),
                                          floor(judged) if callable(floor) else floor)
        if entry.properties and verdicts["forward"].kind not in ("raised", "shape", "dtype"):
            verdicts["property"] = _properties(entry, example, observed.value[0])
    if observed.gradient is not None:
        if isinstance(observed.gradient, Exception):
            verdicts["gradient"] = _raised(observed.gradient)
        else:
            reference = as_tuple(entry.vjp(*example.inputs, example.cotangent, **_accepted(entry.vjp, params)))
            reference = flush_subnormals(reference, dtype) if flush else reference
            verdicts["gradient"] = compare_all(observed.gradient, reference, dtype, entry.gradient_tol.bound(judged),
                                               entry.gradient_floor(judged))
    return verdicts


def _properties(entry: OpEntry, example: Example, value: np.ndarray) -> Verdict:
    bound = entry.forward_tol.max_ulp
    worst = Verdict(True)
    for prop in entry.properties:
        violation = prop.violation(example.inputs[0], value, example.params)
        if violation > worst.max_ulp:
            worst = Verdict(violation <= bound, "pass" if violation <= bound else "fail", "property", violation)
            if not worst.ok:
                worst.message = f"{prop.name}: violated by {violation:.4g} ULP of 1 (bound {bound:g}; {prop.reason})"
    return worst


def derive_seed(run_seed: int, dtype: str, op: str) -> int:
    """Each case's own seed, so any one case re-runs alone exactly as it ran in the full run.

    It depends on the op and dtype, not on the backend or device: at one seed every backend
    draws the same examples, so their results compare example for example.
    """
    return (run_seed + zlib.crc32(f"{dtype}/{op}".encode())) % 2**32


@dataclass
class Case:
    """One (op, backend, device, dtype) to check."""

    entry: OpEntry
    backend: Backend
    device: str
    dtype: str
    budget: str = "quick"
    seed: int = 0
    seen: list = field(default_factory=list)
    known: list = field(default_factory=list)  # earlier runs' counterexamples, judged before the search (known.py)

    @property
    def case_seed(self) -> int:
        return derive_seed(self.seed, self.dtype, self.entry.op)


def check_values(case: Case) -> list[dict]:
    """The forward, gradient and property records of one case."""
    started = time.perf_counter()
    entry, dtype = case.entry, np.dtype(np_dtype(case.dtype))
    checks = ["forward", "gradient"] + (["property"] if entry.properties else [])
    if (reason := unsupported_case(case)) is not None:
        return [make_record(case, c, "unsupported", message=reason) for c in checks]

    worst = {c: Worst() for c in checks}
    declined = []  # messages of the examples the backend raised Unsupported on (a parameter value)

    def judge_one(example):
        try:
            observed = observe(entry, case.backend, case.device, example)
        except Unsupported as exc:  # this example only: the others are still measured
            declined.append(str(exc))
            reject()
        verdicts = judge(entry, dtype, example, observed)
        if len(case.seen) < KEEP_EXAMPLES:
            case.seen.append((example, observed))
        for check, verdict in verdicts.items():
            worst[check].add(verdict)
            if verdict.ok:  # climb towards the tolerance; past it, shrinking takes over
                search.steer(verdict.max_ulp, check)
        failing = [(check, v) for check, v in verdicts.items() if not v.ok]
        for check, verdict in failing:  # the first raises: hypothesis shrinks it; the others ride along
            worst[check].failures.add(verdict.kind, example, verdict)
        if failing:
            check, verdict = failing[0]
            raise failure_type(check, verdict.kind)(verdict.message)

    try:
        outcome = search.run(case, judge_one)
    except Unsupported as exc:
        return [make_record(case, c, "unsupported", message=str(exc)) for c in checks]
    if outcome.unsatisfiable:  # every example drawn was declined
        reason = outcome.declared[0] if outcome.declared else declined[0] if declined else ""
        return [make_record(case, c, "unsupported", message=reason) for c in checks]
    engine_error = outcome.error  # hypothesis itself gave up: said, and the other checks still measured

    seconds = time.perf_counter() - started
    records = []
    for check in checks:
        w = worst[check]
        failures = [w.failures[kind] for kind in SEVERITY if kind in w.failures]
        if engine_error and not failures:
            status, message = "error", engine_error
        elif failures:
            status = failures[0][1].status
            message = "; ".join(verdict.message for _, verdict in failures)
        elif w.examples == 0:
            status, message = "skip", "no example applied to this check"
        else:
            status, message = "pass", ""
        if declined:
            message = "; ".join(filter(None, [message, f"{len(declined)} examples unsupported: {declined[0]}"]))
        if outcome.declared:  # filtered out before the adapter saw them
            message = "; ".join(filter(None, [message, *(f"declared unsupported: {r}" for r in outcome.declared)]))
        variant = _matching_variant(case, check, dtype, worst) if status == "fail" and check != "property" else None
        records.append(
            make_record(
                case, check, status, message=message, examples=w.examples, max_ulp=w.max_ulp, max_abs=w.max_abs,
                max_rel=w.max_rel,
                counterexamples=[dict(encode_example(ex), message=v.message) for ex, v in failures],
                matches_variant=variant, seconds=seconds,
            )
        )
    return records


def _matching_variant(case: Case, check: str, dtype, worst: dict) -> str | None:
    """The first variant under which every example seen passes ``check`` (its counterexamples first)."""
    failing = {id(example) for kind in SEVERITY if kind in worst[check].failures
               for example in worst[check].failures[kind][:1]}
    seen = sorted(case.seen, key=lambda pair: id(pair[0]) not in failing)  # stable: otherwise in the order drawn

    def verdict(example, observed, overrides):
        if check == "gradient" and observed.gradient is None:
            return None
        return judge(case.entry, dtype, example, observed, overrides).get(check)

    return matching_variant(case.entry, seen, verdict)


def check_defaults(case: Case) -> list[dict]:
    """The ``defaults`` record of one op, then one ``default`` entry per spec parameter."""
    started = time.perf_counter()
    entry, backend = case.entry, case.backend
    if not entry.params:
        return [make_record(case, "defaults", "skip", message="the op has no parameters")]
    if (reason := backend.unsupported(entry.op)) is not None:  # no method, or declared unsupported as a whole
        return [make_record(case, "defaults", "unsupported", message=reason)]
    entries, differ, unsupported = [], [], []
    for parameter, spec_default in entry.defaults.items():
        try:
            native = backend.native_default(entry.op, parameter)
        except Unsupported as exc:
            unsupported.append(str(exc))
            continue
        except Exception as exc:
            return [make_record(case, "defaults", "error", message=f"{parameter}: {type(exc).__name__}: {exc}"),
                    *entries]
        differs = native != spec_default
        entries.append({
            "kind": "default", "op": entry.op, "parameter": parameter, "spec_default": spec_default,
            "backend": backend.name, "backend_version": backend.version(),
            "native": backend.native_name(entry.op, parameter), "native_default": native, "differs": differs,
        })
        if differs:
            differ.append(f"{parameter}: native {native!r}, spec {spec_default!r}")
    if not entries:
        status, message = "unsupported", "; ".join(unsupported)
    else:
        status, message = ("fail" if differ else "pass"), "; ".join(differ + unsupported)
    summary = make_record(case, "defaults", status, message=message, examples=len(entries),
                          seconds=time.perf_counter() - started)
    return [summary, *entries]


def record_id(backend: str, device: str, dtype: str, op: str, check: str) -> str:
    return f"{backend}/{device}/{dtype}/{op}/{check}"


def make_record(case: Case, check: str, status: str, **fields) -> dict:
    """One check's ``CheckRecord`` (as the dict a results line holds); ``fields`` fill in the measurement.

    The row's tolerance for the check is its default; an unknown field or a non-number error
    is an error here (``record.CheckRecord``)."""
    entry, backend = case.entry, case.backend
    tolerance = {"forward": entry.forward_tol, "gradient": entry.gradient_tol, "property": entry.forward_tol,
                 "trajectory": entry.forward_tol, "schedule": entry.forward_tol,
                 "running_stats": entry.forward_tol, "out_of_range": entry.forward_tol,
                 "distribution": entry.forward_tol,
                 "streaming": entry.forward_tol, "training": entry.forward_tol}.get(check)
    rid = record_id(backend.name, case.device, case.dtype, entry.op, check)
    record = CheckRecord(
        id=rid, op=entry.op, family=entry.family, backend=backend.name, backend_version=backend.version(),
        device=case.device, dtype=case.dtype, check=check, status=status,
        tolerance=tolerance.max_ulp if tolerance else None, tolerance_reason=tolerance.reason if tolerance else None,
        seed=case.case_seed if case.dtype != "-" else None, composed=backend.is_composed(entry.op), **fields,
    ).to_dict()
    if record["counterexamples"]:
        from .repro import repro_command  # imported here: repro.py imports this module

        record["repro"] = repro_command(rid)
    return record


# counterexamples as exact, JSON-safe data ----------------------------------------------


def encode_array(array: np.ndarray) -> dict:
    values = [float(v).hex() for v in np.asarray(array, dtype=np.float64).ravel()]
    return {"dtype": str(array.dtype), "shape": list(array.shape), "values": values}


def decode_array(data: dict) -> np.ndarray:
    values = np.array([float.fromhex(v) for v in data["values"]], dtype=np.float64).reshape(data["shape"])
    return values.astype(np_dtype(data["dtype"]))


def encode_example(example: Example) -> dict:
    return {
        "inputs": [encode_array(a) for a in example.inputs],
        "cotangent": None if example.cotangent is None else encode_array(example.cotangent),
        "params": example.params,
    }


def decode_example(data: dict) -> Example:
    """The example ``encode_example`` wrote. A parameter that is a sequence (class weights) was drawn as a
    tuple and written as a JSON list: it comes back a tuple, hashable as a drawn one (JAX keys its jits on it)."""
    cotangent = data.get("cotangent")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in (data.get("params") or {}).items()}
    return Example(
        inputs=[decode_array(a) for a in data["inputs"]],
        cotangent=None if cotangent is None else decode_array(cotangent),
        params=params,
    )


