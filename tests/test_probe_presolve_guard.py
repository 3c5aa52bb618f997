"""HiGHS 1.15.1's presolve declares a feasible MIP infeasible (track probe).

On this 1-region, 5-day instance presolve (its probing) says "infeasible"; given the planner's
start (the plan that moves nothing, feasible here) HiGHS then reported status optimal with
primal bound -inf and dual bound +inf, and the exact method took it as proved: "optimal", 1.6
lives (the settled plan that ships nothing), objective_bound inf, L* 0.0, where shipping the
depot's unit saves 2.4 (the rounding method's plan, which check-plan accepts). HiGHS 1.16.0
solves it. HighsModel.solve now runs such a MIP once more without probing (as under a time
limit) and never reports an optimum without a finite dual bound.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_multiperiod_support import write_instance

from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.check import check_plan
from optimiser.multiperiod.planner import plan
from optimiser.solver import SolveStatus


@pytest.mark.parametrize("method", ["exact", "rounding"])
@pytest.mark.parametrize("rule", [[], ["excess_per_capita_floor:share=0.3"]])
def test_an_optimum_is_proved_by_a_finite_bound(
    tmp_path: Path, method: str, rule: list[str]
) -> None:
    folder = write_instance(
        tmp_path / "probing",
        [
            {
                "region": "A",
                "population": 50000,
                "capacity": 2,
                "peak_demand": 2,
                "survival_with": 0.9,
                "survival_without": 0.1,
                "los_days": 3,
            }
        ],
        {"A": [0, 0, 3, 0, 2]},
        kind="census",
        deliveries=[(2, 0, "D"), (2, 1, "D")],
        multiperiod={"depots": ["D"]},
        supply=2,
    )
    inst = load_multiperiod(folder)
    result = plan(inst, rule, method=method)
    assert result.status is SolveStatus.OPTIMAL
    assert result.lives_saved == pytest.approx(2.4)
    assert result.objective_bound == pytest.approx(2.4, abs=0.006)
    assert result.lives_optimal == pytest.approx(2.4)
    assert result.lives_optimal_bound == pytest.approx(2.4, abs=0.006)
    check = check_plan(inst, result)
    assert check.ok and check.survivors == pytest.approx(2.4)
