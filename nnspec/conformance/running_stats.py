"""The ``running_stats`` check: an op with state (batch norm's running mean and variance) over
several training steps, then one inference.

A row with this check returns ``(y, *state')`` from ``op(x, *weights, *state, training=..., ...)``
(the functional form every framework's layer has: torch's buffers updated in place, Keras'
``stateless_call``, flax's mutable collection) and names ``steps``, the strategy of its multi-step
examples: ``[xs, *weights, *state₀, x_eval]``, xs one fresh batch per step. The backend's op runs
each step on the state *it* returned the step before, as a training loop carries it; the spec
runs on its own state. After every step the states are compared, as optimizer trajectories are
(``trajectory.py``, whose search, per-step errors and variant matching this reuses): in ULPs of
the dtype at the largest magnitude the state or its floor (the row's floors for the state
outputs) has had so far, with a bound that grows by the row's forward bound each step (the old
state's error is carried with weight 1 − momentum < 1: the sum bounds it). Last, the op runs in
inference on x_eval with the backend's final state, and the spec on that same state, so the
inference output is judged alone (the state was judged already), with the row's forward bound.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..backends import Unsupported
from .engine import Case, Observed, _accepted, encode_example, make_record
from .engine import observe as observe_one
from .measure import Verdict, compare
from .strategies import Example
from .trajectory import Judged, _flushed, _matching_variant, _summary, _unsupported_check, per_step_errors, \
    run_search, search_status, worst_by_step

EXAMPLES = {"quick": 6, "standard": 30, "thorough": 200}  # each example is STEPS + 1 calls of the op
_STEPPED: dict = {}


def stepped(entry):
    """The row with its multi-step examples as its strategy (one per row, so the strategy is built once)."""
    if id(entry) not in _STEPPED:
        _STEPPED[id(entry)] = (entry, dataclasses.replace(entry, inputs=entry.steps))
    return _STEPPED[id(entry)][1]


def _split(entry, example: Example):
    """(xs, weights, state₀, x_eval); how many inputs are state: the spec's outputs after y on the first step."""
    xs, *rest = example.inputs
    carried, x_eval = rest[:-1], rest[-1]
    step = {**example.params, "training": True}
    n_state = len(entry.forward(xs[0], *carried, **_accepted(entry.forward, step))) - 1
    return xs, carried[:len(carried) - n_state], carried[len(carried) - n_state:], x_eval


def observe(entry, backend, device, example: Example) -> Observed:
    """The backend's state after each step, stacked (steps, outputs, C), its inference output and final state."""
    xs, weights, state, x_eval = _split(entry, example)
    states = []
    for x in xs:
        one = observe_one(entry, backend, device, Example([x, *weights, *state], None,
                                                          {**example.params, "training": True}))
        if isinstance(one.value, Exception):
            return one
        returned = list(one.value[1:])
        if len(returned) != len(state) or any(np.shape(r) != np.shape(s) for r, s in zip(returned, state)):
            return Observed(value=ValueError(f"the op returned {len(one.value)} outputs of shapes "
                                             f"{[np.shape(v) for v in one.value]}, not y and {len(state)} states"))
        state = returned
        states.append(np.stack(state))
    final = observe_one(entry, backend, device, Example([x_eval, *weights, *state], None,
                                                        {**example.params, "training": False}))
    if isinstance(final.value, Exception):
        return final
    return Observed(value=(np.stack(states), final.value[0], *state))


def spec_states(entry, example: Example, params: dict):
    """The spec's state after each step (steps, outputs, C), on its own state, and the row's floors for it."""
    xs, weights, state, _ = _split(entry, Example(example.inputs, None, params))
    reference, floors = [], []
    for x in xs:
        step = Example([x, *weights, *state], None, {**params, "training": True})
        _, *state = entry.forward(*step.inputs, **_accepted(entry.forward, step.params))
        floors.append(np.stack(entry.forward_tol.floor(step)[1:]))
        reference.append(np.stack(state))
    return np.stack(reference), np.stack(floors)


