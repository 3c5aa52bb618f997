"""Commits that can be carried out: a transfer never takes units that the donor's patients are on.

A baseline's commit is made on one forecast (the mean, the mean plus a buffer, the envelope).
Where a scenario has more patients on units in a donor region than that forecast, the donor
cannot send what the forecast left free: the commit is not executable there
(optimiser.multiperiod.executed refuses it). The stochastic plan's commit is executable in every
planning scenario by construction (each scenario's block holds the donor rows); a baseline's is
made so before it is scored (`executable_in_every`): its transfers are cut, in dispatch order,
to what the donors can spare in every planning scenario (optimiser.backtest.moves.carried_out,
the backtest's rule), until no scenario needs a cut. The result is one commit, the same in every
scenario, as a first stage must be. Evaluation scenarios the plans never saw (out of sample)
may still need a cut: there the donor cuts what it cannot send (`recourse(..., cuts=)`), for
every candidate alike, and the comparison reports the units cut.
"""

from __future__ import annotations

import pandas as pd

from optimiser.backtest.moves import carried_out
from optimiser.errors import InputError, Problem
from optimiser.multiperiod.data import model_data
from optimiser.multiperiod.executed import executed_moves
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.plan_io import plan_rows
from optimiser.scenarios.model import ScenarioSet


def not_executable(
    instance: MultiPeriodInstance, moves: pd.DataFrame, today: int
) -> InputError | None:
    """Why `moves` (committed form, all dispatched before `today`) cannot be executed under
    the instance's demand, as the planner would refuse them; None when they can."""
    if not len(moves):
        return None
    rows = plan_rows(moves, instance, executed=True, name="commit")
    try:
        executed_moves(instance, rows, today, held_units=model_data(instance).held_units())
    except InputError as exc:
        return exc
    return None


def executable_in_every(
    instance: MultiPeriodInstance,
    scenarios: ScenarioSet,
    moves: pd.DataFrame,
    today: int,
    name: str = "commit",
) -> tuple[pd.DataFrame, int]:
    """`moves` unchanged when every scenario's donors can make them; else cut until they can
    in every scenario (a fixed point: a transfer cut brings fewer units to its receiver, which
    may then be unable to send its own), and the units cut. InputError naming the scenario and
    the rule when cutting transfers cannot mend them (e.g. a depot shipping what it lacks)."""
    cut_total = 0
    while True:
        cut_now = 0
        for sid, inst in scenarios.instances(instance):
            why = not_executable(inst, moves, today)
            if why is None:
                continue
            moves, cut = carried_out(inst, moves)
            if not cut:
                raise in_scenario(why, sid, f"the {name} cannot be executed in ")
            cut_now += cut
        if not cut_now:
            return moves.reset_index(drop=True), cut_total
        cut_total += cut_now


def in_scenario(exc: InputError, sid: str, lead: str = "") -> InputError:
    """The same problems, each saying in which scenario it arose."""
    from dataclasses import replace

    return InputError(
        [replace(p, message=f"{lead}scenario {sid}: {p.message}") for p in exc.problems]
        or [Problem(f"{lead}scenario {sid}")]
    )


__all__ = ["executable_in_every", "in_scenario", "not_executable"]
