"""How values read in a report: statuses, numbers, durations, rates and counterexamples.

Shared by the Markdown and HTML renderers so both say the same thing the same way.
Nothing here decides what is in the report (that is ``merge``); it only writes it.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from ..conformance.results import NOT_RUN

# -- statuses -------------------------------------------------------------------

#: A cell's or a check's display status. ``variant`` is a fail whose output matches a
#: named variant of the formula; ``differs`` a native default that is not the spec's;
#: ``timeout`` a case that ran past its time limit and ``crashed`` one whose worker died;
#: ``notrun`` a case no run measured (records of status ``not run``; shown grey).
DISPLAY_STATUSES = (
    "pass", "variant", "fail", "error", "timeout", "crashed", "unsupported", "skip", "differs", "notrun",
)

#: Higher is worse: a cell shows the worst of its checks. Anything but pass outranks pass,
#: so a cell holding an unsupported, skipped or unmeasured check is never shown as a pass.
#: A differing native default ranks just above pass: it is information (the defaults
#: table lists it), where a check not run, unsupported or skipped is something not measured.
#: A timeout or a crash is an error the adapter took the worker down with.
RANK = {
    "pass": 0, "differs": 1, "notrun": 2, "skip": 3, "unsupported": 4, "variant": 5, "fail": 6, "error": 7,
    "timeout": 8, "crashed": 9,
}

SYMBOL = {
    "pass": "✓",
    "variant": "≈",
    "fail": "✗",
    "error": "‼",
    "timeout": "⧗",
    "crashed": "☠",
    "unsupported": "∅",
    "skip": "⤼",
    "differs": "≠",
    "notrun": "—",
}

LABEL = {
    "pass": "pass",
    "variant": "fail, matches a named variant",
    "fail": "fail",
    "error": "error (the check itself crashed)",
    "timeout": "timeout (the case ran past its time limit)",
    "crashed": "crashed (the worker died: a signal or an abort)",
    "unsupported": "unsupported by the backend",
    "skip": "skipped",
    "differs": "native default differs from the spec (a defaults fail)",
    "notrun": "not run",
}

#: The word a non-passing cell starts with in Markdown, where there is no colour.
WORD = {
    "pass": "",
    "variant": "VARIANT",
    "fail": "FAIL",
    "error": "ERROR",
    "timeout": "TIMEOUT",
    "crashed": "CRASHED",
    "unsupported": "UNSUPPORTED",
    "skip": "SKIPPED",
    "differs": "DEFAULT≠",
    "notrun": "NOT RUN",
}

#: Statuses of the records the report lists as deviations (an unknown status counts as error).
DEVIATIONS = ("fail", "error", "timeout", "crashed")

CHECK_ORDER = ("forward", "gradient", "property", "trajectory", "schedule", "running_stats", "out_of_range",
               "distribution", "streaming", "layout", "defaults")
CHECK_ABBR = {
    "forward": "fwd", "gradient": "grad", "property": "prop", "trajectory": "traj", "schedule": "sched",
    "running_stats": "stats", "out_of_range": "range", "distribution": "dist", "streaming": "stream",
    "layout": "layout", "defaults": "def",
}


def display_status(record: dict) -> str:
    """The display status of one check record; ``not run`` is ``notrun``; an unknown status counts as an error.

    A ``defaults`` check fails when a native default differs from the spec's: shown as
    ``differs`` (the call itself conforms when every parameter is passed, as nnspec does).
    """
    status = str(record.get("status", "error"))
    if status == NOT_RUN:
        return "notrun"
    if status == "fail" and record.get("check") == "defaults":
        return "differs"
    if status == "fail" and record.get("matches_variant"):
        return "variant"
    return status if status in RANK and status not in ("notrun", "differs", "variant") else "error"


def counts_for_cell(check: str, status: str) -> bool:
    """Whether a check's status colours its cell. Not-applicable ones do not: a skip (no
    example applied, an op without parameters) and a defaults check the backend has nothing
    for (NumPy declares no native defaults). Their chips still show; a cell made only of
    them takes their status."""
    return not (status == "skip" or (check == "defaults" and status == "unsupported"))


def worst(statuses) -> str:
    statuses = list(statuses)
    return max(statuses, key=RANK.__getitem__) if statuses else "notrun"


def check_key(check: str) -> tuple:
    return (CHECK_ORDER.index(check), check) if check in CHECK_ORDER else (len(CHECK_ORDER), check)


def abbr(check: str) -> str:
    return CHECK_ABBR.get(check, check)


# -- numbers --------------------------------------------------------------------


def to_float(value: Any) -> float | None:
    """A stored number as a float: JSON's "inf"/"nan" strings included, None if not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def worst_ulp(values) -> float | None:
    """The largest of some ulp errors; nan (an error that could not be measured) is the worst."""
    numbers = [v for v in (to_float(v) for v in values) if v is not None]
    if not numbers:
        return None
    if any(math.isnan(v) for v in numbers):
        return math.nan
    return max(numbers)


