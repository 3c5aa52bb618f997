"""The regions of a planner conflict with a share cap (`PlanEngine.conflict_numbers`): the
regions that the other constraints of an infeasible set force to receive more units net than
max_share_of_supply allows one region, each number proved by its own solve on the planner's
model.

Transfers between regions, lending and the last useful day make a hand-derived least X_r
unsound (a coverage gap can be met by lending a region's own units away as well as by sending
units in), so each region's least X_r is a MIP: the planner's whole model with the other
constraints' rows on, the cap's off and the objective min h_{r,D_r} (X_r = h_{r,D_r} -
own_{r,D_r}). A region is named only when the solve's proved lower bound, rounded up to a whole
unit (X_r is whole in every plan: the moves are), is above the cap. Runs only to explain an
infeasible set: a feasible plan never reaches it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from models.fairness import ConstraintSpec
from models.fairness.max_share_of_supply import ShareCapFamily
from optimiser.errors import counted
from optimiser.matrix_highs_model import MatrixHighsModel
from optimiser.multiperiod.methods.base import FALLBACK_NODES
from optimiser.solver import SolveStatus

if TYPE_CHECKING:
    from optimiser.multiperiod.engine import PlanEngine

MAX_NAMED = 3  # regions named (each needs its own solve)
MIP_LIMIT = 5_000  # integer columns up to which the movements stay whole (the exact method's)
# Columns above which no region is solved (the conflict keeps the message without regions):
# each solve is the whole model's LP without column generation (us-states-apr2020, ~150,000
# columns: four LPs in about 7 s; 1,000 x 90 would take minutes each).
LP_LIMIT = 400_000
INTEGRALITY_TOLERANCE = 1e-6  # a bound within this of a whole number is that number (as HiGHS)
PROVED = (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT, SolveStatus.ITERATION_LIMIT)


class LeastReceived:
    """The planner's whole model in a HiGHS copy of its own (the engine's solvers keep their
    state) with the fairness rows of `active` on, every other family's rows and cut rows off;
    `least(weights)` minimises sum_r weights_r X_r."""

    def __init__(self, engine: PlanEngine, active: Sequence[ConstraintSpec]) -> None:
        p = engine.model
        self.engine = engine
        # Above MIP_LIMIT integer columns, the movements relaxed (the families' own switches,
        # max_coverage_gap's z, stay whole): its least X_r is a lower bound too (weaker, still
        # proved), where 5,000-node MIPs on the whole model took over ten minutes
        # (us-states-apr2020, 108,781 integer columns; the rest of the plan 1.2 s).
        integrality = p.integrality
        if int(np.count_nonzero(integrality)) > MIP_LIMIT:
            integrality = integrality.copy()
            integrality[p.movements] = 0
            if len(p.uses):
                integrality[p.uses] = 0
        self.highs = MatrixHighsModel(
            p.col_lower, p.col_upper, p.matrix, p.row_lower, p.row_upper, integrality,
            engine.options,
        )
        on = {c.label for c in active}
        for label, family in p.fairness.items():
            self.highs.set_rows_active(family.rows, label in on)
            self.highs.set_rows_active(family.cut_rows, False)
        days = p.data.measure_days()
        rows = np.arange(p.data.n)
        self.measured = p.hand[rows, days]  # columns of h_{r,D_r}
        self.own = p.data.own[rows, days]

    def solve(self, weights: np.ndarray) -> tuple[SolveStatus, np.ndarray | None, float | None]:
        """min sum_r weights_r h_{r,D_r}: the status, the plan's X_r and the proved lower bound
        on sum_r weights_r X_r (None without one)."""
        e = self.engine
        cost = np.zeros(self.highs.num_cols)
        cost[self.measured] = weights
        self.highs.set_cost(cost, maximize=False)
        limit = e.deadline.remaining() if e.deadline is not None else e.options.time_limit
        # a budget of nodes, the time limit only a cutoff: the same regions named whatever the
        # machine's load (as far as the time limit allows)
        run = self.highs.solve(limit, node_limit=FALLBACK_NODES)
        if run.values is None or run.status not in PROVED:
            return run.status, None, None
        received = run.values[self.measured] - self.own
        offset = float(weights @ self.own)
        bound = None if run.bound is None or not math.isfinite(run.bound) else run.bound - offset
        return run.status, received, bound

    def release(self) -> None:
        self.highs.release()


def whole_above(bound: float) -> int:
    """The least whole number of units at or above a proved lower bound."""
    return math.ceil(bound - INTEGRALITY_TOLERANCE)


def cap_conflict(engine: PlanEngine, core: Sequence[ConstraintSpec]) -> str:
    """The regions that the constraints of `core` other than its share caps force to receive
    more units net (by their last useful days) than the tightest cap allows one region ('' when
    none is proved). Only the regions above the cap in the plan with the fewest units received
    in total can be (a region's least is at most what it receives there); each named is proved
    by a solve minimising its own X_r."""
    fair = engine.model.fairness
    caps = [c for c in core if isinstance(fair.get(c.label), ShareCapFamily)]
    rest = [c for c in core if c not in caps]
    if not caps or not rest:
        return ""
    tightest = min(caps, key=lambda c: float(getattr(fair[c.label], "cap", math.inf)))
    family = fair[tightest.label]
    assert isinstance(family, ShareCapFamily)
    cap = float(family.cap)
    d = engine.data
    if engine.model.shape[1] > LP_LIMIT:
        return ""
    model = LeastReceived(engine, rest)
    try:
        _, plan, _ = model.solve(np.ones(d.n))
        if plan is None:
            return ""
        order = [int(r) for r in np.argsort(-plan, kind="stable") if plan[r] > cap + 0.5]
        named: list[tuple[int, int]] = []
        for r in order[:MAX_NAMED]:
            weights = np.zeros(d.n)
            weights[r] = 1.0
            _, _, bound = model.solve(weights)
            if bound is not None and whole_above(bound) > cap:
                named.append((r, whole_above(bound)))
    finally:
        model.release()
    if not named:
        return ""
    listed = [f"{units:,} in {d.regions[r]}" for r, units in named]
    listed[0] = listed[0].replace(" in ", " units in ", 1)
    listing = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
    left = len(order) - len(order[:MAX_NAMED])
    more = (
        f" (and {counted(left, 'more region')} above the cap in the plan with the fewest units "
        "received, not solved one by one)"
        if left
        else ""
    )
    labels = " and ".join(c.label for c in rest)
    verb = "needs" if len(rest) == 1 else "together need"
    when = "its last useful day" if len(named) == 1 else "each region's last useful day"
    share = float(tightest.options["share"])
    return (
        f"infeasible: {labels} {verb} at least {listing}, received net by {when}{more}, but "
        f"{tightest.label} allows a region at most {counted(int(cap), 'unit')} ({share:g} of the "
        f"{counted(int(d.supply), 'unit')} delivered over the horizon){engine.history_note()}"
    )
