"""The final plan's patient flow, settled for its movements (docs/multiperiod.md, "Waiting").

Lexicographically: (A) the most (weighted) lives the plan's shipments and transfers allow, then
(B) with that held, every patient admitted as early as possible (maximise sum (last_g + 1 - s)
y_{g,s}: waiting patient-days, counting a patient turned away as waiting to its last day). So
no patient waits, or is turned away, while a staffed unit is free in their region for their
whole stay: such a patient could be admitted at once, earlier or in addition, with nothing else
changed, which (A) or (B) would take. Never fewer lives than the plan given. When the LPs cannot
run (the budget spent) or do not finish, the rule is kept without them (methods/idle_repair.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from optimiser.deadline import Deadline
from optimiser.multiperiod.colgen import ColumnGeneration
from optimiser.multiperiod.methods.base import (
    PlanOutcome,
    Setting,
    clean_values,
    relative_gap,
)
from optimiser.multiperiod.methods.idle_repair import admit_beside_free_units
from optimiser.solver import MatrixHighsModel, SolveStatus

FACE_TOL = 1e-9  # a reduced cost or dual larger than this holds its column or row
BOUND_TOL = 1e-7  # HiGHS's primal feasibility tolerance: a value this close to a bound is on it


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
    fixed = np.nonzero(p.integrality)[0]
    if colgen is not None:
        cg = colgen
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
    face: _Face | None = None
    try:
        master = position >= 0
        full = np.nonzero(master)[0]

        def run(objective: np.ndarray, strategy: int = 1) -> np.ndarray | None:
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

        first = run(cost)
        if first is None:
            return repaired(setting, out, cost)
        free = np.setdiff1d(position[full], pos)
        face = _Face.fix(highs, free)
        # the basis of `first` stays primal feasible (new costs, bounds at its values): the
        # primal simplex
        second = None if face is None or deadline.expired() else run(early, 4)
        settled = second if second is not None else first
    finally:
        if face is not None:
            face.restore(highs)
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


@dataclass(frozen=True)
class _Face:
    """The optimal face of the LP just solved, fixed in HiGHS: every column with a reduced
    cost and every inequality row with a dual held where the optimum has them. By
    complementary slackness every point left has the optimum's objective exactly, so the second
    LP cannot trade lives for earlier admissions (an allowance on a lives row did: "move
    2.564e-06 patients" and "admit 56.999997435" in the manifest). The bounds kept are the ones
    to restore."""

    cols: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    rows: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray

    @classmethod
    def fix(cls, highs: MatrixHighsModel, cols: np.ndarray) -> _Face | None:
        """Fix the face among `cols` (HiGHS positions) and every row (None: no duals)."""
        h = highs.highs
        solution = h.getSolution()
        if not solution.dual_valid:
            return None
        reduced = np.asarray(solution.col_dual, dtype=float)[cols]
        cols = cols[np.abs(reduced) > FACE_TOL].astype(np.int32)
        value = np.asarray(solution.col_value, dtype=float)[cols]
        _, _, _, col_lower, col_upper, _ = h.getCols(len(cols), cols)
        # (highspy answers one entry when asked for none)
        col_lower, col_upper = (
            np.asarray(col_lower)[: len(cols)],
            np.asarray(col_upper)[: len(cols)],
        )
        value = _at_bound(value, col_lower, col_upper)
        dual = np.abs(np.asarray(solution.row_dual, dtype=float))
        rows = np.nonzero(dual > FACE_TOL)[0].astype(np.int32)
        _, _, row_lower, row_upper, _ = h.getRows(len(rows), rows)
        row_lower, row_upper = (
            np.asarray(row_lower)[: len(rows)],
            np.asarray(row_upper)[: len(rows)],
        )
        ranged = row_lower < row_upper
        rows, row_lower, row_upper = rows[ranged], row_lower[ranged], row_upper[ranged]
        activity = np.asarray(solution.row_value, dtype=float)[rows]
        activity = _at_bound(activity, row_lower, row_upper)
        if len(cols):
            h.changeColsBounds(len(cols), cols, value, value)
        if len(rows):
            h.changeRowsBounds(len(rows), rows, activity, activity)  # type: ignore[attr-defined]
        return cls(cols, col_lower, col_upper, rows, row_lower, row_upper)

    def restore(self, highs: MatrixHighsModel) -> None:
        h = highs.highs
        if len(self.cols):
            h.changeColsBounds(len(self.cols), self.cols, self.col_lower, self.col_upper)
        if len(self.rows):
            h.changeRowsBounds(  # type: ignore[attr-defined]
                len(self.rows), self.rows, self.row_lower, self.row_upper
            )


def _at_bound(value: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """`value`, or the bound it is within BOUND_TOL of (the data's own number, exactly)."""
    out = np.where(np.abs(value - lower) <= BOUND_TOL, lower, value)
    return np.where(np.abs(value - upper) <= BOUND_TOL, upper, out)


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