def fmt_number(value: Any) -> str:
    number = to_float(value)
    if number is None:
        return "" if value is None else str(value)
    if math.isnan(number) or math.isinf(number):
        return str(number)
    if number == int(number) and abs(number) < 1e6:
        return str(int(number))
    return f"{number:.3g}"


def fmt_ulp(value: Any) -> str:
    text = fmt_number(value)
    return f"{text} ulp" if text else ""


def fmt_seconds(value: Any) -> str:
    seconds = to_float(value)
    if seconds is None:
        return "—"
    if not math.isfinite(seconds):
        return str(seconds)
    magnitude = abs(seconds)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if magnitude >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_signed_seconds(value: Any) -> str:
    seconds = to_float(value)
    if seconds is None:
        return "—"
    return ("+" if seconds >= 0 else "−") + fmt_seconds(abs(seconds))


def fmt_wall(value: Any) -> str:
    seconds = to_float(value)
    if seconds is None:
        return "—"
    if seconds >= 120:
        minutes, rest = divmod(seconds, 60)
        return f"{int(minutes)} min {rest:.0f} s"
    return f"{seconds:.1f} s"


def fmt_rate(value: Any, unit: str = "/s") -> str:
    """1.23 G/s: an SI-prefixed rate."""
    rate = to_float(value)
    if rate is None:
        return "—"
    if not math.isfinite(rate):
        return str(rate)
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(rate) >= scale:
            return f"{rate / scale:.3g} {prefix}{unit}"
    return f"{rate:.3g} {unit}"


def fmt_ratio(value: Any) -> str:
    ratio = to_float(value)
    return "—" if ratio is None else f"{ratio:.2f}×"


def fmt_fraction(value: Any) -> str:
    fraction = to_float(value)
    return "—" if fraction is None else f"{fraction * 100:.0f}%".replace("-", "−")


def fmt_count(value: Any) -> str:
    number = to_float(value)
    if number is None or not math.isfinite(number) or number != int(number):
        return fmt_number(value) or "—"
    number = int(number)
    for suffix, scale in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if number >= scale and number % scale == 0:
            return f"{number // scale} {suffix}"
    return f"{number:,}".replace(",", " ")


