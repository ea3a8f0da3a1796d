"""Search control: the shrink budget is counted in adapter calls, the counterexample is the simplest failure seen."""

from __future__ import annotations

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
    assert forward[0]["counterexample"] == forward[1]["counterexample"]  # calls, not seconds: the same at any load
