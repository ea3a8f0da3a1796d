"""``nnspec new-backend NAME``: an installable adapter package in which every op starts unsupported.

The package is rendered from the Jinja2 templates in ``templates/`` (package data):

    nnspec-NAME/
      pyproject.toml              entry point  [project.entry-points."nnspec.backends"] NAME = "nnspec_NAME.adapter:Class"
      README.md
      nnspec_NAME/__init__.py
      nnspec_NAME/adapter.py      Backend subclass: tensor plumbing stubs (TODOs), no ops, and every op
                                  declared unsupported in UNSUPPORTED, one line each with its signature
      tests/test_contract.py      the contract check, passing as generated

The engine consults ``UNSUPPORTED`` before it draws an example, so a run of the generated
adapter records each case `unsupported` ("not written yet") without a search.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).parent / "templates"
FILES = {  # template -> path in the package, formatted with the names
    "pyproject.toml.j2": "pyproject.toml",
    "README.md.j2": "README.md",
    "package/__init__.py.j2": "{package}/__init__.py",
    "package/adapter.py.j2": "{package}/adapter.py",
    "tests/test_contract.py.j2": "tests/test_contract.py",
}


class ScaffoldError(ValueError):
    """The name is not usable, or the target exists (the CLI exits 2)."""


def names(name: str) -> dict[str, str]:
    """Backend ``name`` -> distribution, package and class names: ``my-fw`` -> nnspec-my-fw, nnspec_my_fw, MyFwBackend."""
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
        raise ScaffoldError(f"backend name {name!r}: use lowercase letters, digits, '-' and '_', starting with a letter")
    ident = name.replace("-", "_")
    package = f"nnspec_{ident}"
    cls = "".join(part.capitalize() for part in ident.split("_")) + "Backend"
    assert package.isidentifier() and not keyword.iskeyword(package)
    return {"name": name, "dist": f"nnspec-{name}", "package": package, "cls": cls}


def op_signatures() -> list[tuple[str, list[tuple[str, str]]]]:
    """(family, [(op, "op(inputs..., parameters...)"), ...]) for every op of the catalogue, in catalogue order."""
    from ..backends.binding import adapter_parameters
    from ..conformance.catalogue import select

    families: dict[str, list[str]] = {}
    for entry in select():
        if entry.family == "models":  # built through model_forward / model_train, not one method per model
            continue
        parameters = ", ".join(p.name for p in adapter_parameters(entry.op))
        families.setdefault(entry.family, []).append((entry.op, f"{entry.op}({parameters})"))
    return list(families.items())


def render(name: str) -> dict[str, str]:
    """Relative path -> text of every file of the package."""
    context = names(name)
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True,
                                     keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    context["families"] = op_signatures()
    return {path.format(**context): environment.get_template(template).render(**context)
            for template, path in FILES.items()}


def new_backend(name: str, directory: str | Path | None = None) -> Path:
    """Writes the package into ``directory`` (default ``./nnspec-NAME``), which must not exist yet."""
    files = render(name)
    target = Path(directory) if directory is not None else Path(names(name)["dist"])
    if target.exists():
        raise ScaffoldError(f"{target} already exists; nnspec new-backend never overwrites (choose another --dir)")
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
