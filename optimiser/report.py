"""Readable text reports of results (the CLI's default output).

Written for a reader who has thirty seconds: the answer first (expected survivors, what the
fairness constraints cost), then why the optimum looks as it does (lives per unit), then the
regions that matter. With more than SMALL regions the table keeps the regions where units save
lives and summarises the others in one line each (short regions left without units; units sent
where no patient needs them at the peak), and lists of regions are cut to a few names.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimiser.errors import counted
from optimiser.results import AllocationResult, SolverInfo

if TYPE_CHECKING:
    from optimiser.instance import Instance

SMALL = 15  # regions shown one row each; above this, the table keeps the regions that matter
NAMES = 6  # regions named in one line before "and N more"
ROWS = 20  # rows of the table of regions where units save lives


def _num(value: float | None, digits: int = 1) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{value:,.{digits}f}"


def prose(text: str, width: int = 100) -> str:
    """A sentence wrapped for a terminal (continuation lines indented)."""
    return textwrap.fill(text, width=width, subsequent_indent="  ", break_on_hyphens=False)


def few(items: Iterable[str], most: int = NAMES) -> str:
    """'a, b, c and 4 more': a list of names that stays one short line."""
    items = list(items)
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def lives_per_unit(instance: Instance | None, regions: pd.DataFrame) -> pd.Series | None:
    """Expected lives one useful unit saves in each region (g_r t_r of its best tier)."""
    if instance is None:
        return None
    from optimiser.engine import regional_data

    try:
        data = regional_data(instance)
    except Exception:  # an instance the engine cannot read gives no explanation, not an error
        return None
    value = pd.Series(data.value, index=list(data.regions))
    return value.reindex(regions.index)


def why_text(result: AllocationResult, instance: Instance | None) -> list[str]:
    """One or two sentences on why the optimum looks as it does (lives per unit)."""
    regions = result.regions
    value = lives_per_unit(instance, regions)
    if value is None or "units" not in regions or result.lives_saved is None:
        return []
    short = regions["excess_demand"] > 0
    if not short.any():
        return ["No region is short of units at the peak: nothing to allocate for lives."]
    worth = value[short]
    resource = result.resource
    if np.allclose(worth, worth.iloc[0], rtol=1e-9, atol=1e-12):
        return [
            f"Why: one {resource} that reaches a patient saves the same "
            f"{worth.iloc[0]:,.2f} expected lives in every short region here, so every "
            "allocation that sends all units to patients who need them saves the same number "
            "of lives (the policies of `triage compare` differ only in who receives the "
            "units); the optimum breaks the tie by a documented rule (in proportion to excess "
            "demand)."
        ]
    if result.policy != "optimal":
        return []
    order = worth.sort_values(ascending=False, kind="stable")
    useful = regions["useful_units"] if "useful_units" in regions else regions["units"]
    filled = [
        f"{rid} ({order[rid]:,.2f} lives/unit, {counted(int(useful[rid]), 'unit')})"
        for rid in order.index
        if useful[rid] > 0
    ]
    text = (
        f"Why: a {resource} saves more lives where treatment raises survival more and where "
        "patients need it for fewer days (more patients per unit over the horizon): lives/unit "
        "below. The optimum sends units where that is highest first"
    )
    if result.constraints:
        text += ", within what the fairness constraints require"
    return [text + ": " + few(filled, 4) + "."]


def _table(regions: pd.DataFrame, value: pd.Series | None, resource: str) -> pd.DataFrame:
    cols = {
        "units": f"{resource}s sent",
        "useful_units": "useful",
        "lives": "lives saved",
        "excess_demand": "short at peak",
        "coverage_before": "coverage before",
        "coverage_after": "after",
    }
    table = regions[[c for c in cols if c in regions]].copy()
    if value is not None:
        table.insert(3, "lives/unit", value.reindex(table.index).map(lambda v: _num(v, 2)))
    if "change" in regions and (regions["change"] != 0).any():
        table["vs. no fairness"] = regions["change"].map(lambda v: f"{int(v):+,}" if v else "0")
    for col in ("coverage_before", "coverage_after"):
        if col in table:
            table[col] = (100 * table[col]).map(lambda v: f"{v:.1f}%")
    if "units" in table:
        table["units"] = table["units"].map(lambda v: _num(v, 0))
    for col in ("useful_units", "lives"):
        if col in table:
            table[col] = table[col].map(lambda v: _num(v, 1))
    if "excess_demand" in table:
        table["excess_demand"] = table["excess_demand"].map(lambda v: _num(v, 0))
    return table.rename(columns=cols)


def allocation_text(result: AllocationResult, instance: Instance | None = None) -> str:
    """The answer, why, and the regions that matter (`instance` adds lives per unit)."""
    regions = result.regions
    lines = [
        f"{result.instance}: {result.supply:,} {result.resource}s for {len(regions):,} "
        f"region{'' if len(regions) == 1 else 's'} "
        f"(policy {result.policy}, status {result.status})",
    ]
    if result.constraints:
        lines.append("Active fairness constraints: " + ", ".join(result.constraints))
    if result.lives_saved is None:  # infeasible or nothing found: the error says why (stderr)
        return "\n".join(lines)
    if result.explanation:
        lines.append(result.explanation)
    saved = f"Expected extra survivors: {_num(result.lives_saved, 1)}"
    star = result.lives_optimal
    if result.constraints and star is not None and result.lives_lost_total is not None:
        saved += (
            f", against {_num(star, 1)} without fairness constraints (they cost "
            f"{cost_words(result)} lives, {'at most ' if unproved(result) else ''}"
            f"{_num(result.lives_lost_pct, 1)}%)"
        )
    elif result.policy == "optimal" and not result.constraints:
        saved += " (the most any allocation saves)"
    elif star is not None:
        saved += f" (the optimum saves {_num(star, 1)})"
    lines.append(prose(saved))
    left = result.unallocated or 0
    if left < 0:  # an evaluated allocation sending more than there is
        lines.append(f"Sent beyond the supply: {-left:,} more than the {result.supply:,} "
                     "there are")
    elif left and result.status == "evaluated":  # the sender chose not to send them
        lines.append(f"Not sent (kept in the national reserve): {left:,}")
    elif left and unproved(result):  # an allocation cut short: regions may well use them
        lines.append(f"Not allocated by the best allocation found (status {result.status}): "
                     f"{left:,}")
    elif left:
        lines.append(f"Kept in the national reserve (no region can use them): {left:,}")
    lines += [prose(line) for line in why_text(result, instance)]
    if result.violations:
        lines.append("Breaks: " + "; ".join(result.violations))
    if "units" in regions:
        value = lives_per_unit(instance, regions)
        lines += ["", *_regions_lines(result, value)]
    if not result.clipped_floors.empty:
        lines += ["", "Floors clipped at staff caps:", result.clipped_floors.to_string(index=False)]
    if result.solver is not None:
        lines += ["", _solver_line(result.solver)]
    return "\n".join(lines)


def unproved(result: AllocationResult) -> bool:
    """An allocation a time or iteration limit stopped: its figures are not proved optimal."""
    return result.status in ("time_limit", "iteration_limit")


def cost_words(result: AllocationResult, digits: int = 1) -> str:
    """What the fairness constraints cost, in lives: exact when proved; when a limit stopped a
    solve, the proven interval ("between 0.0 and 7,725.0"; its low end from the bounds)."""
    cost = float(result.lives_lost_total or 0.0)
    if not unproved(result):
        return _num(cost, digits)
    star, bound = result.lives_optimal, result.lives_saved_bound
    low = 0.0 if star is None or bound is None else max(0.0, star - bound)
    star_bound, saved = result.lives_optimal_bound, result.lives_saved
    high = cost if star_bound is None or saved is None else max(cost, star_bound - saved)
    return f"between {_num(low, digits)} and {_num(high, digits)} (not proved)"


def gap_words(gap: float | None) -> str:
    """A relative MIP gap as the planner prints it, a percentage ("gap 0.0000%"): a bare
    2,366.501074 read as lives, not as 236,650%."""
    if gap is None or pd.isna(gap):
        return "gap -"
    return f"gap {100 * gap:,.4f}%"


def _solver_line(solver: SolverInfo) -> str:
    if solver.solves == 0:  # no coupling constraint: optimiser/ties.py solves it exactly
        return (f"Solver: exact greedy, no HiGHS run needed (no constraint couples the regions), "
                f"{solver.seconds:.3f} s, {gap_words(solver.gap)}")
    runs = "1 HiGHS run" if solver.solves == 1 else f"{solver.solves} HiGHS runs"
    return (f"Solver: HiGHS {solver.version}, {runs}, {solver.seconds:.3f} s, "
            f"{gap_words(solver.gap)}")


def _regions_lines(result: AllocationResult, value: pd.Series | None) -> list[str]:
    regions = result.regions
    resource = result.resource
    table = _table(regions, value, resource)
    if len(regions) <= SMALL:
        return [table.to_string()]
    useful = regions["useful_units"] if "useful_units" in regions else regions["units"]
    saving = regions[useful > 0].sort_values("lives", ascending=False, kind="stable")
    lines = [f"Regions where the {resource}s save lives ({len(saving):,} of {len(regions):,}):"]
    lines.append(table.loc[saving.index[:ROWS]].to_string())
    if len(saving) > ROWS:
        lines.append(f"... {len(saving) - ROWS:,} more (--json or --out for every region)")
    left = regions[(regions["excess_demand"] > 0) & (regions["units"] == 0)]
    if len(left):
        left = left.sort_values("excess_demand", ascending=False, kind="stable")
        lines.append(prose(
            f"{counted(len(left), 'short region')} "
            + ("receives" if len(left) == 1 else "receive") + " nothing: "
            + few(f"{r} (short {v:,.0f})" for r, v in left["excess_demand"].items())
        ))
    idle = (regions["units"] - useful).astype(float)
    idle = idle[idle > 0].sort_values(ascending=False, kind="stable")
    if len(idle):
        reason = (
            "to meet " + ", ".join(result.constraints)
            if result.constraints
            else "beyond their excess demand"
        )
        lines.append(prose(
            f"{counted(len(idle), 'region')} " + ("receives" if len(idle) == 1 else "receive")
            + f" {idle.sum():,.0f} {resource}s that no patient "
            f"needs there at the peak (saving no lives), {reason}: "
            + few(f"{r} {v:,.0f}" for r, v in idle.items())
        ))
    return lines


def changes_text(regions: pd.DataFrame) -> str | None:
    """'Against the lives-optimal allocation: 47 regions gain 636 units (CA +86, ...); MA loses
    636' — one short line, whatever the number of regions."""
    if "change" not in regions:
        return None
    gain = regions[regions["change"] > 0]["change"].sort_values(ascending=False, kind="stable")
    lose = regions[regions["change"] < 0]["change"].sort_values(kind="stable")
    if not len(gain) and not len(lose):
        return None

    def side(part: pd.Series, verb: str) -> str:
        if not len(part):
            return f"no region {verb}s"
        total = int(abs(part.sum()))
        names = few(f"{r} {int(v):+,}" for r, v in part.items())
        verbs = f"{verb}s" if len(part) == 1 else verb
        return f"{counted(len(part), 'region')} {verbs} {counted(total, 'unit')} ({names})"

    return "Against the lives-optimal allocation: " + side(gain, "gain") + "; " + side(
        lose, "lose"
    )


