"""Known counterexamples: what earlier runs found, evaluated again before each case's search.

A deviation found once must not be lost to the luck of the next run's draws: at the quick
budget a case sees 20 examples, and whether the one that makes torch's float16 ``sparse_cce``
overflow is among them depends on the seed and on every change to the strategies. Like
hypothesis' example database, which replays saved failures before generating new examples,
``nnspec run --known PATH`` evaluates, before each case's search, the counterexamples that
``PATH`` (a report's ``conformance.json`` or a results directory) records for the same op and
dtype: this backend's own first, then those other backends failed on (an input that broke one
framework is a good question for the others). They are judged like any other example, and a
failure among them is a counterexample the search then tries to simplify.

Only examples that still fit the catalogue are replayed: arrays in the dtype under test that
the spec's forward still accepts, with the row's parameter names (a parameter added since takes
its spec default, as the example was measured before it existed). A capped counterexample (only
a slice stored) or one that no longer decodes is skipped.
"""

from __future__ import annotations

import inspect
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from .engine import decode_example
from .results import read_report_file, read_results
from .strategies import np_dtype

MAX_KNOWN = 8  # examples replayed per case: a failing op has a few distinct counterexamples, not dozens


def _records_of(path: Path) -> list[dict]:
    if path.is_dir():
        return [r for r in read_results(path) if r.get("kind") == "check"]
    return [r for r in read_report_file(path)["records"] if isinstance(r, dict)]


@lru_cache(maxsize=4)
def load(path: str) -> dict:
    """(op, dtype) -> [(backend, example data)], every recorded counterexample of ``path``, newest last."""
    index: dict = {}
    for record in _records_of(Path(path)):
        data = record.get("counterexamples") or ([record["counterexample"]] if record.get("counterexample") else [])
        for example in data:
            if isinstance(example, dict):
                index.setdefault((record.get("op"), record.get("dtype")), []).append((record.get("backend"), example))
    return index


def known_examples(path: str | None, entry, dtype: str, backend: str) -> list:
    """The decoded examples to replay for ``entry`` at ``dtype`` on ``backend`` (see the module docstring)."""
    if not path:
        return []
    try:
        recorded = load(str(path)).get((entry.op, dtype), [])
    except (OSError, ValueError) as exc:
        warnings.warn(f"--known {path}: {exc}; no known counterexamples replayed", stacklevel=2)
        return []
    ordered = [data for b, data in recorded if b == backend][::-1] + [data for b, data in recorded if b != backend][::-1]
    examples, seen = [], set()
    for data in ordered:
        example = _fitting(entry, dtype, data)
        if example is None:
            continue
        key = _fingerprint(example)
        if key not in seen:
            seen.add(key)
            examples.append(example)
        if len(examples) == MAX_KNOWN:
            break
    return examples


def _fitting(entry, dtype: str, data: dict):
    try:
        example = decode_example(data)
    except (KeyError, TypeError, ValueError, AttributeError):  # capped or malformed: not replayable
        return None
    wanted = np.dtype(np_dtype(dtype))
    floats = [a for a in example.inputs if np.asarray(a).dtype.kind == "f" or np.asarray(a).dtype == wanted]
    if not floats or any(np.asarray(a).dtype != wanted for a in floats):
        return None
    if not set(example.params) <= set(inspect.signature(entry.forward).parameters):
        return None
    example = entry.completed(example)  # a parameter the row gained since: at its spec default
    try:  # the spec's own verdict on whether the example still means something
        with np.errstate(all="ignore"):
            entry.forward(*example.inputs, **example.params)
    except Exception:
        return None
    return example


def _fingerprint(example) -> tuple:
    return (tuple((a.dtype.str, a.shape, a.tobytes()) for a in map(np.asarray, example.inputs)),
            None if example.cotangent is None else np.asarray(example.cotangent).tobytes(),
            repr(sorted(example.params.items())))
