"""Readable text reports of results (the CLI's default output)."""

from __future__ import annotations

import pandas as pd

from optimiser.results import AllocationResult


def _num(value: float | None, digits: int = 1) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{value:,.{digits}f}"


def allocation_text(result: AllocationResult) -> str:
    lines = [
        f"Instance {result.instance}: {result.supply:,} {result.resource}s, "
        f"policy {result.policy}, "
        f"status {result.status}",
    ]
    if result.constraints:
        lines.append("Active constraints: " + ", ".join(result.constraints))
    if result.explanation:
        lines.append(result.explanation)
    if result.lives_saved is not None:
        lines.append(
            f"Expected extra survivors: {_num(result.lives_saved, 2)}"
            + (
                f" (optimum without fairness constraints: {_num(result.lives_optimal, 2)})"
                if result.lives_optimal is not None
                else ""
            )
        )
        lines.append(f"Unallocated (national reserve): {result.unallocated:,}")
    if result.violations:
        lines.append("Breaks: " + "; ".join(result.violations))
    regions = result.regions
    if "units" in regions:
        cols = [
            "units",
            "useful_units",
            "lives",
            "excess_demand",
            "coverage_before",
            "coverage_after",
        ]
        if "change" in regions and (regions["change"] != 0).any():
            cols += ["units_unconstrained", "change"]
        table = regions[cols].copy()
        table["coverage_before"] = (100 * table["coverage_before"]).map(lambda v: f"{v:.1f}%")
        table["coverage_after"] = (100 * table["coverage_after"]).map(lambda v: f"{v:.1f}%")
        for col in ("useful_units", "lives", "excess_demand"):
            table[col] = table[col].map(lambda v: _num(v, 1))
        lines += ["", table.to_string()]
    if not result.clipped_floors.empty:
        lines += ["", "Floors clipped at staff caps:", result.clipped_floors.to_string(index=False)]
    if result.solver is not None:
        lines += [
            "",
            f"Solver: HiGHS {result.solver.version}, {result.solver.solves} solves, "
            f"{result.solver.seconds:.3f} s, gap {_num(result.solver.gap, 6)}",
        ]
    return "\n".join(lines)


def price_text(result: AllocationResult) -> str:
    if result.price_skipped:
        return "Price of fairness: not computed (--no-price)."
    if result.price_of_fairness.empty:
        return "Price of fairness: no fairness constraint active."
    table = result.price_of_fairness.copy()
    for col in ("lives_saved_alone", "lives_lost_alone", "lives_lost_marginal"):
        table[col] = table[col].map(lambda v: _num(v, 2))
    table = table.rename(
        columns={
            "lives_saved_alone": "saved alone",
            "lives_lost_alone": "lost alone",
            "lives_lost_marginal": "lost marginal",
        }
    )
    if not table["note"].astype(bool).any():
        table = table.drop(columns="note")
    lines = [
        "Price of fairness (lives, against the optimum without fairness constraints):",
        table.to_string(index=False),
    ]
    if result.lives_lost_total is not None:
        lines.append(
            f"All active together: {_num(result.lives_lost_total, 2)} lives lost "
            f"({_num(result.lives_lost_pct, 2)}% of {_num(result.lives_optimal, 2)})"
        )
    if "change" in result.regions:
        gain = result.regions[result.regions["change"] > 0]["change"]
        lose = result.regions[result.regions["change"] < 0]["change"]
        if len(gain) or len(lose):
            lines.append(
                "Against the lives-optimal allocation: "
                + "gain "
                + (", ".join(f"{r} +{int(v)}" for r, v in gain.items()) or "none")
                + "; lose "
                + (", ".join(f"{r} {int(v)}" for r, v in lose.items()) or "none")
            )
    return "\n".join(lines)


def comparison_text(table: pd.DataFrame) -> str:
    view = table[
        ["status", "lives_saved", "lives_lost_vs_optimal", "pct_of_optimal", "unallocated"]
    ].copy()
    view["lives_saved"] = view["lives_saved"].map(lambda v: _num(v, 2))
    view["lives_lost_vs_optimal"] = view["lives_lost_vs_optimal"].map(lambda v: _num(v, 2))
    view["pct_of_optimal"] = view["pct_of_optimal"].map(
        lambda v: "-" if _num(v, 1) == "-" else _num(v, 1) + "%"
    )
    view["unallocated"] = view["unallocated"].map(lambda v: _num(v, 0))
    units = table[[c for c in table.columns if c.startswith("units:")]]
    units.columns = [c.split(":", 1)[1] for c in units.columns]
    units = units.map(lambda v: _num(v, 0))  # whole units; "-" where there is no allocation
    lines = ["Policies side by side (expected extra survivors):", view.to_string()]
    if units.shape[1] <= 12:
        lines += ["", "Units by region:", units.to_string()]
    broken = table["violates"][table["violates"].astype(bool)]
    if len(broken):
        lines += ["", "Rules that break the active constraints:"]
        lines += [f"  {p}: {v}" for p, v in broken.items()]
    return "\n".join(lines)
