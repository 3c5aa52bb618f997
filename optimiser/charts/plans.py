"""Plans over time: units on hand against demand, per region (small multiples) and summed."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from optimiser.charts.common import COLOURS, DPI, PLAN_COLUMNS, CountFormatter
from optimiser.errors import listed

# ---------------------------------------------------------------------------------------------
# Plans


def plan_frame(source: Any) -> pd.DataFrame:
    """The plan contract (PLAN_COLUMNS) from a multi-period PlanResult (its `daily` table:
    `need` is the demand), from such a daily table, or from a frame already in the contract."""
    frame = getattr(source, "daily", source)
    if not isinstance(frame, pd.DataFrame):
        from optimiser.errors import InputError, Problem

        raise InputError(Problem("a plan must be a PlanResult or a DataFrame"))
    if "demand" not in frame.columns and "need" in frame.columns:
        frame = frame.rename(columns={"need": "demand"})
    return check_plan_frame(frame)


def check_plan_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate the plan contract: PLAN_COLUMNS present, numbers finite, days whole."""
    from optimiser.errors import InputError, Problem

    if "demand" not in frame.columns and "need" in frame.columns:  # a multi-period daily table
        frame = frame.rename(columns={"need": "demand"})
    missing = [c for c in PLAN_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            Problem(
                f"plan table: missing {listed('column', missing, ' ')} "
                f"(needs {', '.join(PLAN_COLUMNS)})"
            )
        )
    out = frame[list(PLAN_COLUMNS)].copy()
    for col in ("day", "units_on_hand", "demand"):
        values = pd.to_numeric(out[col], errors="coerce")
        if values.isna().any() or not np.isfinite(values.to_numpy(dtype=float)).all():
            raise InputError(Problem(f"plan table: column {col} must hold finite numbers"))
        out[col] = values
    out["region"] = out["region"].astype(str)
    return out


def _x(day: np.ndarray, start_date: str | None) -> np.ndarray:
    """Days of the plan as dates when the plan has a start date (else the day numbers)."""
    if not start_date:
        return day
    return np.datetime64(start_date, "D") + day.astype("timedelta64[D]")


def _date_axis(ax: Any, start_date: str | None) -> None:
    if start_date:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        locator = AutoDateLocator(minticks=3, maxticks=7)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    else:
        ax.xaxis.set_major_formatter(CountFormatter())


def strained(frame: pd.DataFrame) -> list[str]:
    """Regions where something happens: a shortage on some day, or units on hand that change
    (units arrive or leave). The others are flat lines in a small multiple: left out."""
    data = check_plan_frame(frame)
    order, shortage = _plan_order(data)
    moving = data.groupby("region")["units_on_hand"].agg(lambda v: float(v.max() - v.min()))
    return [r for r in order if shortage.get(r, 0.0) > 0 or moving.get(r, 0.0) > 0]


PLAN_COLUMNS_PER_ROW = 4
PLAN_PAGE = 20  # regions per page of the report (4 x 5 panels)
PLAN_WIDTH = 11.0  # inches: 1,056 px in a browser (96 px/in), the HTML body's width


def _plan_order(data: pd.DataFrame) -> tuple[list[str], pd.Series]:
    """Regions, most strained first (shortage, then peak demand, then id); the shortages."""
    shortage = (data["demand"] - data["units_on_hand"]).clip(lower=0).groupby(data["region"]).sum()
    peak = data.groupby("region")["demand"].max()
    order = sorted(peak.index, key=lambda r: (-shortage.get(r, 0.0), -peak.get(r, 0.0), r))
    return [str(r) for r in order], shortage


def plan_chart(
    frame: pd.DataFrame,
    resource: str = "ventilator",
    *,
    max_regions: int = 60,
    regions: list[str] | None = None,
    title: str | None = None,
    start_date: str | None = None,
) -> Figure:
    """Units on hand against demand over time, one small panel per region (most strained first).
    With `start_date` (ISO), the x axis shows dates.

    frame: PLAN_COLUMNS (region, day, units_on_hand, demand). Shortage (demand above units on
    hand) is shaded. `regions`: draw these (in this order) instead. The figure is 11 inches
    wide with 7.5-point tick labels, so that in an HTML page (no scaling down) labels stay 10
    px; `plan_chart_pages` cuts many regions into pages.
    """
    data = check_plan_frame(frame)
    order, shortage = _plan_order(data)
    order = list(regions) if regions is not None else order[:max_regions]
    n = len(order)
    cols = PLAN_COLUMNS_PER_ROW if n > 6 else min(3, max(1, n))
    rows = math.ceil(n / cols) if n else 1
    width, height = PLAN_WIDTH, max(4.2, 2.0 * rows + 1.65)
    fig = Figure(
        figsize=(width, height), dpi=DPI
    )  # fixed margins: constrained layout is slow with 50 panels
    fig.subplots_adjust(
        left=0.95 / width,
        right=1 - 0.15 / width,
        bottom=0.8 / height,
        top=1 - 1.05 / height,
        wspace=0.3,
        hspace=0.5,
    )
    axes = fig.subplots(rows, cols, sharex=True, squeeze=False)
    by_region = {str(k): g for k, g in data.groupby("region", sort=False)}
    for i, region in enumerate(order):
        ax = axes[i // cols][i % cols]
        part = by_region.get(region, data.iloc[0:0]).sort_values("day")
        day = _x(part["day"].to_numpy(dtype=float), start_date)
        have = part["units_on_hand"].to_numpy(dtype=float)
        need = part["demand"].to_numpy(dtype=float)
        ax.step(
            day, have, where="post", color=COLOURS["units"], linewidth=1.3, label="units on hand"
        )
        ax.step(
            day,
            need,
            where="post",
            color=COLOURS["demand"],
            linewidth=1.0,
            label="demand (patients)",
        )
        ax.fill_between(
            day,
            have,
            need,
            where=need > have,
            color=COLOURS["before"],
            alpha=0.3,
            step="post",
            label="shortage",
        )
        short = shortage.get(region, 0.0)
        ax.set_title(
            f"{region}" + (f"  (short {short:,.0f} unit-days)" if short > 0 else ""), fontsize=8.5
        )
        ax.tick_params(labelsize=7.5)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.yaxis.set_major_formatter(CountFormatter())
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.25)
        _date_axis(ax, start_date)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].set_visible(False)
        if j >= cols:  # the panel above has nothing below it: give it the day labels
            axes[j // cols - 1][j % cols].xaxis.set_tick_params(labelbottom=True)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(  # below the title, left-aligned with it: never over it
        handles,
        labels,
        loc="upper left",
        ncols=3,
        fontsize=8.5,
        bbox_to_anchor=(0.9 / width, 1 - 0.38 / height),
        frameon=False,
    )
    fig.supxlabel("date" if start_date else "day of the plan", y=0.15 / height, fontsize=9.5)
    fig.supylabel(
        f"{resource}s on hand (units)\n/ patients needing one", x=0.12 / width, fontsize=9.5
    )
    fig.suptitle(
        title or "Units on hand against demand, by region",
        fontsize=11,
        y=1 - 0.1 / height,
        x=0.95 / width,
        ha="left",
        va="top",
    )
    return fig


