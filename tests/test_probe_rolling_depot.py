"""Rolling re-plans after executed shipments emptied a depot (track probe; fixed by
MultiPeriodData.delivered: the lanes of the rules' last useful days come from the deliveries
before the executed shipments left).

Before: the re-plan's MultiPeriodData.deliveries are the deliveries net of the executed shipments
(optimiser/multiperiod/executed.py, `executed_moves`), and `usefulness` finds the depot lanes
from them (`ship_index`: a depot's lanes start on its first day with units received): a depot
whose every unit the history shipped has no lane at all, so a region reached only from it
"can never use a unit" in the re-plan, while check-plan (checks/_common.py `Useful.of`, from the
instance's deliveries) has its lanes from day 0. Every rule then measures that region
differently in the two: a floor is dropped (a history that breaks it re-planned as optimal),
a coverage peak is capped at the region's own units (a history that meets the rule re-planned
as infeasible).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_multiperiod_support import write_instance

from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.check import check_plan
from optimiser.multiperiod.planner import plan
from optimiser.solver import SolveStatus

COLUMNS = ["kind", "day", "from", "to", "units", "arrives"]


def test_a_history_that_breaks_a_floor_is_not_re_planned_as_optimal(tmp_path: Path) -> None:
    """The depot's 4 units all went to A on day 0; B (2 patients on day 2, reachable on day 1)
    got none, so min_units(1) is broken by the history itself (check-plan says so). The
    re-plan from day 1 must not call a plan that check-plan rejects optimal."""
    folder = write_instance(
        tmp_path / "emptied",
        [
            {"region": "A", "capacity": 0, "los_days": 3},
            {"region": "B", "capacity": 0, "los_days": 3},
        ],
        {"A": [0, 2, 0, 0, 0], "B": [0, 0, 2, 0, 0]},
        deliveries=[(0, 4, "D")],
        leads=[("D", "A", 1), ("D", "B", 1)],
        multiperiod={"transfers": False},
    )
    inst = load_multiperiod(folder)
    history = pd.DataFrame([("ship", 0, "D", "A", 4, 1)], columns=COLUMNS)
    rule = ["min_units:units=1"]
    assert not check_plan(inst, history, rule).ok  # the history breaks the rule
    again = plan(inst, rule, executed=history, today=1, method="exact", price_of_fairness=False)
    if again.lives_saved is not None:
        check = check_plan(inst, again)
        assert check.ok or again.status is not SolveStatus.OPTIMAL, check.violations


def test_a_plan_continued_from_its_own_first_day_stays_feasible(tmp_path: Path) -> None:
    """The optimal plan ships the depot's 2 units to C and moves 2 of A's to B on day 0;
    check-plan accepts it (coverage A 0.5, B 0.75, C 4/6). Re-planned from day 1 with those
    moves executed, C (reached only from the emptied depot) counts as fully covered by its own
    2 units, the gap becomes 0.5 > 0.3, and the re-plan said infeasible."""
    folder = write_instance(
        tmp_path / "gap",
        [
            {"region": "A", "capacity": 4, "peak_demand": 4, "los_days": 3},
            {"region": "B", "capacity": 4, "peak_demand": 8, "los_days": 3},
            {"region": "C", "capacity": 2, "peak_demand": 6, "los_days": 3},
        ],
        {"A": [0, 0, 0, 0, 0], "B": [0, 8, 0, 0, 0], "C": [0, 6, 0, 0, 0]},
        deliveries=[(0, 2, "D")],
        leads=[("D", "A", 9), ("D", "B", 9), ("D", "C", 1), ("A", "B", 1)],
    )
    inst = load_multiperiod(folder)
    rule = ["max_coverage_gap:gap=0.3"]
    first = plan(inst, rule, method="exact", price_of_fairness=False)
    assert first.status is SolveStatus.OPTIMAL and check_plan(inst, first).ok
    history = first.manifest[first.manifest["day"] < 1][COLUMNS]
    assert len(history) == 2  # both moves are on day 0
    again = plan(inst, rule, executed=history, today=1, method="exact", price_of_fairness=False)
    assert again.status is SolveStatus.OPTIMAL, again.explanation
    assert again.lives_saved == pytest.approx(first.lives_saved, abs=0.01)
    assert check_plan(inst, again).ok
