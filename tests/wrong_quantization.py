"""Deliberately wrong quantization adapters: each is one way a quantizer port breaks, which the engine must catch.

They subclass the NumPy baseline (the spec) and change one thing: ties rounded half up
(⌊v + ½⌋, a port's floor(x + 0.5)) where the spec rounds half to even, a fake_quantize that
re-derives ("nudges") its scale and zero point from the float32 range, a straight-through
gradient that passes the cotangent everywhere, ignoring the clip range, a symmetric scale of
amax/127.5, an int8 dense layer whose accumulator saturates at int16, one that requantizes ties
half up, one whose requantization scale is a truncated 16-bit fixed-point ratio of ranges and one
that drops the output zero point, and loss scalers that
take the overflowed step or grow the scale after every finite step.
"""

from __future__ import annotations

import numpy as np

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


class Float32RangeNudging(NumpyBackend):
    """fake_quantize ported from TF's / Keras' fake_quant: the range [(quant_min − z)·s, (quant_max − z)·s]
    handed over, its scale and zero point re-derived ("nudged") from it in float32 and x rounded ⌊v + ½⌋ on
    that grid in float32, instead of the given scale and zero point in exact arithmetic."""

    name = "float32-range-nudging"

    def fake_quantize(self, x, scale, zero_point, quant_min, quant_max, axis):
        return in_dtype(Q.fake_quantize, x, scale, zero_point, quant_min=quant_min, quant_max=quant_max,
                        axis=axis, nudging="float32_range")

    def vjp(self, op, inputs, cotangent, params, wrt=(0,)):
        if op != "fake_quantize":
            return super().vjp(op, inputs, cotangent, params, wrt)
        return in_dtype(Q.fake_quantize_vjp, *inputs, cotangent, **params, nudging="float32_range")


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


class Int16Accumulator(NumpyBackend):
    """quantized_dense's accumulator saturating at int16's range instead of holding an int32."""

    name = "int16-accumulator"

    def quantized_dense(self, x_q, w_q, x_scale, x_zero_point, w_scale, out_scale, out_zero_point, quant_min,
                        quant_max, axis):
        x = np.clip(x_q.astype(np.float64), quant_min, quant_max) - float(x_zero_point)
        acc = np.clip(x @ w_q.astype(np.float64).T, -2.0 ** 15, 2.0 ** 15 - 1)
        scale = np.broadcast_to(w_scale.astype(np.float64).reshape(-1), (acc.shape[1],))
        y = np.rint(acc * (float(x_scale) * scale) / float(out_scale)) + float(out_zero_point)
        return np.clip(y, quant_min, quant_max).astype(x_q.dtype)


class HalfUpRequantization(NumpyBackend):
    """quantized_dense's M·acc rounded half up (floor(v + 0.5)) where the spec rounds ties to even."""

    name = "half-up-requantization"

    def quantized_dense(self, *arrays, **params):
        return in_dtype(Q.quantized_dense, *arrays, **params, rounding="half_up")


class TruncatedRequantizationScale(NumpyBackend):
    """quantized_dense requantized through float32 ranges and a truncated 16-bit fixed-point scale (TF's legacy
    Requantize) where the spec multiplies by M exactly."""

    name = "truncated-requantization-scale"

    def quantized_dense(self, *arrays, **params):
        return in_dtype(Q.quantized_dense, *arrays, **params, multiplier="range_q16")


class DroppedOutputZeroPoint(NumpyBackend):
    """quantized_dense requantized without adding the output zero point (z_y taken as 0)."""

    name = "dropped-output-zero-point"

    def quantized_dense(self, x_q, w_q, x_scale, x_zero_point, w_scale, out_scale, out_zero_point, **params):
        return in_dtype(Q.quantized_dense, x_q, w_q, x_scale, x_zero_point, w_scale, out_scale,
                        np.zeros_like(out_zero_point), **params)


def _loss_scaled(params, grads, lr, init_scale, growth_factor, backoff_factor, growth_interval, min_scale, *,
                 skip=True, grow_every_step=False):
    """A loss scaler's loop (the deliberately wrong ones: not skipping, or growing at every finite step)."""
    big = float(np.finfo(params.dtype).max)
    w, scale, counter, states = params.astype(np.float64).ravel(), float(init_scale), 0, []
    for g in grads.astype(np.float64):
        g = g.ravel()
        with np.errstate(all="ignore"):
            finite = bool(np.all(np.isfinite(g)) and np.all(np.abs(scale * g) <= big))
            if finite or not skip:
                w = w - lr * g
        if finite:
            counter += 1
            if grow_every_step or counter == growth_interval:
                scale, counter = scale * growth_factor, 0
        else:
            scale, counter = max(scale * backoff_factor, min_scale), 0
        states.append(np.concatenate([w, [scale]]))
    return np.asarray(states).astype(params.dtype)


class UnskippedLossScale(NumpyBackend):
    """Backs the scale off on an overflow but takes the step anyway (the inf or nan reaches the parameters)."""

    name = "unskipped-loss-scale"

    def dynamic_loss_scale(self, params, grads, **hyper):
        return _loss_scaled(params, grads, **hyper, skip=False)


class EagerGrowthLossScale(NumpyBackend):
    """Grows the scale after every finite step, ignoring growth_interval."""

    name = "eager-growth-loss-scale"

    def dynamic_loss_scale(self, params, grads, **hyper):
        return _loss_scaled(params, grads, **hyper, grow_every_step=True)
