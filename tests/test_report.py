"""The report: a hand-made results directory merged into conformance.json, conformance.md and index.html."""

from __future__ import annotations

import json
import re
import sys
import warnings

import pytest

from nnspec.conformance.results import SCHEMA_VERSION
from nnspec.report import build_report
from nnspec.report.html import render_html
from nnspec.report.merge import merge

MIB = 1 << 20


def array(dtype, values):
    return {"dtype": dtype, "shape": [len(values)], "values": [float(v).hex() for v in values]}


def environment(backend, version, started, numerics=None):
    return {
        "kind": "environment", "run_id": f"{backend}-cpu-{started}", "started": started, "backend": backend,
        "backend_version": version, "device": "cpu", "python": "3.11.9", "platform": "Linux-6.8-x86_64-with-glibc2.39",
        "machine": "x86_64", "numpy": "2.1.0", "numerics": numerics or {}, "budget": {"examples": 200},
        "seed": 1234, "nnspec_version": "0.1.0", "argv": ["nnspec", "run", "--backend", backend],
    }


def check(env, op, dtype, check_name, status, **fields):
    record = {
        "kind": "check", "id": f"{env['backend']}/cpu/{dtype}/{op}/{check_name}", "op": op, "family": "activations",
        "backend": env["backend"], "backend_version": env["backend_version"], "device": "cpu", "dtype": dtype,
        "check": check_name, "status": status, "matches_variant": None, "max_ulp": 0, "max_abs": 0.0, "max_rel": 0.0,
        "tolerance": 2, "tolerance_reason": "elementwise transcendental", "examples": 200,
        "counterexample": None, "repro": None, "message": "", "seed": 1234, "seconds": 0.25, "composed": False,
        "run_id": env["run_id"],
    }
    record.update(fields)
    return record


def default(env, op, parameter, spec, native, native_name):
    return {
        "kind": "default", "op": op, "parameter": parameter, "spec_default": spec, "backend": env["backend"],
        "backend_version": env["backend_version"], "native": native_name, "native_default": native,
        "differs": spec != native, "run_id": env["run_id"],
    }


REPRO = "nnspec repro torch/cpu/float32/gelu/forward --results /tmp/results"
CRASH = "RuntimeError: <script>alert('x')</script> & derivative of relu not implemented"


def write_jsonl(path, lines, truncated_tail=None):
    text = "".join(json.dumps(line) + "\n" for line in lines)
    if truncated_tail:
        text += truncated_tail
    path.write_text(text, encoding="utf-8")


def bench_entry(op, backend, mode, median, elements=MIB, dtype="float32", device="cpu"):
    size = 4 if dtype == "float32" else 2
    return {
        "name": f"test_{op}[{backend}-{device}-{dtype}-{elements}-{mode}]", "group": op, "params": {"elements": elements},
        "stats": {"min": median * 0.9, "max": median * 1.5, "mean": median * 1.05, "stddev": median * 0.1,
                  "median": median, "iqr": median * 0.08, "q1": median * 0.97, "q3": median * 1.05,
                  "rounds": 50, "ops": 1 / median},
        "extra_info": {"op": op, "family": "memory" if op == "memcpy" else "activations", "backend": backend,
                       "backend_version": {"numpy": "2.1.0", "torch": "2.4.0"}[backend], "device": device,
                       "dtype": dtype, "elements": elements, "bytes": 2 * size * elements, "mode": mode},
    }


def bench_file(path, backend, entries, skipped=()):
    path.write_text(json.dumps({
        "nnspec": {"backend": backend, "device": "cpu", "dtype": "float32", "quick": False, "skipped": list(skipped)},
        "machine_info": {"node": "bench-host", "processor": "x86_64", "python_version": "3.11.9",
                         "cpu": {"brand_raw": "Example CPU @ 3.0GHz"}},
        "commit_info": {"id": "0123456789abcdef0123", "dirty": False},
        "datetime": "2024-06-01T12:30:00+00:00", "version": "5.1.0",
        "benchmarks": entries,
    }), encoding="utf-8")


