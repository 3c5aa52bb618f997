"""Fan chart: the scenarios' need for units as quantile bands over days, against the units a
plan has on hand (data: optimiser.stochastic.fan.FanData)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from optimiser.charts.common import COLOURS, DPI, CountFormatter

FAN_RED = "#c0392b"
HAND_LABELS = {  # how the units on hand were obtained (FanData.replay)
    "recourse": "each scenario's recourse, mean",
    "committed": "moves committed now",
    "manifest": "the plan's moves as written, mean",
    "as_is": "the plan as written, mean",
}


def _pct(q: float) -> str:
    return f"{q * 100:g}%"


def fan_chart(
    rows: pd.DataFrame,
    area: str,
    *,
    quantiles: tuple[float, ...],
    resource: str,
    replay: str,
    observed: Any = None,
) -> Figure:
    """rows: one area's rows of FanData.table (day, need_qNN..., on_hand_mean/min/max).
    Bands pair the quantiles from the outside in (5-95%, 25-75%); the median is a line; the
    units on hand a line (mean), with dashed lines for the fewest and the most over the scenarios
    when the replay differs between them. `observed`: the census that was observed, one value
    per day (a backtest), drawn as a black line over the fan."""
    from optimiser.stochastic.fan import quantile_label

    days = rows["day"].to_numpy()
    fig = Figure(figsize=(8.0, 3.6), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    qs = sorted(quantiles)
    alphas = [0.18, 0.38, 0.55]
    for i in range(len(qs) // 2):
        low, high = qs[i], qs[-1 - i]
        ax.fill_between(
            days,
            rows[f"need_{quantile_label(low)}"],
            rows[f"need_{quantile_label(high)}"],
            color=FAN_RED,
            alpha=alphas[min(i, len(alphas) - 1)],
            linewidth=0,
            step="mid",
            label=f"need, {_pct(low)}–{_pct(high)} of scenarios",
            gid=f"fan_band_{round(low * 100)}_{round(high * 100)}",
        )
    if len(qs) % 2:
        mid = qs[len(qs) // 2]
        label = "median need" if abs(mid - 0.5) < 1e-9 else f"need, {_pct(mid)} quantile"
        ax.step(days, rows[f"need_{quantile_label(mid)}"], where="mid", color=FAN_RED,
                linewidth=1.6, label=label, gid="fan_median")
    hand_label = "units on hand (" + HAND_LABELS.get(replay, replay) + ")"
    if (rows["on_hand_max"] - rows["on_hand_min"]).abs().max() > 1e-9:
        for column, label in (("on_hand_min", "fewest"), ("on_hand_max", "most")):
            ax.step(days, rows[column], where="mid", color=COLOURS["units"], linewidth=1.0,
                    linestyle="--", label=f"units on hand, {label} over scenarios",
                    gid=f"fan_{column}")
    ax.step(days, rows["on_hand_mean"], where="mid", color=COLOURS["units"], linewidth=2.0,
            label=hand_label, gid="fan_on_hand")
    if observed is not None:
        ax.step(days, list(observed), where="mid", color="black", linewidth=1.8,
                label="observed census (what happened)", gid="fan_observed")
    title = "National total" if area == "national" else area
    ax.set_title(f"{title}: {resource}s needed vs on hand")
    ax.set_xlabel("day")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(f"{resource}s")
    ax.yaxis.set_major_formatter(CountFormatter())
    ax.set_ylim(bottom=0)
    ax.margins(x=0.01)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return fig


def fan_charts(
    fan: Any, areas: list[str], observed: dict[str, Any] | None = None
) -> dict[str, Figure]:
    """One fan chart per area (FanData.area order as given); `observed`: area -> the observed
    census per day, drawn over the fan where given."""
    return {
        area: fan_chart(
            fan.area(area),
            area,
            quantiles=fan.quantiles,
            resource=fan.resource,
            replay=fan.replay,
            observed=None if observed is None else observed.get(area),
        )
        for area in areas
    }
