"""Benchmarks: pytest-benchmark JSON files read into one entry per timing, with derived speeds.

Files are ``<results>/bench-<backend>-<device>.json`` (``--benchmark-json`` output). Each
benchmark's ``extra_info`` names op, family, backend, backend_version, device, dtype,
elements, bytes and mode (eager | compiled | native); op ``memcpy`` times a plain device
copy of the same bytes, the run's memory bandwidth. Derived per entry:

* ``elements_per_s``      elements / median
* ``ratio_to_fastest``    median / fastest median for the same op, dtype, elements and
                          device kind (cuda:0 and cuda:1 are one kind), all backends and modes
* ``bandwidth_fraction``  (bytes / median) / memcpy bandwidth of the same file at the nearest
                          element count (same dtype preferred); null without a memcpy
* ``adapter_overhead_s``  eager median − native median, where both were timed for the same
                          op, backend, device, dtype and elements

The ``nnspec`` section the benchmark plugin adds (backend, device, skipped benchmarks
with their reasons) is used when present. A file that is not valid benchmark JSON is skipped with a warning; so is a benchmark
without a median. When two files hold the same (backend, device), the newest wins.
"""

from __future__ import annotations

import json
import math
import warnings
from datetime import datetime
from pathlib import Path

from .format import to_float

MEMCPY = "memcpy"


def device_kind(device: str) -> str:
    """cuda:0 -> cuda; cpu -> cpu."""
    return str(device).split(":", 1)[0]


def _from_filename(path: Path) -> tuple[str, str]:
    stem = path.stem[len("bench-"):] if path.stem.startswith("bench-") else path.stem
    backend, _, device = stem.partition("-")
    return backend or "unknown", device or "unknown"


def _timestamp(data: dict, path: Path) -> float:
    """When a benchmark file was made: its ``datetime`` field, else the file's mtime."""
    text = data.get("datetime")
    if isinstance(text, str):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return path.stat().st_mtime


def _entry(bench: dict, default_backend: str, default_device: str, path: Path) -> dict | None:
    stats = bench.get("stats") if isinstance(bench.get("stats"), dict) else {}
    median = to_float(stats.get("median"))
    if median is None:
        warnings.warn(f"{path}: skipped benchmark {bench.get('name')!r}: it has no median", stacklevel=3)
        return None
    info = bench.get("extra_info") if isinstance(bench.get("extra_info"), dict) else {}
    elements = info.get("elements")
    q1, q3 = to_float(stats.get("q1")), to_float(stats.get("q3"))
    iqr = to_float(stats.get("iqr"))
    if iqr is None and q1 is not None and q3 is not None:
        iqr = q3 - q1
    entry = {
        "name": bench.get("name"),
        "group": bench.get("group"),
        "op": info.get("op") or bench.get("group") or bench.get("name"),
        "family": info.get("family"),
        "backend": info.get("backend") or default_backend,
        "backend_version": info.get("backend_version"),
        "device": info.get("device") or default_device,
        "dtype": info.get("dtype"),
        "elements": elements,
        "bytes": info.get("bytes"),
        "mode": info.get("mode") or "eager",
        "params": bench.get("params"),
        "median_s": median,
        "iqr_s": iqr,
        "mean_s": to_float(stats.get("mean")),
        "min_s": to_float(stats.get("min")),
        "stddev_s": to_float(stats.get("stddev")),
        "rounds": stats.get("rounds"),
        "elements_per_s": None,
        "bytes_per_s": None,
        "ratio_to_fastest": None,
        "bandwidth_fraction": None,
        "adapter_overhead_s": None,
        "file": path.name,
    }
    if median > 0:
        if isinstance(elements, (int, float)):
            entry["elements_per_s"] = elements / median
        if isinstance(entry["bytes"], (int, float)):
            entry["bytes_per_s"] = entry["bytes"] / median
    return entry


def cache_bytes(cpu: dict) -> int | None:
    """The largest CPU cache py-cpuinfo names (l3, else l2), in bytes: 33554432, "32768 KB", "32 MiB"; None if none."""
    units = {"": 1, "b": 1, "kb": 1024, "kib": 1024, "mb": 1 << 20, "mib": 1 << 20, "gb": 1 << 30, "gib": 1 << 30}
    for name in ("l3_cache_size", "l2_cache_size"):
        value = cpu.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return int(value)
        if isinstance(value, str):
            number, _, unit = value.strip().partition(" ")
            try:
                if unit.strip().lower() in units and float(number) > 0:
                    return int(float(number) * units[unit.strip().lower()])
            except ValueError:
                continue
    return None


