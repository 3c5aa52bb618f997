"""The optimal face of the LP HiGHS has just solved, held for a second objective.

For an LP optimum x* with duals y and reduced costs d = c - A^T y, every optimal solution has
the same value as x* on each column with d_j != 0 (complementary slackness: at the bound the
sign of d_j names) and the same activity on each row with y_i != 0. Fixing those columns and
rows leaves exactly the optimal solutions, and on them the objective is constant
(c x = y A x + d x). A second objective optimised there is the lexicographic optimum, without
the dense "objective held" row (and its allowance) that made the settle LP of
methods/settle.py slow and could give back a little of the first objective: on 300 regions x
90 days with waiting and patient transfers, 17.7 s (primal simplex over the held row) against
3 s (BENCHMARKS.md, "Waiting and patient transfers at scale").

Duals within FACE_TOL of zero leave their column or row free: such a column moves the first
objective by at most FACE_TOL per unit, far below the solver's tolerances on lives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimiser.solver import MatrixHighsModel

FACE_TOL = 1e-9
BOUND_TOL = 1e-7  # HiGHS's primal feasibility tolerance: a value this close to a bound is on it


@dataclass(frozen=True)
class HeldFace:
    """What `hold_optimal_face` changed: the columns and rows fixed, and their bounds before."""

    cols: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    rows: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray


def hold_optimal_face(highs: MatrixHighsModel, tol: float = FACE_TOL) -> HeldFace | None:
    """Fix, in `highs` (just solved to an LP optimum), every column with a reduced cost above
    `tol` in size at its value and every row with a dual above `tol` in size at its activity.
    The basis stays optimal and primal feasible (those columns and rows are non-basic at
    the bounds they are fixed at). `release` puts the bounds back. None (nothing changed) when
    the last solve left no valid duals."""
    h = highs.highs
    solution = h.getSolution()
    if not solution.dual_valid:
        return None  # no duals: no face to hold
    col_dual = np.asarray(solution.col_dual, dtype=float)
    row_dual = np.asarray(solution.row_dual, dtype=float)
    cols = np.flatnonzero(np.abs(col_dual) > tol).astype(np.int32)
    rows = np.flatnonzero(np.abs(row_dual) > tol).astype(np.int32)
    _, _, _, col_lower, col_upper, _ = h.getCols(len(cols), cols)
    _, _, row_lower, row_upper, _ = h.getRows(len(rows), rows)
    # (highspy answers one entry when asked for none)
    col_lower, col_upper = np.asarray(col_lower)[: len(cols)], np.asarray(col_upper)[: len(cols)]
    row_lower, row_upper = np.asarray(row_lower)[: len(rows)], np.asarray(row_upper)[: len(rows)]
    # already fixed columns (the movements of the plan being settled) need no change
    loose = col_lower != col_upper
    face = HeldFace(cols[loose], col_lower[loose], col_upper[loose], rows, row_lower, row_upper)
    if len(face.cols):
        value = np.asarray(solution.col_value, dtype=float)[face.cols]
        value = _at_bound(value, face.col_lower, face.col_upper)
        h.changeColsBounds(len(face.cols), face.cols, value, value)
    if len(rows):
        activity = np.asarray(solution.row_value, dtype=float)[rows]
        activity = _at_bound(activity, row_lower, row_upper)
        h.changeRowsBounds(len(rows), rows, activity, activity)  # type: ignore[attr-defined]
    return face


def release(highs: MatrixHighsModel, face: HeldFace) -> None:
    """Put back the bounds `hold_optimal_face` changed."""
    h = highs.highs
    if len(face.cols):
        h.changeColsBounds(len(face.cols), face.cols, face.col_lower, face.col_upper)
    if len(face.rows):
        h.changeRowsBounds(  # type: ignore[attr-defined]
            len(face.rows), face.rows, face.row_lower, face.row_upper
        )


def _at_bound(value: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """`value` within [lower, upper], or the bound it is within BOUND_TOL of (the data's own
    number, exactly: no 1e-9 of a patient left in a fixed quantity)."""
    value = np.clip(value, lower, upper)
    out = np.where(np.abs(value - lower) <= BOUND_TOL, lower, value)
    return np.where(np.abs(value - upper) <= BOUND_TOL, upper, out)
