"""numpy adapter, optimizers."""

from __future__ import annotations


class Optimizers:
    pass
