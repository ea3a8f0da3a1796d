"""Numpy adapter, embedding: the spec's lookup and scatter-add in the table's dtype."""

from __future__ import annotations

from ...spec import embedding as E
from .formulas import spec_binding


class Embedding:
    BINDINGS = {"embedding": spec_binding(E.embedding)}
