"""Whether a point meets a HiGHS model (its getLp()): bounds, integrality, rows.

HighsModel._solve_guarded (optimiser/highs_model.py) asks it of a start when the start would be
the answer: a run cut off at its wall-clock limit before HiGHS reported anything answers
with its start only when the start is a plan of the model, not merely a starting point.
"""

from __future__ import annotations

from typing import Any

import highspy
import numpy as np

START_TOL = 1e-6  # a start meets a bound or row within this (scaled by the bound's size)


def meets_model(lp: Any, values: np.ndarray) -> bool:
    """Does `values` meet every column bound, integrality and row of HiGHS's `lp` (its
    getLp())? The guarded run answers at its limit with the start it was given when HiGHS
    reported nothing better, so the start must be a plan, not merely a starting point (the
    planner's exact method starts from the plan that moves nothing, which breaks a floor)."""
    x = np.asarray(values, dtype=float)
    if x.shape != (lp.num_col_,) or not np.all(np.isfinite(x)):
        return False

    def within(got: np.ndarray, low: Any, high: Any) -> bool:
        lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
        slack_lo = START_TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(lo), lo, 0.0)))
        slack_hi = START_TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(hi), hi, 0.0)))
        return bool(np.all(got >= lo - slack_lo) and np.all(got <= hi + slack_hi))

    if not within(x, lp.col_lower_, lp.col_upper_):
        return False
    kinds = list(lp.integrality_)
    if kinds:
        whole = np.array([k != highspy.HighsVarType.kContinuous for k in kinds], dtype=bool)
        if np.any(np.abs(x[whole] - np.rint(x[whole])) > START_TOL):
            return False
    if not lp.num_row_:
        return True
    import scipy.sparse as sp  # here: single-period commands load no scipy (CLI startup)

    a = lp.a_matrix_
    arrays = (np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_))
    if a.format_ == highspy.MatrixFormat.kRowwise:
        matrix = sp.csr_matrix(arrays, shape=(lp.num_row_, lp.num_col_))
    else:
        matrix = sp.csc_matrix(arrays, shape=(lp.num_row_, lp.num_col_))
    return within(matrix @ x, lp.row_lower_, lp.row_upper_)


__all__ = ["START_TOL", "meets_model"]
