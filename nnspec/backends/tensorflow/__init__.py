"""TensorFlow adapter: Keras 3's keras.activations on the TensorFlow backend, and tf.GradientTape.

TensorFlow eager places an op on the GPU whenever one exists, wherever its inputs
live; ``call``, ``grad`` and compiled functions therefore run under the device of
their first input. ``compile`` is tf.function with XLA (``jit_compile=True``).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter drowns the run's own output

import keras
import tensorflow as tf

from ..base import Backend
from .activations import Activations
from .attention import Attention
from .embedding import Embedding
from .layers import Layers
from .losses import Losses
from .metrics import Metrics
from .models import Models
from .normalization import Normalization
from .optimizers import Optimizers
from .quantization import Quantization
from .random import Random
from .recurrent import Recurrent

TF_DEVICES = {"cpu": "/CPU:0", "cuda": "/GPU:0"}



class TensorflowBackend(Models, Activations, Losses, Optimizers, Recurrent, Attention, Layers, Normalization, Quantization,
                        Embedding, Random, Metrics, Backend):
    name = "tensorflow"

    def __init__(self):
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(f"keras runs on {keras.backend.backend()!r}; set KERAS_BACKEND=tensorflow")
        # Conformance runs in full float32: no TF32 behind the user's back on GPUs.
        tf.config.experimental.enable_tensor_float_32_execution(False)
        self._has_gpu = bool(tf.config.list_physical_devices("GPU"))

    def version(self):
        return tf.__version__

    def devices(self):
        return ["cpu"] + (["cuda"] if tf.config.list_physical_devices("GPU") else [])

    def numerics(self):
        with tf.device(TF_DEVICES["cpu"]):
            subnormal = tf.constant(1e-40, dtype=tf.float32)
            flushed = bool((subnormal * 1.0).numpy() == 0.0)
        return {
            "flush_to_zero": flushed,
            "tensor_float_32": tf.config.experimental.tensor_float_32_execution_enabled(),
            "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
            "keras": keras.__version__,
            "keras_backend": keras.backend.backend(),
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        }

    def asarray(self, array, device):
        with tf.device(TF_DEVICES[device]):
            return tf.identity(tf.convert_to_tensor(array))

    def to_numpy(self, tensor):
        return tensor.numpy()

    def synchronize(self, device, *arrays):
        if device == "cuda":
            tf.test.experimental.sync_devices()

    def call(self, op, inputs, params):
        if not self._has_gpu:  # a device scope costs ~4 µs a call, and a CPU-only TF has one place
            return super().call(op, inputs, params)
        with tf.device(inputs[0].device):
            return super().call(op, inputs, params)

    def grad(self, fn, primals, cotangent, wrt=(0,)):
        sources = [primals[i] for i in wrt]
        with tf.device(sources[0].device), tf.GradientTape() as tape:
            tape.watch(sources)
            output = fn(*primals)
        # An input the output does not depend on (batch norm's γ, β with affine=False) has the zero gradient
        # the spec states, not None; a gather's IndexedSlices (an embedding's table) are summed into a
        # dense tensor by TensorFlow's own conversion, as a dense optimizer update does.
        gradients = tape.gradient(output, sources, output_gradients=cotangent,
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return tuple(tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in gradients)

    def compile(self, fn):
        compiled = tf.function(fn, jit_compile=True, autograph=False)

        def on_device(*args):
            with tf.device(args[0].device):
                return compiled(*args)

        return on_device
