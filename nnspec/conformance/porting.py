"""The porting guide for recurrent weights, generated from the adapters' own layout tables.

Each recurrent adapter states its framework's parameters in the spec's vocabulary
(``LAYOUTS``: ``Param``s made of ``Block``s, nnspec/spec/recurrent.py) and builds its
layers from exactly those tables, which the ``layout`` check holds to a bit-exact round
trip. This module reads the same tables and writes, for every pair of torch, Keras and
flax, which slice of one framework's tensors goes where in the other's: gate order,
transposes, sign flips, bias sums and splits.

    python -m nnspec.conformance.porting            # print the guide
    python -m nnspec.conformance.porting --write    # rewrite docs/porting-recurrent.md

tests/test_recurrent_porting.py fails when the committed guide is stale.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
from pathlib import Path

from ..spec import recurrent as R

ADAPTERS = {  # framework -> the adapter module holding its LAYOUTS, layout() and PORTING
    "torch": "nnspec.backends.torch.recurrent",
    "keras": "nnspec.backends.tensorflow.recurrent",
    "flax": "nnspec.backends.jax.recurrent",
}
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "porting-recurrent.md"
KINDS = {"lstm": "LSTM", "gru": "GRU", "rnn": "simple RNN"}
FORMS = {"reset_after": "reset after the product (torch, flax, Keras' default `reset_after=True`)",
         "reset_before": "reset before the product (Keras `reset_after=False`, the textbook)"}
SOURCES = {"w_ih": "input weights", "w_hh": "recurrent weights", "b": "bias", "b_hn": "candidate's recurrent bias"}


def adapters() -> dict:
    return {name: importlib.import_module(module) for name, module in ADAPTERS.items()}


def _span(k: int) -> str:
    return f"{'' if k == 0 else ('H' if k == 1 else f'{k}H')}:{'H' if k == 0 else f'{k + 1}H'}"


def _matrix(source: str) -> bool:
    return source in ("w_ih", "w_hh")


def _shape(kind: str, param: R.Param) -> str:
    width = f"{len(param.rows[0])}H".replace("1H", "H") if len(param.rows[0]) > 1 else "H"
    source = param.rows[0][0].source
    if _matrix(source):
        fan_in = "I" if source == "w_ih" else "H"
        return f"({fan_in}, {width})" if param.transpose else f"({width}, {fan_in})"
    return f"({len(param.rows)}, {width})" if len(param.rows) > 1 else f"({width},)"


def _locate(layout, source: str, gate: str):
    """(param, row, index, block) of the value block, and of the addend block, holding (source, gate)."""
    value = addend = None
    for param in layout:
        for row, blocks in enumerate(param.rows):
            for index, block in enumerate(blocks):
                if (block.source, block.gate) == (source, gate):
                    if block.addend:
                        addend = (param, row, index, block)
                    else:
                        value = (param, row, index, block)
    return value, addend


def _term(framework: str, located, target_transposed: bool) -> str:
    param, row, index, block = located
    name = "/".join(param.path)
    single = len(param.rows) == 1 and len(param.rows[0]) == 1
    if single:
        where = ""
    elif len(param.rows) > 1:
        where = f"[{row}, {_span(index)}]"
    elif param.transpose:
        where = f"[:, {_span(index)}]"
    else:
        where = f"[{_span(index)}]"
    flip = "ᵀ" if _matrix(block.source) and param.transpose != target_transposed else ""
    return f"{framework} `{name}{where}`{flip}"


def _expression(source_name: str, source_layout, block: R.Block, target_transposed: bool) -> str:
    """What to write into one target block, in terms of the source framework's tensors."""
    if block.addend:
        return "0 (the sum of both biases goes to the first)"
    value, addend = _locate(source_layout, block.source, block.gate)
    if value is None:  # the source folds this array into another (Keras' reset-before b_n + b_hn)
        terms, sign = ["0"], 1
    else:
        terms = [_term(source_name, value, target_transposed)]
        if addend is not None:
            terms.append(_term(source_name, addend, target_transposed))
        sign = value[3].sign * block.sign
    if block.plus is not None:
        extra, _ = _locate(source_layout, block.plus, block.gate)
        if extra is not None:
            terms.append(_term(source_name, extra, target_transposed))
    text = " + ".join(terms)
    if sign < 0:
        text = f"−({text})" if len(terms) > 1 else f"−{text}"
    return text


