"""A rolling re-plan of a plan's own first day when a region's own units drop later (track
probe; fixed: executed_moves checks the units on hand only before today, and the infeasible
explanation names a shortfall the executed moves leave from today on).

capacity.csv takes A's own units from 2 to 0 on day 4. The optimal plan lends A's 2 units to B
on day 0 (B's 2 patients, day 1) and has them back on day 4, when A's own go: check-plan accepts
it. Re-planned from day 1 with the day-0 transfer executed, the executed file is refused
(InputError, `triage plan --executed` exit 2): "region A would hold -2 units on day 4: more
units sent than it had". `executed_moves` (optimiser/multiperiod/executed.py) checks the units
on hand after the executed moves alone on every day of the horizon, days from today on
included, where the re-plan's own moves (here the transfer back) keep them; A had the units
when it sent them.

The fix is not only to check days before today: a history that truly leaves A short later
(no lane back) then reaches the model, which says "infeasible" with an empty explanation
("infeasible:  cannot hold together over the horizon (0 units delivered ...)"), so the
infeasible explanation must name the executed moves too (PlanEngine.history_note's job).
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


def test_a_plan_re_planned_from_its_first_day_is_not_refused(tmp_path: Path) -> None:
    folder = write_instance(
        tmp_path / "drop",
        [
            {"region": "A", "capacity": 2, "los_days": 2},
            {"region": "B", "capacity": 0, "los_days": 2},
        ],
        {"A": [0, 0, 0, 0, 0], "B": [0, 2, 0, 0, 0]},
        leads=[("A", "B", 1), ("B", "A", 1)],
        capacity=[("A", 4, 0, None)],
    )
    inst = load_multiperiod(folder)
    first = plan(inst, method="exact", price_of_fairness=False)
    assert first.status is SolveStatus.OPTIMAL and first.lives_saved == pytest.approx(2.0)
    assert check_plan(inst, first).ok
    history = first.manifest[first.manifest["day"] < 1]
    assert len(history) == 1  # the loan to B
    again = plan(inst, executed=history, today=1, method="exact", price_of_fairness=False)
    assert again.status is SolveStatus.OPTIMAL
    assert again.lives_saved == pytest.approx(2.0)
    assert check_plan(inst, again).ok


def test_a_history_no_plan_can_complete_is_infeasible_and_says_why(tmp_path: Path) -> None:
    """No lane back from B: the loan leaves A at -2 units on day 4, when its own units go.
    Not refused as input (A had the units when it sent them), but infeasible, and the
    explanation names the region, the day and the units (it had no constraint to name)."""
    folder = write_instance(
        tmp_path / "noway",
        [
            {"region": "A", "capacity": 2, "los_days": 2},
            {"region": "B", "capacity": 0, "los_days": 2},
        ],
        {"A": [0, 0, 0, 0, 0], "B": [0, 2, 0, 0, 0]},
        leads=[("A", "B", 1)],
        capacity=[("A", 4, 0, None)],
    )
    inst = load_multiperiod(folder)
    history = pd.DataFrame(
        [("transfer", 0, "A", "B", 2, 1)], columns=["kind", "day", "from", "to", "units", "arrives"]
    )
    again = plan(inst, executed=history, today=1, price_of_fairness=False)
    assert again.status is SolveStatus.INFEASIBLE
    text = again.explanation or ""
    assert "region A would hold -2 units on day 4" in text
    assert "no plan from day 1" in text
    assert "infeasible:  " not in text  # no empty list of constraints
