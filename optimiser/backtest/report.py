"""The backtest's HTML report (`triage backtest DIR --out OUT --report`): the policies scored
against what happened, the observed census against each policy's units on hand, and for the
two-stage policies the fan of the demand scenarios their first plan hedged against, with the
census that was observed and the units the policy had on hand. Data first, as Sections of a
Report (optimiser.reporting.model); the fan is optimiser.reporting.stochastic.fan_section's,
the page render_html's."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from optimiser.backtest.results import BacktestResult
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.reporting.model import Report, Section, table_view
from optimiser.reporting.provenance import provenance
from optimiser.reporting.render import render_html

FAN_REGIONS = 3  # regions charted beside the national total in each fan (the likeliest short)

LABELS = {
    "replay": "Replayed",
    "survivors": "Lives saved",
    "deaths": "Deaths",
    "not_admitted": "Never admitted",
    "shortfall": "Resource-days short",
    "supply_shortfall": "Supply short",
    "lives_below_hindsight": "Below hindsight",
    "units_shipped": "Shipped",
    "units_transferred": "Transferred",
    "transfer_units_cut": "Transfers cut",
    "replans": "Plans",
    "violations": "Rules broken",
}
FORMATS = {
    **{
        c: ",.1f"
        for c in (
            "survivors",
            "deaths",
            "not_admitted",
            "shortfall",
            "supply_shortfall",
            "lives_below_hindsight",
        )
    },
    **{
        c: ",.0f"
        for c in (
            "units_shipped",
            "units_transferred",
            "transfer_units_cut",
            "replans",
            "violations",
        )
    },
}


def summary_rows(result: BacktestResult) -> list[tuple[str, str]]:
    rows = [
        (
            "Instance",
            f"{result.instance}: {len(result.regions)} regions, {result.days} days "
            f"from {result.start_date}",
        ),
        ("First plan", f"{result.as_of}, with {result.source}'s forecasts published by then"),
        (
            "Re-planned",
            f"every {result.commit_days} days, with the census observed before "
            "and the latest release",
        ),
        ("Anchor", str(result.info.get("anchor", "none"))),
        ("Status", result.status),
    ]
    limit = result.info.get("time_limit")
    if limit is not None:
        rows.append(
            (
                "Time limit",
                f"{limit:g} s for the whole backtest ({result.info.get('seconds', 0):.1f} s used)",
            )
        )
    for name, why in result.incomplete.items():
        rows.append((f"Not completed: {name}", why))
    for name, why in result.unavailable.items():
        rows.append((f"Left out: {name}", why))
    return rows


def observed_by_area(result: BacktestResult, areas: Sequence[str]) -> dict[str, Any]:
    """area -> the census observed per day (the national total summed over regions)."""
    from optimiser.stochastic.fan import NATIONAL

    out: dict[str, Any] = {}
    for area in areas:
        series = result.observed.sum(axis=0) if area == NATIONAL else result.observed.loc[area]
        out[area] = np.asarray(series, dtype=float)
    return out


def build_backtest_report(
    result: BacktestResult,
    instance: MultiPeriodInstance | None = None,
    *,
    command: Sequence[str] | None = None,
    fan_regions: int = FAN_REGIONS,
) -> Report:
    """The report of a backtest (module docstring); with the `instance` planned on, its
    provenance (every file hashed, the versions, the options)."""
    from optimiser.backtest.chart import backtest_chart
    from optimiser.reporting.stochastic import chosen_areas, fan_section

    report = Report(title=f"Backtest: {result.instance}, plans from {result.as_of}")
    report.sections.append(
        Section("What was planned, and how", "key_values", {"rows": summary_rows(result)})
    )
    report.tables["policies"] = result.table
    report.sections.append(
        Section(
            "Each policy against what happened",
            "table",
            {
                "table": table_view(
                    result.table,
                    formats=FORMATS,
                    labels=LABELS,
                    index_label="Policy",
                    csv="tables/policies.csv",
                )
            },
        )
    )
    name = report.add_figure(
        "backtest",
        backtest_chart(result),
        f"The census that was observed (patients needing a {result.resource}) against each "
        f"policy's {result.resource}s on hand in the replay (top), and each policy's unmet "
        "need (bottom), all regions",
    )
    report.tables["daily"] = result.totals()
    report.sections.append(
        Section("Observed census against units on hand", "figures", {"figures": [name]})
    )
    for policy, fan in result.fans.items():
        areas = chosen_areas(fan, limit=fan_regions)
        report.sections.append(
            fan_section(
                report,
                fan,
                areas,
                observed=observed_by_area(result, areas),
                key=f"fan_{policy}".replace("-", "_"),
                heading=f"{policy}: the demand scenarios of its first plan ({result.as_of}) "
                "against its units on hand",
            )
        )
    report.tables["weeks"] = result.weeks
    report.sections.append(
        Section(
            "Every plan made",
            "table",
            {
                "table": table_view(
                    result.weeks,
                    index=False,
                    csv="tables/weeks.csv",
                    limit=60,
                    formats={"claimed_lives": ",.1f", "time_limit": ",.2f", "seconds": ",.2f"},
                    summary="One row per policy and re-planning date",
                    open=False,
                )
            },
        )
    )
    if instance is not None:
        options = {
            "as_of": result.as_of,
            "commit_days": result.commit_days,
            "buffer": result.buffer,
            "forecast": result.source,
            "anchor": result.info.get("anchor"),
            "time_limit": result.info.get("time_limit"),
        }
        report.provenance = provenance(instance.base, options, command=command)
        report.provenance["backtest"] = {
            "status": result.status,
            "incomplete": result.incomplete,
            "unavailable": result.unavailable,
            "info": result.info,
            "files_sha256": backtest_files(instance),
        }
        report.sections.append(
            Section("Provenance", "provenance", {"provenance": report.provenance})
        )
    report.html = render_html(report)
    return report


def backtest_files(instance: MultiPeriodInstance) -> dict[str, str]:
    """SHA-256 of the backtest's own files (observed.csv, forecasts/*): what was known and
    what happened."""
    import hashlib

    root = instance.base.path
    if root is None:
        return {}
    files = [Path(root) / "observed.csv", *sorted((Path(root) / "forecasts").glob("*"))]
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in files
        if f.is_file()
    }


__all__ = ["backtest_files", "build_backtest_report", "observed_by_area", "summary_rows"]
