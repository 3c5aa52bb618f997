"""The one module that talks to HiGHS.

A Pyomo model is compiled once (Pyomo's linear standard-form compiler) and loaded into a
highspy.Highs object. Re-solves then change only what differs: constraint families are switched
on and off through their row bounds, objectives are swapped, rows are appended, column bounds
are changed. Each solve returns a frozen `SolverRun`; a time limit is never reported as optimal.

Longer than the project's ~600 lines on purpose: this stays the one module that talks to HiGHS
(docs/model.md), so how a HiGHS object is made, limited in time and read is audited in one file.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import highspy
import numpy as np

from optimiser import guarded_run
from optimiser.highs_points import meets_model

if TYPE_CHECKING:
    import pyomo.environ as pyo

    from optimiser.deadline import Deadline

INF = math.inf


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


def new_highs() -> highspy.Highs:
    """A silent highspy.Highs object.

    highspy 1.16 prints its banner on standard output the first time a process constructs a
    Highs object, before any option can be set, which would corrupt `--json` output. The
    banner is printed once per process, so the first construction runs with file descriptor 1
    pointed at /dev/null; later ones need nothing.
    """
    global _banner_shown
    with _banner_lock:
        if not _banner_shown:
            _banner_shown = True
            with contextlib.suppress(OSError, ValueError):  # no stdout to protect
                sys.stdout.flush()
            try:
                saved = os.dup(1)
            except OSError:  # descriptor 1 is closed: nothing can reach standard output
                saved = -1
            try:
                if saved >= 0:
                    with open(os.devnull, "wb") as devnull:
                        os.dup2(devnull.fileno(), 1)
                highs = highspy.Highs()
            finally:
                if saved >= 0:
                    os.dup2(saved, 1)
                    os.close(saved)
        else:
            highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    return highs


_banner_lock = threading.Lock()
_banner_shown = False

NODES_UNLIMITED = 2**31 - 1  # HiGHS's default mip_max_nodes (kHighsIInf)


def run_time_limit(highs: highspy.Highs, seconds: float | None, *, mip: bool) -> float:
    """The `time_limit` option that lets the next run of `highs` take `seconds` (wall clock).

    What HiGHS compares its time_limit with differs by solver and version: measured on
    highspy 1.12.0 and 1.15.1, the simplex compares it with the run time of the Highs object
    summed over every run (ERGO-Code/HiGHS#1331, #1477; highspy has no zeroAllClocks), while
    branch-and-bound compares it with the current run's time only. Taking either reading for
    both made re-solved LPs stop at once or per-run MIP limits grow 1, 2, 4, 8 s. So the
    reading is measured once per process and kind (`_limit_counts_every_run`), and the limit
    set accordingly."""
    if seconds is None or not math.isfinite(seconds):
        return INF
    seconds = max(float(seconds), 1e-3)
    if _limit_counts_every_run(mip):
        return float(highs.getRunTime()) + seconds
    return seconds


@functools.cache
def _limit_counts_every_run(mip: bool) -> bool:
    """Does this HiGHS compare time_limit with the time of every run of a Highs object so far
    (True) or with the current run's (False), for MIPs (`mip`) or LPs?

    A probe model runs once (stopped by a short limit, or solved), so the object's clock holds
    t > 0; then, from scratch, a second run gets time_limit = t / 2. Counted over every run,
    the limit is already spent and the run stops at once; counted per run, HiGHS cannot stop
    it for time before t / 2 of wall clock has passed, and it works (simplex iterations) in
    that time. A run that stopped after t / 2 without any work says neither (a loaded machine
    kept HiGHS from starting): it is run again, at most three times. About 3 ms for LPs and
    30 ms for MIPs, once per process."""
    rng = np.random.default_rng(7)
    n, m = (30, 6) if mip else (400, 6)
    weights = rng.integers(20, 100, size=(m, n)).astype(float)
    values = rng.integers(20, 100, size=n).astype(float)
    h = new_highs()
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    matrix = _csc(weights)
    h.passModel(
        n,
        m,
        int(matrix[0][-1]),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMaximize),
        0.0,
        values,
        np.zeros(n),
        np.ones(n),
        np.full(m, -INF),
        weights.sum(axis=1) / 2,
        matrix[0],
        matrix[1],
        matrix[2],
        np.ones(n, dtype=np.int32) if mip else np.zeros(n, dtype=np.int32),
    )
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("time_limit", 0.02)
    h.run()
    spent = float(h.getRunTime())
    idle_every_time = True
    for _trial in range(3):
        h.clearSolver()
        h.setOptionValue("time_limit", spent / 2)
        t0 = time.perf_counter()
        h.run()
        seconds = time.perf_counter() - t0
        stopped = h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit
        info = h.getInfo()
        idle = info.simplex_iteration_count <= 0 and (not mip or info.mip_node_count <= 0)
        if not stopped or (not idle and seconds >= spent / 2):
            return False  # it worked for its own t / 2: the limit counts this run only
        if seconds < spent / 4:
            return True  # stopped at once: the limit was spent before the run began
        # Stopped after t / 2 without any work: a loaded machine kept HiGHS from starting
        # before its own clock passed t / 2 (either reading); run again.
        idle_every_time = idle_every_time and idle
    return idle_every_time


def _csc(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, cols = dense.shape
    start = np.arange(0, rows * cols + 1, rows, dtype=np.int32)
    index = np.tile(np.arange(rows, dtype=np.int32), cols)
    return start, index, dense.T.ravel().astype(float)


class SolveStatus(StrEnum):
    """How a run ended. A run stopped before proving its answer is TIME_LIMIT only when the
    user's time limit stopped it; ITERATION_LIMIT when the method's own limits of work did
    (column-generation rounds, branch-and-bound nodes, HiGHS iterations: what Pyomo's
    contrib.solver calls TerminationCondition.iterationLimit, its one condition for every
    limit that is not time). Both come with the best answer found and its proven gap."""

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ERROR = "error"

    @property
    def stopped(self) -> bool:
        """Stopped at a limit (time, or the method's own) before proving its answer."""
        return self in STOPPED


STOPPED = frozenset({SolveStatus.TIME_LIMIT, SolveStatus.ITERATION_LIMIT})


def stop_status(deadline: Deadline | None, *runs: object) -> SolveStatus:
    """The status of work that stopped before proving its answer: TIME_LIMIT when the user's
    time limit stopped it (its `deadline` has passed, or one of the `runs`' statuses says a
    time limit stopped it), else ITERATION_LIMIT (the method's own limits: no time limit was
    set, or it was not reached). A time limit is never reported as optimal; a limit the user
    never set is never reported as a time limit."""
    if SolveStatus.TIME_LIMIT in runs or (deadline is not None and deadline.expired()):
        return SolveStatus.TIME_LIMIT
    return SolveStatus.ITERATION_LIMIT


# What stopped the work of the current request at its own limits (`note_limit`), in words, for
# the result's explanation (`limits_reached`); per thread and task, so concurrent requests in
# one process keep apart.
_LIMITS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "triage_limits", default=None
)


def note_limit(what: str) -> None:
    """Record that a run stopped at its own limit `what` (e.g. "branch-and-bound node limit
    (5,000 nodes)"), for the explanation of an ITERATION_LIMIT result."""
    seen = _LIMITS.get()
    if seen is not None and what not in seen:
        seen.append(what)


@contextlib.contextmanager
def limits_reached() -> Iterator[list[str]]:
    """Collect, in order, the limits `note_limit` records inside the block (nested blocks
    share the outer list)."""
    seen = _LIMITS.get()
    if seen is not None:
        yield seen
        return
    seen = []
    token = _LIMITS.set(seen)
    try:
        yield seen
    finally:
        _LIMITS.reset(token)


def limit_explanation(
    status: object,
    limits: Iterable[str],
    gap: float | None,
    bound: float | None,
    what: str,
    found: bool = True,
) -> str | None:
    """The explanation of an ITERATION_LIMIT result: the limits that stopped it and the gap
    and bound it proved (`what`: "plan", "allocation"; `found`: one was); None for any other
    status."""
    if status != SolveStatus.ITERATION_LIMIT:
        return None
    named = "; ".join(limits) or "the method's own limits of work"
    proof = (
        "no bound was proved"
        if bound is None or not math.isfinite(bound)
        else f"proven objective bound {bound:,.4f}"
        + ("" if gap is None or not math.isfinite(gap) else f", gap {100 * gap:.4f}%")
    )
    return (
        f"iteration limit: no time limit stopped this {what}; the method's own limits did: "
        f"{named}. Not proved optimal: {proof}. "
        + (f"The best {what} found is reported." if found else f"No {what} was found.")
    )


PROBING_RULE = 1 << 15  # HiGHS presolve_rule_off bit of probing (HiGHS's own log names it)


@dataclass(frozen=True)
class SolverOptions:
    """Typed solver settings. Deterministic by default: one thread, fixed seed."""

    time_limit: float | None = None
    # Absolute gap control: every optimum is proved to within half of PRICE_PRECISION (0.01
    # lives) of its bound, so a price (a difference of two optima) is exact to 0.01 lives.
    # The relative gap is off: at 1e-6 it let L* = 7,730 stop 0.008 lives short.
    mip_rel_gap: float = 0.0
    mip_abs_gap: float = 0.005
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
    """HiGHS, Pyomo and highspy versions, looked up once per process (a copy each call)."""
    return dict(_solver_versions())


@functools.cache
def _solver_versions() -> dict[str, str]:
    return {
        "highs": new_highs().version(),
        "pyomo": _package_version("pyomo"),  # from its metadata: no need to import Pyomo
        "highspy": _package_version("highspy"),
    }


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


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
        self.highs = new_highs()
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
        runner.setOptionValue("time_limit", run_time_limit(runner, left, mip=True))
        start_objective = None
        lp = None
        if start is not None:
            runner.setSolution(_solution(start))
            lp = h.getLp()
            start_objective = float(np.dot(np.asarray(lp.col_cost_), start) + lp.offset_)
        incumbent = guarded_run.Incumbent(start, start_objective)
        finished, _ = guarded_run.run_with_deadline(runner, left, incumbent, _RUN_HOOK)
        seconds = time.perf_counter() - t0
        if finished:
            return _read_run(runner, True, seconds)
        found = incumbent.found()
        if (
            found.values is not None
            and start is not None
            and lp is not None
            and np.array_equal(found.values, start)
            and not meets_model(lp, start)
        ):
            # HiGHS reported nothing and the start breaks the model (a caller's starting
            # point, not a plan: the planner's exact method starts from the plan that moves
            # nothing, which breaks a floor): no answer, rather than an infeasible one.
            # Checked only here, when it would be the answer (0.3 s on 120,000 columns).
            found = replace(found, values=None, objective=None)
        if found.values is None or found.objective is None:
            seconds = time.perf_counter() - t0
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
            bound = float(info.mip_dual_bound)
            gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else None
            if status is SolveStatus.OPTIMAL and gap is not None and gap < 0:
                gap = 0.0
        else:
            bound, gap = objective, 0.0
    return SolverRun(status, objective, bound, gap, seconds, values)


def _bound(value: Any, default: float) -> float:
    return default if value is None else float(value)


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
        self.highs = new_highs()
        h = self.highs
        h.setOptionValue("output_flag", self.options.log)
        h.setOptionValue("random_seed", self.options.seed)
        h.setOptionValue("threads", self.options.threads)
        h.setOptionValue("mip_rel_gap", self.options.mip_rel_gap)
        h.setOptionValue("mip_abs_gap", self.options.mip_abs_gap)
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
