"""A linear (mixed-integer) program assembled in blocks of columns and rows, as numpy arrays.

Model modules add their variables and constraints family by family (`add_columns`, `add_rows`,
then `add` for the coefficients of a block of rows) and keep the returned index arrays as
typed handles; `finish` numbers the columns and returns the arrays HiGHS takes (`Program`).
No modelling layer sits in between: a family of 100,000 rows is a handful of numpy operations.
The regional model (models/regional.py) and the multi-period planner's model
(models/multiperiod.py) are both built on it.

Column numbering (`finish`): blocks of columns (one `add_columns` call each) are numbered in
the order in which they are first met, in the objective's terms and then in the rows taken in
order, a block's columns together in the order added; columns that appear nowhere (no
coefficient in a row, none in the objective) come last, in the order added. That is the
numbering of Pyomo's standard-form compiler, which the regional engine used before it built its
own arrays; HiGHS's search, and with it which of several equally good answers a solve without
tie-break returns, depends on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

INF = math.inf


@dataclass(frozen=True)
class CscArrays:
    shape: tuple[int, int]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    @property
    def nnz(self) -> int:
        return len(self.data)

    def tocsc(self) -> CscArrays:
        return self


@dataclass(frozen=True)
class Program:
    """Column-wise sparse matrix (CSC) with bounds and integrality, ready for HiGHS."""

    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray  # 1 integer, 0 continuous
    row_lower: np.ndarray
    row_upper: np.ndarray
    start: np.ndarray  # CSC column starts (num_cols + 1)
    index: np.ndarray  # row of each entry
    value: np.ndarray

    @property
    def num_cols(self) -> int:
        return len(self.col_lower)

    @property
    def num_rows(self) -> int:
        return len(self.row_lower)

    def tocsc(self) -> CscArrays:
        """The matrix with scipy.sparse's CSC attribute names (what solver.MatrixHighsModel
        reads), without importing scipy."""
        return CscArrays((self.num_rows, self.num_cols), self.start, self.index, self.value)

    def dense(self) -> np.ndarray:
        """The matrix as a dense array (for tests on small models)."""
        out = np.zeros((self.num_rows, self.num_cols))
        for j in range(self.num_cols):
            lo, hi = self.start[j], self.start[j + 1]
            out[self.index[lo:hi], j] += self.value[lo:hi]
        return out


class LinearModel:
    """Columns and rows in blocks; coefficients collected as (row, column, value) triplets."""

    def __init__(self) -> None:
        self._col_lower: list[np.ndarray] = []
        self._col_upper: list[np.ndarray] = []
        self._integer: list[np.ndarray] = []
        self._row_lower: list[np.ndarray] = []
        self._row_upper: list[np.ndarray] = []
        self._entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._blocks: list[int] = []  # number of columns of each add_columns call
        self.num_cols = 0
        self.num_rows = 0

    def add_columns(
        self,
        count: int,
        lower: float | np.ndarray,
        upper: float | np.ndarray,
        *,
        integer: bool = False,
    ) -> np.ndarray:
        """`count` new columns with bounds [lower, upper]; returns their indices."""
        idx = np.arange(self.num_cols, self.num_cols + count, dtype=np.int64)
        self._col_lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (count,)))
        self._col_upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (count,)))
        self._integer.append(np.full(count, 1 if integer else 0, dtype=np.int8))
        self._blocks.append(count)
        self.num_cols += count
        return idx

    def add_rows(
        self, count: int, lower: float | np.ndarray, upper: float | np.ndarray
    ) -> np.ndarray:
        """`count` new rows lower <= (coefficients added with `add`) <= upper."""
        idx = np.arange(self.num_rows, self.num_rows + count, dtype=np.int64)
        self._row_lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (count,)))
        self._row_upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (count,)))
        self.num_rows += count
        return idx

    def add(
        self,
        rows: np.ndarray | int,
        cols: np.ndarray | int,
        values: float | np.ndarray,
    ) -> None:
        """Coefficients values[i] of column cols[i] in row rows[i] (broadcast; a repeated
        (row, column) pair adds up; zero coefficients are left out)."""
        r, c, v = np.broadcast_arrays(
            np.asarray(rows, dtype=np.int64),
            np.asarray(cols, dtype=np.int64),
            np.asarray(values, dtype=float),
        )
        self._entries.append((r.ravel(), c.ravel(), v.ravel()))

    def finish(
        self, objective: np.ndarray, objective_terms: np.ndarray
    ) -> tuple[Program, np.ndarray]:
        """The program, and `position`: the final index of each column as added. `objective`
        (the cost of each column as added) and `objective_terms` (the columns the objective
        names, a zero cost included) decide the numbering only."""
        col_lower = _cat(self._col_lower, float)
        col_upper = _cat(self._col_upper, float)
        integer = _cat(self._integer, np.int8)
        rows = _cat([e[0] for e in self._entries], np.int64)
        cols = _cat([e[1] for e in self._entries], np.int64)
        vals = _cat([e[2] for e in self._entries], float)
        # (row, col) pairs given twice add up; zeros are dropped, as a modelling layer would
        if len(rows):
            key = rows * max(self.num_cols, 1) + cols
            order = np.argsort(key, kind="stable")
            key, rows, cols, vals = key[order], rows[order], cols[order], vals[order]
            first = np.ones(len(key), dtype=bool)
            first[1:] = key[1:] != key[:-1]
            if not first.all():
                group = np.cumsum(first) - 1
                vals = np.bincount(group, weights=vals)
                rows, cols = rows[first], cols[first]
            keep = vals != 0.0
            rows, cols, vals = rows[keep], cols[keep], vals[keep]
        # numbering: blocks by first appearance (the objective: -1, then the rows), the
        # columns that appear nowhere last
        n = self.num_cols
        never = np.iinfo(np.int64).max
        row_first = np.full(n, never, dtype=np.int64)
        np.minimum.at(row_first, cols, rows)
        empty = (row_first == never) & (np.asarray(objective, dtype=float)[:n] == 0.0)
        block = np.repeat(np.arange(len(self._blocks)), self._blocks)
        met = np.where(np.asarray(objective_terms, dtype=bool)[:n], -1, row_first)
        block_met = np.full(len(self._blocks), never, dtype=np.int64)
        np.minimum.at(block_met, block, met)
        when = np.where(empty, 0, block_met[block])  # the empty ones: in the order added
        order = np.lexsort((np.arange(n), np.where(empty, 0, block), when, empty))
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        new_cols = position[cols]
        # CSC: sort by (column, row)
        csc = np.lexsort((rows, new_cols))
        counts = np.bincount(new_cols, minlength=n)
        start = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(counts, out=start[1:])
        program = Program(
            col_lower=np.ascontiguousarray(col_lower[order]),
            col_upper=np.ascontiguousarray(col_upper[order]),
            integrality=np.ascontiguousarray(integer[order]),
            row_lower=_cat(self._row_lower, float).copy(),
            row_upper=_cat(self._row_upper, float).copy(),
            start=start,
            index=np.ascontiguousarray(rows[csc], dtype=np.int32),
            value=np.ascontiguousarray(vals[csc]),
        )
        return program, position

    def finish_in_order(self) -> Program:
        """The program with the columns numbered as added (the multi-period model's numbering:
        its engines address blocks of columns by position). Coefficients given twice for one
        (row, column) add up; zero coefficients are kept, as scipy.sparse keeps them (the
        model's reported size counts them; HiGHS drops them on loading)."""
        rows = _cat([e[0] for e in self._entries], np.int64)
        cols = _cat([e[1] for e in self._entries], np.int64)
        vals = _cat([e[2] for e in self._entries], float)
        n = self.num_cols
        order = _column_major(rows, cols)
        rows, cols, vals = rows[order], cols[order], vals[order]
        if len(rows):
            first = np.ones(len(rows), dtype=bool)
            first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
            if not first.all():
                vals = np.add.reduceat(vals, np.flatnonzero(first))
                rows, cols = rows[first], cols[first]
        start = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(cols, minlength=n), out=start[1:])
        return Program(
            col_lower=_cat(self._col_lower, float).copy(),
            col_upper=_cat(self._col_upper, float).copy(),
            integrality=_cat(self._integer, np.int8).copy(),
            row_lower=_cat(self._row_lower, float).copy(),
            row_upper=_cat(self._row_upper, float).copy(),
            start=start,
            index=np.ascontiguousarray(rows, dtype=np.int32),
            value=np.ascontiguousarray(vals),
        )


def _column_major(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The permutation np.lexsort((rows, cols)) returns (by column, then row, stable), as one
    stable argsort of the key col * (largest row + 1) + row: the same order, 2.5x faster than
    lexsort's two passes on the planner's 800 x 90 model (2.4M entries; BENCHMARKS.md)."""
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    span = int(rows.max()) + 1
    if rows.min() < 0 or cols.min() < 0 or (int(cols.max()) + 1) * span >= 2**62:
        return np.lexsort((rows, cols))
    return np.argsort(cols * span + rows, kind="stable")


def _cat(parts: list[np.ndarray], dtype: type | np.dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
