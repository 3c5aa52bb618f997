"""Reports with fan charts of the scenarios' need against the units on hand: of a two-stage
plan (`triage plan DIR --scenarios S --out OUT --report`: its figures, the moves committed
now, each scenario's outcome) and of a plan evaluated over a scenario set (`triage scenarios
evaluate DIR PLAN --out OUT --report`: the evaluation's figures and outcomes).
optimiser.stochastic.fan gathers the fan data, optimiser.charts.fan draws it; data first, as
Sections; rendering is render_html's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from optimiser.errors import counted, plural
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.reporting.model import Report, Section, table_view
from optimiser.reporting.provenance import provenance
from optimiser.reporting.render import render_html
from optimiser.stochastic.fan import NATIONAL, FanData
from optimiser.stochastic.results import StochasticResult

if TYPE_CHECKING:
    from optimiser.scenarios.evaluate import Evaluation

DEFAULT_REGIONS = 5  # regions charted beside the national total unless named


def chosen_areas(fan: FanData, regions: Sequence[str] | None = None,
                 limit: int = DEFAULT_REGIONS) -> list[str]:
    """The national total, then the named regions, or else the `limit` regions most likely
    to be short (probability of a day with need above on hand), then with the highest 95%
    need (ties by name)."""
    known = [a for a in fan.areas if a != NATIONAL]
    if regions is not None:
        unknown = [r for r in regions if r not in known]
        if unknown:
            from optimiser.errors import InputError, Problem

            raise InputError(
                Problem(f"unknown {plural(len(unknown), 'region')} for the fan chart: "
                        f"{', '.join(unknown)}")
            )
        return [NATIONAL, *regions]
    top = fan.quantiles[-1]
    from optimiser.stochastic.fan import quantile_label

    peak = fan.table.groupby("area", sort=False)[f"need_{quantile_label(top)}"].max()
    ranked = sorted(known, key=lambda r: (-float(fan.short_days[r]), -float(peak[r]), r))
    return [NATIONAL, *ranked[:limit]]


def fan_section(
    report: Report,
    fan: FanData,
    areas: Sequence[str],
    *,
    observed: dict[str, Any] | None = None,
    key: str = "fan",
    heading: str = "Demand scenarios against units on hand",
) -> Section:
    """The fan charts (one per area) and the probability of a short day per area. A backtest
    passes `observed` (area -> the census observed per day, drawn over the fan) and a `key`
    per policy (figure names key_AREA, table key.csv)."""
    from optimiser.charts.fan import fan_charts

    names = []
    for area, figure in fan_charts(fan, list(areas), observed).items():
        name = f"{key}_{area}".replace(" ", "_").replace("/", "_")
        caption = (
            f"{'National total' if area == NATIONAL else area}: patients needing a "
            f"{fan.resource} each day over {counted(fan.scenarios, 'scenario')} (bands: "
            f"probability-weighted quantiles) against the {fan.resource}s on hand"
        )
        names.append(report.add_figure(name, figure, caption))
    report.tables[key] = fan.table
    short = pd.DataFrame({"probability_short": fan.short_days})
    return Section(
        heading,
        "fan",
        {
            "figures": names,
            "replay": fan.replay,
            "scenarios": fan.scenarios,
            "resource": fan.resource,
            "observed": observed is not None,
            "short": table_view(
                short.loc[list(areas)],
                formats={"probability_short": ".0%"},
                labels={"probability_short": "P(a day short)", "area": "Area"},
                csv=f"tables/{key}.csv",
            ),
        },
    )


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def summary_rows(result: StochasticResult) -> list[tuple[str, str]]:
    r = result
    rows = [
        ("Status", str(r.status)),
        ("Scenarios", f"{len(r.per_scenario):,}"),
        ("Risk", r.risk if r.alpha is None else f"{r.risk} (alpha {r.alpha:g})"),
        ("Committed now", f"days {r.today}–{r.commit_end - 1}: "
                          f"{counted(len(r.committed), 'move')}, the same in every scenario"),
        ("Expected lives saved", _fmt(r.expected_lives)
         + ("" if r.lives_bound is None else f" (bound {_fmt(r.lives_bound)})")),
        ("Expected deaths", _fmt(r.expected_deaths)),
    ]
    if r.cvar_deaths is not None:
        rows.append(("CVaR of deaths", _fmt(r.cvar_deaths)))
    if r.explanation:
        rows.append(("Explanation", r.explanation))
    return rows


def build_stochastic_report(
    instance: MultiPeriodInstance,
    result: StochasticResult,
    fan: FanData,
    *,
    regions: Sequence[str] | None = None,
    command: Sequence[str] | None = None,
) -> Report:
    """The report of `result` with its fan charts (national total and chosen_areas)."""
    report = Report(
        title=f"Two-stage plan over {counted(len(result.per_scenario), 'scenario')}: "
        f"{instance.name}"
    )
    report.sections.append(Section("Plan under uncertainty", "key_values",
                                   {"rows": summary_rows(result)}))
    report.tables["committed"] = result.committed
    report.sections.append(Section(
        "Moves committed now", "table",
        {"table": table_view(result.committed, index=False, csv="tables/committed.csv",
                             formats={"units": ",.0f"})},
    ))
    report.tables["scenarios"] = result.per_scenario
    report.sections.append(Section(
        "Per scenario (model)", "table",
        {"table": table_view(result.per_scenario, limit=50, csv="tables/scenarios.csv",
                             formats={"probability": ".4f", "lives": ",.2f", "deaths": ",.2f",
                                      "patients": ",.1f", "units_shipped": ",.0f"},
                             summary="Probability, lives and deaths of each scenario")},
    ))
    areas = chosen_areas(fan, regions)
    report.sections.append(fan_section(report, fan, areas))
    options: dict[str, Any] = {
        "constraints": list(result.constraints),
        "risk": result.risk,
        "commit_days": result.commit_days,
        "today": result.today,
        "fan_replay": fan.replay,
        "fan_quantiles": ", ".join(f"{q:g}" for q in fan.quantiles),
    }
    report.provenance = provenance(instance.base, options, command=command)
    report.provenance["stochastic_result"] = {
        "status": str(result.status),
        "expected_lives": result.expected_lives,
        "scenario_set": result.scenario_info,
    }
    report.sections.append(Section("Provenance", "provenance", {"provenance": report.provenance}))
    report.html = render_html(report)
    return report


METRIC_LABELS = {
    "expected_survivors": "Expected survivors",
    "expected_deaths": "Expected deaths",
    "expected_not_admitted": "Expected patients not admitted",
    "probability_of_shortfall": "Probability of a shortfall",
    "expected_shortfall": "Expected shortfall (resource-days)",
    "cvar_shortfall": "CVaR of the shortfall (resource-days)",
    "expected_supply_shortfall": "Expected supply shortfall (resource-days)",
    "cvar_deaths": "CVaR of deaths",
    "probability_of_broken_rules": "Probability the plan breaks a rule",
}


NUMBERS = ("survivors", "deaths", "patients", "admitted", "not_admitted", "shortfall",
           "supply_shortfall")


def evaluation_rows(evaluation: Evaluation) -> list[tuple[str, str]]:
    rows = [
        ("Plan", evaluation.plan),
        ("Replay", evaluation.policy),
        ("Scenarios", f"{evaluation.scenarios:,}" + (" (a sample)" if evaluation.sampled else "")),
    ]
    for key, estimate in evaluation.metrics.items():
        text = _fmt(estimate.value)
        if estimate.low is not None and estimate.high is not None:
            text += (f" ({evaluation.confidence:.0%} interval {_fmt(estimate.low)}–"
                     f"{_fmt(estimate.high)})")
        rows.append((METRIC_LABELS.get(key, key.replace("_", " ")), text))
    return rows


def build_evaluation_report(
    instance: MultiPeriodInstance,
    evaluation: Evaluation,
    fan: FanData,
    *,
    regions: Sequence[str] | None = None,
    command: Sequence[str] | None = None,
) -> Report:
    """The report of a plan evaluated over a scenario set, with its fan charts."""
    report = Report(title=f"Plan {evaluation.plan} over "
                          f"{counted(evaluation.scenarios, 'scenario')}: {instance.name}")
    report.sections.append(Section("Plan evaluated over the scenarios", "key_values",
                                   {"rows": evaluation_rows(evaluation)}))
    report.tables["per_scenario"] = evaluation.per_scenario
    report.sections.append(Section(
        "Per scenario (simulator)", "table",
        {"table": table_view(evaluation.per_scenario, limit=50, csv="tables/per_scenario.csv",
                             summary="What the replay gives in each scenario",
                             formats={"probability": ".4f", "violations": ",.0f",
                                      **{c: ",.1f" for c in NUMBERS}})},
    ))
    report.sections.append(fan_section(report, fan, chosen_areas(fan, regions)))
    options: dict[str, Any] = {
        "policy": evaluation.policy,
        "fan_quantiles": ", ".join(f"{q:g}" for q in fan.quantiles),
    }
    report.provenance = provenance(instance.base, options, command=command)
    report.provenance["evaluation"] = evaluation.to_dict()
    report.sections.append(Section("Provenance", "provenance", {"provenance": report.provenance}))
    report.html = render_html(report)
    return report
