"""nnspec adapter for MLX (Apple's array framework): runs MLX's OWN implementation of each op.

Started from `nnspec new-backend mlx --dir examples/nnspec-mlx` (the scaffold's every-op-unsupported
table is the ``UNSUPPORTED`` below, whittled down) and filled in: the tensor plumbing and ``mx.vjp``
here, one mixin per family written (``activations.py``, ``losses.py``, ``attention.py``, ``layers.py``:
mlx.nn, mlx.nn.losses, mlx.core.fast and mlx.nn's Linear/Conv1d/Conv2d, one native call per op). What MLX has no function or option for is
declared unsupported up front, never raised per example, and no formula is re-implemented.
The families not written in this example (optimizers, recurrent, normalization, quantization,
embedding, random, metrics, and the pools, flatten and conv2d_transpose of the layers) stay declared here, one line per op with its signature, as the scaffold left them.
"""

from __future__ import annotations

import ml_dtypes
import mlx.core as mx
import numpy as np

from nnspec.backends import Backend, Unsupported

from .activations import Activations
from .attention import Attention
from .layers import Layers
from .losses import Losses

MX_DTYPES = {
    np.dtype(np.float64): mx.float64,  # MLX computes float64 on its CPU device only (not on Metal)
    np.dtype(np.float32): mx.float32,
    np.dtype(np.float16): mx.float16,
    np.dtype(ml_dtypes.bfloat16): mx.bfloat16,
    np.dtype(np.bool_): mx.bool_,
    np.dtype(np.int32): mx.int32,
    np.dtype(np.int64): mx.int64,
}
NOT_WRITTEN = "not written in this example adapter"
OPTIMIZERS = NOT_WRITTEN + " (mlx.optimizers has SGD, Adam, AdamW, Adagrad, RMSprop, Adamax and schedules)"
RECURRENT = NOT_WRITTEN + " (mlx.nn has RNN, LSTM and GRU layers: weight layouts still to map)"
LAYERS = NOT_WRITTEN + " (mlx.nn's pools and ConvTranspose2d are channels-last: layouts still to map)"
NORMALIZATION = NOT_WRITTEN + " (mlx.nn's BatchNorm, GroupNorm and InstanceNorm are channels-last modules)"
QUANTIZATION = "mx.quantize is group-wise affine quantization of weights, not per-tensor or per-axis int8"
EMBEDDING = NOT_WRITTEN + " (mlx.nn.Embedding: its out-of-range behaviour still to map)"
RANDOM = NOT_WRITTEN + " (mlx.nn.Dropout and mlx.nn.init's initializers, seeded through mx.random.key)"
METRICS = "MLX has no metrics or preprocessing (mlx.nn.losses only)"
LOSS_SCALE = "MLX has no dynamic loss scaling"
MODELS = NOT_WRITTEN + " (the seed models: model_forward/model_train from mlx.nn layers, as nnspec/backends/torch/models.py)"


