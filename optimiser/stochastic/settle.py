"""The two-stage plan's patient flow, settled per scenario for its movements (the planner's
rule: docs/multiperiod.md, "Waiting").

The deterministic planner settles its final plan (methods/settle.py): with every shipment and
transfer held, first the most (weighted) lives, then every patient admitted as early as
possible, so no patient waits, or is turned away, while a staffed unit is free in their region
for their whole stay (check-plan's `idle_while_waiting`). The extensive form's optimum, by
either method, says nothing of *when* among plans as good a patient is admitted: with waiting,
both methods returned plans check-plan rejects (4 regions x 10 days, waiting 2 days, 3
log-normal scenarios: idle units beside waiting patients in every scenario).

With every movement held, the scenario blocks share nothing (the link rows bind movements
only), so the settling is one deterministic settle per block. It never lowers a scenario's
(weighted) lives; the risk columns are then set at their best for the new outcomes
(Rockafellar-Uryasev's value at risk), and the plan is kept only if it still meets every row
and its objective is not lower (with prioritarian weights and `cvar`, more weighted lives
could mean more deaths in the tail: the plan given is kept then).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from models.fairness import REGISTRY, ConstraintSpec
from models.multiperiod_data import objective_weights
from optimiser.deadline import Deadline
from optimiser.multiperiod.methods.base import PlanOutcome, Setting, relative_gap
from optimiser.multiperiod.methods.exact import ExactMethod
from optimiser.multiperiod.methods.settle import repaired, settle_patients
from optimiser.stochastic.decomp import with_risk_columns
from optimiser.stochastic.fixed_commit import start_plan

if TYPE_CHECKING:
    from optimiser.stochastic.engine import StochasticEngine, StochasticOutcome


def settle_scenarios(
    engine: StochasticEngine,
    out: StochasticOutcome,
    active: Sequence[ConstraintSpec],
    deadline: Deadline,
) -> StochasticOutcome:
    """`out` with each scenario's patient flow settled (its movements kept); `out` itself
    when there is no plan, the budget is spent, or the settled plan would be worse."""
    if out.values is None or out.objective is None:
        return out
    f = engine.form
    labels = {c.label for c in active if REGISTRY[c.kind].role == "constraint"}
    values = np.array(out.values, dtype=float)
    for s, (block, data) in enumerate(zip(f.blocks, engine.data, strict=True)):
        setting = Setting(block, engine.options, start_plan(block, data))
        cost = block.weighted_lives(objective_weights(data, active))
        x = f.block_values(values, s)
        given = PlanOutcome(
            status=out.status,
            values=x,
            lives=setting.lives_of(x),
            objective=float(cost @ x),
            gap=None,
            seconds=0.0,
            solves=0,
        )
        if deadline.expired():
            # the budget spent: the rule kept without a solver (methods/idle_repair.py), as
            # the deterministic planner does; an unsettled plan is one check-plan rejects
            settled = repaired(setting, given, cost)
        else:
            exact = ExactMethod(setting).load(labels)
            settled = settle_patients(setting, given, cost, deadline, None, exact)
        if settled.values is not None:
            a = int(f.offsets[s])
            values[a : a + block.shape[1]] = settled.values
    values = with_risk_columns(engine, values)
    objective = float(engine.cost(active) @ values)
    worse = objective < out.objective - 1e-6 * max(1.0, abs(out.objective))
    if worse or not engine.meets_rows(values, active):
        return out
    per = f.scenario_lives(values)
    lives = float(f.probability @ per)
    return replace(
        out,
        values=values,
        lives=lives,
        lives_bound=None if out.lives_bound is None else max(out.lives_bound, lives),
        objective=objective,
        gap=out.gap
        if out.bound is None or out.gap is None
        else min(out.gap, relative_gap(out.bound, objective)),
        scenario_lives=per,
        tail=float(engine.tail_of(per)) if f.eta >= 0 else None,
        logistics=float(f.expected([b.logistics for b in f.blocks]) @ values),
    )


__all__ = ["settle_scenarios"]
