"""Allocation, coverage and policy charts (one bar per region or policy)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from optimiser.charts.common import (
    COLOURS,
    DPI,
    LABEL_GAP_PT,
    CountFormatter,
    _number,
    _region_labels,
    _tall_figure,
)

# ---------------------------------------------------------------------------------------------
# Allocation


def allocation_chart(
    regions: pd.DataFrame, resource: str = "ventilator", title: str | None = None
) -> Figure:
    """Per region: existing capacity and the units sent (stacked), against peak demand (marker).

    Units up to the peak are solid; units beyond the peak (no patient to treat there at the
    peak) are hatched. Regions are sorted by units sent, then excess demand; bars are labelled.
    """
    frame = regions.copy()
    frame["_e"] = (frame["peak_demand"] - frame["capacity"]).clip(lower=0)
    frame = frame.sort_values(["units", "_e", "peak_demand"], ascending=False, kind="stable")
    n = len(frame)
    fig = _tall_figure(n)
    ax = fig.add_subplot()
    y = np.arange(n)
    cap = frame["capacity"].to_numpy(dtype=float)
    units = frame["units"].to_numpy(dtype=float)
    peak = frame["peak_demand"].to_numpy(dtype=float)
    useful = np.minimum(units, frame["_e"].to_numpy(dtype=float))
    beyond = units - useful
    ax.barh(y, cap, color=COLOURS["capacity"], height=0.7, label="existing capacity")
    ax.barh(
        y,
        useful,
        left=cap,
        color=COLOURS["units"],
        height=0.7,
        label=f"{resource}s sent, up to peak demand",
    )
    if beyond.any():
        ax.barh(
            y,
            beyond,
            left=cap + useful,
            color="#a9c8e6",
            hatch="////",
            edgecolor=COLOURS["units"],
            linewidth=0.0,
            height=0.7,
            label=f"{resource}s sent beyond peak demand",
        )
    ax.scatter(
        peak,
        y,
        marker="|",
        s=160,
        linewidths=2.2,
        color=COLOURS["demand"],
        zorder=3,
        label="peak demand",
    )
    top = float(np.nanmax(np.concatenate([cap + units, peak]))) if n else 1.0
    top = top if math.isfinite(top) and top > 0 else 1.0
    for yi, c, u, p in zip(y.tolist(), cap, units, peak, strict=True):
        if u > 0:  # past the bar and past the peak-demand tick, whichever ends later
            ax.annotate(
                f"+{int(u):,}",
                xy=(max(c + u, p if math.isfinite(p) else 0.0), yi),
                xytext=(LABEL_GAP_PT, 0),
                textcoords="offset points",
                va="center",
                fontsize=7.5,
                color=COLOURS["units"],
            )
    ax.set_yticks(y, _region_labels(frame), fontsize=8 if n > 25 else 9)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.16)  # room for the value labels right of the longest bar
    ax.xaxis.set_major_formatter(CountFormatter())
    ax.set_xlabel(
        f"{resource}s (units): existing capacity + units sent; peak demand (patients at once)"
    )
    ax.set_ylabel("region")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    ax.set_title(
        title or f"Allocation by region ({int(units.sum()):,} {resource}s sent)", fontsize=11
    )
    return fig


def coverage_chart(regions: pd.DataFrame, title: str | None = None) -> Figure:
    """Share of peak demand covered per region, before (capacity) and after the allocation.

    Regions covered in full both before and after are counted in the title, not drawn.
    """
    demand = regions[regions["peak_demand"] > 0]
    frame = demand[(demand["coverage_before"] < 1) | (demand["coverage_after"] < 1)].copy()
    hidden = len(demand) - len(frame)
    frame = frame.sort_values(["coverage_before", "coverage_after"], kind="stable")
    n = len(frame)
    fig = _tall_figure(max(n, 4), width=8.0)
    ax = fig.add_subplot()
    y = np.arange(n)
    before = 100 * frame["coverage_before"].to_numpy(dtype=float)
    after = 100 * frame["coverage_after"].to_numpy(dtype=float)
    ax.hlines(y, before, after, color="#bbbbbb", linewidth=2, zorder=1)
    ax.scatter(
        before,
        y,
        facecolors="white",
        edgecolors=COLOURS["before"],
        s=30,
        zorder=2,
        label="before (existing capacity)",
    )
    ax.scatter(after, y, color=COLOURS["after"], s=30, zorder=3, label="after the allocation")
    for yi, b, a in zip(y.tolist(), before, after, strict=True):
        ax.text(max(a, b) + 1.2, yi, f"{b:.0f}% → {a:.0f}%", va="center", fontsize=7.5)
    ax.set_yticks(y, _region_labels(frame), fontsize=8 if n > 25 else 9)
    ax.invert_yaxis()
    if n == 0:
        ax.text(
            0.5, 0.5, "every region's peak demand is covered", transform=ax.transAxes, ha="center"
        )
    low = min(float(before.min()) if n else 0.0, 100.0)
    ax.set_xlim(max(0.0, low - 8), 115)  # room for the value labels right of 100%
    ax.set_xticks(
        [
            t
            for t in MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]).tick_values(
                max(0.0, low - 8), 100
            )
            if 0 <= t <= 100
        ]
    )
    ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_xlabel("share of peak demand covered (%)")
    ax.set_ylabel("region short at the peak")
    ax.grid(axis="x", alpha=0.3)
    if n:
        fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    note = (
        f"\n({hidden} other region{'s' * (hidden != 1)} with demand: "
        "fully covered before and after)"
        if hidden
        else ""
    )
    ax.set_title(title or f"Coverage of peak demand, before and after{note}", fontsize=10.5)
    return fig


# ---------------------------------------------------------------------------------------------
# Policies


def policy_chart(
    table: pd.DataFrame, title: str | None = None, labels: Mapping[str, str] | None = None
) -> Figure:
    """Lives saved by each baseline rule and by the optimum (optimiser.compare's table);
    `labels`: what to show instead of the policy ids."""
    frame = table[table["lives_saved"].notna()].copy()
    frame = frame.sort_values("lives_saved", kind="stable")
    n = len(frame)
    fig = Figure(figsize=(8.5, max(2.8, 0.42 * n + 1.4)), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(n)
    names = [str(p) for p in frame.index]
    colours = [
        COLOURS["optimal"] if name.startswith("optimal") else COLOURS["rule"] for name in names
    ]
    lives = frame["lives_saved"].to_numpy(dtype=float)
    ax.barh(y, lives, color=colours, height=0.6)
    best = (
        _number(table.loc["optimal", "lives_saved"])
        if "optimal" in table.index
        else float(lives.max())
    )
    ax.axvline(best, color=COLOURS["optimal"], linestyle="--", linewidth=1)
    for yi, value in zip(y.tolist(), lives.tolist(), strict=True):
        pct = f" ({100 * value / best:.1f}% of optimum)" if best > 0 else ""
        ax.annotate(  # right of the bar and of the dashed optimum line, never across it
            f"{value:,.1f}{pct}",
            xy=(max(value, best), yi),
            xytext=(LABEL_GAP_PT, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    shown = [(labels or {}).get(n_, n_) for n_ in names]
    ax.set_yticks(
        y, [n_.replace("+", "\n+ ", 1) if len(n_) > 30 else n_ for n_ in shown], fontsize=8.5
    )
    right = max(best, float(lives.max()) if n else 0.0)
    ax.set_xlim(0, right * 1.5 if right > 0 else 1)
    ax.xaxis.set_major_formatter(CountFormatter())
    ax.set_xlabel("expected extra survivors (lives)")
    ax.set_ylabel("policy")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or "Lives saved: baseline rules against the optimum", fontsize=11)
    return fig
