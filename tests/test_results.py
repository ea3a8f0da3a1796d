"""The results store: append-only files, one write per call, and reading that survives any bad line."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import warnings

import pytest

from nnspec.conformance import results
from nnspec.conformance.results import (
    STATUSES,
    ResultsWriter,
    read_lines,
    read_results,
    read_runs,
    run_path,
    safe_name,
)


def env(run_id, started, backend="torch", device="cpu", **fields):
    return {"kind": "environment", "run_id": run_id, "started": started, "backend": backend, "device": device, **fields}


def check(run_id, op="relu", dtype="float32", name="forward", status="pass", **fields):
    record = {"kind": "check", "id": f"torch/cpu/{dtype}/{op}/{name}", "op": op, "backend": "torch", "device": "cpu",
              "dtype": dtype, "check": name, "status": status, "max_ulp": 0, "run_id": run_id}
    record.update(fields)
    return record


def line(record) -> bytes:
    return (json.dumps(record) + "\n").encode()


def read_with_warnings(function, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = function(*args)
        value = list(value) if not isinstance(value, list) else value
    return value, [str(w.message) for w in caught]


# -- names ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, safe", [
    ("torch", "torch"),
    ("tests.wrong_adapters:WrongSlope", "tests.wrong_adapters_WrongSlope"),
    ("../../etc/passwd", "______etc_passwd"),
    ("a/b\\c d", "a_b_c_d"),
    (".hidden", "_hidden"),
    ("cuda:0", "cuda_0"),
    ("x..y", "x__y"),
    ("", "_"),
    ("nnspec+cuda-12.1_x", "nnspec+cuda-12.1_x"),
])
def test_safe_name(name, safe):
    assert safe_name(name) == safe
    assert re.fullmatch(r"[A-Za-z0-9._+-]+", safe_name(name)) and ".." not in safe_name(name)


def test_run_path_stays_in_the_results_directory(tmp_path):
    path = run_path(tmp_path, "../evil/x:Y", "cuda:0", "ab12")
    assert path.parent == tmp_path and path.name == "___evil_x_Y-cuda_0-ab12.jsonl"
    assert results.results_path(tmp_path, "torch", "cpu") == tmp_path / "torch-cpu.jsonl"  # deprecated, still there


def test_statuses_name_timeout_and_crashed():
    assert {"pass", "fail", "error", "timeout", "crashed", "unsupported", "skip"} == set(STATUSES)
    assert results.NOT_RUN not in STATUSES  # only the report says "not run"


# -- writing -------------------------------------------------------------------------


def test_appending_never_truncates(tmp_path):
    path = tmp_path / "r.jsonl"
    with ResultsWriter(path) as writer:
        writer.write(env("a", "2024-01-01T00:00:00+00:00"))
    with ResultsWriter(path) as writer:  # a second writer (a resumed run) appends
        writer.write(check("a"))
    with ResultsWriter(path) as writer:  # opening alone changes nothing
        pass
    assert [r["kind"] for r in read_lines(path)] == ["environment", "check"]


def test_a_line_cut_by_a_killed_process_is_ended_before_the_next_record(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(line(env("a", "2024-01-01T00:00:00+00:00")) + b'{"kind": "check", "id": "torch/cpu/fl')
    with ResultsWriter(path) as writer:
        writer.write(check("a"))
        with open(path, "ab") as other:  # another process dies mid-line while this writer is open
            other.write(b'{"kind": "check", "op": "gel')
        writer.write_many([check("a", op="gelu"), check("a", op="tanh")])
    lines, caught = read_with_warnings(read_lines, path)
    assert [(r["kind"], r.get("op")) for r in lines] == [
        ("environment", None), ("check", "relu"), ("check", "gelu"), ("check", "tanh")]
    assert len(caught) == 2 and all("truncated" in w for w in caught)
    assert [int(w.split(":")[1]) for w in caught] == [2, 4]
    assert b"\n\n" not in path.read_bytes()  # the repair adds a newline only where one is missing


def test_write_many_is_one_write_call_then_fsync(tmp_path, monkeypatch):
    calls = []
    real_write, real_fsync = os.write, os.fsync
    monkeypatch.setattr(results.os, "write", lambda fd, data: calls.append(("write", bytes(data))) or real_write(fd, data))
    monkeypatch.setattr(results.os, "fsync", lambda fd: calls.append(("fsync", None)) or real_fsync(fd))
    path = tmp_path / "r.jsonl"
    with ResultsWriter(path) as writer:
        writer.write_many([check("a", op=op) for op in ("relu", "gelu", "tanh")])
        writer.write(check("a", op="elu"))
    assert [c[0] for c in calls] == ["write", "fsync", "write", "fsync"]
    assert calls[0][1].count(b"\n") == 3 and calls[2][1].count(b"\n") == 1


def test_records_are_strict_ascii_json_with_non_finite_numbers_as_strings(tmp_path):
    path = tmp_path / "r.jsonl"
    with ResultsWriter(path) as writer:
        writer.write(check("a", max_ulp=float("inf"), max_abs=float("nan"), message="ünïcode\nand a newline"))
    data = path.read_bytes()
    assert data.isascii() and data.count(b"\n") == 1 and b"NaN" not in data and b"Infinity" not in data
    (record,) = read_lines(path)
    assert record["max_ulp"] == "inf" and record["max_abs"] == "nan" and record["message"] == "ünïcode\nand a newline"


def _append(path, worker, count):
    with ResultsWriter(path) as writer:
        for index in range(count):
            writer.write_many([check(f"w{worker}", op=f"op{index}", message="x" * 3000)] * 2)


def test_processes_appending_to_one_file_never_interleave_inside_a_line(tmp_path):
    path = tmp_path / "r.jsonl"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append, args=(path, worker, 50)) for worker in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
    lines, caught = read_with_warnings(read_lines, path)
    assert caught == [] and len(lines) == 4 * 50 * 2


# -- reading -------------------------------------------------------------------------

GOOD_BEFORE, GOOD_AFTER = check("a", op="relu"), check("a", op="gelu")
BAD_LINES = {  # each a line a results file can hold, and what its warning says
    "truncated": (b'{"kind": "check", "id": "torch/cpu/float32/tanh/forward", "op": "tanh", "sta', "truncated"),
    "garbage": (b"\x1b[31mTraceback (most recent call last):", "truncated or corrupt"),
    "invalid utf-8": (line(check("a", op="elu"))[:-1].replace(b"elu", b"el\xff"), "not valid UTF-8"),
    "nul bytes": (b"\x00" * 64, "NUL bytes"),
    "array": (b'[{"kind": "check"}]', "not a JSON object (a list)"),
    "number": (b"42", "not a JSON object (a int)"),
    "unknown kind": (line({"kind": "checkpoint", "run_id": "a"})[:-1], "unknown kind 'checkpoint'"),
    "no kind": (line({"run_id": "a", "op": "relu"})[:-1], "without a kind"),
    "status of the wrong type": (line(check("a", status=3))[:-1], "status is 3"),
    "unknown status": (line(check("a", status="passed"))[:-1], "status is 'passed'"),
    "op of the wrong type": (line(check("a", op=["relu"]))[:-1], "'op' is ['relu'], not a string"),
    "missing id": (line({k: v for k, v in check("a").items() if k != "id"})[:-1], "without 'id'"),
    "max_ulp of the wrong type": (line(check("a", max_ulp="huge"))[:-1], "max_ulp is 'huge'"),
    "max_ulp a boolean": (line(check("a", max_ulp=True))[:-1], "max_ulp is True"),
    "environment without started": (line({"kind": "environment", "run_id": "b", "backend": "x", "device": "cpu"})[:-1],
                                    "without 'started'"),
    "selection not an object": (line(env("b", "2024-01-01", selection="all"))[:-1], "'selection' is 'all'"),
}


@pytest.mark.parametrize("name", BAD_LINES)
def test_each_bad_line_is_skipped_with_one_warning_naming_file_and_line(tmp_path, name):
    bad, why = BAD_LINES[name]
    path = tmp_path / "torch-cpu-a.jsonl"
    path.write_bytes(line(env("a", "2024-01-01T00:00:00+00:00")) + line(GOOD_BEFORE) + bad + b"\n" + line(GOOD_AFTER))
    lines, caught = read_with_warnings(read_lines, path)
    assert [r.get("op") for r in lines] == [None, "relu", "gelu"]  # the good lines around it survive
    assert len(caught) == 1, caught
    assert caught[0].startswith(f"{path}:3: skipped ") and why in caught[0], caught[0]


def test_the_values_a_check_record_may_hold(tmp_path):
    path = tmp_path / "r.jsonl"
    good = [check("a", max_ulp=value) for value in (None, 0, 3, 2.5, "inf", "nan")] + [
        check("a", status=status) for status in STATUSES]
    path.write_bytes(b"".join(line(r) for r in good) + line({k: v for k, v in check("a").items() if k != "max_ulp"}))
    lines, caught = read_with_warnings(read_lines, path)
    assert caught == [] and len(lines) == len(good) + 1


def test_an_empty_file_is_named_in_a_warning(tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "blank.jsonl").write_bytes(b"\n\n  \n")
    (tmp_path / "good.jsonl").write_bytes(line(env("a", "2024-01-01")) + line(check("a")))
    lines, caught = read_with_warnings(read_results, tmp_path)
    assert [r["kind"] for r in lines] == ["environment", "check"]
    assert sorted(caught) == [f"{tmp_path / 'blank.jsonl'}: skipped an empty results file (no lines)",
                              f"{tmp_path / 'empty.jsonl'}: skipped an empty results file (no lines)"]


def test_a_missing_directory_or_a_file_in_its_place_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results directory"):
        read_results(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError, match="is a file, not a results directory"):
        read_results(tmp_path / "file")


def test_runs_come_oldest_first_by_started_then_file_name(tmp_path):
    # file names in the opposite order of the start times; one old-style file holds two runs
    (tmp_path / "a-newest.jsonl").write_bytes(line(env("n", "2024-03-01T00:00:00+00:00")) + line(check("n")))
    (tmp_path / "torch-cpu.jsonl").write_bytes(
        line(env("o2", "2024-02-01T00:00:00+00:00")) + line(check("o2"))
        + line(env("o1", "2024-01-01T00:00:00+00:00")) + line(check("o1")))
    (tmp_path / "b-same-time.jsonl").write_bytes(line(env("s", "2024-03-01T01:00:00+01:00")) + line(check("s")))
    runs = read_runs(tmp_path)
    assert [r.run_id for r in runs] == ["o1", "o2", "n", "s"]  # 01:00+01:00 is the same instant as "n": file name decides
    assert [l["run_id"] for l in read_results(tmp_path)] == ["o1", "o1", "o2", "o2", "n", "n", "s", "s"]
    assert runs[0].path.name == "torch-cpu.jsonl" and runs[0].environment["started"].startswith("2024-01")


def test_lines_without_a_run_id_belong_to_the_run_above_them(tmp_path):
    record = check("x")
    del record["run_id"]
    (tmp_path / "old-cpu.jsonl").write_bytes(line(env("a", "2024-01-01")) + line(record)
                                             + line({"kind": "resumed", "run_id": "a", "started": "2024-01-02"})
                                             + line(record))
    (tmp_path / "lost-cpu.jsonl").write_bytes(line(record))  # its environment line is gone
    runs = {r.run_id: r for r in read_runs(tmp_path)}
    assert sorted(runs) == ["a", "lost-cpu"]
    assert [l["kind"] for l in runs["a"].lines] == ["environment", "check", "resumed", "check"]
    assert runs["lost-cpu"].environment is None and runs["lost-cpu"].started is None


def test_a_missing_file_is_an_error_and_an_unreadable_one_a_warning(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results file"):
        list(read_lines(tmp_path / "missing.jsonl"))
    (tmp_path / "odd.jsonl").mkdir()  # a directory named like a results file
    (tmp_path / "good.jsonl").write_bytes(line(env("a", "2024-01-01")))
    lines, caught = read_with_warnings(read_results, tmp_path)
    assert [r["run_id"] for r in lines] == ["a"] and len(caught) == 1 and "odd.jsonl: skipped" in caught[0]


def test_a_schema_3_report_reads_back_in_full(tmp_path):
    """read_report_file puts back what a schema 3 entry leaves out: the five fields its id names, its
    environment's version, the standard repro command, a shared counterexample; a stated null says none."""
    from nnspec.conformance.results import read_report_file

    example = {"inputs": [{"dtype": "float64", "shape": [1], "values": ["0x1p+0"]}]}
    status = {"schema_version": 3, "environments": [{"backend": "torch", "device": "cpu", "backend_version": "2.4.0"}],
              "repro_sources": {"report": "reports/conformance.json"},
              "records": [{"id": "torch/cpu/float64/gelu/forward", "status": "fail", "counterexamples": [example]},
                          {"id": "torch/cpu/float32/gelu/forward", "status": "fail", "backend_version": None,
                           "repro": None, "counterexamples": [{"same_as": "torch/cpu/float64/gelu/forward#0"}]},
                          {"id": "torch/cpu/float32/relu/property/monotonic", "op": "relu", "backend": "torch",
                           "device": "cpu", "dtype": "float32", "check": "property", "status": "pass"}],
              "defaults": [{"op": "gelu", "parameter": "approximate", "backend": "torch", "device": "cpu"}]}
    path = tmp_path / "conformance.json"
    path.write_text(json.dumps(status), encoding="utf-8")
    first, second, third = read_report_file(path)["records"]
    assert (first["op"], first["backend"], first["device"], first["dtype"], first["check"]) == (
        "gelu", "torch", "cpu", "float64", "forward")
    assert first["backend_version"] == "2.4.0"
    assert first["repro"] == "nnspec repro torch/cpu/float64/gelu/forward --report reports/conformance.json"
    assert second["counterexamples"] == [example] and "backend_version" not in second and "repro" not in second
    assert third["check"] == "property" and third["backend_version"] == "2.4.0"
    assert read_report_file(path)["defaults"][0]["backend_version"] == "2.4.0"
    # schema 2 stated every field: an entry that lacks one is not filled from its id
    path.write_text(json.dumps({**status, "schema_version": 2}), encoding="utf-8")
    assert "op" not in read_report_file(path)["records"][0]
