"""The backtest's chart: the observed census against each policy's units on hand, over time.

Top: summed over regions, the census that was observed (patients needing a unit) and each
policy's units on hand in the replay. Bottom: each policy's unmet need per day (resource-days
of the simulator's shortfall, summed region by region: a national total of units would hide
one region's shortage behind another's spare units). Built without pyplot (Agg, no display).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from optimiser.backtest.results import BacktestResult
from optimiser.charts.common import DPI, CountFormatter

# one colour per policy, stable across charts (Okabe-Ito, readable by colour-blind readers)
POLICY_COLOURS = {
    "none": "#999999",
    "mean": "#0072B2",
    "buffer": "#56B4E9",
    "stochastic": "#009E73",
    "risk-averse": "#CC79A7",
    "hindsight": "#E69F00",
}
OTHER_COLOURS = ["#D55E00", "#F0E442", "#000080", "#8B4513"]
STYLES = {"none": ":", "hindsight": "--"}


def policy_colour(policy: str, i: int) -> str:
    return POLICY_COLOURS.get(policy, OTHER_COLOURS[i % len(OTHER_COLOURS)])


def backtest_chart(result: BacktestResult, title: str | None = None) -> Figure:
    """Observed census and every policy's units on hand (top), unmet need (bottom)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    totals = result.totals()
    days = totals.index.to_numpy(dtype=int)
    x = np.datetime64(result.start_date, "D") + days.astype("timedelta64[D]")
    fig = Figure(figsize=(9.5, 6.4), dpi=DPI, layout="constrained")
    top, low = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    top.step(
        x,
        totals["census"].to_numpy(dtype=float),
        where="post",
        color="black",
        linewidth=2.2,
        label=f"observed census (patients needing a unit: {result.resource}s)",
    )
    for i, policy in enumerate(result.policies):
        colour, style = policy_colour(policy, i), STYLES.get(policy, "-")
        top.step(
            x,
            totals[f"{policy}_on_hand"].to_numpy(dtype=float),
            where="post",
            color=colour,
            linestyle=style,
            linewidth=1.5,
            label=f"{policy}: units on hand",
        )
        low.step(
            x,
            totals[f"{policy}_shortfall"].to_numpy(dtype=float),
            where="post",
            color=colour,
            linestyle=style,
            linewidth=1.5,
            label=f"{policy}: unmet need",
        )
    for ax in (top, low):
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(CountFormatter())
        ax.grid(alpha=0.3)
    replans = sorted({int(d) for d in result.weeks["day"]} - {0})
    for d in replans:
        when = np.datetime64(result.start_date, "D") + np.timedelta64(d, "D")
        for ax in (top, low):
            ax.axvline(when, color="#cccccc", linewidth=0.8, zorder=0)
    top.set_ylabel(f"{result.resource}s / patients,\nall regions")
    low.set_ylabel("unmet need\n(patients without a unit)")
    locator = AutoDateLocator(minticks=3, maxticks=8)
    low.xaxis.set_major_locator(locator)
    low.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    low.set_xlabel(f"date (grey lines: re-planning dates, every {result.commit_days} days)")
    handles, labels = top.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    top.set_title(
        title
        or (
            f"{result.instance}: plans made from {result.as_of} with {result.source}'s "
            "forecasts, replayed against what happened"
        ),
        fontsize=10,
    )
    return fig


__all__ = ["POLICY_COLOURS", "backtest_chart", "policy_colour"]
