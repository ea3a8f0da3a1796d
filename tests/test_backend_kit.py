"""The backend author's kit: `nnspec new-backend` writes a package that keeps the contract and runs;
`nnspec check-adapter` passes the built-in adapters and names each way tests/wrong_kit_adapters.py
breaks the contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nnspec.backends import load_backend
from nnspec.cli import main
from nnspec.kit.contract import check

import wrong_kit_adapters

ROOT = Path(__file__).resolve().parents[1]
NNSPEC = [sys.executable, "-m", "nnspec.cli"]


def nnspec(*args, pythonpath, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pythonpath), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    return subprocess.run([*NNSPEC, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory):
    target = tmp_path_factory.mktemp("kit") / "nnspec-demo"
    assert main(["new-backend", "demo", "--dir", str(target)]) == 0
    return target


def test_the_scaffold_is_an_installable_package_with_its_entry_point(scaffold):
    pyproject = (scaffold / "pyproject.toml").read_text()
    assert '[project.entry-points."nnspec.backends"]' in pyproject
    assert 'demo = "nnspec_demo.adapter:DemoBackend"' in pyproject
    adapter = (scaffold / "nnspec_demo" / "adapter.py").read_text()
    assert "class DemoBackend(Backend):" in adapter and "TODO" in adapter
    assert '"gelu": NOT_WRITTEN,  # gelu(x, approximate)' in adapter  # every op declared, its signature shown
    compile(adapter, "adapter.py", "exec")


def test_new_backend_never_overwrites(scaffold, capsys):
    before = (scaffold / "pyproject.toml").read_text()
    assert main(["new-backend", "demo", "--dir", str(scaffold)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (scaffold / "pyproject.toml").read_text() == before


def test_a_bad_name_is_refused(tmp_path, capsys):
    assert main(["new-backend", "My Backend", "--dir", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def test_the_scaffold_keeps_the_contract_and_its_own_test_passes(scaffold):
    done = nnspec("check-adapter", "nnspec_demo.adapter:DemoBackend", pythonpath=scaffold, cwd=scaffold)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "keeps the contract" in done.stdout
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(scaffold), str(ROOT)])}  # this checkout's nnspec
    test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=scaffold,
                          env=env, capture_output=True, text=True, timeout=300)
    assert test.returncode == 0, test.stdout + test.stderr


def test_the_scaffold_runs_every_op_unsupported_in_seconds(scaffold, tmp_path):
    started = time.perf_counter()
    done = nnspec("run", "--backend", "nnspec_demo.adapter:DemoBackend", "--family", "activations", "--budget",
                  "quick", "--seed", "0", "--results", str(tmp_path), pythonpath=scaffold, cwd=scaffold)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    records = [json.loads(line) for f in tmp_path.glob("*.jsonl") for line in f.read_text().splitlines()]
    records = [r for r in records if "status" in r and "check" in r]
    statuses = {r["status"] for r in records}
    assert "unsupported" in statuses and statuses <= {"unsupported", "skip"}, statuses  # skip: no native default
    assert all(not r.get("examples") for r in records)  # declared up front: no example drawn
    values = [r for r in records if r["check"] in ("forward", "gradient", "property")]
    assert values and {r["message"] for r in values} == {"not written yet in nnspec_demo/adapter.py"}
    assert seconds < 60, seconds


# What the frameworks themselves cannot do, found by the check and reported as the framework's (not the adapter's):
# torch's one rotary op, torch.onnx.ops.rotary_embedding, has no autograd formula.
FRAMEWORK_PROBLEMS = {"numpy": [], "torch": ["your framework: the VJP of rotary_embedding raised RuntimeError: "
                                             "Trying to backward through onnx.RotaryEmbedding"]}


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_the_built_in_adapters_keep_the_contract(backend):
    pytest.importorskip(backend)
    problems = check(load_backend(backend))
    known = FRAMEWORK_PROBLEMS[backend]
    assert len(problems) == len(known) and all(p.startswith(k) for p, k in zip(problems, known)), problems


@pytest.mark.parametrize("name", sorted(wrong_kit_adapters.PROBLEM))
def test_each_wrong_adapter_is_named_with_its_problem(name, capsys):
    family = "layers" if name == "TransposedWeights" else "activations"  # the family of the broken op, for speed
    code = main(["check-adapter", f"wrong_kit_adapters:{name}", "--family", family])
    out = capsys.readouterr().out
    assert code == 1
    assert wrong_kit_adapters.PROBLEM[name] in out, out
    lines = out.strip().splitlines()
    assert all(line.startswith(("your adapter: ", "your framework: ")) for line in lines), out
