"""The single-period sections of a report: the decision, the instance, the allocation (with
why the optimum concentrates units, and maps), policies compared, the price of fairness, the
efficiency-fairness frontier and the tornado. Data only: templates/sections/*.html.j2 draw it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from models.fairness import ConstraintSpec
from optimiser import charts
from optimiser.engine import compare
from optimiser.instance import Instance
from optimiser.reporting import labels
from optimiser.reporting.model import Report, Section, table_view
from optimiser.results import AllocationResult
from optimiser.sweeps.analysis import frontier, numeric_params, tornado

MAX_FRONTIERS = 3
WHY_ROWS = 10  # regions in the lives-per-unit table


def decision(result: AllocationResult, instance: Instance) -> Section:
    return Section("Decision", "decision", decision_data(result, instance))


def decision_data(result: AllocationResult, instance: Instance) -> dict[str, Any]:
    return {
        "sent": result.supply - (result.unallocated or 0),
        "supply": result.supply,
        "resource": instance.resource,
        "lives_saved": result.lives_saved,
        "lives_optimal": result.lives_optimal,
        "lives_lost_total": result.lives_lost_total,
        "lives_lost_pct": result.lives_lost_pct,
        "constraints": [labels.constraint(c) for c in result.constraints],
        "unallocated": result.unallocated,
        "clipped_floors": 0 if result.clipped_floors is None else len(result.clipped_floors),
    }


def delivered(instance: Instance) -> float | None:
    """Units arriving at the depots over the horizon (deliveries.csv's quantities)."""
    if instance.path is None or not (Path(instance.path) / "deliveries.csv").is_file():
        return None
    try:
        frame = pd.read_csv(Path(instance.path) / "deliveries.csv")
        return float(pd.to_numeric(frame["quantity"], errors="coerce").sum())
    except (OSError, KeyError, ValueError, pd.errors.ParserError):
        return None


def instance_section(
    instance: Instance, active: Sequence[ConstraintSpec], plan: Any = None
) -> Section:
    r = instance.regions
    excess = instance.excess_demand
    rows: list[tuple[str, str]] = [
        ("Name", instance.name),
        ("Description", instance.description),
        ("Source", instance.source),  # whole: an auditor needs every reference
        ("Resource", instance.resource),
        ("Supply on hand" if plan is not None else "Supply to allocate", f"{instance.supply:,}"),
        ("Regions", f"{len(r):,} ({int((excess > 0).sum())} with excess demand)"),
        ("Population", f"{r['population'].sum():,.0f}"),
        ("Existing capacity", f"{r['capacity'].sum():,.0f}"),
        ("Peak demand", f"{r['peak_demand'].sum():,.0f}"),
        ("Excess demand (sum of max(0, peak − capacity))", f"{excess.sum():,.0f}"),
        ("Horizon H", f"{instance.horizon:g} days"),
        ("Active constraints", ", ".join(labels.constraint(c.label) for c in active) or "none"),
    ]
    if plan is not None:
        units = delivered(instance)
        rows[5:5] = [
            ("Plan horizon", f"{plan.days} days"
             + (f" from {plan.start_date}" if plan.start_date else "")),
            ("Units delivered to the depots over the horizon (deliveries.csv)",
             "–" if units is None else f"{units:,.0f}"),
            ("Plan constraints",
             ", ".join(labels.constraint(c) for c in plan.constraints) or "none"),
        ]
        rows = [row for row in rows if row[0] != "Active constraints"]
    return Section("Instance", "key_values", {"rows": rows})


ALLOCATION_LABELS = {
    "name": "name",
    "units": "sent",
    "capacity": "capacity",
    "peak_demand": "peak demand",
    "excess_demand": "excess demand",
    "lives_per_unit": "lives per unit",
    "coverage_before": "coverage before (%)",
    "coverage_after": "coverage after (%)",
    "lives": "extra survivors",
    "staff_cap": "staff cap",
    "change": "vs. no fairness constraint",
}
ALLOCATION_FORMATS = {
    "units": ",.0f",
    "capacity": ",.0f",
    "peak_demand": ",.0f",
    "excess_demand": ",.0f",
    "lives_per_unit": ",.2f",
    "coverage_before": ".1f",
    "coverage_after": ".1f",
    "lives": ",.1f",
    "staff_cap": ",.0f",
    "change": "+,.0f",
}


def allocation_sections(
    report: Report, instance: Instance, result: AllocationResult, prefix: str,
    coordinates: pd.DataFrame | None,
) -> list[Section]:
    from optimiser.report import lives_per_unit, why_text

    resource = instance.resource
    regions = result.regions.copy()
    report.tables["allocation"] = regions
    names = [
        report.add_figure(
            "allocation",
            charts.allocation_chart(regions, resource),
            f"Existing capacity (grey) plus the {resource}s sent (blue; hatched beyond the "
            "region's peak demand), against projected peak demand (black tick).",
        ),
        report.add_figure(
            "coverage",
            charts.coverage_chart(regions),
            "Share of peak demand covered by existing capacity (open) and after the allocation "
            "(filled).",
        ),
    ]
    value = lives_per_unit(instance, regions)
    frame = regions.copy()
    if value is not None:
        frame["lives_per_unit"] = value
    for c in ("coverage_before", "coverage_after"):
        if c in frame:
            frame[c] = 100 * frame[c]
    keys = [c for c in ALLOCATION_LABELS if c in frame]
    frame = frame.sort_values(["units", "excess_demand"], ascending=False, kind="stable")
    table = table_view(
        frame[keys], formats=ALLOCATION_FORMATS, labels=ALLOCATION_LABELS, index_label="region",
        csv="tables/allocation.csv", summary="Allocation table (every region)",
    )
    sections = [Section(f"{prefix}Allocation", "allocation",
                        {"figures": names, "table": table})]
    why = why_section(result, instance, value, prefix, why_text(result, instance))
    if why is not None:
        sections.append(why)
    maps = map_figures(report, regions, coordinates, resource)
    if maps:
        sections.append(Section(f"{prefix}On the map", "figures", {"figures": maps}))
    return sections


def why_section(
    result: AllocationResult, instance: Instance, value: pd.Series | None, prefix: str,
    why: list[str],
) -> Section | None:
    """Why the optimum concentrates units: a unit saves survival gain x patients it treats
    over the horizon lives, and the optimum fills the regions where that is highest first."""
    regions = result.regions
    if value is None or not why or "units" not in regions:
        return None
    short = regions[regions["excess_demand"] > 0].assign(lives_per_unit=value)
    short = short.sort_values("lives_per_unit", ascending=False, kind="stable").head(WHY_ROWS)
    gain = instance.gain.reindex(short.index)
    turnover = instance.turnover.reindex(short.index)
    frame = pd.DataFrame(
        {
            "lives_per_unit": short["lives_per_unit"],
            "gain": gain,
            "turnover": turnover,
            "excess_demand": short["excess_demand"],
            "units": short["units"],
            "useful_units": short.get("useful_units", short["units"]),
        }
    )
    table = table_view(
        frame,
        formats={"lives_per_unit": ",.2f", "gain": ".2f", "turnover": ",.1f",
                 "excess_demand": ",.0f", "units": ",.0f", "useful_units": ",.0f"},
        labels={"lives_per_unit": "lives per unit", "gain": "survival gain",
                "turnover": "patients per unit over the horizon",
                "excess_demand": "excess demand", "units": "sent",
                "useful_units": "useful"},
        index_label="region",
    )
    text = " ".join(why).removeprefix("Why: ")
    return Section(f"{prefix}Why the units go where they go", "why",
                   {"text": text[:1].upper() + text[1:], "table": table,
                    "shown": len(frame), "short": int((regions["excess_demand"] > 0).sum())})


def map_figures(
    report: Report, regions: pd.DataFrame, coordinates: pd.DataFrame | None, resource: str
) -> list[str]:
    useful = regions["useful_units"] if "useful_units" in regions else regions["units"]
    values = {
        "map_units": regions["units"].astype(float),
        "map_coverage": regions["coverage_after"].astype(float),
        "map_shortage": (regions["excess_demand"] - useful).clip(lower=0).astype(float),
    }
    titles = {
        "map_units": (f"{resource.capitalize()}s sent", f"{resource}s sent", "units"),
        "map_coverage": ("Coverage after the allocation",
                         "share of peak demand covered", "coverage"),
        "map_shortage": ("Shortage left at the peak",
                         f"patients at the peak without a {resource}", "shortage"),
    }
    captions = {
        "map_units": f"{resource.capitalize()}s sent to each region.",
        "map_coverage": "Share of each region's peak demand covered by existing capacity and "
        "the units sent.",
        "map_shortage": f"Patients at each region's peak still without a {resource}.",
    }
    figures = charts.map_charts(values, coordinates=coordinates, titles=titles)
    return [report.add_figure(name, fig, captions[name]) for name, fig in figures.items()]


def policies_section(
    report: Report, instance: Instance, active: Sequence[ConstraintSpec], seed: int, prefix: str
) -> Section:
    policies = compare(instance, active, default_constraints=False, seed=seed)
    report.tables["policies"] = policies
    shown = {p: labels.policy(str(p)) for p in policies.index}
    name = report.add_figure(
        "policies", charts.policy_chart(policies, labels=shown),
        "Expected extra survivors under each baseline rule and the optimum, scored by the same "
        "lives function.",
    )
    cols = ["description", "lives_saved", "lives_lost_vs_optimal", "pct_of_optimal",
            "unallocated", "violates"]
    frame = policies[[c for c in cols if c in policies]].copy()
    frame.index = [shown[p] for p in policies.index]
    if "violates" in frame:
        frame["violates"] = [
            ", ".join(labels.constraint(c) for c in labels._split_labels(str(v))) if v else ""
            for v in frame["violates"]
        ]
    table = table_view(
        frame,
        formats={"lives_saved": ",.1f", "lives_lost_vs_optimal": ",.1f",
                 "pct_of_optimal": ".1f", "unallocated": ",.0f"},
        labels={"lives_saved": "lives saved",
                "lives_lost_vs_optimal": "lives lost vs. the optimum",
                "pct_of_optimal": "% of the optimum", "unallocated": "units not sent",
                "violates": "breaks", "description": "rule"},
        index_label="policy",
    )
    saved = policies["lives_saved"].dropna().astype(float)
    same = len(saved) > 1 and bool((saved - saved.iloc[0]).abs().max() <= 1e-6)
    return Section(f"{prefix}Policies compared", "policies", {
        "figures": [name], "table": table, "all_equal": same,
        "lives": float(saved.iloc[0]) if len(saved) else None,
    })


def price_section(result: AllocationResult, prefix: str) -> Section:
    price = result.price_of_fairness
    table = None
    if price is not None and not price.empty:
        table = price_view(price)
    return Section(f"{prefix}Price of fairness", "price", {
        "table": table, "lives_optimal": result.lives_optimal,
        "lives_lost_total": result.lives_lost_total, "lives_lost_pct": result.lives_lost_pct,
        "plan": False, "tolerance": None,
    })


def price_view(price: pd.DataFrame) -> Any:
    """The price-of-fairness table: lives saved alone, lost alone and at the margin; where the
    solver proved a price only within an interval, the interval beside it."""
    frame = price.set_index("constraint")
    frame.index = [labels.constraint(str(c)) for c in frame.index]
    exact = frame["exact"].astype(bool) if "exact" in frame else pd.Series(True, frame.index)
    keys = ["lives_saved_alone", "lives_lost_alone", "lives_lost_marginal"]
    if not exact.all():
        for col in ("lives_lost_alone", "lives_lost_marginal"):
            low = pd.to_numeric(frame[f"{col}_low"], errors="coerce").tolist()
            high = pd.to_numeric(frame[f"{col}_high"], errors="coerce").tolist()
            frame[f"{col}_interval"] = [
                "" if ok or lo != lo else f"{lo:,.1f} to {hi:,.1f}"
                for ok, lo, hi in zip(exact.tolist(), low, high, strict=True)
            ]
            keys.append(f"{col}_interval")
    if "note" in frame and frame["note"].astype(bool).any():
        keys.append("note")
    return table_view(
        frame, columns=keys,
        formats={"lives_saved_alone": ",.1f", "lives_lost_alone": ",.1f",
                 "lives_lost_marginal": ",.1f"},
        labels={"lives_saved_alone": "lives saved alone", "lives_lost_alone": "lives lost alone",
                "lives_lost_marginal": "lives lost at the margin",
                "lives_lost_alone_interval": "proved interval (alone)",
                "lives_lost_marginal_interval": "proved interval (margin)", "note": "note"},
        index_label="constraint",
    )


def frontier_section(
    report: Report, instance: Instance, active: Sequence[ConstraintSpec], prefix: str
) -> Section:
    targets = [
        (c.kind, numeric_params(c.kind)[0], float(c.options[numeric_params(c.kind)[0]]))
        for c in active
        if numeric_params(c.kind)
    ][:MAX_FRONTIERS]
    illustration = not targets
    if illustration:
        targets = [("per_capita_floor", "share", math.nan)]
    names = []
    for kind, param, current in targets:
        table = frontier(instance, kind, param, constraints=active, default_constraints=False)
        name = f"frontier_{kind}"
        report.tables[name] = table
        label = f"{labels.kind(kind)}: {labels.PARAMS.get(param, param)}"
        names.append(report.add_figure(
            name,
            charts.frontier_chart(
                table, "level", mark=None if math.isnan(current) else current,
                level_label=label, title=f"Efficiency-fairness frontier: {label}",
            ),
            f"Lives saved as the {param} of the {labels.kind(kind)} rises, the other active "
            "constraints held fixed; the shaded gap to L* (the optimum without any fairness "
            "constraint) is the price of fairness."
            + ("" if math.isnan(current) else f" Marked: the chosen level {current:g}."),
        ))
    return Section(f"{prefix}Efficiency-fairness frontier", "frontier",
                   {"figures": names, "illustration": illustration})


def tornado_section(
    report: Report, instance: Instance, active: Sequence[ConstraintSpec], pct: float,
    prefix: str,
) -> Section:
    t = tornado(instance, pct=pct, constraints=active, default_constraints=False)
    report.tables["tornado"] = t.rows
    rows = t.rows.assign(input=[labels.input_name(str(i)) for i in t.rows["input"]])
    name = report.add_figure(
        "tornado", charts.tornado_chart(rows, t.base, pct=t.pct),
        f"Each input moved {t.pct:g}% down and up alone (the allocation re-optimised each "
        "time); bars show the change in expected extra survivors.",
    )
    frame = rows[
        ["input", "low_label", "lives_low", "high_label", "lives_high", "swing", "note"]
    ].set_index("input")
    table = table_view(
        frame, formats={"lives_low": ",.1f", "lives_high": ",.1f", "swing": ",.1f"},
        labels={"low_label": "low", "lives_low": "lives at low", "high_label": "high",
                "lives_high": "lives at high", "swing": "swing", "note": "note"},
        index_label="input", summary="Tornado table", open=False,
    )
    return Section(f"{prefix}Sensitivity (tornado)", "figures_table",
                   {"figures": [name], "table": table})