def _contents(kind: str, param: R.Param) -> str:
    """The blocks of one tensor, runs of the same source grouped: "i, f, g, o of w_ih"."""
    rows = []
    for blocks in param.rows:
        runs = []
        for block in blocks:
            key = (block.source, block.addend, block.plus)
            gate = ("−" if block.sign < 0 else "") + block.gate
            if runs and runs[-1][0] == key:
                runs[-1][1].append(gate)
            else:
                runs.append((key, [gate]))
        texts = []
        for (source, addend, plus), gates in runs:
            note = " (a second bias, added to the first)" if addend else (f" + {plus}" if plus else "")
            texts.append(f"{', '.join(gates)} of `{source}`{note}")
        rows.append("; ".join(texts))
    return "; ".join(f"row {r}: {text}" for r, text in enumerate(rows)) if len(rows) > 1 else rows[0]


def _forms(kind: str, info: dict):
    return [(form, form == "reset_after") for form in info["gru_forms"]] if kind == "gru" else [(None, False)]


def render() -> str:
    mods = adapters()
    out = [
        "# Porting recurrent weights between torch, Keras and flax",
        "",
        "Generated by `python -m nnspec.conformance.porting --write` from the adapters' layout tables",
        "(`LAYOUTS` in `nnspec/backends/{torch,tensorflow,jax}/recurrent.py`), the tables the conformance",
        "run builds every layer from and holds to a bit-exact round trip (the `layout` check). Do not edit",
        "by hand: `tests/test_recurrent_porting.py` fails when this file is stale.",
        "",
        "## The canonical layout",
        "",
        "nnspec's spec (`nnspec/spec/recurrent.py`) stacks gates along the first axis, gate-major:",
        "LSTM `(i, f, g, o)`, GRU `(r, z, n)`, simple RNN `(h)`; `w_ih` is (G·H, I), `w_hh` (G·H, H),",
        "ONE bias `b` (G·H,) per gate, and for the GRU `b_hn` (H,), the candidate's recurrent bias.",
        "Its GRU is the textbook h' = (1 − z)·h + z·n; every framework below keeps the old state with z",
        "instead, h' = z·h + (1 − z)·n, i.e. stores −(the canonical z rows), as σ(−a) = 1 − σ(a).",
        "A `−` marks such a negated gate. Between two frameworks that both store the mirror, the signs cancel.",
        "",
        "Reading the tables: `H` is the hidden size, `I` the input size; `[H:2H]` a slice along the gate",
        "axis; `ᵀ` a transpose (torch stores (gates·H, fan_in), Keras and flax (fan_in, gates·H)).",
        "Frameworks with two biases per gate add them: the other frameworks' one bias is their sum.",
        "",
        "## Conventions",
        "",
        "| framework | layers | parameter names | states | GRU forms |",
        "|---|---|---|---|---|",
    ]
    for name, mod in mods.items():
        info = mod.PORTING
        layers = "; ".join(f"`{v}`" for v in info["layers"].values())
        forms = ", ".join(f.replace("_", "-") for f in info["gru_forms"])
        out.append(f"| {name} | {layers} | {info['names']} | {info['states']} | {forms} |")
    for name, mod in mods.items():
        out += ["", f"## {name}: parameters in canonical terms", ""]
        for kind in KINDS:
            for form, reset_after in _forms(kind, mod.PORTING):
                title = KINDS[kind] + (f", {FORMS[form]}" if form else "")
                out += [f"### {name} {title}", "", "| tensor | shape | holds, along the gate axis |", "|---|---|---|"]
                for param in mod.layout(kind, reset_after):
                    out.append(f"| `{'/'.join(param.path)}` | {_shape(kind, param)} | {_contents(kind, param)} |")
                out.append("")
    out += ["## From one framework to another", ""]
    for (a, ma), (b, mb) in itertools.permutations(mods.items(), 2):
        for kind in ("lstm", "gru"):
            for form, reset_after in _forms(kind, mb.PORTING):
                title = KINDS[kind] + (f", {FORMS[form]}" if form else "")
                out += [f"### {a} → {b}: {title}", ""]
                if kind == "gru" and form not in ma.PORTING["gru_forms"]:
                    out += [f"Not portable: {a} has no GRU of this form (a {a} GRU resets "
                            f"{'after' if 'reset_after' in ma.PORTING['gru_forms'] else 'before'} the product; "
                            f"the two compute different functions).", ""]
                    continue
                out += [f"| {b} | = |", "|---|---|"]
                source_layout = ma.layout(kind, reset_after)
                for param in mb.layout(kind, reset_after):
                    for row, blocks in enumerate(param.rows):
                        for index, block in enumerate(blocks):
                            target = _term(b, (param, row, index, block), param.transpose)
                            expression = _expression(a, source_layout, block, param.transpose)
                            out.append(f"| {target} ({block.gate} of {SOURCES[block.source]}) | {expression} |")
                out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {GUIDE}")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        GUIDE.write_text(text, encoding="utf-8")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
