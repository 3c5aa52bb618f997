"""Sample-average approximation with independent replications and statistical bounds on the
optimality gap (Mak, Morton and Wood 1999, "Monte Carlo bounding techniques for determining
solution quality in stochastic programs"; docs/stochastic.md, "Sample-average approximation").

The true problem: z* = max_x E[Q(x, xi)], x the commit (first stage), Q the best recourse
(expected extra survivors) once the demand xi is known. We MAXIMISE, so the directions are:

* replication m = 1..M solves the extensive form on N i.i.d. scenarios xi^{m,1..N} (fresh
  seeds from one master seed): optimum v_m, proven bound b_m >= v_m. E[v_N] >= z* (the SAA
  optimum is optimistic), so the mean of the b_m is an UPPER bound estimate, with the
  one-sided bound  mean(b) + t_{M-1, c} s_b / sqrt(M);
* each replication's commit x_m is scored on a separate selection sample; the best is the
  candidate x^. Its value E[Q(x^, xi)] <= z* is estimated on N' fresh scenarios: the LOWER
  bound estimate, with the one-sided bound  mean - t_{N'-1, c} s / sqrt(N');
* the gap z* - E[Q(x^, xi)] (MMW's multiple-replication procedure, common random numbers):
  G_m = b_m - (1/N) sum_i Q(x^, xi^{m,i}) >= 0 (x^ is feasible in every replication's SAA
  problem). MMW need x^ independent of the samples it is scored on; x^ is replication
  best's own optimum, whose G_best is only its MIP gap, so that replication is left out:
  G = mean over the M-1 others, one-sided bound  G + t_{M-2, c} s_G / sqrt(M-1) (with M = 2
  there is no variance: the bound below is reported instead);
* a gap bound that needs no independence at all: upper_bound_high - lower_bound_low with each
  one-sided bound at (1 + c) / 2, valid at c by the union bound whatever x^ is.

Q(x, xi) is the deterministic planner's optimum for that demand with x fixed as executed moves
(the same recourse as optimiser.stochastic.compare), so every figure is in the model's lives.
Replications and recourse solves run on optimiser.executor (local processes, or Dask).

Rolling horizon: `executed` moves (and `today`) are fixed in every replication, selection and
evaluation scenario, as the stochastic planner fixes them; the commit is the window [today,
today + commit_days). A risk measure (`risk`, as the stochastic planner's) changes what is
bounded: f(x) = E[L] - lambda CVaR_alpha(deaths), or -CVaR_alpha(deaths), with the lower bound
and the gap taken at an eta fixed on the selection sample (optimiser.stochastic.saa_objective).

Where the pieces live: the samples in saa_sampling.py, the executor in saa_runner.py, the
options' checks in saa_checks.py, the statistics in saa_bounds.py, the risk measure's
objective in saa_objective.py, the result in saa_result.py; this module runs the procedure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.fairness import REGISTRY, ConstraintSpec
from models.stochastic import Risk
from optimiser.deadline import Deadline
from optimiser.errors import InfeasibleError, InputError, Problem, TriageError, counted
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios.model import ScenarioSet, check_compatible
from optimiser.scenarios.stats import cvar
from optimiser.scenarios.table import GeneratorRequest
from optimiser.solver_status import SolveStatus
from optimiser.stochastic.api import DEFAULT_COMMIT_DAYS, plan_under_uncertainty
from optimiser.stochastic.saa_bounds import (
    CANDIDATE_NOTE,
    gap_estimate,
    gap_from_bounds,
    one_sided,
)
from optimiser.stochastic.saa_budget import (
    STOPPED,
    RecourseBudget,
    SaaTimeLimit,
    remaining,
    replication_done,
    startable,
)
from optimiser.stochastic.saa_checks import MAX_SCENARIOS as MAX_SCENARIOS
from optimiser.stochastic.saa_checks import _check as _check  # optimiser/service/saa_tasks.py
from optimiser.stochastic.saa_checks import _check_window as _check_window
from optimiser.stochastic.saa_objective import SaaObjective
from optimiser.stochastic.saa_result import SaaResult
from optimiser.stochastic.saa_runner import _chunks, _Runner
from optimiser.stochastic.saa_sampling import Source, draw, seeds

DEFAULT_CONFIDENCE = 0.95


def solve_replication(
    instance: MultiPeriodInstance,
    sample: ScenarioSet,
    constraints: list[Any],
    default_constraints: bool,
    commit_days: int,
    mip_gap: float | None,
    risk: Risk | None = None,
    executed: pd.DataFrame | None = None,
    today: int | None = None,
    stop_at: float | None = None,
) -> dict[str, Any]:
    """One SAA problem (the extensive form on `sample`, the executed moves fixed): v_m, b_m
    (of the risk measure's objective, SaaObjective) and the commit x_m. `stop_at` (epoch
    seconds): the run's deadline; a replication stopped by it keeps HiGHS's proven bound. One
    that cannot fit in what is left (saa_budget.startable) is not started: SaaTimeLimit."""
    import time

    left = startable(stop_at, "replication")
    started = time.perf_counter()
    result = plan_under_uncertainty(
        instance,
        sample,
        constraints,
        commit_days=commit_days,
        risk=risk,
        default_constraints=default_constraints,
        executed=executed,
        today=today,
        mip_gap=mip_gap,
        price_of_fairness=False,
        deadline=None if left is None else Deadline(left),  # all that is left of the run
    )
    replication_done(stop_at, result, time.perf_counter() - started)
    if result.status == "infeasible":
        raise InfeasibleError(
            "an SAA replication is infeasible: the constraints cannot hold in every scenario "
            f"of its sample. {result.explanation or ''}".strip()
        )
    if result.expected_lives is None and result.status == "time_limit":
        raise SaaTimeLimit("an SAA replication found no plan before the time limit")
    if result.expected_lives is None:
        raise TriageError(
            f"an SAA replication has no plan (status {result.status}): "
            f"{result.explanation or 'no explanation'}"
        )
    measure = risk or Risk()
    if measure.kind == "neutral":
        value = float(result.expected_lives)
        bound = result.lives_bound if result.lives_bound is not None else value
    else:  # the objective of the risk measure, from the outcomes; HiGHS's bound on it
        table = result.per_scenario
        value = SaaObjective(measure).sample_value(
            table["lives"].to_numpy(dtype=float),
            table["deaths"].to_numpy(dtype=float),
            table["probability"].to_numpy(dtype=float),
        )
        proven = result.solver.get("bound")
        bound = value if proven is None else max(float(proven), value)
    return {
        "value": value,
        "bound": float(bound),
        "committed": result.committed,
        "end": int(result.commit_end),
        "today": int(result.today),
        "executed": result.executed,
    }


def recourse_lives(
    instance: MultiPeriodInstance,
    commit: pd.DataFrame,
    end: int,
    sample: ScenarioSet,
    constraints: list[Any],
    default_constraints: bool,
) -> tuple[list[float], int]:
    """Q(commit, xi) for every scenario of `sample` (the deterministic re-plan from `end`
    with the commit fixed); the second value counts scenarios re-planned without fairness."""
    out = recourse_outcomes(instance, commit, end, sample, constraints, default_constraints)
    return out[0], out[2]


def recourse_outcomes(
    instance: MultiPeriodInstance,
    commit: pd.DataFrame,
    end: int,
    sample: ScenarioSet,
    constraints: list[Any],
    default_constraints: bool,
    deaths: bool = False,
    stop_at: float | None = None,
) -> tuple[list[float], list[float], int]:
    """recourse_lives, and (with `deaths`) each scenario's deaths D0 - L (empty otherwise).
    `stop_at` (epoch seconds): every re-plan's deadline (saa_budget.RecourseBudget);
    SaaTimeLimit when one could not be made or was cut short by it."""
    from optimiser.multiperiod.data import model_data
    from optimiser.stochastic.compare import recourse
    from optimiser.stochastic.engine import base_deaths

    budget = None if stop_at is None else RecourseBudget(stop_at)
    if budget is not None:
        remaining(stop_at)
    plans, relaxed = recourse(
        instance, commit, end, sample, constraints, default_constraints, budget=budget
    )
    if budget is not None and (
        len(plans) < len(sample.ids)
        or any(p.status == SolveStatus.TIME_LIMIT for p in plans.values())
    ):  # a re-plan not made, or cut short (not optimal): no bounds from it
        raise SaaTimeLimit(STOPPED)
    lives_out, deaths_out = [], []
    for sid, inst in sample.instances(instance) if deaths else ((s, None) for s in sample.ids):
        lives = plans[sid].lives_saved
        if lives is None:
            raise TriageError(f"no recourse plan in scenario {sid} (status {plans[sid].status})")
        lives_out.append(float(lives))
        if inst is not None:
            deaths_out.append(base_deaths(instance, model_data(inst)) - float(lives))
    return lives_out, deaths_out, relaxed

def saa(
    instance: MultiPeriodInstance,
    source: Source,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    *,
    replications: int = 10,
    sample_size: int = 10,
    evaluation_size: int = 100,
    selection_size: int | None = None,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    commit_days: int = DEFAULT_COMMIT_DAYS,
    risk: Risk | str | Mapping[str, Any] | None = None,
    default_constraints: bool = True,
    executed: pd.DataFrame | str | Path | None = None,
    today: int | None = None,
    mip_gap: float | None = None,
    time_limit: float | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool = False,
) -> SaaResult:
    """M = `replications` SAA problems of N = `sample_size` scenarios each, the candidate
    chosen on `selection_size` scenarios (default N), scored on N' = `evaluation_size`; the
    bounds of the module docstring. `source`: a GeneratorRequest (run with fresh seeds) or a
    ScenarioSet taken as the true distribution (resampled). `risk`, `executed`, `today`: as
    plan_under_uncertainty's (a risk measure changes what is bounded: SaaResult.objective).
    Same seed, same answer, however the work is split: `workers` local processes (1: this
    process; default the cores) or a Dask `scheduler` (address or client). `progress`: bars
    on a terminal. `time_limit`: seconds for the whole run (SaaTimeLimit when it passes; a
    replication it stops keeps its proven bound)."""
    import time

    from optimiser.engine_protocol import check_time_limit
    from optimiser.multiperiod.planner import active_constraints
    from optimiser.stochastic.risk import parse_risk

    check_time_limit(time_limit)
    stop_at = None if time_limit is None else time.time() + float(time_limit)
    _check(replications, sample_size, selection_size, evaluation_size, seed, confidence, workers)
    if isinstance(source, ScenarioSet):
        check_compatible(source, instance)
    measure = parse_risk(risk)
    objective = SaaObjective(measure)
    specs = list(constraints or [])
    if measure.kind != "neutral":
        weighted = [
            c.label
            for c in active_constraints(instance, specs, default_constraints)
            if REGISTRY[c.kind].role != "constraint"
        ]
        if weighted:
            raise InputError(
                Problem(
                    f"SAA with a risk measure bounds expected lives and CVaR of deaths; "
                    f"{', '.join(weighted)} changes the objective's weights, so HiGHS's bound "
                    "would not bound it: drop one of the two",
                    column="risk",
                    column_word="option",
                )
            )
    rows = None
    if executed is not None:
        from optimiser.multiperiod.plan_io import plan_rows

        rows = plan_rows(executed, instance, executed=True, name="executed")
    if today is None:
        from optimiser.multiperiod.plan_io import today_from

        today = today_from(rows) if rows is not None else 0
    _check_window(instance, commit_days, today)
    select_n = selection_size or sample_size
    from optimiser.scenarios.generators import check_size

    for option, n in (("sample", sample_size), ("select-on", select_n),
                      ("evaluate-on", evaluation_size)):  # drawn (or resampled) in memory
        check_size(instance, n, option)
    M = replications
    rep_seeds = seeds(seed, M + 2)
    samples = [draw(instance, source, sample_size, s) for s in rep_seeds[:M]]
    selection = draw(instance, source, select_n, rep_seeds[M])
    evaluation = draw(instance, source, evaluation_size, rep_seeds[M + 1])
    tail = objective.tail
    with _Runner(workers, scheduler, progress) as runner:
        reps = runner.run(
            [
                (
                    solve_replication,
                    (
                        instance,
                        s,
                        specs,
                        default_constraints,
                        commit_days,
                        mip_gap,
                        measure,
                        rows,
                        today,
                        stop_at,
                    ),
                )
                for s in samples
            ],
            f"SAA replications ({M} x {sample_size} scenarios)",
        )
        end = reps[0]["end"]
        prior = reps[0]["executed"]

        def fixed(commit: pd.DataFrame) -> pd.DataFrame:
            parts = [f for f in (prior, commit) if len(f)]
            return pd.concat(parts, ignore_index=True) if parts else commit

        scored = runner.run(
            [
                (
                    recourse_outcomes,
                    (
                        instance,
                        fixed(r["committed"]),
                        end,
                        selection,
                        specs,
                        default_constraints,
                        tail,
                        stop_at,
                    ),
                )
                for r in reps
            ],
            "choose the candidate",
        )
        p_sel = selection.probability.to_numpy(dtype=float)
        selection_means = [
            objective.sample_value(np.array(lives), np.array(deaths), p_sel)
            for lives, deaths, _ in scored
        ]
        best = int(np.argmax(selection_means))  # ties: the first replication
        committed = reps[best]["committed"]
        eta = objective.eta(np.array(scored[best][1]), p_sel)
        parts = _chunks(evaluation, 4 * runner.count) if runner.count > 1 else [evaluation]
        runs = runner.run(
            [
                (
                    recourse_outcomes,
                    (instance, fixed(committed), end, s, specs, default_constraints, tail, stop_at),
                )
                for s in [*samples, *parts]
            ],
            "score the candidate",
            size=lambda r: len(r[0]),
            total=M * sample_size + evaluation_size,
        )
    outside_runs = runs[M:]
    outside_lives = np.array([x for lives, _, _ in outside_runs for x in lives])
    outside_deaths = np.array([x for _, deaths, _ in outside_runs for x in deaths])
    relaxed = sum(r for _, _, r in runs) + sum(r for _, _, r in scored)
    own = np.array(
        [
            float(np.mean(objective.terms(np.array(lives), np.array(deaths), eta)))
            for lives, deaths, _ in runs[:M]
        ]
    )
    bounds = np.array([r["bound"] for r in reps])
    gaps = bounds - own
    outside = objective.terms(outside_lives, outside_deaths, eta)
    upper = float(bounds.mean())
    lower = float(outside.mean())
    estimate = gap_estimate(gaps, best, confidence)
    from_bounds = gap_from_bounds(bounds, outside, confidence)
    both = (1.0 + confidence) / 2.0
    in_gap = np.arange(M) != best
    table = pd.DataFrame(
        {
            "seed": rep_seeds[:M],
            "value": [r["value"] for r in reps],
            "bound": bounds,
            "selection": selection_means,
            "candidate_value": own,
            "gap": gaps,
            "in_gap": in_gap,
            "note": ["" if keep else CANDIDATE_NOTE for keep in in_gap],
        },
        index=pd.RangeIndex(1, M + 1, name="replication"),
    ).astype({"seed": "int64", "in_gap": bool})
    info: dict[str, Any] = {
        "source": _describe(source),
        "seeds": {"selection": rep_seeds[M], "evaluation": rep_seeds[M + 1]},
        "recourse": "deterministic re-plan per scenario with the executed moves and the "
        "commit fixed (the model's lives)",
        "gap_estimator": "Mak, Morton and Wood 1999, multiple replications, common random "
        f"numbers, over the {counted(M - 1, 'replication')} other than the candidate's "
        f"(replication {best + 1}: x^ was optimised on its sample)",
        "gap_high": estimate[2],
        "gap_high_from_bounds": f"upper_bound_high - lower_bound_low with each one-sided bound "
        f"at {both:g} = (1 + {confidence:g}) / 2, so the difference holds at {confidence:g} "
        "(union bound) whatever the candidate; it needs no independence between the "
        "candidate and the replications' samples",
    }
    if tail:
        uniform = np.full(len(outside_deaths), 1.0 / len(outside_deaths))
        info["candidate_out_of_sample"] = {
            "expected_lives": round(float(outside_lives.mean()), 9),
            "cvar_deaths": round(cvar(outside_deaths, uniform, measure.alpha), 9),
            "note": "plug-in estimates on the evaluation scenarios (the sample CVaR is biased "
            "low); the bounds use eta fixed on the selection sample",
        }
    return SaaResult(
        instance=instance.name,
        replications=M,
        sample_size=sample_size,
        selection_size=select_n,
        evaluation_size=evaluation_size,
        seed=seed,
        confidence=confidence,
        commit_days=commit_days,
        candidate=best + 1,
        committed=committed,
        upper_bound=upper,
        upper_bound_high=upper + one_sided(bounds, confidence),
        lower_bound=lower,
        lower_bound_low=lower - one_sided(outside, confidence),
        gap=estimate[0],
        gap_high=from_bounds if estimate[1] is None else estimate[1],
        gap_high_from_bounds=from_bounds,
        gap_high_from="crn" if estimate[1] is not None else "bounds",
        per_replication=table,
        recourse_without_fairness=int(relaxed),
        info=info,
        risk=measure.label,
        objective=objective.describe(),
        today=int(reps[0]["today"]),
        eta=eta,
        executed=prior,
    )


def _describe(source: Source) -> dict[str, Any]:
    if isinstance(source, GeneratorRequest):
        return {"generator": source.method, "parameters": dict(source.parameters)}
    return {"resample": len(source), "of": dict(source.info)}


__all__ = [
    "SaaResult",
    "SaaTimeLimit",
    "draw",
    "recourse_lives",
    "recourse_outcomes",
    "saa",
    "seeds",
    "solve_replication",
]
