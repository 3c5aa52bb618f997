"""A whole first-stage commit that every scenario can keep (the decomposition's rounding step).

The LP's first-stage movements are the same in every scenario, but what a region may send is
not: its patients already on units at the start (`MultiPeriodData.held_units`, from the
scenario's census of the first day) hold them, and cover (u <= h) forbids sending those. The
planner's rounding (methods/whole.py, `round_movements`) walks the days with one scenario's
numbers, so a transfer rounded up from 1.5 to 2 units fits the scenario it was rounded in and
may take a unit that another scenario's patients are on; that scenario then has no recourse at
all, and a commit no scenario refuses is what the decomposition needs (US ICU, 20 states, 10
scenarios, the risk-averse plan of 15 April 2020: both rounded commits refused by one scenario,
so the decomposition fell back to the plan that moves nothing; docs/backtest.md).

`keepable_commit` makes a whole commit keepable: it applies `round_movements`' walk (depot stock,
at most M shipments a day, no region sending units it has not got, nor below donor protection,
nor units its patients are on) with each scenario's numbers in turn, the recourse's movements
at zero, until no scenario cuts anything. Each pass only removes units, so it ends; what is left
is a commit that the zero recourse completes in every scenario (no later movement, the patients
on units at the start keep theirs). The fixed-commit solve (fixed_commit.py) then finds each
scenario's best recourse for it, and checks it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.multiperiod import MultiPeriodData
from models.stochastic import ExtensiveForm
from optimiser.multiperiod.methods.whole import round_movements


def keepable_commit(
    form: ExtensiveForm, data: Sequence[MultiPeriodData], commit: np.ndarray
) -> np.ndarray:
    """`commit` (whole units on `form.first_stage`, block-local columns) with units cut until
    `round_movements` keeps it unchanged in every scenario; every later movement at zero."""
    first = form.first_stage
    current = np.rint(np.maximum(np.asarray(commit, dtype=float), 0.0))
    while True:
        cut = False
        for block, numbers in zip(form.blocks, data, strict=True):
            x = np.zeros(block.shape[1])
            x[first] = current
            # the walk only cuts (whole input: its cumulative rounding is the identity); the
            # minimum makes every pass but the last remove a unit, so the loop ends
            kept = np.minimum(round_movements(block, numbers, x)[first], current)
            if not np.array_equal(kept, current):
                current = kept
                cut = True
        if not cut:
            return current


__all__ = ["keepable_commit"]
