"""The hypothesis profiles of tests/conftest.py are in force: every run of the suite is reproducible."""

import os

import pytest
from hypothesis import settings

SELECTED = settings._current_profile  # the profile loaded by conftest.py or --hypothesis-profile
MODULE_SETTINGS = settings(max_examples=7)  # as the test modules build theirs, at import


@pytest.mark.skipif(SELECTED == "random", reason="the random profile was selected")
def test_the_default_profile_is_deterministic():
    assert SELECTED == "deterministic", f"conftest.py did not load its profile: {SELECTED!r} is in force"
    assert os.environ.get("HYPOTHESIS_PROFILE", "deterministic") == "deterministic"
    for s in (settings.default, MODULE_SETTINGS):
        assert s.derandomize is True and s.database is None and s.deadline is None and s.print_blob is True


@pytest.mark.skipif(SELECTED != "random", reason="only under HYPOTHESIS_PROFILE=random")
def test_the_random_profile_draws_new_examples():
    assert settings.default.derandomize is False and MODULE_SETTINGS.derandomize is False
    assert settings.default.database is None
