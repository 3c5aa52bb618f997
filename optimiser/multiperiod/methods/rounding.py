"""The rounding method: column generation for the LP bound U, then rounding + repair for a
whole plan (docs/multiperiod.md, "Solution methods").

A family with a `switch` (max_coverage_gap's z) is branched on, not relaxed: each assignment of
the active switches (1 first) is its own column-generation LP (U = the largest branch optimum,
a valid bound exactly as if the switches were binary), rounded and repaired with them fixed;
a family with a lambda `axis` (threshold) is branched on lambda (lambda_search.py). If the best
plan is not within the gap tolerance of U, branch-and-bound near it polishes it (polish.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import highspy
import numpy as np

from models.fairness import HorizonFamily
from optimiser.multiperiod.colgen import ColumnGeneration, LpResult
from optimiser.multiperiod.methods import polish
from optimiser.multiperiod.methods.base import (
    CLEANUP_COST,
    LIVES_TOL_ABS,
    LIVES_TOL_REL,
    NEIGHBOURHOOD_NODES,
    POLISH_INTEGER_LIMIT,
    POLISH_NODES,
    PlanOutcome,
    Setting,
    Task,
    relative_gap,
)
from optimiser.multiperiod.methods.lift import Lifted, lift
from optimiser.multiperiod.methods.rule_repair import rule_movements
from optimiser.multiperiod.methods.whole import measured, round_movements, units_on_hand
from optimiser.solver import MatrixHighsModel, SolveStatus, note_limit, stop_status

# Priced (movement) columns from which the logistics-paying LP is solved first (100 x 90 with
# 10-nearest transfers: 115,460; us-states-apr2020: 108,780; italy-2020-wave1: 42,091; the
# tests' generated ones: a few thousand).
CHEAP_FIRST_CANDIDATES = 50_000
# A rounded plan short of the bound is lifted by whole-unit moves (methods/lift.py) before any
# branch-and-bound when on (track roundfix; BENCHMARKS.md, "roundfix": 60 x 30 with waiting,
# 0.18 lives short, 0.4 against 2.2-2.7 CPU-s; a rounding the neighbourhood MIP alone closes
# pays the lift's repair LPs, at most 12). Off by default: measured on one natural case only,
# and it changes which of the optimal plans is returned (us-states-apr2020's documented plans
# ship 243-255 fewer units; a stochastic price by decomposition moved 0.02 lives).
LIFT = False


@dataclass(frozen=True)
class Branch:
    """One column-generation LP of the rounding method and its best rounded plan."""

    status: SolveStatus
    bound: float | None
    best: tuple[float, np.ndarray] | None
    solves: int
    seconds: float
    lp: np.ndarray | None = None  # the LP solution (full-length)
    # the optimal basis of the LP (lives objective), for the lambda search's children
    basis: highspy.HighsBasis | None = None


def received_limits(
    families: tuple[HorizonFamily, ...],
    switches: Mapping[str, float],
    values: np.ndarray | None,
    regions: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Limits lower_r <= X_r <= upper_r on the units each region receives net that the active
    families impose (-inf / +inf: none), for the rounding: each family's `limits` (a switch
    family in the branch `switches` gives it; a family reading the LP's own columns reads
    them from `values`)."""
    lower = np.full(regions, -np.inf)
    upper = np.full(regions, np.inf)
    for family in families:
        limits = family.limits(values, switches.get(family.label))
        if limits is None:
            continue
        lower = np.maximum(lower, limits[0])
        upper = np.minimum(upper, limits[1])
    return lower, upper


