"""Fixtures and hypothesis profiles shared by the project's own tests.

Hypothesis profiles (``HYPOTHESIS_PROFILE`` selects one; ``deterministic`` when unset):

* ``deterministic`` — the default, for CI and every local run: ``derandomize=True`` (the
  examples are a function of the test alone, so a run that passes passes again), no example
  database (nothing in ``.hypothesis/`` changes what the next run tries), no deadline (the
  oracles run mpmath, whose time varies), and ``print_blob=True`` (a failure prints the
  ``@reproduce_failure`` line that replays it).
* ``random`` — the nightly-style run: fresh random examples on every run, to find the seeds
  the deterministic run never tries. ``HYPOTHESIS_PROFILE=random pytest tests/...``, or
  ``--hypothesis-profile=random`` (the option also passes through ``./tox -e tests -- ...``,
  which does not pass the environment variable on); a failure prints its blob and seed
  (``--hypothesis-seed=N`` replays it).

A test's own ``@settings(max_examples=..., deadline=...)`` inherits the loaded profile's
other settings, because this file is imported before any test module builds its settings.
The conformance engine (``nnspec/conformance/engine.py``) sets ``derandomize`` and
``@seed`` itself, per case, and is not affected by either profile.
"""

import os

import mpmath
import pytest
from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("random", derandomize=False, database=None, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(scope="module")
def mpmath_50_digits():
    """mpmath at 50 significant digits for a whole module of oracle tests, restored afterwards."""
    saved = mpmath.mp.dps
    mpmath.mp.dps = 50
    yield
    mpmath.mp.dps = saved
