"""Leftovers 2: one piece of code where several said the same thing.

* `--workers` / `--dask-scheduler` were declared in each command that fans out (sweep, scenarios
  evaluate, scenarios saa, bedside compare), with three wordings of one meaning;
* the single-period instance argument and `--constraint` in both cli/regional.py and
  cli/sweep.py;
* the better of two attempts at a plan (rounding, then exact) in both the planner's engine and
  the two-stage recourse (optimiser/stochastic/fixed_commit.py): now Setting.better.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from optimiser.multiperiod.methods.base import PlanOutcome, Setting
from optimiser.solver import SolverOptions, SolveStatus


def _params(command: Any) -> dict[str, Any]:
    return {o: p for p in command.params for o in p.opts if o.startswith("--")}


def _command(*path: str) -> Any:
    import typer.main

    from optimiser.cli import app

    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


def test_the_fan_out_options_read_the_same_everywhere() -> None:
    commands = [("sweep",), ("scenarios", "evaluate"), ("scenarios", "saa"), ("bedside", "compare")]
    for option in ("--workers", "--dask-scheduler"):
        helps = {_params(_command(*path))[option].help for path in commands}
        assert len(helps) == 1, (option, helps)


def test_regional_and_sweep_share_the_instance_argument_and_constraint_option() -> None:
    from optimiser.cli import common, regional, sweep

    assert regional.Dir is sweep.Dir is common.RegionalDir
    assert regional.ConstraintOpt is sweep.ConstraintOpt is common.RegionalConstraintOpt
    for path in (("solve",), ("sweep",), ("report",)):
        assert _params(_command(*path))["--constraint"].help == (
            "Fairness constraint KIND:param=value[,param=value]; repeatable."
        )


def test_one_better_of_two_attempts() -> None:
    from optimiser.multiperiod.engine import PlanEngine
    from optimiser.stochastic import fixed_commit

    assert not hasattr(PlanEngine, "_better") and not hasattr(fixed_commit, "_better")


def _setting() -> Setting:
    """Only the tolerance matters here: every optimum within 0.005 of its bound."""
    options = SolverOptions(mip_rel_gap=0.0, mip_abs_gap=0.005)
    return Setting(model=None, options=options, zero=np.zeros(0))  # type: ignore[arg-type]


def _outcome(
    status: SolveStatus, objective: float | None, bound: float | None, seconds: float = 1.0
) -> PlanOutcome:
    values = None if objective is None else np.full(2, objective)
    return PlanOutcome(status, values, objective, objective, None, seconds, 1, bound=bound)


@pytest.mark.parametrize(
    ("first", "second", "objective", "status", "bound"),
    [
        # rounding 95 under its bound 100, exact proves 99: exact's, optimal, bound 99
        (
            (SolveStatus.ITERATION_LIMIT, 95.0, 100.0),
            (SolveStatus.OPTIMAL, 99.0, 99.0),
            99.0,
            SolveStatus.OPTIMAL,
            99.0,
        ),
        # exact stopped with a worse plan but a tighter bound: rounding's plan settles at it
        (
            (SolveStatus.ITERATION_LIMIT, 99.998, 100.0),
            (SolveStatus.TIME_LIMIT, 90.0, 100.001),
            99.998,
            SolveStatus.OPTIMAL,
            100.0,
        ),
        # neither settles: the better plan, not optimal, its gap against the lower bound
        (
            (SolveStatus.ITERATION_LIMIT, 95.0, 100.0),
            (SolveStatus.TIME_LIMIT, 96.0, 98.0),
            96.0,
            SolveStatus.TIME_LIMIT,
            98.0,
        ),
        # exact proves infeasibility: infeasible whatever rounding found
        (
            (SolveStatus.ITERATION_LIMIT, 95.0, 100.0),
            (SolveStatus.INFEASIBLE, None, None),
            None,
            SolveStatus.INFEASIBLE,
            None,
        ),
    ],
)
def test_better_keeps_the_better_plan_against_the_lower_bound(
    first: tuple[Any, ...],
    second: tuple[Any, ...],
    objective: float | None,
    status: SolveStatus,
    bound: float | None,
) -> None:
    a, b = _outcome(*first), replace(_outcome(*second), seconds=2.0)
    out = _setting().better(a, b)
    assert out.objective == objective and out.status is status
    assert out.seconds == 3.0 and out.solves == 2
    if status is not SolveStatus.INFEASIBLE:
        assert out.bound == bound and bound is not None and objective is not None
        assert out.gap == pytest.approx(max(0.0, (bound - objective) / bound))


def test_better_without_any_plan_keeps_the_bound() -> None:
    a = _outcome(SolveStatus.TIME_LIMIT, None, 100.0)
    b = replace(_outcome(SolveStatus.TIME_LIMIT, None, 97.0), solves=3)
    out = _setting().better(a, b)
    assert out.values is None and out.bound == 97.0 and out.solves == 4