def make_results(root):
    """Two backends: numpy finished; torch interrupted (no finished line) with a truncated last line."""
    np_env = environment("numpy", "2.1.0", "2024-06-01T12:00:00+00:00")
    write_jsonl(root / "numpy-cpu.jsonl", [
        np_env,
        check(np_env, "gelu", "float32", "forward", "pass", max_ulp=1),
        check(np_env, "gelu", "float32", "gradient", "pass", max_ulp=2),
        check(np_env, "relu", "float32", "forward", "pass"),
        check(np_env, "relu", "float32", "gradient", "pass"),
        check(np_env, "softmax", "float32", "forward", "pass", max_ulp=1),
        check(np_env, "gelu", "bfloat16", "forward", "unsupported", max_ulp=None,
              message="scipy.special.erfc has no bfloat16 loop"),
        check(np_env, "relu", "float16", "forward", "skip", max_ulp=None, message="no example applied to this check"),
        check(np_env, "relu", "float16", "gradient", "skip", max_ulp=None, message="no example applied to this check"),
        check(np_env, "gelu", "-", "defaults", "unsupported", max_ulp=None, tolerance=None, examples=0,
              message="numpy declares no native counterpart of gelu(approximate=...)"),
        check(np_env, "relu", "-", "defaults", "skip", max_ulp=None, tolerance=None, examples=0,
              message="the op has no parameters"),
        {"kind": "finished", "run_id": np_env["run_id"], "seconds": 12.5,
         "counts": {"pass": 5, "skip": 3, "unsupported": 2}},
    ])
    torch_env = environment("torch", "2.4.0", "2024-06-01T12:05:00+00:00", {"tf32": False, "flush_denormal": False})
    write_jsonl(root / "torch-cpu.jsonl", [
        torch_env,
        check(torch_env, "gelu", "float32", "forward", "fail", max_ulp=37, max_abs=1.9e-7, max_rel=3.1e-6,
              matches_variant="gelu(approximate='tanh')",
              message="max_ulp 37 > tolerance 2",
              counterexample={"inputs": [array("float32", [0.5, -1.25, float("inf")])], "cotangent": None,
                              "params": {"approximate": "none"}},
              repro=REPRO),
        check(torch_env, "gelu", "float32", "gradient", "pass", max_ulp=2),
        check(torch_env, "relu", "float32", "forward", "pass"),
        check(torch_env, "relu", "float32", "gradient", "error", max_ulp=None, message=CRASH),
        check(torch_env, "relu", "float32", "property", "pass", id="torch/cpu/float32/relu/property/monotonic"),
        check(torch_env, "softmax", "float32", "forward", "pass", max_ulp="inf"),
        check(torch_env, "softmax", "float32", "gradient", "unsupported", max_ulp=None,
              message="torch cannot differentiate softmax in this configuration"),
        check(torch_env, "gelu", "-", "defaults", "pass", max_ulp=None, tolerance=None, examples=1),
        check(torch_env, "relu", "-", "defaults", "skip", max_ulp=None, tolerance=None, examples=0,
              message="the op has no parameters"),
        check(torch_env, "softmax", "-", "defaults", "fail", max_ulp=None, tolerance=None, examples=1,
              message="axis: native None, spec -1"),
        default(torch_env, "gelu", "approximate", "none", "none", "torch.nn.functional.gelu(approximate=...)"),
        default(torch_env, "softmax", "axis", -1, None, "torch.nn.functional.softmax(dim=...)"),
    ], truncated_tail='{"kind": "check", "id": "torch/cpu/float32/tanh/forward", "op": "tanh", "sta')
    bench_file(root / "bench-numpy-cpu.json", "numpy", [
        bench_entry("memcpy", "numpy", "native", 1.2e-4),
        bench_entry("gelu", "numpy", "eager", 2.0e-3),
        bench_entry("relu", "numpy", "eager", 1.5e-4),
    ])
    bench_file(root / "bench-torch-cpu.json", "torch", [
        bench_entry("memcpy", "torch", "native", 1.0e-4),
        bench_entry("gelu", "torch", "eager", 4.0e-4),
        bench_entry("gelu", "torch", "native", 3.5e-4),
        bench_entry("relu", "torch", "eager", 2.0e-4),
        bench_entry("gelu", "torch", "eager", 4.0e-5, elements=MIB // 16),
    ], skipped=[{"id": f"gelu-{MIB}-compiled", "op": "gelu", "size": MIB, "mode": "compiled",
                 "reason": "compiled gelu failed on its first call: no C++ compiler"}])
    (root / "bench-jax-cpu.json").write_text('{"machine_info": {}, "benchmarks": [{"name": ', encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return make_results(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def built(results, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = build_report(results, out)
    return {
        "report": report,
        "out": out,
        "warnings": [str(w.message) for w in caught],
        "json": json.loads((out / "conformance.json").read_text(encoding="utf-8")),
        "md": (out / "conformance.md").read_text(encoding="utf-8"),
        "html": (out / "index.html").read_text(encoding="utf-8"),
    }


def md_matrix(md, dtype):
    """{op: {column label: cell text}} of the Markdown matrix of one dtype."""
    section = md.split(f"\n### {dtype}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    table = {}
    for line in rows[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        table[cells[0].replace("\\", "")] = dict(zip(header[2:], cells[2:]))
    return table


def html_matrix(html, dtype):
    """[(op, [cell classes])] of the HTML matrix of one dtype."""
    section = html.split(f'<h3 id="matrix-{dtype}">', 1)[1].split("</table>", 1)[0]
    rows = []
    for row in section.split("<tr>")[2:]:
        op = re.search(r'<td class="op">([^<]*)</td>', row).group(1)
        rows.append((op, re.findall(r'<td class="cell (s-[a-z]+)"', row)))
    return rows


def test_three_files_written_and_json_has_the_required_keys(built):
    assert sorted(p.name for p in built["out"].iterdir()) == ["conformance.json", "conformance.md", "index.html"]
    data = built["json"]
    for key in ("schema_version", "generated", "runs", "records", "defaults", "benchmarks"):
        assert key in data
    assert data["schema_version"] == SCHEMA_VERSION
    run = data["runs"][0]
    for key in ("backend", "backend_version", "device", "python", "platform", "numerics", "budget", "seed",
                "finished", "interrupted", "wall_s"):
        assert key in run
    for record in data["records"]:
        for key in ("op", "family", "backend", "backend_version", "device", "dtype", "check", "status",
                    "matches_variant", "max_ulp", "max_abs", "max_rel", "tolerance", "examples",
                    "counterexample", "repro", "message"):
            assert key in record
        assert "kind" not in record and "tolerance_reason" in record and "seconds" in record  # every stored field kept
    assert {"op", "parameter", "spec_default", "backend", "native_default", "differs"} <= set(data["defaults"][0])
    for entry in data["benchmarks"]:
        assert {"op", "backend", "device", "dtype", "elements", "mode", "median_s", "iqr_s", "elements_per_s",
                "ratio_to_fastest", "bandwidth_fraction", "adapter_overhead_s"} <= set(entry)
    softmax = next(r for r in data["records"] if r["op"] == "softmax" and r["backend"] == "torch" and r["check"] == "forward")
    assert softmax["max_ulp"] == "inf"  # non-finite stays a string: the file is strict JSON


def test_order_is_deterministic(built):
    report = built["report"]
    assert [r["backend"] for r in report["runs"]] == ["numpy", "torch"]
    assert report["ops"][:3] == ["gelu", "relu", "softmax"]
    assert report["dtypes"] == ["float32", "float16", "bfloat16"]  # the defaults check's "-" is no dtype
    backends = [r["backend"] for r in report["records"] if r["op"] == "gelu" and r["dtype"] == "float32"]
    assert backends == sorted(backends, key=lambda b: b != "numpy")


def test_truncated_line_is_skipped_with_a_warning_and_the_rest_survives(built):
    assert any(re.search(r"torch-cpu\.jsonl:14: .*truncated", w) for w in built["warnings"])
    assert any("truncated" in w for w in built["report"]["warnings"])
    torch = [r for r in built["report"]["records"] if r["backend"] == "torch"]
    assert len(torch) == 10 and not any(r["op"] == "tanh" for r in torch)
    assert len([r for r in built["report"]["records"] if r["backend"] == "numpy"]) == 10


def test_malformed_benchmark_file_is_skipped_with_a_warning(built):
    assert any("bench-jax-cpu.json" in w and "malformed" in w for w in built["warnings"])
    assert not any(b["backend"] == "jax" for b in built["report"]["benchmarks"])


def test_interrupted_run_is_marked(built):
    runs = {r["backend"]: r for r in built["report"]["runs"]}
    assert runs["torch"]["interrupted"] and not runs["torch"]["finished"] and runs["torch"]["wall_s"] is None
    assert runs["numpy"]["finished"] and not runs["numpy"]["interrupted"] and runs["numpy"]["wall_s"] == 12.5
    torch_row = next(line for line in built["md"].splitlines() if line.startswith("| torch | 2.4.0 |"))
    numpy_row = next(line for line in built["md"].splitlines() if line.startswith("| numpy | 2.1.0 |"))
    assert "INTERRUPTED" in torch_row and "INTERRUPTED" not in numpy_row
    assert '<tr class="interrupted"><td><b>torch</b>' in built["html"]
    assert "1 run was interrupted" in built["html"]


def test_markdown_never_shows_fail_error_or_unsupported_as_pass(built):
    float32 = md_matrix(built["md"], "float32")
    # numpy declares no native defaults: shown (def ∅), but not what colours a passing cell
    assert float32["gelu"]["numpy cpu"] == "fwd ✓ grad ✓ def ∅ · 2 ulp"
    assert float32["gelu"]["torch cpu"] == "**VARIANT** fwd ≈ grad ✓ def ✓ · 37 ulp"
    assert float32["relu"]["torch cpu"] == "**ERROR** fwd ✓ grad ‼ prop ✓ def ⤼ · 0 ulp"
    assert float32["softmax"]["torch cpu"] == "**UNSUPPORTED** fwd ✓ grad ∅ def ≠ · inf ulp"
    float16 = md_matrix(built["md"], "float16")
    assert float16["relu"]["numpy cpu"] == "**SKIPPED** fwd ⤼ grad ⤼ def ⤼"
    assert float16["gelu"]["numpy cpu"] == "—"  # the dtype-free defaults record alone does not make a cell
    bfloat16 = md_matrix(built["md"], "bfloat16")
    assert bfloat16["gelu"]["numpy cpu"] == "**UNSUPPORTED** fwd ∅ def ∅"
    assert bfloat16["gelu"]["torch cpu"] == "—"  # not run


def test_html_colours_cells_by_status(built):
    float32 = dict(html_matrix(built["html"], "float32"))
    assert float32 == {
        "gelu": ["s-pass", "s-variant"],
        "relu": ["s-pass", "s-error"],
        "softmax": ["s-pass", "s-unsupported"],
    }
    assert dict(html_matrix(built["html"], "float16"))["relu"] == ["s-skip", "s-notrun"]
    assert dict(html_matrix(built["html"], "bfloat16")) == {"gelu": ["s-unsupported", "s-notrun"],
                                                             "relu": ["s-notrun", "s-notrun"],
                                                             "softmax": ["s-notrun", "s-notrun"]}
    assert '<span class="chk s-error">grad ‼</span>' in built["html"]  # each check keeps its own colour
    # each cell opens its records
    assert built["html"].count("<details><summary>") == 8


def test_deviations_show_message_variant_counterexample_and_repro(built):
    md = built["md"]
    deviations = md.split("\n## Deviations\n", 1)[1].split("\n## ", 1)[0]
    assert "2 fails and 1 error," in deviations
    headings = re.findall(r"^### (.*)$", deviations, flags=re.M)
    assert headings == [  # only fail and error records are deviations
        "gelu · torch cpu · float32 · forward: fail",
        "relu · torch cpu · float32 · gradient: error",
        "softmax · torch cpu · any dtype · defaults: fail",
    ]
    assert "matches `gelu(approximate='tanh')`" in deviations
    assert f"repro: `{REPRO}`" in deviations
    assert "inputs\\[0\\] = `[0.5, -1.25, inf] float32 (3,)`" in deviations  # float.hex decoded to decimals
    assert "params = `approximate='none'`" in deviations and "0x1." not in deviations and "cotangent" not in deviations
    assert "\\<script\\>" in deviations
    html = built["html"]
    assert "matches <code>gelu(approximate=&#39;tanh&#39;)</code>" in html
    assert REPRO in html and "[0.5, -1.25, inf] float32 (3,)" in html


def test_html_escapes_and_is_self_contained(built):
    html = built["html"]
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; derivative" in html
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<link\b|\bsrc=|@import|url\((?!#)", html)
    assert html.count("<script>") == 1  # the one inline handler


def test_defaults_that_differ(built):
    defaults = {(d["op"], d["backend"]): d for d in built["report"]["defaults"]}
    assert defaults[("softmax", "torch")]["differs"] and not defaults[("gelu", "torch")]["differs"]
    section = built["md"].split("\n## Defaults that differ from the spec\n", 1)[1].split("\n## ", 1)[0]
    assert "| softmax | axis | `-1` | torch 2.4.0 | `None` |" in section and "gelu" not in section


def test_benchmark_derived_numbers(built):
    bench = {(b["op"], b["backend"], b["mode"], b["elements"]): b for b in built["report"]["benchmarks"]}
    assert bench[("gelu", "torch", "native", MIB)]["ratio_to_fastest"] == 1.0
    assert bench[("relu", "numpy", "eager", MIB)]["ratio_to_fastest"] == 1.0
    assert bench[("gelu", "torch", "eager", MIB)]["ratio_to_fastest"] == pytest.approx(4.0 / 3.5)
    assert bench[("gelu", "numpy", "eager", MIB)]["ratio_to_fastest"] == pytest.approx(2.0e-3 / 3.5e-4)
    assert bench[("gelu", "torch", "eager", MIB // 16)]["ratio_to_fastest"] == 1.0  # alone at its size
    assert bench[("gelu", "torch", "eager", MIB)]["elements_per_s"] == pytest.approx(MIB / 4.0e-4)
    assert bench[("gelu", "torch", "eager", MIB)]["bandwidth_fraction"] == pytest.approx(0.25)  # vs torch memcpy
    assert bench[("gelu", "numpy", "eager", MIB)]["bandwidth_fraction"] == pytest.approx(1.2e-4 / 2.0e-3)
    assert bench[("gelu", "torch", "eager", MIB)]["adapter_overhead_s"] == pytest.approx(5.0e-5)
    assert bench[("relu", "torch", "eager", MIB)]["adapter_overhead_s"] is None  # no native twin
    speed = built["md"].split("\n## Speed\n", 1)[1]
    assert "| gelu | float32 | 1 Mi | torch | native | 350 µs |" in speed and "**1.00×**" in speed
    assert "### Adapter overhead" in speed and "+50 µs" in speed
    assert "| torch | cpu | gelu | 1 Mi | compiled | compiled gelu failed on its first call: no C++ compiler |" in speed


def test_speed_chart_is_inline_svg_without_namespace_urls(built):
    pytest.importorskip("matplotlib")
    html = built["html"]
    assert html.count("<svg") == 1 and "<?xml" not in html and "<!DOCTYPE svg" not in html


def test_report_builds_without_matplotlib(results, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        html = render_html(merge(results))
    assert "<svg" not in html and 'class="cell s-variant"' in html


def test_newest_run_of_the_same_backend_and_device_wins(tmp_path):
    old = environment("numpy", "1.26.0", "2024-05-01T00:00:00+00:00")
    new = environment("numpy", "2.1.0", "2024-06-01T00:00:00+00:00")
    write_jsonl(tmp_path / "numpy-cpu.jsonl", [new, check(new, "relu", "float32", "forward", "pass"),
                                               {"kind": "finished", "run_id": new["run_id"], "seconds": 1.0, "counts": {}}])
    write_jsonl(tmp_path / "numpy-cpu.old.jsonl", [old, check(old, "relu", "float32", "forward", "fail")])
    with pytest.warns(UserWarning, match="superseded"):
        report = build_report(tmp_path, tmp_path / "out")
    assert [r["backend_version"] for r in report["runs"]] == ["2.1.0"]
    assert [r["status"] for r in report["records"]] == ["pass"]
