"""The porting view: per framework pair, the native settings that make both compute the same thing.

    porting_view(report) -> dict;  render_porting(report) -> str (reports/porting.md)

Everything comes from the measured records, nothing is typed in: a ``default`` record holds
the native callable and keyword (``native``: ``qualname(fn)(keyword=...)``) and the
framework's default in spec vocabulary. For a pair SRC → DST and each (op, parameter) both
measured, when the defaults differ the DST setting to pass is DST's keyword = SRC's default
(``keras.activations.leaky_relu(x, negative_slope=0.01)``); where they agree nothing is listed.
Values are spelled as the framework takes them: the adapter's binding ``translate`` table maps
the spec value (``approximate='none'`` -> jax's ``approximate=False``); when the adapter cannot be
loaded here, or has no table, the spec value is shown. Then "still differs with no setting":
ops whose deviating records (``matches_variant``) name different variants in the two
frameworks, or deviate in one and pass in the other. The glossary lists every variant
parameter and value the catalogue declares (plus the engine's ``subnormals``), its meaning
the spec function's docstring line that names it.

Public names: ``public_name`` maps an internal path (``keras.src.activations.activations.leaky_relu``)
to the first public path that resolves to the same object, trying the package plus each
non-private module segment (``keras.activations.leaky_relu``), then the small ``PUBLIC_PREFIXES``
table (``torch._C._nn.gelu`` is ``torch.nn.functional.gelu``); when the framework cannot
be imported here it drops the private segments by the ``PRIVATE`` rule (``src``, ``_src``,
leading underscore) and the module segment that repeats its parent's name.
"""

from __future__ import annotations

import importlib
import inspect
from functools import lru_cache

from ..backends.base import MODEL_IDS


PAIRS = (("torch", "tensorflow"), ("torch", "jax"), ("tensorflow", "jax"))
FRAMEWORK = {"torch": "PyTorch", "tensorflow": "Keras", "jax": "flax/JAX/optax", "numpy": "NumPy"}
GUIDES = ("docs/porting-recurrent.md", "docs/porting-conv.md")
PRIVATE = ("src", "_src")
#: public namespaces also tried (after the path's own segments) for a callable defined in C (``torch._C._nn.gelu``)
PUBLIC_PREFIXES = {"torch": ("torch.nn.functional",)}


def _private(segment: str) -> bool:
    return segment in PRIVATE or segment.startswith("_")


def _resolve(path: str):
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _candidates(path: str) -> list[str]:
    parts = path.split(".")
    top, modules, names = parts[0], parts[1:-1], parts[-1:]
    if names and names[0] == "__init__":  # a class's constructor: the class
        modules, names = parts[1:-2], parts[-2:-1]
    public = [m for m in modules if not _private(m)]
    found = [f"{top}.{'.'.join(names)}"]
    for i in range(len(public)):
        found.append(".".join([top, *public[: i + 1], *names]))
    return found + [".".join([prefix, *names]) for prefix in PUBLIC_PREFIXES.get(top, ())]


@lru_cache(maxsize=None)
def public_name(path: str) -> str:
    """The shortest public attribute path that is the same object as ``path`` (see the module docstring)."""
    candidates = _candidates(path)
    target = _resolve(path.removesuffix(".__init__"))
    if target is not None:
        for candidate in candidates:
            if _resolve(candidate) is target:
                return candidate
        return path.removesuffix(".__init__")
    parts = path.removesuffix(".__init__").split(".")
    kept = [p for p in parts[1:-1] if not _private(p)]
    while len(kept) > 1 and kept[-1] == kept[-2]:  # keras.activations.activations -> keras.activations
        kept.pop()
    return ".".join([parts[0], *kept, parts[-1]])


def _split_native(native: str) -> tuple[str, str]:
    """``'torch.nn.functional.gelu(approximate=...)'`` -> (``'torch.nn.functional.gelu'``, ``'approximate'``)."""
    fn, _, rest = native.partition("(")
    return fn, rest.split("=")[0]


def _defaults_by(report) -> dict:
    table = {}
    for entry in report.get("defaults", []):
        if entry.get("native"):
            table[(entry["backend"], entry["op"], entry["parameter"])] = entry
    return table


def _family_of(report) -> dict:
    return {r["op"]: r.get("family") or "-" for r in report.get("records", []) if r.get("family")}


def _deviations(report) -> dict:
    """(backend, op) -> {"variants": set, "passes": bool} from the forward/gradient records."""
    out: dict = {}
    for r in report.get("records", []):
        if r.get("check") not in ("forward", "gradient") or r.get("op") in MODEL_IDS:
            continue  # the seed models have their own section (porting_models.py)
        slot = out.setdefault((r["backend"], r["op"]), {"variants": set(), "deviates": False, "passes": False})
        if r.get("matches_variant"):
            slot["variants"].add(r["matches_variant"])
        if r.get("status") == "fail":
            slot["deviates"] = True
        elif r.get("status") == "pass":
            slot["passes"] = True
    return out


