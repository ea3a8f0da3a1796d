"""index.html: the report as one self-contained page (inline style and script, no network), coloured by status.

The page adds to what conformance.md shows (``context``) what only a page can do (``page``): filters by
backend, device, dtype, family and status, a search box, a per-backend summary, deviations grouped by
cause, and matrix cells whose records open in a popup built from one JSON block.
"""

from __future__ import annotations

from markupsafe import Markup

from . import page
from .chart import speed_chart_svg
from .context import context
from .format import fmt_param
from .matrix import columns
from .templating import environment


def render_html(report: dict, chart: bool = True) -> str:
    """The page; everything from the results is escaped. ``chart=False`` leaves out the speed chart."""
    env = environment(autoescape=True)
    env.filters["param"] = fmt_param
    svg = speed_chart_svg(report) if chart else None
    shared = context(report)
    cols = columns(report)
    extra = {
        "filters": page.filters(report, cols),
        "summary": page.summary(report, cols),
        "groups": page.deviation_groups(shared["deviations"]),
        "cell_data": page.cell_data(shared["tables"]),  # after the tables: it numbers their cells
    }
    extra["card_data"] = page.card_data(extra["groups"])
    # The chart is our own matplotlib output, cleaned of prolog and namespaces; it is the one unescaped part.
    return env.get_template("index.html.j2").render(**shared, **extra, chart_svg=Markup(svg) if svg else None)
