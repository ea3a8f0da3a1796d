"""``nnspec diff OLD NEW``: what changed between two reports — two framework versions, two nnspec
versions, two seeds — in Markdown for a pull request or a CI step summary.

OLD and NEW are each a report's ``conformance.json``, a reports directory holding one, or a
results directory (merged as ``nnspec report`` merges it). Entries are matched by id
(backend/device/dtype/op/check) and sorted into:

* **new deviations** — a check that deviates (fail, error, timeout, crashed) in NEW and did
  not in OLD; ``--fail-on new`` makes them the exit status;
* **fixed** — deviated in OLD, passes in NEW;
* **changed variant** — deviates in both, but matches another named variant (or none);
* **other status changes** — e.g. unsupported → pass (a framework gained an op), pass → not run;
* **changed worst error** — passes on both sides, but its worst error is not what it was: with
  the same nnspec and seed both sides draw the same examples, so the framework's output changed
  on one of them (across nnspec versions the examples themselves may differ);
* **changed native defaults** — a parameter's framework default is not what it was;
* **versions** — each backend's framework version on both sides.

Entries present on one side only (or ``not run`` there) are counted, not listed, unless they
deviate: a report of one family diffed against a full one says what it does not cover instead
of calling every other op fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..conformance.results import NOT_RUN, expand_report, read_report_file
from .format import DEVIATIONS

SECTIONS = ("new", "fixed", "variant", "status", "defaults")


def load_status(path: Path | str) -> dict:
    """The status file (conformance.json's content) of a report file, a reports directory or a results directory."""
    path = Path(path)
    if path.is_dir() and (path / "conformance.json").is_file():
        path = path / "conformance.json"
    if path.is_file():
        return read_report_file(path)
    if path.is_dir():
        from .merge import merge
        from .status import status_file

        status, _ = status_file(merge(path), "conformance.json", str(path))
        return expand_report(status)  # the records in full, as read_report_file gives a report's
    raise FileNotFoundError(f"{path}: no report, reports directory or results directory there")


def _id(entry: dict) -> str:
    from .status import record_id

    return record_id(entry)


def _deviates(entry: dict | None) -> bool:
    return entry is not None and entry.get("status") in DEVIATIONS


def _worst(entry: dict):
    """The worst error as conformance.json keeps it (``SIGNIFICANT`` digits), so that a report written
    before that rounding (results directories, older reports) compares equal to one written after."""
    from .status import SIGNIFICANT

    ulp = entry.get("max_ulp")
    if isinstance(ulp, float) and ulp == ulp and abs(ulp) != float("inf"):
        ulp = float(f"{ulp:.{SIGNIFICANT}g}")
    return ulp, (entry.get("non_finite") or {}).get("max_ulp")


def _default_key(d: dict) -> tuple:
    return (d.get("backend"), d.get("device"), d.get("op"), d.get("parameter"))


@dataclass
class Diff:
    old: str
    new: str
    new_deviations: list = field(default_factory=list)  # (id, old entry or None, new entry)
    fixed: list = field(default_factory=list)
    variant: list = field(default_factory=list)
    status: list = field(default_factory=list)
    error: list = field(default_factory=list)  # both pass, the worst error changed
    defaults: list = field(default_factory=list)  # (key, old default, new default)
    versions: dict = field(default_factory=dict)  # backend -> (old version, new version)
    only_old: int = 0
    only_new: int = 0

    @property
    def empty(self) -> bool:
        return not (self.new_deviations or self.fixed or self.variant or self.status or self.error or self.defaults)


def diff(old: dict, new: dict, old_name: str = "OLD", new_name: str = "NEW") -> Diff:
    # a check no run measured ("not run") is compared as absent: it says nothing of the framework
    before = {_id(e): e for e in old["records"] if e.get("status") != NOT_RUN}
    after = {_id(e): e for e in new["records"] if e.get("status") != NOT_RUN}
    result = Diff(old_name, new_name)
    for rid in sorted(set(before) | set(after)):
        a, b = before.get(rid), after.get(rid)
        if a is None and not _deviates(b):
            result.only_new += 1
        elif b is None and not _deviates(a):
            result.only_old += 1
        elif _deviates(b) and not _deviates(a):
            result.new_deviations.append((rid, a, b))
        elif _deviates(a) and not _deviates(b):
            if b is None:
                result.only_old += 1
            else:
                (result.fixed if b.get("status") == "pass" else result.status).append((rid, a, b))
        elif _deviates(a) and _deviates(b):
            if a.get("matches_variant") != b.get("matches_variant"):
                result.variant.append((rid, a, b))
            elif a.get("status") != b.get("status"):
                result.status.append((rid, a, b))
        elif a.get("status") != b.get("status"):
            result.status.append((rid, a, b))
        elif a.get("status") == "pass" and _worst(a) != _worst(b):
            result.error.append((rid, a, b))
    old_defaults = {_default_key(d): d for d in old.get("defaults") or []}
    for d in new.get("defaults") or []:
        was = old_defaults.get(_default_key(d))
        if was is not None and repr(was.get("native_default")) != repr(d.get("native_default")):
            result.defaults.append((_default_key(d), was, d))
    old_env = {e.get("backend"): e.get("backend_version") for e in old.get("environments") or []}
    for e in new.get("environments") or []:
        backend = e.get("backend")
        if backend in old_env:
            result.versions[backend] = (old_env[backend], e.get("backend_version"))
    return result


def _cell(entry: dict | None) -> str:
    if entry is None:
        return "—"
    text = entry.get("status", "?")
    if entry.get("matches_variant"):
        text += f" ≈ `{entry['matches_variant']}`"
    ulp = entry.get("max_ulp")
    if isinstance(ulp, (int, float)) and not isinstance(ulp, bool):
        text += f", {ulp:.3g} ULP"
    elif ulp or (entry.get("non_finite") or {}).get("max_ulp"):  # "inf" in older reports, named in newer
        text += f", {ulp or entry['non_finite']['max_ulp']} ULP"
    return text


def _message(entry: dict | None) -> str:
    text = (entry or {}).get("message") or ""
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 120 else text[:117] + "…"


def to_markdown(d: Diff) -> str:
    lines = [f"# nnspec diff: `{d.old}` → `{d.new}`", ""]
    if d.versions:
        lines += ["| backend | old version | new version |", "|---|---|---|"]
        lines += [f"| {b} | {o} | {n}{' (changed)' if o != n else ''} |" for b, (o, n) in sorted(d.versions.items())]
        lines.append("")
    counts = (f"{len(d.new_deviations)} new deviations, {len(d.fixed)} fixed, {len(d.variant)} changed variants, "
              f"{len(d.status)} other status changes, {len(d.error)} changed worst errors, "
              f"{len(d.defaults)} changed native defaults")
    lines += [f"**{counts}.**", ""]
    if d.only_old or d.only_new:
        lines += [f"Not compared: {d.only_old} checks only in the old report, {d.only_new} only in the new one "
                  "(neither deviating).", ""]
    tables = (("New deviations", d.new_deviations), ("Fixed", d.fixed), ("Changed variant", d.variant),
              ("Other status changes", d.status), ("Changed worst error (passing on both sides)", d.error))
    for title, rows in tables:
        if not rows:
            continue
        lines += [f"## {title}", "", "| check | before | after | message now |", "|---|---|---|---|"]
        lines += [f"| `{rid}` | {_cell(a)} | {_cell(b)} | {_message(b)} |" for rid, a, b in rows]
        lines.append("")
    if d.defaults:
        lines += ["## Changed native defaults", "", "| backend | op | parameter | before | after |", "|---|---|---|---|---|"]
        lines += [f"| {k[0]} | {k[2]} | {k[3]} | `{a.get('native_default')!r}` | `{b.get('native_default')!r}` |"
                  for k, a, b in d.defaults]
        lines.append("")
    if d.empty:
        lines += ["Nothing changed in the checks both reports hold.", ""]
    return "\n".join(lines)
