"""What an adapter is: the contract every backend fulfils, and the helpers they share.

An adapter runs the framework's *own* implementation of each op. Its op methods
carry the spec's op ids and signatures (``gelu(self, x, approximate)`` beside
``nnspec.spec.activations.gelu(x, approximate="none")``); the engine always
passes every spec parameter explicitly, by keyword, so adapter methods have no
defaults of their own. An op a framework has no native function for is written
from the framework's primitives and marked ``@composed``; the report says so.

Besides the ops an adapter provides its name and version, its devices, the
conversion of NumPy arrays to native tensors and back for each dtype, a device
synchronize for timing, reverse-mode autodiff through its own autograd
(``grad``: every requested input's VJP from one backward pass; ``evaluate``: forward
and VJPs of one example in one call), and its native defaults, read from the native
callable itself by ``native_default``. An op that is one native call is declared, not
written: ``BINDINGS = {op: bind(native_callable, spec_param="native_name", ...)}`` (see
``binding.py``) gives the op method, its native defaults and the benchmarks' native callable;
hand-written ops declare their defaults in ``NATIVE_DEFAULTS``: op -> spec parameter
-> (native callable, native parameter name, translation into spec vocabulary).
"""

from __future__ import annotations

import platform
from typing import Any, Callable, ClassVar

import ml_dtypes
import numpy as np

from . import declared
from .binding import Binding, binding_of, install, native_default_of, native_defaults_of, qualname, same  # noqa: F401
from .declared import Declaration, declarations_of, fixed_of, unsupported  # noqa: F401

MODEL_IDS = ("mlp", "cnn", "resnet_block", "lstm_classifier", "gru_regressor", "transformer_encoder")

DTYPES = {
    "float64": np.dtype(np.float64),
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
}


class Unsupported(Exception):
    """The backend cannot do this (dtype, device, op or parameter): reported as `unsupported`."""


def composed(method):
    """Marks an op method that composes framework primitives instead of calling a native op."""
    method.composed = True
    return method


def first_output(value):
    """An op's differentiated output: the first of several (recurrent layers return y, h_n, c_n)."""
    return value[0] if isinstance(value, (tuple, list)) else value


def as_gradients(gradients) -> tuple:
    """A VJP's result as a tuple (an adapter may return a single input's gradient bare)."""
    return tuple(gradients) if isinstance(gradients, (tuple, list)) else (gradients,)


def shape_of(tensor) -> tuple:
    return tuple(tensor.shape) if hasattr(tensor, "shape") else np.shape(tensor)


def fits(value, cotangent) -> bool:
    """Whether ``cotangent`` has the shape of the op's (first) output ``value``."""
    return shape_of(first_output(value)) == shape_of(cotangent)


_qualname = qualname



#: CPU features that pick a framework's kernels and so can change its numbers (oneDNN runs float16 natively only
#: with avx512_fp16, bfloat16 with avx512_bf16 or AMX; FMA contracts a·b + c into one rounding).
NUMERIC_CPU_FLAGS = ("fma", "f16c", "avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_fp16")


def processor(info: dict | None = None) -> str:
    """The CPU's model and its numerics-relevant features (``NUMERIC_CPU_FLAGS``), from py-cpuinfo (``info``: its
    ``get_cpu_info()``, the library pytest-benchmark's machine info comes from), e.g. ``"Intel(R) Xeon(R) Processor
    @ 2.80GHz (fma f16c avx2 avx512f)"``; what ``platform`` knows where it says nothing. A result that moves
    between two runs of one version may be the machine's: TF's float16 softmax of a row holding a nan gave 0
    beside it in one report's run and nan on a CPU where oneDNN has no float16 kernel."""
    fallback = platform.processor() or platform.machine()
    if info is None:
        try:
            import cpuinfo

            info = cpuinfo.get_cpu_info()
        except Exception:  # an unknown platform: the model is still worth a line
            return fallback
    model = info.get("brand_raw") or fallback
    flags = set(info.get("flags") or ())
    present = [flag for flag in NUMERIC_CPU_FLAGS if flag in flags]
    return f"{model} ({' '.join(present)})" if present else model


