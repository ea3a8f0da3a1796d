"""The speed tables: timings per device, the memcpy bandwidth of each run, the adapter's overhead."""

from __future__ import annotations

from .bench import MEMCPY
from .format import fmt_count, fmt_fraction, fmt_rate, fmt_ratio, fmt_seconds, fmt_signed_seconds, to_float
from .merge import device_key


def _bytes(count: float) -> str:
    text = fmt_count(count)  # "8 000", "32 Mi"
    return text + ("B" if text.endswith("i") else " B")


def cache_resident(entry: dict, cache: int | None) -> str:
    """Why an entry's bytes are served from cache, or "": they fit in the machine's cache (when the benchmark file
    names its size), else (no size known) they move faster than the same run's memcpy, which only a cache does."""
    size, fraction = to_float(entry.get("bytes")), to_float(entry.get("bandwidth_fraction"))
    if str(entry.get("device", "cpu")).split(":")[0] != "cpu":
        return ""
    if cache and size is not None:
        return f"in cache: {_bytes(size)} fit in the {_bytes(cache)} cache" if size <= cache else ""
    if fraction is not None and fraction > 1:
        return "in cache: faster than memcpy"
    return ""


def row(entry: dict, cache: int | None = None) -> dict:
    """A benchmark entry with its numbers written out; ``cache`` the machine's cache size in bytes, if known."""
    ratio = to_float(entry.get("ratio_to_fastest"))
    return {
        "cache_resident": cache_resident(entry, cache),
        **entry,
        "elements_text": fmt_count(entry.get("elements")),
        "bytes_text": fmt_count(entry.get("bytes")),
        "median": fmt_seconds(entry.get("median_s")),
        "iqr": fmt_seconds(entry.get("iqr_s")),
        "rate": fmt_rate(entry.get("elements_per_s")),
        "bandwidth": fmt_rate(entry.get("bytes_per_s"), "B/s"),
        "ratio": fmt_ratio(ratio),
        "fraction": fmt_fraction(entry.get("bandwidth_fraction")),
        "fastest": ratio is not None and abs(ratio - 1.0) < 1e-12,
    }


def tables(report: dict) -> list[dict]:
    """One table per device: {"device", "rows"}; ``first`` marks the first row of each (op, dtype, elements)."""
    entries = [e for e in report["benchmarks"] if e["op"] != MEMCPY]
    caches = {f.get("file"): (f.get("machine") or {}).get("cache_bytes") for f in report.get("bench_files") or []}
    result = []
    for device in sorted({e["device"] for e in entries}, key=device_key):
        rows, previous = [], None
        for entry in (e for e in entries if e["device"] == device):
            group = (entry["op"], entry["dtype"], entry["elements"])
            rows.append({**row(entry, caches.get(entry.get("file"))), "first": group != previous})
            previous = group
        result.append({"device": device, "rows": rows})
    return result


def bandwidth(report: dict) -> list[dict]:
    """The memcpy timings: each run's memory bandwidth."""
    return [row(e) for e in report["benchmarks"] if e["op"] == MEMCPY]


def overhead(report: dict) -> list[dict]:
    """Eager (through the adapter) against native (the raw framework call) for the same op and size."""
    natives = {
        (e["op"], e["backend"], e["device"], e["dtype"], e["elements"]): e
        for e in report["benchmarks"] if e["mode"] == "native"
    }
    rows = []
    for e in report["benchmarks"]:
        native = natives.get((e["op"], e["backend"], e["device"], e["dtype"], e["elements"]))
        if e["mode"] != "eager" or native is None or e.get("adapter_overhead_s") is None:
            continue
        share = e["adapter_overhead_s"] / e["median_s"] if e["median_s"] else None
        rows.append({
            **row(e),
            "native_median": fmt_seconds(native["median_s"]),
            "overhead": fmt_signed_seconds(e["adapter_overhead_s"]),
            "share": fmt_fraction(share),
        })
    return rows
