"""The measured quantization findings the README states, each on the one example that shows it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nnspec.spec import quantization as Q

torch = pytest.importorskip("torch")

X = np.float32(float.fromhex("-0x1.5e618ep+7"))  # x / s = −127.4999962: x · fl32(1/s) rounds to −127.5 in float32
S = np.float32(float.fromhex("0x1.5fc15p+0"))


def _torch(array):
    return torch.from_numpy(np.asarray(array, dtype=np.float32).reshape(-1))


def test_torch_fake_quantize_multiplies_by_the_float32_reciprocal():
    got = torch.fake_quantize_per_tensor_affine(_torch(X), float(S), 0, -128, 127).numpy()
    assert got[0] == np.float32(Q.fake_quantize(X, S, 0, scaling="reciprocal"))
    assert got[0] != np.float32(Q.fake_quantize(X, S, 0))


@pytest.mark.parametrize("quantized, zero_point, ratio, shift", [
    (torch.qint8, -63, -9.5, "before"),  # round(−72.5) = −72; spec round(−9.5) − 63 = −73
    (torch.quint8, 255, -191.5, "after"),  # round(−191.5) + 255 = 63; round(63.5) would be 64
])
def test_torch_quantize_per_tensor_adds_the_zero_point_before_rounding_for_qint8_only(quantized, zero_point, ratio,
                                                                                     shift):
    scale = 0.3125
    x = np.float32(ratio * scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = torch.quantize_per_tensor(_torch(x), scale, zero_point, quantized).int_repr().item()
    low, high = (-128, 127) if quantized == torch.qint8 else (0, 255)
    assert got == Q.quantize(x, np.float32(scale), zero_point, low, high, shift=shift)


def test_torch_symmetric_observer_divides_by_half_the_range():
    from torch.ao.quantization import MinMaxObserver

    observer = MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric, quant_min=-128, quant_max=127)
    observer(torch.tensor([-1.0, 2.0]))
    scale, zero = observer.calculate_qparams()
    spec = Q.quant_params(np.float32(-1.0), np.float32(2.0), symmetric=True, symmetric_divisor="half_range")
    assert (scale.item(), zero.item()) == (np.float32(spec[0]), 0)
    assert scale.item() != np.float32(Q.quant_params(np.float32(-1.0), np.float32(2.0), symmetric=True)[0])


def test_tensorflow_fake_quant_rounds_half_up_and_masks_before_rounding():
    tf = pytest.importorskip("tensorflow")
    x = tf.constant([-1.5, -0.5, 0.5, 127.4], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.quantization.fake_quant_with_min_max_vars(x, tf.constant(-128.0), tf.constant(127.0), num_bits=8)
    assert y.numpy().tolist() == Q.fake_quantize(x.numpy(), 1.0, 0, rounding="half_up").tolist() == [-1, 0, 1, 127]
    gradient = tape.gradient(y, x).numpy()
    (unrounded,) = Q.fake_quantize_vjp(x.numpy(), 1.0, 0, np.ones(4), gradient="unrounded")
    assert gradient.tolist() == unrounded.tolist() == [1, 1, 1, 0]  # 127.4 rounds inside, but lies past 127


def test_tensorflow_quantize_scaled_rounds_half_away_by_default_and_half_even_divides_by_127_5():
    tf = pytest.importorskip("tensorflow")
    x = tf.constant([-126.5, -2.5, -1.5, -0.5, 0.5, 2.5])
    away = tf.quantization.quantize(x, -128.0, 127.0, tf.qint8, mode="SCALED", ensure_minimum_range=0.0)
    assert tf.cast(away.output, tf.int32).numpy().tolist() == Q.quantize(x.numpy(), 1.0, 0,
                                                                          rounding="half_away").tolist()
    # HALF_TO_EVEN takes its step as 2·max(|min|, |max|)/255: ±127 is a step of 254/255, not 1
    even = tf.quantization.quantize(x, -127.0, 127.0, tf.qint8, mode="SCALED", round_mode="HALF_TO_EVEN",
                                    ensure_minimum_range=0.0)
    got = tf.cast(even.output, tf.int32).numpy().tolist()
    assert got == Q.quantize(x.numpy(), 254.0 / 255.0, 0).tolist() == [-127, -3, -2, -1, 1, 3]
    assert got != Q.quantize(x.numpy(), 1.0, 0).tolist()


def test_torch_fbgemm_quantized_linear_clamps_int8_activations_at_zero():
    """Handed int8 activations (as reals, quantized by torch as quint8), fbgemm clamps −128 and −3 to 0."""
    x_q = np.array([[-128.0, 127.0, -3.0, 5.0]])
    w_q = np.array([[127.0, -128.0, 1.0, 2.0]])
    packed = torch.ops.quantized.linear_prepack(torch.quantize_per_tensor(torch.from_numpy(w_q).float() * 0.5, 0.5,
                                                                          0, torch.qint8), None)
    x = torch.quantize_per_tensor(torch.from_numpy(x_q).float() * 0.25, 0.25, 0, torch.quint8)
    got = torch.ops.quantized.linear(x, packed, 16.0, 200).int_repr().numpy().astype(float)
    assert got.tolist() == Q.quantized_dense(x_q, w_q, 0.25, 0, np.array(0.5), 16.0, 200, 0, 255).tolist()
    # with −128 and −3 kept (an activation range reaching below 0), the result would differ
    assert got.tolist() != Q.quantized_dense(x_q, w_q, 0.25, 0, np.array(0.5), 16.0, 200, -128, 255).tolist()


def test_torch_quantized_linear_requantizes_ties_to_even():
    """M = s_x·s_w/s_y = ½: acc = 1, 3, 5, −1, −3 are ties; fbgemm's nearbyint gives 0, 2, 2, 0, −2 (+ z_y)."""
    x_q = np.array([[1.0], [3.0], [5.0], [-1.0], [-3.0]]) + 100.0  # z_x = 100
    w_q = np.array([[1.0]])
    packed = torch.ops.quantized.linear_prepack(torch.quantize_per_tensor(torch.ones(1, 1), 1.0, 0, torch.qint8), None)
    x = torch._make_per_tensor_quantized_tensor(torch.from_numpy(x_q).to(torch.uint8), 1.0, 100)
    got = torch.ops.quantized.linear(x, packed, 2.0, 128).int_repr().numpy().ravel().tolist()
    assert got == Q.quantized_dense(x_q, w_q, 1.0, 100, np.array(1.0), 2.0, 128, 0, 255).ravel().tolist()
    assert got == [128, 130, 130, 128, 126]
    assert got != Q.quantized_dense(x_q, w_q, 1.0, 100, np.array(1.0), 2.0, 128, 0, 255,
                                    rounding="half_up").ravel().tolist()


