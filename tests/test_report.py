"""The report: a hand-made results directory merged into conformance.json, conformance.md and index.html."""

from __future__ import annotations

import json
import math
import re
import sys
import warnings

from pathlib import Path

import pytest

from nnspec.cli import main
from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.results import as_entry, read_report_file
from nnspec.report import build_report
from nnspec.conformance.repro import replay
from nnspec.report import SCHEMA
from nnspec.report.html import render_html
from nnspec.report.merge import merge
from nnspec.report.status import MAX_VALUES, WINDOW, record_id

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
        "counterexamples": [], "repro": None, "message": "", "seed": 1234, "seconds": 0.25, "composed": False,
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
              counterexamples=[{"inputs": [array("float32", [0.5, -1.25, float("inf")])], "cotangent": None,
                                "params": {"approximate": "none"}}],
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
        "results": results,
        "out": out,
        "warnings": [str(w.message) for w in caught],
        "json": json.loads((out / "conformance.json").read_text(encoding="utf-8")),
        "read": read_report_file(out / "conformance.json"),  # what its readers see: each entry in full
        "runs": json.loads((out / "runs.json").read_text(encoding="utf-8")),
        "md": (out / "conformance.md").read_text(encoding="utf-8"),
        "html": (out / "index.html").read_text(encoding="utf-8"),
    }


def cards_of(html):
    """The deviation cards' JSON block of a page."""
    return json.loads(html.split('<script type="application/json" id="cards">', 1)[1].split("</script>", 1)[0])


def card_texts(html) -> str:
    """Every text the page's deviation cards show, joined."""
    return " ".join(cards_of(html)["strings"])


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
    for row in section.split('<tr class="op-row"')[1:]:
        op = re.search(r'<td class="op">([^<]*)</td>', row).group(1)
        rows.append((op, re.findall(r'<td class="cell (s-[a-z]+)', row)))
    return rows


def cell_popups(html):
    """The JSON the page's matrix cells build their popups from."""
    return json.loads(html.split('<script type="application/json" id="cells">', 1)[1].split("</script>", 1)[0])


def validate(data):
    """conformance.json against the schema shipped in the package."""
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(data)


def test_four_files_written_and_the_merged_report_has_the_required_keys(built):
    assert sorted(p.name for p in built["out"].iterdir()) == ["conformance.json", "conformance.md", "index.html",
                                                              "porting.md", "runs.json"]
    data = built["report"]  # what the renderers read: every stored field kept
    for key in ("schema_version", "generated", "runs", "records", "defaults", "benchmarks"):
        assert key in data
    run = data["runs"][0]
    for key in ("run_id", "backend", "backend_ref", "backend_version", "device", "python", "platform", "numerics",
                "budget", "seed", "selection", "started", "finished", "interrupted", "running_when_died", "wall_s",
                "cpu_seconds", "resumed", "kept", "superseded"):
        assert key in run
    for record in data["records"]:
        for key in ("op", "family", "backend", "backend_version", "device", "dtype", "check", "status",
                    "matches_variant", "max_ulp", "max_abs", "max_rel", "tolerance", "examples",
                    "counterexamples", "repro", "message", "run_id"):
            assert key in record
        assert (record["run_id"] is None) == (record["status"] == "not run")  # each measured record names its run
        assert "kind" not in record and "tolerance_reason" in record and "seconds" in record  # every stored field kept
    assert {"op", "parameter", "spec_default", "backend", "native_default", "differs"} <= set(data["defaults"][0])
    for entry in data["benchmarks"]:
        assert {"op", "backend", "device", "dtype", "elements", "mode", "median_s", "iqr_s", "elements_per_s",
                "ratio_to_fastest", "bandwidth_fraction", "adapter_overhead_s"} <= set(entry)


