"""Torch adapter, quantization: torch's affine quantizers.

* ``fake_quantize``: ``torch.fake_quantize_per_tensor_affine`` (scale and zero point as Python
  numbers) or ``torch.fake_quantize_per_channel_affine`` (a float32 scale and int32 zero-point
  tensor), the ops QAT's FakeQuantize modules call; their backward is torch's own.
* ``quantize``: ``torch.quantize_per_tensor`` / ``torch.quantize_per_channel`` then ``int_repr()``.
  torch's quantized dtypes fix the integer range: [-128, 127] is qint8 and [0, 255] quint8;
  any other range (int4) has no quantized dtype (quint4x2 only packs storage) and is
  unsupported, as are inputs that are not float32 ("Quantize only works on Float Tensor").
* ``quant_params``: ``torch.ao.quantization.MinMaxObserver`` (per tensor) or
  ``PerChannelMinMaxObserver(ch_axis=0)`` (one channel per range) with qscheme affine or
  symmetric, observing the two ends [x_min, x_max], then ``calculate_qparams()``. Its scale is
  float32 whatever x's dtype; both results are returned in x's dtype.
* ``dequantize``: the integers made a quantized tensor with ``torch._make_per_tensor_quantized_tensor``
  / ``_make_per_channel_quantized_tensor`` (the only constructors from an integer representation),
  then ``Tensor.dequantize()``; the same ranges and dtype.
"""

from __future__ import annotations

import torch
from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver

from ..base import Unsupported, unsupported

QUANTIZED_DTYPES = {(-128, 127): torch.qint8, (0, 255): torch.quint8}


def _quantized_dtype(quant_min, quant_max):
    try:
        return QUANTIZED_DTYPES[(quant_min, quant_max)]
    except KeyError:
        raise Unsupported(f"torch has no quantized dtype of range [{quant_min}, {quant_max}]") from None


def _quantized(x, scale, zero_point, axis, dtype):
    if axis is None:
        return torch.quantize_per_tensor(x, float(scale), int(zero_point), dtype)
    return torch.quantize_per_channel(x, scale.double(), zero_point.long(), axis, dtype)


def _observer_dtype(quant_min, quant_max):
    return torch.qint8 if quant_min < 0 else torch.quint8  # the observer's range must lie inside its dtype's


class Quantization:
    UNSUPPORTED = {op: unsupported("torch quantizes float32 tensors only", dtypes={"float64", "float16", "bfloat16"})
                   for op in ("quantize", "dequantize")}
    NATIVE_DEFAULTS = {
        "quant_params": {
            # None: the range of the observer's default dtype, quint8
            "quant_min": (MinMaxObserver, "quant_min", lambda v: 0 if v is None else v),
            "quant_max": (MinMaxObserver, "quant_max", lambda v: 255 if v is None else v),
            "symmetric": (MinMaxObserver, "qscheme", lambda q: q in (torch.per_tensor_symmetric,
                                                                     torch.per_channel_symmetric)),
            "eps": (MinMaxObserver, "eps", float),
        },
    }

    def quant_params(self, x_min, x_max, quant_min, quant_max, symmetric, eps):
        dtype = _observer_dtype(quant_min, quant_max)
        if x_min.ndim == 0:
            scheme = torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine
            observer = MinMaxObserver(dtype=dtype, qscheme=scheme, quant_min=quant_min, quant_max=quant_max, eps=eps)
            observer(torch.stack([x_min, x_max]))
        else:
            scheme = torch.per_channel_symmetric if symmetric else torch.per_channel_affine
            observer = PerChannelMinMaxObserver(ch_axis=0, dtype=dtype, qscheme=scheme, quant_min=quant_min,
                                                quant_max=quant_max, eps=eps)
            observer(torch.stack([x_min, x_max], dim=1))
        scale, zero_point = observer.calculate_qparams()
        shape = x_min.shape
        return scale.reshape(shape).to(x_min.dtype), zero_point.reshape(shape).to(x_min.dtype)
    def fake_quantize(self, x, scale, zero_point, quant_min, quant_max, axis):
        if axis is None:
            return torch.fake_quantize_per_tensor_affine(x, float(scale), int(zero_point), quant_min, quant_max)
        return torch.fake_quantize_per_channel_affine(x, scale.float(), zero_point.int(), axis, quant_min, quant_max)

    def quantize(self, x, scale, zero_point, quant_min, quant_max, axis):
        dtype = _quantized_dtype(quant_min, quant_max)
        return _quantized(x, scale, zero_point, axis, dtype).int_repr().to(x.dtype)

    def dequantize(self, q, scale, zero_point, axis):
        # dequantize takes no range: q and z are held as qint8 where they fit it, else as quint8
        values = torch.cat([q.flatten(), zero_point.flatten().to(q.dtype)])
        if bool(((values >= -128) & (values <= 127)).all()):
            integers = q.to(torch.int8)
        elif bool(((values >= 0) & (values <= 255)).all()):
            integers = q.to(torch.uint8)
        else:
            raise Unsupported("q and zero point fit neither qint8 nor quint8")
        if axis is None:
            quantized = torch._make_per_tensor_quantized_tensor(integers, float(scale), int(zero_point))
        else:
            quantized = torch._make_per_channel_quantized_tensor(integers, scale.double(), zero_point.long(), axis)
        return quantized.dequantize()
