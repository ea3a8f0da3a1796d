"""``nnspec check-adapter B``: does an adapter keep nnspec's contract? Seconds, not a conformance run.

Each problem is one line, and says whose it is:

* ``your adapter: ...`` -- the adapter breaks the contract (a conversion that changes dtype, shape or
  bits, an op method whose signature is not the spec's, a VJP of the wrong shape, an unreadable native
  default, weights that do not survive spec -> native -> spec);
* ``your framework: ...`` -- the framework itself raised inside an op on a tiny ordinary example
  (the adapter may still be at fault; the conformance run measures the rest).

Checked: identity (``version``, ``devices``); for each dtype and device, ``asarray``/``to_numpy`` keep
dtype, shape and bits (±0, subnormals, ±inf, nan, ±max included) -- or raise ``Unsupported``; for each
op the adapter implements, its method's parameters are the spec's (names and order; defaults are
pointless since the engine passes everything); the forward's outputs keep the input's dtype and its VJPs
have the shapes of the inputs they differentiate, on one small finite example; every declared native
default is readable; ops with weights round-trip their layout bit for bit. ``Unsupported`` anywhere is a
declaration, never a problem.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
from hypothesis import HealthCheck, Phase, find, settings

from ..backends import DTYPES, Backend, Unsupported
from ..backends.base import as_gradients
from ..backends.binding import adapter_parameters

ADAPTER, FRAMEWORK = "your adapter", "your framework"


def probe(dtype: np.dtype) -> list[np.ndarray]:
    """Arrays whose bits a conversion must keep: special values in a 2x4 array, a scalar, an empty array."""
    info = np.finfo(dtype)
    values = [0.0, -0.0, 1.0, -2.5, float(info.smallest_subnormal), float(info.max), -float(info.max), np.inf]
    special = np.array(values, dtype=np.float64).astype(dtype).reshape(2, 4)
    special = np.append(special.reshape(-1)[:-1], np.array(np.nan, dtype)).reshape(2, 4)
    return [special, np.array(1.5, dtype=dtype), np.zeros((0, 3), dtype=dtype)]


def check_round_trips(backend: Backend) -> list[str]:
    problems = []
    for device in backend.devices():
        for dtype_name, dtype in DTYPES.items():
            for array in probe(dtype):
                try:
                    back = np.asarray(backend.to_numpy(backend.asarray(array, device)))
                except Unsupported:
                    break  # the dtype (or device) is declared unsupported
                except Exception as exc:
                    problems.append(f"{ADAPTER}: asarray/to_numpy of {dtype_name}{list(array.shape)} on {device} "
                                    f"raised {type(exc).__name__}: {exc}")
                    break
                where = f"asarray/to_numpy on {device}"
                if back.dtype != array.dtype:
                    problems.append(f"{ADAPTER}: {where} turns {dtype_name} into {back.dtype} (raise Unsupported "
                                    f"for a dtype your framework lacks instead)")
                    break
                if back.shape != array.shape:
                    problems.append(f"{ADAPTER}: {where} turns shape {list(array.shape)} into {list(back.shape)}")
                    break
                if back.tobytes() != array.tobytes():
                    problems.append(f"{ADAPTER}: {where} changes the bits of {dtype_name} {_values(array)} "
                                    f"-> {_values(back)}")
                    break
    return problems


def check_signature(backend: Backend, op: str) -> list[str]:
    """The op method's parameters after ``self`` are the spec's, in order, without defaults."""
    try:
        signature = inspect.signature(getattr(backend, op))
    except (TypeError, ValueError):
        return []
    parameters = list(signature.parameters.values())
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
        return []  # takes anything; the run will tell
    got = [p.name for p in parameters]
    want = [p.name for p in adapter_parameters(op)]
    if got != want:
        missing, extra = [n for n in want if n not in got], [n for n in got if n not in want]
        detail = "; ".join(filter(None, [missing and f"missing {', '.join(missing)}",
                                         extra and f"not in the spec: {', '.join(extra)}",
                                         not missing and not extra and "order differs"]))
        return [f"{ADAPTER}: {op}({', '.join(got)}) is not the spec's {op}({', '.join(want)}): {detail}"]
    with_default = [p.name for p in parameters if p.default is not p.empty]
    if with_default:
        return [f"{ADAPTER}: {op} gives defaults to {', '.join(with_default)}; the engine passes every parameter, "
                f"so a default only hides a misspelt one"]
    return []


def check_native_defaults(backend: Backend, op: str) -> list[str]:
    problems = []
    for parameter in backend._native_defaults().get(op, {}):
        try:
            backend.native_default(op, parameter)
        except Unsupported:
            continue
        except Exception as exc:
            problems.append(f"{ADAPTER}: the native default of {op}({parameter}=...) from "
                            f"{backend.native_name(op, parameter)} is unreadable: {type(exc).__name__}: {exc}")
    return problems


def _ordinary(example) -> bool:
    """Finite inputs and a cotangent: the gradient applies."""
    return example.cotangent is not None and all(
        np.all(np.isfinite(np.asarray(a, np.float64))) for a in example.inputs if np.asarray(a).dtype.kind == "f")


def _telling(example) -> bool:
    """Ordinary, and shaped so that a wrong shape shows: no scalar first input, no square weight matrix."""
    shapes = [np.shape(a) for a in example.inputs]
    return (_ordinary(example) and np.size(example.inputs[0]) >= 2
            and all(len(set(s)) == len(s) for s in shapes if len(s) == 2))


def tiny_example(entry, dtype: str, backend: Backend | None = None):
    """One small example of the row (telling if one is drawn, else ordinary), the same on every call;
    none that ``backend`` declares unsupported (``UNSUPPORTED``)."""
    from ..conformance.search import example_strategy

    options = settings(database=None, derandomize=True, max_examples=200, phases=[Phase.generate],
                       suppress_health_check=list(HealthCheck), deadline=None)
    with warnings.catch_warnings():  # find() reprs the large examples it rejects; nobody reads them here
        warnings.simplefilter("ignore")
        strategy = example_strategy(entry, dtype)
        if backend is not None:
            strategy = strategy.filter(lambda example: backend.unsupported(entry.op, dtype, example.params) is None)
        try:
            return find(strategy, _telling, settings=options)
        except Exception:  # hypothesis found none: take any ordinary one
            return find(strategy, _ordinary, settings=options)


def _values(array) -> str:
    return "[" + ", ".join(repr(float(v)) for v in np.asarray(array).reshape(-1)) + "]"


def check_example(backend: Backend, entry, device: str, dtype: str) -> list[str]:
    """Forward dtypes and VJP shapes on one tiny example; the layout round trip for ops with weights."""
    op = entry.op
    try:
        example = tiny_example(entry, dtype, backend)
    except Exception:
        return []  # the row draws no ordinary example: nothing to say about the adapter
    problems = []
    try:
        native = [backend.asarray(a, device) for a in example.inputs]
        cotangent = backend.asarray(example.cotangent, device)
        value, gradients = backend.evaluate(op, native, example.params, cotangent, entry.wrt)
    except Unsupported:
        return []
    if isinstance(value, Exception):
        return [f"{FRAMEWORK}: {op} raised {type(value).__name__}: {value} on a tiny {dtype} example"]
    try:
        outputs = [np.asarray(backend.to_numpy(v)) for v in (value if isinstance(value, (tuple, list)) else (value,))]
    except Exception as exc:
        return [f"{ADAPTER}: to_numpy of {op}'s output raised {type(exc).__name__}: {exc}"]
    floating = np.dtype(DTYPES[dtype])
    for i, out in enumerate(outputs):
        if out.dtype.kind == "f" and out.dtype != floating:
            problems.append(f"{ADAPTER}: {op} returns output {i} as {out.dtype} for {dtype} inputs")
    if isinstance(gradients, Unsupported):
        return problems
    if isinstance(gradients, Exception):
        problems.append(f"{FRAMEWORK}: the VJP of {op} raised {type(gradients).__name__}: {gradients}")
    elif gradients is not None:
        gradients = as_gradients(gradients)
        if len(gradients) != len(entry.wrt):
            problems.append(f"{ADAPTER}: the VJP of {op} returns {len(gradients)} gradients for inputs {list(entry.wrt)}")
        for i, g in zip(entry.wrt, gradients):
            shape, want = np.shape(backend.to_numpy(g)), np.shape(example.inputs[i])
            if shape != want:
                problems.append(f"{ADAPTER}: the VJP of {op} w.r.t. input {i} has shape {list(shape)}, "
                                f"the input {list(want)}")
    # an output whose shape is not the spec's (Keras' per-row losses) gets no VJP: the forward check of
    # the conformance run reports it as the framework's finding, not the adapter's
    if getattr(entry, "weights", ()):
        from ..conformance.layout import round_trip_mismatch

        try:
            mismatch = round_trip_mismatch(entry, backend, example)
        except Unsupported:
            mismatch = ""
        except Exception as exc:
            mismatch = f"raised {type(exc).__name__}: {exc}"
        if mismatch:
            problems.append(f"{ADAPTER}: the layout round trip of {op} (to_native_layout, from_native_layout): {mismatch}")
    return problems


def first_dtype(backend: Backend, device: str) -> str | None:
    """The widest dtype the backend converts (float64 unless it declares it unsupported)."""
    for name, dtype in DTYPES.items():
        try:
            backend.asarray(np.zeros(1, dtype), device)
            return name
        except Exception:
            continue
    return None


def check(backend: Backend, family: str | None = None, op: str | None = None) -> list[str]:
    """Every contract problem of ``backend``, one line each ("your adapter: ..." / "your framework: ...")."""
    from ..conformance.catalogue import select

    problems = []
    try:
        backend.version()
        devices = list(backend.devices())
    except Exception as exc:
        return [f"{ADAPTER}: version()/devices() raised {type(exc).__name__}: {exc}"]
    if not devices:
        return [f"{ADAPTER}: devices() is empty"]
    problems += check_round_trips(backend)
    device = devices[0]
    dtype = first_dtype(backend, device)
    for entry in select(family, op):
        if entry.family == "models" or not backend.implements(entry.op):
            continue  # unsupported: no method (the seed models have model_forward/model_train, no op method)
        whole = [d for d in backend.declarations(entry.op) if d.whole and d.dtypes is None]
        if whole:  # the engine never calls a method declared unsupported as a whole: it is dead code
            problems.append(f"{ADAPTER}: {entry.op} has a method and is declared unsupported as a whole in "
                            f"UNSUPPORTED ({whole[0].reason!r}): delete one")
            continue
        signature = check_signature(backend, entry.op)
        problems += signature + check_native_defaults(backend, entry.op)
        if not signature and dtype is not None and "values" in entry.checks:
            problems += check_example(backend, entry, device, dtype)
    return problems
