"""Search control shared by every check: hypothesis settings, the call budget, the simplest
failure of each kind, the cached strategies and the one variant matcher.

How much a case costs is counted in adapter calls, never in seconds, so a run at a
given seed finds and records the same counterexamples however loaded the machine is:

* generation draws ``BUDGETS[budget]`` examples; once one fails, hypothesis goes on
  generating only while that still finds new kinds of failure (its own rule: at
  least 10 calls, at most twice the call that found the latest new kind), which is
  what finds a gradient failure after a forward one and gives the variant matcher
  examples on both sides of the failure;
* from the first failure on, every call — the rest of generation, shrinking,
  hypothesis' final replay — is charged to ``SHRINK_CALLS[budget]``; when it is spent
  the search stops at once (``BudgetSpent``), and each kind of failure keeps the
  simplest failing example the search evaluated (hypothesis' own order: fewer
  choices, then simpler ones — what it would have replayed last).

Hypothesis' own five-minute shrink limit stays as a backstop; nothing here reads a clock.
"""

from __future__ import annotations

import contextlib
import itertools
import traceback
from dataclasses import dataclass, field
from typing import Callable

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings, target
from hypothesis.control import currently_in_test_context
from hypothesis.errors import Flaky, Unsatisfiable, UnsatisfiedAssumption

from ..backends import Unsupported
from .catalogue import describe

BUDGETS = {"quick": 20, "standard": 150, "thorough": 1000}  # examples generated per (op, dtype)
SHRINK_CALLS = {"quick": 50, "standard": 300, "thorough": 2000}  # adapter calls per case after its first failure
KEEP_EXAMPLES = 500  # examples kept per case for variant matching (generated and shrunk ones)
FLUSH_TO_ZERO = {"subnormals": ("flush",)}  # a variant of every op: subnormals read as zero on both sides


def hypothesis_settings(budget: str, **overrides) -> settings:
    return settings(
        max_examples=BUDGETS[budget],
        deadline=None,  # framework calls (compiles, first-call dispatch) have no fair deadline
        database=None,  # the counterexample lives in the results file, not in .hypothesis/
        derandomize=False,  # the explicit seed() of each case makes every run reproducible
        suppress_health_check=list(HealthCheck),
        # Hill-climbing on target() pays off with a real budget; with 20 examples hypothesis
        # would spend seconds climbing per case, so quick runs generate and shrink only.
        phases=(Phase.explicit, Phase.generate, Phase.shrink) + ((Phase.target,) if budget != "quick" else ()),
        report_multiple_bugs=True,  # each (check, kind) shrinks on its own
        print_blob=False,
        verbosity=Verbosity.quiet,
        **overrides,
    )


class CheckFailed(Exception):
    """Raised inside a search when an example fails; one subclass per (check, kind of failure), so
    that hypothesis shrinks each distinct failure on its own (a nan at -inf does not hide an
    accuracy loss at -3)."""


_FAILED: dict[tuple[str, str], type] = {}


def failure_type(check: str, kind: str) -> type:
    key = (check, kind)
    if key not in _FAILED:
        _FAILED[key] = type(f"{check.title()}{kind.title()}Failed", (CheckFailed,), {})
    return _FAILED[key]


class BudgetSpent(BaseException):
    """Raised by ``CallBudget.charge`` once the budget is spent. A BaseException, so hypothesis
    counts it neither as a failure nor as a pass: it leaves the search at once, with no
    final replay, and the failures recorded so far stand."""


@dataclass
class CallBudget:
    """Adapter calls a case may still make after its first failure."""

    calls: int
    spent: int | None = None  # None until the first failure

    def charge(self):
        """Call before each evaluation of the adapter."""
        if self.spent is not None:
            if self.spent >= self.calls:
                raise BudgetSpent()
            self.spent += 1

    def failed(self):
        if self.spent is None:
            self.spent = 0


def simplicity():
    """Hypothesis' order of the example being evaluated (shorter choice sequence first, then
    simpler choices), or None outside a search or on a hypothesis without it."""
    try:
        from hypothesis.control import current_build_context
        from hypothesis.internal.conjecture.shrinker import sort_key

        return sort_key(current_build_context().data.nodes)
    except Exception:  # an internal API: without it, the latest failure stands
        return None


@dataclass
class Failures:
    """The simplest failing example of each kind seen in one search."""

    found: dict = field(default_factory=dict)  # kind -> (example, verdict, ...)
    _keys: dict = field(default_factory=dict)

    def add(self, kind, *failure):
        key = simplicity()
        known = self._keys.get(kind)
        if kind not in self.found or key is None or known is None or key <= known:
            self.found[kind], self._keys[kind] = failure, key

    def __contains__(self, kind):
        return kind in self.found

    def __getitem__(self, kind):
        return self.found[kind]

    def __bool__(self):
        return bool(self.found)


_STRATEGIES: dict = {}


def example_strategy(entry, dtype: str):
    """The row's example strategy for ``dtype``, built once per (row, dtype) and reused by every
    check and backend in the process (hypothesis validates a strategy on its first draw)."""
    key = (id(entry), dtype)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = (entry, entry.example(dtype))  # the row kept alive, so its id stays its own
    return _STRATEGIES[key][1]


