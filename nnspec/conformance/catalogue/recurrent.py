"""Catalogue rows of the recurrent family."""

from __future__ import annotations

ROWS = []
