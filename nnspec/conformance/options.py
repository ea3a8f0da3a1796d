"""The conformance run's ``--nnspec-*`` pytest options, added once by whichever plugin is loaded first.

Kept free of nnspec's heavy imports (numpy, hypothesis, the catalogue): the pytest11 entry point
(``nnspec.pytest_plugin``) adds them in every pytest session where nnspec is installed.
"""

from __future__ import annotations

DTYPE_NAMES = ("float64", "float32", "float16", "bfloat16")  # backends.DTYPES' keys (tests/test_pytest_plugin.py)
BUDGET_NAMES = ("quick", "standard", "thorough")  # search.BUDGETS' keys


def added(parser) -> bool:
    """Whether a plugin has already added the nnspec options to this session."""
    group = parser.getgroup("nnspec")
    return any("--nnspec-backend" in option.names() for option in group.options)


def add_options(parser) -> None:
    if added(parser):
        return
    group = parser.getgroup("nnspec", "nnspec conformance")
    group.addoption("--nnspec-backend", help="run nnspec's conformance of this backend: an entry-point name or "
                                             "module:Class (without it, nnspec adds nothing to the session)")
    group.addoption("--nnspec-device", default="cpu", help="device: cpu or cuda")
    group.addoption("--nnspec-dtype", action="append", choices=list(DTYPE_NAMES), help="repeatable; default all")
    group.addoption("--nnspec-family", default=None)
    group.addoption("--nnspec-op", default=None)
    group.addoption("--nnspec-budget", default="quick", choices=list(BUDGET_NAMES))
    group.addoption("--nnspec-results", default="results")
    group.addoption("--nnspec-seed", type=int, default=0)
    group.addoption("--nnspec-case-timeout", type=float, default=None,
                    help="seconds one case may take before it is recorded as timeout (default by budget)")
    group.addoption("--nnspec-case-memory", default=None, help="address-space limit of a worker, e.g. 8G")
    group.addoption("--nnspec-shard", default=None, help="K/N: run only shard K of N of the cases")
    group.addoption("--nnspec-resume", action="store_true", help="finish the newest unfinished run")
    group.addoption("--nnspec-known", default=None,
                    help="a report's conformance.json or a results directory whose counterexamples each case "
                         "evaluates before its search")
    group.addoption("--nnspec-allow", default=None, metavar="FILE",
                    help="the reviewed deviations that do not fail the session, one a line: a record id "
                         "(torch/cpu/float32/gelu/forward) or op/dtype/check (gelu/float32/forward; '*' matches "
                         "anything; '#' starts a comment). They are still recorded, and reported as xfail")
