"""The benchmark suite runs end to end in quick mode and writes what the report reads."""

from __future__ import annotations

import importlib.util
import json

import pytest

from nnspec.benchmarks import results_file, run_benchmarks

REQUIRED = {"op", "family", "backend", "backend_version", "device", "dtype", "elements", "bytes", "mode"}


def _run(backend, tmp_path):
    code = run_benchmarks(backend, "cpu", tmp_path, quick=True, extra_args=["-k", "relu or selu"])
    path = results_file(tmp_path, backend, "cpu")
    assert path.exists(), f"no {path.name} (pytest exit code {code})"
    return code, json.loads(path.read_text())


def _check(data, backend):
    benchmarks = data["benchmarks"]
    assert benchmarks
    for bench in benchmarks:
        info = bench["extra_info"]
        assert REQUIRED <= info.keys(), (bench["name"], REQUIRED - info.keys())
        assert info["backend"] == backend and info["device"] == "cpu" and info["dtype"] == "float32"
        assert info["bytes"] > 0 and bench["stats"]["median"] > 0
        assert bench["group"] == f"{info['op']}-{info['elements']}"
    seen = {(b["extra_info"]["op"], b["extra_info"]["elements"], b["extra_info"]["mode"]) for b in benchmarks}
    for size in (1000, 1_000_000):
        assert ("memcpy", size, "native") in seen  # kept by -k relu: the bandwidth yardstick
        assert ("relu", size, "eager") in seen and ("relu", size, "native") in seen
        # selu's α and λ are FIXED on the frameworks: the native callable is called without them
        assert ("selu", size, "native") in seen or backend == "numpy"
    assert {op for op, _, _ in seen} == {"relu", "leaky_relu", "relu6", "selu", "memcpy"}  # not prelu: a weight of its own shape
    return seen


def test_numpy_quick(tmp_path):
    code, data = _run("numpy", tmp_path)
    assert code == 0
    _check(data, "numpy")
    skipped = data["nnspec"]["skipped"]
    assert {s["mode"] for s in skipped} == {"compiled"}
    assert all("no compiled mode" in s["reason"] for s in skipped)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_torch_quick(tmp_path):
    code, data = _run("torch", tmp_path)
    assert code == 0
    _check(data, "torch")
    reasons = {s["reason"] for s in data["nnspec"]["skipped"] if s["mode"] == "compiled"}
    assert reasons and all("quick" in r for r in reasons)  # torch.compile is too slow for quick runs


def test_missing_framework_skips_with_reason(tmp_path):
    backend = "no_such_framework_for_nnspec:Backend"
    code, data = _run(backend, tmp_path)
    assert code == 0  # everything skipped, nothing crashed
    assert data["benchmarks"] == []
    reasons = {s["reason"] for s in data["nnspec"]["skipped"]}
    assert reasons and all("no module named" in r for r in reasons)


def test_synchronize_is_handed_the_timed_outputs_so_a_lazy_framework_is_timed():
    from nnspec.benchmarks.suite import _timed

    handed = []

    class Lazy:
        def synchronize(self, device, *arrays):  # a lazy framework evaluates the arrays here
            handed.append((device, arrays))

    class Old:  # an adapter written before synchronize took arrays still runs
        def synchronize(self, device):
            handed.append((device, "old"))

    _timed(lambda x: (x, x + 1), (1,), Lazy().synchronize, "cpu", blocks=False)()
    _timed(lambda x: x * 2, (3,), Lazy().synchronize, "cpu", blocks=False)()
    _timed(lambda x: x, (1,), Old().synchronize, "cpu", blocks=False)()
    assert handed == [("cpu", (1, 2)), ("cpu", (6,)), ("cpu", "old")]
