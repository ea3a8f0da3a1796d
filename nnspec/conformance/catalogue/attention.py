"""Catalogue rows of the attention family."""

from __future__ import annotations

ROWS = []
