"""Readable text for `triage plan` and `triage check-plan`, the manifest a warehouse reads
(`warehouse_manifest`) and why a short region gives units away (`short_donors`)."""

from __future__ import annotations

import textwrap
from typing import Any

import pandas as pd

from optimiser.errors import counted
from optimiser.multiperiod.results import CheckResult, MovementCleanup, PlanResult

MANIFEST_ROWS = 25
REGION_ROWS = 20
ID_PREFIX = {"ship": "SH", "transfer": "TR", "patients": "PT"}
#: manifest.csv, in the order a warehouse reads it (cohort_day only when patients move)
MANIFEST_COLUMNS = (
    "shipment_id", "kind", "resource", "dispatch_date", "day", "from", "from_name", "to",
    "to_name", "units", "arrival_date", "arrives", "status", "cohort_day",
)


def warehouse_manifest(result: PlanResult) -> pd.DataFrame:
    """The manifest as a warehouse reads it: a stable shipment id per movement (kind, day,
    origin and destination: the same move keeps its id when the plan is made again), the
    resource, region names beside the ids, dates first; no column that is always empty
    (cohort_day is kept only when patients move). `triage plan --executed` reads it back."""
    m = result.manifest.copy()
    if not len(m):  # dates only where the instance has them, as for a plan that ships
        dated = result.start_date is not None  # (check-plan refuses dates without start_date)
        return pd.DataFrame(columns=[c for c in MANIFEST_COLUMNS if c != "cohort_day" and (
            dated or c not in ("dispatch_date", "arrival_date"))])
    names = result.regions["name"].astype(str).to_dict() if "name" in result.regions else {}
    m["resource"] = [
        "patient" if k == "patients" else result.resource for k in m["kind"].astype(str)
    ]
    m["from_name"] = [names.get(str(r), str(r)) for r in m["from"]]
    m["to_name"] = [names.get(str(r), str(r)) for r in m["to"]]
    ids: list[str] = []
    seen: dict[str, int] = {}
    for kind, day, src, dst in zip(m["kind"], m["day"], m["from"], m["to"], strict=True):
        base = f"{ID_PREFIX.get(str(kind), str(kind)[:2].upper())}-{int(day):03d}-{src}-{dst}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    m["shipment_id"] = ids
    columns = [c for c in MANIFEST_COLUMNS if c in m]
    if "cohort_day" in m and pd.to_numeric(m["cohort_day"], errors="coerce").isna().all():
        columns.remove("cohort_day")
    return m[columns].reset_index(drop=True)


