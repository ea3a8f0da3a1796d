"""nnspec diff: new deviations, fixed ones, changed variants and defaults between two reports."""

from __future__ import annotations

import json

from nnspec.cli import main
from nnspec.report.diff import diff, to_markdown


def _entry(op, status, variant=None, backend="torch", dtype="float32", check="forward", **more):
    return {"id": f"{backend}/cpu/{dtype}/{op}/{check}", "op": op, "backend": backend, "device": "cpu",
            "dtype": dtype, "check": check, "status": status, "matches_variant": variant, **more}


def _status(entries, version="2.12.0", defaults=()):
    return {"records": entries, "environments": [{"backend": "torch", "device": "cpu", "backend_version": version}],
            "defaults": list(defaults)}


OLD = _status([
    _entry("gelu", "pass"),
    _entry("softmax", "fail", "softmax(subnormals='flush')", max_ulp=3.0),
    _entry("elu", "fail", "elu(kink='right')"),
    _entry("tanh", "unsupported"),
    _entry("relu", "pass"),
    _entry("selu", "not run"),
    _entry("swish", "pass", max_ulp=1.0),
    _entry("softplus", "pass", max_ulp=1.2345678),  # rounded to 4 digits in a newer report: no change
], defaults=[{"backend": "torch", "device": "cpu", "op": "huber", "parameter": "delta", "native_default": 1.0}])
NEW = _status([
    _entry("gelu", "fail", max_ulp=40.0, message="40 ULP (bound 4)"),
    _entry("softmax", "pass"),
    _entry("elu", "fail", None),
    _entry("tanh", "pass"),
    _entry("relu", "pass"),
    _entry("selu", "fail"),  # not run before: new
    _entry("sigmoid", "pass"),  # only in the new report
    _entry("swish", "pass", max_ulp=2.5),
    _entry("softplus", "pass", max_ulp=1.235),
], version="2.13.0",
    defaults=[{"backend": "torch", "device": "cpu", "op": "huber", "parameter": "delta", "native_default": 0.5}])


def test_each_kind_of_change_lands_in_its_section():
    d = diff(OLD, NEW)
    ids = lambda rows: [rid.split("/")[3] for rid, *_ in rows]  # noqa: E731
    assert ids(d.new_deviations) == ["gelu", "selu"]
    assert ids(d.fixed) == ["softmax"]
    assert ids(d.variant) == ["elu"]
    assert ids(d.status) == ["tanh"]
    assert ids(d.error) == ["swish"]
    assert [k[2:] for k, *_ in d.defaults] == [("huber", "delta")]
    assert d.versions == {"torch": ("2.12.0", "2.13.0")}
    assert d.only_new == 1 and d.only_old == 0


def test_identical_reports_have_nothing_to_say():
    d = diff(OLD, OLD)
    assert d.empty
    assert "Nothing changed" in to_markdown(d)


def test_markdown_names_what_changed():
    text = to_markdown(diff(OLD, NEW, "old", "new"))
    assert "2 new deviations, 1 fixed, 1 changed variants" in text
    assert "`torch/cpu/float32/gelu/forward` | pass | fail, 40 ULP | 40 ULP (bound 4) |" in text
    assert "| torch | huber | delta | `1.0` | `0.5` |" in text
    assert "2.13.0 (changed)" in text


def test_cli_fails_on_new_deviations_and_appends_a_summary(tmp_path, capsys):
    old, new, summary = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "summary.md"
    old.write_text(json.dumps(OLD))
    new.write_text(json.dumps(NEW))
    assert main(["diff", str(old), str(new), "--fail-on", "new", "--out", str(summary)]) == 1
    assert main(["diff", str(old), str(old), "--fail-on", "any"]) == 0
    assert main(["diff", str(new), str(new), "--fail-on", "new"]) == 0
    assert "new deviations" in summary.read_text()


def test_a_missing_or_broken_report_is_one_line_and_exit_2(tmp_path, capsys):
    broken = tmp_path / "conformance.json"
    broken.write_text("{not json")
    assert main(["diff", str(tmp_path / "missing"), str(broken)]) == 2
    assert main(["diff", str(broken), str(broken)]) == 2
    assert "not a conformance.json report" in capsys.readouterr().err


def test_the_committed_report_against_its_schema_3_rewrite_has_nothing_to_say(tmp_path):
    """`nnspec diff reports/conformance.json NEW` in CI compares the committed file (possibly schema 2) with one
    this writer wrote (schema 3): the same content reads back the same, so nothing changed."""
    from test_report import COMMITTED, rewritten_committed

    from nnspec.report.diff import load_status

    result = diff(load_status(COMMITTED), load_status(rewritten_committed(tmp_path)))
    assert result.empty and not result.only_old and not result.only_new
    assert result.versions and all(old == new for old, new in result.versions.values())