def read_bench_file(path: Path) -> dict | None:
    """One benchmark file: {"file", "backend", "device", "timestamp", "machine", "commit", "entries"}."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
            raise ValueError('no "benchmarks" list at the top level')
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        warnings.warn(f"{path}: skipped a malformed benchmark file ({reason})", stacklevel=2)
        return None
    section = data.get("nnspec") if isinstance(data.get("nnspec"), dict) else {}
    backend, device = _from_filename(path)
    backend, device = section.get("backend") or backend, section.get("device") or device
    entries = [e for b in data["benchmarks"] if isinstance(b, dict) and (e := _entry(b, backend, device, path))]
    if entries and not section:  # the file's own records name it better than its file name does
        backend, device = entries[0]["backend"], entries[0]["device"]
    skipped = section.get("skipped") if isinstance(section.get("skipped"), list) else []
    machine = data.get("machine_info") if isinstance(data.get("machine_info"), dict) else {}
    commit = data.get("commit_info") if isinstance(data.get("commit_info"), dict) else {}
    cpu = machine.get("cpu") if isinstance(machine.get("cpu"), dict) else {}
    return {
        "file": path.name,
        "backend": backend,
        "device": device,
        "datetime": data.get("datetime"),
        "timestamp": _timestamp(data, path),
        "machine": {
            "node": machine.get("node"),
            "processor": cpu.get("brand_raw") or machine.get("processor"),
            "python": machine.get("python_version"),
            "cache_bytes": cache_bytes(cpu),
        },
        "commit": {"id": commit.get("id"), "dirty": commit.get("dirty")},
        "quick": section.get("quick"),
        "skipped": [s for s in skipped if isinstance(s, dict)],
        "entries": entries,
    }


def read_benchmarks(results_dir: Path | str) -> tuple[list[dict], list[dict]]:
    """(files kept, entries) of every bench-*.json; the newest file wins per (backend, device)."""
    newest: dict[tuple[str, str], dict] = {}
    for path in sorted(Path(results_dir).glob("bench-*.json")):
        bench_file = read_bench_file(path)
        if bench_file is None:
            continue
        key = (bench_file["backend"], bench_file["device"])
        if key in newest:
            older, newer = sorted((newest[key], bench_file), key=lambda f: f["timestamp"])
            warnings.warn(f"benchmarks of {key[0]} on {key[1]}: {newer['file']} supersedes {older['file']}", stacklevel=2)
            bench_file = newer
        newest[key] = bench_file
    files = list(newest.values())
    entries = [entry for bench_file in files for entry in bench_file["entries"]]
    derive(entries)
    return files, entries


def _nearest_memcpy(entry: dict, memcpys: list[dict]) -> dict | None:
    candidates = [m for m in memcpys if m["file"] == entry["file"] and m["bytes_per_s"]]
    same_dtype = [m for m in candidates if m["dtype"] == entry["dtype"]]
    candidates = same_dtype or candidates
    if not candidates:
        return None
    size = entry["elements"] if isinstance(entry["elements"], (int, float)) and entry["elements"] > 0 else None

    def distance(m):
        other = m["elements"] if isinstance(m["elements"], (int, float)) and m["elements"] > 0 else None
        return abs(math.log(other / size)) if size and other else math.inf

    return min(candidates, key=distance)


def derive(entries: list[dict]) -> None:
    """Fills ratio_to_fastest, bandwidth_fraction and adapter_overhead_s in place."""

    def same_call(e):
        return (e["op"], e["backend"], e["device"], e["dtype"], e["elements"])

    fastest: dict[tuple, float] = {}
    for e in entries:
        key = (e["op"], e["dtype"], e["elements"], device_kind(e["device"]))
        fastest[key] = min(fastest.get(key, math.inf), e["median_s"])
    memcpys = [e for e in entries if e["op"] == MEMCPY]
    by_mode = {mode: {same_call(e): e for e in entries if e["mode"] == mode} for mode in ("eager", "native")}
    for e in entries:
        best = fastest[(e["op"], e["dtype"], e["elements"], device_kind(e["device"]))]
        e["ratio_to_fastest"] = e["median_s"] / best if best > 0 else None
        memcpy = _nearest_memcpy(e, memcpys)
        if memcpy is not None and e["bytes_per_s"] is not None:
            e["bandwidth_fraction"] = e["bytes_per_s"] / memcpy["bytes_per_s"]
        eager, native = by_mode["eager"].get(same_call(e)), by_mode["native"].get(same_call(e))
        if e["mode"] in ("eager", "native") and eager is not None and native is not None:
            e["adapter_overhead_s"] = eager["median_s"] - native["median_s"]
