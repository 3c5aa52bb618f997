"""The two-stage plan by decomposition (method `rounding`): an LP bound of the whole extensive
form by column generation, and a plan made of a whole commit and one recourse per scenario.

HiGHS's branch-and-bound on the extensive form does not scale (US 50 x 47 x 20: 2.2 million
integer columns, no bound proved in minutes; BENCHMARKS.md). The integer columns are the unit
movements only (shipments in batches, transfers); patients are continuous. So:

1. Bound. The LP relaxation of the extensive form, with its link rows substituted out
   (optimiser/stochastic/compact.py: one column per first-stage movement), by the planner's
   own column generation (optimiser/multiperiod/colgen.py): the restricted master holds every
   patient, stock and risk column and the movements priced in; it starts with the movements
   each scenario's own LP uses. Its optimum U bounds every plan's objective from above (a
   relaxation of the same problem); U is reported only when column generation finished (no
   column prices out), else no bound.
2. Commit. The LP's first-stage movements made whole (methods/whole.py's rounding on block 0:
   lane totals rounded, no depot or region sending units it has not got), then cut until
   every scenario can keep them (commit_round.py: what a region may send depends on the
   scenario's patients already on units), once from the LP that also pays CLEANUP_COST per
   unit of logistics cost (the lives LP is degenerate: free circular transfers) and, if that
   plan is not within the tolerance, from the lives LP. If no scenario plan keeps either,
   the commit of nothing (every movement left to the recourse), then branch-and-bound on the
   restricted master (on every column when that holds no whole plan), the best kept; the plan
   that moves nothing at all is the last resort only when all of these fail.
3. Recourse. Per scenario, its block with the commit fixed (a deterministic plan) solved by the
   planner's rounding method (optimiser/stochastic/fixed_commit.py). Together they are a plan
   of the extensive form (checked row by row: `StochasticEngine.meets_rows`, link rows
   included); its objective L is that of a feasible plan.

The gap (U - L) / U is therefore proved. Optimal is reported only when L is within the
engine's tolerance of U (as every method of the planner); otherwise time_limit with the plan
and its gap (a plan is never called optimal on a time limit). Without a time limit every step
is bounded by iterations and nodes, never seconds: the same answer whatever the load.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, cast

import numpy as np

from models.fairness import REGISTRY, ConstraintSpec
from models.multiperiod import PlanModel
from optimiser.deadline import Deadline
from optimiser.multiperiod.colgen import SIMPLEX_DUAL, ColumnGeneration
from optimiser.multiperiod.engine import EXACT_LIMIT
from optimiser.multiperiod.methods.base import (
    CLEANUP_COST,
    DEADLINE_MARGIN,
    FALLBACK_NODES,
    PlanOutcome,
    relative_gap,
)
from optimiser.multiperiod.methods.whole import round_movements
from optimiser.solver import SolverRun, SolveStatus, note_limit, stop_status
from optimiser.stochastic.commit_round import keepable_commit
from optimiser.stochastic.compact import CompactForm, build_compact
from optimiser.stochastic.fixed_commit import solve_recourse

if TYPE_CHECKING:
    from optimiser.stochastic.engine import StochasticEngine, StochasticOutcome


# Columns priced into the compact master per round: fewer than the planner's 20,000, as each
# primal re-solve of the S-block master costs more (US 50 x 47 x 20, LP by column generation:
# 30 s with 20,000, 13.6 s with 5,000, 16.3 s with 2,000; loaded machine, BENCHMARKS.md).
ENTERING_PER_ROUND = 5_000
# A kept rounded commit short of the bound is searched further by branch-and-bound on the
# restricted master only up to this many integer columns in it (the planner's own limit for
# branch-and-bound); above it, the plan and its stated gap stand (4 x 10 x 3 scenarios,
# max_coverage_gap:gap=0.05 with waiting: 184.36 expected lives with a 25% gap before, 243.37,
# exact's optimum, after, from a master of 558 columns).
RESTRICTED_LIMIT = EXACT_LIMIT


def value_at_risk(deaths: np.ndarray, probability: np.ndarray, alpha: float) -> float:
    """An eta minimising eta + (1/alpha) sum_s p_s [D_s - eta]^+ (Rockafellar-Uryasev): the
    deaths of the scenario where the alpha-worst tail's probability is reached."""
    order = np.argsort(-deaths, kind="stable")
    reached = np.cumsum(probability[order]) >= alpha - 1e-12
    return float(deaths[order][int(np.argmax(reached))]) if len(order) else 0.0


