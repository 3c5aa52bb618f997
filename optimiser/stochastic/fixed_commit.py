"""One scenario's recourse with the commit fixed, solved by the planner's own methods.

The scenario's block (models/multiperiod.py, as the extensive form holds it) with its
first-stage movements fixed at the commit (their bounds: lower = upper = the commit's units) is
a deterministic plan like any other: the planner's rounding method (column generation for its
LP bound, rounding, repair, polish) solves it, and on a small block HiGHS's branch-and-bound
after it, as the planner's `auto` method does (optimiser/multiperiod/engine.py). Every plan it
returns keeps the commit (checked), so a plan per scenario is a plan of the extensive form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from models.fairness import REGISTRY, ConstraintSpec
from models.multiperiod import MultiPeriodData, PlanModel
from models.multiperiod_data import objective_weights
from optimiser.deadline import Deadline
from optimiser.multiperiod.colgen import ColumnGeneration
from optimiser.multiperiod.engine import EXACT_LIMIT
from optimiser.multiperiod.methods.base import (
    FALLBACK_NODES,
    PlanOutcome,
    Setting,
    Task,
    clean_values,
)
from optimiser.multiperiod.methods.exact import ExactMethod
from optimiser.multiperiod.methods.rounding import RoundingMethod
from optimiser.solver import SolverOptions, SolveStatus

COMMIT_TOL = 1e-6


def fixed_model(block: PlanModel, cols: np.ndarray, units: np.ndarray) -> PlanModel:
    """`block` with columns `cols` fixed at `units` (their bounds), everything else as built."""
    lower = block.col_lower.copy()
    upper = block.col_upper.copy()
    lower[cols] = units
    upper[cols] = units
    return replace(block, program=replace(block.program, col_lower=lower, col_upper=upper))


def start_plan(model: PlanModel, data: MultiPeriodData) -> np.ndarray:
    """A start for HiGHS (the planner's zero plan with the fixed columns at their values; not
    a plan when the commit moves units: only a hint)."""
    x = np.zeros(model.shape[1])
    x[model.stock] = np.cumsum(data.deliveries, axis=1)
    inflow = data.inflow if data.inflow is not None else 0.0
    x[model.hand] = data.own + np.cumsum(inflow * np.ones_like(data.own), axis=1)
    x[model.admit.cols] = model.col_lower[model.admit.cols]
    x[model.occ] = data.held_units()
    fixed = model.col_lower == model.col_upper
    x[fixed] = model.col_lower[fixed]
    return x


def solve_recourse(
    block: PlanModel,
    data: MultiPeriodData,
    commit_cols: np.ndarray,
    commit_units: np.ndarray,
    active: Sequence[ConstraintSpec],
    options: SolverOptions,
    deadline: Deadline,
    tie_break: bool,
) -> PlanOutcome:
    """The best recourse of one scenario after the commit (block-local columns `commit_cols`
    at `commit_units`), under the `active` fairness constraints. A plan that does not keep the
    commit is never returned (status error, no values)."""
    model = fixed_model(block, commit_cols, commit_units)
    setting = Setting(model, options, start_plan(model, data))
    colgen = ColumnGeneration(model, data, options)
    colgen.include(commit_cols[commit_units > 0])  # a column outside the master is 0
    labels = {c.label for c in active if REGISTRY[c.kind].role == "constraint"}
    for label, family in model.fairness.items():
        colgen.highs.set_rows_active(family.rows, label in labels)
        colgen.highs.set_rows_active(family.cut_rows, False)
    task = Task(
        active=tuple(active),
        families=tuple(model.fairness[c.label] for c in active),
        cost=model.weighted_lives(objective_weights(data, active)),
        tie_break=tie_break,
        deadline=deadline,
    )
    out = RoundingMethod(setting, colgen).solve(task)
    small = int(model.integrality.sum()) <= EXACT_LIMIT
    if small and not setting.proved(out) and not deadline.expired():
        exact = ExactMethod(setting)
        exact.load(labels)
        nodes = None if deadline.end is not None else FALLBACK_NODES
        second = exact.solve(replace(task, node_limit=nodes), out.values)
        out = setting.better(out, second)
    if out.values is None:
        return out
    values = clean_values(model, out.values)
    if np.any(np.abs(values[commit_cols] - commit_units) > COMMIT_TOL):
        return replace(out, status=SolveStatus.ERROR, values=None, lives=None, objective=None)
    return replace(out, values=values)
