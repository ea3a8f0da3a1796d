"""The ``out_of_range`` check: inputs outside an op's domain (an embedding's indices outside [0, V)), where the
spec's default is an error and frameworks legitimately differ — they raise, wrap, clamp, fill.

A row with this check names ``outside``, the strategy of such examples. Each example is run through the backend
(forward only; an exception is what it did, never a crash of the run) and judged against the spec: where the
spec raises (``IndexError``: its default, ``out_of_range="error"``) the backend must raise too; where a variant
gives values, the backend's must be those values within the forward bound. A backend that fails the default
is matched against the row's variants (the one matcher, ``search.matching_variant``): the record is ``fail`` with
the behaviour named (``embedding(negative='wrap', out_of_range='fill_nan')``), or with none where what it
returns is no stated behaviour (garbage). The message says on how many examples the backend raised, and what.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from hypothesis import reject

from ..backends import Unsupported
from . import search
from .catalogue import describe
from .engine import Case, Observed, _accepted, as_tuple, compare_all, encode_example, make_record, observe
from .measure import Verdict
from .search import Failures, failure_type, matching_variant
from .strategies import Example, np_dtype

EXAMPLES = {"quick": 8, "standard": 30, "thorough": 150}
SHRINK_CALLS = 10  # the counterexample is one kind of index outside: it needs little shrinking
_OUTSIDE: dict = {}


def outside(entry):
    """The row with its out-of-domain examples as its strategy (one per row: the strategy is built once)."""
    if id(entry) not in _OUTSIDE:
        _OUTSIDE[id(entry)] = (entry, dataclasses.replace(entry, inputs=entry.outside))
    return _OUTSIDE[id(entry)][1]


def judge_outside(entry, dtype, example: Example, observed: Observed, overrides: dict | None = None) -> Verdict:
    """The backend's behaviour on one example against the spec's (or a variant's): raised where it raises, else
    its values. ValueError/ArithmeticError from a variant's formula mean it does not fit (the matcher's rule)."""
    params = {**example.params, **(overrides or {})}
    raised = observed.value if isinstance(observed.value, Exception) else None
    try:
        reference = as_tuple(entry.forward(*example.inputs, **_accepted(entry.forward, params)))
    except IndexError as exc:
        if raised is not None:
            return Verdict(True)
        return Verdict(False, "fail", "value", np.inf, np.inf, np.inf,
                       f"returned values where the spec raises ({exc})")
    if raised is not None:
        return Verdict(False, "fail", "raised", np.inf, np.inf, np.inf,
                       f"raised {type(raised).__name__}: {str(raised).strip()[:200]}")
    floor = entry.forward_tol.floor
    return compare_all(observed.value, reference, dtype, entry.forward_tol.bound(example),
                       floor(example) if callable(floor) else floor)


def _closest(entry, dtype, seen):
    """(variant, how many examples it fits, the first (example, verdict) it does not) of the variant that fits the
    most examples seen; None where none fits any."""
    best = None
    for overrides in search.variant_combinations(entry.variants):
        verdicts = [(example, judge_outside(entry, dtype, example, observed, overrides)) for example, observed in seen]
        fits = sum(verdict.ok for _, verdict in verdicts)
        if fits and (best is None or fits > best[1]):
            best = (describe(entry.op, overrides), fits, next(pair for pair in verdicts if not pair[1].ok))
    return best


def check_out_of_range(case: Case) -> list[dict]:
    """The ``out_of_range`` record of one (op, backend, device, dtype)."""
    from .engine import unsupported_case

    started = time.perf_counter()
    if (reason := unsupported_case(case)) is not None:
        return [make_record(case, "out_of_range", "unsupported", message=reason)]
    # the known counterexamples (--known) are the values check's: in range, they would ask nothing of this check
    case = dataclasses.replace(case, entry=outside(case.entry), seen=[], known=[])
    entry, dtype = case.entry, np.dtype(np_dtype(case.dtype))
    failures, seen, raised = Failures(), [], []

    def body(example):
        try:
            observed = observe(entry, case.backend, case.device, example)
        except Unsupported:
            reject()
        seen.append((example, observed))
        if isinstance(observed.value, Exception):
            raised.append(observed.value)
        verdict = judge_outside(entry, dtype, example, observed)
        if not verdict.ok:
            failures.add(verdict.kind, example, verdict)
            raise failure_type("out_of_range", verdict.kind)(verdict.message)

    try:
        outcome = search.run(case, body, max_examples=EXAMPLES[case.budget], shrink_calls=SHRINK_CALLS)
    except Unsupported as exc:
        return [make_record(case, "out_of_range", "unsupported", message=str(exc))]
    if not seen:
        reason = "; ".join(outcome.declared) or outcome.error or "no example ran"
        return [make_record(case, "out_of_range", "unsupported", message=reason)]
    did = (f"raised on {len(raised)} of {len(seen)} examples ({type(raised[0]).__name__}: "
           f"{str(raised[0]).strip().splitlines()[0][:160]})" if raised else f"returned values on all {len(seen)} examples")
    found = [failures[kind] for kind in ("value", "raised", "shape", "dtype", "nonfinite", "ulp") if kind in failures]
    variant = None
    if found:
        status = "fail"
        message = "; ".join([v.message for _, v in found] + [did])
        failing = {id(example) for example, _ in found}
        ordered = sorted(seen, key=lambda pair: id(pair[0]) not in failing)
        variant = matching_variant(entry, ordered, lambda ex, ob, over: judge_outside(entry, dtype, ex, ob, over))
        if variant is None:  # no stated behaviour: say which comes closest, and where it does not fit
            closest = _closest(entry, dtype, seen)
            if closest is not None:
                name, fits, (example, verdict) = closest
                message += f"; closest: {name} fits {fits} of {len(seen)} examples, not this one: {verdict.message}"
                found.append((example, verdict))
    elif outcome.error:
        status, message = "error", outcome.error
    else:
        status, message = "pass", did
    return [make_record(case, "out_of_range", status, message=message, examples=len(seen), matches_variant=variant,
                        counterexamples=[dict(encode_example(ex), message=v.message) for ex, v in found],
                        tolerance_rule="the spec's error where it raises; its values, within the forward bound, "
                                       "where a variant returns them",
                        seconds=time.perf_counter() - started)]
