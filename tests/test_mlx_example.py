"""The worked example of an out-of-tree backend, examples/nnspec-mlx: its package registers its entry
point, and, where MLX is installed, its adapter keeps the contract (`nnspec check-adapter`), states
every op (written or declared unsupported, none merely missing), and the contract check catches the
mistake MLX invites (``mx.array`` of a float64 array is float32). Skipped without MLX."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from nnspec.conformance.catalogue import select

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nnspec-mlx"


def test_the_example_is_a_package_registering_the_mlx_entry_point():
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["nnspec.backends"] == {"mlx": "nnspec_mlx.adapter:MlxBackend"}
    assert any(d.startswith("mlx[cpu]") for d in project["project"]["dependencies"])


@pytest.fixture(scope="module")
def mlx_backend():
    try:
        import mlx.core  # noqa: F401
    except ImportError:
        pytest.skip("MLX is not installed (pip install 'mlx[cpu]')")
    sys.path.insert(0, str(EXAMPLE))  # as `PYTHONPATH=examples/nnspec-mlx`: works installed or not
    try:
        from nnspec_mlx import MlxBackend
        from nnspec_mlx import adapter
    finally:
        sys.path.remove(str(EXAMPLE))
    return MlxBackend, adapter


def test_the_mlx_example_keeps_the_contract(mlx_backend):
    from nnspec.kit.contract import check

    problems = check(mlx_backend[0]())
    assert not problems, "\n".join(problems)


def test_every_op_is_written_or_declared_with_a_reason(mlx_backend):
    backend = mlx_backend[0]()
    missing = [entry.op for entry in select()
               if not backend.implements(entry.op) and not any(d.whole for d in backend.declarations(entry.op))]
    assert not missing, f"ops neither written nor declared unsupported: {missing}"
    written = [entry.op for entry in select() if backend.unsupported(entry.op) is None]
    assert {"gelu", "softmax", "mse", "triplet", "scaled_dot_product_attention", "rms_norm", "dense", "conv2d"} <= set(written)


def test_the_contract_check_catches_mlx_turning_float64_into_float32(mlx_backend):
    import mlx.core as mx

    from nnspec.kit.contract import check_round_trips

    class NoDtype(mlx_backend[0]):
        def asarray(self, array, device):
            return mx.array(array) if array.dtype == np.float64 else super().asarray(array, device)

    problems = check_round_trips(NoDtype())
    assert any("turns float64 into float32" in p for p in problems), problems
    assert not check_round_trips(mlx_backend[0]())
