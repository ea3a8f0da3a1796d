"""The ``streaming`` check: a metric accumulated over batches equals the metric computed at once.

Frameworks compute metrics two ways: at once over every sample (scikit-learn's functions,
torchmetrics' functional API) and accumulated batch by batch (``keras.metrics.*``'
``update_state``, torchmetrics' ``Metric.update``), which is what a training loop reports. A row
with this check draws its usual example and a random split of its samples (axis 0 of every
input) into consecutive batches; the example's params carry the batch sizes as ``batches``
(so a recorded counterexample holds the split). The backend runs the op once on everything
(``Backend.evaluate``, as the forward check does) and accumulated over the batches
(``stream_<op>(batches, **params)``: a list of input lists in native tensors, the same spec
parameters by keyword, returning the final value); the accumulated value is judged against
the backend's *own* one-shot value with the row's forward bound, so what the record measures is
the accumulation alone (the one-shot value is the forward check's). A backend without
``stream_<op>`` has no accumulated form of the op: the case is ``unsupported`` without a draw.

The search, its call budget and the simplest counterexample are trajectory's (``run_search``).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from hypothesis import strategies as st

from .engine import Case, Observed, as_tuple, encode_example, make_record, np_dtype, unsupported_case
from .engine import observe as observe_one
from .measure import Verdict, compare
from .strategies import Example
from .trajectory import Judged, run_search, search_status

EXAMPLES = {"quick": 20, "standard": 100, "thorough": 600}  # each example is one call plus one per batch
_STREAMED: dict = {}


def stream_method(op: str) -> str:
    return f"stream_{op}"


def splits(n: int):
    """Batch sizes summing to n: one batch, single samples, or any cut points (most often: batches of
    unequal sizes are what a per-batch average gets wrong)."""
    if n <= 1:
        return st.just((n,))
    cuts = st.sets(st.integers(1, n - 1), min_size=1, max_size=n - 1).map(
        lambda c: tuple(np.diff([0, *sorted(c), n]).tolist()))
    return st.one_of(st.just((n,)), st.just((1,) * n), cuts, cuts, cuts)


def streamed(entry):
    """The row with its examples carrying a split into batches (one per row: the strategy is built once)."""
    if id(entry) not in _STREAMED:
        base = entry.inputs

        def inputs(dtype, params):
            return base(dtype, params).flatmap(lambda ex: splits(len(ex.inputs[0])).map(
                lambda sizes: Example(ex.inputs, None, {**ex.params, "batches": sizes})))

        _STREAMED[id(entry)] = (entry, dataclasses.replace(entry, inputs=inputs))
    return _STREAMED[id(entry)][1]


def batch_sizes(example: Example) -> tuple:
    """The example's split; a known counterexample of another check has none: one sample per batch."""
    return tuple(example.params.get("batches", (1,) * len(example.inputs[0])))


def _without_split(params: dict) -> dict:
    return {k: v for k, v in params.items() if k != "batches"}


def observe(entry, backend, device, example: Example) -> Observed:
    """(one-shot value, accumulated value) of the backend, or the exception either raised."""
    params = _without_split(example.params)
    once = observe_one(entry, backend, device, Example(example.inputs, None, params))
    if isinstance(once.value, Exception):
        return once
    bounds = np.cumsum([0, *batch_sizes(example)])
    batches = [[backend.asarray(a[lo:hi], device) for a in example.inputs] for lo, hi in zip(bounds[:-1], bounds[1:])]
    try:
        accumulated = getattr(backend, stream_method(entry.op))(batches, **params)
        accumulated = tuple(backend.to_numpy(t) for t in as_tuple(accumulated))
    except Exception as exc:  # the adapter's failure is a measurement
        return Observed(value=exc)
    return Observed(value=(once.value, accumulated))


def judge_streaming(entry, dtype, example: Example, observed: Observed, overrides: dict | None = None) -> Judged:
    if isinstance(observed.value, Exception):
        exc = observed.value
        return Judged(Verdict(False, "error", "raised", np.inf, np.inf, np.inf, f"{type(exc).__name__}: {exc}"))
    once, accumulated = observed.value
    verdicts = [compare(a, np.asarray(o, dtype=np.float64), dtype, entry.forward_tol.max_ulp)
                for a, o in zip(accumulated, once)]
    failing = [v for v in verdicts if not v.ok]
    verdict = failing[0] if failing else max(verdicts, key=lambda v: v.max_ulp, default=Verdict(True))
    if failing:
        verdict.message = f"accumulated over batches {batch_sizes(example)}: {verdict.message} (its one-shot value)"
    return Judged(verdict)


def check_streaming(case: Case) -> list[dict]:
    """The ``streaming`` record of one (metric, backend, device, dtype)."""
    started = time.perf_counter()
    if (reason := unsupported_case(case)) is not None:
        return [make_record(case, "streaming", "unsupported", message=reason)]
    if not callable(getattr(case.backend, stream_method(case.entry.op), None)):
        return [make_record(case, "streaming", "unsupported",
                            message=f"{case.backend.name} has no accumulated (batch by batch) form of {case.entry.op}")]
    case = dataclasses.replace(case, entry=streamed(case.entry))
    stats = {"examples": 0, "max_ulp": 0.0, "max_abs": 0.0, "max_rel": 0.0}

    def progress(example, judged):
        stats["examples"] += 1
        for key in ("max_ulp", "max_abs", "max_rel"):
            if np.isfinite(getattr(judged.verdict, key)) or not judged.verdict.ok:
                stats[key] = max(stats[key], getattr(judged.verdict, key))

    failure, unsupported, outcome = run_search(case, "streaming", judge_streaming, progress, observe=observe,
                                               examples=EXAMPLES)
    fields = {}
    if failure is not None:
        example, _, judged = failure
        fields = {"counterexamples": [dict(encode_example(example), message=judged.verdict.message)]}
    status, message = search_status(failure[2] if failure is not None else None, stats["examples"], unsupported,
                                    outcome)
    return [make_record(
        case, "streaming", status, message=message, examples=stats["examples"], max_ulp=stats["max_ulp"],
        max_abs=stats["max_abs"], max_rel=stats["max_rel"],
        tolerance_rule="the accumulated value against the backend's own one-shot value",
        unsupported_examples=len(unsupported), seconds=time.perf_counter() - started, **fields,
    )]


__all__ = ["check_streaming", "np_dtype"]
