"""Numpy adapter, quantization: the spec's ops (quantize ... dynamic_loss_scale) run as the baseline.

The spec's formulas divide and round in float64 whatever the input's dtype (that is what makes
them exact), so the baseline is the spec itself, its result rounded to the input's dtype.
"""

from __future__ import annotations

from ...spec import quantization as Q
from ..base import unsupported
from .formulas import spec_binding


class Quantization:
    BINDINGS = {op: spec_binding(getattr(Q, op)) for op in ("quantize", "dequantize", "fake_quantize", "quant_params",
                                                            "quantized_dense", "dynamic_loss_scale")}
    UNSUPPORTED = {"dynamic_loss_scale": unsupported("mixed precision keeps the loss scale and master parameters in "
                                                     "float32 (a scale doubling past 2^15 leaves float16)",
                                                     dtypes={"float16"})}
