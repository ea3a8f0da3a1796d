"""A run's environment names the CPU and the features that choose a framework's kernels: two runs of one
version that differ may differ by machine (oneDNN's float16 kernels need avx512_fp16)."""

from __future__ import annotations

import platform

from nnspec.backends.base import processor
from nnspec.backends.numpy import NumpyBackend

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 fma f16c avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 fma f16c av"""  # cut off where a read of a large file would cut it


def test_the_model_and_the_numerics_relevant_features_are_named(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    assert processor(str(path)) == "Intel(R) Xeon(R) Platinum 8480+ (fma f16c avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16)"


def test_without_cpuinfo_what_platform_knows(tmp_path):
    assert processor(str(tmp_path / "missing")) == (platform.processor() or platform.machine())


def test_the_environment_record_carries_it():
    assert NumpyBackend().environment("cpu")["processor"] == processor()
