"""index.html: the report as one self-contained page (inline style, no network), coloured by status."""

from __future__ import annotations

from markupsafe import Markup

from .chart import speed_chart_svg
from .context import context
from .format import fmt_param
from .templating import environment


def render_html(report: dict, chart: bool = True) -> str:
    """The page; everything from the results is escaped. ``chart=False`` leaves out the speed chart."""
    env = environment(autoescape=True)
    env.filters["param"] = fmt_param
    svg = speed_chart_svg(report) if chart else None
    # The chart is our own matplotlib output, cleaned of prolog and namespaces; it is the one unescaped part.
    return env.get_template("index.html.j2").render(**context(report), chart_svg=Markup(svg) if svg else None)