def test_the_status_file_validates_and_holds_no_run_churn(built):
    data, text = built["json"], (built["out"] / "conformance.json").read_text(encoding="utf-8")
    validate(data)
    assert data["schema_version"] == 5
    json.dumps(data, allow_nan=False)  # strict JSON
    # nothing that changes from run to run: run ids, start times, seconds, benchmark timings are in runs.json
    for churn in ("run_id", "started", "seconds", "wall_s", "median_s", "generated", "2024-06-01T12"):
        assert churn not in text, churn
    assert {r["run_id"] for r in built["runs"]["runs"]} == {r["run_id"] for r in built["report"]["runs"]}
    assert {"generated", "runs", "benchmarks", "bench_files", "warnings"} <= set(built["runs"])
    assert [(e["backend"], e["backend_version"], e["seed"]) for e in data["environments"]] == [
        ("numpy", "2.1.0", 1234), ("torch", "2.4.0", 1234)]
    entries = {record_id(e): e for e in map(as_entry, data["records"])}
    assert len(entries) == len(data["records"])
    # a passing entry that states nothing but its worst error and its examples is the row [id, max_ulp, examples]
    assert ["numpy/cpu/float32/relu/{forward,gradient}", 0, 200] in data["records"]
    assert entries["numpy/cpu/float32/relu/{forward,gradient}"] == {
        "id": "numpy/cpu/float32/relu/{forward,gradient}", "status": "pass", "max_ulp": 0, "examples": 200}
    # one entry per record, once the groups are read back: the entries of one (backend, device, op) alike but
    # for dtype and check (here the cases no run measured) are one line
    assert len(built["read"]["records"]) == len(built["report"]["records"])
    group = entries["numpy/cpu/{float64,float32,float16,bfloat16}/linear/{forward,gradient}"]
    assert group["status"] == "not run"
    assert [e["id"] for e in built["read"]["records"][:2]] == ["numpy/cpu/float64/linear/forward",
                                                               "numpy/cpu/float64/linear/gradient"]
    softmax = entries["torch/cpu/float32/softmax/forward"]
    assert "max_ulp" not in softmax and softmax["non_finite"] == {"max_ulp": "inf"}  # null + named, never a string
    assert "max_abs" not in softmax  # a pass states its worst error in ULP only
    assert "tolerance" not in softmax and data["tolerances"]["softmax/forward"]["bound"]["float32"] == 2  # stated once
    assert {e["id"]: e for e in built["read"]["records"]}["torch/cpu/float32/softmax/forward"]["tolerance"] == 2
    assert "max_abs" not in entries["torch/cpu/float32/gelu/forward"]  # a failure too: the results keep it
    gelu = entries["torch/cpu/float32/gelu/forward"]
    # keyed by its id alone: the five fields it names, its environment's version and the standard repro
    # command are what the reader puts back
    assert gelu["id"] == "torch/cpu/float32/gelu/forward"
    assert not {"op", "backend", "device", "dtype", "check", "backend_version", "repro"} & set(gelu)
    assert data["repro_sources"] == {"report": str(built["out"] / "conformance.json")}
    read = {e["id"]: e for e in built["read"]["records"]}
    assert [e["id"] for e in built["read"]["records"]] == [e["id"] for e in built["report"]["records"]]
    gelu = read["torch/cpu/float32/gelu/forward"]
    assert (gelu["op"], gelu["backend"], gelu["device"], gelu["dtype"], gelu["check"], gelu["backend_version"]) == (
        "gelu", "torch", "cpu", "float32", "forward", "2.4.0")
    assert gelu["max_ulp"] == 37 and gelu["matches_variant"] == "gelu(approximate='tanh')"
    assert gelu["counterexamples"] == [{"inputs": [{"dtype": "float32", "shape": [3],
                                                    "values": ["0x1p-1", "-0x1.4p+0", "inf"]}],
                                        "params": {"approximate": "none"}}]  # no null cotangent, no repeated message
    assert gelu["repro"] == f"nnspec repro torch/cpu/float32/gelu/forward --report {built['out'] / 'conformance.json'}"
    assert data["tolerances"]["gelu/forward"] == {"reason": "elementwise transcendental", "bound": {"float32": 2, "bfloat16": 2}}
    assert "tolerance_reason" not in gelu and data["families"]["gelu"] == "activations"
    # an id that is not backend/device/dtype/op/check names no fields: they are stated
    monotonic = entries["torch/cpu/float32/relu/property/monotonic"]
    assert (monotonic["op"], monotonic["check"]) == ("relu", "property") and "backend_version" not in monotonic
    keys = [(e["op"], e["backend"], e["dtype"], e["check"]) for e in built["read"]["records"]]
    assert keys.index(("gelu", "numpy", "float64", "forward")) < keys.index(("gelu", "torch", "float64", "forward"))
    lines = text.splitlines()
    assert sum(1 for line in lines if line.startswith(('{"', '["'))) == sum(len(data[k]) for k in ("environments", "records", "defaults"))