def test_tensorflow_fake_quant_output_is_the_integer_times_the_nudged_scale_rounded_once():
    """The kernel source writes q·scale + nudged_min (two float32 roundings); TF 2.21 returns fl32((q − z)·scale):
    on this range (nudged z = 243, scale = fl32((max − min)/255)) the two differ by one ULP and TF gives the latter."""
    tf = pytest.importorskip("tensorflow")
    low, high, x = np.float32(-183.6863250732422), np.float32(9.070929527282715), np.float32(-24.756078720092773)
    f32 = np.float32
    scale = f32((high - low) / f32(255))
    zero = f32(np.floor(f32(0 - f32(low / scale)) + f32(0.5)))
    nudged_min = f32(f32(-zero) * scale)
    q = np.floor(f32(f32(f32(x - nudged_min) / scale) + f32(0.5)))
    got = tf.quantization.fake_quant_with_min_max_vars(tf.constant([x]), tf.constant(low), tf.constant(high),
                                                       num_bits=8).numpy()[0]
    assert (zero, q) == (243.0, 210.0)
    assert got == f32(f32(q - zero) * scale)
    assert got != f32(f32(q * scale) + nudged_min)


def test_tensorflow_fake_quant_rounds_a_near_tie_up_where_its_sources_float32_arithmetic_rounds_down():
    """x/s = −79.5000066 (exact): floor((x − nudged_min)/scale + ½) in float32, as the kernel source writes it,
    gives z − 80; TF 2.21 returns z − 79. Why no variant reproduces TF's fake_quant bit for bit."""
    from fractions import Fraction

    tf = pytest.importorskip("tensorflow")
    low, high, x = np.float32(-1.2081491947174072), np.float32(1.9037503004074097), np.float32(-0.9701804518699646)
    f32 = np.float32
    scale = f32((high - low) / f32(255))
    zero = f32(np.floor(f32(0 - f32(low / scale)) + f32(0.5)))
    nudged_min = f32(f32(-zero) * scale)
    model = np.floor(f32(f32(f32(x - nudged_min) / scale) + f32(0.5))) - zero
    got = tf.quantization.fake_quant_with_min_max_vars(tf.constant([x]), tf.constant(low), tf.constant(high),
                                                       num_bits=8).numpy()[0]
    assert zero == 99.0 and -79.5001 < Fraction(float(x)) / Fraction(float(scale)) < -79.5
    assert model == -80.0
    assert round(float(got) / float(scale)) == -79