def with_risk_columns(engine: StochasticEngine, x: np.ndarray) -> np.ndarray:
    """`x` (changed in place) with the risk columns (eta, the excess deaths) at their best
    for its outcomes."""
    f = engine.form
    if f.eta >= 0:
        deaths = f.base_deaths - f.scenario_lives(x)
        eta = value_at_risk(deaths, f.probability, engine.risk.alpha)
        x[f.eta] = eta
        x[f.excess] = np.maximum(deaths - eta, 0.0)
    return x


class Decomposition:
    """Column generation on the compact extensive form of a StochasticEngine, and the
    commit-plus-recourse plans measured against its bound."""

    def __init__(self, engine: StochasticEngine) -> None:
        t0 = time.perf_counter()
        self.engine = engine
        self.compact: CompactForm = build_compact(engine.form)
        # CompactForm has the attributes ColumnGeneration reads from a PlanModel
        self.colgen = ColumnGeneration(
            cast(PlanModel, self.compact), engine.data[0], engine.options
        )
        self.colgen.max_entering = ENTERING_PER_ROUND
        for family in self.compact.fairness.values():
            self.colgen.highs.set_rows_active(family.rows, False)
            self.colgen.highs.set_rows_active(family.cut_rows, False)
        self._labels: frozenset[str] = frozenset()
        self._seeded = False
        self.seconds = time.perf_counter() - t0
        self.info: dict[str, int] = {}  # the last solve's master: its size, its LP rounds
        self.phases: dict[str, float] = {}  # seconds of each step, summed over the solves

    # ---- the LP bound
    def _activate(self, active: Sequence[ConstraintSpec]) -> np.ndarray:
        labels = frozenset(c.label for c in active if REGISTRY[c.kind].role == "constraint")
        for label, family in self.compact.fairness.items():
            want = label in labels
            if want != (label in self._labels):
                self.colgen.highs.set_rows_active(family.rows, want)
        self._labels = labels
        rows = [self.compact.fairness[label].rows for label in sorted(labels)]
        return np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)

    def _seed(self, deadline: Deadline) -> int:
        """Start the master with the movements each scenario's own LP (lives, no fairness
        rows) uses: fewer, cheaper rounds than pricing from an empty master. Returns the LP
        rounds run."""
        e, f, c = self.engine, self.engine.form, self.compact
        used: list[np.ndarray] = []
        rounds = 0
        for s, (block, data) in enumerate(zip(f.blocks, e.data, strict=True)):
            if deadline.expired():
                break
            own = ColumnGeneration(block, data, e.options)
            for family in block.fairness.values():
                own.highs.set_rows_active(family.rows, False)
                own.highs.set_rows_active(family.cut_rows, False)
            lp = own.solve_lp(block.lives, True, deadline.remaining())
            rounds += lp.rounds
            if lp.values is not None:
                moving = block.movements[lp.values[block.movements] > 1e-9]
                used.append(c.column_of[f.columns(s, moving)])
        if used:
            self.colgen.include(np.unique(np.concatenate(used)))
        return rounds

    # ---- the plan
    def solve(
        self, active: Sequence[ConstraintSpec], tie_break: bool, deadline: Deadline
    ) -> StochasticOutcome:
        from optimiser.stochastic.engine import StochasticOutcome

        t0 = time.perf_counter()
        e, f, c, cg = self.engine, self.engine.form, self.compact, self.colgen
        rows = self._activate(active)
        solves = 0
        if not self._seeded:
            solves += self._seed(deadline)
            self._seeded = True
            self._clock("seed", t0)
        full_cost = e.cost(active)
        cost = c.cost(full_cost)
        tick = time.perf_counter()
        lp = cg.solve_lp(cost, True, deadline.remaining(), rows)
        tick = self._clock("bound", tick)
        solves += lp.rounds
        stops = [lp.status]  # what the runs behind the plan ended with (a time limit or not)
        if lp.status is SolveStatus.INFEASIBLE:  # phase 1 proved it: no plan meets the rows
            return StochasticOutcome(
                SolveStatus.INFEASIBLE, None, None, None, None, None, None, _since(t0), solves
            )
        bound = lp.objective if lp.status is SolveStatus.OPTIMAL else None
        self.info = {"lp_rounds": lp.rounds, "master_columns": len(cg.members)}
        starts: list[np.ndarray] = []
        if lp.values is not None and bound is not None and not deadline.expired():
            logistics = c.cost(f.expected([b.logistics for b in f.blocks]))
            cheap = cg.solve_lp(cost - CLEANUP_COST * logistics, True, deadline.remaining(), rows)
            solves += cheap.rounds
            if cheap.values is not None and cheap.status is SolveStatus.OPTIMAL:
                starts.append(cheap.values)
            tick = self._clock("cleanup_lp", tick)
        if lp.values is not None:
            starts.append(lp.values)
        best: tuple[float, np.ndarray] | None = None
        tried: set[bytes] = set()

        def attempt(commit: np.ndarray) -> None:
            nonlocal best, solves
            if commit.tobytes() in tried:
                return
            tried.add(commit.tobytes())
            plan = self.recourse(commit, active, tie_break, deadline)
            if plan is None:
                return
            values, outs = plan
            objective = float(full_cost @ values)
            solves += sum(o.solves for o in outs)
            stops.extend(o.status for o in outs)
            if best is None or objective > best[0]:
                best = (objective, values)

        for lp_values in starts:
            if best is not None and (deadline.expired() or self._settles(bound, best[0])):
                break
            attempt(self.round_commit(c.expand(lp_values)))
        rounded = best is not None
        if best is None and not deadline.expired():
            # no rounded commit kept: commit nothing now and adapt later, a plan at least as
            # good as the last resort below whenever that one is a plan
            attempt(np.zeros(len(f.first_stage)))
        tick = self._clock("recourse", tick)
        small = int(c.integrality.sum()) <= EXACT_LIMIT
        if (
            not (small or deadline.expired())
            and lp.values is not None
            and (best is None or not self._settles(bound, best[0]))
            and (not rounded or len(self.colgen.integer_columns()) <= RESTRICTED_LIMIT)
        ):
            # no scenario kept a rounded commit (the rows of a fairness constraint, a batch
            # size or a shipment limit that rounding breaks in some scenario), or the plan
            # kept falls short of the bound and the restricted master is small enough for
            # branch-and-bound: branch-and-bound on the restricted master (the columns the LP
            # priced in, every integer column whole) from the best plan, if any. Its plans
            # are plans of the extensive form (absent columns are 0); its bound bounds nothing
            start = None if best is None else best[1]
            runs = [self._branch_and_bound(cost, start, deadline, every_column=False)]
            self.info["restricted_branch_and_bound"] = 1
            if runs[0].values is None and not deadline.expired():
                # the columns priced in hold no whole plan (a shipment limit's binaries):
                # every column in, as on a small model (its bound holds, its infeasibility
                # is a proof); else the commit of nothing or the plan of nothing is all
                runs.append(self._branch_and_bound(cost, start, deadline))
                self.info["branch_and_bound"] = 1
                if runs[-1].status is SolveStatus.INFEASIBLE and best is None:
                    return StochasticOutcome(
                        SolveStatus.INFEASIBLE,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        _since(t0),
                        solves + len(runs),
                    )
                if runs[-1].bound is not None:
                    bound = runs[-1].bound if bound is None else min(bound, runs[-1].bound)
            solves += len(runs)
            for run in runs:
                if run.values is None:
                    continue
                attempt(np.rint(run.values[c.first_stage]))
                whole = self._risk_columns(c.expand(run.values))
                if e.meets_rows(whole, active) and (
                    best is None or float(full_cost @ whole) > best[0]
                ):
                    best = (float(full_cost @ whole), whole)
            tick = self._clock("restricted_branch_and_bound", tick)
        if small and not deadline.expired() and (best is None or not self._settles(bound, best[0])):
            # a small model whose LP bound does not settle it (an integrality gap):
            # branch-and-bound on the whole compact form, every column in the master (its
            # bound then holds for the model), from the best plan; its commit re-planned
            closing = self._branch_and_bound(cost, None if best is None else best[1], deadline)
            solves += 1
            stops.append(closing.status)
            self.info["branch_and_bound"] = 1
            if closing.status is SolveStatus.INFEASIBLE and best is None:
                return StochasticOutcome(
                    SolveStatus.INFEASIBLE, None, None, None, None, None, None, _since(t0), solves
                )
            if closing.bound is not None:
                bound = closing.bound if bound is None else min(bound, closing.bound)
            if closing.values is not None:
                attempt(np.rint(closing.values[c.first_stage]))
            self._clock("branch_and_bound", tick)
        if best is None:
            # the plan of last resort, as the extensive form's start and the planner's
            # fallback: nothing moved (it meets every row but the fairness rows)
            zero = e.zero_plan()
            if e.meets_rows(zero, active):
                best = (float(full_cost @ zero), zero)
        seconds = _since(t0)
        if best is None:
            status = SolveStatus.TIME_LIMIT if deadline.expired() else SolveStatus.ERROR
            return StochasticOutcome(status, None, None, None, None, bound, None, seconds, solves)
        objective, values = best
        settled = self._settles(bound, objective)
        if not settled and not small and bound is not None:
            note_limit(
                "the rounded commit and its recourse, no branch-and-bound on "
                f"{int(c.integrality.sum()):,} integer columns (over {EXACT_LIMIT:,})"
            )
        per = f.scenario_lives(values)
        lives = float(f.probability @ per)
        lives_objective = e.risk.kind == "neutral" and all(
            REGISTRY[s.kind].role == "constraint" for s in active
        )
        return StochasticOutcome(
            status=SolveStatus.OPTIMAL if settled else stop_status(deadline, *stops),
            values=values,
            lives=lives,
            lives_bound=max(bound, lives) if lives_objective and bound is not None else None,
            objective=objective,
            bound=bound,
            gap=None if bound is None else relative_gap(bound, objective),
            seconds=seconds,
            solves=solves,
            scenario_lives=per,
            tail=float(e.tail_of(per)) if f.eta >= 0 else None,
            logistics=float(f.expected([b.logistics for b in f.blocks]) @ values),
        )

    def _branch_and_bound(
        self,
        cost: np.ndarray,
        start: np.ndarray | None,
        deadline: Deadline,
        *,
        every_column: bool = True,
    ) -> SolverRun:
        """HiGHS's branch-and-bound on the compact form with every column priced in (a
        budget of nodes without a time limit: the same answer whatever the load); values in
        the compact numbering. `every_column=False`: on the restricted master as it is (its
        plans are plans, its bound bounds nothing)."""
        cg, c = self.colgen, self.compact
        if every_column:
            cg.include(cg.candidates)
        h = cg.highs
        pos = cg.position[cg.integer_columns()]
        h.set_integrality(pos, True)
        cg.set_cost(cost, True)
        h.set_start(cg.master(c.compact(start)) if start is not None else None)
        h.set_option("simplex_strategy", SIMPLEX_DUAL)
        nodes = None if deadline.end is not None else FALLBACK_NODES
        try:
            run = h.solve(deadline.remaining(), node_limit=nodes)
        finally:
            h.set_integrality(pos, False)
        values = None if run.values is None else cg.full(run.values)
        return replace(run, values=values)

    def _clock(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - since
        return now

    def _settles(self, bound: float | None, objective: float) -> bool:
        o = self.engine.options
        if bound is None:
            return False
        tolerance = max(o.mip_abs_gap, o.mip_rel_gap * max(abs(bound), 1.0)) + 1e-9
        return bound - objective <= tolerance

    def round_commit(self, lp: np.ndarray) -> np.ndarray:
        """Whole first-stage movements near the LP's (block 0's copy; every copy is equal):
        block 0's movements rounded as the planner rounds a plan, the first stage kept, then
        cut until every scenario can keep them (commit_round.py: a unit rounded up may be one
        another scenario's patients are on)."""
        e, f = self.engine, self.engine.form
        block = f.blocks[0]
        whole = round_movements(block, e.data[0], f.block_values(lp, 0))
        return keepable_commit(f, e.data, whole[f.first_stage])

    def recourse(
        self,
        commit: np.ndarray,
        active: Sequence[ConstraintSpec],
        tie_break: bool,
        deadline: Deadline,
    ) -> tuple[np.ndarray, list[PlanOutcome]] | None:
        """Each scenario's recourse after `commit`, as one vector of the extensive form
        (risk columns at their best for those outcomes); None when a scenario has no plan
        (out of time, or the commit cannot be kept there) or the plan misses a row."""
        e, f = self.engine, self.engine.form
        x = np.zeros(f.shape[1])
        outs: list[PlanOutcome] = []
        S = f.scenarios
        for s, (block, data) in enumerate(zip(f.blocks, e.data, strict=True)):
            left = deadline.remaining()
            share = Deadline(None if left is None else left / (S - s), margin=DEADLINE_MARGIN)
            out = solve_recourse(
                block, data, f.first_stage, commit, active, e.options, share, tie_break
            )
            if out.values is None:
                return None
            outs.append(out)
            a = int(f.offsets[s])
            x[a : a + block.shape[1]] = out.values
        x = self._risk_columns(x)
        if not e.meets_rows(x, active):
            return None
        return x, outs

    def _risk_columns(self, x: np.ndarray) -> np.ndarray:
        return with_risk_columns(self.engine, x)


def _since(t0: float) -> float:
    return time.perf_counter() - t0


__all__ = ["Decomposition", "value_at_risk", "with_risk_columns"]
