"""What only the HTML page shows: filter choices, the per-backend summary, deviations grouped by cause,
and the matrix cells' records and the deviations' cards as compact JSON blocks the page's script turns into
a popup on click and into a group's cards when it is opened.

A cell's popup is built when it is opened, not written out per cell: the page stays small (one
JSON array a cell instead of a table of markup) and opens at once. Deviations are grouped by
cause: records of one op that match the same variant, or whose messages read the same once
their numbers are taken out, are one collapsed row with their count; opening it shows a card
per record, built then from ``card_data`` (a full run's cards written out as markup were 0.6 MB of a
1.3 MB page). A card's error is the error of the example it shows (its message), next to the
worst over all the record's examples.
"""

from __future__ import annotations

import json
import re
from collections import Counter

from markupsafe import Markup

from .format import DISPLAY_STATUSES, LABEL, SYMBOL, display_status, fmt_ulp, worst, worst_ulp
from .merge import DTYPE_FREE, backend_key, device_key

_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?(?![\w.])|\b(?:nan|inf)\b", re.IGNORECASE)
_INDEX = re.compile(r"\((?:#, ?)*#?,?\)")
_EXAMPLE_ERROR = re.compile(r"^(.*?)(?::\s*got\b|$)", re.S)


def pattern(message: str) -> str:
    """A message with its numbers taken out: '0.02 ULP (bound 0) at index (2,): got 0.0' -> '# ULP (bound #) at index (…): got #'."""
    text = _NUMBER.sub("#", message.strip().splitlines()[0] if message.strip() else "")
    return _INDEX.sub("(…)", text)[:160]


def example_error(detail: dict) -> str:
    """The error of the example a card shows, from that example's message ('0.02625 ULP (bound 0) at index (2,)');
    the record's message when the example states none (it is the first failing kind's, which the message names)."""
    message = detail.get("example_message") or detail.get("message") or ""
    found = _EXAMPLE_ERROR.match(message.strip().splitlines()[0] if message.strip() else "")
    return found.group(1).strip() if found else ""


def filters(report: dict, columns: list[dict]) -> dict:
    """The choices of each filter, in report order."""
    families = list(dict.fromkeys(r.get("family") for r in report["records"] if r.get("family")))
    present = {display_status(r) for r in report["records"]}
    dtypes = [d for d in report["dtypes"] if any(r.get("dtype") == d for r in report["records"])]
    return {
        "backend": sorted({c["backend"] for c in columns}, key=backend_key),
        "device": sorted({c["device"] for c in columns}, key=device_key),
        "dtype": dtypes,
        "family": families,
        "status": [s for s in DISPLAY_STATUSES if s in present],
    }


def summary(report: dict, columns: list[dict]) -> dict:
    """Per (backend, device): how many records have each status; the statuses that occur, in display order."""
    counts = {(c["backend"], c["device"]): Counter() for c in columns}
    for record in report["records"]:
        key = (record.get("backend"), record.get("device"))
        if key in counts:
            counts[key][display_status(record)] += 1
    statuses = [s for s in DISPLAY_STATUSES if any(c[s] for c in counts.values())]
    rows = [{**c, "counts": [counts[(c["backend"], c["device"])][s] for s in statuses],
             "total": sum(counts[(c["backend"], c["device"])].values())} for c in columns]
    words = {"notrun": "not run", "skip": "skipped"}
    return {"statuses": [{"status": s, "symbol": SYMBOL[s], "label": LABEL[s], "word": words.get(s, s)} for s in statuses],
            "rows": rows}


def deviation_groups(deviations: list[dict]) -> list[dict]:
    """Deviations by cause, in order of first appearance: (op, status, variant) where a variant matches, else
    (op, status, the message's pattern). Each group: its members, the union of their backends, devices, dtypes,
    checks and families (what the filters read), its worst max_ulp, and its tolerance reason when the members
    share one (then the cards leave it out)."""
    groups: dict[tuple, dict] = {}
    for d in deviations:
        d["example_error"] = example_error(d)
        d["example_items"] = [item for item in d["counterexample"] if item[0] != "message"]  # its error is stated
        cause = ("variant", d["variant"]) if d["variant"] else ("pattern", pattern(d["message"]))
        key = (d["op"], d["display"], *cause)
        group = groups.setdefault(key, {"op": d["op"], "display": d["display"], "status": d["status"],
                                        "symbol": d["symbol"], "kind": cause[0], "cause": cause[1], "members": []})
        group["members"].append(d)
    result = []
    for index, group in enumerate(groups.values()):
        members = group["members"]
        reasons = {m["tolerance_reason"] for m in members}
        tolerances = {m["tolerance"] for m in members}
        ulp = worst_ulp(m.get("max_ulp_value") for m in members)
        result.append({
            **group,
            "anchor": f"cause-{index}",
            "count": len(members),
            "display": worst([m["display"] for m in members]),
            "backends": list(dict.fromkeys(m["backend"] for m in members)),
            "devices": list(dict.fromkeys(m["device"] for m in members)),
            "dtypes": list(dict.fromkeys(m["dtype_text"] for m in members)),
            "dtype_keys": list(dict.fromkeys("any" if m["dtype"] in DTYPE_FREE else m["dtype"] for m in members)),
            "checks": list(dict.fromkeys(m["check"] for m in members)),
            "family": members[0].get("family") or "",
            "worst": fmt_ulp(ulp) if ulp is not None else "",
            "tolerance_reason": reasons.pop() if len(reasons) == 1 else None,
            "tolerance": tolerances.pop() if len(tolerances) == 1 else None,
        })
    return result


