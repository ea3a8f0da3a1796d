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


KERAS_FAKE_QUANT = """
import json, os, sys
os.environ["KERAS_BACKEND"] = sys.argv[1]
import numpy as np
import keras
out = []
dtype = np.dtype(sys.argv[2])
for x, low, high, bits in json.load(sys.stdin):
    x, low, high = np.asarray(x, dtype), np.asarray(low, dtype), np.asarray(high, dtype)
    fq = lambda v: keras.quantizers.fake_quant_with_min_max_vars(v, low, high, num_bits=bits)
    if sys.argv[1] == "jax":
        import jax
        y, back = jax.vjp(fq, x)
        g = back(np.ones_like(x))[0]
    else:
        import torch
        v = torch.tensor(x, requires_grad=True)
        y = fq(v)
        y.sum().backward()
        g = v.grad
    out.append([np.asarray(y).tolist() if sys.argv[1] == "jax" else y.detach().numpy().tolist(),
                np.asarray(g).tolist()])
print(json.dumps(out))
"""


def _keras_cases():
    """Per tensor: int8, uint8, int4 ranges from a scale and zero point (short and arbitrary mantissas), x at
    ties, ±10⁻⁶ of a step from them, on the grid and past both ends; and the range [−2.5, 252.5], whose
    zero point z_min = 2.5 is an exact tie (x = 252.75, 253: inside the nudged range only if z' = 2)."""
    rng = np.random.default_rng(0)
    cases = []
    for t in range(60):
        low, high = (Q.INT8, Q.UINT8, Q.INT4)[t % 3]
        scale = np.float32(((1.0, 1.25, 1.5, 1.75)[t % 4] if t % 2 else rng.uniform(1, 2)) * 2.0 ** rng.integers(-8, 2))
        z = int(rng.integers(low, high + 1))
        e = rng.integers(low - 3, high + 4, 32)
        f = rng.choice([0.5, -0.5, 0.0, 0.5 - 1e-6, 0.5 + 1e-6, 1e-6, -1e-6], 32)
        x = ((e - z + f) * float(scale)).astype(np.float32)
        cases.append((x, scale, z, low, high))
    return cases


@pytest.mark.parametrize("backend, dtype", [("jax", "float32"), ("torch", "float32"), ("torch", "float64")])
def test_keras_pure_ops_fake_quant_is_the_float32_nudged_formula_bit_for_bit(backend, dtype):
    """Keras 3's own fake_quant_with_min_max_vars (the non-TF path: adjust_and_nudge, then the float32 formula)
    matches nudging='float32_range' on every element, forward and gradient, where the textbook op (half to even
    or half up, exact) does not; its zero point's tie goes to even (ops.round). Given float64 (torch; jax runs
    without x64) it computes the same float32 formula: x and the range as float64, the values float32's."""
    import json
    import subprocess
    import sys

    pytest.importorskip(backend)
    pytest.importorskip("keras")
    cases = _keras_cases()
    if dtype == "float64":  # float64 x, scale and range: off the float32 grid
        cases = [((x.astype(np.float64) * (1 + 2.0 ** -40)), float(scale) * (1 + 2.0 ** -40), z, low, high)
                 for x, scale, z, low, high in cases]
    held = np.dtype(dtype).type
    ranges = [(x, held((low - z) * scale), held((high - z) * scale), int(np.log2(high - low + 1)))
              for x, scale, z, low, high in cases]
    tie = np.float32([0.0, 252.75, 253.0, -2.0, -2.75, -3.0])
    payload = [[x.tolist(), float(lo), float(hi), bits] for x, lo, hi, bits in ranges]
    payload.append([tie.tolist(), -2.5, 252.5, 8])
    done = subprocess.run([sys.executable, "-c", KERAS_FAKE_QUANT, backend, dtype], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "No module named" in done.stderr:
        pytest.skip(f"Keras' {backend} backend is not importable: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    textbook_differs = 0
    for (x, scale, z, low, high), (value, gradient) in zip(cases, results):
        args = (x, scale, z)
        assert value == Q.fake_quantize(*args, low, high, nudging="float32_range").tolist()
        (mask,) = Q.fake_quantize_vjp(*args, np.ones(x.shape), low, high, nudging="float32_range")
        assert gradient == mask.tolist()
        textbook_differs += sum(v != w for v, w in zip(value, Q.fake_quantize(*args, low, high,
                                                                               rounding="half_up").astype(dtype).tolist()))
    assert textbook_differs > 0  # near-ties and the arbitrary mantissas' re-derived scale: not rounding alone
    value, gradient = results[-1]
    assert value == [0.0, 253.0, 253.0, -2.0, -2.0, -2.0]  # the nudged range [−2, 253]: z' = 2, the tie to even
    even, away = (Q.nudge(np.float32(-2.5), np.float32(252.5), 255, zero_rounding=r) for r in ("half_even", "half_away"))
    assert (float(even[3]), float(even[4]), float(away[4])) == (-2.0, 253.0, 252.0)
    assert gradient == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]


def test_tensorflow_fake_quant_masks_its_gradient_on_the_nudged_range():
    """s = 0x1.ce14acp-8, z = 78 (int8): the range's upper end fl32(49·s) lies one float32 step above the exact
    49·s, where x = fl32(49·s) sits. TF passes the gradient there (x ≤ nudged_max), as nudging='float32_range'
    does; the exact range of gradient='unrounded' puts x outside (measured on 3288 such edge elements, all alike)."""
    tf = pytest.importorskip("tensorflow")
    scale, x = np.float32(float.fromhex("0x1.ce14acp-8")), np.float32(float.fromhex("0x1.61c7d4p-2"))
    low, high = np.float32(np.float32(-128 - 78) * scale), np.float32(np.float32(127 - 78) * scale)
    xt = tf.constant([x])
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.quantization.fake_quant_with_min_max_vars(xt, low, high, num_bits=8)
    (nudged,) = Q.fake_quantize_vjp(x, scale, 78, np.ones(()), nudging="float32_range")
    (unrounded,) = Q.fake_quantize_vjp(x, scale, 78, np.ones(()), gradient="unrounded")
    assert tape.gradient(y, xt).numpy()[0] == float(nudged) == 1.0 != float(unrounded)


@pytest.mark.parametrize("scale, zero, quant_range, x", [
    ("0x1.8p-1", -106, Q.INT8, "-0x1.8c0002p+3"),  # x/s = −16.5000013 (short mantissa: s', z' exact)
    ("0x1.c1451ep-4", 33, Q.UINT8, "0x1.d1108cp+3"),  # x/s = 132.4999998
])
def test_tensorflow_fake_quant_forward_is_not_the_nudged_float32_formula_at_near_ties(scale, zero, quant_range, x):
    """Where fl32(fl32(x − nudged_min)·inv) lands on the tie, Keras' formula (nudging='float32_range') rounds up;
    TF 2.21 returns the correctly rounded index here (the spec's default), so no variant names its forward
    bit for bit (and −79.5000066 above goes the other way)."""
    tf = pytest.importorskip("tensorflow")
    scale, x = np.float32(float.fromhex(scale)), np.float32(float.fromhex(x))
    (low, high), zero = quant_range, zero
    got = tf.quantization.fake_quant_with_min_max_vars(tf.constant([x]), np.float32((low - zero) * scale),
                                                       np.float32((high - zero) * scale), num_bits=8).numpy()[0]
    assert got == np.float32(Q.fake_quantize(x, scale, zero, low, high))
    assert got != np.float32(Q.fake_quantize(x, scale, zero, low, high, nudging="float32_range"))
