"""torch adapter, attention."""

from __future__ import annotations


class Attention:
    pass
