"""The narrow interface of the planner's solution methods (docs/multiperiod.md,
"Solution methods"), and what they share.

A method takes a `Task` (the objective, the active fairness families, tie-break or not, the
deadline) and answers a `PlanOutcome`; it reads the model only through the `Setting` (the
built model, the solver options, the tolerance every optimum is proved to). The engine
(optimiser/multiperiod/engine.py) chooses the method, switches the fairness rows, caches the
outcomes and keeps the better of two attempts; the methods are:

* exact.py: HiGHS branch-and-bound on the whole model, then the logistics tie-break;
* rounding.py: column generation for the LP bound, rounded plans repaired by an LP, with
  lambda_search.py for the threshold rule's lambda (rule_repair.py: whole plans that meet it)
  and polish.py near a plan that leaves a gap;
* fallback.py: the plan of last resort (nothing shipped) when no method proves a plan;
* settle.py: the final plan's patient flow settled for its movements;
* cleanup.py: the final plan's movements at the least logistics cost, its patient flow fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from models.fairness import ConstraintSpec, HorizonFamily
from models.multiperiod import MultiPeriodData, PlanModel
from optimiser.deadline import Deadline
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus, stop_status

# Tolerances, declared once. Stage 2 keeps the lives objective within LIVES_TOL_REL (relative,
# plus LIVES_TOL_ABS) of stage 1's: far below one life. VALUE_DIGITS: patients are written with
# this many decimals.
LIVES_TOL_REL = 1e-9
LIVES_TOL_ABS = 1e-7
VALUE_DIGITS = 9
# Optional searches without a time limit get a budget of branch-and-bound nodes, not of
# seconds: a wall-clock budget proved less on a loaded machine and so changed the answer
# (the same plan asked twice, under load average 3 and 8, gave L* and "not proved"). With a
# time limit the deadline bounds them too.
POLISH_NODES = 2_000  # branch-and-bound on the restricted master when rounding leaves a gap
POLISH_INTEGER_LIMIT = 5_000  # ... not over a lambda axis without a time limit above this size
NEIGHBOURHOOD_NODES = 500  # ... on the movements where the whole plan and the LP disagree
FALLBACK_NODES = 5_000  # the exact method after the rounding method (auto, small models)
CLEANUP_COST = 1e-4  # lives per unit of logistics cost in the rounding method's second LP
STAGE2_GAP = 1e-4  # the tie-break stage stops within 0.01% of the least logistics cost
DEADLINE_MARGIN = 0.05  # start no optional search in the deadline's last 50 ms


@dataclass(frozen=True)
class PlanOutcome:
    """One solve for a set of active constraints."""

    status: SolveStatus
    values: np.ndarray | None
    lives: float | None
    objective: float | None
    gap: float | None
    seconds: float
    solves: int
    logistics: float | None = None
    stage1_lives: float | None = None
    bound: float | None = None
    lives_bound: float | None = None  # upper bound on lives when the objective is lives

    def with_lives_bound(self, lives_objective: bool) -> PlanOutcome:
        if not lives_objective or self.bound is None or self.lives is None:
            return replace(self, lives_bound=None)
        return replace(self, lives_bound=max(self.bound, self.lives))


def relative_gap(bound: float, objective: float) -> float:
    """Relative gap (U - L) / U of a plan's objective L against an upper bound U."""
    return max(0.0, (bound - objective) / max(abs(bound), 1e-9))


def clean_values(model: PlanModel, values: np.ndarray) -> np.ndarray:
    """Integers rounded, patients clipped to their bounds and rounded to VALUE_DIGITS decimals
    (the numbers written to the plan, so the engine and check-plan count the same patients)."""
    x = np.array(values, dtype=float)
    integral = model.integrality.astype(bool)
    x[integral] = np.rint(x[integral])
    for cols in (model.admit.cols, model.send.cols, model.ptransfer.cols):
        v = np.clip(x[cols], model.col_lower[cols], model.col_upper[cols])
        v = np.floor(v * 10**VALUE_DIGITS + 1e-3) / 10**VALUE_DIGITS
        x[cols] = np.where(v < 10**-VALUE_DIGITS, 0.0, v)
    return x