class RoundingMethod:
    """Column generation, rounding, repair and polish on the restricted master."""

    name = "rounding"

    def __init__(self, setting: Setting, colgen: ColumnGeneration) -> None:
        self.setting = setting
        self.colgen = colgen

    @property
    def highs(self) -> MatrixHighsModel:
        return self.colgen.highs

    def solve(self, task: Task, start: np.ndarray | None = None) -> PlanOutcome:
        from optimiser.multiperiod.methods.lambda_search import lambda_search

        s, cg = self.setting, self.colgen
        switches = [f for f in task.families if f.switch is not None]
        solves, seconds = 0, 0.0
        bounds: list[float] = []
        bound_known = True
        best: tuple[float, np.ndarray] | None = None
        feasible = False
        # Without the switch families the problem is a relaxation of every branch: its bound
        # holds for all of them, and a branch plan within the gap tolerance of it ends the
        # branching (its solve is cached: the price of fairness asks for it anyway).
        relaxed_bound: float | None = None
        if switches and task.relaxed is not None:
            ref = task.relaxed()
            if ref.status is SolveStatus.INFEASIBLE:
                return PlanOutcome(SolveStatus.INFEASIBLE, None, None, None, None, 0.0, 0)
            relaxed_bound = ref.bound
        zcols = np.array([f.switch for f in switches], dtype=np.int64)
        skipped = False
        for assignment in itertools.product((1.0, 0.0), repeat=len(switches)):
            if best is not None and s.settles(relaxed_bound, best[0]):
                skipped = True
                break
            z = {f.label: value for f, value in zip(switches, assignment, strict=True)}
            cg.fix_columns(zcols, np.asarray(assignment, dtype=float))
            cuts = [f.cuts(z[f.label]) for f in switches]
            cut_rows = np.concatenate(cuts) if cuts else np.zeros(0, dtype=np.int64)
            cg.highs.set_rows_active(cut_rows, True)
            try:
                branch = lambda_search(self, task, np.concatenate([task.rows, cut_rows]), z)
            finally:
                cg.fix_columns(zcols, None)
                cg.highs.set_rows_active(cut_rows, False)
            solves += branch.solves
            seconds += branch.seconds
            if branch.status is SolveStatus.INFEASIBLE:
                continue
            feasible = True
            if branch.bound is None:
                bound_known = False
            else:
                bounds.append(branch.bound)
            if branch.best is not None and (best is None or branch.best[0] > best[0]):
                best = branch.best
        if not feasible and not skipped:
            return PlanOutcome(SolveStatus.INFEASIBLE, None, None, None, None, seconds, solves)
        bound = max(bounds) if bound_known and bounds and not skipped else None
        if relaxed_bound is not None:
            bound = relaxed_bound if bound is None else min(bound, relaxed_bound)
        deadline = task.deadline
        futile = task.whole_mip_futile and s.model.integrality.sum() > POLISH_INTEGER_LIMIT
        if futile and best is not None and not s.settles(bound, best[0]):
            note_limit(
                "the lambda search's leaves (their LP bounds): no branch-and-bound over the "
                "threshold's lambda without a time limit (give one to try it)"
            )
        if (
            not deadline.expired()
            and not task.improving_over(best is not None)
            and (best is None or (bound is not None and not s.settles(bound, best[0])))
            and not (best is not None and futile)
        ):
            limit = deadline.remaining()
            if best is not None:
                # the plan's shipments kept, its transfers re-planned: a small MIP first
                moved = polish.transfer_neighbourhood(
                    cg, task.cost, best[1], limit, NEIGHBOURHOOD_NODES if limit is None else None
                )
                solves += moved.rounds
                seconds += moved.seconds
                if moved.values is not None and float(task.cost @ moved.values) > best[0]:
                    best = float(task.cost @ moved.values), moved.values
        if (
            not deadline.expired()
            and not task.improving_over(best is not None)
            and (best is None or (bound is not None and not s.settles(bound, best[0])))
            and not (best is not None and futile)
        ):
            limit = deadline.remaining()
            begin = best[1] if best is not None else s.zero
            # No plan yet on a small model: the restricted master may lack the columns every
            # plan needs (only those the LP priced in), so branch-and-bound on the whole model;
            # its "infeasible" is then a proof. Large models keep the restricted master.
            whole_model = best is None and s.model.integrality.sum() <= POLISH_INTEGER_LIMIT
            if whole_model:
                cg.include(cg.candidates)
            polished = polish.polish(
                cg, task.cost, begin, limit, POLISH_NODES if limit is None else None
            )
            solves += 1
            seconds += polished.seconds
            if polished.values is not None and (
                best is None or float(task.cost @ polished.values) > best[0]
            ):
                best = float(task.cost @ polished.values), polished.values
            if whole_model and best is None and polished.status is SolveStatus.INFEASIBLE:
                return PlanOutcome(SolveStatus.INFEASIBLE, None, None, None, None, seconds, solves)
        if best is None:
            # no plan: for want of time (a branch or node left unsolved) or a failed run
            # (the bound proved so far is kept: the fallback plan's gap is measured against it)
            status = SolveStatus.TIME_LIMIT if deadline.expired() else SolveStatus.ERROR
            return PlanOutcome(status, None, None, None, None, seconds, solves, bound=bound)
        objective, values = best
        gap = None if bound is None else relative_gap(bound, objective)
        ok = s.settles(bound, objective)
        return PlanOutcome(
            SolveStatus.OPTIMAL if ok else stop_status(deadline),
            values,
            s.lives_of(values),
            objective,
            gap,
            seconds,
            solves,
            logistics=s.logistics_of(values),
            stage1_lives=None,
            bound=bound,
        )

    def round_branch(
        self,
        task: Task,
        active_rows: np.ndarray,
        z: Mapping[str, float],
        round_plan: bool = True,
        incumbent: float | None = None,
        from_parent: bool = False,
    ) -> Branch:
        """One LP by column generation (switches fixed at `z`), rounded twice: from the
        lives-only optimum and from an LP that also pays CLEANUP_COST per unit of logistics
        cost. If the better of the two is not within the gap tolerance of the LP bound, a small
        MIP around it (polish.neighbourhood) may improve it. The plan kept saves the most
        lives; with tie_break, the lowest logistics cost among the plans within LIVES_TOL of
        the most: the same candidates either way, so the cost never decides against a life.
        Without `round_plan`, or when the LP bound is within the gap tolerance of `incumbent`
        (a plan found elsewhere), the LP alone is returned. `from_parent`: HiGHS holds the
        optimal basis of an LP with the same objective and looser bounds (a lambda node's
        parent's), to start the dual simplex from."""
        s, cg = self.setting, self.colgen
        p = s.model
        cost, deadline = task.cost, task.deadline

        def cheap_cost() -> np.ndarray:  # made when used, not held through the repairs
            return cost - CLEANUP_COST * p.logistics

        # On a large model without a lambda axis, the LP that pays for logistics first: column
        # generation is far faster on it than on the degenerate lives-only LP, whose optimum
        # is then a few primal pivots (often none) away (BENCHMARKS.md, "Planner growth").
        # Lambda nodes keep the lives LP first (a bound before the deadline); so do small
        # models, where both LPs are cheap and the lives LP's own (degenerate) vertex rounds
        # to a second candidate plan.
        early = None
        if (
            round_plan
            and len(cg.candidates) - len(p.send.cols) >= CHEAP_FIRST_CANDIDATES
            and not any(f.axis is not None for f in task.families)
        ):
            early = cg.solve_lp(cheap_cost(), True, deadline.remaining(), active_rows)
        lp = first = None
        if early is None and from_parent:
            # A lambda node: its rows and bounds changed since the LP before it (the parent's,
            # optimal for the same lives objective), whose basis stays dual feasible: the dual
            # simplex from it, no phase 1, when the restricted master is feasible (300 x 90,
            # threshold:tau=0, the first leaf: 34 s of dual simplex after a phase 1, against
            # a few from the root's basis). A master found infeasible proves nothing (columns
            # not priced in yet): then the phase 1 as for any LP with fairness rows.
            first = cg.solve_lp(cost, True, deadline.remaining(), None)
            if first.values is not None or deadline.expired():
                lp = first
        if lp is None:
            lp = cg.solve_lp(cost, True, deadline.remaining(), active_rows, warm=early is not None)
        solves, seconds = lp.rounds, lp.seconds
        if first is not None and lp is not first:
            solves, seconds = solves + first.rounds, seconds + first.seconds
        if early is not None:
            solves, seconds = solves + early.rounds, seconds + early.seconds
        if lp.values is None:
            return Branch(lp.status, None, None, solves, seconds)
        # the cheap LP's values, kept only when they differ from the lives LP's (the same values
        # round to the same plan): not held through the repairs (BENCHMARKS.md, "mem5")
        cheap_first = early is not None
        again = None
        if early is not None and early.values is not None:
            again = None if np.array_equal(early.values, lp.values) else early.values
        early = None
        bound = lp.objective if lp.status is SolveStatus.OPTIMAL else None
        axis = any(f.axis is not None for f in task.families)
        basis = cg.save_basis() if axis and bound is not None else None  # for the children
        closed = incumbent is not None and s.settles(bound, incumbent)
        if not round_plan or closed:  # nothing to round, or nothing better to find here
            return Branch(lp.status, bound, None, solves, seconds, lp.values, basis)
        tol = LIVES_TOL_ABS + LIVES_TOL_REL * abs(lp.objective or 0.0)
        switch_of = {f.label: f.switch for f in task.families if f.switch is not None}
        zcols = [switch_of[label] for label in z]
        plans: list[tuple[float, np.ndarray, np.ndarray]] = []  # (objective, plan, its LP)
        duals: list[np.ndarray | None] = []  # each plan's repair LP's row duals (methods/lift.py)

        def rounded(values: np.ndarray) -> np.ndarray:
            lower, upper = received_limits(task.families, z, values, s.data.n)
            fixed = round_movements(p, s.data, values, lower, upper)
            fixed[zcols] = list(z.values())
            self.complete(task, fixed)
            return fixed

        def short(objective: float) -> bool:  # a plan the lift may take up: its duals kept
            # not at a lambda node (threshold): its gap is mostly the rule's, not the rounding's,
            # and a lift per node is not measured
            return LIFT and not axis and bound is not None and not s.settles(bound, objective)

        def whole(values: np.ndarray) -> None:
            nonlocal solves, seconds
            fixed = self.rule_rounded(task, values, rounded)
            run = cg.repair(fixed, cost, True, deadline.remaining(), duals=short)
            solves += 1
            seconds += run.seconds
            if run.values is not None and run.status is SolveStatus.OPTIMAL:
                plans.append((float(cost @ run.values), run.values, values))
                duals.append(run.duals)

        if incumbent is not None and deadline.expired():
            # a plan is known already: no repair run starts once the budget is spent
            return Branch(lp.status, bound, None, solves, seconds, lp.values, basis)
        whole(lp.values)
        # The LP optimum is degenerate (free circular transfers); an LP solution that also
        # pays a little for logistics (lives - CLEANUP_COST x cost, re-optimised from the same
        # basis) rounds better.
        if cheap_first:
            if again is not None:
                whole(again)
        elif lp.status is SolveStatus.OPTIMAL and not deadline.expired():
            # a lambda node's master is feasible (its LP above): no phase 1, whose basis the
            # dual simplex would start from (12 s of 13 at 300 x 90), but the primal simplex
            # from the lives LP's optimal basis (restored after the repair), as `warm` says
            rows = None if first is not None else active_rows
            cheap = cg.solve_lp(cheap_cost(), True, deadline.remaining(), rows, warm=True)
            solves += cheap.rounds
            seconds += cheap.seconds
            if cheap.values is not None:
                whole(cheap.values)
        if not plans:
            return Branch(lp.status, bound, None, solves, seconds, basis=basis)
        top = max(plans, key=lambda c: c[0])  # the first of equals: independent of tie_break
        y = duals[next(i for i, c in enumerate(plans) if c is top)]
        if bound is not None and not s.settles(bound, top[0]) and y is not None:
            # whole units moved where the repair LP's duals say they save more (no MIP)
            lifted = self.lift(task, top[1], y, bound)
            if lifted is not None:
                solves += lifted.steps
                seconds += lifted.seconds
                plans.append((lifted.objective, lifted.values, top[2]))
                top = max(plans, key=lambda c: c[0])
        duals.clear()
        if bound is not None and not s.settles(bound, top[0]) and not deadline.expired():
            limit = deadline.remaining()
            near = polish.neighbourhood(
                cg, cost, top[1], top[2], limit, NEIGHBOURHOOD_NODES if limit is None else None
            )
            solves += 1
            seconds += near.seconds
            if near.values is not None:
                plans.append((float(cost @ near.values), near.values, top[2]))
        most = max(c[0] for c in plans)
        if task.tie_break:
            close = [c for c in plans if c[0] >= most - tol]
            chosen = min(close, key=lambda c: float(p.logistics @ c[1]))
        else:
            chosen = max(plans, key=lambda c: c[0])
        return Branch(lp.status, bound, (chosen[0], chosen[1]), solves, seconds, basis=basis)

    def lift(self, task: Task, plan: np.ndarray, duals: np.ndarray, bound: float) -> Lifted | None:
        """`lift.lift` on a whole plan of this branch (its integer columns, z too, fixed as
        in `plan`; the families' own integer columns completed from its movements)."""
        s, cg, deadline = self.setting, self.colgen, task.deadline

        def repair(values: np.ndarray) -> LpResult:
            self.complete(task, values)
            return cg.repair(values, task.cost, True, deadline.remaining(), duals=True)

        return lift(
            s.model,
            task.cost,
            plan,
            duals,
            repair,
            lambda objective: s.settles(bound, objective),
            deadline.expired,
        )

    def rule_rounded(
        self, task: Task, values: np.ndarray, rounded: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """`rounded(values)`, the whole movements near an LP solution; under a lambda rule
        (threshold) the first of the plans rounded at a lambda scanned down from the LP's that
        meets every active fairness row (methods/rule_repair.py), when the LP's own misses."""
        axes = [f.axis for f in task.families if f.axis is not None]
        if axes:
            cg = self.colgen
            bounds = [(float(cg.lower[axis.lam[0]]), float(cg.upper[axis.lam[0]])) for axis in axes]
            meeting = rule_movements(self.setting.model, task.rows, axes, bounds, values, rounded)
            if meeting is not None:
                return meeting
        return rounded(values)

    def complete(self, task: Task, movements: np.ndarray) -> None:
        """Each active family's own integer columns in the whole plan `movements`, from the
        units each region receives net by its last useful day (threshold's stop binaries)."""
        s = self.setting
        p, d = s.model, s.data
        received: np.ndarray | None = None
        for family in task.families:
            if not family.completes:
                continue
            if received is None:
                hands = units_on_hand(p, d, movements[p.ship.cols], movements[p.transfer.cols])
                received = measured(d, hands)
            family.complete(received, movements)
