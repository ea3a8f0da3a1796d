"""Numpy adapter, normalization: the spec's batch norm in the input's dtype."""

from __future__ import annotations

from ...spec import normalization as N
from .formulas import spec_binding


class Normalization:
    BINDINGS = {op: spec_binding(getattr(N, op))
                for op in ("batch_norm", "l2_normalize", "group_norm", "instance_norm")}
