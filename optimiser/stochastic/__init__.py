"""Planning under uncertainty (issue 13): the two-stage stochastic planner.

Entry point (what `triage plan DIR --scenarios ...`, the service and `triage backtest` call):

    plan_under_uncertainty(
        instance: MultiPeriodInstance,
        scenarios: ScenarioSet,
        constraints: Iterable[ConstraintSpec | str | Mapping] | None = None,
        *,
        commit_days: int = 7,
        risk: Risk | str | None = None,  # "cvar:alpha=0.1,lambda=0.5", "worst:alpha=0.2"
        default_constraints: bool = True,
        executed: pd.DataFrame | str | Path | None = None,  # moves already made (rolling)
        today: int | None = None,
        time_limit: float | None = None,
        mip_gap: float | None = None,
        price_of_fairness: bool = True,
    ) -> StochasticResult

`StochasticResult.committed` is the first-stage plan: the shipments and transfers dispatched in
the commit window [today, today + commit_days), identical in every scenario, as a DataFrame in
the plan-file form (kind, day, from, to, units, arrives). It is what a team executes now: feed
it (plus earlier executed moves) to `optimiser.multiperiod.planner.plan(..., executed=...)` or
`triage plan --executed` to re-plan from day today + commit_days. `executed_rows()` gives
those rows with earlier executed moves prepended. `to_dict` / `from_dict` round-trip.

Stages, each callable alone: scenario_data (one MultiPeriodData per scenario) ->
models.stochastic.build_extensive_form (one block of models/multiperiod.py per scenario plus
the linking rows and the risk columns) -> StochasticEngine.solve -> extract ->
StochasticResult; `optimiser.stochastic.compare.compare` scores the stochastic plan against
the mean, buffer, worst-case and hindsight plans out of sample (VSS, EVPI, shortfall).
`saa(instance, source, ...) -> SaaResult` (optimiser.stochastic.replications): sample-average
approximation with M independent replications, the candidate's out-of-sample value and
Mak-Morton-Wood bounds on its optimality gap; it takes the planner's `risk`, `executed` and
`today` (with a risk measure the bounds bound E[lives] - lambda CVaR(deaths) or -CVaR(deaths):
`SaaResult.objective`) and a `time_limit` for the whole run. docs/stochastic.md.
"""

from models.stochastic import Risk
from optimiser.stochastic.api import plan_under_uncertainty
from optimiser.stochastic.replications import SaaResult, saa
from optimiser.stochastic.results import StochasticResult
from optimiser.stochastic.risk import parse_risk

__all__ = ["Risk", "SaaResult", "StochasticResult", "parse_risk", "plan_under_uncertainty", "saa"]
