"""pytest plugin behind the benchmark suite: options, fixtures and the op × size × mode grid.

Load it with ``-p nnspec.benchmarks.plugin``. Options:

--nnspec-backend   registered backend name or ``module:Class`` (default numpy)
--nnspec-device    device to run on (default cpu)
--nnspec-sizes     comma-separated element counts, ``1e6`` accepted (default 1000,1000000)
--nnspec-modes     comma-separated subset of eager,compiled,native (default all three)
--nnspec-quick     quick run: compiled mode is skipped for backends whose compiler
                   takes seconds per op and shape (see ``SLOW_COMPILERS``)

Tests are ``<op>-<size>-<mode>`` (``gelu-1000-eager``) for every op of the benchmarked
spec families, plus one ``memcpy-<size>-native`` per size. memcpy carries the ids of all
op benchmarks of its size as ``-k`` keywords, so ``-k relu`` keeps the bandwidth
yardstick beside relu; ``-k "not memcpy"`` still drops it.

The JSON written by ``--benchmark-json`` gains an ``nnspec`` section: backend, device,
sizes, modes, quick, the backend's environment and every skipped benchmark with its
reason (no compiled mode, compile failure, missing framework...). A run in which nothing
could be benchmarked still writes that file, with an empty ``benchmarks`` list.
"""

from __future__ import annotations

import datetime
import inspect
import json
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest

from nnspec.backends import BackendUnavailable, load_backend
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.spec import FAMILIES

#: Families whose ops take same-shaped array inputs and can be benchmarked on a flat vector.
BENCHMARKED_FAMILIES = ("activations",)
MODES = ("eager", "compiled", "native")
DEFAULT_SIZES = "1000,1000000"
DTYPE = "float32"
SEED = 0
MEMCPY = "memcpy"
#: Backends whose compiler costs seconds per op and shape: their compiled mode is skipped under --nnspec-quick.
SLOW_COMPILERS = {
    "torch": "torch.compile (inductor, C++ codegen) costs seconds per op and shape on CPU; "
    "compiled mode is skipped in quick runs and measured in full runs",
}


@dataclass(frozen=True)
class OpCase:
    op: str
    family: str
    spec_fn: Callable
    inputs: tuple[str, ...]  # names of the array arguments
    params: dict[str, Any]  # the spec's defaults, passed by keyword


def spec_ops(families=BENCHMARKED_FAMILIES) -> dict[str, OpCase]:
    """Every public op of the given spec families (not ``*_vjp``) with its default parameters."""
    ops = {}
    for family in families:
        module = FAMILIES[family]
        for name, fn in vars(module).items():
            if name.startswith("_") or name.endswith("_vjp") or not inspect.isfunction(fn):
                continue
            if fn.__module__ != module.__name__:  # imported helpers (the @float64 decorator itself)
                continue
            if name in CATALOGUE and CATALOGUE[name].inputs is not None:
                continue  # not one elementwise array (prelu's slope is a weight of its own shape): sizes mean nothing
            # Follows __wrapped__ to the formula. Keyword-only parameters select spec-side
            # variants (kink, at_inf) and are never passed to an adapter.
            positional = [
                p
                for p in inspect.signature(fn).parameters.values()
                if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            ]
            inputs = tuple(p.name for p in positional if p.default is inspect.Parameter.empty)
            params = {p.name: p.default for p in positional if p.default is not inspect.Parameter.empty}
            ops[name] = OpCase(name, family, fn, inputs, params)
    return ops


@dataclass
class RunState:
    backend_name: str
    device: str
    sizes: list[int]
    modes: list[str]
    quick: bool
    ops: dict[str, OpCase]
    backend: Any = None
    skipped: list[dict[str, Any]] = field(default_factory=list)
    ran: int = 0


STATE = pytest.StashKey[RunState]()


def pytest_addoption(parser):
    group = parser.getgroup("nnspec", "nnspec benchmarks")
    group.addoption("--nnspec-backend", default="numpy", help="backend name or module:Class (default numpy)")
    group.addoption("--nnspec-device", default="cpu", help="device (default cpu)")
    group.addoption("--nnspec-sizes", default=DEFAULT_SIZES, help=f"element counts (default {DEFAULT_SIZES})")
    group.addoption("--nnspec-modes", default=",".join(MODES), help="subset of eager,compiled,native")
    group.addoption("--nnspec-quick", action="store_true", default=False, help="skip slow compilers' compiled mode")


def _parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(float(s)) for s in text.split(",") if s.strip()]
    except ValueError:
        raise pytest.UsageError(f"--nnspec-sizes: expected comma-separated element counts, got {text!r}") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise pytest.UsageError(f"--nnspec-sizes: element counts must be positive, got {text!r}")
    return list(dict.fromkeys(sizes))


def _parse_modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise pytest.UsageError(f"--nnspec-modes: unknown {unknown or text!r}; choose from {', '.join(MODES)}")
    return list(dict.fromkeys(modes))