class Backend:
    """Base class of every adapter. Subclasses set ``name`` and implement the abstract part."""

    name: ClassVar[str] = "abstract"
    #: op -> Binding (``binding.bind``): the op as one call of a native callable; see ``binding.py``
    BINDINGS: ClassVar[dict[str, Binding]] = {}
    #: op -> spec parameter -> (native callable, native parameter name, translation to spec value),
    #: for hand-written ops (bound ops read theirs from the binding)
    NATIVE_DEFAULTS: ClassVar[dict[str, dict[str, tuple[Callable, str, Callable]]]] = {}
    #: op -> what the adapter cannot do, declared up front (``declared.py``): a reason (the whole op),
    #: ``unsupported(reason, dtypes=..., param=value, where=...)``, or a list of them. The engine
    #: consults it before drawing: nothing declared here ever reaches the adapter.
    UNSUPPORTED: ClassVar[dict[str, Any]] = {}
    #: op -> spec parameter -> (native callable, value): an option the framework lacks, done one way always
    #: (``declared.py``): every other value is unsupported, and the defaults table shows this one.
    FIXED: ClassVar[dict[str, dict[str, tuple[Callable, Any]]]] = {}
    #: model id -> the settings that make the framework's build of the model agree with the spec, as data
    #: (``nnspec.spec.models.Setting``: the public API call, the layer it applies to, why); the porting-models
    #: page prints them beside what the ``models`` checks measured with them.
    MODEL_SETTINGS: ClassVar[dict[str, tuple]] = {}

    def __init_subclass__(cls, **kwargs):
        """Checks the adapter's bindings and declarations (an error at import names adapter, op and
        parameter) and gives each binding its op method."""
        super().__init_subclass__(**kwargs)
        install(cls)
        declared.install(cls)

    # -- identity -------------------------------------------------------------

    def version(self) -> str:
        raise NotImplementedError

    def devices(self) -> list[str]:
        return ["cpu"]

    def numerics(self) -> dict[str, Any]:
        """The numerics settings in force (flush-to-zero, TF32, oneDNN, matmul precision...)."""
        return {}

    def environment(self, device: str) -> dict[str, Any]:
        return {
            "backend": self.name,
            "backend_version": self.version(),
            "device": device,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "processor": processor(),
            "numpy": np.__version__,
            "numerics": self.numerics(),
        }

    # -- tensors --------------------------------------------------------------

    def supports(self, dtype: str, device: str) -> bool:
        return True

    def asarray(self, array: np.ndarray, device: str):
        """A native tensor on ``device`` holding ``array`` exactly, in the same dtype."""
        raise NotImplementedError

    def to_numpy(self, tensor) -> np.ndarray:
        raise NotImplementedError

    def synchronize(self, device: str, *arrays) -> None:
        """Blocks until all work queued on ``device`` is done and ``arrays`` are computed (for timing).

        The benchmarks hand it the timed call's outputs, so a lazy framework evaluates them here
        (MLX: ``mx.eval(*arrays)``) inside the timed region; an eager one may ignore them."""

    # -- ops --------------------------------------------------------------------

    def implements(self, op: str) -> bool:
        if op in MODEL_IDS:  # a seed model: the backend builds them all through model_forward / model_train
            return callable(getattr(self, "model_forward", None))
        return callable(getattr(self, op, None))

    def declarations(self, op: str) -> tuple[Declaration, ...]:
        """What this adapter declares it cannot do of ``op`` (``UNSUPPORTED``, merged over its mixins)."""
        return declarations_of(type(self)).get(op, ())

    def unsupported(self, op: str, dtype: str | None = None, params: dict | None = None) -> str | None:
        """The adapter's stated reason it cannot run ``op`` (at ``dtype``; with ``params``), or None.

        Without ``params`` it answers for every example of the case: an op without a method, or one
        declared unsupported as a whole (at ``dtype``). With ``params``, a declared parameter value
        counts too. Never draws, converts or calls anything: the engine asks it first."""
        for declaration in self.declarations(op):  # the adapter's own words first
            if params is not None:
                if declaration.covers(dtype, params):
                    return declaration.reason
            elif declaration.whole and declaration.applies_to(dtype):
                return declaration.reason
        return None if self.implements(op) else f"{self.name} has no {op}"

    def is_composed(self, op: str) -> bool:
        return bool(getattr(getattr(self, op, None), "composed", False))

    def call(self, op: str, inputs: list, params: dict):
        return self.native_call(op, inputs, params)

    def native_call(self, op: str, inputs: list, params: dict):
        """The op itself, eagerly: its binding's native callable or its hand-written method.

        ``call`` and ``vjp`` go through it; an adapter that wraps them (JAX's jit) calls it inside."""
        return getattr(self, op)(*inputs, **params)

    def binding(self, op: str) -> Binding | None:
        """The binding that declares ``op`` (None for a hand-written or missing op method)."""
        return binding_of(self, op)

    def grad(self, fn: Callable, primals: list, cotangent, wrt: tuple[int, ...] = (0,)) -> tuple:
        """VJPs of ``fn`` at ``primals`` w.r.t. ``primals[i]`` for each i in ``wrt``, from ONE backward pass
        of the framework's autodiff: a tuple, one gradient per index, in ``wrt``'s order."""
        raise NotImplementedError

    def vjp(self, op: str, inputs: list, cotangent, params: dict, wrt: tuple[int, ...] = (0,)) -> tuple:
        """VJPs of the op's output (its first, if it returns several: the cotangent's shape) w.r.t.
        ``inputs[i]`` for each i in ``wrt``, from one backward pass: a tuple, one per index."""
        return self.grad(lambda *args: first_output(self.native_call(op, args, params)), inputs, cotangent, wrt)

    def evaluate(self, op: str, inputs: list, params: dict, cotangent=None, wrt: tuple[int, ...] = ()):
        """``(value, gradients)``: the op's output and, where a cotangent is given, its VJPs w.r.t. every
        input in ``wrt`` -- everything the conformance engine asks of one example, in one call.

        Each half fails on its own: ``value`` is the exception the forward raised, ``gradients``
        the one the backward raised (a forward that raised is still followed by the backward,
        which reports its own failure). ``gradients`` is None without a cotangent or ``wrt``,
        and when the first output's shape is not the cotangent's (a VJP of an output the spec
        does not have means nothing; the forward check reports the shape). ``Unsupported``
        (a parameter value the backend lacks) propagates. This default is ``call`` then one
        ``vjp``; an adapter overrides it where forward and backward share work (JAX: one jit).
        """
        try:
            value = self.call(op, inputs, params)
        except Unsupported:
            raise
        except Exception as exc:  # the adapter's failure is a measurement, not a crash
            value = exc
        if cotangent is None or not wrt or not (isinstance(value, Exception) or fits(value, cotangent)):
            return value, None
        try:
            gradients = as_gradients(self.vjp(op, inputs, cotangent, params, wrt=tuple(wrt)))
        except Unsupported:
            raise
        except Exception as exc:
            gradients = exc
        return value, gradients

    def to_native_layout(self, op: str, weights: dict, params: dict):
        """The spec's canonical weights of ``op`` in the framework's own layer/parameter layout.

        Family mixins handle their ops and pass any other op on with super()."""
        raise Unsupported(f"{self.name} maps no weight layout for {op}")

    def from_native_layout(self, op: str, native, params: dict) -> dict:
        """The canonical weights back from what ``to_native_layout`` built."""
        raise Unsupported(f"{self.name} maps no weight layout for {op}")

    # -- models (nnspec/spec/models.py; the contract in docs/architecture.md, "models") --------------------------

    # def model_forward(self, model_id: str, weights: dict, x: np.ndarray, y: np.ndarray, training: bool) -> dict:
    #     """The model built from the framework's own layers with the canonical ``weights`` (spec layouts, NumPy,
    #     in the dtype under test) loaded through the families' layout mappings, run once on (x, y):
    #     {"logits", "loss" (0-d), "activations": {layer: array}, "gradients": {"<layer>/<param>": array},
    #      "state": {"<bn>/running_mean" | "<bn>/running_var": array after this batch (training only)}},
    #     every array NumPy in the spec's layout and names (``spec.models.forward``'s structure)."""
    #
    # def model_train(self, model_id: str, weights: dict, xs: np.ndarray, ys: np.ndarray, optimizer: str,
    #                 hyper: dict) -> dict:
    #     """len(xs) training steps with the framework's own optimizer ("momentum": SGD with momentum, hyper
    #     lr, momentum; "adam": hyper lr, beta1, beta2, eps), batch t on step t: {"<layer>/<param>": (steps,
    #     *shape)} of every weight (running statistics included) after every step, spec layouts."""

    def compile(self, fn: Callable) -> Callable:
        """The framework's compiled form of ``fn`` (jax.jit, tf.function, torch.compile)."""
        raise Unsupported(f"{self.name} has no compiled mode")

    # -- defaults ---------------------------------------------------------------

    def native_default(self, op: str, parameter: str) -> Any:
        """The framework's own default for spec ``parameter`` of ``op``, in spec vocabulary."""
        fixed = fixed_of(type(self)).get(op, {}).get(parameter)
        if fixed is not None:
            return fixed[1]
        entry = self._native_defaults().get(op, {}).get(parameter)
        if entry is None:
            raise Unsupported(f"{self.name} declares no native counterpart of {op}({parameter}=...)")
        fn, native_name, to_spec = entry
        return to_spec(native_default_of(fn, native_name))

    def native_name(self, op: str, parameter: str) -> str | None:
        fixed = fixed_of(type(self)).get(op, {}).get(parameter)
        if fixed is not None:
            return f"{_qualname(fixed[0])} (no {parameter} option: fixed)"
        entry = self._native_defaults().get(op, {}).get(parameter)
        return f"{_qualname(entry[0])}({entry[1]}=...)" if entry else None

    def _native_defaults(self) -> dict:
        """BINDINGS and NATIVE_DEFAULTS of every family mixin of this adapter, merged."""
        return native_defaults_of(type(self))
