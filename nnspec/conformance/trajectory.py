"""The ``trajectory`` and ``schedule`` checks: stateful ops judged over whole sequences of steps.

trajectory
    An optimizer row's example holds the initial parameters, one gradient and one learning
    rate per step (the inputs after the first: one row per step), and the other
    hyper-parameters. The backend steps its framework's own optimizer object through the
    gradients (``backend.<op>(params, grads, lr, **hyper)`` returns the parameters after
    each step, stacked) and each step is compared with the spec's trajectory: at step t in
    ULPs of the dtype at the largest magnitude the spec's parameters have taken so far
    (the scale of the running sum: an absolute error made while |w| was large stays
    absolute when w later passes near 0). A row whose step state is more than the
    parameters (dynamic_loss_scale: the parameters, then the loss scale) takes that
    magnitude from the spec's steps alone.

    The tolerance grows with the step: Σ_{s≤t} k·κₛ ULPs at step t, k the row's bound for
    one step, κₛ ≥ 1 the step's condition where the spec states one (``<op>_condition``;
    1 elsewhere). Why a sum: every step rounds a fixed number of operations, worth at most
    k·κₛ ULPs of the path's scale, and the parameter error of earlier steps is carried
    unchanged (w ← w − update), neither amplified nor damped; the moments are averages
    with weights below one, whose own rounding errors reach later updates only through a
    ratio or a square root (which the condition accounts for where they cancel). So the
    errors of t steps add up to at most their sum — k·t with no cancellation (random
    roundings make √t the typical growth: linear is the worst case, not slack).

    The record keeps the worst error after the first step (``first_step_ulp``) and its
    growth over the trajectory (``ulp_by_step`` and ``rel_by_step``: the worst ULP error
    and the worst error relative to the path's scale at each step, over every example).
    A failing trajectory is cut to the shortest failing gradient sequence: hypothesis
    shrinks the example, the sequence is cut after its first failing step (a step
    depends only on the steps before it), then runs of steps are deleted while it still
    fails. Both searches are counted in calls, not seconds (``search``): hypothesis gets a
    third of ``SHRINK_CALLS`` after the first failure, ``shorten`` as many replays. When the
    spec's default fails, each variant (and ``subnormals="flush"``) is judged on every
    example seen, the counterexample first, and the first that fits them all is recorded
    as ``matches_variant``.

schedule
    A schedule row's example is the initial learning rate (a scalar in the dtype under
    test), the number of steps (or the metric of each epoch) and the parameters; the
    backend steps its framework's scheduler and returns the rate at every step, compared
    with the spec at once. A row whose ``forward_tol.floor`` is set judges in ULPs at
    that fraction of the schedule's peak (formulas accurate to absolute error, like the
    cosine near its minimum).
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, field

import numpy as np
from hypothesis import reject

from ..backends import Unsupported
from . import search
from .engine import (
    Case,
    Observed,
    _accepted,
    encode_example,
    flush_example,
    flush_subnormals,
    make_record,
    np_dtype,
    observe,
    unsupported_case,
)
from .search import KEEP_EXAMPLES, SHRINK_CALLS, Failures, failure_type, matching_variant
from .measure import Verdict, compare, finfo, spacing
from .strategies import Example

EXAMPLES = {"quick": 4, "standard": 20, "thorough": 150}  # each example is a whole run of 100 steps
SHRINK_SHARE = 1 / 3  # of the budget's shrink calls, for hypothesis and then again for shorten(): every
# call is a whole trajectory, and cutting at the first failing step already does most of the work


def shrink_calls(budget: str) -> int:
    return math.ceil(SHRINK_CALLS[budget] * SHRINK_SHARE)


@dataclass
class Judged:
    """One example judged over every step."""

    verdict: Verdict  # the first failing step's verdict, else the worst passing one
    ulp: np.ndarray = field(default_factory=lambda: np.zeros(0))  # worst ULP error at each step
    rel: np.ndarray = field(default_factory=lambda: np.zeros(0))  # worst error / path scale at each step
    failing_step: int | None = None  # 1-based


def step_bounds(entry, dtype, example: Example, overrides: dict) -> np.ndarray:
    """The tolerance at each step t: Σ_{s≤t} k·κₛ ULPs, κₛ = 1 unless the spec states a condition.

    A spec may state ``<op>_condition(...)``: per step, how much the step magnifies a relative
    rounding of its coefficients or state (Adam's bias corrections 1 − βᵗ, centered RMSprop's
    v − ḡ²); each step then contributes k·κₛ ULPs instead of k.
    """
    kappa = np.ones(steps_of(example))
    condition = getattr(inspect.getmodule(entry.forward), f"{entry.op}_condition", None)
    if condition is not None:
        kappa = np.maximum(condition(*example.inputs[:2], **_accepted(condition, {**example.params, **overrides}),
                                     unit=float(finfo(dtype).eps) / 2), 1.0)
    return entry.forward_tol.max_ulp * np.cumsum(kappa)


def judge_trajectory(entry, dtype, example: Example, observed: Observed, overrides: dict | None = None) -> Judged:
    """Each step of the backend's trajectory against the spec's (``overrides`` selects a variant).

    The errors of every step are measured at once; ``compare`` then judges the first failing
    step (or the worst one), which gives the verdict its message. Under ``subnormals="flush"``
    the inputs and both trajectories read subnormals as zero, as in ``engine.judge``.
    """
    if isinstance(observed.value, Exception):
        exc = observed.value
        return Judged(Verdict(False, "error", "raised", np.inf, np.inf, np.inf, f"{type(exc).__name__}: {exc}"))
    example, observed, overrides, flush = _flushed(example, observed, overrides, dtype)
    actual = np.asarray(observed.value[0])
    reference = entry.forward(*example.inputs, **_accepted(entry.forward, {**example.params, **overrides}))
    reference = flush_subnormals(reference, dtype) if flush else reference
    if actual.shape != reference.shape or actual.dtype != dtype:
        return Judged(compare(actual, reference, dtype, 0))  # says which: shape or dtype
    start = example.inputs[0].astype(np.float64)[None]
    if start.shape[1:] != reference.shape[1:]:  # a state beyond the parameters (the loss scale): the spec's own steps
        start = np.zeros((1, *reference.shape[1:]))
    scale = np.maximum.accumulate(np.abs(np.concatenate([start, reference])), axis=0)[1:]
    bounds = step_bounds(entry, dtype, example, overrides)
    ulp, rel = per_step_errors(actual, reference, dtype, scale)
    failing = np.flatnonzero(ulp > bounds)
    t = int(failing[0]) if failing.size else int(np.argmax(ulp)) if ulp.size else 0
    verdict = compare(actual[t], reference[t], dtype, bounds[t], floor=scale[t]) if ulp.size else Verdict(True)
    if failing.size:
        verdict.message = f"step {t + 1}: {verdict.message}"
    return Judged(verdict, ulp, rel, t + 1 if failing.size else None)


def _flushed(example, observed, overrides, dtype):
    """(example, observed, the other overrides, flush?): the ``subnormals`` variant applied."""
    overrides = dict(overrides or {})
    flush = overrides.pop("subnormals", "keep") == "flush"
    if flush:
        example, observed = flush_example(example, observed, dtype)
    return example, observed, overrides, flush


def per_step_errors(actual, reference, dtype, scale):
    """The worst error of each step: in ULPs of ``dtype`` at max(|spec|, scale), and relative to
    the scale (nan or a wrong infinity counts as inf; nan against nan, or the same inf, as 0)."""
    steps = len(reference)
    with np.errstate(all="ignore"):
        a = actual.astype(np.float64)
        delta = np.abs(a - reference)
        ulp = np.maximum(spacing(np.maximum(np.abs(reference), scale), dtype), float(finfo(dtype).tiny))
        exact = (np.isnan(a) & np.isnan(reference)) | (np.isinf(a) & (a == reference.astype(dtype)))
        err = np.where(exact, 0.0, np.nan_to_num(delta / ulp, nan=np.inf))
        rel = np.where(exact, 0.0, np.nan_to_num(delta / np.maximum(scale, np.finfo(float).tiny), nan=np.inf))
    per_step = (steps, int(np.prod(reference.shape[1:])))
    return err.reshape(per_step).max(axis=1, initial=0.0), rel.reshape(per_step).max(axis=1, initial=0.0)


def steps_of(example: Example) -> int:
    return len(example.inputs[1])


def select_steps(example: Example, keep) -> Example:
    """The example with only the steps ``keep`` (indices): their gradients and learning rates."""
    keep = list(keep)
    params0, *per_step = example.inputs
    return Example([params0, *(a[keep] for a in per_step)], example.cotangent, dict(example.params))


def shorten(entry, backend, device, dtype, example, judged, replays):
    """The failing example cut to its first failing step, then with runs of steps deleted
    while it still fails (halves, then quarters, ... single steps), in at most ``replays``
    replays of the backend (a count, so the result does not depend on the machine's load)."""
    example = select_steps(example, range(judged.failing_step))
    chunk = max(steps_of(example) // 2, 1)
    while replays > 0:
        start, removed = 0, False
        while start < steps_of(example) and steps_of(example) > 1 and replays > 0:
            keep = [i for i in range(steps_of(example)) if not start <= i < start + chunk]
            if not keep:
                start += chunk
                continue
            candidate = select_steps(example, keep)
            replays -= 1
            observed = observe(entry, backend, device, candidate)
            again = judge_trajectory(entry, dtype, candidate, observed)
            if again.failing_step is not None and again.verdict.kind == judged.verdict.kind:
                example, judged, removed = select_steps(candidate, range(again.failing_step)), again, True
            else:
                start += chunk
        if chunk == 1 and not removed:
            break
        chunk = max(chunk // 2, 1) if not removed else chunk
    return example, judged


def _matching_variant(case: Case, judge) -> str | None:
    """``search.matching_variant`` over the examples seen (the counterexample first)."""
    dtype = np_dtype(case.dtype)
    return matching_variant(case.entry, case.seen,
                            lambda example, observed, overrides: judge(case.entry, dtype, example, observed,
                                                                       overrides).verdict)


def worst_by_step(current, values):
    """Elementwise worst of two per-step error arrays of possibly different lengths."""
    if current is None or len(values) > len(current):
        current, values = values.copy(), current if current is not None else np.zeros(0)
    current[: len(values)] = np.fmax(current[: len(values)], values)
    return current


def _summary(values) -> list[float]:
    return [float(f"{v:.3g}") if np.isfinite(v) else float(v) for v in values]


def run_search(case: Case, check: str, judge, progress, observe=observe, examples=None):
    """The hypothesis search of one case: returns (failure, unsupported messages, engine error).
    ``observe(entry, backend, device, example)`` runs the backend on one example (a whole run of
    steps), ``examples`` the number generated (by default ``EXAMPLES[budget]``)."""
    entry, dtype = case.entry, np_dtype(case.dtype)
    unsupported, failures = [], Failures()

    def judge_one(example):
        try:
            observed = observe(entry, case.backend, case.device, example)
        except Unsupported as exc:  # this example's parameters: others may still apply
            unsupported.append(str(exc))
            reject()
        judged = judge(entry, dtype, example, observed)
        if len(case.seen) < KEEP_EXAMPLES:
            case.seen.append((example, observed))
        progress(example, judged)
        if judged.verdict.ok:
            search.steer(judged.verdict.max_ulp, check)
            return
        failures.add("any", example, observed, judged)  # one search for every kind: the simplest stands
        raise failure_type(check, judged.verdict.kind)(judged.verdict.message)

    # every example unsupported (Unsatisfiable) is said by the caller from ``unsupported``
    outcome = search.run(case, judge_one, max_examples=(examples or EXAMPLES)[case.budget], report_multiple_bugs=False,
                         shrink_calls=shrink_calls(case.budget))
    return (failures["any"] if failures else None), unsupported, outcome


def _with_declared(message: str, outcome) -> str:
    """The message, and the declarations that kept examples out of the search (not drawn to the adapter)."""
    return "; ".join(filter(None, [message, *(f"declared unsupported: {r}" for r in outcome.declared)]))


def search_status(judged, examples: int, unsupported: list, outcome, error: str | None = None) -> tuple[str, str]:
    """(status, message) of a stateful check's search: the failure's verdict where one failed (``judged``), else
    unsupported where no example ran (what declined them), an error, or a pass; a measured status's message names
    the declarations that kept examples out of the search."""
    error = outcome.error if error is None else error
    if judged is not None:
        status, message = judged.verdict.status, judged.verdict.message
    elif examples == 0:
        return "unsupported", "; ".join([*outcome.declared, *sorted(set(unsupported))]) or (error or "no example ran")
    elif error:
        status, message = "error", error
    else:
        status, message = "pass", ""
    return status, _with_declared(message, outcome)


def _unsupported_check(case: Case, check: str) -> list[dict] | None:
    if (reason := unsupported_case(case)) is not None:
        return [make_record(case, check, "unsupported", message=reason)]
    return None


def check_trajectory(case: Case) -> list[dict]:
    """The ``trajectory`` record of one (optimizer, backend, device, dtype)."""
    started = time.perf_counter()
    if (early := _unsupported_check(case, "trajectory")) is not None:
        return early
    entry, dtype = case.entry, np_dtype(case.dtype)
    stats = {"examples": 0, "ulp": None, "rel": None, "max_abs": 0.0}

    def progress(example, judged):
        stats["examples"] += 1
        for key, values in (("ulp", judged.ulp), ("rel", judged.rel)):
            stats[key] = worst_by_step(stats[key], values)
        stats["max_abs"] = max(stats["max_abs"], judged.verdict.max_abs)

    try:
        failure, unsupported, outcome = run_search(case, "trajectory", judge_trajectory, progress)
    except Unsupported as exc:
        return [make_record(case, "trajectory", "unsupported", message=str(exc))]
    error = outcome.error
    fields = {}
    if failure is not None:
        example, _, judged = failure
        if judged.failing_step is not None:
            example, judged = shorten(entry, case.backend, case.device, dtype, example, judged,
                                      shrink_calls(case.budget))
            case.seen.insert(0, (example, observe(entry, case.backend, case.device, example)))
            progress(example, judged)  # the counterexample's own steps count among those measured
        status, message = judged.verdict.status, judged.verdict.message
        variant = _matching_variant(case, judge_trajectory) if status == "fail" else None
        fields = {"counterexamples": [dict(encode_example(example), message=message)],
                  "first_failing_step": judged.failing_step, "matches_variant": variant}
    status, message = search_status(judged if failure is not None else None, stats["examples"], unsupported,
                                    outcome, error)
    ulp = stats["ulp"] if stats["ulp"] is not None else np.zeros(0)
    steps = len(ulp)
    return [make_record(
        case, "trajectory", status, message=message, examples=stats["examples"],
        max_ulp=float(np.max(ulp, initial=0.0)) if stats["examples"] else None, max_abs=stats["max_abs"],
        max_rel=float(np.max(stats["rel"], initial=0.0)) if stats["rel"] is not None else None,
        tolerance_rule="a step, summed over the steps (× κₜ where the spec states one)",
        steps=steps, first_step_ulp=float(ulp[0]) if steps else None, ulp_by_step=_summary(ulp),
        rel_by_step=_summary(stats["rel"]) if stats["rel"] is not None else [],
        unsupported_examples=len(unsupported), seconds=time.perf_counter() - started, **fields,
    )]


# schedule ------------------------------------------------------------------------------


def judge_schedule(entry, dtype, example: Example, observed: Observed, overrides: dict | None = None) -> Judged:
    """The backend's rates against the spec's, every step at once."""
    if isinstance(observed.value, Exception):
        exc = observed.value
        return Judged(Verdict(False, "error", "raised", np.inf, np.inf, np.inf, f"{type(exc).__name__}: {exc}"))
    example, observed, overrides, flush = _flushed(example, observed, overrides, dtype)
    reference = entry.forward(*example.inputs, **_accepted(entry.forward, {**example.params, **overrides}))
    reference = flush_subnormals(reference, dtype) if flush else reference
    actual = np.asarray(observed.value[0])
    floor = None
    if entry.forward_tol.floor is not None:
        floor = entry.forward_tol.floor * float(np.max(np.abs(reference), initial=0.0))
    verdict = compare(actual, reference, dtype, entry.forward_tol.max_ulp, floor)
    if not verdict.ok and actual.shape == reference.shape:
        first = _first_bad(actual, reference, dtype, entry, floor)
        verdict.message = f"wrong from step {first}; worst: {verdict.message}"
    return Judged(verdict)


def _first_bad(actual, reference, dtype, entry, floor) -> int:
    for t in range(len(reference)):
        if not compare(actual[t : t + 1], reference[t : t + 1], dtype, entry.forward_tol.max_ulp, floor).ok:
            return t
    return -1


def check_schedule(case: Case) -> list[dict]:
    """The ``schedule`` record of one (schedule, backend, device, dtype)."""
    started = time.perf_counter()
    if (early := _unsupported_check(case, "schedule")) is not None:
        return early
    stats = {"examples": 0, "max_ulp": 0.0, "max_abs": 0.0, "max_rel": 0.0}

    def progress(example, judged):
        stats["examples"] += 1
        for key in ("max_ulp", "max_abs", "max_rel"):
            stats[key] = max(stats[key], getattr(judged.verdict, key))

    try:
        failure, unsupported, outcome = run_search(case, "schedule", judge_schedule, progress)
    except Unsupported as exc:
        return [make_record(case, "schedule", "unsupported", message=str(exc))]
    error = outcome.error
    fields = {}
    if failure is not None:
        example, observed, judged = failure
        case.seen.insert(0, (example, observed))
        fields = {"counterexamples": [dict(encode_example(example), message=judged.verdict.message)],
                  "matches_variant": _matching_variant(case, judge_schedule) if judged.verdict.status == "fail"
                  else None}
    status, message = search_status(judged if failure is not None else None, stats["examples"], unsupported,
                                    outcome, error)
    tol = case.entry.forward_tol
    return [make_record(
        case, "schedule", status, message=message, examples=stats["examples"], max_ulp=stats["max_ulp"],
        max_abs=stats["max_abs"], max_rel=stats["max_rel"],
        tolerance_rule=None if tol.floor is None else f"of {tol.floor:g}×peak",
        unsupported_examples=len(unsupported),
        seconds=time.perf_counter() - started, **fields,
    )]
