"""The spec's textbook defaults and constants, pinned: changing one fails here.

The conformance run compares each framework's defaults with the spec's, so a spec default
that drifted (Adam's ε to 1e-7, layer_norm's ε to 1e-6) would not fail anything: every
framework would simply be reported as differing. Here every default is written out once
more, next to the source the spec's docstring names for it, and compared exactly (the
value and its type: 10 is not 10.0, False is not 0).

* ``TEXTBOOK``: each catalogue op's spec parameters (``OpEntry.defaults``, read from the
  spec function's signature); ``REQUIRED`` where the formula has no default.
* ``FORMULATION``: the keyword-only variant selectors' defaults, i.e. which formulation the
  spec *is* (√v̂ + ε outside the root, reset gate before the product, ...).
* Every helper of an op (``op_vjp``, ``op_update``, ``op_init``, ``op_condition``, and the
  shared pieces named in ``HELPERS``) has the op's default for every parameter they share.
* Module constants: closed forms evaluated in mpmath, or the framework constant they name.
"""

from __future__ import annotations

import importlib
import inspect

import mpmath
import numpy as np
import pytest
from test_spec_oracles import GELU_C, SELU_ALPHA, SELU_LAMBDA, to_float64

from nnspec.conformance.catalogue import CATALOGUE
from nnspec.spec import activations as A
from nnspec.spec import attention as ATT
from nnspec.spec import losses as L

pytestmark = pytest.mark.usefixtures("mpmath_50_digits")  # tests/conftest.py

# selu's defaults are λ01 and α01 from their closed forms (tests/test_spec_oracles.py), rounded to float64.
SELU_ALPHA_FLOAT64, SELU_SCALE_FLOAT64 = to_float64(SELU_ALPHA), to_float64(SELU_LAMBDA)

REQUIRED = inspect.Parameter.empty
SPEC_MODULES = ("activations", "losses", "optimizers", "schedules", "clipping", "normalization", "encoding",
                "attention", "recurrent", "layers", "quantization", "embedding", "random", "metrics")

