"""Trade-offs: the efficiency-fairness frontier, the tornado and a sweep's response charts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from optimiser.charts.common import COLOURS, DPI, CountFormatter, _number

# ---------------------------------------------------------------------------------------------
# Trade-offs


def frontier_chart(
    variants: pd.DataFrame,
    level: str,
    *,
    mark: float | None = None,
    group: str | None = None,
    title: str | None = None,
    level_label: str | None = None,
) -> Figure:
    """Efficiency-fairness frontier: lives saved against the level of a fairness constraint.

    `variants` has columns `level`, lives_saved, lives_optimal (L*), status. The gap to L* is
    the price of fairness (shaded); `mark` annotates it at one level; infeasible levels are
    marked on the axis. `group`: one line per value of that column.
    """
    fig = Figure(figsize=(8.5, 5.0), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    groups = [(None, variants)] if group is None else list(variants.groupby(group, sort=True))
    cmap = ["#1f6fb4", "#c0392b", "#2e7d32", "#8e44ad", "#d35400", "#16a085"]
    ymax = 0.0
    infeasible_levels: list[float] = []
    for i, (key, frame) in enumerate(groups):
        frame = frame.sort_values(level)
        ok = frame[frame["lives_saved"].notna()]
        colour = cmap[i % len(cmap)]
        name = "lives saved" if key is None else f"{group} = {_number(key):g}"
        ax.plot(ok[level], ok["lives_saved"], marker="o", markersize=3.5, color=colour, label=name)
        if "lives_optimal" in frame and frame["lives_optimal"].notna().any():
            star = frame[frame["lives_optimal"].notna()]
            ax.plot(
                star[level],
                star["lives_optimal"],
                linestyle="--",
                color=colour,
                alpha=0.7,
                linewidth=1,
                label="L* (no fairness constraint)" if key is None else None,
            )
            both = frame[frame["lives_saved"].notna() & frame["lives_optimal"].notna()]
            if len(groups) == 1:  # several lines: shaded gaps would overlap; the dashed L*
                ax.fill_between(  # of each line shows its gap
                    both[level],
                    both["lives_saved"],
                    both["lives_optimal"],
                    color=COLOURS["price"],
                    alpha=0.35,
                    label="price of fairness (gap to L*)",
                )
            ymax = max(ymax, float(star["lives_optimal"].max()))
        if len(ok):
            ymax = max(ymax, float(ok["lives_saved"].max()))
        infeasible_levels += frame.loc[frame["status"] == "infeasible", level].tolist()
    if infeasible_levels:
        ax.scatter(
            infeasible_levels,
            [0] * len(infeasible_levels),
            marker="x",
            color="#c0392b",
            zorder=4,
            label="infeasible (constraint cannot be met)",
            clip_on=False,
        )
    if mark is not None:
        frame = groups[0][1]
        at = frame.loc[np.isclose(frame[level].astype(float), float(mark))]
        if len(at) and at["lives_saved"].notna().any() and at["lives_optimal"].notna().any():
            saved = float(at["lives_saved"].iloc[0])
            star_v = float(at["lives_optimal"].iloc[0])
            price = star_v - saved
            pct = 100 * price / star_v if star_v > 0 else 0.0
            ax.annotate(
                "",
                xy=(mark, saved),
                xytext=(mark, star_v),
                arrowprops={"arrowstyle": "<->", "color": "#7f3b08", "linewidth": 1.5},
            )
            ax.annotate(
                f"price of fairness at {mark:g}:\n{price:,.1f} lives ({pct:.1f}% of L*)",
                xy=(mark, (saved + star_v) / 2),
                xytext=(12, 0),
                textcoords="offset points",
                fontsize=9,
                color="#7f3b08",
                va="center",
                bbox={
                    "boxstyle": "round",
                    "facecolor": "white",
                    "alpha": 0.85,
                    "edgecolor": "#7f3b08",
                },
            )
    ax.set_ylim(0, ymax * 1.08 if ymax > 0 else 1)
    ax.yaxis.set_major_formatter(CountFormatter())
    ax.xaxis.set_major_formatter(CountFormatter())
    ax.set_xlabel(level_label or f"level of the fairness constraint: {level}")
    ax.set_ylabel("expected extra survivors (lives)")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if group is None:  # outside the axes: a legend never hides data
        fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    else:
        from matplotlib.lines import Line2D

        handles += [Line2D([], [], color="#555555", linestyle="--", linewidth=1)]
        labels += [
            "L* of the same line (no fairness\nconstraint): the gap to it is\nthe price of fairness"
        ]
        fig.legend(
            handles,
            labels,
            loc="outside right upper",
            fontsize=8,
            title=f"lives saved at\n{group}",
            title_fontsize=8,
            frameon=False,
        )
    ax.set_title(title or "Efficiency-fairness frontier", fontsize=11)
    return fig


def tornado_chart(
    rows: pd.DataFrame, base: float, *, pct: float | None = None, title: str | None = None
) -> Figure:
    """Which inputs move lives saved most: one bar per input, from its low to its high variant.

    rows: input, low_label, high_label, lives_low, lives_high (NaN where a variant is invalid),
    sorted here by the width of the swing.
    """
    frame = rows.copy()
    frame["_swing"] = (
        frame[["lives_low", "lives_high"]].max(axis=1)
        - frame[["lives_low", "lives_high"]].min(axis=1)
    ).fillna(0)
    frame = frame.sort_values("_swing", ascending=True, kind="stable")
    n = len(frame)
    fig = Figure(figsize=(9.5, max(3.0, 0.34 * n + 1.6)), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(n)
    span = float(
        np.nanmax(np.abs(np.concatenate([frame["lives_low"] - base, frame["lives_high"] - base])))
        if n
        else 0.0
    )
    span = span if math.isfinite(span) and span > 0 else max(1.0, abs(base) * 0.01)
    tiny = span * 1e-6
    records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    for yi, row in zip(y.tolist(), records, strict=True):
        low_value, high_value = _number(row["lives_low"]), _number(row["lives_high"])
        sides = (
            (low_value, row["low_label"], COLOURS["low"]),
            (high_value, row["high_label"], COLOURS["high"]),
        )
        if all(v is not None and math.isfinite(v) and abs(v - base) <= tiny for v, _, _ in sides):
            ax.text(
                base + span * 0.02,
                yi,
                f"no effect ({row['low_label']} / {row['high_label']})",
                va="center",
                fontsize=7.5,
                color="#555555",
            )
            continue
        for value, label, colour in sides:
            if value is None or not math.isfinite(value):
                other = high_value if colour == COLOURS["low"] else low_value
                right = other is None or not math.isfinite(other) or other <= base
                ax.text(
                    base + (span * 0.02 if right else -span * 0.02),
                    yi,
                    f"{label}: no valid variant",
                    va="center",
                    ha="left" if right else "right",
                    fontsize=7,
                    color="#555555",
                    style="italic",
                )
                continue
            delta = value - base
            ax.barh(yi, delta, left=base, color=colour, height=0.6, alpha=0.85)
            right = delta > 0 or (delta == 0 and colour == COLOURS["high"])
            ax.text(
                value + (span * 0.02 if right else -span * 0.02),
                yi,
                f"{label}: {delta:+,.1f}",
                va="center",
                ha="left" if right else "right",
                fontsize=7.5,
            )
    ax.axvline(base, color="#111111", linewidth=1)
    from matplotlib.patches import Patch

    share = f"{pct:g}% " if pct is not None else ""
    fig.legend(
        handles=[
            Patch(color=COLOURS["low"], label=f"input {share}lower"),
            Patch(color=COLOURS["high"], label=f"input {share}higher"),
        ],
        loc="outside lower center",
        ncols=2,
        fontsize=8,
        frameon=False,
    )
    ax.set_yticks(y, frame["input"].tolist(), fontsize=8.5)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlim(base - span * 1.6, base + span * 1.6)
    ax.xaxis.set_major_formatter(CountFormatter())
    ax.set_xlabel(f"expected extra survivors (lives); base case {base:,.1f}")
    ax.set_ylabel("input varied" + (f" (±{pct:g}%)" if pct is not None else ""))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or "What moves lives saved most (one input at a time)", fontsize=11)
    return fig


RESPONSE_BINS = 12
MAX_GRID_TICKS = 12


def response_chart(
    variants: pd.DataFrame,
    column: str,
    *,
    title: str | None = None,
    xlabel: str | None = None,
    sampled: bool = False,
    bins: int = RESPONSE_BINS,
) -> Figure:
    """Lives saved against one varied input.

    A grid (sampled=False): the median over the other varied inputs at each grid value, with
    the min-max band; ticks on grid values. A random sample (sampled=True): every variant as a
    point (the values are not repeated, so there is nothing to take a median over at one x)
    and the median of each of `bins` equal-width bins. With lives_optimal, L* is drawn too.
    """
    ok = variants[variants["lives_saved"].notna()]
    fig = Figure(figsize=(8.0, 4.6), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    star = "lives_optimal" in ok and ok["lives_optimal"].notna().any()
    if sampled:
        x_all = ok[column].to_numpy(dtype=float)
        ax.scatter(
            x_all,
            ok["lives_saved"],
            s=9,
            alpha=0.45,
            color=COLOURS["units"],
            linewidths=0,
            label=f"one sampled variant ({len(ok):,})",
        )
        if star:
            ax.scatter(
                x_all,
                ok["lives_optimal"],
                s=7,
                alpha=0.35,
                color="#555555",
                marker="^",
                linewidths=0,
                label="L* of that variant (no fairness constraint)",
            )
        centres, medians = binned_medians(x_all, ok["lives_saved"].to_numpy(dtype=float), bins)
        if len(centres):
            ax.plot(
                centres,
                medians,
                color="#0b3c66",
                marker="o",
                markersize=4,
                linewidth=1.8,
                label=f"median in each of {bins} equal-width bins",
            )
        ax.xaxis.set_major_locator(MaxNLocator(nbins=10))
    else:
        stats = ok.groupby(column)["lives_saved"].agg(["median", "min", "max"]).sort_index()
        x = stats.index.to_numpy(dtype=float)
        varied = bool((stats["max"] > stats["min"]).any())
        ax.plot(
            x,
            stats["median"],
            marker="o",
            markersize=3.5,
            color=COLOURS["units"],
            label="median over the other varied inputs" if varied else "lives saved",
        )
        if varied:
            ax.fill_between(
                x,
                stats["min"],
                stats["max"],
                color=COLOURS["units"],
                alpha=0.18,
                label="range over the other varied inputs",
            )
        if star:
            best = ok.groupby(column)["lives_optimal"].median().sort_index()
            ax.plot(
                best.index.to_numpy(dtype=float),
                best.to_numpy(dtype=float),
                linestyle="--",
                linewidth=1,
                color="#555555",
                label="L* (no fairness constraint)" + (", median" if varied else ""),
            )
        grid = np.unique(variants[column].to_numpy(dtype=float))
        ax.set_xticks(grid_ticks(grid, MAX_GRID_TICKS))
    failed = variants[variants["lives_saved"].isna()][column].unique()
    if len(failed):
        ax.scatter(
            failed,
            [0] * len(failed),
            marker="x",
            color="#c0392b",
            clip_on=False,
            label="no allocation (infeasible or invalid)",
        )
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(CountFormatter())
    ax.xaxis.set_major_formatter(CountFormatter())
    ax.set_xlabel(xlabel or column)
    ax.set_ylabel("expected extra survivors (lives)")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    ax.set_title(title or f"Lives saved as {column} varies", fontsize=11)
    return fig


def grid_ticks(values: np.ndarray, most: int = MAX_GRID_TICKS) -> np.ndarray:
    """At most `most` of the grid values, evenly spaced among them, first and last included."""
    values = np.unique(np.asarray(values, dtype=float))
    if len(values) <= most:
        return values
    step = math.ceil((len(values) - 1) / (most - 1))
    picked = values[::step]
    return picked if picked[-1] == values[-1] else np.append(picked[:-1], values[-1])


def binned_medians(
    x: np.ndarray, y: np.ndarray, bins: int = RESPONSE_BINS, least: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Median of y in each of `bins` equal-width bins of x (bins with fewer than `least`
    points left out); returns (bin centres, medians)."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) == 0 or float(x.min()) == float(x.max()):
        return np.array([]), np.array([])
    edges = np.linspace(float(x.min()), float(x.max()), bins + 1)
    index = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    centres, medians = [], []
    for b in range(bins):
        inside = y[index == b]
        if len(inside) >= least:
            centres.append((edges[b] + edges[b + 1]) / 2)
            medians.append(float(np.median(inside)))
    return np.array(centres), np.array(medians)
