"""Backend discovery: adapters register under the entry-point group ``nnspec.backends``.

The four built-in adapters are registered in nnspec's own pyproject.toml exactly as a
third-party package would register its own. ``load_backend`` also accepts a
``module:Class`` reference, so an adapter under development runs without installing.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from .base import DTYPES, Backend, Unsupported, composed

GROUP = "nnspec.backends"
__all__ = ["DTYPES", "Backend", "Unsupported", "composed", "available_backends", "load_backend", "BackendUnavailable"]


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
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailable(
            f"backend {name!r} needs a framework that is not installed here ({exc}); "
            f"install it with: pip install 'nnspec[{name}]'"
        ) from exc
    try:
        backend = getattr(module, class_name)()
    except Exception as exc:  # an adapter that crashes on construction is reported, not raised raw
        raise BackendUnavailable(f"backend {name!r} failed to start: {type(exc).__name__}: {exc}") from exc
    if not isinstance(backend, Backend):
        raise BackendUnavailable(f"{reference} is not an nnspec.backends.Backend")
    return backend