def test_a_tolerance_stated_as_text_is_a_number_and_a_rule(tmp_path):
    env = environment("numpy", "2.1.0", "2024-06-01T12:00:00+00:00")
    write_jsonl(tmp_path / "numpy-cpu.jsonl", [env, check(
        env, "adam", "float64", "trajectory", "pass",
        tolerance="1 ulp a step, summed over the steps (× κₜ where the spec states one)", tolerance_reason="why")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_report(tmp_path, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "conformance.json").read_text(encoding="utf-8"))
    validate(data)
    (adam,) = [e for e in map(as_entry, data["records"]) if e["id"].endswith("/adam/trajectory") and e["status"] == "pass"]
    assert "tolerance" not in adam and "tolerance_rule" not in adam
    assert data["tolerances"]["adam/trajectory"] == {
        "rule": "a step, summed over the steps (× κₜ where the spec states one)", "reason": "why", "bound": {"float64": 1}}


def test_order_is_deterministic(built):
    report = built["report"]
    assert [r["backend"] for r in report["runs"]] == ["numpy", "torch"]
    assert report["ops"] == list(CATALOGUE)  # catalogue order: every catalogue op appears
    assert report["dtypes"] == ["float64", "float32", "float16", "bfloat16"]  # the defaults check's "-" is no dtype
    backends = [r["backend"] for r in report["records"] if r["op"] == "gelu" and r["dtype"] == "float32"]
    assert backends == sorted(backends, key=lambda b: b != "numpy")


def test_truncated_line_is_skipped_with_a_warning_and_the_rest_survives(built):
    assert any(re.search(r"torch-cpu\.jsonl:14: .*truncated", w) for w in built["warnings"])
    assert any("truncated" in w for w in built["report"]["warnings"])
    measured = [r for r in built["report"]["records"] if r["status"] != "not run"]
    torch = [r for r in measured if r["backend"] == "torch"]
    assert len(torch) == 10 and not any(r["op"] == "tanh" for r in torch)
    assert len([r for r in measured if r["backend"] == "numpy"]) == 10


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
    assert re.search(r'<tr class="interrupted" id="run-torch-cpu-[^"]*"><td><b>torch</b>', built["html"])
    assert "1 run was interrupted" in built["html"]


def test_markdown_never_shows_fail_error_or_unsupported_as_pass(built):
    float32 = md_matrix(built["md"], "float32")
    # numpy declares no native defaults: shown (def ∅), but not what colours a passing cell
    assert float32["gelu"]["numpy cpu"] == "fwd ✓ grad ✓ def ∅ · 2 ulp"
    assert float32["gelu"]["torch cpu"] == "**VARIANT** fwd ≈ grad ✓ def ✓ · 37 ulp"
    assert float32["relu"]["torch cpu"] == "**ERROR** fwd ✓ grad ‼ prop ✓ def ⤼ · 0 ulp"
    # softmax has properties: the property check no run measured is "not run" (—), never a pass
    assert float32["softmax"]["torch cpu"] == "**UNSUPPORTED** fwd ✓ grad ∅ prop — def ≠ · inf ulp"
    assert float32["softmax"]["numpy cpu"] == "**NOT RUN** fwd ✓ grad — prop — def — · 1 ulp"
    float16 = md_matrix(built["md"], "float16")
    assert float16["relu"]["numpy cpu"] == "**SKIPPED** fwd ⤼ grad ⤼ def ⤼"
    assert float16["gelu"]["numpy cpu"] == "**NOT RUN** fwd — grad — def ∅"
    bfloat16 = md_matrix(built["md"], "bfloat16")
    assert bfloat16["gelu"]["numpy cpu"] == "**UNSUPPORTED** fwd ∅ grad — def ∅"
    assert bfloat16["gelu"]["torch cpu"] == "**NOT RUN** fwd — grad — def ✓"
    assert bfloat16["tanh"]["torch cpu"] == "—"  # a case no run measured, of an op no run reached


def test_html_colours_cells_by_status(built):
    float32 = dict(html_matrix(built["html"], "float32"))
    assert list(float32) == list(CATALOGUE)
    assert {op: float32[op] for op in ("gelu", "relu", "softmax", "tanh")} == {
        "gelu": ["s-pass", "s-variant"],
        "relu": ["s-pass", "s-error"],
        "softmax": ["s-notrun", "s-unsupported"],
        "tanh": ["s-notrun", "s-notrun"],
    }
    assert dict(html_matrix(built["html"], "float16"))["relu"] == ["s-skip", "s-notrun"]
    bfloat16 = dict(html_matrix(built["html"], "bfloat16"))
    assert {op: bfloat16[op] for op in ("gelu", "relu", "softmax")} == {"gelu": ["s-unsupported", "s-notrun"],
                                                                         "relu": ["s-notrun", "s-notrun"],
                                                                         "softmax": ["s-notrun", "s-notrun"]}
    # a cell's face (its checks, their statuses, its worst error) is in its JSON, which the page's script draws
    popups = cell_popups(built["html"])
    faces = [[popups["strings"][i] for i in cell[3]] for cell in popups["cells"]]
    assert any(list(zip(f[1::2], f[2::2]))[:2] == [("fwd", "pass"), ("grad", "error")] for f in faces)  # own colours
    assert any("prop" in f and f[f.index("prop") + 1] == "notrun" for f in faces)
    # each cell holding a measured record opens its records: 6 in float32, and in each of the three other
    # dtypes the 5 (op, backend) pairs with a defaults record; every other cell is a grey — (not run)
    assert built["html"].count('<td class="cell s-') - built["html"].count('<td class="cell s-notrun" title=') == 6 + 3 * 5
    assert len(popups["cells"]) == 6 + 3 * 5
    assert built["html"].count('<td class="cell s-notrun" title="not run: ') == 4 * 2 * len(CATALOGUE) - 21


def test_deviations_show_message_variant_counterexample_and_repro(built):
    md = built["md"]
    deviations = md.split("\n## Deviations\n", 1)[1].split("\n## ", 1)[0]
    assert "2 fails and 1 error," in deviations
    headings = re.findall(r"^### (.*)$", deviations, flags=re.M)
    assert headings == [  # only fail and error records are deviations, in catalogue order
        "relu · torch cpu · float32 · gradient: error",
        "gelu · torch cpu · float32 · forward: fail",
        "softmax · torch cpu · any dtype · defaults: fail",
    ]
    assert "- from run torch-cpu-2024-06-01T12:05:00+00:00 (started 2024-06-01T12:05:00+00:00)" in deviations
    assert "matches `gelu(approximate='tanh')`" in deviations
    # the report's own repro command reads the report, so it works on a clone without results/
    assert f"repro: `nnspec repro torch/cpu/float32/gelu/forward --report {built['out'] / 'conformance.json'}`" in deviations
    assert "inputs\\[0\\] = `[0.5, -1.25, inf] float32 (3,)`" in deviations  # float.hex decoded to decimals
    assert "params = `approximate='none'`" in deviations and "0x1." not in deviations and "cotangent" not in deviations
    assert "\\<script\\>" in deviations
    html = built["html"]
    assert "matches <code>gelu(approximate=&#39;tanh&#39;)</code>" in html  # the group's cause
    cards = card_texts(html)  # the cards the page builds when a group opens
    assert f"nnspec repro torch/cpu/float32/gelu/forward --report {built['out'] / 'conformance.json'}" in cards
    assert "[0.5, -1.25, inf] float32 (3,)" in cards


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
    assert html.count('<g id="ytick_') >= 2  # the y axis has values


def test_speed_chart_labels_its_y_axis_over_many_decades():
    """A full run's panel (15 ops, 4 backends, rates over six decades) once drew no y tick at all: LogLocator's
    automatic count, with subs 2 and 5, on an axes its title makes short."""
    pytest.importorskip("matplotlib")
    from nnspec.report.chart import speed_chart_svg

    ops = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "swish", "gelu", "softmax", "log_softmax", "softplus",
           "elu", "selu", "softsign", "mish", "celu"]  # rotated labels this long leave the axes short
    backends = ["numpy", "jax", "tensorflow", "torch"]
    benchmarks = [{"op": op, "mode": "eager", "device": "cpu", "dtype": "float32", "backend": b, "elements": 10**6,
                   "elements_per_s": 1.2e7 * 10 ** ((i * 4 + j) % 6) * (1.5 if i == 0 and j == 0 else 1.0)}
                  for i, op in enumerate(ops) for j, b in enumerate(backends)]
    svg = speed_chart_svg({"benchmarks": benchmarks, "dtypes": ["float32"], "ops": ops})
    assert svg.count('<g id="ytick_') >= 6  # a tick per decade, 10 M/s to 10 T/s


