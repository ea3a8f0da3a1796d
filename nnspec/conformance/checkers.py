"""Every check the engine can run on a catalogue row, by the name rows list in ``OpEntry.checks``.

A checker takes a ``Case`` (row, backend, device, dtype, budget, seed) and returns its
records. ``per_dtype`` checkers run once per dtype; the others once per op (their
case's dtype is "-"). A new kind of check (a trajectory over optimizer steps, a
weight-layout round trip) is a function here and a name in the rows that need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .distribution import check_distribution
from .engine import Case, check_defaults, check_values
from .layout import check_layout
from .models import check_model, check_training
from .out_of_range import check_out_of_range
from .running_stats import check_running_stats
from .streaming import check_streaming
from .trajectory import check_schedule, check_trajectory


def _own_name(name: str) -> Callable:
    return lambda entry: (name,)


def _value_checks(entry) -> tuple[str, ...]:
    return ("forward", "gradient") + (("property",) if entry.properties else ())


@dataclass(frozen=True)
class Checker:
    run: Callable[[Case], list[dict]]
    per_dtype: bool
    records: Callable = None  # entry -> the check names of the records it writes (a crashed case gets them all)


CHECKERS: dict[str, Checker] = {
    "values": Checker(check_values, per_dtype=True, records=_value_checks),  # forward, gradient, property
    "defaults": Checker(check_defaults, per_dtype=False, records=_own_name("defaults")),
    # weights spec -> native -> spec, bit for bit
    "layout": Checker(check_layout, per_dtype=True, records=_own_name("layout")),
    # optimizer steps with state, step by step
    "trajectory": Checker(check_trajectory, per_dtype=True, records=_own_name("trajectory")),
    "schedule": Checker(check_schedule, per_dtype=True, records=_own_name("schedule")),  # the rate at every step
    # a stateful op's state after every training step, then an inference output
    "running_stats": Checker(check_running_stats, per_dtype=True, records=_own_name("running_stats")),
    # inputs outside the op's domain (an embedding's indices outside [0, V)): which stated behaviour it has
    "out_of_range": Checker(check_out_of_range, per_dtype=True, records=_own_name("out_of_range")),
    # a random op's seeded samples against the spec's law, its deterministic part exactly
    "distribution": Checker(check_distribution, per_dtype=True, records=_own_name("distribution")),
    # a metric accumulated over a random split into batches against its one-shot value
    "streaming": Checker(check_streaming, per_dtype=True, records=_own_name("streaming")),
    # a whole seed model (models.py): every layer's activations, then every parameter's gradient, the first layer
    # out of bound named
    "model": Checker(check_model, per_dtype=True, records=lambda entry: ("forward", "gradient")),
    # a seed model trained with SGD + momentum and Adam: the weights after every step
    "training": Checker(check_training, per_dtype=True, records=_own_name("training")),
}