def variant_combinations(variants: dict) -> list[dict]:
    """Every non-empty combination of declared variant values, fewest changes first."""
    dimensions = [[(name, value) for value in values] for name, values in variants.items()]
    combos = []
    for size in range(1, len(dimensions) + 1):
        for chosen in itertools.combinations(dimensions, size):
            combos.extend(dict(pairs) for pairs in itertools.product(*chosen))
    return combos


def matching_variant(entry, seen, verdict) -> str | None:
    """The first variant (declared ones and ``subnormals="flush"``, fewest changes first) under
    which every example seen passes.

    ``seen`` holds (example, observed) pairs, failing ones first: most variants fail on those at
    once. ``verdict(example, observed, overrides)`` judges one example under a variant and
    returns its Verdict, or None where the check does not apply to the example. A variant
    whose formula is undefined on an example (it raises ValueError or ArithmeticError) does
    not fit it.
    """

    def fits(example, observed, overrides):
        try:
            judged = verdict(example, observed, overrides)
        except (ValueError, ArithmeticError):
            return False
        return judged is None or judged.ok

    for overrides in variant_combinations({**entry.variants, **FLUSH_TO_ZERO}):
        if all(fits(example, observed, overrides) for example, observed in seen):
            return describe(entry.op, overrides)
    return None


@dataclass
class Outcome:
    """How a search ended, beyond the failures its body recorded."""

    unsatisfiable: bool = False  # the body rejected every example (all declined by the backend)
    error: str | None = None  # hypothesis itself gave up (a flaky adapter, ...)
    declared: list[str] = field(default_factory=list)  # reasons of the declarations that kept a drawn example out


def declared_filter(case, outcome: Outcome) -> Callable | None:
    """``example -> bool``: False for an example the backend declares unsupported by its parameter values
    (``Backend.UNSUPPORTED``), whose reason goes into ``outcome.declared``; None where nothing is declared
    of the case's op and dtype. The example is filtered out of the strategy: it never reaches the adapter."""
    declarations = [d for d in case.backend.declarations(case.entry.op) if not d.whole and d.applies_to(case.dtype)]
    if not declarations:
        return None

    def allowed(example) -> bool:
        for declaration in declarations:
            if declaration.covers(case.dtype, example.params):
                if declaration.reason not in outcome.declared:
                    outcome.declared.append(declaration.reason)
                return False
        return True

    return allowed


@contextlib.contextmanager
def own_constants_only():
    """Hypothesis draws, a few times in a hundred, a number literal found in any *local* module
    loaded (``providers._get_local_constants``): nnspec's own modules when it is installed editable,
    never when installed as a wheel (tox). The examples of a seed would then change with every edit
    of nnspec's source and with which modules happen to be loaded (a case run alone, a worker,
    ``nnspec repro``). Inside a search no local module counts, so a seed gives the same examples
    however nnspec is installed. An internal API: where it is missing, nothing changes."""
    try:
        from hypothesis.internal.conjecture import providers

        empty, real = providers.Constants(), providers._get_local_constants
    except (ImportError, AttributeError):
        yield
        return
    providers.CONSTANTS_CACHE.cache.clear()  # it holds the local constants of earlier draws
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = real
        providers.CONSTANTS_CACHE.cache.clear()


def steer(score: float, label: str) -> None:
    """``hypothesis.target`` inside a search; nothing for a known example evaluated before it."""
    if currently_in_test_context():
        target(score, label=label)


def run(case, body: Callable, **overrides) -> Outcome:
    """The one hypothesis search of every check: ``body(example)`` judges one example of the case's
    row and dtype, recording what it needs, and raises a ``CheckFailed`` on a failing one.

    The case's ``known`` examples (counterexamples of earlier runs, see ``known``) are judged
    first, outside hypothesis and uncharged: a failure among them is recorded by the body like any
    other, and the search then looks for simpler ones.

    The search is seeded by the case, draws from the row's cached strategy less the examples the
    backend declares unsupported by their parameter values (``declared_filter``), and is charged in
    adapter calls: from the body's first failure on, ``SHRINK_CALLS[budget]`` calls (or
    ``shrink_calls``) remain. ``Unsupported`` raised by the body ends the search and propagates
    (the whole case is unsupported); the body rejects an example it cannot judge with
    ``hypothesis.reject``. ``overrides`` adjust the settings (a trajectory's examples)."""
    budget = CallBudget(overrides.pop("shrink_calls", SHRINK_CALLS[case.budget]))
    outcome = Outcome()
    strategy = example_strategy(case.entry, case.dtype)
    allowed = declared_filter(case, outcome)
    if allowed is not None:
        strategy = strategy.filter(allowed)

    @seed(case.case_seed)
    @settings(hypothesis_settings(case.budget), **overrides)
    @given(strategy)
    def search(example):
        budget.charge()
        try:
            body(example)
        except CheckFailed:
            budget.failed()
            raise

    for example in getattr(case, "known", ()):
        if allowed is not None and not allowed(example):
            continue
        try:
            body(example)
        except (CheckFailed, UnsatisfiedAssumption):  # recorded by the body, or declined by the backend
            pass
    try:
        with own_constants_only():
            search()
    except (CheckFailed, BaseExceptionGroup, BudgetSpent):  # the failures the body recorded stand
        pass
    except Unsatisfiable:
        outcome.unsatisfiable = True
    except Unsupported:  # the backend's whole case: the caller says so
        raise
    except Exception as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, Flaky):
            traceback.print_exc()
    return outcome
