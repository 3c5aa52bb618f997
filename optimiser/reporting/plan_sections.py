"""The sections of a plan's report: the decision over the horizon, why short regions give units
away, charts over time (dates, depot arrivals, only the regions where something happens),
maps, the movements, per-region totals and the price of fairness over the horizon."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from models.fairness import ConstraintSpec
from optimiser import charts
from optimiser.errors import counted
from optimiser.instance import Instance
from optimiser.multiperiod.report import short_donor_text, short_donors, warehouse_manifest
from optimiser.reporting import labels
from optimiser.reporting.model import Report, Section, table_view
from optimiser.reporting.plans import PlanInput
from optimiser.reporting.single import delivered, instance_section, price_view

MAX_PANELS = 40  # small multiples drawn (most strained first); the tables hold every region
MANIFEST_ROWS = 300  # movements listed in the page; tables/plan_manifest.csv has them all
PLAN_REGION_COLUMNS = {
    "name": "name",
    "patients": "patients",
    "admitted": "admitted",
    "not_admitted": "not admitted",
    "expected_survivors": "expected survivors",
    "units_shipped_in": "units shipped in",
    "transfers_in": "transfers in",
    "transfers_out": "transfers out",
    "peak_need": "peak need",
    "own_units_day0": "own units day 0",
    "shortfall": "shortfall (unit-days)",
}


def movements(result: Any, kind: str) -> pd.DataFrame:
    m = result.manifest
    if not len(m) or "kind" not in m:
        return pd.DataFrame(columns=["kind", "day", "from", "to", "units", "arrives"])
    return m[m["kind"] == kind]


def units(frame: pd.DataFrame) -> float:
    return float(pd.to_numeric(frame["units"], errors="coerce").sum()) if len(frame) else 0.0


def plan_title(result: Any, instance: Instance) -> str:
    shipped = units(movements(result, "ship"))
    total = delivered(instance)
    start = f" from {result.start_date}" if result.start_date else ""
    of = "" if total is None else f" of {total:,.0f}"
    return (
        f"Plan over {result.days} days{start} ({shipped:,.0f}{of} {result.resource}s shipped): "
        f"{instance.name}"
    )


def plan_sections(
    report: Report, given: PlanInput, instance: Instance, active: Sequence[ConstraintSpec],
    coordinates: pd.DataFrame | None,
) -> None:
    result = given.result
    assert result is not None
    report.sections.append(Section("Decision (plan over the horizon)", "plan_decision",
                                   decision_data(result)))
    donors = short_donors(result)
    if donors:
        report.sections.append(Section("Why short regions give units away", "short_donors", {
            "items": [short_donor_text(d, result.resource) for d in donors],
        }))
    report.sections.append(instance_section(instance, active, plan=result))
    if given.daily is not None:
        report.tables["plan_daily"] = given.daily
        ships = movements(result, "ship")
        arrivals = None
        if len(ships):
            arrivals = (
                ships.assign(units=pd.to_numeric(ships["units"], errors="coerce"))
                .groupby(pd.to_numeric(ships["arrives"], errors="coerce"))["units"]
                .sum()
            )
        data = over_time(report, given.daily, result.resource, arrivals=arrivals,
                         start_date=result.start_date)
    else:
        data = {"figures": [], "no_daily": True}
    report.sections.append(Section("Plan over time", "plan_over_time", data))
    maps = plan_maps(report, result, coordinates)
    if maps:
        report.sections.append(Section("On the map", "figures", {"figures": maps}))
    report.tables["plan_manifest"] = warehouse_manifest(result)
    report.sections.append(Section("Deliveries and transfers", "manifest",
                                   manifest_data(result, report.tables["plan_manifest"])))
    report.tables["plan_regions"] = result.regions
    report.sections.append(Section("Per-region totals", "table", {"table": regions_table(result)}))
    report.tables["plan_price_of_fairness"] = result.price_of_fairness
    report.sections.append(Section("Price of fairness over the horizon", "price",
                                   price_data(result)))


def over_time(
    report: Report, daily: pd.DataFrame, resource: str, *, arrivals: pd.Series | None,
    start_date: str | None = None,
) -> dict[str, Any]:
    """The national chart and the small multiples of the regions where something happens."""
    names = [report.add_figure(
        "plan_national",
        charts.plan_totals_chart(daily, resource, arrivals=arrivals, start_date=start_date),
        f"All regions together: {resource}s on hand in the regions (blue) and patients needing "
        "one (black); red: the shortage of each region (patients above its units on hand) "
        "summed, which national totals alone would hide"
        + ("; below: units arriving from the depots each day, on their own scale."
           if arrivals is not None and len(arrivals) else "."),
    )]
    busy = charts.strained(daily)
    everyone = daily["region"].astype(str).nunique()
    drawn = busy[:MAX_PANELS]
    pages = charts.plan_chart_pages(daily, resource, regions=drawn, start_date=start_date) \
        if drawn else []
    for k, fig in enumerate(pages, start=1):
        names.append(report.add_figure(
            f"plan_regions_{k}", fig,
            "Units on hand (blue steps) against patients needing one (black), per region, most "
            "strained first; shortage shaded"
            + (f" (page {k} of {len(pages)})." if len(pages) > 1 else "."),
        ))
    return {
        "figures": names,
        "regions": everyone,
        "drawn": len(drawn),
        "busy": len(busy),
        "quiet": everyone - len(busy),
    }


def decision_data(result: Any) -> dict[str, Any]:
    regions = result.regions
    ships, transfers = movements(result, "ship"), movements(result, "transfer")
    patients_moved = movements(result, "patients")
    gap = None if result.solver is None else result.solver.gap
    data: dict[str, Any] = {
        "days": result.days,
        "start_date": result.start_date,
        "lives_saved": result.lives_saved,
        "status": str(result.status),
        "gap": gap,
        "resource": result.resource,
        "shipments": len(ships),
        "shipped": units(ships),
        "transfers": len(transfers),
        "transferred": units(transfers),
        "patient_moves": len(patients_moved),
        "patients_moved": units(patients_moved),
        "reserve_left": result.reserve_left,
        "shortfall": result.shortfall,
        "supply_shortfall": result.supply_shortfall,
        "constraints": [labels.constraint(c) for c in result.constraints],
        "lives_optimal": result.lives_optimal,
        "lives_lost_total": result.lives_lost_total,
        "today": result.today,
        "executed_rows": result.executed_rows,
        "explanation": result.explanation,
        "patients": None,
        "not_admitted": None,
    }
    if "not_admitted" in regions and "patients" in regions:
        data["patients"] = float(regions["patients"].sum())
        data["not_admitted"] = float(regions["not_admitted"].sum())
    return data


def manifest_data(result: Any, manifest: pd.DataFrame) -> dict[str, Any]:
    summary = []
    for kind, word in (("ship", "shipment"), ("transfer", "transfer"),
                       ("patients", "patient move")):
        rows = movements(result, kind)
        if len(rows):
            days = pd.to_numeric(rows["day"], errors="coerce")
            first, last = int(days.min()), int(days.max())
            dates = rows.get("dispatch_date")
            when = (
                f"{dates.min()} to {dates.max()}" if dates is not None and dates.notna().all()
                else f"days {first}-{last}"
            )
            total = counted(round(units(rows)), "unit")
            summary.append(f"{counted(len(rows), word)}, {total}, {when}")
    keys = [c for c in ("shipment_id", "kind", "dispatch_date", "from", "from_name", "to",
                        "to_name", "units", "arrival_date") if c in manifest]
    if not keys:
        keys = list(manifest.columns)
    table = table_view(
        manifest, columns=keys, index=False, limit=MANIFEST_ROWS,
        formats={"units": ",.0f"},
        labels={"shipment_id": "shipment", "dispatch_date": "dispatch", "from_name": "from (name)",
                "to_name": "to (name)", "arrival_date": "arrival"},
        csv="tables/plan_manifest.csv", open=False,
        summary="Manifest (every movement; tables/plan_manifest.csv)",
    )
    return {"summary": summary, "table": table if len(manifest) else None}


def regions_table(result: Any) -> Any:
    regions = result.regions
    if not len(regions):
        return None
    cols = [c for c in PLAN_REGION_COLUMNS if c in regions]
    keys = [c for c in ("not_admitted", "expected_survivors") if c in regions]
    frame = regions[cols]
    if keys:
        frame = frame.sort_values(keys, ascending=False, kind="stable")
    return table_view(
        frame, labels=PLAN_REGION_COLUMNS, index_label="region",
        formats={c: ",.1f" for c in cols if c != "name"}, csv="tables/plan_regions.csv",
        summary="Per-region totals over the horizon (every region, most patients not admitted "
        "first; tables/plan_regions.csv)",
    )


def price_data(result: Any) -> dict[str, Any]:
    price = result.price_of_fairness
    table = None
    if result.constraints and price is not None and len(price):
        table = price_view(price)
    return {
        "table": table, "lives_optimal": result.lives_optimal,
        "lives_lost_total": result.lives_lost_total, "lives_lost_pct": None, "plan": True,
        "tolerance": 1e-4 * abs(result.lives_optimal or 0.0),
    }


def plan_maps(report: Report, result: Any, coordinates: pd.DataFrame | None) -> list[str]:
    regions = result.regions
    needed = {"units_shipped_in", "transfers_in", "transfers_out", "not_admitted", "shortfall"}
    if not len(regions) or not needed <= set(regions.columns):
        return []
    resource = result.resource
    received = (regions["units_shipped_in"] + regions["transfers_in"]
                - regions["transfers_out"]).clip(lower=0)
    values = {
        "map_plan_units": received.astype(float),
        "map_plan_not_admitted": regions["not_admitted"].astype(float),
        "map_plan_shortfall": regions["shortfall"].astype(float),
    }
    titles = {
        "map_plan_units": (f"{resource.capitalize()}s received, net", f"{resource}s received "
                           "(shipped in + transfers in − out)", "units"),
        "map_plan_not_admitted": ("Patients not admitted", "patients not admitted", "shortage"),
        "map_plan_shortfall": ("Shortfall", f"{resource}-days of unmet need", "shortage"),
    }
    captions = {
        "map_plan_units": f"{resource.capitalize()}s each region receives over the horizon, "
        "net of what it sends away.",
        "map_plan_not_admitted": "Patients each region cannot admit over the horizon.",
        "map_plan_shortfall": f"{resource.capitalize()}-days of unmet need in each region.",
    }
    figures = charts.map_charts(values, coordinates=coordinates, titles=titles)
    return [report.add_figure(name, fig, captions[name]) for name, fig in figures.items()]


def plan_summary(result: Any) -> dict[str, Any]:
    return {
        "instance": result.instance,
        "status": str(result.status),
        "days": result.days,
        "start_date": result.start_date,
        "lives_saved": result.lives_saved,
        "lives_optimal": result.lives_optimal,
        "shortfall_resource_days": result.shortfall,
        "constraints": list(result.constraints),
        "settings": result.settings,
        "fingerprint": result.fingerprint,
    }
