"""The one record every check writes: ``CheckRecord``, a ``check`` line of a results file.

Values, gradients, properties, trajectories, schedules, layouts and a case whose worker died
all produce this one shape (``engine.make_record`` builds it), so the report, ``nnspec repro``,
``--known`` and ``nnspec diff`` read one thing. Its JSON schema, ``record.schema.json`` beside
this module, is generated from the dataclass (``schema()``; a test keeps the file in step).

Encodings: errors are numbers (float; ``inf`` where an output was non-finite where the spec's
was not, written ``"inf"`` in JSON, which has no infinity); ``tolerance`` is the bound in ULP,
always a number, and ``tolerance_rule`` says how it applies when it is not a bound per
element; ``counterexamples`` holds the simplest failing example of each kind of failure, the
record's verdict (its message) coming from the first. Unknown fields are an error when the
record is built, so a misspelt field cannot slip into the results unnoticed.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .results import STATUSES

SCHEMA_PATH = Path(__file__).with_name("record.schema.json")
Number = typing.Union[int, float]


@dataclass
class CheckRecord:
    """One check of one (op, backend, device, dtype) case."""

    id: str  # backend/device/dtype/op/check
    op: str
    family: str
    backend: str
    backend_version: str
    device: str
    dtype: str  # "-" for a check of the op rather than of a dtype (defaults)
    check: str  # forward, gradient, property, trajectory, schedule, layout, running_stats, streaming, training
    status: str  # one of results.STATUSES
    kind: str = "check"
    matches_variant: str | None = None  # the named variant every example seen fits, where the default fails
    max_ulp: float | None = None  # worst error in ULPs of the output dtype
    max_abs: float | None = None
    max_rel: float | None = None
    tolerance: float | None = None  # the bound, in ULPs
    tolerance_rule: str | None = None  # how the bound applies when it is not per element
    tolerance_reason: str | None = None  # why the bound is what it is
    examples: int = 0  # examples judged
    unsupported_examples: int = 0  # examples the backend declined (a parameter value it lacks)
    counterexamples: list = field(default_factory=list)  # the simplest failing example of each kind, worst first
    repro: str | None = None  # the command that replays the first counterexample
    message: str = ""
    seed: int | None = None  # the case's own seed
    seconds: float | None = None
    composed: bool = False  # the adapter composes the op from framework primitives
    # trajectories and schedules
    steps: int | None = None
    first_step_ulp: float | None = None
    first_failing_step: int | None = None
    ulp_by_step: list | None = None
    rel_by_step: list | None = None
    # models: the first layer whose activations, gradients or weights left their bound
    layer: str | None = None
    # models: each training trap of the adapter (its MODEL_TRAPS) measured by this check once more with the trap's
    # setting off; absent where the adapter states none (the record's own status is with the settings on)
    traps: list | None = None
    # a case whose worker died (timeout, crashed)
    cause: str | None = None
    fault: str | None = None
    # written by the run
    run_id: str | None = None
    case: str | None = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"{self.id}: status {self.status!r} is not one of {', '.join(STATUSES)}")
        for name in ("max_ulp", "max_abs", "max_rel", "tolerance", "first_step_ulp", "seconds"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{self.id}: {name} must be a number or None, got {value!r}")
            if not isinstance(value, (int, float)):  # a NumPy scalar
                setattr(self, name, float(value))

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        if not out["traps"]:
            del out["traps"]  # absent where the adapter states none: every other record's line stays as it was
        return out


#: One measured trap of a models record (``CheckRecord.traps``): the check once more with a setting off.
TRAP_SCHEMA = {
    "type": "object",
    "required": ["name", "setting_off", "status"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "setting_off": {"type": "string"},
        "status": {"enum": list(STATUSES)},
        "max_ulp": {"type": ["number", "string", "null"], "pattern": "^(inf|-inf|nan)$"},
        "max_rel": {"type": ["number", "string", "null"], "pattern": "^(inf|-inf|nan)$"},
        "layer": {"type": ["string", "null"]},
        "step": {"type": ["integer", "null"]},
        "message": {"type": "string"},
        "seconds": {"type": ["number", "null"]},
    },
}


def _json_type(annotation) -> dict:
    hints = {str: {"type": "string"}, int: {"type": "integer"}, float: {"type": ["number", "string"]},
             bool: {"type": "boolean"}, list: {"type": "array"}}
    if annotation in hints:
        return dict(hints[annotation])
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [_json_type(a)["type"] for a in args if a is not type(None)]
        flat = [k for kind in kinds for k in (kind if isinstance(kind, list) else [kind])]
        return {"type": flat + (["null"] if type(None) in args else [])}
    raise TypeError(f"no JSON type for {annotation!r}")


def schema() -> dict:
    """The JSON schema of a ``check`` line, from ``CheckRecord``'s fields."""
    hints = typing.get_type_hints(CheckRecord)
    properties = {}
    for f in dataclasses.fields(CheckRecord):
        properties[f.name] = _json_type(hints[f.name])
    properties["status"]["enum"] = list(STATUSES)
    properties["traps"]["items"] = TRAP_SCHEMA
    properties["kind"]["const"] = "check"
    for name in ("max_ulp", "max_abs", "max_rel", "tolerance", "first_step_ulp"):
        properties[name]["pattern"] = "^(inf|-inf|nan)$"  # a string only for a non-finite number
    required = [f.name for f in dataclasses.fields(CheckRecord)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "nnspec check record (one line of a results file)",
        "description": (__doc__ or "").split("\n\n")[0],
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def schema_text() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"