def plan_chart_pages(
    frame: pd.DataFrame,
    resource: str = "ventilator",
    *,
    per_page: int = PLAN_PAGE,
    start_date: str | None = None,
    regions: list[str] | None = None,
) -> list[Figure]:
    """plan_chart in pages of at most `per_page` regions, most strained first (page k of n in
    each title); `regions`: only these (in this order), e.g. `strained(frame)[:40]`."""
    data = check_plan_frame(frame)
    order = list(regions) if regions is not None else _plan_order(data)[0]
    pages = [order[i : i + per_page] for i in range(0, len(order), per_page)] or [[]]
    figures = []
    for k, page in enumerate(pages, start=1):
        title = "Units on hand against demand, by region"
        if len(pages) > 1:
            title += (
                f" (page {k} of {len(pages)}: regions {per_page * (k - 1) + 1}-"
                f"{per_page * (k - 1) + len(page)}, most strained first)"
            )
        figures.append(
            plan_chart(data, resource, regions=page, title=title, start_date=start_date)
        )
    return figures


def plan_totals_chart(
    frame: pd.DataFrame,
    resource: str = "ventilator",
    *,
    arrivals: pd.Series | None = None,
    title: str | None = None,
    start_date: str | None = None,
) -> Figure:
    """The plan summed over regions: units on hand and patients needing one, each day, and the
    shortage summed region by region (a national total would hide a region's shortage behind
    another's spare units). `arrivals` (units arriving from depots, by day) get their own panel
    below, on their own scale: beside national totals they would be invisible."""
    data = check_plan_frame(frame).assign(
        short=lambda f: (f["demand"] - f["units_on_hand"]).clip(lower=0)
    )
    daily = data.groupby("day")[["units_on_hand", "demand", "short"]].sum().sort_index()
    day = _x(daily.index.to_numpy(dtype=float), start_date)
    have = daily["units_on_hand"].to_numpy(dtype=float)
    need = daily["demand"].to_numpy(dtype=float)
    short = daily["short"].to_numpy(dtype=float)
    show_arrivals = arrivals is not None and len(arrivals) > 0 and float(arrivals.sum()) > 0
    fig = Figure(figsize=(9.0, 5.8 if show_arrivals else 4.4), dpi=DPI, layout="constrained")
    if show_arrivals:
        ax, low = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    else:
        ax, low = fig.add_subplot(), None
    ax.step(day, have, where="post", color=COLOURS["units"], linewidth=1.6, label="units on hand")
    ax.step(
        day, need, where="post", color=COLOURS["demand"], linewidth=1.2, label="demand (patients)"
    )
    ax.fill_between(
        day,
        0,
        short,
        color=COLOURS["before"],
        alpha=0.45,
        step="post",
        label="shortage: patients above the units on hand, summed over regions",
    )
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(CountFormatter())
    ax.set_ylabel(f"{resource}s (units) / patients,\nall regions")
    ax.grid(alpha=0.3)
    bottom = ax
    if low is not None and arrivals is not None:
        when = _x(arrivals.index.to_numpy(dtype=float), start_date)
        low.bar(when, arrivals.to_numpy(dtype=float), width=0.8, color=COLOURS["units"],
                label=f"{resource}s arriving from the depots")
        low.set_ylabel("arriving\nfrom depots")
        low.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
        low.yaxis.set_major_formatter(CountFormatter())
        low.grid(alpha=0.3)
        bottom = low
    _date_axis(bottom, start_date)
    bottom.set_xlabel("date" if start_date else "day of the plan")
    handles, labels = ax.get_legend_handles_labels()
    if low is not None:
        more = low.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    ax.set_title(title or "All regions: units on hand, demand and shortage", fontsize=11)
    return fig
