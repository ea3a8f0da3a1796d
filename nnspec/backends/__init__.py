"""Backend discovery: adapters register under the entry-point group ``nnspec.backends``.

The four built-in adapters are registered in nnspec's own pyproject.toml exactly as a
third-party package would register its own. ``load_backend`` also accepts a
``module:Class`` reference, so an adapter under development runs without installing.
"""

from __future__ import annotations

import importlib
import os
import sys
from importlib.metadata import entry_points

from .base import DTYPES, Backend, Unsupported, composed, unsupported

GROUP = "nnspec.backends"
EXTRAS = ("torch", "tensorflow", "jax", "sklearn")  # the backends nnspec's own extras install: pip install 'nnspec[torch]'
__all__ = ["DTYPES", "Backend", "Unsupported", "composed", "unsupported", "available_backends", "load_backend", "BackendUnavailable"]


class BackendUnavailable(Exception):
    """The backend is unknown, or its framework is not installed, or its adapter fails to load."""


def available_backends() -> dict[str, str]:
    """Registered backend names -> ``module:Class`` references (nothing is imported)."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def load_backend(name: str) -> Backend:
    registered = available_backends()
    reference = registered.get(name, name if ":" in name else None)
    if reference is None:
        known = ", ".join(sorted(registered)) or "none"
        raise BackendUnavailable(f"unknown backend {name!r}; registered: {known} (or pass module:Class)")
    module_name, _, class_name = reference.partition(":")
    if not module_name or not class_name:
        raise BackendUnavailable(f"backend reference {reference!r} is not of the form module:Class")
    module = _import_adapter(name, module_name, registered.get(name) is not None)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise BackendUnavailable(f"adapter module {module_name!r} has no class {class_name!r}")
    if isinstance(cls, type) and not issubclass(cls, Backend) or not callable(cls):
        raise BackendUnavailable(f"{reference} is not a subclass of nnspec.backends.Backend")
    try:
        backend = cls()  # a class, or a factory of one (tests build variants of an adapter that way)
    except Exception as exc:  # an adapter that crashes on construction is reported, not raised raw
        raise BackendUnavailable(f"backend {name!r} failed to start: {type(exc).__name__}: {exc}") from exc
    if not isinstance(backend, Backend):
        raise BackendUnavailable(f"{reference} is not an nnspec.backends.Backend")
    return backend


def _import_adapter(name: str, module_name: str, registered: bool):
    """The adapter's module, or one line saying why not: a missing framework, a missing module, a broken one.

    An unregistered ``module:Class`` is looked for from the current directory too, as ``python -m``
    would: ``nnspec run --backend tests.broken_adapters:Hangs`` works from a checkout's root.
    """
    if not registered and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        inside = module_name == missing or module_name.startswith(missing + ".")
        if inside and not registered:
            raise BackendUnavailable(
                f"no module named {missing!r} (for {name!r}): is the adapter's directory on PYTHONPATH, "
                f"or its package installed?"
            ) from None
        hint = f"; install it with: pip install 'nnspec[{name}]'" if name in EXTRAS else ""
        raise BackendUnavailable(f"backend {name!r} needs {missing!r}, which is not installed here{hint}") from None
    except SyntaxError as exc:
        raise BackendUnavailable(
            f"adapter module {module_name!r} has a syntax error: {exc.filename}:{exc.lineno}: {exc.msg}"
        ) from None
    except Exception as exc:  # whatever an adapter raises at import is its own bug, said in one line
        raise BackendUnavailable(f"adapter module {module_name!r} failed at import: {type(exc).__name__}: {exc}") from None
