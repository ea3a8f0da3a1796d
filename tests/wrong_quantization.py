"""Deliberately wrong quantization adapters: each is one way a quantizer port breaks, which the engine must catch.

They subclass the NumPy baseline (the spec) and change one thing: ties rounded half up
(⌊v + ½⌋, a port's floor(x + 0.5)) where the spec rounds half to even, or a straight-through
gradient that passes the cotangent everywhere, ignoring the clip range.
"""

from __future__ import annotations

from nnspec.backends.numpy import NumpyBackend, in_dtype
from nnspec.spec import quantization as Q


class HalfUpRounding(NumpyBackend):
    """round(v) as floor(v + 0.5): ties go up (−2.5 → −2), not to even."""

    name = "half-up-rounding"

    def quantize(self, x, scale, zero_point, quant_min, quant_max, axis):
        return in_dtype(Q.quantize, x, scale, zero_point, quant_min=quant_min, quant_max=quant_max, axis=axis,
                        rounding="half_up")

    def fake_quantize(self, x, scale, zero_point, quant_min, quant_max, axis):
        return in_dtype(Q.fake_quantize, x, scale, zero_point, quant_min=quant_min, quant_max=quant_max,
                        axis=axis, rounding="half_up")


class UnclippedStraightThrough(NumpyBackend):
    """fake_quantize's backward passes the cotangent through everywhere, also where the forward clipped."""

    name = "unclipped-straight-through"

    def vjp(self, op, inputs, cotangent, params, wrt=(0,)):
        if op != "fake_quantize":
            return super().vjp(op, inputs, cotangent, params, wrt)
        return in_dtype(Q.fake_quantize_vjp, *inputs, cotangent, **params, gradient="identity")


class HalfRangeSymmetricScale(NumpyBackend):
    """The symmetric int8 scale as amax/127.5 (the range's half width) instead of amax/127."""

    name = "half-range-symmetric-scale"

    def quant_params(self, x_min, x_max, quant_min, quant_max, symmetric, eps):
        return in_dtype(Q.quant_params, x_min, x_max, quant_min=quant_min, quant_max=quant_max, symmetric=symmetric,
                        eps=eps, symmetric_divisor="half_range")