def test_tensorflow_legacy_requantization_truncates_its_fixed_point_scale():
    """tf.raw_ops.QuantizedMatMul + Requantize (the adapter's quantized_dense): at M = 1/6, acc = 3 — an exact tie
    — TF returns the output zero point (the tie moved below ½ by its truncated 16-bit scale, multiplier='range_q16'),
    at M = ½ (acc = −7: −3.5) it rounds the tie up (−3), where torch's fbgemm rounds both to even."""
    tf = pytest.importorskip("tensorflow")
    from nnspec.backends.tensorflow import TensorflowBackend

    backend = TensorflowBackend()
    tie_half, tie_minus_3_5 = ((np.array([[-127.0]]), np.array([[3.0]]), 0.25, -128, np.array(0.25), 0.375, -57),
                               (np.array([[-127.0, -125.0]]), np.array([[2.0, -3.0]]), 0.25, -128, np.array(0.25),
                                0.125, 0))
    for args, expected in ((tie_half, -57), (tie_minus_3_5, -3)):
        arrays = [tf.constant(np.asarray(a, np.float32)) if np.ndim(a) or isinstance(a, float) else tf.constant(a)
                  for a in args]
        got = backend.quantized_dense(*arrays, quant_min=-128, quant_max=127, axis=None).numpy()[0, 0]
        assert got == expected == Q.quantized_dense(*args, multiplier="range_q16")[0, 0]
    assert Q.quantized_dense(*tie_half, rounding="half_up")[0, 0] == -56  # exact half up: ½ → 1
    assert Q.quantized_dense(*tie_minus_3_5)[0, 0] == -4  # ties to even (torch's fbgemm)


def test_tensorflow_quantized_dense_record_names_the_range_q16_variant():
    """The engine on TF's QuantizedMatMul + Requantize (seed 0, quick): it deviates from the exact multiplier and
    every example seen fits multiplier='range_q16' (its kernel's arithmetic), not rounding='half_up' alone."""
    pytest.importorskip("tensorflow")
    from nnspec.backends.tensorflow import TensorflowBackend
    from nnspec.conformance.catalogue import CATALOGUE
    from nnspec.conformance.engine import Case, check_values

    records = {r["check"]: r for r in check_values(Case(CATALOGUE["quantized_dense"], TensorflowBackend(), "cpu",
                                                        "float32", "quick", 0))}
    assert records["forward"]["status"] == "fail"
    assert records["forward"]["matches_variant"] == "quantized_dense(multiplier='range_q16')"
