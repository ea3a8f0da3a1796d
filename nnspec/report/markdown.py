"""conformance.md: the report as GitHub-flavoured Markdown."""

from __future__ import annotations

import re

from .context import context
from .templating import environment

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")


def md(value, table: bool = True) -> str:
    """Text that Markdown shows as it is: specials escaped, newlines folded (a table row is one line)."""
    text = _SPECIAL.sub(r"\\\1", str(value))
    return re.sub(r"\s*\n\s*", " " if table else "  \n", text)


def code(value, table: bool = False) -> str:
    """A code span holding ``value`` verbatim, whatever backticks it contains."""
    text = re.sub(r"\s*\n\s*", " ", str(value))
    if table:
        text = text.replace("|", "\\|")  # GFM splits table cells on | even inside code spans
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    if text.startswith("`") or text.endswith("`") or (text and not text.strip(" ")):
        text = f" {text} "
    return f"{fence}{text}{fence}"


def render_markdown(report: dict) -> str:
    env = environment(autoescape=False)
    env.filters["md"] = md
    env.filters["code"] = code
    return env.get_template("conformance.md.j2").render(**context(report))
