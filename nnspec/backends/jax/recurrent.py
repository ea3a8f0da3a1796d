"""jax adapter, recurrent."""

from __future__ import annotations


class Recurrent:
    pass
