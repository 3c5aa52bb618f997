"""The final plan's patient flow, settled for its movements (docs/multiperiod.md, "Waiting").

Lexicographically: (A) the most (weighted) lives the plan's shipments and transfers allow, then
(B) with that held, every patient admitted as early as possible (maximise sum (last_g + 1 - s
+ min(stay_g, T - s) / (T + 1)) y_{g,s}: waiting patient-days, counting a patient turned away
as waiting to its last day, and below them the stay's days inside the horizon). So
no patient waits, or is turned away, while a staffed unit is free in their region for their
whole stay: such a patient could be admitted at once, earlier or in addition, with nothing else
changed, which (A) or (B) would take. Never fewer lives than the plan given. When the LPs cannot
run (the budget spent) or do not finish, the rule is kept without them (methods/idle_repair.py).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from optimiser.deadline import Deadline
from optimiser.multiperiod.colgen import SIMPLEX_DUAL, SIMPLEX_PRIMAL, ColumnGeneration
from optimiser.multiperiod.methods.base import (
    PlanOutcome,
    Setting,
    clean_values,
    relative_gap,
)
from optimiser.multiperiod.methods.face import HeldFace, hold_optimal_face, release
from optimiser.multiperiod.methods.idle_repair import admit_beside_free_units
from optimiser.solver import MatrixHighsModel, SolveStatus


def settle_patients(
    setting: Setting,
    out: PlanOutcome,
    cost: np.ndarray,
    deadline: Deadline,
    colgen: ColumnGeneration | None,
    exact: MatrixHighsModel | None,
) -> PlanOutcome:
    """`out` with its patient flow settled (its movements kept), in the column generation's
    restricted master when there is one, else in the whole model (`exact`)."""
    if out.values is None:
        return out
    if deadline.expired():
        return repaired(setting, out, cost)  # no run starts once the budget is spent
    p, d = setting.model, setting.data
    values = out.values
    early = np.zeros(p.shape[1])
    early[p.admit.cols] = d.group_last[p.admit.group] + 1 - p.admit.day
    early[p.send.cols] = d.group_last[p.send.group] + 1 - p.send.day
    # and, below one patient-day in all for each patient, the stay's days inside the horizon
    # (the shortfall an admission removes): with no waiting every weight above is 1, and an
    # earlier patient whose stay fits was turned away for a later one the horizon cuts short
    T = d.days
    early[p.admit.cols] += np.minimum(d.group_stay[p.admit.group], T - p.admit.day) / (T + 1)
    early[p.send.cols] += np.minimum(d.group_stay[p.send.group], T - p.send.day) / (T + 1)
    fixed = np.nonzero(p.integrality)[0]
    basis = None
    if colgen is not None:
        cg = colgen
        basis = cg.repair_basis(values)  # (A) is the repair LP of `values` again, if one ran
        cg.include(cg.candidates[np.nonzero(values[cg.candidates])[0]])
        highs, position = cg.highs, cg.position
        restore_lower, restore_upper = cg.lower, cg.upper
        cols = fixed[position[fixed] >= 0]
    else:
        assert exact is not None
        highs = exact
        position = np.arange(p.shape[1])
        restore_lower, restore_upper = p.col_lower, p.col_upper
        cols = fixed
        highs.set_integrality(fixed, False)
    pos = position[cols]
    highs.set_col_bounds_arrays(pos, values[cols], values[cols])
    restarted = colgen is not None and colgen.restore_basis(basis)
    face: HeldFace | None = None
    try:
        master = position >= 0
        full = np.nonzero(master)[0]

        def run(objective: np.ndarray, strategy: int) -> np.ndarray | None:
            vector = np.zeros(highs.num_cols)
            vector[position[full]] = objective[full]
            highs.set_cost(vector, maximize=True)
            if colgen is not None:
                highs.set_option("simplex_strategy", strategy)
            result = highs.solve(deadline.remaining())
            if result.values is None or result.status is not SolveStatus.OPTIMAL:
                return None
            x = np.zeros(p.shape[1])
            x[full] = result.values[position[full]]
            return x

        # from the repair's optimal basis, the primal simplex (columns included since are at
        # 0: still primal feasible); else the dual, HiGHS's choice after bounds change
        first = run(cost, SIMPLEX_PRIMAL if restarted else SIMPLEX_DUAL)
        if first is None:
            return repaired(setting, out, cost)
        # (B) on the optimal face of (A) (methods/face.py): the same lives exactly. When
        # patients can wait or be sent (a group with a choice has a cohort row), solved afresh
        # (presolve removes the fixed columns and rows): (A)'s basis is a poor start for the
        # new costs (300 x 90, waiting 2 days: 9.7 s by the dual simplex from it, 17 s by the
        # primal, 2-3 s afresh); else (B) has little to do and (A)'s basis is kept (0.1 s).
        face = hold_optimal_face(highs)
        if face is not None and len(p.cohort_rows):
            highs.renew()  # afresh, the master's solver memory freed first ("mem5")
        second = None if face is None or deadline.expired() else run(early, SIMPLEX_DUAL)
        settled = second if second is not None else first
    finally:
        if face is not None:
            release(highs, face)
        highs.set_col_bounds_arrays(pos, restore_lower[cols], restore_upper[cols])
        if colgen is None:
            highs.set_integrality(fixed, True)
    settled[cols] = values[cols]
    for block in (
        p.fairness_columns,
        p.ship.cols,
        p.transfer.cols,
        p.uses,
        p.stock.ravel(),
        p.hand.ravel(),
    ):
        settled[block] = values[block]
    objective = float(cost @ clean_values(p, settled))
    if objective < (out.objective or 0.0) - 1e-6 * max(1.0, abs(out.objective or 0.0)):
        return repaired(setting, out, cost)
    # the rule held by the LPs, checked (a reduced cost within HiGHS's dual tolerance could fix
    # a column the second LP needed)
    return repaired(setting, with_values(setting, out, settled, cost), cost)


def repaired(setting: Setting, out: PlanOutcome, cost: np.ndarray) -> PlanOutcome:
    """`out` with no patient waiting beside a unit free for the whole stay, without a solver."""
    assert out.values is not None
    values = admit_beside_free_units(setting.model, out.values)
    return out if values is None else with_values(setting, out, values, cost)


def with_values(
    setting: Setting, out: PlanOutcome, values: np.ndarray, cost: np.ndarray
) -> PlanOutcome:
    """`out` with its patient flow replaced by `values` (lives, objective, gap recomputed)."""
    objective = float(cost @ clean_values(setting.model, values))
    gap = out.gap if out.bound is None else relative_gap(out.bound, objective)
    return replace(
        out,
        values=values,
        lives=setting.lives_of(values),
        objective=objective,
        gap=gap,
    ).with_lives_bound(out.lives_bound is not None)
