"""The ``layout`` check: the spec's weights → the framework's native layout → back, exactly.

Ops with weights (recurrent layers, attention projections) state one canonical weight
layout in the spec. Each adapter maps it into its framework's layout (transposes,
gate order, bias splits or merges, packed vs separate projections) with two methods:

    to_native_layout(op, weights, params) -> native   # a layer/module/param tree holding them
    from_native_layout(op, native, params) -> weights  # the canonical dict back

The check draws weights with the row's own example strategy (the inputs named in the
row's ``weights``), round-trips them, and requires every array back bit for bit, in
the same dtype and shape. The mapping code is the documented recipe for moving weights
between frameworks; this check keeps it honest.
"""

from __future__ import annotations

import inspect
import time

import numpy as np
from hypothesis import reject

from ..backends import Unsupported
from . import flight, search
from .engine import Case, encode_example, make_record, unsupported_case
from .search import CheckFailed, Failures


def weight_names(entry) -> tuple[str, ...]:
    return tuple(getattr(entry, "weights", ()) or ())


def named_weights(entry, example) -> dict:
    names = list(inspect.signature(entry.forward).parameters)[: len(example.inputs)]
    wanted = weight_names(entry)
    return {name: array for name, array in zip(names, example.inputs) if name in wanted}


def round_trip_mismatch(entry, backend, example) -> str:
    """'' when the weights come back bit for bit; else what differs."""
    weights = named_weights(entry, example)
    native = backend.to_native_layout(entry.op, weights, example.params)
    back = backend.from_native_layout(entry.op, native, example.params)
    for name, array in weights.items():
        if name not in back:
            return f"{name}: missing after the round trip"
        got = np.asarray(back[name])
        if got.shape != array.shape or got.dtype != array.dtype:
            return f"{name}: {got.dtype}{list(got.shape)} back, {array.dtype}{list(array.shape)} sent"
        if got.tobytes() != array.tobytes():
            index = np.argwhere(got.view(np.uint8).reshape(-1) != array.view(np.uint8).reshape(-1))[0][0]
            return f"{name}: differs after the round trip (first differing byte {index})"
    return ""


class LayoutMismatch(CheckFailed):
    pass


def check_layout(case: Case) -> list[dict]:
    """One ``layout`` record for one (op, backend, dtype)."""
    started = time.perf_counter()
    entry, backend = case.entry, case.backend
    if not weight_names(entry):
        return [make_record(case, "layout", "skip", message="the op has no weights")]
    if (reason := unsupported_case(case)) is not None:
        return [make_record(case, "layout", "unsupported", message=reason)]
    outcome = {"examples": 0}
    failures = Failures()
    declined = []  # an example whose parameters the framework lacks (GQA on torch) is skipped, as in the values check

    def judge_one(example):
        outcome["examples"] += 1
        flight.note(example)
        try:
            mismatch = round_trip_mismatch(entry, backend, example)
        except Unsupported as exc:
            declined.append(str(exc))
            reject()
        except Exception as exc:  # an adapter that raises is measured, not a crash
            mismatch = f"raised {type(exc).__name__}: {exc}"
        if mismatch:
            failures.add("mismatch", example, mismatch)  # the simplest stands
            raise LayoutMismatch(mismatch)

    try:
        ended = search.run(case, judge_one)
    except Unsupported as exc:
        return [make_record(case, "layout", "unsupported", message=str(exc))]
    if ended.unsatisfiable:  # every example declined: the op's layout (or every drawn parameter) is unsupported
        return [make_record(case, "layout", "unsupported", message=declined[0] if declined else "")]
    failure = failures["mismatch"] if failures else None
    if failure is None and ended.error:  # hypothesis itself gave up
        return [make_record(case, "layout", "error", examples=outcome["examples"], message=ended.error,
                            seconds=time.perf_counter() - started)]
    status = "pass" if failure is None else ("error" if failure[1].startswith("raised") else "fail")
    message = "" if failure is None else failure[1]
    if declined:
        message = "; ".join(filter(None, [message, f"{len(declined)} examples unsupported: {declined[0]}"]))
    if ended.declared:  # filtered out before the adapter saw them, as the values check says
        message = "; ".join(filter(None, [message, *(f"declared unsupported: {r}" for r in ended.declared)]))
    return [make_record(
        case, "layout", status, examples=outcome["examples"], max_ulp=0.0 if failure is None else None,
        message=message,
        counterexamples=[] if failure is None else [dict(encode_example(failure[0]), message=failure[1])],
        seconds=time.perf_counter() - started,
    )]
