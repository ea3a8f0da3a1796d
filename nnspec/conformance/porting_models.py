"""The porting guide for the seed models (docs/porting-models.md and the report's porting.md section).

Per model and framework: the settings the adapter builds the model with (its ``MODEL_SETTINGS``, data beside
the adapter, in the framework's public API names) and what the ``models`` checks measured with them — forward,
gradient and training per dtype, the first layer out of bound, and the floor of agreement (the worst error
relative to the layer's scale). Per framework pair the two columns side by side. The settings are verified by
the records: a setting listed for a framework whose checks pass was run with it.

    python -m nnspec.conformance.porting_models --results DIR            # print the guide
    python -m nnspec.conformance.porting_models --results DIR --write    # rewrite docs/porting-models.md

A framework's adapter module (``nnspec.backends.<name>.models``) that is not there yet is listed as such.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from ..spec import models as M

FRAMEWORKS = {"torch": "PyTorch (torch.nn)", "tensorflow": "Keras 3", "jax": "flax.linen + optax",
              "numpy": "NumPy (spec-composed baseline)"}
PAIRS = (("torch", "tensorflow"), ("torch", "jax"), ("tensorflow", "jax"))
CHECKS = ("forward", "gradient", "training")
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "porting-models.md"


def settings(backend: str) -> dict | None:
    """model id (or "*") -> tuple of Setting, from the adapter's MODEL_SETTINGS; None where it has no models."""
    if not (Path(__file__).resolve().parents[1] / "backends" / backend / "models.py").exists():
        return None  # not built yet: importing the framework to learn that costs seconds
    try:
        module = importlib.import_module(f"nnspec.backends.{backend}.models")
    except Exception:  # noqa: BLE001 -- not built yet, or its framework is not installed here
        return None
    table = {}
    for value in vars(module).values():
        if isinstance(value, type) and isinstance(getattr(value, "MODEL_SETTINGS", None), dict):
            table.update(value.MODEL_SETTINGS)
    residuals, traps = {}, {}
    for value in vars(module).values():
        if isinstance(value, type) and isinstance(getattr(value, "MODEL_RESIDUALS", None), dict):
            residuals.update(value.MODEL_RESIDUALS)
        if isinstance(value, type) and isinstance(getattr(value, "MODEL_TRAPS", None), dict):
            traps.update(value.MODEL_TRAPS)
    return {"settings": table, "residuals": residuals, "traps": traps}


def measured(records) -> dict:
    """(backend, model, check) -> {dtype: record} of the models records."""
    out: dict = {}
    for r in records:
        if r.get("op") in M.MODELS and r.get("check") in CHECKS and r.get("kind", "check") == "check":
            out.setdefault((r["backend"], r["op"], r["check"]), {})[r["dtype"]] = r
    return out


def _short(r) -> str:
    if r is None:
        return "not run"
    status = r["status"]
    rel = r.get("max_rel")
    floor = (f", worst {rel:.1e} of the layer's scale" if r.get("check") == "training" and
             isinstance(rel, (int, float)) and rel else "")
    if status == "pass":
        return f"pass ({r.get('max_ulp', 0) or 0:.3g} ULP{floor})"
    where = f" at {r['layer']}" if r.get("layer") else ""
    step = f" step {r['first_failing_step']}" if r.get("first_failing_step") else ""
    message = (r.get("message") or "").split(":")[0]
    return f"{status}{where}{step}: {message}{floor}"


def _size(item, check="training") -> str:
    """A measured trap (a record's ``traps`` item) in a few words: where it first leaves the bound, how far (ULP;
    a training trap also relative to the layer's scale, the training record's own relative measure)."""
    if item is None:
        return "not run"
    status = item.get("status")
    if status == "error":
        return f"error: {item.get('message', '')}"
    rel = item.get("max_rel") if check == "training" else None
    size = ", ".join(filter(None, [f"{item['max_ulp']:.3g} ULP" if isinstance(item.get("max_ulp"), (int, float))
                                   else None,
                                   f"{rel:.1e} of the layer's scale" if isinstance(rel, (int, float)) and rel
                                   else None]))
    if status == "pass":
        return f"pass ({size})" if size else "pass"
    where = " ".join(filter(None, [f"at {item['layer']}" if item.get("layer") else "",
                                   f"step {item['step']}" if item.get("step") else ""]))
    optimizer = (item.get("message") or "").split(" step")[0] if item.get("step") else ""
    return f"{status} {where}" + (f" ({optimizer})" if optimizer in ("momentum", "adam") else "") + f": {size}"


