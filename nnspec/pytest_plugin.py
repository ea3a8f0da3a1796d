"""nnspec's pytest11 entry point: a framework's own test suite runs the conformance of its backend.

    pytest --nnspec-backend mypkg.adapter:MyBackend --nnspec-family activations \
           [--nnspec-budget quick] [--nnspec-allow reviewed-deviations.txt]

adds nnspec's conformance cases (``conformance/suite.py``, one item per op, check and dtype) to
the session, through the same plugin ``nnspec run`` uses (``conformance/plugin.py``): every record
goes to ``--nnspec-results`` as in a run, a deviation fails its item unless ``--nnspec-allow`` lists
it (then it is an xfail, still recorded). Without ``--nnspec-backend`` this module adds the options
and nothing else: it imports nothing heavy, registers no hook that does work, collects nothing.

It stands aside where another nnspec plugin owns the ``--nnspec-*`` options: ``nnspec run`` (which
loads ``nnspec.conformance.plugin`` itself, with ``-p``) and the benchmarks (``nnspec.benchmarks.plugin``).
The entry point is named after this module, so ``-p nnspec.pytest_plugin`` loads it where nnspec is
not installed, and is a no-op where it is.
"""

from __future__ import annotations

from pathlib import Path

CONFORMANCE = "nnspec.conformance.plugin"
BENCHMARKS = "nnspec.benchmarks.plugin"
SUITE = Path(__file__).parent / "conformance" / "suite.py"


def _other_owner(pluginmanager) -> bool:
    return any(pluginmanager.has_plugin(name) for name in (CONFORMANCE, BENCHMARKS))


def pytest_addoption(parser, pluginmanager):
    if _other_owner(pluginmanager):
        return
    from .conformance.options import add_options

    add_options(parser)


def pytest_configure(config):
    if _other_owner(config.pluginmanager) or not config.getoption("--nnspec-backend", default=None):
        return
    import importlib

    config.pluginmanager.register(importlib.import_module(CONFORMANCE), CONFORMANCE)  # its configure runs now
    if not any(Path(arg.split("::")[0]).resolve() == SUITE.resolve() for arg in config.args if Path(
            arg.split("::")[0]).exists()):
        config.args.append(str(SUITE))