def price_table(price: pd.DataFrame) -> pd.DataFrame:
    """Lives to two decimals; a price the solver proved only within an interval shows it
    ("12.30 (12.10-12.45)"); the interval columns themselves are left out of the text."""
    table = price.copy()
    table["lives_saved_alone"] = table["lives_saved_alone"].map(lambda v: _num(v, 2))
    rows: list[dict[str, Any]] = table.to_dict("records")  # type: ignore[assignment]
    for col in ("lives_lost_alone", "lives_lost_marginal"):
        low, high = f"{col}_low", f"{col}_high"
        texts = []
        for row in rows:
            text = _num(row[col], 2)
            exact = bool(row.get("exact", True))
            if not exact and row.get(low) is not None and not pd.isna(row[low]):
                text += f" ({_num(row[low], 2)}-{_num(row[high], 2)})"
            texts.append(text)
        table[col] = texts
    extra = [c for c in table.columns if c.endswith(("_low", "_high")) or c == "exact"]
    return table.drop(columns=extra)


def price_text(result: AllocationResult) -> str:
    if result.price_skipped:
        return "Price of fairness: not computed (--no-price)."
    if result.price_of_fairness.empty:
        return "Price of fairness: no fairness constraint active."
    table = price_table(result.price_of_fairness)
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
            f"All active together: {cost_words(result, 2)} lives lost "
            f"({'at most ' if unproved(result) else ''}{_num(result.lives_lost_pct, 2)}% of "
            f"{_num(result.lives_optimal, 2)})"
        )
    change = changes_text(result.regions)
    if change:
        lines.append(prose(change))
    return "\n".join(lines)