# op -> {spec parameter: default}. Sources as the spec's docstrings give them.
TEXTBOOK = {
    "linear": {}, "sigmoid": {}, "tanh": {}, "relu": {}, "swish": {}, "softplus": {},
    "selu": {"alpha": SELU_ALPHA_FLOAT64, "scale": SELU_SCALE_FLOAT64},  # Klambauer 2017 eq. 14, at 60 digits
    "leaky_relu": {"alpha": 0.01},  # Maas et al. 2013's negative slope (torch, JAX)
    "gelu": {"approximate": "none"},  # Hendrycks & Gimpel 2016: x·Φ(x); the tanh form is their approximation
    "softmax": {"axis": -1},  # classes on the last axis
    "log_softmax": {"axis": -1},
    "elu": {"alpha": 1.0},  # Clevert et al. 2016, α = 1
    "softsign": {}, "mish": {},  # Misra 2019: no parameter
    "celu": {"alpha": 1.0},  # Barron 2017, α = 1 (where celu is elu)
    "relu6": {}, "hard_sigmoid": {}, "hard_swish": {},  # Howard et al. 2019: relu6(x + 3)/6, no parameter
    "prelu": {},  # He et al. 2015: the slope is a learned weight (an input), not a parameter
    # Losses: "mean" is every framework's default reduction; label smoothing (Szegedy et al.
    # 2016) is off unless asked for.
    "mse": {"reduction": "mean"},
    "mae": {"reduction": "mean"},
    "huber": {"delta": 1.0, "reduction": "mean"},  # δ = 1 (torch HuberLoss, Keras Huber, optax)
    "binary_cross_entropy": {"reduction": "mean", "label_smoothing": 0.0},
    "binary_cross_entropy_with_logits": {"reduction": "mean", "label_smoothing": 0.0},
    "categorical_cross_entropy": {"reduction": "mean", "label_smoothing": 0.0, "class_weight": None},
    "categorical_cross_entropy_with_logits": {"reduction": "mean", "label_smoothing": 0.0, "class_weight": None},
    # class_weight None: unweighted (torch's weight=None, Keras' sample_weight=None); ignore_index None: no label
    # ignored (Keras' ignore_class=None; torch's −100 is no class, so ignores nothing in labels in [0, C))
    "sparse_categorical_cross_entropy": {"from_logits": False, "reduction": "mean", "label_smoothing": 0.0,
                                         "class_weight": None, "ignore_index": None},
    "nll": {"reduction": "mean", "class_weight": None, "ignore_index": None},
    "kl_divergence": {"reduction": "mean"},
    # Lin et al. 2017, section 5.1: γ = 2, α = 0.25 worked best.
    "focal": {"alpha": 0.25, "gamma": 2.0, "from_logits": False, "reduction": "mean", "label_smoothing": 0.0},
    "dice": {"smooth": 1.0, "reduction": "mean"},  # the docstring's s = 1 (additive smoothing of the ratio)
    "triplet": {"margin": 1.0, "reduction": "mean"},  # torch TripletMarginLoss margin=1.0
    "l1_penalty": {"lam": 0.01},  # Keras' L1 regularizer
    "l2_penalty": {"lam": 0.01},  # Keras' L2 regularizer (no ½)
    # Optimizers.
    # Weight decay (L2, coupled) is off unless asked for: λ = 0 on every optimizer that takes it.
    "sgd": {"lr": 0.01, "weight_decay": 0.0},  # no textbook default; Keras' SGD
    "momentum": {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.0},  # μ = 0.9, Sutskever et al. 2013
    "nesterov": {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.0},
    "adagrad": {"lr": 0.01, "initial_accumulator": 0.0, "eps": 1e-10, "weight_decay": 0.0, "lr_decay": 0.0},  # Duchi 2011; as torch
    "rmsprop": {"lr": 0.001, "rho": 0.9, "eps": 1e-8, "centered": False, "momentum": 0.0,
                "weight_decay": 0.0},  # Hinton 2012, 6e
    # Kingma & Ba 2015, Algorithm 1: α = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False, "weight_decay": 0.0},
    # Loshchilov & Hutter 2019 on Adam's defaults; λ = 0.01 as torch AdamW.
    "adamw": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01},
    "adamax": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},  # Kingma & Ba 2015, Algorithm 2
    "nadam": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},  # Dozat 2016
    # Schedules.
    "step_decay": {"step_size": REQUIRED, "gamma": 0.1},  # torch StepLR gamma=0.1
    "exponential_decay": {"gamma": REQUIRED},
    "cosine_annealing": {"T": REQUIRED, "lr_min": 0.0},  # Loshchilov & Hutter 2017, η_min = 0
    "linear_warmup": {"warmup_steps": REQUIRED, "lr_start": 0.0},  # Goyal et al. 2017: from 0
    "warmup_cosine": {"warmup_steps": REQUIRED, "T": REQUIRED, "lr_start": 0.0, "lr_min": 0.0},
    # torch ReduceLROnPlateau: factor 0.1, patience 10, threshold 1e-4, cooldown 0, min_lr 0.
    "reduce_on_plateau": {"factor": 0.1, "patience": 10, "threshold": 0.0001, "cooldown": 0, "min_lr": 0.0},
    "clip_by_value": {"clip_value": REQUIRED},
    "clip_by_norm": {"max_norm": REQUIRED},  # Pascanu et al. 2013: the threshold is the user's
    "clip_by_global_norm": {"max_norm": REQUIRED},
    # Recurrent: Cho et al. 2014's GRU applies the reset gate before the product (reset_after=False);
    # time-major inputs and the whole sequence returned, as torch.
    "rnn_cell": {}, "lstm_cell": {},
    "lstm_peephole_cell": {},  # Gers & Schmidhuber 2000: the peepholes are weights (an input), no parameter
    "gru_cell": {"reset_after": False},
    "rnn": {"batch_first": False, "return_sequences": True},
    "lstm": {"batch_first": False, "return_sequences": True},
    "gru": {"reset_after": False, "batch_first": False, "return_sequences": True},
    # Attention: Vaswani et al. 2017: scale 1/√d_k (scale=None), biased projections, sinusoids of
    # base 10000 (section 3.5), post-norm blocks; no dropout in a reference. Vaswani's attention has no logit
    # cap, no key/value cache before the queries, no ALiBi and as many key/value heads as query heads.
    "scaled_dot_product_attention": {"use_mask": False, "scale": None, "causal": False, "dropout": 0.0,
                                     "softcap": None, "causal_offset": 0, "alibi": False},
    "multi_head_attention": {"num_heads": REQUIRED, "use_mask": False, "causal": False, "bias": True,
                             "dropout": 0.0, "num_kv_heads": None},
    "sinusoidal_positional_encoding": {"d_model": REQUIRED, "base": 10000.0},
    "layer_norm": {"epsilon": 1e-5, "affine": True},  # ε = 1e-5 as the docstring states (torch LayerNorm)
    "transformer_block": {"num_heads": REQUIRED, "use_mask": False, "norm_first": False, "epsilon": 1e-5,
                          "dropout": 0.0},
    # RMS norm: ε = 1e-6 inside the root as T5 (Raffel et al. 2020, T5LayerNorm) and Llama state it; Zhang &
    # Sennrich 2019's eq. 4 has no ε. Rotary: θ_i = 10000^{−2i/d} and the paper's interleaved pairs (Su et al. 2021).
    "rms_norm": {"epsilon": 1e-6},
    "rotary_embedding": {"base": 10000.0, "pairs": "interleaved"},
    # Layers: torch's and Keras' Conv2D: stride 1, no padding ('valid'), no dilation, one group; pools stride
    # by their window (torch stride=None, Keras strides=None); TF's 'SAME' average counts only input cells.
    "dense": {},
    "conv2d": {"stride": (1, 1), "padding": "valid", "dilation": (1, 1), "groups": 1},
    "conv1d": {"stride": 1, "padding": "valid", "dilation": 1, "groups": 1},  # torch F.conv1d, Keras Conv1D
    # torch F.conv_transpose2d: no pads, no output padding (Keras' None is its own size rule; the spec names it)
    "conv2d_transpose": {"stride": (1, 1), "padding": "valid", "output_padding": (0, 0), "dilation": (1, 1),
                         "groups": 1},
    "max_pool2d": {"window": REQUIRED, "stride": None, "padding": "valid"},
    "avg_pool2d": {"window": REQUIRED, "stride": None, "padding": "valid", "count_include_pad": False},
    "global_avg_pool2d": {}, "global_max_pool2d": {}, "flatten": {},
    # Normalization: Ioffe & Szegedy 2015 as torch's BatchNorm2d states it: training, running statistics moved by
    # momentum 0.1 towards the batch's (torch's convention; Keras' and flax's 0.99 is the old value's weight), ε = 1e-5.
    "batch_norm": {"training": True, "momentum": 0.1, "epsilon": 1e-5, "affine": True},
    # random: dropout at Srivastava et al.'s p = 0.5 (torch's), in training; Saxe et al.'s orthogonal at gain 1;
    # the initializers and the layers' default initializers have no parameter but their shape and seed
    "dropout": {"rate": 0.5, "training": True}, "orthogonal": {"gain": 1.0},
    "glorot_uniform": {}, "glorot_normal": {}, "he_uniform": {}, "he_normal": {}, "lecun_normal": {},
    "dense_init": {}, "conv2d_init": {}, "embedding_init": {}, "lstm_init": {},
    # x/max(‖x‖, ε) over the last axis (Keras; torch's dim=1 is the channel axis of NCHW), ε = 1e-12 (torch, TF).
    "l2_normalize": {"axis": -1, "epsilon": 1e-12},
    # Wu & He 2018: γ, β per channel, ε = 1e-5 (torch GroupNorm); instance norm as its G = C case, with γ, β
    # (torch's InstanceNorm2d defaults to affine=False, flax's InstanceNorm and Keras' GroupNormalization to True).
    "group_norm": {"num_groups": REQUIRED, "epsilon": 1e-5, "affine": True},
    "instance_norm": {"epsilon": 1e-5, "affine": True},
    # Embedding: torch's F.embedding, no padding index unless asked for.
    "embedding": {"padding_idx": None},
    # Quantization: int8 [-128, 127] (torch's qint8, the symmetric signed range of Jacob et al. 2018's
    # int8 inference), per tensor unless an axis is given.
    "quantize": {"quant_min": -128, "quant_max": 127, "axis": None},
    "dequantize": {"axis": None},
    "fake_quantize": {"quant_min": -128, "quant_max": 127, "axis": None},
    # affine unless asked (torch's observers' per_tensor_affine); eps: torch's observers' float32 ε floor
    "quant_params": {"quant_min": -128, "quant_max": 127, "symmetric": False, "eps": 2.0 ** -23},
    # int8 range, a per-tensor weight scale; torch.amp.GradScaler's init_scale 2^16, ×2 after 2000 finite
    # steps, ×½ on an overflow (Micikevicius et al. 2018's dynamic loss scaling), no floor
    "quantized_dense": {"quant_min": -128, "quant_max": 127, "axis": None},  # output requantized to the same range
    "dynamic_loss_scale": {"lr": 0.01, "init_scale": 2.0 ** 16, "growth_factor": 2.0, "backoff_factor": 0.5,
                           "growth_interval": 2000, "min_scale": 0.0},
    # Metrics (sources in tests/test_metrics_spec.py): the population std (StandardScaler's), [0, 1] scaling,
    # Keras' top-5, binary averaging with 0 for an empty denominator (scikit-learn's zero_division=0.0 value),
    # Keras' EarlyStopping (patience 0, min_delta 0, mode min, no baseline)
    "standard_scale": {"ddof": 0, "epsilon": 0.0}, "min_max_scale": {"feature_range": (0.0, 1.0)}, "accuracy": {},
    "top_k_accuracy": {"k": 5}, "confusion_matrix": {"num_classes": None},
    "precision": {"num_classes": None, "average": "binary", "zero_division": 0.0},
    "recall": {"num_classes": None, "average": "binary", "zero_division": 0.0},
    "f1": {"num_classes": None, "average": "binary", "zero_division": 0.0}, "roc_auc": {},
    "early_stopping": {"patience": 0, "min_delta": 0.0, "mode": "min", "baseline": None},
    # The seed models have no parameters of their own: their layers' defaults are pinned as their ops', their
    # training hyper-parameters in tests/test_models_spec.py
    **{model: {} for model in ("mlp", "cnn", "resnet_block", "lstm_classifier", "gru_regressor", "transformer_encoder")},
}  # fmt: skip