def short_donors(result: PlanResult, daily: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """Regions that send units out while some of their own patients are not admitted, with
    the reason read from the plan's own daily table: on the days they send, they hold spare
    units and admit every patient; the patients they could not admit came on other days
    (before a unit could arrive, since a patient waits at most max_wait_days)."""
    regions = result.regions
    daily = result.daily if daily is None else daily
    needed = {"transfers_out", "not_admitted"}
    if not len(regions) or not needed <= set(regions.columns) or not len(daily):
        return []
    m = result.manifest
    out = []
    wait = int((result.settings or {}).get("max_wait_days") or 0)
    donors = regions[(regions["transfers_out"] > 0) & (regions["not_admitted"] > 0.5)]
    # each region's rows found once (not a pass over the whole tables per donor: 0.25 CPU-s
    # at 1,000 x 90; track pyrest2), in table order as the masks chose them
    daily_rows = _rows_by(daily["region"], donors.index) if len(donors) else {}
    transfers = m[m["kind"] == "transfer"] if len(donors) else m
    sent_rows = _rows_by(transfers["from"], donors.index) if len(donors) else {}
    for rid, row in donors.sort_values("not_admitted", ascending=False).iterrows():
        sent = transfers.iloc[sent_rows.get(str(rid), [])]
        mine = daily.iloc[daily_rows.get(str(rid), [])].set_index("day")
        send_days = sorted({int(d) for d in sent["day"]})
        lost_days = sorted(int(d) for d in mine.index[mine["not_admitted"] > 0.5])
        lost_on_send_days = float(mine.loc[mine.index.isin(send_days), "not_admitted"].sum())
        spare = mine.loc[mine.index.isin(send_days), "spare_units"] if "spare_units" in mine \
            else pd.Series(dtype=float)
        dates = mine["date"].astype(str).to_dict() if "date" in mine else {}
        out.append({
            "region": str(rid),
            "name": str(row.get("name", rid)),
            "units_out": float(row["transfers_out"]),
            "not_admitted": float(row["not_admitted"]),
            "send_days": send_days,
            "lost_days": lost_days,
            "lost_on_send_days": lost_on_send_days,
            "spare_min": float(spare.min()) if len(spare) else None,
            "spare_max": float(spare.max()) if len(spare) else None,
            "max_wait_days": wait,
            "dates": dates,
        })
    return out


def _rows_by(column: pd.Series, wanted: pd.Index) -> dict[str, list[int]]:
    """The positions of the rows of `column` whose text (str) is that of a `wanted` label."""
    keys = {str(k) for k in wanted}
    rows: dict[str, list[int]] = {}
    for i, text in enumerate(column.astype(str).tolist()):
        if text in keys:
            rows.setdefault(text, []).append(i)
    return rows


def _days(days: list[int], dates: dict[int, str]) -> str:
    if not days:
        return "on no day"
    first, last = days[0], days[-1]
    if first in dates and last in dates:
        return f"on {dates[first]}" if first == last else f"{dates[first]} to {dates[last]}"
    return f"on day {first}" if first == last else f"days {first}-{last}"


def short_donor_text(donor: dict[str, Any], resource: str = "unit") -> str:
    """One sentence: why this short region gives units away."""
    r = donor
    head = (
        f"{r['region']} sends {r['units_out']:,.0f} {resource}s out "
        f"({_days(r['send_days'], r['dates'])}) while {r['not_admitted']:,.0f} of its patients "
        f"are not admitted ({_days(r['lost_days'], r['dates'])})"
    )
    wait = r["max_wait_days"]
    patience = (
        "a patient is admitted the day they need a unit or not at all"
        if wait == 0
        else f"a patient waits at most {wait} day{'s' * (wait > 1)} for a unit"
    )
    if r["lost_on_send_days"] < 0.5:
        spare = ""
        if r["spare_min"] is not None:
            low, high = r["spare_min"], r["spare_max"]
            spare = (
                f", with {counted(round(low), 'unit')} to spare after sending" if low == high
                else f", with {low:,.0f}-{high:,.0f} units to spare after sending"
            )
        first, last = min(r["send_days"]), max(r["send_days"])
        if all(d < first for d in r["lost_days"]):
            when = "came earlier, when no unit could reach them in time"
        elif all(d > last for d in r["lost_days"]):
            when = "come later, when the units it sent are worth more where they went"
        else:
            when = "came on other days"
        return (
            f"{head}: on the days it sends, every patient of {r['region']} is admitted{spare}; "
            f"the patients it could not admit {when} ({patience}), so its idle units save more "
            "lives where patients need them."
        )
    return (
        f"{head}: {r['lost_on_send_days']:,.0f} of those patients come on days it sends units "
        f"out ({patience}); the plan keeps them elsewhere because a fairness constraint, a "
        "lead time or a donor rule makes that worth more lives over the horizon."
    )


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def cleanup_line(cleanup: MovementCleanup) -> str:
    """What the movement cleanup did (methods/cleanup.py), in one line."""
    c = cleanup
    if c.status == "cleaned":
        return (
            f"movements cleaned up (admissions fixed): {c.units_before:,.0f} -> "
            f"{c.units_after:,.0f} units moved ({c.transferred_before:,.0f} -> "
            f"{c.transferred_after:,.0f} transferred), logistics cost {c.cost_before:,.0f} -> "
            f"{c.cost_after:,.0f}, {c.seconds:.2f} s"
        )
    if c.status == "unchanged":
        moved = counted(round(c.units_before), "unit")
        return f"movements: {moved} moved, already the least logistics cost"
    if c.status == "skipped" and not c.units_before:
        return "movements: nothing moved"
    why = f": {c.reason}" if c.reason else ""
    return f"movements not cleaned up ({c.status.replace('_', ' ')}{why})"


def plan_text(result: PlanResult) -> str:
    lines = [
        f"Plan for {result.instance}: {result.days} days"
        + (f" from {result.start_date}" if result.start_date else "")
        + (
            f", re-planned from day {result.today} ({result.executed_rows} executed moves fixed)"
            if result.today
            else ""
        ),
        f"status: {result.status}"
        + (
            ""
            if result.solver is None or result.solver.gap is None
            else f" (gap {100 * result.solver.gap:.4f}%)"
        ),
    ]
    if result.explanation:
        lines.append(result.explanation)
    if result.lives_saved is None:
        return "\n".join(lines)
    lost = result.lives_lost_total
    lines += [
        f"expected extra survivors: {_num(result.lives_saved, 2)}"
        + (
            f"  (no fairness constraint: {_num(result.lives_optimal, 2)}; given up: "
            f"{_num(lost, 2)})"
            if result.constraints
            else ""
        ),
        f"shortfall: {_num(result.shortfall, 1)} {result.resource}-days of unmet need (patients "
        "not "
        f"in treatment); {_num(result.supply_shortfall, 1)} {result.resource}-days of need above "
        "the units on hand (the pooling-study measure)",
        f"constraints: {', '.join(result.constraints) or 'none'}",
    ]
    m = result.manifest
    if len(m):
        ship = m[m["kind"] == "ship"]
        tr = m[m["kind"] == "transfer"]
        pt = m[m["kind"] == "patients"]
        lines.append(
            f"manifest: {counted(len(ship), 'shipment')} "
            f"({counted(round(ship['units'].astype(float).sum()), 'unit')}), "
            f"{counted(len(tr), 'transfer')} "
            f"({counted(round(tr['units'].astype(float).sum()), 'unit')})"
            + (
                f", {counted(len(pt), 'patient transfer')} "
                f"({pt['units'].astype(float).sum():,.1f} patients)"
                if len(pt)
                else ""
            )
            + "; "
            + ("-" if result.reserve_left is None else counted(round(result.reserve_left), "unit"))
            + " left in the depots"
        )
        lines.append("")
        shown = warehouse_manifest(result).head(MANIFEST_ROWS)
        lines.append(
            shown.drop(columns=["cohort_day", "day", "arrives", "resource", "from_name",
                                "to_name", "status"], errors="ignore").to_string(index=False)
        )
        if len(m) > MANIFEST_ROWS:
            lines.append(f"... {len(m) - MANIFEST_ROWS} more rows (--out DIR writes manifest.csv)")
    else:
        lines.append("manifest: nothing to ship or transfer")
    if result.movement_cleanup is not None:
        lines.append(cleanup_line(result.movement_cleanup))
    regions = result.regions
    if len(regions):
        busy = regions[
            (
                regions["units_shipped_in"]
                + regions["transfers_in"]
                + regions["transfers_out"]
                + regions["shortfall"]
            )
            > 0
        ]
        busy = busy.sort_values("expected_survivors", ascending=False).head(REGION_ROWS)
        if len(busy):
            cols = [
                "patients",
                "admitted",
                "not_admitted",
                "expected_survivors",
                "units_shipped_in",
                "transfers_in",
                "transfers_out",
                "shortfall",
            ]
            lines.append("")
            lines.append("regions with deliveries, transfers or shortfall:")
            lines.append(busy[cols].round(1).to_string())
    donors = short_donors(result)
    if donors:
        lines += ["", "why short regions give units away:"]
        for donor in donors[:5]:
            lines.append(textwrap.fill(short_donor_text(donor, result.resource), width=100,
                                       initial_indent="- ", subsequent_indent="  "))
        if len(donors) > 5:
            lines.append(f"- and {counted(len(donors) - 5, 'more region')} (see the report)")
    lines.append("")
    lines.append(price_text(result.price_of_fairness))
    return "\n".join(lines)


def price_text(price: pd.DataFrame) -> str:
    if price.empty:
        return "price of fairness: no fairness constraint active"
    from optimiser.report import price_table

    return "price of fairness over the horizon (expected lives):\n" + price_table(
        price
    ).to_string(index=False)


def check_text(result: CheckResult) -> str:
    lines = [
        f"check-plan {result.plan_file} on {result.instance}: {result.rows} rows; admissions "
        + ("simulated (no admit rows)" if result.greedy_admissions else "from the plan"),
        f"expected extra survivors: {result.survivors:,.6f}",
        *textwrap.wrap(
            f"shortfall: {result.shortfall:,.3f} resource-days of unmet need, "
            + result.shortfall_of,
            width=96,
            subsequent_indent="  ",
        ),
    ]
    if result.ok:
        lines.append("ok: the plan breaks no rule")
    else:
        rules = sorted({v["rule"] for v in result.violations})
        lines.append(f"{counted(len(result.violations), 'rule')} broken ({', '.join(rules)}):")
        for v in result.violations:
            where = f"line {v['line']}, " if v.get("line") is not None else ""
            lines.append(f"  [{v['rule']}] {where}day {v['day']}: {v['message']}")
    return "\n".join(lines)
