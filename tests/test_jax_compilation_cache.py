"""JAX's persistent compilation cache (tox's jax env keeps one in .tox/): a warm rerun loads the executables a
cold run compiled, compiles nothing new, and measures exactly the same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("jax")


def _run(tmp_path, name, cache) -> dict:
    out = tmp_path / name
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(cache), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
    proc = subprocess.run([sys.executable, "-m", "nnspec.cli", "run", "--backend", "jax", "--op", "gelu", "--dtype",
                           "float32", "--budget", "quick", "--seed", "0", "--results", str(out)],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for path in out.glob("*.jsonl") for line in path.read_text().splitlines()]
    measured = ("status", "max_ulp", "max_abs", "max_rel", "examples", "matches_variant", "counterexamples")
    return {r["id"]: {k: r.get(k) for k in measured} for r in lines if r.get("kind") == "check"}


def test_a_warm_cache_measures_what_the_cold_run_did(tmp_path):
    cache = tmp_path / "cache"
    cold = _run(tmp_path, "cold", cache)
    filled = sorted(p.name for p in cache.iterdir())
    assert cold and filled  # gelu's forward and gradient were measured, and their executables cached
    warm = _run(tmp_path, "warm", cache)
    assert sorted(p.name for p in cache.iterdir()) == filled  # every executable came from the cache
    assert warm == cold