# op -> {keyword-only variant selector: the spec's own choice}. The module docstrings name the reference.
FORMULATION = {
    # metrics: a constant column scales to 0, ties in top-k all count, nan per-class values left out of an
    # average, macro is macro, F1 from the counts, AUC exact (no thresholds), stopping when bad epochs reach patience
    "min_max_scale": {"near_constant": "zero", "dtype": None}, "top_k_accuracy": {"ties": "all"},
    "precision": {"nan_average": "ignore", "macro_as": "macro"}, "recall": {"nan_average": "ignore", "macro_as": "macro"},
    "f1": {"f1_form": "counts", "nan_average": "ignore", "macro_as": "macro"}, "roc_auc": {"num_thresholds": None},
    "early_stopping": {"count": "reach"},
    "dynamic_loss_scale": {"dtype": None},  # the parameters' own dtype
    # requantization: M·acc as an exact rational, ties to even (fbgemm's nearbyint; IEEE's default rounding)
    "quantized_dense": {"rounding": "half_even", "multiplier": "exact", "dtype": None},
    # an index outside [0, V) is an error, negative ones too (torch's IndexError)
    "embedding": {"negative": "error", "out_of_range": "error"},
    "relu": {"kink": "left"}, "leaky_relu": {"kink": "left"}, "elu": {"kink": "left"}, "selu": {"kink": "left"},
    "swish": {"at_inf": "limit"}, "gelu": {"at_inf": "limit"},  # x·σ(x) → 0 at −∞, not nan
    "softsign": {"at_inf": "limit"}, "mish": {"at_inf": "limit"},  # ±1 at ±∞ (not inf/inf), 0 at −∞ (not −∞·0)
    # saturating on both sides: the outer branch owns each kink (relu6'(6) = 0), as a saturated unit's is 0
    "prelu": {"kink": "left"},  # as relu: the x ≤ 0 branch's slope a at 0
    "relu6": {"kink": "outer"}, "hard_sigmoid": {"kink": "outer"}, "hard_swish": {"kink": "outer", "at_inf": "limit"},
    "mae": {"kink": "zero", "feature_mean": False}, "mse": {"feature_mean": False}, "huber": {"feature_mean": False},
    "binary_cross_entropy": {"log_floor": None, "clip_epsilon": None, "zero_weight": "limit",
                             "smoothed_target": "exact", "feature_mean": False, "dtype": None},
    "binary_cross_entropy_with_logits": {"smoothed_target": "exact", "feature_mean": False, "dtype": None},
    "categorical_cross_entropy": {"clip_epsilon": None, "renormalise": False, "zero_weight": "limit",
                                  "mean_divisor": "weight_sum", "empty_mean": "nan", "dtype": None},
    "categorical_cross_entropy_with_logits": {"normalised_targets": False, "mean_divisor": "weight_sum",
                                              "empty_mean": "nan"},
    # the weighted mean divides by Σ w_{y_i} over the kept rows, as torch's CrossEntropyLoss/NLLLoss document;
    # an empty one (divisor 0) is 0/0 = nan, as torch returns
    "sparse_categorical_cross_entropy": {"clip_epsilon": None, "renormalise": False, "zero_weight": "limit",
                                         "mean_divisor": "weight_sum", "empty_mean": "nan", "dtype": None},
    "nll": {"mean_divisor": "weight_sum", "empty_mean": "nan"},
    "kl_divergence": {"clip_epsilon": None, "elementwise": False, "zero_weight": "limit", "dtype": None},
    "focal": {"one_minus_pt": "exact", "log_floor": None, "clip_epsilon": None, "zero_weight": "limit",
              "smoothed_target": "exact", "feature_mean": False, "dtype": None},
    "dice": {"smoothing": "both"},
    "triplet": {"difference_eps": 0.0, "squared_eps": 0.0, "kink": "left", "zero_distance": "zero"},
    "l1_penalty": {"kink": "zero"},
    "sgd": {"weight_decay_mode": "coupled", "lr_dtype": None},
    "momentum": {"weight_decay_mode": "coupled", "lr_in_buffer": False, "lr_dtype": None},
    "nesterov": {"formulation": "reformulated", "weight_decay_mode": "coupled", "lr_in_buffer": False,
                 "lr_dtype": None},  # Bengio et al. 2013
    "adagrad": {"eps_placement": "outside", "weight_decay_mode": "coupled", "lr_dtype": None},
    "rmsprop": {"eps_placement": "outside", "weight_decay_mode": "coupled", "lr_in_buffer": False, "lr_dtype": None},
    "adam": {"eps_placement": "outside", "amsgrad_max": "raw", "weight_decay_mode": "coupled", "lr_dtype": None},
    "adamw": {"eps_placement": "outside", "weight_decay_mode": "decoupled", "lr_dtype": None},
    "adamax": {"eps_placement": "outside", "lr_dtype": None},
    "nadam": {"momentum_decay": 0.004, "product_dtype": None, "lr_dtype": None},  # Dozat 2016: ψ = 0.004
    "step_decay": {"form": "closed"}, "exponential_decay": {"form": "closed"},
    "cosine_annealing": {"form": "closed", "after_T": "hold"}, "linear_warmup": {"form": "closed"},
    "warmup_cosine": {"form": "closed", "after_T": "hold"},
    "reduce_on_plateau": {"threshold_mode": "rel", "patience_rule": "exceeds", "cooldown_rule": "reset",
                          "min_decay": 0.0, "lr_dtype": None},
    "clip_by_norm": {"norm_eps": 0.0}, "clip_by_global_norm": {"norm_eps": 0.0},
    "gru_cell": {"old_state_weight": "1-z"}, "gru": {"old_state_weight": "1-z"},  # Cho et al. 2014
    "scaled_dot_product_attention": {"masked_fill": "-inf", "all_masked": "softmax", "mask_means": "attend",
                                     "causal_align": "top_left"},
    "multi_head_attention": {"masked_fill": "-inf", "all_masked": "softmax", "mask_means": "attend",
                             "causal_align": "top_left"},
    "sinusoidal_positional_encoding": {"layout": "interleaved"},  # Vaswani et al.: sin at 2i, cos at 2i + 1
    "layer_norm": {"epsilon_at": "inside_sqrt"},  # Ba et al. 2016: √(σ² + ε)
    "transformer_block": {"mask_means": "attend"},
    "rms_norm": {"epsilon_at": "inside_sqrt"},  # T5, Llama: x/√(mean(x²) + ε)
    "conv2d": {"same_odd_pad": "after"},  # TensorFlow's 'SAME': the odd pad cell at the bottom/right
    # cross-correlation, as every deep-learning framework; the transpose is conv2d's exact adjoint in x
    "conv1d": {"same_odd_pad": "after", "kernel_flip": False},
    "conv2d_transpose": {"same_odd_pad": "after", "kernel_flip": False},
    "max_pool2d": {"ties": "first"}, "global_max_pool2d": {"ties": "first"},  # the first maximum, row-major
    "flatten": {"order": "chw"},  # NCHW flattened in C order: channel, row, column
    # Glorot & Bengio, He et al., LeCun et al. state untruncated normals (torch's); Keras' and JAX's truncate
    "dropout": {"mask": None},  # the kept positions drawn from the seed (given: the framework's own, recovered)
    "glorot_normal": {"normal": "normal"}, "he_normal": {"normal": "normal"}, "lecun_normal": {"normal": "normal"},
    "batch_norm": {"running_variance": "unbiased"},  # torch: the running variance from σ²·K/(K − 1)
    "l2_normalize": {"epsilon_at": "norm"},  # torch F.normalize, Keras ops.normalize: ε bounds ‖x‖ (TF: Σx²)
    # Quantization: ties to even (IEEE 754 roundTiesToEven, std::nearbyint as torch's quantizers), x / scale
    # as written, the straight-through gradient masked by the clip range after rounding (torch's, Jacob et al.)
    "quantize": {"rounding": "half_even", "scaling": "divide", "shift": "after", "dtype": None},
    # nudging "none": the given scale and zero point used as they are (not re-derived from a float32 range)
    "fake_quantize": {"rounding": "half_even", "scaling": "divide", "shift": "after", "gradient": "clipped",
                      "nudging": "none", "dtype": None},
    # amax/127 (Wu et al. 2020 eq. 4, TensorRT), uint8's symmetric zero point 128 (the int8 grid shifted)
    "quant_params": {"symmetric_divisor": "quant_max", "unsigned_zero_point": "upper_middle", "arithmetic": "exact",
                     "eps_placement": "floor", "dtype": None},
}  # fmt: skip

