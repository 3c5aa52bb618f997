"""The one module that talks to HiGHS.

A Pyomo model is compiled once (Pyomo's linear standard-form compiler) and loaded into a
highspy.Highs object. Re-solves then change only what differs: constraint families are switched
on and off through their row bounds, objectives are swapped, rows are appended, column bounds
are changed. Each solve returns a frozen `SolverRun`; a time limit is never reported as optimal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.constraint import ConstraintData
from pyomo.repn import generate_standard_repn
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

INF = math.inf


class SolveStatus(StrEnum):
    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ERROR = "error"


@dataclass(frozen=True)
class SolverOptions:
    """Typed solver settings. Deterministic by default: one thread, fixed seed."""

    time_limit: float | None = None
    mip_rel_gap: float = 1e-6
    mip_abs_gap: float = 1e-7
    threads: int = 1
    seed: int = 0
    log: bool = False


@dataclass(frozen=True)
class SolverRun:
    """One HiGHS solve: status, objective, best bound, relative gap, seconds and values."""

    status: SolveStatus
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    values: np.ndarray | None

    @property
    def has_solution(self) -> bool:
        return self.values is not None


def solver_versions() -> dict[str, str]:
    from pyomo.version import version as pyomo_version

    return {
        "highs": highspy.Highs().version(),
        "pyomo": pyomo_version,
        "highspy": _highspy_version(),
    }


def _highspy_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("highspy")
    except PackageNotFoundError:
        return "unknown"


class HighsModel:
    """A Pyomo model held in HiGHS for repeated solves."""

    def __init__(self, model: pyo.ConcreteModel, options: SolverOptions | None = None) -> None:
        self.options = options or SolverOptions()
        t0 = time.perf_counter()
        compiled = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
        columns = list(compiled.columns)
        seen = {id(v) for v in columns}
        columns += [
            v for v in model.component_data_objects(pyo.Var, descend_into=True) if id(v) not in seen
        ]
        self.columns = columns
        self._col = {id(v): i for i, v in enumerate(columns)}
        n = len(columns)
        matrix = compiled.A.tocsc()
        matrix.resize((matrix.shape[0], n))
        self.row_lower: list[float] = []
        self.row_upper: list[float] = []
        self._rows: dict[int, list[int]] = {}
        for i, (entry, rhs) in enumerate(zip(compiled.rows, compiled.rhs, strict=True)):
            lo, hi = {1: (-INF, rhs), -1: (rhs, INF), 0: (rhs, rhs)}[entry.bound_type]
            self.row_lower.append(float(lo))
            self.row_upper.append(float(hi))
            self._rows.setdefault(id(entry.constraint), []).append(i)
        self._active_bounds = list(zip(self.row_lower, self.row_upper, strict=True))
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = matrix.shape[0]
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.array([_bound(v.lb, -INF) for v in columns], dtype=float)
        lp.col_upper_ = np.array([_bound(v.ub, INF) for v in columns], dtype=float)
        lp.row_lower_ = np.array(self.row_lower, dtype=float)
        lp.row_upper_ = np.array(self.row_upper, dtype=float)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        integral = [v.is_integer() or v.is_binary() for v in columns]
        if any(integral):
            lp.integrality_ = [
                highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
                for flag in integral
            ]
        self.is_mip = any(integral)
        self.highs = highspy.Highs()
        h = self.highs
        h.setOptionValue("output_flag", self.options.log)
        h.setOptionValue("random_seed", self.options.seed)
        h.setOptionValue("threads", self.options.threads)
        h.setOptionValue("mip_rel_gap", self.options.mip_rel_gap)
        h.setOptionValue("mip_abs_gap", self.options.mip_abs_gap)
        h.passModel(lp)
        self.translate_seconds = time.perf_counter() - t0
        self.num_rows = matrix.shape[0]
        self._start: np.ndarray | None = None

    # ---- indices
    def col(self, var: Any) -> int:
        return self._col[id(var)]

    def cols(self, variables: Iterable[Any]) -> np.ndarray:
        return np.array([self._col[id(v)] for v in variables], dtype=np.int32)

    def rows_of(self, component: Any) -> list[int]:
        """Rows of a constraint, an indexed constraint or a block (recursively)."""
        if isinstance(component, ConstraintData):
            return list(self._rows.get(id(component), []))
        if isinstance(component, pyo.Constraint) and not component.is_indexed():
            return list(self._rows.get(id(component), []))
        if isinstance(component, pyo.Constraint):
            items: Iterable[Any] = component.values()
        else:
            items = component.component_data_objects(pyo.Constraint, descend_into=True, active=None)
        return [i for c in items for i in self._rows.get(id(c), [])]

    # ---- changes
    def set_active(self, component: Any, active: bool) -> None:
        """Switch a family on (its bounds) or off (free rows)."""
        for i in self.rows_of(component):
            lo, hi = self._active_bounds[i] if active else (-INF, INF)
            self.highs.changeRowBounds(i, lo, hi)

    def set_row_bounds(
        self, row: int, lower: float, upper: float, *, remember: bool = True
    ) -> None:
        if remember:
            self._active_bounds[row] = (lower, upper)
        self.highs.changeRowBounds(row, lower, upper)

    def linear(self, expr: Any) -> tuple[np.ndarray, np.ndarray, float]:
        """(column indices, coefficients, constant) of a linear Pyomo expression."""
        repn = generate_standard_repn(expr, compute_values=True, quadratic=False)
        if not repn.is_linear():
            raise ValueError("expression is not linear")
        acc: dict[int, float] = {}
        for v, c in zip(repn.linear_vars, repn.linear_coefs, strict=True):
            j = self._col[id(v)]
            acc[j] = acc.get(j, 0.0) + float(c)
        idx = np.array(sorted(acc), dtype=np.int32)
        val = np.array([acc[j] for j in idx], dtype=float)
        return idx, val, float(pyo.value(repn.constant))

    def set_objective(self, expr: Any, maximize: bool) -> None:
        n = len(self.columns)
        cost = np.zeros(n)
        idx, val, const = self.linear(expr)
        cost[idx] = val
        self.highs.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        self.highs.changeObjectiveOffset(const)
        self.highs.changeObjectiveSense(
            highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
        )

    def add_row(self, expr: Any, lower: float = -INF, upper: float = INF) -> int:
        """Append `lower <= expr <= upper`; returns its row index."""
        idx, val, const = self.linear(expr)
        self.highs.addRow(lower - const, upper - const, len(idx), idx, val)
        row = self.num_rows
        self.num_rows += 1
        self._active_bounds.append((lower - const, upper - const))
        return row

    def set_col_bounds(self, var: Any, lower: float, upper: float) -> None:
        self.highs.changeColBounds(self._col[id(var)], lower, upper)

    def reset_col_bounds(self, var: Any) -> None:
        self.highs.changeColBounds(self._col[id(var)], _bound(var.lb, -INF), _bound(var.ub, INF))

    def set_start(self, values: np.ndarray | None) -> None:
        """A known feasible point, offered to the next MIP solve."""
        self._start = values

    # ---- solve
    def solve(self, time_limit: float | None = None, *, exact: bool = False) -> SolverRun:
        """Run HiGHS. `exact`: zero MIP gap (tie-break stages, where objectives differ by
        far less than the default gap tolerance)."""
        h = self.highs
        limit = time_limit if time_limit is not None else self.options.time_limit
        h.setOptionValue("time_limit", float(limit) if limit is not None else INF)
        h.setOptionValue("mip_rel_gap", 0.0 if exact else self.options.mip_rel_gap)
        h.setOptionValue("mip_abs_gap", 1e-10 if exact else self.options.mip_abs_gap)
        if self._start is not None and self.is_mip:
            sol = highspy.HighsSolution()
            sol.col_value = list(self._start)
            sol.value_valid = True
            h.setSolution(sol)
            self._start = None
        t0 = time.perf_counter()
        h.run()
        seconds = time.perf_counter() - t0
        model_status = h.getModelStatus()
        info = h.getInfo()
        has_point = info.primal_solution_status == 2  # kSolutionStatusFeasible
        values = np.array(h.getSolution().col_value) if has_point else None
        S = highspy.HighsModelStatus
        if model_status == S.kOptimal:
            status = SolveStatus.OPTIMAL
        elif model_status in (S.kTimeLimit, S.kIterationLimit, S.kInterrupt, S.kSolutionLimit):
            status = SolveStatus.TIME_LIMIT
        elif model_status == S.kInfeasible:
            status, values = SolveStatus.INFEASIBLE, None
        elif model_status in (S.kUnbounded, S.kUnboundedOrInfeasible):
            status, values = SolveStatus.UNBOUNDED, None
        else:
            status = SolveStatus.ERROR
        objective = float(info.objective_function_value) if values is not None else None
        bound = None
        gap = None
        if values is not None:
            if self.is_mip:
                bound = float(info.mip_dual_bound)
                gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else None
                if status is SolveStatus.OPTIMAL and gap is not None and gap < 0:
                    gap = 0.0
            else:
                bound, gap = objective, 0.0
        return SolverRun(status, objective, bound, gap, seconds, values)


def _bound(value: Any, default: float) -> float:
    return default if value is None else float(value)
