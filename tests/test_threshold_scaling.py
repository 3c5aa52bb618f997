"""The threshold rows are better scaled (issue 9, "Time budgets": on 1,500 regions the matrix
spanned 2e-3..1.5e7 and HiGHS ran on past its clock): lambda is bounded by what members can
hold, and the optimum is unchanged (checked against the Pyomo oracle, tests/pyomo_regional.py,
and by hand below)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import optimiser
from models.regional import RegionalOptions, build_regional
from optimiser.engine import active_constraints, regional_data
from optimiser.generator import RegionalSpec, generate_regional


def coefficient_range(folder: Path, constraint: str) -> tuple[float, float, float]:
    inst = optimiser.load_instance(folder)
    active = active_constraints(inst, [constraint])
    program = build_regional(regional_data(inst), RegionalOptions(constraints=active)).program
    values = np.abs(program.value[program.value != 0])
    upper = program.col_upper[np.isfinite(program.col_upper)]
    return float(values.min()), float(values.max()), float(upper.max())


def test_the_threshold_matrix_of_1500_regions_is_well_scaled(tmp_path: Path) -> None:
    """The issue's instance (benchmarks/budgets_bench.py): coefficients 1.9e-3..5.2e4 (were
    1.9e-3..1.5e7: a range of 2.7e7, was 7.7e9), lambda bounded by 5.2e4 (was 1.5e7)."""
    folder = generate_regional(RegionalSpec(regions=1500, seed=0), tmp_path / "r1500")
    low, high, bound = coefficient_range(folder, "threshold:tau=0.2")
    assert high < 1e5 and high / low < 1e8
    assert bound < 1e5


def test_a_member_with_a_tiny_weight_keeps_the_rule(make_instance: object) -> None:
    """A (excess 100 per 100,000) and B (excess 1 per 1,000,000: w = 1e-3), 50 units: with
    lambda about 50, A receives 50 and B 0 (lambda w_B about 0.05, within one unit of 0): the
    optimum gives A 50, B 0, exactly as before the rescaling (B's tiny weight set lambda's
    bound to (S + 1) / 1e-3 = 51,000 then; now (50 + 1) / 1e-3 as well, capped by supply)."""
    inst = make_instance(  # type: ignore[operator]
        [
            {"region": "A", "population": 100_000, "capacity": 0, "peak_demand": 100},
            {"region": "B", "population": 1_000_000, "capacity": 0, "peak_demand": 1},
        ],
        supply=50,
    )
    result = optimiser.solve(inst, constraints=["threshold:tau=0,index=excess_demand"])
    assert result.allocation == {"A": 50, "B": 0}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scaled_threshold_agrees_with_the_oracle(tmp_path: Path, seed: int) -> None:
    """Generated instances (members with weights down to ~1e-3): the engine's optimum equals
    the Pyomo oracle's, solved by HiGHS at gap 0."""
    from pyomo_regional import build_pyomo

    from optimiser.solver import HighsModel, SolverOptions, SolveStatus

    folder = generate_regional(RegionalSpec(regions=40, seed=seed), tmp_path / f"r{seed}")
    inst = optimiser.load_instance(folder)
    for tau in ("0", "0.2", "2"):
        constraint = f"threshold:tau={tau}"
        ours = optimiser.solve(inst, constraints=[constraint], price_of_fairness=False)
        active = active_constraints(inst, [constraint])
        model = build_pyomo(regional_data(inst), active)
        highs = HighsModel(model, SolverOptions(mip_rel_gap=0.0, mip_abs_gap=1e-9))
        highs.set_objective(model.lives, maximize=True)
        run = highs.solve()
        assert run.status is SolveStatus.OPTIMAL and run.objective is not None
        assert ours.lives_saved == pytest.approx(run.objective, abs=1e-6)