def judge_running_stats(entry, dtype, example: Example, observed: Observed, overrides: dict | None = None) -> Judged:
    if isinstance(observed.value, Exception):
        exc = observed.value
        return Judged(Verdict(False, "error", "raised", np.inf, np.inf, np.inf, f"{type(exc).__name__}: {exc}"))
    example, observed, overrides, _ = _flushed(example, observed, overrides, dtype)  # both sides flushed alike
    states, y_eval, *final_state = observed.value
    params = {**example.params, **overrides}
    xs, weights, start_state, x_eval = _split(entry, Example(example.inputs, None, params))
    reference, floors = spec_states(entry, example, params)
    if states.shape != reference.shape or states.dtype != dtype:
        return Judged(compare(states, reference, dtype, 0))  # says which: shape or dtype
    start = np.abs(np.stack([c.astype(np.float64) for c in start_state]))[None]
    scale = np.maximum.accumulate(np.concatenate([start, np.maximum(np.abs(reference), np.stack(floors))]),
                                  axis=0)[1:]
    per_step = entry.forward_tol.bound(Example([xs[0], *weights, *start_state], None, params))
    bounds = per_step * np.arange(1, len(xs) + 1)
    ulp, rel = per_step_errors(states, reference, dtype, scale)
    failing = np.flatnonzero(ulp > bounds)
    if failing.size:
        t = int(failing[0])
        verdict = compare(states[t], reference[t], dtype, bounds[t], floor=scale[t])
        verdict.message = f"step {t + 1}: {verdict.message}"
        return Judged(verdict, ulp, rel, t + 1)
    # inference on the backend's own final state: the output alone is judged here
    inference = Example([x_eval, *weights, *final_state], None, {**params, "training": False})
    y_ref = entry.forward(*inference.inputs, **_accepted(entry.forward, inference.params))[0]
    verdict = compare(y_eval, y_ref, dtype, entry.forward_tol.bound(inference), entry.forward_tol.floor(inference)[0])
    if not verdict.ok:
        verdict.message = f"inference after {len(xs)} steps: {verdict.message}"
    return Judged(verdict, ulp, rel, None)


def check_running_stats(case: Case) -> list[dict]:
    """The ``running_stats`` record of one (op, backend, device, dtype)."""
    started = time.perf_counter()
    if (early := _unsupported_check(case, "running_stats")) is not None:
        return early
    case = dataclasses.replace(case, entry=stepped(case.entry))
    stats = {"examples": 0, "ulp": None, "rel": None, "max_abs": 0.0}

    def progress(example, judged):
        stats["examples"] += 1
        for key, values in (("ulp", judged.ulp), ("rel", judged.rel)):
            stats[key] = worst_by_step(stats[key], values)
        stats["max_abs"] = max(stats["max_abs"], judged.verdict.max_abs)

    try:
        failure, unsupported, outcome = run_search(case, "running_stats", judge_running_stats, progress,
                                                   observe=observe, examples=EXAMPLES)
    except Unsupported as exc:
        return [make_record(case, "running_stats", "unsupported", message=str(exc))]
    fields = {}
    if failure is not None:
        example, _, judged = failure
        variant = _matching_variant(case, judge_running_stats) if judged.verdict.status == "fail" else None
        fields = {"counterexamples": [dict(encode_example(example), message=judged.verdict.message)],
                  "first_failing_step": judged.failing_step, "matches_variant": variant}
    status, message = search_status(failure[2] if failure is not None else None, stats["examples"], unsupported,
                                    outcome)
    ulp = stats["ulp"] if stats["ulp"] is not None else np.zeros(0)
    return [make_record(
        case, "running_stats", status, message=message, examples=stats["examples"],
        max_ulp=float(np.max(ulp, initial=0.0)) if stats["examples"] else None, max_abs=stats["max_abs"],
        max_rel=float(np.max(stats["rel"], initial=0.0)) if stats["rel"] is not None else None,
        tolerance_rule="a step, summed over the steps; then the inference output on the backend's state",
        steps=len(ulp), first_step_ulp=float(ulp[0]) if len(ulp) else None, ulp_by_step=_summary(ulp),
        rel_by_step=_summary(stats["rel"]) if stats["rel"] is not None else [],
        unsupported_examples=len(unsupported), seconds=time.perf_counter() - started, **fields,
    )]