def floor(table, backend, model) -> str:
    """The floor of agreement one can expect with the settings: per dtype the worst error of the three checks (ULP;
    training also relative to the layer's scale), or the check that fails (no floor where one does)."""
    parts = []
    dtypes = sorted({d for c in CHECKS for d in table.get((backend, model, c), {})})
    for dtype in dtypes:
        records = [table.get((backend, model, c), {}).get(dtype) for c in CHECKS]
        records = [r for r in records if r is not None and r.get("status") != "unsupported"]
        if not records:
            continue
        bad = [r for r in records if r["status"] != "pass"]
        if bad:
            parts.append(f"{dtype}: none ({', '.join(_failing(r) for r in bad)})")
            continue
        ulp = max(float(r.get("max_ulp") or 0) for r in records)
        rel = max((float(r["max_rel"]) for r in records if r.get("check") == "training" and
                   isinstance(r.get("max_rel"), (int, float))), default=None)
        parts.append(f"{dtype}: {ulp:.3g} ULP" + (f" ({rel:.1e} of the layer's scale after {records[-1].get('steps')}"
                                                  " steps)" if rel else ""))
    return "; ".join(parts) or "not run"


def _failing(r) -> str:
    return f"{r['check']} fails" + (f" at {r['layer']}" if r.get("layer") else "")


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_section(records, heading="#") -> list[str]:
    """The guide's body: per model, each framework's settings and measurements, then the pairs."""
    table = measured(records)
    lines = [f"{heading} Seed models", "",
             "Per model: the settings each adapter builds it with (its `MODEL_SETTINGS`) and what the `models` "
             "checks measured with them (forward, gradient, training with SGD+momentum and Adam; the first layer "
             "out of bound). Architectures, weights and layers: nnspec/spec/models.py.", ""]
    backends = [b for b in FRAMEWORKS if any(k[0] == b for k in table) or settings(b) is not None]
    for model in M.MODELS:
        lines += [f"{heading}# {model}", "", "| framework | settings | " + " | ".join(CHECKS) + " |",
                  "|---|---|" + "---|" * len(CHECKS)]
        for backend in backends:
            own = settings(backend)
            if own is None and not any(k[:2] == (backend, model) for k in table):
                continue
            listed = [] if own is None else [*own["settings"].get("*", ()), *own["settings"].get(model, ())]
            text = "; ".join(f"`{s.api}` ({s.layer}: {s.why})" for s in listed) or "—"
            cells = []
            for check in CHECKS:
                by_dtype = table.get((backend, model, check), {})
                cells.append("<br>".join(f"{d}: {_short(r)}" for d, r in sorted(by_dtype.items())) or "not run")
            lines.append(f"| {FRAMEWORKS[backend]} | {_cell(text)} | " + " | ".join(_cell(c) for c in cells) + " |")
            if own is not None and own["residuals"].get(model):
                lines.append(f"| | still differs: {_cell('; '.join(own['residuals'][model]))} | | | |")
        floors = [f"{FRAMEWORKS[b]} {floor(table, b, model)}" for b in backends
                  if any(k[:2] == (b, model) for k in table)]
        lines += ["", "Floor of agreement one can expect with the settings (the run's worst error of forward, gradient "
                  "and training; none where a check fails): " + ("; ".join(floors) if floors else "not run") + "."]
        lines.append("")
    lines += _trap_table(table, backends, heading)
    lines += [f"{heading}# Framework pairs", "",
              "For each pair, the models where one framework agrees with the spec and the other does not (the "
              "layer named is where the numbers part); both columns are measured against the same spec, so "
              "a model both pass is one the pair agrees on to that bound.", ""]
    for src, dst in PAIRS:
        rows = []
        for model in M.MODELS:
            for check in CHECKS:
                a, b = table.get((src, model, check), {}), table.get((dst, model, check), {})
                for dtype in sorted(set(a) | set(b)):
                    ra, rb = a.get(dtype), b.get(dtype)
                    if (ra or {}).get("status") != (rb or {}).get("status") or "fail" in (
                            (ra or {}).get("status"), (rb or {}).get("status")):
                        rows.append(f"| {model} | {check} | {dtype} | {_cell(_short(ra))} | {_cell(_short(rb))} |")
        lines += [f"{heading}## {FRAMEWORKS[src]} → {FRAMEWORKS[dst]}", ""]
        if rows:
            lines += [f"| model | check | dtype | {FRAMEWORKS[src]} | {FRAMEWORKS[dst]} |", "|---|---|---|---|---|",
                      *rows, ""]
        else:
            lines += ["Nothing measured differs (or nothing measured yet).", ""]
    return lines


