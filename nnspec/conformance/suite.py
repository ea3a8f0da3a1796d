"""The conformance suite as pytest collects it (see plugin.py): ``nnspec run`` points pytest here."""

from nnspec.conformance.plugin import run_case


def test_conformance(nnspec_run, nnspec_case):
    entry, check, dtype = nnspec_case
    run_case(nnspec_run, entry, check, dtype)
