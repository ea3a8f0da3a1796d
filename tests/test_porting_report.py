"""The porting view (reports/porting.md): settings to pass where defaults differ, silence where they agree,
variant differences, public API names; built from a synthetic results directory and from a real torch run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnspec.report import build_report
from nnspec.report.porting_view import public_name
from test_report import check, default, environment, write_jsonl


def make_results(root):
    envs = {b: environment(b, v, f"2024-06-01T12:0{i}:00+00:00") for i, (b, v) in
            enumerate((("numpy", "2.1.0"), ("torch", "2.3.0"), ("tensorflow", "2.16.0"), ("jax", "0.4.30")))}
    t, k, j = envs["torch"], envs["tensorflow"], envs["jax"]
    write_jsonl(root / "numpy-cpu.jsonl", [envs["numpy"], check(envs["numpy"], "gelu", "float32", "forward", "pass")])
    write_jsonl(root / "torch-cpu.jsonl", [
        t, check(t, "gelu", "float32", "forward", "pass"), check(t, "leaky_relu", "float32", "forward", "pass"),
        default(t, "leaky_relu", "alpha", 0.01, 0.01, "torch.nn.functional.leaky_relu(negative_slope=...)"),
        default(t, "gelu", "approximate", "none", "none", "torch.nn.functional.gelu(approximate=...)"),
        default(t, "elu", "alpha", 1.0, 1.0, "torch.nn.functional.elu(alpha=...)"),
    ])
    write_jsonl(root / "tensorflow-cpu.jsonl", [
        k, check(k, "gelu", "float32", "forward", "pass"),
        check(k, "leaky_relu", "float32", "forward", "fail", matches_variant="leaky_relu(subnormals='flush')"),
        default(k, "leaky_relu", "alpha", 0.01, 0.2, "keras.src.activations.activations.leaky_relu(negative_slope=...)"),
        default(k, "gelu", "approximate", "none", "none", "keras.src.activations.activations.gelu(approximate=...)"),
        default(k, "elu", "alpha", 1.0, 1.0, "keras.src.activations.activations.elu(alpha=...)"),
    ])
    write_jsonl(root / "jax-cpu.jsonl", [
        j, check(j, "gelu", "float32", "forward", "fail", matches_variant="gelu(approximate='tanh')"),
        default(j, "gelu", "approximate", "none", "tanh", "jax._src.nn.functions.gelu(approximate=...)"),
    ])


@pytest.fixture(scope="module")
def porting(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    make_results(root)
    out = tmp_path_factory.mktemp("reports")
    build_report(root, out)
    return (out / "porting.md").read_text(encoding="utf-8"), out


def section(md, title):
    return md.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_setting_to_pass_where_defaults_differ_in_public_names(porting):
    md, _ = porting
    keras = section(md, "PyTorch → Keras")
    assert "`keras.activations.leaky_relu(..., negative_slope=0.01)`" in keras
    assert "keras.src" not in md and "jax._src" not in md
    assert "`jax.nn.gelu(..., approximate=False)`" in section(md, "PyTorch → flax/JAX/optax")


def test_nothing_where_defaults_agree(porting):
    md, _ = porting
    assert "elu(..., alpha" not in md
    assert "gelu" not in section(md, "PyTorch → Keras").split("### Still differs")[0]


def test_a_variant_difference_is_listed(porting):
    md, _ = porting
    still = section(md, "PyTorch → Keras").split("### Still differs with no setting", 1)[1]
    assert "| leaky_relu | activations | passes | leaky_relu(subnormals='flush') |" in still
    assert "gelu(approximate='tanh')" in section(md, "Keras → flax/JAX/optax").split("### Still differs", 1)[1]


def test_glossary_and_guides_and_html_link(porting):
    md, out = porting
    glossary = section(md, "Glossary of variants")
    assert "| subnormals | 'flush' |" in glossary and "| approximate | 'tanh' |" in glossary
    assert "docs/porting-recurrent.md" in md
    assert 'href="porting.md"' in (out / "index.html").read_text(encoding="utf-8")
    assert len(md.encode()) < 200_000


def test_public_name_resolves_the_same_object_or_drops_private_segments():
    assert public_name("torch.nn.modules.linear.Linear.__init__") == "torch.nn.Linear"
    assert public_name("nosuchpkg.src.layers.layers.Dense") == "nosuchpkg.layers.Dense"


@pytest.mark.timeout(300)
def test_a_real_torch_activations_run(tmp_path):
    nnspec = Path(sys.executable).with_name("nnspec")
    if not nnspec.exists():
        pytest.skip("the nnspec script is not installed next to this Python")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    for backend in ("numpy", "torch", "tensorflow"):
        subprocess.run([str(nnspec), "run", "--backend", backend, "--family", "activations", "--op", "leaky_relu",
                        "--budget", "quick", "--seed", "0", "--results", str(tmp_path / "r")], check=True, env=env,
                       capture_output=True)
    build_report(tmp_path / "r", tmp_path / "out")
    md = (tmp_path / "out" / "porting.md").read_text(encoding="utf-8")
    assert "`keras.activations.leaky_relu(..., negative_slope=0.01)`" in md


def test_a_callable_defined_in_c_gets_its_public_namespace():
    assert public_name("torch._C._nn.gelu") == "torch.nn.functional.gelu"
