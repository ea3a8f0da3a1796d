"""Catalogue rows of the optimizers family."""

from __future__ import annotations

ROWS = []
