"""Fixtures shared by the project's own tests."""

import mpmath
import pytest


@pytest.fixture(scope="module")
def mpmath_50_digits():
    """mpmath at 50 significant digits for a whole module of oracle tests, restored afterwards."""
    saved = mpmath.mp.dps
    mpmath.mp.dps = 50
    yield
    mpmath.mp.dps = saved
