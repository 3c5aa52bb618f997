"""`plan_under_uncertainty`: the two-stage stochastic planner's entry point (CLI, service, the
backtest, Python). Load+validate (the caller's instance and ScenarioSet) -> build
(StochasticEngine: one planner block per scenario + links) -> solve -> extract ->
StochasticResult."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.fairness import ConstraintSpec
from models.stochastic import Risk
from optimiser.deadline import Deadline
from optimiser.engine_protocol import check_time_limit, price_table, request_deadline
from optimiser.errors import InputError, Problem
from optimiser.multiperiod.engine import ABS_GAP
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.methods.base import DEADLINE_MARGIN
from optimiser.multiperiod.plan_io import plan_rows, today_from
from optimiser.multiperiod.planner import (
    FINISH_SHARE_OF_BUILD,
    REPAIR_SHARE_OF_BUILD,
    SETTLE_SHARE_OF_BUDGET,
    active_constraints,
)
from optimiser.multiperiod_args import check_multiperiod
from optimiser.results import PRICE_COLUMNS
from optimiser.scenarios.model import ScenarioSet
from optimiser.solver import (
    SolverOptions,
    SolveStatus,
    limit_explanation,
    limits_reached,
    solver_versions,
)
from optimiser.stochastic.engine import StochasticEngine, StochasticOutcome
from optimiser.stochastic.results import COMMITTED_COLUMNS, SCENARIO_COLUMNS, StochasticResult
from optimiser.stochastic.risk import parse_risk
from optimiser.stochastic.settle import settle_scenarios

DEFAULT_COMMIT_DAYS = 7
# A time-limited plan keeps this multiple of the extensive form's build + translation (or the
# planner's share of the budget, when more) for settling each scenario's patient flow after
# the solves (optimiser/stochastic/settle.py): US 50 x 47 x 20, 7.2 s of settling against
# about 2 s of build + translation (one run, load 2.7).
SETTLE_SHARE_OF_EXTENSIVE_BUILD = 5.0


def plan_under_uncertainty(
    instance: MultiPeriodInstance,
    scenarios: ScenarioSet,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    *,
    commit_days: int = DEFAULT_COMMIT_DAYS,
    risk: Risk | str | Mapping[str, Any] | None = None,
    default_constraints: bool = True,
    executed: pd.DataFrame | str | Path | None = None,
    today: int | None = None,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    tie_break: bool = True,
    price_of_fairness: bool = True,
    relax_recourse: bool = False,
    deadline: Deadline | None = None,
    method: str = "auto",
) -> StochasticResult:
    """The two-stage plan: the movements of the commit window [today, today + commit_days)
    the same in every scenario, the rest per scenario; most expected survivors (or the risk
    measure `risk`: "cvar:alpha=0.1,lambda=0.5", "worst:alpha=0.2"). Every fairness
    constraint holds in every scenario. `executed`/`today`: moves already made (rolling
    horizon, as `plan`). `time_limit`: one budget for the call. InputError for bad input
    (nothing computed); an infeasible constraint set is a result with status 'infeasible'
    and an explanation. `relax_recourse`: only the commit in whole units, the recourse an
    LP (faster on large instances; its expected lives are an upper bound of the integer
    recourse's, said in the result's `sizes`). `deadline`: the budget of a caller that started
    it before loading (the CLI: from the process's start, less what writing the answer will
    take; the service: from the job's start); it replaces `time_limit`. `method`: "exact"
    (HiGHS's branch-and-bound on the whole extensive form), "rounding" (decomposition:
    column generation for the LP bound, a whole commit, the planner's recourse per scenario;
    optimiser/stochastic/decomp.py) or "auto" (exact up to 5,000 integer columns)."""
    t0 = time.perf_counter()
    check_multiperiod(instance, "optimiser.stochastic.plan_under_uncertainty")
    check_time_limit(time_limit)
    budget = request_deadline(time_limit, deadline, t0, margin=DEADLINE_MARGIN)
    if mip_gap is not None and (
        isinstance(mip_gap, bool) or not isinstance(mip_gap, int | float) or not 0 <= mip_gap < 1
    ):
        raise InputError(
            Problem(f"must be in [0, 1), got {mip_gap!r}", column="mip_gap", column_word="option")
        )
    rows = None
    if executed is not None:
        rows = plan_rows(executed, instance, executed=True, name="executed")
        if today is None:
            today = today_from(rows)
    start = int(today or 0)
    active = active_constraints(instance, constraints, default_constraints)
    chosen = parse_risk(risk)
    options = SolverOptions(
        time_limit=budget.limit,
        mip_rel_gap=0.0 if mip_gap is None else float(mip_gap),
        mip_abs_gap=ABS_GAP,
    )
    engine = StochasticEngine(
        instance,
        scenarios,
        active,
        commit_days=commit_days,
        risk=chosen,
        options=options,
        executed=rows,
        today=start,
        relax_recourse=relax_recourse,
        method=method,
    )
    # the solves leave time for what follows them (extraction), as plan()'s do
    # ... and for settling each scenario's patient flow (its LPs, then the solver-free repair)
    build = engine.build_seconds + engine.translate_seconds
    settling = budget.reserved((FINISH_SHARE_OF_BUILD + REPAIR_SHARE_OF_BUILD) * build)
    engine.deadline = settling.reserved(
        max(SETTLE_SHARE_OF_EXTENSIVE_BUILD * build, SETTLE_SHARE_OF_BUDGET * (budget.limit or 0))
    )
    timings = {"build": engine.build_seconds, "translate": engine.translate_seconds}
    t1 = time.perf_counter()
    with limits_reached() as limits:  # the own limits (rounds, nodes) the plan stopped at
        main = engine.solve(active, tie_break=tie_break)
    timings["solve"] = time.perf_counter() - t1
    t_settle = time.perf_counter()
    main = settle_scenarios(engine, main, active, settling)
    timings["settle"] = time.perf_counter() - t_settle
    explanation = limit_explanation(
        main.status, limits, main.gap, main.bound, "plan", main.values is not None
    )
    if main.status is SolveStatus.INFEASIBLE:
        explanation = engine.explain_infeasible(active)
    t2 = time.perf_counter()
    star = engine.solve([], tie_break=False, skip_when_expired=True)
    if price_of_fairness and active and main.values is not None and chosen.kind == "neutral":
        price = price_table(engine, active, star, budget)
    else:
        price = pd.DataFrame(columns=PRICE_COLUMNS)
    timings["price_of_fairness"] = time.perf_counter() - t2
    if engine.decomposition is not None:  # the decomposition's steps, inside solve + prices
        timings.update({f"rounding_{k}": v for k, v in engine.decomposition.phases.items()})
    timings["total"] = time.perf_counter() - t0
    s = instance.settings
    f = engine.form
    outcomes = list(engine._outcomes.values())
    return StochasticResult(
        instance=instance.name,
        status=main.status,
        days=instance.days,
        today=start,
        commit_days=engine.commit_days,
        risk=chosen.label,
        alpha=chosen.alpha if chosen.uses_tail else None,
        constraints=tuple(c.label for c in active),
        settings={k: getattr(s, k) for k in s.__dataclass_fields__},
        expected_lives=main.lives,
        lives_bound=main.lives_bound,
        lives_optimal=star.lives if star.status is SolveStatus.OPTIMAL else None,
        gap=main.gap,
        cvar_deaths=main.tail,
        expected_deaths=None
        if main.scenario_lives is None
        else float(f.probability @ (f.base_deaths - main.scenario_lives)),
        committed=committed_rows(engine, main),
        per_scenario=scenario_table(engine, main),
        price_of_fairness=price,
        explanation=explanation,
        executed=_plan_form(rows),
        solver={
            "name": "highs",
            "version": solver_versions()["highs"],
            "seconds": round(sum(o.seconds for o in outcomes), 4),
            "solves": sum(o.solves for o in outcomes),
            "objective": main.objective,
            "bound": main.bound,
            "method": engine.method,
        },
        timings=timings,
        sizes={
            "scenarios": f.scenarios,
            "columns": int(f.shape[1]),
            "rows": int(f.shape[0]),
            "nonzeros": int(f.matrix.nnz),
            "integer_columns": int(f.integrality.sum()),
            "first_stage_columns": len(f.first_stage),
            "relaxed_recourse": int(relax_recourse),
            **(engine.decomposition.info if engine.decomposition is not None else {}),
        },
        scenario_info={"ids": scenarios.ids, "sampled": scenarios.sampled, **dict(scenarios.info)},
    )


def committed_rows(engine: StochasticEngine, out: StochasticOutcome) -> pd.DataFrame:
    """The first-stage movements (block 0's; the link rows make every block's the same)."""
    if out.values is None:
        return pd.DataFrame(columns=COMMITTED_COLUMNS)
    f = engine.form
    block, d = f.blocks[0], engine.data[0]
    x = f.block_values(out.values, 0)
    end = engine.today + engine.commit_days
    regions, depots = list(d.regions), list(d.depots)
    rows: list[tuple[str, int, str, str, float, int]] = []
    ship = block.ship
    units = d.batch_size * x[ship.cols]
    for i in np.flatnonzero((units > 0.5) & (ship.day < end)):
        k, r, day = int(ship.depot[i]), int(ship.region[i]), int(ship.day[i])
        lead = int(d.ship_lead[k, r])
        rows.append(("ship", day, depots[k], regions[r], float(units[i]), day + lead))
    t = block.transfer
    moved = x[t.cols]
    for i in np.flatnonzero((moved > 0.5) & (t.day < end)):
        a, day = int(t.lane[i]), int(t.day[i])
        src, dst = regions[int(d.arc_src[a])], regions[int(d.arc_dst[a])]
        rows.append(("transfer", day, src, dst, float(moved[i]), day + int(d.arc_lead[a])))
    frame = pd.DataFrame(rows, columns=COMMITTED_COLUMNS)
    return frame.sort_values(["day", "kind", "from", "to"], kind="stable").reset_index(drop=True)


def scenario_table(engine: StochasticEngine, out: StochasticOutcome) -> pd.DataFrame:
    f = engine.form
    ids = engine.scenarios.ids
    if out.values is None or out.scenario_lives is None:
        return pd.DataFrame(columns=SCENARIO_COLUMNS, index=pd.Index(ids, name="scenario"))
    shipped = [
        float(d.batch_size * f.block_values(out.values, s)[b.ship.cols].sum())
        for s, (b, d) in enumerate(zip(f.blocks, engine.data, strict=True))
    ]
    frame = pd.DataFrame(
        {
            "probability": f.probability,
            "lives": out.scenario_lives,
            "deaths": f.base_deaths - out.scenario_lives,
            "patients": [float(d.group_size.sum()) for d in engine.data],
            "units_shipped": shipped,
        },
        index=pd.Index(ids, name="scenario"),
    )
    return frame[SCENARIO_COLUMNS]


def _plan_form(rows: pd.DataFrame | None) -> pd.DataFrame:
    if rows is None or not len(rows):
        return pd.DataFrame(columns=COMMITTED_COLUMNS)
    out = pd.DataFrame(
        {
            "kind": rows["kind"].astype(str).to_numpy(),
            "day": rows["day"].astype("int64").to_numpy(),
            "from": rows["src"].astype(str).to_numpy(),
            "to": rows["dst"].astype(str).to_numpy(),
            "units": rows["units"].astype(float).to_numpy(),
            "arrives": rows["arrives"].astype("int64").to_numpy(),
        }
    )
    return out[COMMITTED_COLUMNS]
