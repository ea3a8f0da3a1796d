"""A run's environment names the CPU and the features that choose a framework's kernels: two runs of one
version that differ may differ by machine (oneDNN's float16 kernels need avx512_fp16)."""

from __future__ import annotations

import platform

from nnspec.backends.base import processor
from nnspec.backends.numpy import NumpyBackend

INFO = {"brand_raw": "Intel(R) Xeon(R) Platinum 8480+",  # py-cpuinfo's get_cpu_info() on a Sapphire Rapids
        "flags": ["amx_bf16", "amx_tile", "avx2", "avx512_bf16", "avx512_fp16", "avx512f", "f16c", "fma", "fpu", "sse2"]}


def test_the_model_and_the_numerics_relevant_features_are_named():
    assert processor(INFO) == "Intel(R) Xeon(R) Platinum 8480+ (fma f16c avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16)"


def test_without_what_py_cpuinfo_says_what_platform_knows():
    assert processor({}) == (platform.processor() or platform.machine())


def test_the_environment_record_carries_it():
    assert NumpyBackend().environment("cpu")["processor"] == processor()
