"""The conformance suite as pytest collects it (see plugin.py): ``nnspec run`` points pytest here."""

from nnspec.conformance.plugin import run_case, run_defaults


def test_values(nnspec_run, nnspec_case):
    entry, dtype = nnspec_case
    run_case(nnspec_run, entry, dtype)


def test_defaults(nnspec_run, nnspec_entry):
    run_defaults(nnspec_run, nnspec_entry)
