"""JAX adapter, quantization: nothing native.

Neither jax (jax.numpy, jax.lax, jax.nn), flax nor optax has an affine quantizer, a fake-quant op
or a straight-through estimator; Google's AQT (aqt.jax) is a separate library, not installed
here, and Keras 3's quantizers running on JAX are Keras' code, measured as the tensorflow
backend's. Composing round/clip from jax.numpy would be nnspec's formula, not JAX's: every
op is unsupported, stated.
"""

from __future__ import annotations

from ..base import Unsupported

NONE = "jax, flax and optax have no quantizer (aqt, which has, is not installed)"


class Quantization:
    def quantize(self, x, scale, zero_point, quant_min, quant_max, axis):
        raise Unsupported(NONE)

    def dequantize(self, q, scale, zero_point, axis):
        raise Unsupported(NONE)

    def fake_quantize(self, x, scale, zero_point, quant_min, quant_max, axis):
        raise Unsupported(NONE)

    def quant_params(self, x_min, x_max, quant_min, quant_max, symmetric, eps):
        raise Unsupported(NONE)
