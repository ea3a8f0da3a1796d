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
* ``quantized_dense``: ``torch.ops.quantized.linear`` (fbgemm/x86, what ``torch.ao.nn.quantized.Linear``
  calls: int8 GEMM with an int32 accumulator, requantized to the given output scale and zero point)
  on a quint8 activation tensor made from its integers by ``_make_per_tensor_quantized_tensor`` and
  weights packed by ``quantized.linear_prepack`` from ``quantize_per_tensor`` /
  ``quantize_per_channel(axis=0)`` qint8 tensors; the output's ``int_repr()``. Activations and
  output are quint8 for this kernel: an int8 activation range is clamped at 0 (measured), declared
  unsupported.
* ``dynamic_loss_scale``: ``torch.amp.GradScaler("cpu", ...)`` around ``torch.optim.SGD``: each step
  ``scaler.scale(loss).backward()`` on loss = Σ w·g (so the backward delivers S·g), ``scaler.step``
  (which unscales and skips a step with an inf or nan) and ``scaler.update``.
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


FLOAT32_ONLY = unsupported("torch quantizes float32 tensors only", dtypes={"float64", "float16", "bfloat16"})


class Quantization:
    UNSUPPORTED = {
        **{op: FLOAT32_ONLY for op in ("quantize", "dequantize")},
        "quantized_dense": [unsupported("torch's quantized linear takes and returns float32 only",
                                        dtypes={"float64", "float16", "bfloat16"}),
                            unsupported("fbgemm/x86's quantized linear quantizes activations as quint8: an int8 "
                                        "activation range is clamped at 0 (measured)",
                                        where=lambda p: p["quant_min"] < 0)],
        "dynamic_loss_scale": unsupported("GradScaler refuses to unscale float16 gradients ('Attempting to unscale "
                                          "FP16 gradients'); mixed precision keeps master parameters in float32",
                                          dtypes={"float16"}),
    }
    FIXED = {"dynamic_loss_scale": {"min_scale": (torch.amp.GradScaler, 0.0)}}  # no floor on the backed-off scale
    NATIVE_DEFAULTS = {
        "dynamic_loss_scale": {
            "init_scale": (torch.amp.GradScaler, "init_scale", float),
            "growth_factor": (torch.amp.GradScaler, "growth_factor", float),
            "backoff_factor": (torch.amp.GradScaler, "backoff_factor", float),
            "growth_interval": (torch.amp.GradScaler, "growth_interval", int),
        },
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

    def quantized_dense(self, x_q, w_q, x_scale, x_zero_point, w_scale, out_scale, out_zero_point, quant_min,
                        quant_max, axis):
        x = torch._make_per_tensor_quantized_tensor(x_q.to(torch.uint8), float(x_scale), int(x_zero_point))
        if axis is None:
            weight = torch.quantize_per_tensor(w_q.float() * float(w_scale), float(w_scale), 0, torch.qint8)
        else:
            weight = torch.quantize_per_channel(w_q.float() * w_scale.float()[:, None], w_scale.double(),
                                                torch.zeros(len(w_scale), dtype=torch.long), 0, torch.qint8)
        packed = torch.ops.quantized.linear_prepack(weight, None)
        out = torch.ops.quantized.linear(x, packed, float(out_scale), int(out_zero_point))
        return out.int_repr().to(x_q.dtype)

    def dynamic_loss_scale(self, params, grads, lr, init_scale, growth_factor, backoff_factor, growth_interval,
                           min_scale):
        weight = torch.nn.Parameter(params.detach().clone())
        optimizer = torch.optim.SGD([weight], lr=float(lr))
        scaler = torch.amp.GradScaler("cpu", init_scale=init_scale, growth_factor=growth_factor,
                                      backoff_factor=backoff_factor, growth_interval=int(growth_interval))
        states = []
        for g in grads:
            optimizer.zero_grad()
            scaler.scale((weight * g).sum()).backward()  # the backward delivers S·g in the parameters' dtype
            scaler.step(optimizer)  # skipped where S·g holds an inf or nan
            scaler.update()
            scale = torch.tensor([scaler.get_scale()], dtype=params.dtype)
            states.append(torch.cat([weight.detach().flatten(), scale]))
        return torch.stack(states)
