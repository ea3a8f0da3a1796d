"""An inline SVG bar chart of speed, drawn with matplotlib when it is importable.

For each device, each op at its largest measured size: elements/s of every backend
(its best adapter mode, eager or compiled), on a log scale. The SVG is cleaned for
inlining into HTML: no XML prolog, DOCTYPE, metadata, comments or namespace URLs, so the
page stays self-contained. Without matplotlib, or if drawing fails, there is no chart.
"""

from __future__ import annotations

import io
import math
import re
import warnings

from .bench import MEMCPY
from .format import fmt_rate
from .merge import backend_key, device_key


def _series(report: dict) -> list[dict]:
    """Per device: {"device", "dtype", "ops", "backends", "rates": {backend: [rate per op]}}."""
    entries = [
        e for e in report["benchmarks"]
        if e["op"] != MEMCPY and e["mode"] != "native" and e.get("elements_per_s") and isinstance(e.get("elements"), (int, float))
    ]
    panels = []
    for device in sorted({e["device"] for e in entries}, key=device_key):
        on_device = [e for e in entries if e["device"] == device]
        dtypes = [d for d in report["dtypes"] if any(e["dtype"] == d for e in on_device)]
        dtype = "float32" if "float32" in dtypes else (dtypes[0] if dtypes else None)
        chosen = [e for e in on_device if e["dtype"] == dtype]
        ops = [op for op in report["ops"] if any(e["op"] == op for e in chosen)]
        largest = {op: max(e["elements"] for e in chosen if e["op"] == op) for op in ops}
        backends = sorted({e["backend"] for e in chosen}, key=backend_key)
        rates = {
            b: [
                max((e["elements_per_s"] for e in chosen if e["backend"] == b and e["op"] == op and e["elements"] == largest[op]), default=0.0)
                for op in ops
            ]
            for b in backends
        }
        panels.append({"device": device, "dtype": dtype, "ops": ops, "backends": backends, "rates": rates})
    return [p for p in panels if p["ops"]]


def _clean(svg: str) -> str:
    svg = re.sub(r"<\?xml.*?\?>", "", svg, flags=re.S)
    svg = re.sub(r"<!DOCTYPE.*?>", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = svg.replace("<svg ", '<svg class="chart" role="img" ', 1)
    return svg.strip()


def speed_chart_svg(report: dict) -> str | None:
    """The chart as an inline <svg> string, or None (no matplotlib, no benchmarks, or drawing failed)."""
    panels = _series(report)
    if not panels:
        return None
    try:
        import matplotlib
        from matplotlib.figure import Figure  # drawn without pyplot: no GUI backend is touched
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    except Exception:  # matplotlib is optional
        return None
    try:
        with matplotlib.rc_context({"svg.hashsalt": "nnspec-report", "svg.fonttype": "path", "font.size": 9}):
            bars = max(len(p["ops"]) * max(len(p["backends"]), 1) for p in panels)
            width = min(14.0, max(6.0, 3.0 + 0.35 * bars))
            figure = Figure(figsize=(width, 2.6 * len(panels)), layout="constrained")
            axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
            every_backend = sorted({b for p in panels for b in p["backends"]}, key=backend_key)
            palette = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
            colour = {b: palette[i % len(palette)] for i, b in enumerate(every_backend)}  # one colour per backend
            for ax, panel in zip(axes, panels):
                count = len(panel["backends"])
                bar = 0.8 / max(count, 1)
                for i, backend in enumerate(panel["backends"]):
                    xs = [j + (i - (count - 1) / 2) * bar for j in range(len(panel["ops"]))]
                    ax.bar(xs, panel["rates"][backend], width=bar, label=backend, color=colour[backend])
                rates = [r for b in panel["backends"] for r in panel["rates"][b] if r > 0]
                if rates:  # whole decades, so bar lengths compare honestly on the log scale
                    ax.set_ylim(10 ** math.floor(math.log10(min(rates))), 10 ** math.ceil(math.log10(max(rates) * 1.3)))
                ax.set_xticks(range(len(panel["ops"])), panel["ops"], rotation=30, ha="right")
                ax.set_yscale("log")
                # Every decade labelled, whatever the axes' height: LogLocator's automatic tick count, with
                # subs 2 and 5, left a short panel (a title above it) with no y tick at all.
                ax.yaxis.set_major_locator(LogLocator(subs=(1.0,), numticks=32))
                ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0), numticks=32))
                ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: fmt_rate(value)))
                ax.yaxis.set_minor_formatter(NullFormatter())
                ax.set_ylabel("elements/s")
                ax.set_title(f"{panel['device']} · {panel['dtype']} · largest size per op", loc="left")
                ax.grid(axis="y", alpha=0.3)
                ax.legend(fontsize=8, frameon=False, ncols=min(count, 6))
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        return _clean(buffer.getvalue())
    except Exception as exc:  # a chart is never worth a failed report
        warnings.warn(f"speed chart skipped: {exc}", stacklevel=2)
        return None