def pair_view(report, src: str, dst: str) -> dict:
    """One pair's settings (by family) and remaining differences."""
    defaults, family = _defaults_by(report), _family_of(report)
    settings: dict = {}
    for (backend, op, parameter), d in defaults.items():
        s = defaults.get((src, op, parameter))
        if backend != dst or s is None or s["native_default"] == d["native_default"]:
            continue
        fn, keyword = _split_native(d["native"])
        src_fn, src_keyword = _split_native(s["native"])
        settings.setdefault(family.get(op, "-"), []).append({
            "op": op, "parameter": parameter, "call": f"{public_name(fn)}(..., {keyword}={d_repr(native_value(dst, op, parameter, s['native_default']))})",
            "src": f"{public_name(src_fn)}: {src_keyword}={d_repr(native_value(src, op, parameter, s['native_default']))}",
            "dst_default": d_repr(native_value(dst, op, parameter, d["native_default"])),
        })
    dev = _deviations(report)
    differ = []
    for op in dict.fromkeys(op for (_, op) in dev):
        a, b = dev.get((src, op)), dev.get((dst, op))
        if not a or not b:
            continue
        if a["variants"] != b["variants"] or a["deviates"] != b["deviates"]:
            differ.append({"op": op, "family": family.get(op, "-"),
                           "src": ", ".join(sorted(a["variants"])) or ("deviates" if a["deviates"] else "passes"),
                           "dst": ", ".join(sorted(b["variants"])) or ("deviates" if b["deviates"] else "passes")})
    for rows in settings.values():
        rows.sort(key=lambda row: (row["op"], row["parameter"]))
    return {"src": src, "dst": dst, "settings": dict(sorted(settings.items())), "differ": differ}


def d_repr(value) -> str:
    return repr(value)


@lru_cache(maxsize=None)
def _bindings(backend: str) -> dict:
    """op -> the adapter's Binding (its BINDINGS tables in MRO order); {} when the adapter cannot load here."""
    try:
        from ..backends import load_backend

        adapter = type(load_backend(backend))
    except Exception:
        return {}
    merged = {}
    for cls in reversed(adapter.__mro__):
        merged.update(cls.__dict__.get("BINDINGS", {}))
    return merged


def native_value(backend: str, op: str, parameter: str, value):
    """``value`` (spec vocabulary) as the framework spells it: the binding's ``translate`` table, when it has one."""
    table = getattr(_bindings(backend).get(op), "translate", {}).get(parameter)
    if isinstance(table, dict):
        return table.get(value, value)
    try:
        return table(value) if callable(table) else value
    except Exception:
        return value


def glossary() -> list[dict]:
    """Every variant parameter = value the catalogue declares, with the spec docstring line naming it."""
    from ..conformance.catalogue import CATALOGUE
    from ..conformance.search import FLUSH_TO_ZERO

    rows = {}
    for entry in CATALOGUE.values():
        doc = inspect.getdoc(entry.forward) or ""
        for name, values in {**entry.variants, **FLUSH_TO_ZERO}.items():
            for value in values:
                line = next((ln.strip() for ln in doc.splitlines() if name in ln), "")
                key = (name, value)
                row = rows.setdefault(key, {"parameter": name, "value": value, "ops": [], "meaning": line})
                row["ops"].append(entry.op)
                if not row["meaning"]:
                    row["meaning"] = line
    out = []
    for row in sorted(rows.values(), key=lambda r: (r["parameter"], str(r["value"]))):
        ops = row["ops"]
        row["ops"] = "every op" if len(ops) == len(CATALOGUE) else ", ".join(ops[:8]) + (" …" if len(ops) > 8 else "")
        out.append(row)
    return out


def porting_view(report, root=None) -> dict:
    from pathlib import Path

    # the checkout the guides live in: where `nnspec report` runs (tox runs it in the checkout, with
    # nnspec installed as a wheel), else the one this module was imported from (an editable install)
    candidates = [Path(root)] if root else [Path.cwd(), Path(__file__).resolve().parents[2]]
    root = next((c for c in candidates if any((c / g).exists() for g in GUIDES)), candidates[0])

    backends = {entry["backend"] for entry in report.get("defaults", [])} | {r["backend"] for r in report.get("records", [])}
    pairs = [pair_view(report, s, d) for s, d in PAIRS if s in backends and d in backends]
    return {"pairs": pairs, "guides": [g for g in GUIDES if (Path(root) / g).exists()], "glossary": glossary(),
            "names": FRAMEWORK}


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_porting(report, root=None) -> str:
    view = porting_view(report, root)
    names = view["names"]
    lines = ["# Porting between frameworks", "",
             "Generated from the measured `default` records and check records (nnspec/report/porting_view.py).", ""]
    if view["guides"]:
        lines += ["Weight layouts: " + ", ".join(f"[{g}](../{g})" for g in view["guides"]), ""]
    for pair in view["pairs"]:
        src, dst = names.get(pair["src"], pair["src"]), names.get(pair["dst"], pair["dst"])
        lines += [f"## {src} → {dst}", "", f"Settings to pass in {dst} so it computes what {src} does by default.", ""]
        if not pair["settings"]:
            lines += ["No measured default differs.", ""]
        for family, rows in pair["settings"].items():
            lines += [f"### {family}", "", f"| op | parameter | pass in {dst} | {src} default | {dst} default |",
                      "|---|---|---|---|---|"]
            lines += [f"| {r['op']} | {r['parameter']} | `{_cell(r['call'])}` | `{_cell(r['src'])}` | {_cell(r['dst_default'])} |"
                      for r in rows]
            lines.append("")
        lines += ["### Still differs with no setting", ""]
        if pair["differ"]:
            lines += [f"| op | family | {src} | {dst} |", "|---|---|---|---|"]
            lines += [f"| {d['op']} | {d['family']} | {_cell(d['src'])} | {_cell(d['dst'])} |" for d in pair["differ"]]
        else:
            lines.append("Nothing measured.")
        lines.append("")
    from ..conformance.porting_models import render_section

    lines += render_section(report.get("records", []), heading="##")
    lines += ["## Glossary of variants", "", "| parameter | value | meaning (spec docstring) | ops |", "|---|---|---|---|"]
    lines += [f"| {g['parameter']} | {_cell(repr(g['value']))} | {_cell(g['meaning'])} | {_cell(g['ops'])} |"
              for g in view["glossary"]]
    return "\n".join(lines) + "\n"