# Spec functions that serve an op without its name as their prefix.
HELPERS = {"normalize": "layer_norm", "attention_weights": "scaled_dot_product_attention",
           "allowed_keys": "scaled_dot_product_attention", "query_offset": "scaled_dot_product_attention",
           "transformer_block": "layer_norm", "same_pads": "conv2d", "pads": "conv2d",
           "transpose_output_size": "conv2d_transpose", "round_ties": "quantize",
           "nudge": "fake_quantize"}


def same(a, b) -> bool:
    """Equal and of the same type: a default of 10.0 for an integer count, or 0 for False, is a change."""
    return type(a) is type(b) and (a == b or a is b)


def differences(actual: dict, pinned: dict) -> dict:
    names = actual.keys() | pinned.keys()
    return {n: (actual.get(n, "<absent>"), pinned.get(n, "<absent>")) for n in sorted(names)
            if not same(actual.get(n, "<absent>"), pinned.get(n, "<absent>"))}


def spec_functions():
    """(name, function) of every public function the spec modules define."""
    for module in SPEC_MODULES:
        mod = importlib.import_module(f"nnspec.spec.{module}")
        for name, f in vars(mod).items():
            if inspect.isfunction(f) and not name.startswith("_") and f.__module__ == mod.__name__:
                yield name, f


