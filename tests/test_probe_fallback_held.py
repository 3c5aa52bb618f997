"""The plan of last resort with patients on units since the start (track probe; fixed:
the simulation's admissions replace Setting.zero's).

Before:
`fallback_values` (optimiser/multiperiod/methods/fallback.py) starts from Setting.zero, whose
admit columns already hold the patients on units since the start (census demand: y_{g,0} >=
held_g, a column lower bound), and adds every admission of check-plan's simulation, which lists
those same patients again (simulate.py puts them in treatment on day 0). They are counted
twice: the fallback breaks the cover rows (more patients in treatment than units) and claims
more lives than the simulation it copies. When a solve is not proved (rounding's
iteration_limit, a time limit), `with_fallback` keeps it whenever its inflated objective beats
the plan found: on a 3-region, 4-day census instance the rounding method reported 9.0 lives
(iteration_limit) where the optimum is 8.2, its own bound 8.4, and check-plan replays 8.2 with
rows broken ("admits 1 patients in A on day 0, but only 0 units are free").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_multiperiod_support import write_instance

from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.check import check_plan
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.planner import plan
from optimiser.multiperiod.simulate import simulate
from optimiser.solver import SolverOptions


def census_instance(tmp_path: Path) -> Path:
    """A owns 2 units, 4 patients present on day 0 (half of them on units), stays 2 days."""
    return write_instance(
        tmp_path / "held",
        [{"region": "A", "capacity": 2, "los_days": 2}],
        {"A": [4, 2, 0]},
        kind="census",
    )


def test_the_fallback_is_the_simulation_s_plan(tmp_path: Path) -> None:
    inst = load_multiperiod(census_instance(tmp_path))
    engine = PlanEngine(inst, (), SolverOptions(), method="exact")
    p = engine.setting.model
    values = engine.fallback_values()
    activity = p.matrix @ values
    assert np.all(activity >= p.row_lower - 1e-7) and np.all(activity <= p.row_upper + 1e-7)
    assert np.all(values <= p.col_upper + 1e-7)
    assert engine.setting.lives_of(values) == pytest.approx(
        simulate(inst, engine.executed).survivors
    )


def test_an_unproved_rounding_plan_is_not_replaced_by_an_inflated_fallback(
    tmp_path: Path,
) -> None:
    folder = write_instance(
        tmp_path / "m1379",
        [
            {
                "region": "A",
                "population": 300000,
                "capacity": 3,
                "peak_demand": 4,
                "survival_with": 0.9,
                "survival_without": 0.1,
                "los_days": 2,
                "staff_cap": 3,
            },
            {
                "region": "B",
                "population": 50000,
                "capacity": 0,
                "peak_demand": 0,
                "survival_with": 0.5,
                "survival_without": 0.1,
                "los_days": 4.6,
                "staff_cap": 2,
            },
            {
                "region": "C",
                "population": 300000,
                "capacity": 0,
                "peak_demand": 5,
                "survival_with": 1.0,
                "survival_without": 0.1,
                "los_days": 3,
                "staff_cap": None,
            },
        ],
        {"A": [5, 3, 3, 0], "B": [2, 3, 5, 0], "C": [3, 5, 0, 0]},
        kind="census",
        deliveries=[(1, 2, "D"), (2, 0, "D")],
        leads=[
            ("D", "A", 2),
            ("D", "B", 1),
            ("D", "C", 2),
            ("A", "B", 1),
            ("A", "C", 2),
            ("B", "C", 2),
            ("C", "B", 1),
        ],
        capacity=[("B", 1, 0, 3), ("C", 2, 2, 3), ("C", 1, 2, 0)],
        multiperiod={"max_wait_days": 1, "depots": ["D"], "donor_keep_share": 0.5},
    )
    inst = load_multiperiod(folder)
    exact = plan(inst, method="exact", price_of_fairness=False)
    rounded = plan(inst, method="rounding", price_of_fairness=False)
    assert rounded.lives_saved is not None
    assert rounded.lives_saved <= exact.objective_bound + 1e-6
    check = check_plan(inst, rounded)
    assert check.ok, check.violations[:3]
    assert check.survivors == pytest.approx(rounded.lives_saved)