@dataclass(frozen=True)
class Setting:
    """What every method reads: the built model, the solver options, the start plan."""

    model: PlanModel
    options: SolverOptions
    zero: np.ndarray  # ships nothing, admits only the patients on units at the start

    @property
    def data(self) -> MultiPeriodData:
        return self.model.data

    def tolerance(self, bound: float) -> float:
        """How far below the bound a plan may be and count as optimal: the absolute gap, or
        the relative one when that is looser (as HiGHS stops at whichever is met first)."""
        o = self.options
        return max(o.mip_abs_gap, o.mip_rel_gap * max(abs(bound), 1.0)) + 1e-9

    def settles(self, bound: float | None, objective: float) -> bool:
        """A plan of `objective` is within the gap tolerance of the upper bound `bound`."""
        return bound is not None and bound - objective <= self.tolerance(bound)

    def proved(self, out: PlanOutcome) -> bool:
        return out.status is SolveStatus.INFEASIBLE or (
            out.values is not None
            and out.objective is not None
            and self.settles(out.bound, out.objective)
        )

    def better(self, first: PlanOutcome, second: PlanOutcome) -> PlanOutcome:
        """Combine two attempts at the same problem (rounding, then exact): a proof of
        infeasibility wins; else the plan with the higher objective, its gap measured against
        the lower of the two bounds (both are upper bounds of any plan), optimal when it
        settles against that bound or HiGHS proved the second within the same tolerance."""
        seconds, solves = first.seconds + second.seconds, first.solves + second.solves
        if second.status is SolveStatus.INFEASIBLE:
            return replace(second, seconds=seconds, solves=solves)
        plans = [o for o in (first, second) if o.values is not None]
        bounds = [o.bound for o in (first, second) if o.bound is not None]
        bound = min(bounds) if bounds else None
        if not plans:
            return replace(second, seconds=seconds, solves=solves, bound=bound)
        best = max(plans, key=lambda o: o.objective or 0.0)
        gap = best.gap if bound is None else relative_gap(bound, best.objective or 0.0)
        settled = bound is not None and self.settles(bound, best.objective or 0.0)
        if best is second and second.status is SolveStatus.OPTIMAL:
            settled = True
        status = SolveStatus.OPTIMAL if settled else stop_status(None, first.status, second.status)
        return replace(best, status=status, gap=gap, bound=bound, seconds=seconds, solves=solves)

    def lives_of(self, values: np.ndarray) -> float:
        return float(self.model.lives @ clean_values(self.model, values))

    def logistics_of(self, values: np.ndarray) -> float:
        return float(self.model.logistics @ clean_values(self.model, values))


@dataclass(frozen=True)
class Task:
    """One ask: maximise `cost` under the `families` of the active constraints (their rows
    already switched on by the engine). `relaxed`: solves the same ask without the families
    the rounding method branches on (a bound for each of its branches)."""

    active: tuple[ConstraintSpec, ...]
    families: tuple[HorizonFamily, ...]
    cost: np.ndarray
    tie_break: bool
    deadline: Deadline
    relaxed: Callable[[], PlanOutcome] | None = None
    node_limit: int | None = None  # a budget of branch-and-bound nodes per HiGHS run
    # once a plan is found, the search for a better one (more lambda nodes, polish) stops here
    # (before `deadline`: the time after it is kept for L*); None: at `deadline`
    improve_until: Deadline | None = None

    def improving_over(self, found: bool) -> bool:
        """Has the time to improve on a plan found (`found`) run out?"""
        return found and self.improve_until is not None and self.improve_until.expired()

    @property
    def rows(self) -> np.ndarray:
        """The active fairness rows."""
        rows = [f.rows for f in self.families]
        return np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)

    @property
    def whole_mip_futile(self) -> bool:
        """Is the rounding method's polish (branch-and-bound on the whole restricted master)
        left out? Yes for a lambda axis (the threshold rule) without a time limit on a model
        over POLISH_INTEGER_LIMIT integer columns (the caller checks the size). The lambda
        search's bound is the largest LP bound of its leaves (k fixed); HiGHS with lambda free
        starts from the rule-free LP, far above it (30 x 30, seed 2, waiting 1 day, 25,072
        integer columns: 2139.28 against 2129.04 lives, best plan 2128.62), and POLISH_NODES
        nodes on it ran over ten minutes without narrowing the gap. The plan is then reported
        with the lambda search's proven gap as iteration_limit, never optimal. With a time
        limit the user's budget is spent on it; small models go on to the exact method."""
        return self.deadline.end is None and any(f.axis is not None for f in self.families)


class Method(Protocol):
    """A solution method: `solve` a task (from `start`, a plan to begin from, when given);
    `highs`: its HiGHS model, whose fairness rows the engine switches (None until built)."""

    name: str

    @property
    def highs(self) -> MatrixHighsModel | None: ...

    def solve(self, task: Task, start: np.ndarray | None = None) -> PlanOutcome: ...
