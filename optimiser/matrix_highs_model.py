"""A model given as sparse matrices (no Pyomo) held in HiGHS for repeated solves:
`MatrixHighsModel`, the HighsModel of the regional engine, the planner's fast path, the
stochastic engine and bedside. It inherits HighsModel.solve (highs_model.py), so statuses, gaps,
time limits and starting points behave exactly as for compiled Pyomo models (docs/multiperiod.md,
"Why a second HiGHS-facing class"). Part of the solver layer that optimiser/solver.py gathers.
"""

from __future__ import annotations

import time
from typing import Any

import highspy
import numpy as np

from optimiser.highs_model import HighsModel, configured_highs
from optimiser.highs_setup import INF, new_highs
from optimiser.solver_status import SolverOptions


class MatrixHighsModel(HighsModel):
    """A model given as sparse matrices (no Pyomo), held in HiGHS for repeated solves.

    For models too large to go through Pyomo quickly (the multi-period planner's fast path,
    docs/multiperiod.md). It inherits HighsModel.solve, so statuses, gaps, time limits and
    starting points behave exactly as for compiled Pyomo models; the Pyomo-specific helpers
    (col, rows_of, set_active, set_objective, add_row, ...) are replaced by array versions.
    """

    def __init__(
        self,
        col_lower: np.ndarray,
        col_upper: np.ndarray,
        matrix: Any,
        row_lower: np.ndarray,
        row_upper: np.ndarray,
        integrality: np.ndarray,
        options: SolverOptions | None = None,
    ) -> None:
        self.options = options or SolverOptions()
        t0 = time.perf_counter()
        csc = matrix.tocsc()
        num_row, num_col = csc.shape
        self.num_cols = num_col
        self.num_rows = num_row
        self.columns = []
        self._col = {}
        self._rows = {}
        self._row_lower = np.asarray(row_lower, dtype=float).copy()
        self._row_upper = np.asarray(row_upper, dtype=float).copy()
        self._active_bounds = []  # unused here: bounds live in _row_lower/_row_upper
        self.is_mip = bool(np.any(integrality))
        self.highs = configured_highs(self.options)
        h = self.highs
        h.passModel(
            num_col,
            num_row,
            int(csc.nnz),
            int(highspy.MatrixFormat.kColwise),
            int(highspy.ObjSense.kMinimize),
            0.0,
            np.zeros(num_col),
            np.asarray(col_lower, dtype=float),
            np.asarray(col_upper, dtype=float),
            self._row_lower,
            self._row_upper,
            csc.indptr.astype(np.int32),
            csc.indices.astype(np.int32),
            csc.data.astype(float),
            np.asarray(integrality, dtype=np.int32),
        )
        self.translate_seconds = time.perf_counter() - t0
        self._start = None
        # the costs HiGHS holds (set_cost, add_columns); None: unknown
        self._cost: np.ndarray | None = np.zeros(num_col)

    def release(self) -> None:
        """Free HiGHS's copy of the model and its solver's memory (`clearModel` keeps its
        vectors' capacity: the instance itself goes). The model cannot be solved after."""
        self.highs = None  # type: ignore[assignment]
        self._cost = None

    def renew(self) -> None:
        """`clearSolver` that frees: the same model and options in a fresh HiGHS instance, the
        old one (its simplex vectors, factor and presolved model, which keep their capacity
        after `clearSolver`) destroyed first. The next solve starts afresh, as after
        `clearSolver` (the settle's second LP: BENCHMARKS.md, "mem5")."""
        model, options = self.highs.getModel(), self.highs.getOptions()
        self.highs = None  # type: ignore[assignment]  # the only reference: freed here
        h = new_highs()
        h.passOptions(options)
        h.passModel(model)
        self.highs = h

    def set_cost(self, cost: np.ndarray, maximize: bool, offset: float = 0.0) -> None:
        """Replace the objective: cost . x + offset, maximised or minimised.

        Only the entries that differ (bit for bit) from the costs HiGHS holds are passed: the
        planner re-sets a cost vector over every column of its master each column-generation
        round (1,000 regions x 90 days: ~1M columns, 0.03-0.05 s a call). HiGHS ends in the
        same state as with the whole vector; at least one entry is always passed, so HiGHS
        takes the same "new costs" step as before even when nothing changed."""
        n = self.num_cols
        values = np.ascontiguousarray(cost, dtype=np.float64)
        if values.shape == (n,) and self._cost is not None:
            changed = np.flatnonzero(values.view(np.int64) != self._cost.view(np.int64))
            if not len(changed) and n:
                changed = np.zeros(1, dtype=np.int64)
            index = changed.astype(np.int32)
            self.highs.changeColsCost(len(index), index, np.ascontiguousarray(values[changed]))
            self._cost = values.copy()
        else:  # not one cost per column: passed as before, and the held costs are unknown
            self.highs.changeColsCost(n, np.arange(n, dtype=np.int32), values)
            self._cost = None
        self.highs.changeObjectiveOffset(float(offset))
        sense = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
        self.highs.changeObjectiveSense(sense)

    def add_row_arrays(
        self, index: np.ndarray, value: np.ndarray, lower: float = -INF, upper: float = INF
    ) -> int:
        """Append `lower <= value . x[index] <= upper`; returns its row index."""
        index = np.asarray(index, dtype=np.int32)
        value = np.asarray(value, dtype=float)
        self.highs.addRow(float(lower), float(upper), len(index), index, value)
        self._row_lower = np.append(self._row_lower, lower)
        self._row_upper = np.append(self._row_upper, upper)
        self.num_rows += 1
        return self.num_rows - 1

    def add_rows_arrays(
        self,
        starts: np.ndarray,
        index: np.ndarray,
        value: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
    ) -> np.ndarray:
        """Append rows i: lower[i] <= value[s:e] . x[index[s:e]] <= upper[i], s = starts[i],
        e = starts[i + 1] (or the end); returns their row indices."""
        lower = np.asarray(lower, dtype=float)
        upper = np.asarray(upper, dtype=float)
        index = np.asarray(index, dtype=np.int32)
        self.highs.addRows(
            len(lower),
            lower,
            upper,
            len(index),
            np.asarray(starts, dtype=np.int32),
            index,
            np.asarray(value, dtype=float),
        )
        self._row_lower = np.concatenate([self._row_lower, lower])
        self._row_upper = np.concatenate([self._row_upper, upper])
        first = self.num_rows
        self.num_rows += len(lower)
        return np.arange(first, self.num_rows)

    def set_row_bounds(
        self, row: int, lower: float, upper: float, *, remember: bool = True
    ) -> None:
        if remember:
            self._row_lower[row], self._row_upper[row] = lower, upper
        self.highs.changeRowBounds(int(row), float(lower), float(upper))

    def set_rows_bounds(self, rows: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Set (and remember) the bounds of several rows at once."""
        rows = np.asarray(rows, dtype=np.int32)
        if len(rows) == 0:
            return
        self._row_lower[rows], self._row_upper[rows] = lower, upper
        self.highs.changeRowsBounds(  # type: ignore[attr-defined]
            len(rows), rows, self._row_lower[rows], self._row_upper[rows]
        )

    def set_rows_active(self, rows: np.ndarray, active: bool) -> None:
        """Switch rows to their remembered bounds (active) or to free rows (inactive)."""
        rows = np.asarray(rows, dtype=np.int32)
        if len(rows) == 0:
            return
        if active:
            lo, hi = self._row_lower[rows], self._row_upper[rows]
        else:
            lo, hi = np.full(len(rows), -INF), np.full(len(rows), INF)
        self.highs.changeRowsBounds(len(rows), rows, lo, hi)  # type: ignore[attr-defined]

    def set_col_bounds_arrays(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        cols = np.asarray(cols, dtype=np.int32)
        if len(cols):
            self.highs.changeColsBounds(
                len(cols), cols, np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
            )

    def add_columns(
        self, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray, block: Any
    ) -> np.ndarray:
        """Append columns (`block`: their sparse rows x k matrix); returns their indices."""
        csc = block.tocsc()
        k = csc.shape[1]
        self.highs.addCols(
            k,
            np.asarray(cost, dtype=float),
            np.asarray(lower, dtype=float),
            np.asarray(upper, dtype=float),
            int(csc.nnz),
            csc.indptr.astype(np.int32),
            csc.indices.astype(np.int32),
            csc.data.astype(float),
        )
        first = self.num_cols
        self.num_cols += k
        if self._cost is not None:
            self._cost = np.concatenate([self._cost, np.asarray(cost, dtype=np.float64)])
        return np.arange(first, first + k)

    def delete_columns(self, cols: np.ndarray) -> None:
        """Delete columns `cols` (sorted indices); the columns after them move down, and the
        costs held and a start set follow."""
        cols = np.asarray(cols, dtype=np.int32)
        if not len(cols):
            return
        self.highs.deleteCols(len(cols), cols)
        keep = np.ones(self.num_cols, dtype=bool)
        keep[cols] = False
        self.num_cols = int(keep.sum())
        if self._cost is not None:
            self._cost = self._cost[keep]
        if self._start is not None:
            self._start = self._start[keep]

    def set_integrality(self, cols: np.ndarray, integer: bool) -> None:
        """Make `cols` integer or continuous; `is_mip` follows (callers switch all of the
        model's integer columns at once)."""
        cols = np.asarray(cols, dtype=np.int32)
        if len(cols):
            flags = np.full(len(cols), 1 if integer else 0, dtype=np.uint8)
            self.highs.changeColsIntegrality(len(cols), cols, flags)
        self.is_mip = bool(integer and len(cols))

    def set_option(self, name: str, value: Any) -> None:
        self.highs.setOptionValue(name, value)

    def row_duals(self) -> np.ndarray:
        """Row duals of the last LP solve (HiGHS convention: reduced cost = c - A^T y)."""
        return np.asarray(self.highs.getSolution().row_dual, dtype=float)
