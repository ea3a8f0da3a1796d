"""TensorFlow adapter, quantization: tf.quantization's fake-quant ops.

``fake_quantize`` is ``tf.quantization.fake_quant_with_min_max_vars`` (per tensor) or
``..._per_channel`` (which quantizes along the last axis only: another axis is unsupported).
TF takes a real range [min, max] and a bit width, not a scale and zero point; the spec's are
passed as min = (quant_min − z)·scale, max = (quant_max − z)·scale, num_bits = log2 of the
range's size (256 → 8, 16 → 4; narrow_range=False). TF then re-derives ("nudges") a float32
scale (max − min)/(2^bits − 1) and a zero point rounded onto the integer grid — from these
ranges it recovers the spec's scale and zero point up to float32 rounding — and shifts the
integer range to [0, 2^bits − 1], which changes nothing fake_quantize returns. That re-derivation
in float32 is the spec's variant ``nudging="float32_range"`` (Keras 3's pure-ops path, bit for bit);
TF's gradient masks on its nudged range, but its forward rounds some near-ties otherwise (measured in
tests/test_quantization_adapters.py). float32 only.

``quant_params``: TensorFlow has no observer (fake_quant's nudging of min/max happens inside its
kernel); Keras 3's ``keras.quantizers.abs_max_quantize`` is the symmetric scheme: it observes
the two ends [x_min, x_max] (along axis 0, so one scale per channel) with
value_range=(quant_min, quant_max) and returns the *multiplier* quant_max/(amax + epsilon), of
which the adapter returns the step 1/multiplier; its zero point is 0 by construction. Affine
schemes and unsigned ranges have no Keras counterpart: unsupported.

``quantize`` and ``dequantize``: ``tf.quantization.quantize`` / ``dequantize`` in mode SCALED (the
one mode whose grid is the spec's with zero point 0; MIN_COMBINED and MIN_FIRST fix their own
offset), qint8 or quint8, given the real range [quant_min·s, quant_max·s] (per channel along
``axis``), ``ensure_minimum_range=0`` and TF's default ``round_mode="HALF_AWAY_FROM_ZERO"``: from
that range SCALED derives the multiplier min(quant_min/min, quant_max/max) = fl32(1/s). Its
``HALF_TO_EVEN`` path derives the step differently, 2·max(|min|, |max|)/255 (amax/127.5: measured in
tests/test_quantization_adapters.py), so no range gives it the spec's step without nnspec
computing one: the adapter stays on the default path. A nonzero zero point raises Unsupported
(it depends on the inputs); float32 only; int4 has no quantized dtype.

``quantized_dense`` (requantized to an output scale and zero point): ``tf.raw_ops.QuantizedMatMul``
(the int8 GEMM with an int32 accumulator, whose CPU kernel takes quint8 × quint8 operands only: qint8
has no kernel, measured) then ``tf.raw_ops.Requantize`` of the qint32 result into the output's range.
TF describes a quantized tensor by its real range [min, max] (the integer 0 ↔ min, step
(max − min)/255), not by a scale and zero point, so each operand is handed over as its own integers
shifted onto [0, 255] with the range that puts the spec's zero point where the shift moves it:
activations of [quant_min, quant_max] as x_q − quant_min with range [(quant_min − z_x)·s_x,
(quant_max − z_x)·s_x]; the symmetric int8 weights as w_q + 128 with range [−128·s_w, 127·s_w] (TF
recovers step s and zero point z exactly: 255·s is exact in float32 for the short mantissas drawn);
the output requested as [(quant_min − z_y)·s_y, (quant_max − z_y)·s_y] and shifted back. One range per
operand: per-channel weight scales unsupported; the ranges are float32 tensors (float32 only). Keras
3's int8 Dense is not the op (it quantizes its activations itself at call time and returns floats).

``dynamic_loss_scale``: ``keras.optimizers.LossScaleOptimizer`` around ``keras.optimizers.SGD``,
eagerly: ``scale_loss`` on loss = Σ w·g under a GradientTape (the gradient is S·g), then
``apply`` (which unscales, skips a non-finite step and adjusts the scale). Keras doubles, halves
and never floors its scale (FIXED); its initial scale is 2^15, torch's 2^16.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from ..base import Unsupported, unsupported


def _tf_range(scale, zero_point, quant_min, quant_max):
    levels = quant_max - quant_min + 1
    bits = int(math.log2(levels))
    if 2 ** bits != levels or not 2 <= bits <= 16:
        raise Unsupported(f"TF fake_quant takes 2^num_bits levels (2..16 bits), not [{quant_min}, {quant_max}]")
    zero_point = tf.cast(zero_point, scale.dtype)
    return (quant_min - zero_point) * scale, (quant_max - zero_point) * scale, bits


FAKE_QUANT = tf.quantization.fake_quant_with_min_max_vars


LOSS_SCALE = keras.optimizers.LossScaleOptimizer
SCALED_RANGES = {(-128, 127): tf.qint8, (0, 255): tf.quint8}


def _scaled_range(scale, zero_point, quant_min, quant_max):
    """The real range [quant_min·s, quant_max·s] from which SCALED mode (round_mode HALF_AWAY_FROM_ZERO, its
    default, and dequantize) derives its multiplier min(quant_min/min, quant_max/max) = 1/s (zero point 0)."""
    if bool(tf.reduce_any(tf.not_equal(zero_point, 0))):
        raise Unsupported("tf.quantization's SCALED mode has zero point 0 (MIN_COMBINED/MIN_FIRST fix their own)")
    return quant_min * scale, quant_max * scale


class Quantization:
    FIXED = {"dynamic_loss_scale": {"growth_factor": (LOSS_SCALE, 2.0), "backoff_factor": (LOSS_SCALE, 0.5),
                                    "min_scale": (LOSS_SCALE, 0.0)}}
    NATIVE_DEFAULTS = {
        "dynamic_loss_scale": {
            "lr": (keras.optimizers.SGD, "learning_rate", float),
            "init_scale": (LOSS_SCALE, "initial_scale", float),
            "growth_interval": (LOSS_SCALE, "dynamic_growth_steps", int),
        },
        # TF's integer grid is [0, 2^num_bits − 1] (narrow_range: from 1)
        "fake_quantize": {
            "quant_min": (FAKE_QUANT, "narrow_range", lambda narrow: 1 if narrow else 0),
            "quant_max": (FAKE_QUANT, "num_bits", lambda bits: 2 ** bits - 1),
        },
        "quant_params": {
            "quant_min": (keras.quantizers.abs_max_quantize, "value_range", lambda r: r[0]),
            "quant_max": (keras.quantizers.abs_max_quantize, "value_range", lambda r: r[1]),
            "eps": (keras.quantizers.abs_max_quantize, "epsilon", float),
        },
    }

    UNSUPPORTED = {
        "quantized_dense": [unsupported("tf.raw_ops.QuantizedMatMul's ranges (min_a, max_a, ...) are float32",
                                        dtypes={"float64", "float16", "bfloat16"}),
                            unsupported("tf.raw_ops.QuantizedMatMul takes one range for the whole weight matrix: "
                                        "no per-channel scales", where=lambda p: p["axis"] is not None)],
        "dynamic_loss_scale": unsupported("mixed precision keeps the loss scale and master parameters in float32 "
                                          "(a scale doubling past 2^15 leaves float16)", dtypes={"float16"}),
        "fake_quantize": unsupported("tf.quantization.fake_quant_* take float32 only",
                                     dtypes={"float64", "float16", "bfloat16"}),
        "quantize": [unsupported("tf.quantization.quantize's SCALED mode quantizes float32 to qint8 or quint8",
                                 dtypes={"float64", "float16", "bfloat16"}),
                     unsupported("tf.quantization has no 4-bit quantized dtype",
                                 where=lambda p: (p["quant_min"], p["quant_max"]) not in SCALED_RANGES)],
        "dequantize": unsupported("tf.quantization.dequantize's SCALED mode returns float32",
                                  dtypes={"float64", "float16", "bfloat16"}),
        "quant_params": unsupported("Keras' abs_max_quantize is symmetric and signed only; TF has no observer",
                                    where=lambda p: not p["symmetric"] or p["quant_min"] >= 0),
    }

    def fake_quantize(self, x, scale, zero_point, quant_min, quant_max, axis):
        low, high, bits = _tf_range(scale, zero_point, quant_min, quant_max)
        if axis is None:
            return tf.quantization.fake_quant_with_min_max_vars(x, low, high, num_bits=bits, narrow_range=False)
        if axis != len(x.shape) - 1:
            raise Unsupported("tf.quantization.fake_quant_with_min_max_vars_per_channel quantizes the last axis only")
        return tf.quantization.fake_quant_with_min_max_vars_per_channel(x, low, high, num_bits=bits,
                                                                         narrow_range=False)

    def quantized_dense(self, x_q, w_q, x_scale, x_zero_point, w_scale, out_scale, out_zero_point, quant_min,
                        quant_max, axis):
        # axis: None only (declared); every operand onto quint8's [0, 255] with the range that keeps its value
        def quint8(q, shift):
            return tf.bitcast(tf.cast(tf.cast(q, tf.int32) + shift, tf.uint8), tf.quint8)

        def real_range(scale, zero_point, low, high):
            scale, zero_point = tf.cast(scale, tf.float32), tf.cast(zero_point, tf.float32)
            return (low - zero_point) * scale, (high - zero_point) * scale

        min_a, max_a = real_range(x_scale, x_zero_point, quant_min, quant_max)
        min_b, max_b = real_range(w_scale, 0, -128, 127)
        acc, min_acc, max_acc = tf.raw_ops.QuantizedMatMul(
            a=quint8(x_q, -quant_min), b=quint8(tf.transpose(w_q), 128), min_a=min_a, max_a=max_a, min_b=min_b,
            max_b=max_b, Toutput=tf.qint32)
        min_y, max_y = real_range(out_scale, out_zero_point, quant_min, quant_max)
        y, _, _ = tf.raw_ops.Requantize(input=acc, input_min=min_acc, input_max=max_acc, requested_output_min=min_y,
                                        requested_output_max=max_y, out_type=tf.quint8)
        return tf.cast(tf.cast(tf.bitcast(y, tf.uint8), tf.int32) + quant_min, x_q.dtype)

    def quant_params(self, x_min, x_max, quant_min, quant_max, symmetric, eps):
        ends = tf.stack([x_min, x_max])
        _, multiplier = keras.quantizers.abs_max_quantize(ends, axis=0, value_range=(quant_min, quant_max),
                                                          epsilon=eps)
        scale = tf.reshape(1.0 / multiplier, x_min.shape)
        return scale, tf.zeros_like(scale)

    def dynamic_loss_scale(self, params, grads, lr, init_scale, growth_factor, backoff_factor, growth_interval,
                           min_scale):
        # growth_factor, backoff_factor, min_scale: FIXED (Keras doubles, halves and never floors its scale)
        variable = keras.Variable(params)
        optimizer = LOSS_SCALE(keras.optimizers.SGD(float(lr)), initial_scale=float(init_scale),
                               dynamic_growth_steps=int(growth_interval))
        states = []
        for g in grads:
            with tf.GradientTape() as tape:
                loss = optimizer.scale_loss(tf.reduce_sum(variable.value * g))
            optimizer.apply([tape.gradient(loss, variable.value)], [variable])  # unscales, skips a non-finite step
            scale = tf.cast(tf.reshape(optimizer.dynamic_scale, [1]), params.dtype)
            states.append(tf.concat([tf.reshape(variable.value, [-1]), scale], 0))
        return tf.stack(states)

    def quantize(self, x, scale, zero_point, quant_min, quant_max, axis):
        low, high = _scaled_range(scale, zero_point, quant_min, quant_max)
        out = tf.quantization.quantize(x, low, high, SCALED_RANGES[(quant_min, quant_max)], mode="SCALED",
                                       round_mode="HALF_AWAY_FROM_ZERO", narrow_range=False, axis=axis,
                                       ensure_minimum_range=0.0)
        return tf.cast(out.output, x.dtype)

    def dequantize(self, q, scale, zero_point, axis):
        signed = not bool(tf.reduce_any(q > 127))  # held as qint8 where it fits, as torch's adapter does
        quant_min, quant_max = (-128, 127) if signed else (0, 255)
        if bool(tf.reduce_any(q < quant_min)) or bool(tf.reduce_any(q > quant_max)):
            raise Unsupported("q fits neither qint8 nor quint8")
        low, high = _scaled_range(scale, zero_point, quant_min, quant_max)
        dtype = SCALED_RANGES[(quant_min, quant_max)]
        integers = tf.bitcast(tf.cast(q, tf.int8 if signed else tf.uint8), dtype)
        return tf.quantization.dequantize(integers, low, high, mode="SCALED", narrow_range=False, axis=axis)
