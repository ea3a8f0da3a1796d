"""Search control: the shrink budget is counted in adapter calls, the counterexample is the simplest failure seen."""

from __future__ import annotations

import importlib
import sys

import pytest
import wrong_adapters as W

from nnspec.conformance.catalogue import CATALOGUE
from nnspec.conformance.engine import Case, check_values
from nnspec.conformance.search import BUDGETS, SHRINK_CALLS, BudgetSpent, CallBudget


def test_the_budget_counts_calls_after_the_first_failure_only():
    budget = CallBudget(2)
    for _ in range(10):
        budget.charge()  # before any failure: free
    budget.failed()
    budget.charge()
    budget.charge()
    with pytest.raises(BudgetSpent):
        budget.charge()


def test_a_failing_case_stops_at_its_call_budget_and_replays_exactly(monkeypatch):
    """A sigmoid that returns nan: unbounded, hypothesis makes 170 calls at this seed (seen with the budget raised)."""
    monkeypatch.setitem(SHRINK_CALLS, "quick", 30)
    runs = [check_values(Case(CATALOGUE["sigmoid"], W.ReturnsNan(), "cpu", "float64", "quick", 1)) for _ in range(2)]
    forward = [{r["check"]: r for r in records}["forward"] for records in runs]
    assert forward[0]["status"] == "fail"
    assert forward[0]["examples"] <= BUDGETS["quick"] + 30
    assert forward[0]["counterexamples"][0] == forward[1]["counterexamples"][0]  # calls, not seconds: the same at any load


def _examples_drawn(case):
    from nnspec.conformance import search

    drawn = []
    search.run(case, lambda example: drawn.append((repr(example.params), example.inputs[0].tobytes())))
    return drawn


def test_a_seed_draws_the_same_examples_whatever_local_modules_are_loaded(tmp_path, monkeypatch):
    """Hypothesis mixes number literals of local modules into its draws; a module full of them, loaded
    between two searches at one seed, must not change a single example (without ``own_constants_only``
    it changes 135 of these 150 examples: learning rates drawn from the literals)."""
    from nnspec.backends import load_backend

    case = Case(CATALOGUE["sgd"], load_backend("numpy"), "cpu", "float32", "standard", 3)
    before = _examples_drawn(case)
    (tmp_path / "many_literals.py").write_text(
        "VALUES = [" + ", ".join(f"{0.05 + i / 701:.17g}" for i in range(300)) + "]\n"
        "COUNTS = [" + ", ".join(str(1 + 3 * i) for i in range(300)) + "]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    import many_literals  # noqa: F401

    try:
        assert _examples_drawn(case) == before
    finally:  # gone before any other test's draw could read its literals
        sys.modules.pop("many_literals")
