"""`nnspec repro ID`: re-runs one recorded counterexample and shows spec and backend side by side."""

from __future__ import annotations

import shlex

import numpy as np

from ..backends import load_backend
from .catalogue import CATALOGUE
from .engine import as_tuple, decode_example, judge, observe
from .results import read_results


def repro_command(record_id: str, results=None, report=None) -> str:
    """The shell command that replays one record: ``nnspec repro ID [--results DIR | --report FILE]``.

    Shell-quoted (shlex.join), so ids and paths with spaces or quotes paste as they are.
    ``report`` (a committed conformance.json) wins over ``results``: it works on a fresh clone.
    """
    argv = ["nnspec", "repro", str(record_id)]
    if report is not None:
        argv += ["--report", str(report)]
    elif results is not None:
        argv += ["--results", str(results)]
    return shlex.join(argv)


def find_record(record_id: str, results_dir) -> tuple[dict, dict]:
    """The last record with this id, and the environment of the run that wrote it."""
    lines = read_results(results_dir)
    matches = [r for r in lines if r.get("kind") == "check" and r.get("id") == record_id]
    if not matches:
        raise KeyError(f"no record {record_id!r} in {results_dir}/ (ids look like torch/cpu/float32/gelu/forward)")
    record = matches[-1]
    runs = [r for r in lines if r.get("kind") == "environment" and r.get("run_id") == record.get("run_id")]
    return record, (runs[-1] if runs else {})


def reproduce(record_id: str, results_dir) -> str:
    record, environment = find_record(record_id, results_dir)
    examples = record.get("counterexamples") or ([record["counterexample"]] if record.get("counterexample") else [])
    if not examples:
        return f"{record_id}: status {record['status']}, no counterexample recorded (nothing failed)."
    backend = load_backend(environment.get("backend_ref", record["backend"]))
    entry = CATALOGUE[record["op"]]
    lines = [f"{record_id}  (recorded: {record['status']}, {backend.name} {backend.version()} now)"]
    for data in examples:
        example = decode_example(data)
        observed = observe(entry, backend, record["device"], example)
        verdict = judge(entry, example.inputs[0].dtype, example, observed).get(record["check"])
        lines.append(f"\n{entry.op}({_params(example.params)})  on {record['dtype']}: "
                     f"{verdict.status if verdict else 'not applicable'} {verdict.message if verdict else ''}")
        lines.extend(_side_by_side(entry, example, observed, record["check"]))
    return "\n".join(lines)


def _params(params):
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def _side_by_side(entry, example, observed, check):
    x = example.inputs[0]
    if check == "gradient":
        spec = entry.vjp(*example.inputs, example.cotangent, **_kw(entry.vjp, example.params))
        got, label = observed.gradient, "vjp"
    else:
        spec = entry.forward(*example.inputs, **_kw(entry.forward, example.params))
        got, label = observed.value, "value"
    if isinstance(got, Exception):
        return [f"    backend raised {type(got).__name__}: {got}"]
    # Several outputs (or gradients of several inputs) are shown one after another, flattened.
    spec = np.concatenate([np.ravel(s) for s in as_tuple(spec)])
    got = np.concatenate([np.ravel(np.asarray(g, dtype=np.float64)) for g in as_tuple(got)])
    rows = [f"    {'x':>24} {'cotangent':>12} {'spec ' + label:>24} {'backend ' + label:>24}"]
    cot = example.cotangent if example.cotangent is not None else np.full(x.shape, np.nan)
    flat = zip(np.ravel(x), np.ravel(cot), np.ravel(spec), np.ravel(np.asarray(got, dtype=np.float64)))
    for i, (xi, gi, si, bi) in enumerate(flat):
        if i == 32:
            rows.append(f"    ... {x.size - 32} more")
            break
        rows.append(f"    {float(xi):>24.17g} {float(gi):>12.5g} {si:>24.17g} {bi:>24.17g}")
    return rows


def _kw(fn, params):
    import inspect

    names = inspect.signature(fn).parameters
    return {k: v for k, v in params.items() if k in names}
