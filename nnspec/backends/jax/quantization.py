"""JAX adapter, quantization: nothing native.

Neither jax (jax.numpy, jax.lax, jax.nn), flax nor optax has an affine quantizer, a fake-quant op
or a straight-through estimator; Google's AQT (aqt.jax) is a separate library, not installed
here, and Keras 3's quantizers running on JAX are Keras' code, measured as the tensorflow
backend's. Composing round/clip from jax.numpy would be nnspec's formula, not JAX's: every
op is unsupported, stated.
"""

from __future__ import annotations

NONE = "jax, flax and optax have no quantizer (aqt, which has, is not installed)"


class Quantization:
    UNSUPPORTED = {op: NONE for op in ("quantize", "dequantize", "fake_quantize", "quant_params")}
