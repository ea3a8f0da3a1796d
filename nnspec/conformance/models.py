"""The ``model`` and ``training`` checks: a whole seed model (``nnspec/spec/models.py``) against the spec's
composition, with localization — the record names the first layer that leaves its bound.

An example is a seed (``params = {"seed": s}``): the canonical weights ``init_weights(model, s)`` and the
batches ``batch(model, s + t, dtype)`` are drawn by the spec from it, so a counterexample is one number.

model (records ``forward`` and ``gradient``)
    ``backend.model_forward(model, W, x, y, training=True)`` — the training-mode step (batch statistics) —
    then ``training=False`` on W with the *spec's* running statistics after that step (so inference is
    judged alone). forward: every layer's activation in forward order (a batch-norm layer's running
    statistics with it), then logits and loss; gradient: every parameter's gradient, layers in backward
    order (the output's first). Each array counts in ULPs of the dtype at its layer's largest value (the
    layer's floor: a parameter whose true gradient is 0, a bias feeding batch norm or the key bias of
    attention, is judged at its layer's scale, not at its own rounding noise).

training (record ``training``)
    ``backend.model_train(model, W, xs, ys, optimizer, hyper)`` for each optimizer of ``spec.models.OPTIMIZERS``
    (the framework's own optimizer, ``HYPER``'s values passed explicitly), ``STEPS`` steps on fresh batches,
    against ``spec.models.train``: after every step each weight in ULPs at the largest magnitude its layer's
    weights have had so far, with the bound growing by the row's bound each step (as optimizer trajectories).
    The first failing step, and at it the first layer in forward order, is named.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..backends import Unsupported
from ..spec import models as M
from .engine import Case, Observed, make_record, np_dtype
from .measure import Verdict, compare, spacing, finfo
from .strategies import Example
from .trajectory import Judged, _summary, _unsupported_check, run_search, search_status, worst_by_step

EXAMPLES = {"quick": 2, "standard": 8, "thorough": 30}  # each example: two model_forward calls
TRAINING_EXAMPLES = {"quick": 1, "standard": 3, "thorough": 12}  # each: STEPS steps per optimizer
TRAP_EXAMPLES = {"quick": 1, "standard": 1, "thorough": 3}  # each trap: its checks once more, the setting off
STEPS = 4


def traps(backend, model_id, check=None) -> tuple:
    """The backend's ``MODEL_TRAPS`` of a model (``spec.models.Trap``; those shown by ``check`` where given)."""
    table = getattr(backend, "MODEL_TRAPS", None) or {}
    return tuple(t for t in table.get(model_id, ()) if check is None or check in t.checks)


def _trap_result(trap, record: dict | None, seconds: float, error: str | None = None) -> dict:
    """One ``traps`` item: the check's record with the trap's setting off, reduced to where and how much."""
    out = {"name": trap.name, "setting_off": trap.setting_off}
    if error is not None:
        return {**out, "status": "error", "message": error, "seconds": round(seconds, 3)}
    out.update(status=record["status"], max_ulp=record.get("max_ulp"), max_rel=record.get("max_rel"),
               layer=record.get("layer"), step=record.get("first_failing_step"), message=record.get("message") or "",
               seconds=round(seconds, 3))
    return {k: v for k, v in out.items() if v is not None}


