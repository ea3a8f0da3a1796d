"""Random ops: dropout and the weight initializers, stated as distributions.

A random op's output is a sample, so the spec states its *law* (``<op>_law``: a ``Law``, a frozen
``scipy.stats`` distribution of each element, or of the kept count) and, for the NumPy baseline, a
sampler drawing from that law with a NumPy generator seeded by ``seed``. The conformance check
(``distribution``) tests a framework's samples against the law and checks the deterministic part
exactly (dropout's kept values given the framework's own mask).

Shapes are the spec's layouts: a dense kernel is (out, in), a convolution kernel (out, in, *receptive)
(the spec's OIHW), so fan_in = shape[1]·∏shape[2:] and fan_out = shape[0]·∏shape[2:] (a receptive field
of one for a dense kernel). Frameworks that store (in, out) or HWIO kernels have their adapters map the
spec's shape to theirs and the sample back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._float64 import float64

TRUNCATION = 2.0  # a truncated normal keeps |z| < 2 standard deviations of the untruncated one
# the standard deviation of N(0, 1) truncated to (−2, 2): √(1 − 2·2φ(2)/(2Φ(2) − 1)) = 0.87962566103423978
TRUNCATED_STD = math.sqrt(1 - 2 * TRUNCATION * stats.norm.pdf(TRUNCATION) / (2 * stats.norm.cdf(TRUNCATION) - 1))


@dataclass(frozen=True)
class Law:
    """The distribution of each element: ``dist`` a frozen scipy.stats distribution; ``text`` its formula."""

    name: str
    dist: object
    text: str

    def cdf(self, values):
        return self.dist.cdf(values)


def fans(shape) -> tuple[float, float]:
    """(fan_in, fan_out) of a kernel in the spec's layout (out, in, *receptive)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(f"a kernel has at least two axes, not {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def variance_scaling(shape, scale, mode, distribution, name) -> Law:
    """Var = scale/fan, fan = fan_in, fan_out or (fan_in + fan_out)/2 (``mode``): uniform on ±√(3·Var),
    normal N(0, Var), or a normal truncated at ±2σ' whose σ' = √Var/TRUNCATED_STD keeps the variance Var."""
    fan_in, fan_out = fans(shape)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    var = scale / fan
    if distribution == "uniform":
        bound = math.sqrt(3 * var)
        return Law(name, stats.uniform(-bound, 2 * bound), f"U(±{bound:.6g})")
    if distribution == "normal":
        return Law(name, stats.norm(0, math.sqrt(var)), f"N(0, {math.sqrt(var):.6g}²)")
    if distribution == "truncated":
        sigma = math.sqrt(var) / TRUNCATED_STD
        return Law(name, stats.truncnorm(-TRUNCATION, TRUNCATION, scale=sigma),
                   f"N(0, {sigma:.6g}²) truncated at ±2σ")
    raise ValueError(f"unknown distribution {distribution!r}")


def glorot_uniform_law(shape) -> Law:
    """Glorot & Bengio (2010): U(±√(6/(fan_in + fan_out)))."""
    return variance_scaling(shape, 1.0, "fan_avg", "uniform", "glorot_uniform")


def glorot_normal_law(shape, *, normal="normal") -> Law:
    """N(0, 2/(fan_in + fan_out)); ``normal="truncated"``: truncated at ±2σ' with the same variance (Keras, JAX)."""
    return variance_scaling(shape, 1.0, "fan_avg", normal, "glorot_normal")


def he_uniform_law(shape) -> Law:
    """He et al. (2015): U(±√(6/fan_in))."""
    return variance_scaling(shape, 2.0, "fan_in", "uniform", "he_uniform")


def he_normal_law(shape, *, normal="normal") -> Law:
    """N(0, 2/fan_in); ``normal="truncated"`` as glorot_normal's."""
    return variance_scaling(shape, 2.0, "fan_in", normal, "he_normal")


def lecun_normal_law(shape, *, normal="normal") -> Law:
    """LeCun et al. (1998): N(0, 1/fan_in); ``normal="truncated"`` as glorot_normal's."""
    return variance_scaling(shape, 1.0, "fan_in", normal, "lecun_normal")


def orthogonal_shape(shape) -> tuple[int, int]:
    """The matrix an orthogonal kernel is: (shape[0], ∏shape[1:])."""
    return int(shape[0]), math.prod(int(s) for s in shape[1:])


def orthogonal_law(shape, gain=1.0) -> Law:
    """A Haar-random orthogonal matrix (Saxe et al. 2014) times ``gain``, of the kernel flattened to
    (shape[0], ∏shape[1:]): its rows orthonormal where rows ≤ columns, else its columns. Each is then
    uniform on the sphere S^{n−1}, n = max(rows, columns), so every entry e has
    (e/gain + 1)/2 ~ Beta((n − 1)/2, (n − 1)/2): the law of one entry, tested over independent seeds."""
    n = max(orthogonal_shape(shape))
    a = (n - 1) / 2
    return Law("orthogonal", stats.beta(a, a, loc=-gain, scale=2 * gain),
               f"(e/{gain:g} + 1)/2 ~ Beta({a:g}, {a:g}), rows or columns orthonormal")


def dropout_law(x, rate=0.5, training=True) -> Law:
    """The kept count of n elements (training, 0 < rate < 1): Binomial(n, 1 − rate)."""
    return Law("dropout", stats.binom(int(np.size(x)), 1 - rate), f"Binomial({np.size(x)}, {1 - rate:g})")


# samplers: the NumPy baseline's draws from each law -------------------------------------------------


