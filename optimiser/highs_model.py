"""A Pyomo model held in HiGHS for repeated solves (`HighsModel`), and how a run is made and read.

A Pyomo model is compiled once (Pyomo's linear standard-form compiler) and loaded into a
highspy.Highs object. Re-solves then change only what differs: constraint families are switched
on and off through their row bounds, objectives are swapped, rows are appended, column bounds
are changed. Each solve returns a frozen `SolverRun`; a time limit is never reported as optimal.
`HighsModel.solve` sets each run's options, runs HiGHS (a MIP under a time limit on a guarded
copy: optimiser/guarded_run.py) and reads the run (`_read_run`); MatrixHighsModel
(matrix_highs_model.py) inherits it. Tests that replace `_read_run` or `_RUN_HOOK` do so in this
module, where `solve` looks them up. Part of the solver layer that optimiser/solver.py gathers
(docs/model.md, "Solver path").
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import highspy
import numpy as np

from optimiser import guarded_run
from optimiser.highs_points import CheckedIncumbent
from optimiser.highs_setup import INF, NODES_UNLIMITED, new_highs, run_time_limit
from optimiser.solver_status import SolverOptions, SolverRun, SolveStatus, note_limit

if TYPE_CHECKING:
    import pyomo.environ as pyo


@functools.cache
def _pyomo() -> Any:
    """pyomo.environ, imported on first use: only Pyomo models (HighsModel) need it, and it
    costs about 0.25 s of start-up that the array models (MatrixHighsModel) never pay."""
    import pyomo.environ

    _skip_pyomo_scipy_extras()
    return pyomo.environ


def _skip_pyomo_scipy_extras() -> None:
    """Start-up time: when Pyomo first resolves its deferred `scipy` (the standard-form compiler
    needs scipy.sparse), a callback also imports scipy.stats, .integrate and .spatial, about 1 s
    per process that this engine never uses. Drop that callback while scipy is still unresolved;
    scipy loads those subpackages lazily if anything asks for them. No-op once resolved or if
    Pyomo changes its internals (BENCHMARKS.md)."""
    from pyomo.common import dependencies

    indicator: Any = getattr(dependencies, "scipy_available", None)
    if getattr(indicator, "_module", True) is None and hasattr(indicator, "_callback"):
        indicator._callback = None


PROBING_RULE = 1 << 15  # HiGHS presolve_rule_off bit of probing (HiGHS's own log names it)


class HighsModel:
    """A Pyomo model held in HiGHS for repeated solves."""

    def __init__(self, model: pyo.ConcreteModel, options: SolverOptions | None = None) -> None:
        self.options = options or SolverOptions()
        t0 = time.perf_counter()
        pyo = _pyomo()
        from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

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
        self._family_rows: dict[int, tuple[Any, np.ndarray]] = {}  # id -> (component, rows)
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
        self.highs = configured_highs(self.options)
        h = self.highs
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
        pyo = _pyomo()
        from pyomo.core.base.constraint import ConstraintData

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
        """Switch a family on (its bounds) or off (free rows), in one HiGHS call. Its rows are
        looked up once (the cache holds the component, so its id cannot be reused)."""
        cached = self._family_rows.get(id(component))
        if cached is None:
            rows = np.array(self.rows_of(component), dtype=np.int32)
            cached = self._family_rows[id(component)] = (component, rows)
        rows = cached[1]
        if not len(rows):
            return
        if active:
            bounds = np.array([self._active_bounds[i] for i in rows], dtype=np.float64)
            lower, upper = np.ascontiguousarray(bounds[:, 0]), np.ascontiguousarray(bounds[:, 1])
        else:
            lower, upper = np.full(len(rows), -INF), np.full(len(rows), INF)
        self.highs.changeRowsBounds(len(rows), rows, lower, upper)  # type: ignore[attr-defined]

    def set_row_bounds(
        self, row: int, lower: float, upper: float, *, remember: bool = True
    ) -> None:
        if remember:
            self._active_bounds[row] = (lower, upper)
        self.highs.changeRowBounds(row, lower, upper)

    def linear(self, expr: Any) -> tuple[np.ndarray, np.ndarray, float]:
        """(column indices, coefficients, constant) of a linear Pyomo expression."""
        pyo = _pyomo()
        from pyomo.repn import generate_standard_repn

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
    def solve(
        self, time_limit: float | None = None, *, exact: bool = False, node_limit: int | None = None
    ) -> SolverRun:
        """Run HiGHS. `exact`: zero MIP gap (tie-break stages, where objectives differ by
        far less than the default gap tolerance). `node_limit`: at most this many
        branch-and-bound nodes, a budget of work that, unlike a time limit, gives the same
        answer whatever the machine's load (a run stopped by it is ITERATION_LIMIT: not proved)."""
        h = self.highs
        limit = time_limit if time_limit is not None else self.options.time_limit
        h.setOptionValue("time_limit", run_time_limit(h, limit, mip=self.is_mip))
        h.setOptionValue("mip_max_nodes", NODES_UNLIMITED if node_limit is None else node_limit)
        # HiGHS's root reduced-cost heuristic runs a sub-MIP that never looks at the clock (nor
        # calls back): on a 1,500-region threshold MIP it held a 2.5 s run for 25 s (HiGHS
        # 1.13-1.15). Under a time limit it is off (BENCHMARKS.md, "Budgets at every entry").
        limited = limit is not None and math.isfinite(limit)
        h.setOptionValue("mip_heuristic_run_root_reduced_cost", not limited)
        # Presolve's probing does not look at the clock in HiGHS 1.13 (a 3 s run on 1,500
        # regions under threshold(tau=0.2) ran 5.3 s, all in presolve) and takes the whole
        # budget in 1.15 (3.05 s of 3 s, no allocation). Under a time limit it is off: both stop
        # on time and find an allocation (BENCHMARKS.md, "Budgets at every entry point").
        h.setOptionValue("presolve_rule_off", PROBING_RULE if limited else 0)
        h.setOptionValue("mip_rel_gap", 0.0 if exact else self.options.mip_rel_gap)
        h.setOptionValue("mip_abs_gap", 1e-10 if exact else self.options.mip_abs_gap)
        # Exact (tie-break) solves start from a known feasible point; HiGHS's feasibility-jump
        # heuristic then only costs time (~10 ms a solve on us-states-2020; same optimum).
        h.setOptionValue("mip_heuristic_run_feasibility_jump", not exact)
        start, self._start = (self._start if self.is_mip else None), None
        run = self._run(limit if limited else None, start)
        if self.is_mip and not limited and self._presolve_suspect(run):
            # HiGHS 1.15.1's presolve (its probing) declared a feasible MIP infeasible: with a
            # feasible start it then said "optimal" with no dual bound (a 1-region, 5-day plan:
            # 1.6 lives "optimal", 2.4 possible; 1.16.0 solves it). Once more without probing,
            # as under a time limit; still no proof: an error, never a false optimum.
            h.setOptionValue("presolve_rule_off", PROBING_RULE)
            try:
                again = self._run(None, start)
            finally:
                h.setOptionValue("presolve_rule_off", 0)
            run = again
            if self._presolve_suspect(run):
                run = SolverRun(SolveStatus.ERROR, None, None, None, run.seconds, None)
        if run.status is SolveStatus.ITERATION_LIMIT:
            note_limit(
                "HiGHS's iteration limit"
                if node_limit is None
                else f"the branch-and-bound node limit ({node_limit:,} node"
                + ("s)" if node_limit != 1 else ")")
            )
        return run

    def _run(self, limit: float | None, start: np.ndarray | None) -> SolverRun:
        """One run of HiGHS from `start` (guarded when `limit` is a MIP's time limit)."""
        if limit is not None and self.is_mip:
            return self._solve_guarded(float(limit), start)
        h = self.highs
        if start is not None:
            h.setSolution(_solution(start))
        t0 = time.perf_counter()
        h.run()
        return _read_run(h, self.is_mip, time.perf_counter() - t0)

    @staticmethod
    def _presolve_suspect(run: SolverRun) -> bool:
        """A MIP answer that is no proof: 'optimal' without a finite dual bound (given a
        feasible start, HiGHS 1.15.1 says so where its presolve wrongly found the MIP
        infeasible; without a start it says 'infeasible', which no cheap test tells from a
        true one)."""
        return run.status is SolveStatus.OPTIMAL and (
            run.bound is None or not math.isfinite(run.bound)
        )

    def _solve_guarded(self, limit: float, start: np.ndarray | None) -> SolverRun:
        """A MIP run under a time limit: on a copy of the model in a thread, answered at the
        wall-clock limit even when HiGHS runs on unclocked (optimiser/guarded_run.py). This
        object's Highs is never run, so it stays usable whatever happens to the copy."""
        t0 = time.perf_counter()
        h = self.highs
        runner = new_highs()
        runner.passOptions(h.getOptions())
        runner.passModel(h.getModel())
        left = max(limit - (time.perf_counter() - t0), 1e-3)
        # HiGHS stops early enough to wind down within `left` (guarded_run.highs_seconds)
        runner.setOptionValue(
            "time_limit", run_time_limit(runner, guarded_run.highs_seconds(left), mip=True)
        )
        if start is not None:
            runner.setSolution(_solution(start))
        incumbent = CheckedIncumbent(start)
        finished, _ = guarded_run.run_with_deadline(runner, left, incumbent, _RUN_HOOK)
        if finished:
            return _read_run(runner, True, time.perf_counter() - t0)
        # Cut off at the limit: HiGHS's last improving point (or the start), each checked
        # against the model first (neither passed HiGHS's check of a final solution:
        # optimiser/highs_points.py); the model is this object's (the runner's is in use).
        found = incumbent.answer(h.getLp())
        seconds = time.perf_counter() - t0
        if found.values is None or found.objective is None:
            return SolverRun(SolveStatus.TIME_LIMIT, None, None, None, seconds, None)
        gap = None
        if found.bound is not None:
            gap = abs(found.bound - found.objective) / max(1.0, abs(found.objective))
        return SolverRun(
            SolveStatus.TIME_LIMIT, found.objective, found.bound, gap, seconds, found.values
        )

    # ---- numeric in-place changes (sweeps, issue 5; appended, no existing behaviour changed)
    def set_cols_bounds(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Change the bounds of many columns at once, given by index (not Pyomo variables)."""
        index = np.ascontiguousarray(cols, dtype=np.int32)
        self.highs.changeColsBounds(
            len(index),
            index,
            np.ascontiguousarray(lower, dtype=np.float64),
            np.ascontiguousarray(upper, dtype=np.float64),
        )

    def set_costs(self, cost: np.ndarray, maximize: bool) -> None:
        """Replace the whole objective by a dense cost vector (one entry per column), no offset."""
        n = len(self.columns)
        values = np.ascontiguousarray(cost, dtype=np.float64)
        if values.shape != (n,):
            raise ValueError(f"expected {n} costs, got {values.shape}")
        self.highs.changeColsCost(n, np.arange(n, dtype=np.int32), values)
        self.highs.changeObjectiveOffset(0.0)
        sense = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
        self.highs.changeObjectiveSense(sense)


def _solution(values: np.ndarray) -> highspy.HighsSolution:
    sol = highspy.HighsSolution()
    sol.col_value = list(values)
    sol.value_valid = True
    return sol


# What runs a guarded MIP in its thread (None: Highs.run); tests put a stalled HiGHS here.
_RUN_HOOK: Any = None


def configured_highs(options: SolverOptions) -> highspy.Highs:
    """A silent HiGHS object with the solver options every model starts from."""
    h = new_highs()
    h.setOptionValue("output_flag", options.log)
    h.setOptionValue("random_seed", options.seed)
    h.setOptionValue("threads", options.threads)
    h.setOptionValue("mip_rel_gap", options.mip_rel_gap)
    h.setOptionValue("mip_abs_gap", options.mip_abs_gap)
    return h


def _read_run(h: highspy.Highs, is_mip: bool, seconds: float) -> SolverRun:
    """The SolverRun of a finished run of `h`: a time limit is never reported as optimal."""
    model_status = h.getModelStatus()
    info = h.getInfo()
    has_point = info.primal_solution_status == 2  # kSolutionStatusFeasible
    values = np.array(h.getSolution().col_value) if has_point else None
    S = highspy.HighsModelStatus
    if model_status == S.kOptimal:
        status = SolveStatus.OPTIMAL
    elif model_status in (S.kTimeLimit, S.kInterrupt):  # interrupted: at the deadline
        status = SolveStatus.TIME_LIMIT
    elif model_status in (S.kIterationLimit, S.kSolutionLimit):  # mip_max_nodes: kSolutionLimit
        status = SolveStatus.ITERATION_LIMIT
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
        if is_mip:
            # no dual bound proven before a limit is +-inf in HiGHS: no bound, as a guarded
            # run's (a 5,000-region solve at 1 s said lives_saved_bound=inf in Python)
            dual = float(info.mip_dual_bound)
            bound = dual if math.isfinite(dual) else None
            gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else None
            if status is SolveStatus.OPTIMAL and gap is not None and gap < 0:
                gap = 0.0
        else:
            bound, gap = objective, 0.0
    return SolverRun(status, objective, bound, gap, seconds, values)


def _bound(value: Any, default: float) -> float:
    return default if value is None else float(value)