def _with_traps(case: Case, records: list[dict], measure) -> list[dict]:
    """``records`` with each trap of the adapter measured: ``measure(case)`` once more (TRAP_EXAMPLES examples,
    the same seeds) inside ``trap.disable(backend)``; its record of each of the trap's checks goes into that
    check's record as a ``traps`` item. The records' own status stays the one with the settings on."""
    by_check = {r["check"]: r for r in records}
    for trap in traps(case.backend, case.entry.op):
        shown = [c for c in trap.checks if c in by_check and by_check[c]["status"] != "unsupported"]
        if not shown:
            continue
        started = time.perf_counter()
        try:
            with trap.disable(case.backend):
                again = {r["check"]: r for r in measure(dataclasses.replace(case, seen=[], known=[]))}
            items = {c: _trap_result(trap, again[c], time.perf_counter() - started) for c in shown}
        except Exception as exc:  # noqa: BLE001 -- the trap's switch itself failed: said, not raised
            items = {c: _trap_result(trap, None, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
                     for c in shown}
        for c, item in items.items():
            by_check[c].setdefault("traps", []).append(item)
    return records


def _layered(model_id, names):
    """{layer: [names]} in forward order, for "<layer>/<param>" names (or bare layer names)."""
    out = {layer: [] for layer in M.LAYERS[model_id]}
    for name in names:
        out.setdefault(name.split("/")[0], []).append(name)
    return {k: v for k, v in out.items() if v}


def _judge_layers(parts, dtype, bound, order):
    """The first failing layer's verdict (``parts``: layer -> [(name, actual, reference)]), else the worst."""
    worst, first = None, None
    for layer in order:
        items = parts.get(layer, [])
        if not items:
            continue
        scale = max(float(np.max(np.abs(r), initial=0.0)) for _, _, r in items)
        for name, actual, reference in items:
            verdict = compare(np.asarray(actual), np.asarray(reference, dtype=np.float64), dtype, bound,
                              floor=scale if scale > 0 else None)
            if not verdict.ok:
                verdict.message = f"layer {layer} ({name}): {verdict.message}"
                return verdict, layer
            if worst is None or verdict.max_ulp > worst.max_ulp:
                worst = verdict
    return (worst or Verdict(True)), first


def _weights(model_id, seed, dtype):
    return {k: v.astype(dtype) for k, v in M.init_weights(model_id, seed).items()}


def observe_model(model_id, dtype):
    def observe(entry, backend, device, example: Example) -> Observed:
        seed = example.params["seed"]
        W = _weights(model_id, seed, dtype)
        x, y = M.batch(model_id, seed, dtype)
        try:
            train = backend.model_forward(model_id, W, x, y, True)
            spec_state = M.forward(model_id, W, x, y, True)["state"]
            W_inf = {**W, **{k: v.astype(dtype) for k, v in spec_state.items()}}
            infer = backend.model_forward(model_id, W_inf, x, y, False)
        except Unsupported:
            raise
        except Exception as exc:  # noqa: BLE001 -- what the backend did
            return Observed(value=exc)
        return Observed(value=(train, infer))
    return observe


def judge_model(model_id):
    """(entry, dtype, example, observed) -> Judged whose verdict.kind is "forward" or "gradient" on a failure;
    the layer named is in ``Judged.failing_step``'s place: ``verdict.message`` starts with it."""

    def judge(entry, dtype, example, observed, overrides=None):
        if isinstance(observed.value, Exception):
            exc = observed.value
            v = Verdict(False, "error", "raised", np.inf, np.inf, np.inf, f"{type(exc).__name__}: {exc}")
            return Judged(v), None
        seed = example.params["seed"]
        W = _weights(model_id, seed, dtype)
        x, y = M.batch(model_id, seed, dtype)
        train, infer = observed.value
        ref_train = M.forward(model_id, W, x, y, True)
        W_inf = {**W, **{k: v.astype(dtype) for k, v in ref_train["state"].items()}}
        ref_infer = M.forward(model_id, W_inf, x, y, False)
        order = M.LAYERS[model_id]
        results = {}
        for mode, got, ref in (("training", train, ref_train), ("inference", infer, ref_infer)):
            parts = {layer: [(layer, got["activations"].get(layer), ref["activations"][layer])] for layer in order}
            if mode == "training":
                for name, value in ref["state"].items():
                    parts[name.split("/")[0]].append((name, got["state"].get(name), value))
            parts.setdefault("loss", []).append(("loss", got["loss"], ref["loss"]))
            try:
                verdict, layer = _judge_layers(parts, dtype, entry.forward_tol.max_ulp, (*order, "loss"))
            except (TypeError, ValueError) as exc:  # a missing or malformed array
                verdict, layer = Verdict(False, "fail", "shape", np.inf, np.inf, np.inf, f"{exc}"), None
            if not verdict.ok:
                verdict.message = f"{mode}: {verdict.message}"
            results[mode] = (verdict, layer)
        forward = next((r for r in results.values() if not r[0].ok), max(results.values(),
                                                                           key=lambda r: r[0].max_ulp))
        gparts = {layer: [(n, train["gradients"].get(n), ref_train["gradients"][n]) for n in names]
                  for layer, names in _layered(model_id, M.trainable(model_id)).items()}
        try:
            gradient = _judge_layers(gparts, dtype, entry.gradient_tol.max_ulp, tuple(reversed(order)))
        except (TypeError, ValueError) as exc:
            gradient = (Verdict(False, "fail", "shape", np.inf, np.inf, np.inf, f"{exc}"), None)
        return Judged(forward[0]), {"forward": forward, "gradient": gradient}

    return judge


def check_model(case: Case) -> list[dict]:
    """The ``forward`` and ``gradient`` records of one (model, backend, device, dtype), each with its traps
    measured (``traps``: the adapter's ``MODEL_TRAPS`` for that check, run once more with the setting off)."""
    started = time.perf_counter()
    if (early := _unsupported_check(case, "forward")) is not None:
        return early + [dict(early[0], check="gradient", id=early[0]["id"].rsplit("/", 1)[0] + "/gradient")]
    records = _model_records(case, EXAMPLES, started)
    return _with_traps(case, records, lambda c: _model_records(c, TRAP_EXAMPLES, time.perf_counter()))


def _model_records(case: Case, examples: dict, started: float) -> list[dict]:
    model_id, dtype = case.entry.op, np_dtype(case.dtype)
    judge_pair = judge_model(model_id)
    stats = {c: {"examples": 0, "ulp": 0.0, "abs": 0.0, "rel": 0.0, "fail": None} for c in ("forward", "gradient")}

    def judge(entry, dtype_, example, observed, overrides=None):
        judged, pair = judge_pair(entry, dtype_, example, observed, overrides)
        if pair is None:
            return judged
        for check, (verdict, layer) in pair.items():
            s = stats[check]
            s["examples"] += 1
            if np.isfinite(verdict.max_ulp):
                s["ulp"], s["abs"] = max(s["ulp"], verdict.max_ulp), max(s["abs"], verdict.max_abs)
                s["rel"] = max(s["rel"], verdict.max_rel) if np.isfinite(verdict.max_rel) else s["rel"]
            if not verdict.ok and s["fail"] is None:
                s["fail"] = (example, verdict, layer)
        bad = [v for v, _ in pair.values() if not v.ok]
        return Judged(bad[0] if bad else judged.verdict)

    def progress(example, judged):
        pass

    try:
        failure, unsupported, outcome = run_search(case, "model", judge, progress,
                                                   observe=observe_model(model_id, dtype), examples=examples)
    except Unsupported as exc:
        return [make_record(case, c, "unsupported", message=str(exc)) for c in ("forward", "gradient")]
    records = []
    for check in ("forward", "gradient"):
        s = stats[check]
        fields = {}
        judged = None
        if s["fail"] is not None:
            example, verdict, layer = s["fail"]
            judged = Judged(verdict)
            fields = {"counterexamples": [{"inputs": [], "cotangent": None, "params": example.params,
                                           "message": verdict.message}], "layer": layer}
        elif failure is not None and failure[2].verdict.status == "error":
            judged = failure[2]
        status, message = search_status(judged, s["examples"] or (1 if judged else 0), unsupported, outcome)
        records.append(make_record(
            case, check, status, message=message, examples=s["examples"], max_ulp=s["ulp"], max_abs=s["abs"],
            max_rel=s["rel"], tolerance_rule="per array, in ULPs at its layer's largest value",
            unsupported_examples=len(unsupported), seconds=time.perf_counter() - started, **fields))
    return records


# training ------------------------------------------------------------------------------------------------------


def _batches(model_id, seed, dtype):
    pairs = [M.batch(model_id, seed + 1 + t, dtype) for t in range(STEPS)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def observe_training(model_id, dtype):
    def observe(entry, backend, device, example: Example) -> Observed:
        seed = example.params["seed"]
        W = _weights(model_id, seed, dtype)
        xs, ys = _batches(model_id, seed, dtype)
        out = {}
        for optimizer in M.OPTIMIZERS:
            try:
                out[optimizer] = backend.model_train(model_id, W, xs, ys, optimizer, dict(M.HYPER[optimizer]))
            except Unsupported:
                raise
            except Exception as exc:  # noqa: BLE001
                return Observed(value=exc)
        return Observed(value=out)
    return observe


def judge_training(model_id):
    def judge(entry, dtype, example, observed, overrides=None):
        if isinstance(observed.value, Exception):
            exc = observed.value
            return Judged(Verdict(False, "error", "raised", np.inf, np.inf, np.inf, f"{type(exc).__name__}: {exc}"))
        seed = example.params["seed"]
        W = M.init_weights(model_id, seed)
        W_dtype = {k: v.astype(dtype).astype(np.float64) for k, v in W.items()}
        xs, ys = _batches(model_id, seed, dtype)
        k = entry.forward_tol.max_ulp
        bounds = k * np.arange(1, STEPS + 1)
        ulp_all, rel_all = np.zeros(STEPS), np.zeros(STEPS)
        first = None  # (step, layer order, verdict)
        layers = _layered(model_id, M.SPECS[model_id].weights)
        for optimizer in M.OPTIMIZERS:
            got = observed.value[optimizer]
            ref = M.train(model_id, W_dtype, xs, ys, optimizer, M.HYPER[optimizer])
            for rank, (layer, names) in enumerate(layers.items()):
                start = max(float(np.max(np.abs(W_dtype[n]))) for n in names)
                path = np.maximum.accumulate(np.array(
                    [max(float(np.max(np.abs(ref[n][t]))) for n in names) for t in range(STEPS)]))
                scale = np.maximum(path, start)
                for n in names:
                    a = np.asarray(got[n])
                    if a.shape != ref[n].shape or a.dtype != dtype:
                        v = compare(a, ref[n], dtype, 0)
                        v.message = f"{optimizer}, layer {layer} ({n}): {v.message}"
                        return Judged(v, ulp_all, rel_all, 1)
                    with np.errstate(all="ignore"):
                        delta = np.abs(a.astype(np.float64) - ref[n]).reshape(STEPS, -1).max(axis=1)
                        ulp = np.nan_to_num(delta / spacing(scale, dtype), nan=np.inf)
                        rel = np.nan_to_num(delta / np.maximum(scale, float(finfo(dtype).tiny)), nan=np.inf)
                    ulp_all, rel_all = np.fmax(ulp_all, ulp), np.fmax(rel_all, rel)
                    bad = np.flatnonzero(ulp > bounds)
                    if bad.size:
                        t = int(bad[0])
                        if first is None or (t, rank) < first[:2]:
                            v = compare(a[t], ref[n][t], dtype, bounds[t], floor=scale[t])
                            v.message = f"{optimizer} step {t + 1}, layer {layer} ({n}): {v.message}"
                            first = (t, rank, v, layer)
        if first is not None:
            judged = Judged(first[2], ulp_all, rel_all, first[0] + 1)
            judged.layer = first[3]
            return judged
        worst = Verdict(True, max_ulp=float(ulp_all.max()), max_rel=float(rel_all.max()))
        return Judged(worst, ulp_all, rel_all, None)

    return judge


def check_training(case: Case) -> list[dict]:
    """The ``training`` record of one (model, backend, device, dtype): both optimizers' trajectories, with the
    adapter's training traps measured (``traps``)."""
    started = time.perf_counter()
    if (early := _unsupported_check(case, "training")) is not None:
        return early
    records = _training_records(case, TRAINING_EXAMPLES, started)
    return _with_traps(case, records, lambda c: _training_records(c, TRAP_EXAMPLES, time.perf_counter()))


def _training_records(case: Case, examples: dict, started: float) -> list[dict]:
    model_id, dtype = case.entry.op, np_dtype(case.dtype)
    stats = {"examples": 0, "ulp": None, "rel": None}

    def progress(example, judged):
        stats["examples"] += 1
        for key, values in (("ulp", judged.ulp), ("rel", judged.rel)):
            stats[key] = worst_by_step(stats[key], values)

    try:
        failure, unsupported, outcome = run_search(case, "training", judge_training(model_id), progress,
                                                   observe=observe_training(model_id, dtype),
                                                   examples=examples)
    except Unsupported as exc:
        return [make_record(case, "training", "unsupported", message=str(exc))]
    fields = {}
    if failure is not None:
        example, _, judged = failure
        fields = {"counterexamples": [{"inputs": [], "cotangent": None, "params": example.params,
                                       "message": judged.verdict.message}],
                  "first_failing_step": judged.failing_step, "layer": getattr(judged, "layer", None)}
    status, message = search_status(failure[2] if failure is not None else None, stats["examples"], unsupported,
                                    outcome)
    ulp = stats["ulp"] if stats["ulp"] is not None else np.zeros(0)
    return [make_record(
        case, "training", status, message=message, examples=stats["examples"],
        max_ulp=float(np.max(ulp, initial=0.0)) if stats["examples"] else None,
        max_rel=float(np.max(stats["rel"], initial=0.0)) if stats["rel"] is not None else None,
        tolerance_rule=f"a step, summed over {STEPS} steps, per layer at its largest weight so far "
                       f"({', '.join(M.OPTIMIZERS)})",
        steps=len(ulp), first_step_ulp=float(ulp[0]) if len(ulp) else None, ulp_by_step=_summary(ulp),
        rel_by_step=_summary(stats["rel"]) if stats["rel"] is not None else [],
        unsupported_examples=len(unsupported), seconds=time.perf_counter() - started, **fields)]
