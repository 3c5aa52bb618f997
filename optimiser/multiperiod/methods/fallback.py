"""The plan of last resort: nothing new shipped or transferred, every waiting patient admitted
to its own region's units earliest deadline first (check-plan's own admission rule, whose
admissions it takes from the simulation), kept when no method proves a better plan in time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from models.fairness.horizon import HorizonFamily
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.methods.base import (
    PlanOutcome,
    Setting,
    Task,
    clean_values,
    relative_gap,
)
from optimiser.multiperiod.simulate import simulate
from optimiser.solver import SolveStatus, note_limit, stop_status


def fallback_values(
    setting: Setting, instance: MultiPeriodInstance, executed: pd.DataFrame
) -> np.ndarray:
    """Nothing new shipped or transferred, every waiting patient admitted to its own region's
    units (and the executed moves' units) earliest deadline first, the rule of check-plan's
    simulation (simulate.py), whose admissions it takes."""
    p, d = setting.model, setting.data
    sim = simulate(instance, executed)
    group = {
        (int(r), int(e)): g
        for g, (r, e) in enumerate(zip(d.group_region, d.group_day, strict=True))
    }
    column = {
        (int(g), int(t)): c
        for g, t, c in zip(p.admit.group, p.admit.day, p.admit.cols, strict=True)
    }
    x = setting.zero.copy()
    # zero's admissions are the patients on units since the start; the simulation lists them
    # again (in treatment on day 0), so its admissions replace zero's rather than add to them
    x[p.admit.cols] = 0.0
    for home, _where, day, cohort, count in sim.admissions:
        x[column[group[home, cohort], day]] += count
    return x


def implied_values(
    setting: Setting, families: Sequence[HorizonFamily], values: np.ndarray
) -> np.ndarray:
    """A copy of the plan `values` with each family's own columns (threshold's lambda and stop
    binaries, max_coverage_gap's m_cov and z) set to those the plan implies
    (`HorizonFamily.imply`), from X_r = h_{r,D_r} - own_{r,D_r}, the units each region
    receives net by its last useful day as the plan's own units on hand say (the numbers the
    rows read). A family with own columns that cannot say them fails loudly."""
    p, d = setting.model, setting.data
    x = values.copy()
    if not any(len(f.columns) for f in families):
        return x
    day = d.measure_days()
    rows = np.arange(d.n)
    received = x[p.hand[rows, day]] - d.own[rows, day]
    for family in families:
        family.imply(received, x)
    return x


def meets_rows(setting: Setting, families: Sequence[HorizonFamily], values: np.ndarray) -> bool:
    """Does a plan meet every row of the fairness `families`, their own columns at the
    values the plan implies (`implied_values`)? The plan's own values of those columns are
    not read: a plan is judged by its movements (and units on hand) alone."""
    p = setting.model
    rows = [f.rows for f in families]
    which = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    if not len(which):
        return True
    got = p.matrix[which] @ implied_values(setting, families, values)
    return bool(
        np.all(got >= p.row_lower[which] - 1e-7) and np.all(got <= p.row_upper[which] + 1e-7)
    )


def with_fallback(
    setting: Setting,
    task: Task,
    out: PlanOutcome,
    values: np.ndarray,
    weighted_gain: np.ndarray,
) -> PlanOutcome:
    """Keep the better of `out` and the fallback plan (only when it meets the active fairness
    rows). Its gap is measured against the best bound known: the LP bound when column
    generation finished, else every patient admitted (sum_g a_r g_r n_g, `weighted_gain`
    a_r g_r per region). `values`: the fallback plan (fallback_values)."""
    if not meets_rows(setting, task.families, values):
        return out
    values = implied_values(setting, task.families, values)
    objective = float(task.cost @ clean_values(setting.model, values))
    d = setting.data
    everyone = float(weighted_gain[d.group_region] @ d.group_size)
    bound = out.bound if out.bound is not None else everyone
    if out.values is not None and (out.objective or 0.0) >= objective:
        return PlanOutcome(
            out.status,
            out.values,
            out.lives,
            out.objective,
            relative_gap(bound, out.objective or 0.0),
            out.seconds,
            out.solves,
            out.logistics,
            out.stage1_lives,
            bound,
            out.lives_bound,
        )
    status = stop_status(task.deadline, out.status)
    if status is SolveStatus.ITERATION_LIMIT:
        note_limit("the plan of last resort (nothing shipped): no method found a better plan")
    return PlanOutcome(
        status,
        values,
        setting.lives_of(values),
        objective,
        relative_gap(bound, objective),
        out.seconds,
        out.solves,
        logistics=0.0,
        bound=bound,
    )
