"""Numpy adapter, quantization: the spec's quantize, dequantize and fake_quantize.

The spec's formulas divide and round in float64 whatever the input's dtype (that is what makes
them exact), so the baseline is the spec itself, its result rounded to the input's dtype.
"""

from __future__ import annotations

from ...spec import quantization as Q
from .formulas import spec_binding


class Quantization:
    BINDINGS = {op: spec_binding(getattr(Q, op)) for op in ("quantize", "dequantize", "fake_quantize", "quant_params")}
