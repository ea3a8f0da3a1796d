"""torch adapter, losses."""

from __future__ import annotations


class Losses:
    pass