def defaults_of(f, kind=None) -> dict:
    return {p.name: p.default for p in inspect.signature(f).parameters.values()
            if p.default is not p.empty and (kind is None or p.kind is kind)}


def op_of(name):
    """The catalogue op a spec function serves: itself, the longest op its name extends (gru_cell_vjp), or HELPERS."""
    if name in HELPERS:
        return HELPERS[name]
    prefixes = [op for op in CATALOGUE if name == op or name.startswith(op + "_")]
    return max(prefixes, key=len) if prefixes else None


# 1. The catalogue's defaults -----------------------------------------------------------------------


def test_every_catalogue_op_is_pinned():
    assert set(TEXTBOOK) == set(CATALOGUE), "pin each new op's defaults (with their source) in TEXTBOOK"


@pytest.mark.parametrize("op", sorted(CATALOGUE))
def test_catalogue_defaults_are_the_textbook_ones(op):
    assert differences(CATALOGUE[op].defaults, TEXTBOOK[op]) == {}, "(spec, textbook)"


@pytest.mark.parametrize("op", sorted(CATALOGUE))
def test_the_catalogue_names_every_spec_parameter_with_a_default(op):
    """The defaults check reads only the row's ``params``: a spec parameter missing there would go unchecked."""
    forward = defaults_of(CATALOGUE[op].forward, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    missing = [name for name in forward if name not in CATALOGUE[op].params]
    assert not missing, f"{op}: spec parameters with defaults the catalogue row does not list: {missing}"


@pytest.mark.parametrize("op", sorted(CATALOGUE))
def test_the_spec_formulation_is_the_pinned_one(op):
    selectors = defaults_of(CATALOGUE[op].forward, inspect.Parameter.KEYWORD_ONLY)
    vjp = defaults_of(CATALOGUE[op].vjp, inspect.Parameter.KEYWORD_ONLY) if CATALOGUE[op].vjp else {}
    assert differences({**vjp, **selectors}, FORMULATION.get(op, {})) == {}, "(spec, pinned)"


# 2. Every helper agrees with its op ----------------------------------------------------------------------


HELPER_FUNCTIONS = [(name, f) for name, f in spec_functions() if op_of(name) is not None]


@pytest.mark.parametrize("name, f", HELPER_FUNCTIONS, ids=[name for name, _ in HELPER_FUNCTIONS])
def test_helpers_share_their_ops_defaults(name, f):
    """adam_update, adam_condition, layer_norm_vjp, normalize, ...: each default the op also has is the op's.

    The op's defaults are the pinned ones (tests above), so a helper's ε cannot drift alone.
    """
    op = op_of(name)
    pinned = {**TEXTBOOK[op], **FORMULATION.get(op, {})}
    shared = {n: v for n, v in defaults_of(f).items() if n in pinned}
    assert differences(shared, {n: pinned[n] for n in shared}) == {}, f"{name} vs {op}: (helper, op)"


# Spec functions with defaults that serve no one op: their defaults, pinned here.
INDEPENDENT = {"learning_rate": {"lr_dtype": None}, "trajectory": {"init_args": None}}


def test_every_default_in_the_spec_is_pinned():
    """Each public spec function with a default is an op, a helper of one (HELPERS), or in INDEPENDENT."""
    orphans = {name: defaults_of(f) for name, f in spec_functions() if op_of(name) is None and defaults_of(f)}
    assert orphans == INDEPENDENT, "map a new function to its op in HELPERS, or pin it in INDEPENDENT"


@pytest.mark.parametrize("name", ["rmsprop_condition", "adam_condition", "adamw_condition", "adamax_condition",
                                  "nadam_condition"])
def test_conditions_are_stated_in_float64_unit_roundoff(name):
    """u = 2⁻⁵³, the relative rounding of one float64 operation (Higham 2002, §2.1)."""
    unit = defaults_of(getattr(importlib.import_module("nnspec.spec.optimizers"), name))["unit"]
    assert same(unit, 2.0**-53)


# 3. Module constants -----------------------------------------------------------------------------


def test_selu_constants_match_their_closed_forms():
    """λ01 and α01 from Klambauer et al. 2017's closed forms (eq. 14, tests/test_spec_oracles.py) round to the spec's.

    Cross-checked also against the published 1.0507009873554804934 and 1.6732632423543772848.
    """
    assert to_float64(SELU_LAMBDA) == A.SELU_SCALE
    assert to_float64(SELU_ALPHA) == A.SELU_ALPHA
    assert abs(SELU_LAMBDA - mpmath.mpf("1.0507009873554804934193349852946")) < 1e-30
    assert abs(SELU_ALPHA - mpmath.mpf("1.6732632423543772848170429916717")) < 1e-30


def test_float_constants_are_correctly_rounded():
    """The spec's float64 spellings of √(2/π), 2√(2/π), 1/√2, 2/√π, 1/√(2π) are the nearest float64s."""
    with mpmath.workdps(60):
        pi, sqrt = mpmath.pi, mpmath.sqrt
        assert A.SQRT_2_OVER_PI == to_float64(sqrt(2 / pi))
        assert A.TWO_SQRT_2_OVER_PI == to_float64(2 * sqrt(2 / pi))
        assert A.SQRT_HALF == to_float64(1 / sqrt(2))
        assert A.TWO_OVER_SQRT_PI == to_float64(2 / sqrt(pi))
        assert A.INV_SQRT_2PI == to_float64(1 / sqrt(2 * pi))


def test_gelu_tanh_coefficient_is_the_papers_decimal():
    """0.044715 (Hendrycks & Gimpel 2016, section 2): a fitted decimal, not a closed form; nearest float64."""
    assert A.GELU_TANH_C == to_float64(GELU_C)


def test_double_length_constants_carry_the_rest():
    """hi + lo: lo is the float64 nearest to the exact constant minus hi, so hi + lo is exact to ~2⁻¹⁰⁶."""
    with mpmath.workdps(60):
        for hi, lo, exact in [(A.TWO_SQRT_2_OVER_PI, A.TWO_SQRT_2_OVER_PI_LO, 2 * mpmath.sqrt(2 / mpmath.pi)),
                              (A.SQRT_HALF, A.SQRT_HALF_LO, 1 / mpmath.sqrt(2)),
                              (A.GELU_TANH_C, A.GELU_TANH_C_LO, GELU_C)]:
            assert lo == to_float64(exact - mpmath.mpf(hi)), (hi, lo)
            assert lo != 0 and abs(lo) <= abs(hi) * 2.0**-53


def test_framework_constants_the_variants_name():
    """Each is the constant of the framework the variant reproduces."""
    assert same(L.TORCH_LOG_FLOOR, -100.0)  # torch BCELoss: "clamps its log function outputs to be >= -100"
    # torch's BCE backward: EPSILON = 1e-12, a C++ float constant, so float32(1e-12) in float64.
    assert same(L.TORCH_BCE_EPSILON, float(np.float32(1e-12))) and L.TORCH_BCE_EPSILON != 1e-12
    assert same(L.KERAS_EPSILON, 1e-7)  # keras.config.epsilon()
    assert ATT.MASK_FILL["-inf"] == float("-inf") and same(ATT.MASK_FILL["-1e9"], -1e9)  # Keras' masked fill
    assert set(ATT.MASK_FILL) == {"-inf", "-1e9"}


# 4. The checks above, seen failing on deliberately changed defaults --------------------------------------


def _change_default(monkeypatch, f, name, value):
    """Give ``f`` (the formula under its ``@float64`` wrapper) another default for ``name``, for one test."""
    f = inspect.unwrap(f)
    if name in (f.__kwdefaults__ or {}):
        monkeypatch.setattr(f, "__kwdefaults__", {**f.__kwdefaults__, name: value})
        return
    names = [p.name for p in inspect.signature(f).parameters.values()
             if p.default is not p.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    defaults = list(f.__defaults__)
    defaults[names.index(name)] = value
    monkeypatch.setattr(f, "__defaults__", tuple(defaults))


@pytest.mark.parametrize("module, function, name, value, check, argument", [
    ("optimizers", "adam", "eps", 1e-7, test_catalogue_defaults_are_the_textbook_ones, "adam"),  # the issue's
    ("normalization", "layer_norm", "epsilon", 1e-6, test_catalogue_defaults_are_the_textbook_ones, "layer_norm"),
    ("schedules", "reduce_on_plateau", "patience", 10.0, test_catalogue_defaults_are_the_textbook_ones,
     "reduce_on_plateau"),  # same value, another type
    ("optimizers", "adam", "eps_placement", "inside", test_the_spec_formulation_is_the_pinned_one, "adam"),
    ("optimizers", "nadam", "momentum_decay", 1.0, test_the_spec_formulation_is_the_pinned_one, "nadam"),
    ("normalization", "rms_norm", "epsilon", 1e-5, test_catalogue_defaults_are_the_textbook_ones, "rms_norm"),
    ("normalization", "rms_norm", "epsilon_at", "outside_sqrt", test_the_spec_formulation_is_the_pinned_one,
     "rms_norm"),
    ("encoding", "rotary_embedding", "base", 500000.0, test_catalogue_defaults_are_the_textbook_ones,
     "rotary_embedding"),
    ("encoding", "rotary_embedding", "pairs", "half", test_catalogue_defaults_are_the_textbook_ones,
     "rotary_embedding"),
])  # fmt: skip
def test_a_changed_default_fails(monkeypatch, module, function, name, value, check, argument):
    _change_default(monkeypatch, getattr(importlib.import_module(f"nnspec.spec.{module}"), function), name, value)
    with pytest.raises(AssertionError):
        check(argument)


@pytest.mark.parametrize("module, function, name, value", [
    ("optimizers", "adam_update", "eps", 1e-7), ("normalization", "layer_norm_vjp", "epsilon", 1e-6),
    ("normalization", "normalize", "epsilon_at", "outside_sqrt"), ("attention", "transformer_block", "epsilon", 1e-6),
    ("normalization", "rms_norm_vjp", "epsilon", 1e-5), ("encoding", "rotary_embedding_vjp", "pairs", "half"),
])  # fmt: skip
def test_a_helper_that_drifts_from_its_op_fails(monkeypatch, module, function, name, value):
    f = getattr(importlib.import_module(f"nnspec.spec.{module}"), function)
    _change_default(monkeypatch, f, name, value)
    with pytest.raises(AssertionError):
        test_helpers_share_their_ops_defaults(function, f)


@pytest.mark.parametrize("module, constant, value, check", [
    (A, "SELU_ALPHA", 1.6732632423543774, test_selu_constants_match_their_closed_forms),  # one ULP off
    (A, "SELU_SCALE", 1.0507, test_selu_constants_match_their_closed_forms),
    (A, "TWO_OVER_SQRT_PI", 1.1283791670955128, test_float_constants_are_correctly_rounded),
    (A, "GELU_TANH_C", 0.0447, test_gelu_tanh_coefficient_is_the_papers_decimal),
    (A, "SQRT_HALF_LO", 0.0, test_double_length_constants_carry_the_rest),
    (L, "KERAS_EPSILON", 1e-8, test_framework_constants_the_variants_name),
    (L, "TORCH_BCE_EPSILON", 1e-12, test_framework_constants_the_variants_name),
])  # fmt: skip
def test_a_changed_constant_fails(monkeypatch, module, constant, value, check):
    monkeypatch.setattr(module, constant, value)
    with pytest.raises(AssertionError):
        check()