def test_report_builds_without_matplotlib(results, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        html = render_html(merge(results))
    assert "<svg" not in html and 'class="cell s-variant' in html




# -- append-only results: runs, reruns, resumes, deaths -------------------------------------


def torch_run(run_id, started, **selection):
    env = environment("torch", "2.4.0", started)
    env.update(run_id=run_id, backend_ref="torch",
               selection={"family": None, "op": None, "dtypes": ["float32"], "shard": None, **selection})
    return env


def case_started(env, op, checker, dtype):
    return {"kind": "case_started", "run_id": env["run_id"], "case": f"{op}-{checker}-{dtype}", "op": op,
            "check": checker, "dtype": dtype, "backend": "torch", "device": "cpu"}


def finished(env, seconds=3.0):
    return {"kind": "finished", "run_id": env["run_id"], "seconds": seconds, "cpu_seconds": seconds * 1.5}


def quiet_report(results, out):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = build_report(results, out)
    return report, [str(w.message) for w in caught], (out / "conformance.md").read_text(), (out / "index.html").read_text()


def by_id(report):
    return {r["id"]: r for r in report["records"]}


def test_rerunning_one_op_supersedes_exactly_its_cases(tmp_path):
    # file names sort the other way round from the start times: age decides, not names
    first = torch_run("zz-first", "2024-06-01T12:00:00+00:00")
    write_jsonl(tmp_path / "torch-cpu-zz-first.jsonl", [first] + [
        check(first, op, "float32", name, "pass", max_ulp=1) for op in ("relu", "gelu", "softmax")
        for name in ("forward", "gradient")] + [finished(first)])
    second = torch_run("aa-second", "2024-06-02T09:30:00+00:00", op="gelu")
    write_jsonl(tmp_path / "torch-cpu-aa-second.jsonl", [second, case_started(second, "gelu", "values", "float32"),
        check(second, "gelu", "float32", "forward", "fail", max_ulp=40, message="max_ulp 40 > tolerance 2"),
        check(second, "gelu", "float32", "gradient", "pass", max_ulp=2), finished(second)])
    report, caught, md, html = quiet_report(tmp_path, tmp_path / "out")
    records = by_id(report)
    assert records["torch/cpu/float32/gelu/forward"]["status"] == "fail"
    assert {records[f"torch/cpu/float32/gelu/{c}"]["run_id"] for c in ("forward", "gradient")} == {"aa-second"}
    for op in ("relu", "softmax"):  # every other record of the first run is kept
        for name in ("forward", "gradient"):
            assert records[f"torch/cpu/float32/{op}/{name}"]["run_id"] == "zz-first"
            assert records[f"torch/cpu/float32/{op}/{name}"]["status"] == "pass"
    assert records["torch/cpu/float32/softmax/property"]["status"] == "not run"  # measured by neither
    runs = {r["run_id"]: r for r in report["runs"]}
    assert [r["run_id"] for r in report["runs"]] == ["zz-first", "aa-second"]  # oldest first
    assert (runs["zz-first"]["kept"], runs["zz-first"]["superseded"]) == (4, 2)
    assert (runs["aa-second"]["kept"], runs["aa-second"]["superseded"]) == (2, 0)
    assert runs["aa-second"]["selection"]["op"] == "gelu" and runs["aa-second"]["cpu_seconds"] == 4.5
    assert any("2 records of run zz-first" in w and "superseded by the newer run aa-second" in w for w in caught)
    assert report["dtypes"] == ["float32"]  # the runs selected float32 only: no other dtype is expected
    float32 = md_matrix(md, "float32")
    assert float32["gelu"]["torch cpu"] == "**FAIL** fwd ✗ grad ✓ def — · 40 ulp · run aa-second"
    assert float32["relu"]["torch cpu"] == "**NOT RUN** fwd ✓ grad ✓ def — · 1 ulp · run zz-first"
    # the column mixes two runs: the cell's popup (built from the page's JSON) names the run its records are from
    assert cell_popups(html)["strings"].count("run aa-second (started 2024-06-02T09:30:00+00:00)") == 1
    assert "- from run aa-second (started 2024-06-02T09:30:00+00:00)" in md


def test_a_run_that_died_names_the_case_it_was_running(tmp_path):
    run = torch_run("r1", "2024-06-01T12:00:00+00:00")
    write_jsonl(tmp_path / "torch-cpu-r1.jsonl", [
        run,
        case_started(run, "relu", "values", "float32"),
        check(run, "relu", "float32", "forward", "pass"), check(run, "relu", "float32", "gradient", "pass"),
        case_started(run, "gelu", "values", "float32"),
    ], truncated_tail='{"kind": "check", "id": "torch/cpu/float32/gelu/forward", "op": "ge')
    report, caught, md, html = quiet_report(tmp_path, tmp_path / "out")
    (entry,) = report["runs"]
    assert entry["interrupted"] and not entry["finished"]
    assert entry["running_when_died"] == {"case": "gelu-values-float32", "op": "gelu", "check": "values",
                                          "dtype": "float32", "worker": None}
    records = by_id(report)
    assert records["torch/cpu/float32/gelu/forward"]["status"] == "not run"
    assert "running when run r1 died" in records["torch/cpu/float32/gelu/gradient"]["message"]
    assert "interrupted before it reached" in records["torch/cpu/float32/tanh/forward"]["message"]
    assert "running gelu values float32 when it died" in md.split("\n## Conformance matrix", 1)[0]
    assert 'title="not run: it was running when run r1 died; not run: run r1 was interrupted before' in html
    float32 = md_matrix(md, "float32")
    assert float32["gelu"]["torch cpu"] == "—" and float32["tanh"]["torch cpu"] == "—"  # never reached
    assert float32["relu"]["torch cpu"] == "**NOT RUN** fwd ✓ grad ✓ def — · 0 ulp"


def test_a_resumed_run_goes_on_and_finishes(tmp_path):
    run = torch_run("r1", "2024-06-01T12:00:00+00:00")
    write_jsonl(tmp_path / "torch-cpu-r1.jsonl", [
        run, case_started(run, "relu", "values", "float32"),
        {"kind": "resumed", "run_id": "r1", "started": "2024-06-01T13:00:00+00:00", "argv": ["nnspec", "run"]},
        case_started(run, "relu", "values", "float32"),
        check(run, "relu", "float32", "forward", "crashed", max_ulp=None, message="the worker crashed (SIGSEGV)"),
        check(run, "relu", "float32", "gradient", "crashed", max_ulp=None, message="the worker crashed (SIGSEGV)"),
        case_started(run, "gelu", "values", "float32"),
        check(run, "gelu", "float32", "forward", "timeout", max_ulp=None, message="the worker timed out (180 s)"),
        check(run, "gelu", "float32", "gradient", "timeout", max_ulp=None, message="the worker timed out (180 s)"),
        finished(run),
    ])
    report, caught, md, html = quiet_report(tmp_path, tmp_path / "out")
    (entry,) = report["runs"]
    assert entry["finished"] and entry["running_when_died"] is None
    assert entry["resumed"] == ["2024-06-01T13:00:00+00:00"]
    float32 = md_matrix(md, "float32")
    assert float32["relu"]["torch cpu"] == "**CRASHED** fwd ☠ grad ☠ def —"
    assert float32["gelu"]["torch cpu"] == "**TIMEOUT** fwd ⧗ grad ⧗ def —"
    assert dict(html_matrix(html, "float32"))["relu"] == ["s-crashed"]
    assert dict(html_matrix(html, "float32"))["gelu"] == ["s-timeout"]
    deviations = md.split("\n## Deviations\n", 1)[1].split("\n## ", 1)[0]
    assert "2 timeouts and 2 crashes," in deviations
    assert "relu · torch cpu · float32 · forward: crashed" in deviations
    assert ".s-timeout {" in html and ".s-crashed {" in html and "(resumed 1×)" in md


# -- a results directory holding every kind of corrupt file -----------------------------------

CORRUPT = {  # file name -> (bytes between two good lines, what the warning says); None: the whole file
    "truncated": (b'{"kind": "check", "id": "torch/cpu/float32/tanh/forward", "op": "tanh", "sta', "truncated"),
    "garbage": (b"Segmentation fault (core dumped)", "corrupt"),
    "utf8": (b'{"kind": "check", "op": "r\xe9lu"}', "not valid UTF-8"),
    "nul": (b"\x00" * 4096, "NUL bytes"),
    "array": (b'["check", "relu"]', "not a JSON object"),
    "wrong-type": (json.dumps({**check(environment("torch", "2.4.0", "x"), "elu", "float32", "forward", "pass"),
                               "status": 1}).encode(), "status is 1"),
    "unknown-kind": (b'{"kind": "heartbeat", "run_id": "x"}', "unknown kind 'heartbeat'"),
}


def test_a_directory_of_corrupt_files_still_renders_with_one_warning_each(tmp_path, capsys):
    kept = 0
    for index, (name, (bad, _)) in enumerate(CORRUPT.items()):
        env = environment("torch", "2.4.0", f"2024-06-01T12:{index:02d}:00+00:00")
        good = [env, check(env, "relu", "float32", "forward", "pass"), check(env, "gelu", "float32", "forward", "pass")]
        text = (json.dumps(good[0]) + "\n" + json.dumps(good[1]) + "\n").encode() + bad + b"\n" + (json.dumps(good[2]) + "\n").encode()
        (tmp_path / f"torch-cpu-{name}.jsonl").write_bytes(text)
        kept += 2
    (tmp_path / "torch-cpu-empty.jsonl").write_bytes(b"")
    report, caught, md, html = quiet_report(tmp_path, tmp_path / "out")
    for name, (_, why) in CORRUPT.items():
        mine = [w for w in report["warnings"] if f"torch-cpu-{name}.jsonl" in w]
        assert len(mine) == 1 and re.search(rf"torch-cpu-{name}\.jsonl:3: skipped .*{re.escape(why)}", mine[0]), mine
    assert [w for w in report["warnings"] if "torch-cpu-empty.jsonl" in w] == [
        f"{tmp_path / 'torch-cpu-empty.jsonl'}: skipped an empty results file (no lines)"]
    assert len(report["runs"]) == len(CORRUPT)
    assert sum(r["records"] for r in report["runs"]) == kept  # every good line around the bad ones is kept
    newest = report["runs"][-1]["run_id"]
    assert {by_id(report)[f"torch/cpu/float32/{op}/forward"]["run_id"] for op in ("relu", "gelu")} == {newest}
    assert "Reading notes:" in md and "NUL bytes" in md and "NUL bytes" in html
    assert main(["report", "--results", str(tmp_path), "--out", str(tmp_path / "out2")]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_the_report_is_deterministic(results, tmp_path):
    def strip(text):
        return re.sub(r"Generated \S+", "Generated", text)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_report(results, tmp_path / "a")
        first = {name: (tmp_path / "a" / name).read_text() for name in ("conformance.md", "index.html")}
        build_report(results, tmp_path / "a")  # same place: the repro commands name the report's own path
    for name in ("conformance.md", "index.html"):
        assert strip(first[name]) == strip((tmp_path / "a" / name).read_text())


def test_the_same_results_rebuilt_give_a_byte_identical_status_file(results, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_report(results, tmp_path / "a")
        first = (tmp_path / "a" / "conformance.json").read_bytes()
        build_report(results, tmp_path / "a")
    assert (tmp_path / "a" / "conformance.json").read_bytes() == first


def test_two_runs_at_the_same_seed_differ_only_in_runs_json(tmp_path):
    """Real runs: the same op, seed and versions measured twice give the same conformance.json, byte for byte."""
    texts = []
    for name in ("first", "second"):
        assert main(["run", "--backend", "numpy", "--op", "gelu", "--budget", "quick", "--seed", "0",
                     "--results", str(tmp_path / name)]) == 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build_report(tmp_path / name, tmp_path / "out")
        texts.append(((tmp_path / "out" / "conformance.json").read_bytes(), (tmp_path / "out" / "runs.json").read_text()))
    assert texts[0][0] == texts[1][0]
    assert b'"status":"fail"' in texts[0][0]  # numpy's float32 gelu deviates: the file holds a counterexample
    assert json.loads(texts[0][1])["runs"][0]["run_id"] != json.loads(texts[1][1])["runs"][0]["run_id"]


# -- the status file caps large counterexamples --------------------------------------------------

ATTENTION_SHAPE = [2, 4, 32, 64]  # batch, heads, length, head dim: 16 384 values an input
WORST = (1, 3, 17, 40)


def attention_results(root):
    """One torch attention failure whose counterexample holds q, k, v and a cotangent of 16 384 values each."""
    rng = __import__("numpy").random.default_rng(0)
    env = environment("torch", "2.4.0", "2024-06-01T12:05:00+00:00")
    size = 2 * 4 * 32 * 64
    inputs = [{"dtype": "float32", "shape": ATTENTION_SHAPE, "values": [float(v).hex() for v in rng.standard_normal(size)]}
              for _ in range(3)]
    inputs[0]["values"][size - 1] = "nan"
    cotangent = {"dtype": "float32", "shape": ATTENTION_SHAPE, "values": ["0x1.0000000000000p+0"] * size}
    message = "non-finite mismatch at index (1, 3, 17, 40): got 0.0, spec nan"
    example = {"inputs": inputs, "cotangent": cotangent, "params": {"causal": False}}
    record = check(env, "scaled_dot_product_attention", "float32", "gradient", "fail", max_ulp="nan", message=message,
                   counterexample=example, counterexamples=[{**example, "message": message}], family="attention",
                   repro="nnspec repro x --results y",
                   id="torch/cpu/float32/scaled_dot_product_attention/gradient")
    write_jsonl(root / "torch-cpu-attn.jsonl", [env, record])
    return inputs, record


def test_a_large_counterexample_is_capped_around_its_worst_element(tmp_path):
    (tmp_path / "results").mkdir()
    inputs, record = attention_results(tmp_path / "results")
    raw = len(json.dumps(record))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = build_report(tmp_path / "results", tmp_path / "out")
    text = (tmp_path / "out" / "conformance.json").read_text(encoding="utf-8")
    data = json.loads(text)
    validate(data)
    (entry,) = [e for e in map(as_entry, data["records"]) if e["status"] == "fail"]
    line = next(line for line in text.splitlines() if '"counterexamples"' in line)
    assert raw > 1_000_000 and len(line) < 5_000  # 4 × 16 384 values -> a few kB
    assert entry["counterexample_capped"] and entry["non_finite"] == {"max_ulp": "nan"}
    (example,) = entry["counterexamples"]
    q = example["inputs"][0]
    assert q["capped"] and q["shape"] == ATTENTION_SHAPE and q["size"] == 16384 and "dtype" not in q  # its entry's
    (read,) = [e for e in read_report_file(tmp_path / "out" / "conformance.json")["records"] if e["status"] == "fail"]
    assert read["counterexamples"][0]["inputs"][0]["dtype"] == "float32"  # put back by the reader
    assert q["summary"]["nan"] == 1 and q["summary"]["inf"] == 0 and q["summary"]["min"] < 0 < q["summary"]["max"]
    flat = ((WORST[0] * 4 + WORST[1]) * 32 + WORST[2]) * 64 + WORST[3]
    assert q["slice"]["index"] == list(WORST) and q["slice"]["start"] == flat - WINDOW
    assert len(q["slice"]["values"]) == 2 * WINDOW + 1
    assert [float.fromhex(v) for v in q["slice"]["values"]] == [
        float.fromhex(v) for v in inputs[0]["values"][flat - WINDOW:flat + WINDOW + 1]]  # exact, around the worst
    assert example["cotangent"]["capped"] and example["params"] == {"causal": False}
    assert len(example["inputs"]) == 3 and all(a["capped"] for a in example["inputs"])
    # the printed command reads the results directory, where the full example is
    results_command = f"nnspec repro {entry_id(entry)} --results {tmp_path / 'results'}"
    assert entry["repro"] == results_command
    md = (tmp_path / "out" / "conformance.md").read_text(encoding="utf-8")
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert results_command in md and results_command in html and "capped in conformance.json" in md
    # the page shows the example once, on the deviation's card, a few values an array, and says it is capped
    (group,) = cards_of(html)["groups"]
    (card,) = group
    rows = {cards_of(html)["strings"][row[0]]: row for row in card[7]}
    assert rows["counterexample"][2] == 1 and "capped in conformance.json" in html  # the script's note for it
    # the arrays are > 1 MB raw; the page stays the size of its catalogue's rows (every other case "not run",
    # ~100 kB at 83 ops), so a bound well under the raw size is what shows them capped
    assert len(html.encode()) < 200_000
    runs = json.loads((tmp_path / "out" / "runs.json").read_text(encoding="utf-8"))
    assert runs["runs"][0]["capped"] == [entry_id(entry)]
    # and repro from the report says so, naming the file, instead of replaying a slice
    with pytest.raises(ValueError, match=r"capped in .*conformance\.json.*full example is in the results file "
                                         r".*torch-cpu-attn\.jsonl.*--results"):
        replay(entry_id(entry), report=tmp_path / "out" / "conformance.json")
    assert [r["id"] for r in report["records"] if r.get("counterexample_capped")] == [entry_id(entry)]


def entry_id(entry):
    return record_id(entry)


def test_small_arrays_stay_whole_and_exact(built):
    for entry in built["read"]["records"]:
        for example in entry.get("counterexamples", []):
            for array in example["inputs"]:
                assert not array.get("capped") and len(array["values"]) <= MAX_VALUES


# -- clear errors -----------------------------------------------------------------------------


def report_error(capsys, *argv):
    code = main(["report", *argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return code, err


def test_report_errors_are_one_line_and_exit_2(results, tmp_path, capsys):
    out_file = tmp_path / "out.txt"
    out_file.write_text("not a directory")
    code, err = report_error(capsys, "--results", str(results), "--out", str(out_file))
    assert code == 2 and "is a file, not a directory" in err and out_file.read_text() == "not a directory"
    code, err = report_error(capsys, "--results", str(results), "--out", str(out_file / "sub"))
    assert code == 2 and "cannot create the report directory" in err
    blocked = tmp_path / "blocked"
    (blocked / "conformance.md").mkdir(parents=True)  # a file the report cannot write, even as root
    code, err = report_error(capsys, "--results", str(results), "--out", str(blocked))
    assert code == 2 and "cannot write" in err and "conformance.md" in err
    code, err = report_error(capsys, "--results", str(tmp_path / "missing"), "--out", str(tmp_path / "o"))
    assert code == 2 and "no results directory" in err
    code, err = report_error(capsys, "--results", str(out_file), "--out", str(tmp_path / "o"))
    assert code == 2 and "is a file, not a results directory" in err


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="root writes into read-only directories")
def test_an_unwritable_out_directory_is_a_clear_error(results, tmp_path, capsys):
    out = tmp_path / "readonly"
    out.mkdir()
    out.chmod(0o500)
    try:
        code, err = report_error(capsys, "--results", str(results), "--out", str(out))
    finally:
        out.chmod(0o700)
    assert code == 2 and "cannot write" in err


COMMITTED = Path(__file__).parents[1] / "reports" / "conformance.json"


def rewritten_committed(tmp_path) -> Path:
    """The committed report (a full run of every backend, whichever schema wrote it) written again by this status
    writer: its records as read back, with their tolerances' rules and reasons and families, and its environments
    as the runs (same report path as the committed one's repro commands)."""
    from nnspec.report.status import dumps, status_file

    committed = read_report_file(COMMITTED)
    records = [{**{f"tolerance_{k}": v for k, v in committed["tolerances"].get(f"{e['op']}/{e['check']}", {}).items()},
                **e, "family": committed["families"].get(e["op"])} for e in committed["records"]]
    report = {"runs": committed["environments"], "records": records, "defaults": committed["defaults"],
              "ops": list(committed["families"]), "dtypes": committed["dtypes"], "generated": None}
    status, _ = status_file(report, "reports/conformance.json", "results")
    path = tmp_path / "conformance.json"
    path.write_text(dumps(status), encoding="utf-8")
    return path


def test_a_full_runs_status_file_stays_under_its_byte_bound(tmp_path):
    """The committed report (a full run of every backend), written again by this status writer, fits MAX_BYTES:
    conformance.json is committed and diffed, and its bytes are mostly the failing entries' counterexamples."""
    from nnspec.report.status import MAX_BYTES

    committed = read_report_file(COMMITTED)
    assert len(committed["records"]) > 2000 and sum(1 for r in committed["records"] if r.get("counterexamples")) > 300
    path = rewritten_committed(tmp_path)
    size = path.stat().st_size
    print(f"the committed report rewritten: {size} bytes (bound {MAX_BYTES})")
    assert size <= MAX_BYTES  # the bound for a full run (the schema 2 writer made 962 kB of 66 ops, this one 712)
    # what replay needs is kept: every uncapped example decodes, the failing entries keep their messages
    from nnspec.conformance.engine import decode_example

    for e in read_report_file(path)["records"]:
        for example in e.get("counterexamples", []) if not e.get("counterexample_capped") else []:
            decode_example(example)
        assert e["status"] != "fail" or e.get("message")


def test_the_committed_report_and_its_rewrite_read_back_to_the_same_records(tmp_path):
    """read_report_file reads a status file of either schema (the committed one may be schema 2, which stated
    each entry's five fields, version and repro command) to the same records: what the writer leaves out, it
    puts back. Compared as the writer keeps an entry (``entry``), which normalises what schema 2 wrote longer
    (a 0 unsupported_examples, a null cotangent)."""
    from nnspec.report.status import entry

    old = read_report_file(COMMITTED)
    path = rewritten_committed(tmp_path)
    new = read_report_file(path)
    written = json.loads(path.read_text(encoding="utf-8"))
    validate(written)
    assert written["schema_version"] == 5 and '{"same_as":' in path.read_text(encoding="utf-8")  # shared examples
    assert [e["id"] for e in new["records"]] == [e["id"] for e in old["records"]]  # the same order, every id
    # (a message part over MAX_PART characters is capped: ``entry`` below compares them as the writer keeps them)
    fields = ("op", "backend", "device", "dtype", "check", "backend_version", "status", "repro", "tolerance")
    for a, b in zip(old["records"], new["records"]):
        if bool(a.get("counterexample_capped")) != bool(b.get("counterexample_capped")):
            # only a later kind's example was capped (the first replays from the report), or the first is capped
            # now (schema 4 caps arrays of over 16 values, 2 and 3 of over 64): the command says where it reads
            a = {**a, "repro": b["repro"]}
        assert {k: a.get(k) for k in fields} == {k: b.get(k) for k in fields}, a["id"]
        assert entry(a, "reports/conformance.json", "results") == entry(b, "reports/conformance.json", "results")
    assert sum(1 for e in new["records"] if e.get("repro")) > 300  # derived back, not lost
    assert new["environments"] == old["environments"] and new["defaults"] == old["defaults"]


def committed_results(tmp_path):
    """A results directory rebuilt from the committed reports/ (a full run of every backend): each run's
    environment, its entries as check lines, its default lines, a finished line; and its benchmarks."""
    from pathlib import Path

    root = Path(__file__).parents[1] / "reports"
    status = read_report_file(root / "conformance.json")  # its records in full, whichever schema wrote it
    runs = json.loads((root / "runs.json").read_text(encoding="utf-8"))
    environment_fields = ("run_id", "backend", "backend_ref", "backend_version", "device", "python", "platform",
                          "machine", "processor", "numpy", "numerics", "budget", "seed", "selection", "nnspec_version",
                          "started", "argv")
    for run in runs["runs"]:
        lines = [{"kind": "environment", **{k: run[k] for k in environment_fields if k in run}}]
        for e in status["records"]:
            if (e["backend"], e["device"]) == (run["backend"], run["device"]):
                stated = status["tolerances"].get(f"{e['op']}/{e['check']}", {})
                line = {"kind": "check", **{f"tolerance_{k}": v for k, v in stated.items()}, **e, "id": record_id(e),
                        "family": status["families"].get(e["op"]), "run_id": run["run_id"], **(e.get("non_finite") or {})}
                line.pop("non_finite", None)
                lines.append(line)
        lines += [{"kind": "default", **d, "run_id": run["run_id"]} for d in status["defaults"] if d["backend"] == run["backend"]]
        lines.append({"kind": "finished", "run_id": run["run_id"], "seconds": run.get("wall_s") or 1.0})
        write_jsonl(tmp_path / f"{run['backend']}-{run['device']}-full.jsonl", lines)
    return runs


def test_the_full_reports_page_fits_its_byte_bound(tmp_path):
    """index.html of a full run stays under 1.5 MB (it was 2 MB with a popup of markup per cell and a card per
    deviation written out in full): cells' popups are one JSON block, deviations grouped by cause."""
    runs = committed_results(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = merge(tmp_path)
    report["benchmarks"], report["bench_files"] = runs["benchmarks"], runs["bench_files"]
    assert len(report["records"]) > 2000
    html = render_html(report)
    assert len(html.encode()) <= 1_500_000
    groups = html.count('<details class="group')
    assert 0 < groups < sum(len(g) for g in cards_of(html)["groups"])  # some causes hold several records


def test_speed_rows_say_when_their_bytes_are_in_cache():
    from nnspec.report.bench import cache_bytes
    from nnspec.report.speed import cache_resident

    assert cache_bytes({"l3_cache_size": 33554432}) == 32 * MIB
    assert cache_bytes({"l3_cache_size": "32768 KB"}) == 32 * MIB and cache_bytes({"l2_cache_size": "1 MiB"}) == MIB
    assert cache_bytes({}) is None and cache_bytes({"l3_cache_size": "lots"}) is None
    small = {"device": "cpu", "bytes": 8000, "bandwidth_fraction": 0.5}
    assert cache_resident(small, 32 * MIB) == "in cache: 8 000 B fit in the 32 MiB cache"
    assert cache_resident({**small, "bytes": 64 * MIB}, 32 * MIB) == ""
    # no cache size named: only moving bytes faster than the run's memcpy gives it away
    assert cache_resident(small, None) == "" and cache_resident({**small, "bandwidth_fraction": 2.9}, None) == (
        "in cache: faster than memcpy")
    assert cache_resident({**small, "device": "cuda:0", "bandwidth_fraction": 2.9}, None) == ""


def test_short_hex_writes_whole_numbers_below_ten_as_their_digit_and_reads_back_exactly():
    from nnspec.report.status import short_hex

    cases = [(0.0, "0"), (-0.0, "-0"), (1.0, "1"), (-3.0, "-3"), (9.0, "9"), (10.0, "0x1.4p+3"), (0.5, "0x1p-1"),
             (1.5, "0x1.8p+0")]
    for number, text in cases:
        assert short_hex(float.hex(number)) == text
        back = float.fromhex(text)
        assert back == number and math.copysign(1, back) == math.copysign(1, number)  # -0 stays -0
    assert short_hex("inf") == "inf" and short_hex("nan") == "nan"