def pytest_configure(config):
    state = RunState(
        backend_name=config.getoption("nnspec_backend"),
        device=config.getoption("nnspec_device"),
        sizes=_parse_sizes(config.getoption("nnspec_sizes")),
        modes=_parse_modes(config.getoption("nnspec_modes")),
        quick=config.getoption("nnspec_quick"),
        ops=spec_ops(),
    )
    config.stash[STATE] = state
    json_path = config.getoption("benchmark_json", None)
    if json_path is not None:  # pytest-benchmark does not create the folder
        json_path.parent.mkdir(parents=True, exist_ok=True)
    config.pluginmanager.register(_Recorder(config, state), "nnspec-benchmark-recorder")


def case_id(op: str, size: int, mode: str) -> str:
    return f"{op}-{size}-{mode}"


def pytest_generate_tests(metafunc):
    state = metafunc.config.stash[STATE]
    names = set(metafunc.fixturenames)
    if {"op", "size", "mode"} <= names:
        cases = [(op, size, mode) for op in state.ops for size in state.sizes for mode in state.modes]
        metafunc.parametrize(("op", "size", "mode"), cases, ids=[case_id(*c) for c in cases])
    elif "size" in names:  # memcpy: one per size, whatever the modes
        metafunc.parametrize("size", state.sizes, ids=[case_id(MEMCPY, s, "native") for s in state.sizes])


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Before -k deselects: memcpy of a size answers to the ids of every op benchmark of that size."""
    ids_by_size: dict[int, set[str]] = {}
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "op" in params:
            ids_by_size.setdefault(params["size"], set()).add(item.callspec.id)
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "size" in params and "op" not in params:
            item.extra_keyword_matches.update(ids_by_size.get(params["size"], ()))


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nnspec_run(request) -> RunState:
    return request.config.stash[STATE]


@pytest.fixture(scope="session")
def backend(nnspec_run):
    try:
        loaded = load_backend(nnspec_run.backend_name)
    except BackendUnavailable as exc:
        pytest.skip(f"backend unavailable: {exc}")
    nnspec_run.backend = loaded
    return loaded


@pytest.fixture(scope="session")
def device(backend, nnspec_run) -> str:
    device = nnspec_run.device
    if device not in backend.devices():
        pytest.skip(f"{backend.name} has no device {device!r} here (has: {', '.join(backend.devices())})")
    if not backend.supports(DTYPE, device):
        pytest.skip(f"{backend.name} does not support {DTYPE} on {device}")
    return device


@pytest.fixture(scope="session")
def make_inputs(backend, device):
    """``make(size, count)`` -> native tensors on ``device``, drawn once per size from a fixed seed."""
    cache: dict[tuple[int, int], tuple] = {}

    def make(size: int, count: int = 1) -> tuple:
        key = (size, count)
        if key not in cache:
            rng = np.random.default_rng(SEED)
            arrays = [rng.standard_normal(size).astype(DTYPE) for _ in range(count)]
            tensors = tuple(backend.asarray(a, device) for a in arrays)
            backend.synchronize(device)
            for t in tensors:
                block(t)
            cache[key] = tensors
        return cache[key]

    return make


def block(out):
    """Waits for a lazily dispatched result (jax dispatches asynchronously even on CPU)."""
    wait = getattr(out, "block_until_ready", None)
    if wait is not None:
        wait()
    return out


# -- recording -------------------------------------------------------------------------


class _Recorder:
    """Collects skip reasons and adds the ``nnspec`` section to the benchmark JSON."""

    def __init__(self, config, state: RunState):
        self.config = config
        self.state = state

    def pytest_runtest_logreport(self, report):
        if report.when == "call" and report.passed:
            self.state.ran += 1
        if not report.skipped or "[" not in report.nodeid:
            return
        case = report.nodeid[report.nodeid.index("[") + 1 : -1]
        op, size, mode = (case.rsplit("-", 2) + ["", "", ""])[:3]
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        self.state.skipped.append(
            {
                "id": case,
                "op": op,
                "size": int(size) if size.isdigit() else size,
                "mode": mode,
                "reason": reason.removeprefix("Skipped: "),
            }
        )

    def section(self) -> dict[str, Any]:
        state = self.state
        section = {
            "backend": state.backend_name,
            "device": state.device,
            "dtype": DTYPE,
            "sizes": state.sizes,
            "modes": state.modes,
            "quick": state.quick,
            "seed": SEED,
            "skipped": state.skipped,
        }
        if state.backend is not None:
            try:
                section["environment"] = state.backend.environment(state.device)
            except Exception as exc:  # the environment is informative, never fatal
                section["environment_error"] = f"{type(exc).__name__}: {exc}"
        return section

    def pytest_benchmark_update_json(self, config, benchmarks, output_json):
        output_json["nnspec"] = self.section()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        # pytest-benchmark writes nothing when no benchmark ran; the report still needs the reasons.
        path = self.config.getoption("benchmark_json", None)
        if path is None or self.state.ran:
            return
        import pytest_benchmark

        path.parent.mkdir(parents=True, exist_ok=True)
        output = {
            "machine_info": {},
            "commit_info": {},
            "benchmarks": [],
            "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "version": pytest_benchmark.__version__,
            "nnspec": self.section(),
        }
        path.write_text(json.dumps(output, indent=4, default=str), encoding="utf-8")
