"""The conformance engine.

catalogue.py   one row per op: spec formula, tolerances with reasons, variants, properties
strategies.py  hypothesis strategies for inputs, cotangents and parameters
measure.py     error in ULPs of the output dtype, with the floor near zero
engine.py      runs one (op, backend, device, dtype): forward, gradient, property, defaults
results.py     the JSON-lines results store, flushed record by record
plugin.py      the pytest plugin that makes a conformance run a pytest session (suite.py)
repro.py       re-runs one recorded counterexample
"""