def _sample(law: Law, shape, seed):
    # A sampler's ``dtype`` names the dtype the framework draws in: the law is the same in every dtype, so
    # the spec's sample is float64 whatever it is (the NumPy baseline rounds it).
    return law.dist.rvs(size=tuple(shape), random_state=np.random.default_rng(seed))


def glorot_uniform(shape, seed, dtype):
    """A sample of ``glorot_uniform_law(shape)``."""
    return _sample(glorot_uniform_law(shape), shape, seed)


def glorot_normal(shape, seed, dtype, *, normal="normal"):
    """A sample of ``glorot_normal_law(shape)``."""
    return _sample(glorot_normal_law(shape, normal=normal), shape, seed)


def he_uniform(shape, seed, dtype):
    """A sample of ``he_uniform_law(shape)``."""
    return _sample(he_uniform_law(shape), shape, seed)


def he_normal(shape, seed, dtype, *, normal="normal"):
    """A sample of ``he_normal_law(shape)``."""
    return _sample(he_normal_law(shape, normal=normal), shape, seed)


def lecun_normal(shape, seed, dtype, *, normal="normal"):
    """A sample of ``lecun_normal_law(shape)``."""
    return _sample(lecun_normal_law(shape, normal=normal), shape, seed)


def orthogonal(shape, seed, dtype, gain=1.0):
    """gain·Q, Q from the QR decomposition of a standard normal matrix (the longer side first) with the signs
    of R's diagonal taken out (without them Q is not Haar), reshaped to ``shape``."""
    rows, cols = orthogonal_shape(shape)
    g = np.random.default_rng(seed).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(g)
    q = q * np.sign(np.diag(r))
    q = q.T if rows < cols else q
    return gain * q.reshape(tuple(shape))


@float64
def dropout(x, seed, rate=0.5, training=True, *, mask=None):
    """Inverted dropout: y = x/(1 − rate) where kept, 0 where dropped, each element kept with probability
    1 − rate (``mask``: the kept positions, given; else drawn from ``seed``). rate 0 and inference
    (training=False) are the identity, rate 1 drops everything (y = 0)."""
    x = np.asarray(x)
    if not training or rate == 0:
        return x.copy()
    if rate == 1:
        return np.zeros_like(x)
    keep = mask if mask is not None else np.random.default_rng(int(seed)).random(x.shape) >= rate
    return np.where(keep, x / (1 - rate), 0).astype(x.dtype, copy=False)


# each framework's default initializer of a layer's weights, measured against these ---------------------

KERAS_UNIFORM = 0.05  # keras.initializers.RandomUniform's default bound

# the spec's own choice of each layer's default (Glorot's for kernels, orthogonal for an LSTM's recurrent kernel,
# N(0, 1) for embeddings): the defaults table shows each framework's measured one beside it
LAYER_DEFAULTS = {
    "dense_init": {"kernel": "glorot_uniform"},
    "conv2d_init": {"kernel": "glorot_uniform"},
    "embedding_init": {"embeddings": "normal(0, 1)"},
    "lstm_init": {"kernel": "glorot_uniform", "recurrent_kernel": "orthogonal"},
}


def layer_candidates(shape, hidden) -> dict[str, Law]:
    """The elementwise laws a layer's freshly built weight of ``shape`` (spec layout) is fitted to, by name
    (the defaults table's words); ``hidden``: a recurrent layer's hidden size (torch's U(±1/√hidden)), or None."""
    laws = [glorot_uniform_law(shape), glorot_normal_law(shape), he_uniform_law(shape), he_normal_law(shape),
            lecun_normal_law(shape),
            variance_scaling(shape, 1.0, "fan_in", "uniform", "lecun_uniform"),
            variance_scaling(shape, 1 / 3, "fan_in", "uniform", "uniform(±1/√fan_in)"),
            variance_scaling(shape, 1.0, "fan_out", "normal", "normal(0, 1/fan_out)"),
            Law("normal(0, 1)", stats.norm(0, 1), "N(0, 1)"),
            Law("uniform(±0.05)", stats.uniform(-KERAS_UNIFORM, 2 * KERAS_UNIFORM), "U(±0.05)")]
    if hidden is not None:
        bound = 1 / math.sqrt(hidden)
        laws.append(Law("uniform(±1/√hidden)", stats.uniform(-bound, 2 * bound), f"U(±{bound:.6g})"))
    for base in (glorot_normal_law, he_normal_law, lecun_normal_law):
        law = base(shape, normal="truncated")
        laws.append(Law(law.name + "(truncated)", law.dist, law.text))
    return {law.name: law for law in laws}


def lstm_shapes(shape):
    """An LSTM of (hidden, in): its input kernel (4·hidden, in) and recurrent kernel (4·hidden, hidden),
    gates stacked i, f, g, o (torch's layout, the spec's)."""
    hidden, inputs = shape
    return (4 * hidden, inputs), (4 * hidden, hidden)


def dense_init(shape, seed, dtype):
    """The spec's default of a dense kernel (out, in): glorot_uniform."""
    return (glorot_uniform(shape, seed, dtype),)


def conv2d_init(shape, seed, dtype):
    """The spec's default of a conv2d kernel (O, I, KH, KW): glorot_uniform."""
    return (glorot_uniform(shape, seed, dtype),)


def embedding_init(shape, seed, dtype):
    """The spec's default of an embedding table (num, dim): N(0, 1)."""
    return (np.random.default_rng(seed).standard_normal(tuple(shape)),)


def lstm_init(shape, seed, dtype):
    """The spec's default of an LSTM of (hidden, in): a glorot_uniform input kernel and an orthogonal
    recurrent kernel."""
    kernel, recurrent = lstm_shapes(shape)
    return glorot_uniform(kernel, seed, dtype), orthogonal(recurrent, seed + 1, dtype)