def fmt_value(value: Any) -> str:
    """Any stored value (numerics, budget, tolerance, params) in one short line."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt_value(v) for v in value) + "]"
    if isinstance(value, str):
        decoded = _hex_float(value)
        return _shortest(decoded, "float64") if decoded is not None else value
    if value is None:
        return "—"
    return str(value)


def fmt_tolerance(value: Any) -> str:
    """A tolerance: a bare number is a bound in ulp."""
    if value is None:
        return ""
    number = to_float(value)
    return f"{fmt_number(number)} ulp" if number is not None and not isinstance(value, str) else fmt_value(value)


def fmt_param(value: Any) -> str:
    """A parameter value as Python would write it: 'tanh', 0.01, True."""
    if isinstance(value, str):
        decoded = _hex_float(value)
        return _shortest(decoded, "float64") if decoded is not None else repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {fmt_param(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt_param(v) for v in value) + "]"
    return repr(value)


def fmt_variant(variant: Any, op: str = "") -> str:
    """How a matched variant reads: gelu(approximate='tanh')."""
    if not variant:
        return ""
    if isinstance(variant, dict):
        name = variant.get("op", op) if "params" in variant else op
        params = variant.get("params", variant) if "params" in variant else variant
        inner = ", ".join(f"{k}={fmt_param(v)}" for k, v in params.items() if k != "op")
        return f"{name}({inner})"
    if isinstance(variant, (list, tuple)):
        return " or ".join(fmt_variant(v, op) for v in variant)
    return str(variant)


# -- counterexamples --------------------------------------------------------------

_HEX_FLOAT = re.compile(r"^[+-]?(0x[0-9a-f]+(\.[0-9a-f]*)?p[+-]?\d+|inf|nan|infinity)$", re.IGNORECASE)
MAX_VALUES = 8  # values of an array a page shows (conformance.json keeps more, the results files all)


def _hex_float(text: str) -> float | None:
    if not _HEX_FLOAT.match(text.strip()):
        return None
    try:
        return float.fromhex(text.strip())
    except ValueError:
        return None


def _shortest(value: float, dtype: str) -> str:
    """The shortest decimal that reads back as ``value`` in ``dtype``."""
    if not math.isfinite(value):
        return str(value)
    if dtype in ("float16", "float32", "float64"):
        return str(np.dtype(dtype).type(value))
    for digits in range(1, 18):
        text = f"{value:.{digits}g}"
        try:
            import ml_dtypes

            if dtype == "bfloat16" and float(ml_dtypes.bfloat16(float(text))) == value:
                return text if any(c in text for c in ".en") else text + ".0"  # 1.0 as NumPy writes it
        except (ImportError, TypeError):
            break
        if dtype != "bfloat16" and float(text) == value:
            return text
    return repr(value)


def is_array(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("values"), list) and ("shape" in value or "dtype" in value)


def decode_values(array: dict) -> list[float | Any]:
    """The values of a stored array as floats: float.hex strings, "inf"/"nan" and plain numbers."""
    decoded = []
    for value in array.get("values", []):
        if isinstance(value, str):
            number = _hex_float(value)
            decoded.append(number if number is not None else value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            decoded.append(float(value))
        else:
            decoded.append(value)
    return decoded


def fmt_array(array: dict, limit: int = MAX_VALUES) -> str:
    """[0.5, -1.25, …] float32 (3,): a stored array in decimals, long ones cut."""
    dtype = str(array.get("dtype", "float64"))
    values = decode_values(array)
    if array.get("shape") == [] and len(values) == 1:  # a 0-d array: a scalar
        value = values[0]
        return f"{_shortest(value, dtype) if isinstance(value, float) else value} {dtype} scalar"
    shown = [_shortest(v, dtype) if isinstance(v, float) else str(v) for v in values[:limit]]
    if len(values) > limit:
        shown.append(f"… {len(values) - limit} more")
    shape = array.get("shape")
    shape_text = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")" if isinstance(shape, list) else ""
    return f"[{', '.join(shown)}] {dtype}{' ' + shape_text if shape_text else ''}"


def counterexample_items(counterexample: Any) -> list[tuple[str, str]]:
    """A counterexample as (label, text) lines: arrays in decimals, parameters as Python writes them."""
    if counterexample in (None, "", {}, []):
        return []
    items: list[tuple[str, str]] = []

    def walk(label: str, value: Any) -> None:
        if label and (value is None or value == {}):
            return  # an absent part: no cotangent, no parameters
        if is_array(value):
            items.append((label, fmt_array(value)))
        elif isinstance(value, dict):
            if any(is_array(v) or isinstance(v, (dict, list)) for v in value.values()):
                for key, inner in value.items():
                    walk(f"{label}.{key}" if label else str(key), inner)
            else:
                text = ", ".join(f"{k}={fmt_param(v)}" for k, v in value.items())
                items.append((label or "params", text or "(none)"))
        elif isinstance(value, list) and any(is_array(v) or isinstance(v, dict) for v in value):
            for index, inner in enumerate(value):
                walk(f"{label}[{index}]", inner)
        else:
            items.append((label or "value", fmt_param(value)))

    walk("", counterexample)
    return items