def comparison_text(table: pd.DataFrame, instance: Instance | None = None) -> str:
    """Policies side by side, best first; says when every policy saves the same and why, and
    when the units-by-region table is left out (more than 12 regions)."""
    lives = table["lives_saved"].astype(float).fillna(-np.inf)
    ranked = table.loc[sorted(table.index, key=lambda p: (-lives[p], p != "optimal"))]
    view = ranked[
        ["status", "lives_saved", "lives_lost_vs_optimal", "pct_of_optimal", "unallocated"]
    ].copy()
    view["lives_saved"] = view["lives_saved"].map(lambda v: _num(v, 1))
    view["lives_lost_vs_optimal"] = view["lives_lost_vs_optimal"].map(lambda v: _num(v, 1))
    view["pct_of_optimal"] = view["pct_of_optimal"].map(
        lambda v: "-" if _num(v, 1) == "-" else _num(v, 1) + "%"
    )
    view["unallocated"] = view["unallocated"].map(lambda v: _num(v, 0))
    view = view.rename(
        columns={
            "lives_saved": "lives saved",
            "lives_lost_vs_optimal": "lost vs optimum",
            "pct_of_optimal": "% of optimum",
        }
    )
    units = ranked[[c for c in ranked.columns if c.startswith("units:")]]
    units.columns = [c.split(":", 1)[1] for c in units.columns]
    units = units.map(lambda v: _num(v, 0))  # whole units; "-" where there is no allocation
    lines: list[str] = []
    saved = table["lives_saved"].dropna().astype(float)
    if len(saved) > 1 and np.allclose(saved, saved.iloc[0], rtol=1e-9, atol=1e-6):
        lines.append(prose(
            f"Every policy saves {_num(saved.iloc[0], 1)} expected lives here: the rules differ "
            "only in who receives the units"
            + (
                " (one useful unit saves the same lives in every short region)."
                if _equal_value(instance)
                else "."
            )
        ))
    lines += ["Policies side by side (expected extra survivors, best first):", view.to_string()]
    if "description" in ranked:
        width = max(len(str(p)) for p in ranked.index)
        lines += ["", "The rules:"]
        lines += [f"  {p:<{width}}  {d}" for p, d in ranked["description"].items() if d]
    if units.shape[1] <= 12:
        lines += ["", "Units by region:", units.to_string()]
    else:
        lines += [
            "",
            f"Units by region: not shown for {units.shape[1]:,} regions (more than 12); "
            "--json gives every policy's allocation.",
        ]
    broken = table["violates"][table["violates"].astype(bool)]
    if len(broken):
        lines += ["", "Rules that break the active constraints:"]
        lines += [f"  {p}: {v}" for p, v in broken.items()]
    return "\n".join(lines)


def _equal_value(instance: Any) -> bool:
    if instance is None:
        return False
    value = lives_per_unit(instance, instance.regions)
    if value is None:
        return False
    short = (instance.excess_demand > 0).to_numpy()
    worth = value.to_numpy()[short]
    return bool(len(worth)) and bool(np.allclose(worth, worth[0], rtol=1e-9, atol=1e-12))
