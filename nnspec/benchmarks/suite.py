"""The benchmark suite: every spec op, timed three ways, beside a plain memcpy.

Run by ``nnspec.benchmarks.run_benchmarks`` (or ``pytest <this file> -p
nnspec.benchmarks.plugin --nnspec-backend torch ...``). For each op × size, on
float32 inputs drawn once from a fixed seed and already on the device:

eager     ``backend.call(op, [x], params)``: what the conformance engine calls;
compiled  the adapter's ``backend.compile`` of that same call (compile and a first
          call happen before timing and are reported as ``compile_seconds``);
          skipped, with the reason, where the backend has no compiler or it fails;
native    the framework's own function called directly with its native keywords
          (``F.softmax(x, dim=-1)``; see ``native.py``), so eager − native is
          the adapter's overhead;
memcpy    one per size: the framework's device-to-device copy of the same bytes,
          the run's memory-bandwidth yardstick.

Every timed call is followed, inside the timed region, by
``backend.synchronize(device, *outputs)`` (a lazy framework computes its outputs there)
and, for results dispatched asynchronously (jax arrays, even on CPU), by
``block_until_ready()`` on the result: without it JAX would be timed on dispatch alone.
"""

from __future__ import annotations

import inspect
import time

import numpy as np
import pytest

from nnspec.backends import Unsupported
from nnspec.backends.declared import fixed_of
from nnspec.benchmarks.native import memcpy_for, native_for, placement
from nnspec.benchmarks.plugin import DTYPE, MEMCPY, SLOW_COMPILERS, block


def _timed(call, args, synchronize, device, blocks: bool):
    """The zero-argument function pytest-benchmark times; identical in every mode but ``call``.

    ``synchronize`` is handed the outputs (a lazy framework computes them there), unless the adapter's
    ``synchronize(device)`` predates that and takes none."""
    hand = _takes_arrays(synchronize)
    if blocks:

        def run():
            out = call(*args)
            synchronize(device, *_outputs(out)) if hand else synchronize(device)
            out.block_until_ready()
            return out

    else:

        def run():
            out = call(*args)
            synchronize(device, *_outputs(out)) if hand else synchronize(device)
            return out

    return run


def _outputs(out) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _takes_arrays(synchronize) -> bool:
    try:
        parameters = inspect.signature(synchronize).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is p.VAR_POSITIONAL for p in parameters) or len(parameters) > 1


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


def _compile(backend, op, size, inputs, params, device, quick):
    """The compiled call and its compile time (compile + first call), or a skip with the reason."""
    if quick and backend.name in SLOW_COMPILERS:
        pytest.skip(SLOW_COMPILERS[backend.name])

    def call(*xs):
        return backend.call(op, list(xs), params)

    # A code object of its own per benchmark: torch.compile (dynamo) caches on the code
    # object and stops after 8 recompiles (FailOnRecompileLimitHit under fullgraph), which
    # one closure shared by 12 ops × 2 sizes would hit. Harmless for jax.jit/tf.function.
    call.__code__ = call.__code__.replace(co_name=f"{op}_{size}", co_qualname=f"nnspec_bench_{op}_{size}")
    start = time.perf_counter()
    try:
        compiled = backend.compile(call)
    except Unsupported as exc:
        pytest.skip(f"no compiled mode: {exc}")
    except Exception as exc:
        pytest.skip(f"{backend.name}.compile failed: {_short(exc)}")
    try:
        block(compiled(*inputs))
        backend.synchronize(device)
    except Exception as exc:  # e.g. torch.compile without a working C++ toolchain
        pytest.skip(f"compiled {op} failed on its first call: {_short(exc)}")
    return compiled, time.perf_counter() - start


def _extra_info(backend, device, op, family, size, mode, nbytes, **more):
    return {
        "op": op,
        "family": family,
        "backend": backend.name,
        "backend_version": backend.version(),
        "device": device,
        "dtype": DTYPE,
        "elements": size,
        "bytes": nbytes,
        "mode": mode,
        **more,
    }


def test_op(benchmark, backend, device, make_inputs, nnspec_run, op, size, mode):
    case = nnspec_run.ops[op]
    if not backend.implements(op):
        pytest.skip(f"{backend.name} does not implement {op}")
    inputs = make_inputs(size, len(case.inputs))
    params = dict(case.params)
    with placement(backend.name, device):
        try:  # untimed: warms the op up and gives the output's size
            reference = block(backend.call(op, list(inputs), params))
            backend.synchronize(device)
        except Unsupported as exc:
            pytest.skip(f"unsupported: {exc}")
        nbytes = len(inputs) * size * np.dtype(DTYPE).itemsize + backend.to_numpy(reference).nbytes
        more = {}
        if mode == "eager":
            call, args = backend.call, (op, list(inputs), params)
        elif mode == "native":
            native = native_for(backend, op, case.spec_fn)
            if native is None:
                pytest.skip(f"no native callable declared for {backend.name}.{op} (a hand-written op has no binding)")
            fixed = fixed_of(type(backend)).get(op, {})  # no keyword on the callable: it always does one value
            call, args = native.partial({k: v for k, v in params.items() if k not in fixed}), inputs
            block(call(*args))  # warm-up, untimed, as for eager
        else:
            call, more["compile_seconds"] = _compile(backend, op, size, inputs, params, device, nnspec_run.quick)
            args = inputs
        benchmark.group = f"{op}-{size}"
        benchmark.extra_info.update(_extra_info(backend, device, op, case.family, size, mode, nbytes, **more))
        benchmark(_timed(call, args, backend.synchronize, device, hasattr(reference, "block_until_ready")))


def test_memcpy(benchmark, backend, device, make_inputs, size):
    copy = memcpy_for(backend.name)
    if copy is None:
        pytest.skip(f"no memcpy declared for {backend.name} (nnspec/benchmarks/native.py)")
    (x,) = make_inputs(size, 1)
    with placement(backend.name, device):
        reference = block(copy(x))  # untimed warm-up
        backend.synchronize(device)
        nbytes = 2 * size * np.dtype(DTYPE).itemsize  # read + write
        benchmark.group = f"{MEMCPY}-{size}"
        benchmark.extra_info.update(_extra_info(backend, device, MEMCPY, "memory", size, "native", nbytes))
        benchmark(_timed(copy, (x,), backend.synchronize, device, hasattr(reference, "block_until_ready")))
