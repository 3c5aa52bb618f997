"""Readable text for `triage plan` and `triage check-plan`."""

from __future__ import annotations

import pandas as pd

from optimiser.multiperiod.results import CheckResult, PlanResult

MANIFEST_ROWS = 25
REGION_ROWS = 20


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


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
            f"manifest: {len(ship)} shipments ({ship['units'].astype(float).sum():,.0f} units), "
            f"{len(tr)} transfers ({tr['units'].astype(float).sum():,.0f} units)"
            + (
                f", {len(pt)} patient transfers ({pt['units'].astype(float).sum():,.1f} patients)"
                if len(pt)
                else ""
            )
            + f"; {_num(result.reserve_left, 0)} units left in the depots"
        )
        lines.append("")
        shown = m.head(MANIFEST_ROWS)
        lines.append(shown.drop(columns=["cohort_day"], errors="ignore").to_string(index=False))
        if len(m) > MANIFEST_ROWS:
            lines.append(f"... {len(m) - MANIFEST_ROWS} more rows (--out DIR writes manifest.csv)")
    else:
        lines.append("manifest: nothing to ship or transfer")
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
    lines.append("")
    lines.append(price_text(result.price_of_fairness))
    return "\n".join(lines)


def price_text(price: pd.DataFrame) -> str:
    if price.empty:
        return "price of fairness: no fairness constraint active"
    table = price.copy()
    for col in ("lives_saved_alone", "lives_lost_alone", "lives_lost_marginal"):
        table[col] = table[col].map(lambda v: "-" if v is None or v != v else f"{v:,.2f}")
    return "price of fairness over the horizon (expected lives):\n" + table.to_string(index=False)


def check_text(result: CheckResult) -> str:
    lines = [
        f"check-plan {result.plan_file} on {result.instance}: {result.rows} rows; admissions "
        + ("simulated (no admit rows)" if result.greedy_admissions else "from the plan"),
        f"expected extra survivors: {result.survivors:,.6f}",
        f"shortfall: {result.shortfall:,.3f} resource-days of unmet need",
    ]
    if result.ok:
        lines.append("ok: the plan breaks no rule")
    else:
        rules = sorted({v["rule"] for v in result.violations})
        lines.append(f"{len(result.violations)} rule(s) broken ({', '.join(rules)}):")
        for v in result.violations:
            where = f"line {v['line']}, " if v.get("line") is not None else ""
            lines.append(f"  [{v['rule']}] {where}day {v['day']}: {v['message']}")
    return "\n".join(lines)