def _script_json(data) -> Markup:
    """JSON safe inside <script type="application/json">: every '<' written \\u003c, so no text in it can end
    the element early or start markup ('</script>', '<!--')."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Markup(text.replace("<", "\\u003c"))


class _Strings:
    """Texts interned: each written once in ``strings``, referred to by its index."""

    def __init__(self):
        self.index: dict[str, int] = {"": 0}

    def __call__(self, text) -> int:
        return self.index.setdefault(str(text or ""), len(self.index))

    def list(self) -> list[str]:
        return list(self.index)


def cell_data(tables: list[dict]) -> Markup:
    """Every matrix cell's face and popup as compact JSON: {"strings": [...], "symbols": {status: symbol}, "cells":
    [...]}. A cell is [[records], [defaults], origin, face], face [worst error, check abbreviation, its status, ...]
    (what the cell shows before it is opened); the cell's ``index`` (set here) is its position. A record is
    [check, display status, max_ulp, tolerance, examples, variant, message (a deviation's is on its card),
    card anchor (deviations only), run (where the cell mixes runs), status (where it is not the display
    status)], trailing empty fields left out. Each text is an index into ``strings``: the same few words
    ("forward", "pass", "0 ulp") repeat in every cell, so each is written once."""
    ref = _Strings()

    def trimmed(fields: list) -> list:
        while fields and fields[-1] == ref(""):
            fields.pop()
        return fields

    cells = []
    deviation = {"fail", "variant", "error", "timeout", "crashed"}
    for table in tables:
        for row in table["rows"]:
            for cell in row["cells"]:
                if cell.get("empty"):
                    continue
                cell["index"] = len(cells)
                mixed = len(cell["runs"]) > 1
                records = [trimmed([ref(d["check"]), ref(d["display"]), ref(d["max_ulp"]), ref(d["tolerance"]),
                                    ref(d["examples"]), ref(d["variant"]),
                                    ref("" if d["display"] in deviation else d["message"]),
                                    ref(d["anchor"] if d["display"] in deviation else ""),
                                    ref(d["run_id"] if mixed else ""),
                                    ref(d["status"] if d["status"] != d["display"] else "")])
                           for d in cell["records"]]
                defaults = [[ref(dd.get("parameter")), ref(_param(dd.get("spec_default"))),
                             ref(_param(dd.get("native_default"))), 1 if dd.get("differs") else 0]
                            for dd in cell["defaults"]]
                named = mixed or cell["column"].get("mixed")  # its column mixes runs: say which this cell's are
                face = [ref(cell["ulp"])] + [ref(x) for k in cell["checks"] for x in (k["abbr"], k["status"])]
                cells.append([records, defaults, ref(cell["origin"] if named else ""), face])
    return _script_json({"strings": ref.list(), "symbols": SYMBOL, "cells": cells})


def card_fields(d: dict, g: dict) -> list[list]:
    """A deviation's card as (label, text) rows: the error of the example it shows, the worst over all its
    examples, what its group does not already state (tolerance, variant), its message, its counterexample
    (a list of (label, text)), what replays it."""
    rows: list[list] = []
    if d["example_error"]:
        rows.append(["this example", d["example_error"]])
    if d["max_ulp"]:
        worst_text = f"max_ulp {d['max_ulp']}" + (f" · max_abs {d['max_abs']}" if d["max_abs"] else "") + (
            f" · max_rel {d['max_rel']}" if d["max_rel"] else "") + (f" over {d['examples']} examples" if d["examples"] else "")
        rows.append(["worst", worst_text])
    elif d["examples"]:
        rows.append(["examples", d["examples"]])
    if d["tolerance"] and not g["tolerance"]:
        reason = f" ({d['tolerance_reason']})" if d["tolerance_reason"] and not g["tolerance_reason"] else ""
        rows.append(["tolerance", d["tolerance"] + reason])
    if d["variant"] and g["kind"] != "variant":
        rows.append(["variant", d["variant"]])
    if d["message"]:
        rows.append(["message", d["message"]])
    if d["example_items"]:
        rows.append(["counterexample", [list(item) for item in d["example_items"]], 1 if d["counterexample_capped"] else 0])
    if d["repro"]:
        rows.append(["repro", d["repro"]])
    if d["composed"]:
        rows.append(["note", "composed from framework primitives (no native op)"])
    return rows


def card_data(groups: list[dict]) -> Markup:
    """Every deviation group's cards as compact JSON: {"strings": [...], "groups": [[card, ...], ...]}, a group
    in the order of the page's ``details.group`` (``data-c``). A card is [anchor, display status, badge text,
    heading, backend, device, dtype key, rows], rows as ``card_fields`` gives them, each text an index into
    ``strings`` (the same counterexample often fails several dtypes and backends alike: written once). The
    script builds a group's cards when it is first opened, and filters and searches them from here."""
    ref = _Strings()
    out = []
    for g in groups:
        cards = []
        for d in g["members"]:
            rows = []
            for row in card_fields(d, g):
                if isinstance(row[1], list):
                    rows.append([ref(row[0]), [[ref(a), ref(b)] for a, b in row[1]], row[2]])
                else:
                    rows.append([ref(row[0]), ref(row[1])])
            heading = f"{d['backend']} {d['backend_version'] or ''} · {d['device']} · {d['dtype_text']} · {d['check']}"
            cards.append([ref(d["anchor"]), ref(d["display"]), ref(f"{d['symbol']} {d['status']}"), ref(heading),
                          ref(d["backend"]), ref(d["device"]),
                          ref("any" if d["dtype_text"] == "any dtype" else d["dtype"]), rows])
        out.append(cards)
    return _script_json({"strings": ref.list(), "groups": out})


def _param(value) -> str:
    from .format import fmt_param

    return fmt_param(value)