class MlxBackend(Activations, Losses, Attention, Layers, Backend):
    name = "mlx"

    # The families this example does not write, as the scaffold declared them (one op a line, its signature).
    UNSUPPORTED = {
        # optimizers
        "sgd": OPTIMIZERS,  # sgd(params, grads, lr, weight_decay)
        "momentum": OPTIMIZERS,  # momentum(params, grads, lr, momentum, weight_decay)
        "nesterov": OPTIMIZERS,  # nesterov(params, grads, lr, momentum, weight_decay)
        "adagrad": OPTIMIZERS,  # adagrad(params, grads, lr, initial_accumulator, eps, weight_decay, lr_decay)
        "rmsprop": OPTIMIZERS,  # rmsprop(params, grads, lr, rho, eps, centered, momentum, weight_decay)
        "adam": OPTIMIZERS,  # adam(params, grads, lr, beta1, beta2, eps, amsgrad, weight_decay)
        "adamw": OPTIMIZERS,  # adamw(params, grads, lr, beta1, beta2, eps, weight_decay)
        "adamax": OPTIMIZERS,  # adamax(params, grads, lr, beta1, beta2, eps)
        "nadam": OPTIMIZERS,  # nadam(params, grads, lr, beta1, beta2, eps)
        "step_decay": OPTIMIZERS,  # step_decay(lr, steps, step_size, gamma)
        "exponential_decay": OPTIMIZERS,  # exponential_decay(lr, steps, gamma)
        "cosine_annealing": OPTIMIZERS,  # cosine_annealing(lr_max, steps, T, lr_min)
        "linear_warmup": OPTIMIZERS,  # linear_warmup(lr_peak, steps, warmup_steps, lr_start)
        "warmup_cosine": OPTIMIZERS,  # warmup_cosine(lr_peak, steps, warmup_steps, T, lr_start, lr_min)
        "reduce_on_plateau": OPTIMIZERS,  # reduce_on_plateau(lr, metrics, factor, patience, threshold, cooldown, min_lr)
        "clip_by_value": OPTIMIZERS,  # clip_by_value(x, clip_value)
        "clip_by_norm": OPTIMIZERS,  # clip_by_norm(x, max_norm)
        "clip_by_global_norm": OPTIMIZERS,  # clip_by_global_norm(x1, x2, x3, max_norm)
        # recurrent
        "rnn_cell": RECURRENT,  # rnn_cell(x, h, w_ih, w_hh, b)
        "lstm_cell": RECURRENT,  # lstm_cell(x, h, c, w_ih, w_hh, b)
        "lstm_peephole_cell": RECURRENT,  # lstm_peephole_cell(x, h, c, w_ih, w_hh, b, w_peep)
        "gru_cell": RECURRENT,  # gru_cell(x, h, w_ih, w_hh, b, b_hn, reset_after)
        "rnn": RECURRENT,  # rnn(x, h0, w_ih, w_hh, b, batch_first, return_sequences)
        "lstm": RECURRENT,  # lstm(x, h0, c0, w_ih, w_hh, b, batch_first, return_sequences)
        "gru": RECURRENT,  # gru(x, h0, w_ih, w_hh, b, b_hn, reset_after, batch_first, return_sequences)
        # layers
        "conv2d_transpose": LAYERS,  # conv2d_transpose(x, w, b, stride, padding, output_padding, dilation, groups)
        "max_pool2d": LAYERS,  # max_pool2d(x, window, stride, padding)
        "avg_pool2d": LAYERS,  # avg_pool2d(x, window, stride, padding, count_include_pad)
        "global_avg_pool2d": LAYERS,  # global_avg_pool2d(x)
        "global_max_pool2d": LAYERS,  # global_max_pool2d(x)
        "flatten": LAYERS,  # flatten(x)
        # normalization
        "batch_norm": NORMALIZATION,  # batch_norm(x, weight, bias, running_mean, running_var, training, momentum, epsilon, affine)
        "l2_normalize": NORMALIZATION,  # l2_normalize(x, axis, epsilon)
        "group_norm": NORMALIZATION,  # group_norm(x, weight, bias, num_groups, epsilon, affine)
        "instance_norm": NORMALIZATION,  # instance_norm(x, weight, bias, epsilon, affine)
        # quantization
        "quantize": QUANTIZATION,  # quantize(x, scale, zero_point, quant_min, quant_max, axis)
        "dequantize": QUANTIZATION,  # dequantize(q, scale, zero_point, axis)
        "fake_quantize": QUANTIZATION,  # fake_quantize(x, scale, zero_point, quant_min, quant_max, axis)
        "quant_params": QUANTIZATION,  # quant_params(x_min, x_max, quant_min, quant_max, symmetric, eps)
        "quantized_dense": QUANTIZATION,  # quantized_dense(x_q, w_q, x_scale, x_zero_point, w_scale, out_scale, out_zero_point, quant_min, quant_max, axis)
        "dynamic_loss_scale": LOSS_SCALE,  # dynamic_loss_scale(params, grads, lr, init_scale, growth_factor, backoff_factor, growth_interval, min_scale)
        # models
        **{model: MODELS for model in ("mlp", "cnn", "resnet_block", "lstm_classifier", "gru_regressor",
                                       "transformer_encoder")},
        # embedding
        "embedding": EMBEDDING,  # embedding(table, indices, padding_idx)
        # random
        **{op: RANDOM for op in ("dropout", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                                 "lecun_normal", "orthogonal", "dense_init", "conv2d_init", "embedding_init",
                                 "lstm_init")},
        # metrics
        **{op: METRICS for op in ("standard_scale", "min_max_scale", "accuracy", "top_k_accuracy", "confusion_matrix",
                                  "precision", "recall", "f1", "roc_auc", "early_stopping")},
    }


    # -- identity ------------------------------------------------------------------------

    def version(self) -> str:
        return mx.__version__

    def devices(self) -> list[str]:
        return ["cpu"]  # mx.gpu is Metal (Apple silicon) or a CUDA build; the `mlx[cpu]` wheel has the CPU only

    # -- tensors -------------------------------------------------------------------------

    def asarray(self, array: np.ndarray, device: str):
        if device != "cpu":
            raise Unsupported(f"nnspec-mlx runs on the cpu device, not {device}")
        dtype = MX_DTYPES.get(array.dtype)
        if dtype is None:
            raise Unsupported(f"MLX has no {array.dtype}")
        if dtype == mx.bfloat16:  # mx.array does not read ml_dtypes' bfloat16: its bits, as uint16
            return mx.array(np.array(array, copy=True).view(np.uint16)).view(mx.bfloat16)
        # the dtype explicitly: mx.array(float64 ndarray) alone gives float32
        return mx.array(np.array(array, copy=True), dtype=dtype)

    def to_numpy(self, tensor) -> np.ndarray:
        if tensor.dtype == mx.bfloat16:
            return np.array(tensor.view(mx.uint16)).view(ml_dtypes.bfloat16)
        return np.array(tensor)

    def synchronize(self, device: str, *arrays) -> None:
        # MLX is lazy: a timed call has done nothing until its outputs are evaluated
        mx.eval(*arrays)

    def compile(self, fn):
        return mx.compile(fn)  # the benchmarks' compiled mode

    # -- autodiff ------------------------------------------------------------------------

    def grad(self, fn, primals, cotangent, wrt=(0,)):
        """One mx.vjp of ``fn`` as a function of the inputs in ``wrt`` (the others, labels and masks
        among them, held constant)."""
        primals = list(primals)

        def of_wrt(*differentiated):
            arguments = list(primals)
            for i, value in zip(wrt, differentiated):
                arguments[i] = value
            return fn(*arguments)

        _, vjps = mx.vjp(of_wrt, [primals[i] for i in wrt], [cotangent])
        return tuple(vjps)