def _trap_table(table, backends, heading) -> list[str]:
    """"Training traps, measured": every trap an adapter states (its ``MODEL_TRAPS``), the check with the setting
    (the record) and without it (the record's ``traps`` item: the first layer and step out of bound, the size)."""
    rows = []
    for model in M.MODELS:
        for backend in backends:
            own = settings(backend)
            for trap in (own or {}).get("traps", {}).get(model, ()):
                with_, without = [], []
                for check in trap.checks:
                    for dtype, record in sorted(table.get((backend, model, check), {}).items()):
                        item = next((t for t in record.get("traps", []) if t.get("name") == trap.name), None)
                        with_.append(f"{check} {dtype}: {_short(record)}")
                        without.append(f"{check} {dtype}: {_size(item, check)}")
                rows.append(f"| {model} | {FRAMEWORKS[backend]} | {_cell(trap.name)} ({_cell(trap.layer)}) | "
                            f"`{_cell(trap.setting_off)}`: {_cell(trap.why)} | "
                            f"{'<br>'.join(map(_cell, with_)) or 'not run'} | "
                            f"{'<br>'.join(map(_cell, without)) or 'not run'} |")
    lines = [f"{heading}# Training traps, measured", "",
             "Each trap an adapter states (`MODEL_TRAPS`): the model built or trained the way the trap's line says "
             "instead of with the setting, and the same check run once more on the run's first example (the setting "
             "off) — measured, not estimated. \"with the setting\" is the check's record; \"without\" is where that "
             "run first leaves the bound (layer, step) and its worst error. A parameter whose true gradient is 0 (a "
             "conv bias feeding batch norm, attention's key bias b_k) has no setting: Adam turns its rounding-noise "
             "gradient into steps of up to lr in every framework, which is the training records' own failure at "
             "conv1 / block (step 1, adam) above.", ""]
    if rows:
        lines += ["| model | framework | trap (where) | what the user writes instead: what happens | with the setting "
                  "| without it |", "|---|---|---|---|---|---|", *rows, ""]
    else:
        lines += ["No adapter states a trap (or nothing measured yet).", ""]
    return lines


def guide(records) -> str:
    lines = ["# Porting the seed models", "",
             "Generated by `python -m nnspec.conformance.porting_models --results DIR --write` from the adapters' "
             "`MODEL_SETTINGS` and the `models` records of the run in DIR; weight layouts: "
             "[porting-recurrent.md](porting-recurrent.md), [porting-conv.md](porting-conv.md).", "",
             "Traps only whole-model training shows, as the checks measure them: a parameter whose true gradient "
             "is 0 (a conv bias feeding batch norm, attention's key bias) gets full-size Adam steps from rounding "
             "noise, so its trajectory is noise in every framework and dtype (the record names that layer at step "
             "1 under adam); torch's two recurrent biases (bias_ih, bias_hh) both train, so their sum — the one "
             "canonical bias — moves twice the step under SGD and Adam alike. Each trap a setting avoids is "
             "measured with the setting off in \"Training traps, measured\" below.", ""]
    return "\n".join(lines + render_section(records)[2:]) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nnspec.conformance.porting_models")
    parser.add_argument("--results", help="a results directory (nnspec run --results) or a conformance.json")
    parser.add_argument("--write", action="store_true", help=f"rewrite {GUIDE.name}")
    args = parser.parse_args(argv)
    records = []
    if args.results:
        from .results import read_report_file, read_results

        path = Path(args.results)
        records = (read_report_file(path).get("records", []) if path.is_file()
                   else [r for r in read_results(path) if r.get("kind", "check") == "check"])
    text = guide(records)
    if args.write:
        GUIDE.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
