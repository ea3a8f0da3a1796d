"""Catalogue rows of the losses family."""

from __future__ import annotations

ROWS = []
