"""Whether a point meets a HiGHS model (its getLp()): bounds, integrality, rows; and the points a
guarded run may answer with (`CheckedIncumbent`).

HighsModel._solve_guarded (optimiser/highs_model.py) answers a run cut off at its wall-clock
limit with a point HiGHS reported through its improving-solution callback, or with its start.
Neither has passed HiGHS's own check of a final solution (primal_solution_status, from its KKT
check on the original model): HiGHS 1.15 stores and reports through that callback a point that
postsolves with violations when it has no feasible incumbent yet
(HighsMipSolverData::transformNewIntegerFeasibleSolution, "untransformed violations"), and a
start is a caller's starting point, not necessarily a plan (the planner's exact method starts
from the plan that moves nothing, which breaks a floor). So each is checked here, independently
of HiGHS, before it is an answer: the last reported point that meets the model, else the start
if it meets it, else none.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import highspy
import numpy as np

from optimiser.guarded_run import Found, Incumbent

START_TOL = 1e-6  # a point meets a bound or row within this, absolutely (as HiGHS's own
# feasibility tolerances: a slack scaled by the bound let 1,000 units past a 10^9 supply) ...
ROUNDING = 1e-12  # ... plus the floating-point error of summing terms of this size
# The improving points a guarded run keeps, latest last: an answer falls back to the one before
# when the last breaks the model (HiGHS reports a handful a run; each a copy of every column).
KEPT_POINTS = 4


class ModelCheck:
    """Does a point meet every column bound, integrality and row of HiGHS's `lp` (its
    getLp())? The matrix is built once for every point checked."""

    def __init__(self, lp: Any) -> None:
        self.lp = lp
        self._matrix: Any = None
        self._integral: np.ndarray | None = None

    def __call__(self, values: np.ndarray) -> bool:
        lp = self.lp
        x = np.asarray(values, dtype=float)
        if x.shape != (lp.num_col_,) or not np.all(np.isfinite(x)):
            return False
        if not _within(x, lp.col_lower_, lp.col_upper_, np.abs(x)):
            return False
        fractional = np.flatnonzero(np.abs(x - np.rint(x)) > START_TOL)
        if len(fractional) and np.any(self.integral()[fractional]):
            return False
        if not lp.num_row_:
            return True
        a = self.matrix()
        return _within(a @ x, lp.row_lower_, lp.row_upper_, abs(a) @ np.abs(x))

    def integral(self) -> np.ndarray:
        """Which columns are integer (anything not continuous; no model here has
        semi-continuous columns, which would be judged as integer within their bounds: a
        feasible 0 or fraction rejected, never an infeasible point accepted); read once
        (0.4 s a million columns through highspy)."""
        if self._integral is None:
            kinds = self.lp.integrality_
            flags = np.fromiter(map(int, kinds), dtype=np.int64, count=len(kinds))
            whole = np.zeros(self.lp.num_col_, dtype=bool)
            if len(flags):
                whole[:] = flags != int(highspy.HighsVarType.kContinuous)
            self._integral = whole
        return self._integral

    def matrix(self) -> Any:
        if self._matrix is None:
            import scipy.sparse as sp  # here: single-period commands load no scipy (CLI startup)

            lp = self.lp
            a = lp.a_matrix_
            arrays = (np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_))
            shape = (lp.num_row_, lp.num_col_)
            if a.format_ == highspy.MatrixFormat.kRowwise:
                self._matrix = sp.csr_matrix(arrays, shape=shape)
            else:
                self._matrix = sp.csc_matrix(arrays, shape=shape)
        return self._matrix

    def objective(self, values: np.ndarray) -> float:
        """The model's objective at `values` (its costs and offset, whatever its sense)."""
        lp = self.lp
        return float(np.dot(np.asarray(lp.col_cost_, dtype=float), values) + lp.offset_)


def _within(got: np.ndarray, low: Any, high: Any, size: np.ndarray) -> bool:
    """low <= got <= high within START_TOL, plus ROUNDING times `size` (the sum of the
    terms' magnitudes behind each value: its floating-point error)."""
    lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    slack = START_TOL + ROUNDING * size
    return bool(np.all(got >= lo - slack) and np.all(got <= hi + slack))


def meets_model(lp: Any, values: np.ndarray) -> bool:
    """Does `values` meet every column bound, integrality and row of HiGHS's `lp` (its
    getLp())?"""
    return ModelCheck(lp)(values)


class CheckedIncumbent(Incumbent):
    """A guarded run's improving points (the last KEPT_POINTS, from HiGHS's callbacks, on the
    run's thread) and its start; `answer` gives the best of them that meets the model."""

    def __init__(self, start: np.ndarray | None) -> None:
        super().__init__(None, None)  # the base class's single point is not used here
        self.start = None if start is None else np.array(start, dtype=float)
        self.reported: deque[np.ndarray] = deque(maxlen=KEPT_POINTS)

    def improved(self, event: Any) -> None:
        values = np.array(event.data_out.mip_solution, dtype=float)
        with self._lock:
            self.reported.append(values)
        self.progress(event)

    def answer(self, lp: Any) -> Found:
        """The latest reported point that meets `lp` (HiGHS's getLp() of the run's model),
        else the start if it meets it, else no point; with its objective recomputed from the
        model, and the dual bound the run had proven."""
        with self._lock:
            points = list(reversed(self.reported))
            bound = self.bound
        if self.start is not None:
            points.append(self.start)
        if points:
            check = ModelCheck(lp)
            for values in points:
                if check(values):
                    return Found(values, check.objective(values), bound)
        return Found(None, None, bound)


__all__ = ["KEPT_POINTS", "START_TOL", "CheckedIncumbent", "ModelCheck", "meets_model"]
