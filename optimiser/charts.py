"""Charts of allocations, policies, trade-offs and plans (matplotlib, Agg; PNG and SVG).

Every function takes tidy DataFrames (the engine's own tables) and returns a matplotlib Figure
built without pyplot (no global state, no display needed); `save(fig, folder, name)` writes
NAME.png and NAME.svg. Axes carry units; charts with one bar per region grow with the number
of regions so that 50 regions stay readable.

Inputs:
    allocation_chart, coverage_chart   AllocationResult.regions (units, capacity, peak_demand,
                                       coverage_before, coverage_after; index: region)
    policy_chart                       optimiser.compare(...) (index: policy; lives_saved)
    frontier_chart                     a sweep's variants over one constraint parameter
                                       (level column, lives_saved, lives_optimal, status)
    tornado_chart                      optimiser.report_data.tornado(...) rows (input,
                                       low_label, high_label, lives_low, lives_high; base)
    response_chart                     a sweep's variants against one varied input (a grid:
                                       median and range; a random sample: every variant as a
                                       point and binned medians)
    plan_chart, plan_chart_pages       PLAN_COLUMNS: region, day, units_on_hand, demand; a
                                       multi-period PlanResult.daily table (need = demand)
                                       goes through plan_frame(); pages of at most 20 regions
                                       keep labels readable in an HTML page
    plan_totals_chart                  the same, summed over regions (national view)

Tick labels use CountFormatter: thousands separators and only the decimals the tick spacing
needs (never "-0", never two equal labels). Value labels next to bars are placed past every
other mark on their row (peak-demand ticks, the L* line).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator, PercentFormatter

#: The documented contract of a plan's time series (one row per region and day).
PLAN_COLUMNS = ("region", "day", "units_on_hand", "demand")

COLOURS = {
    "capacity": "#9e9e9e",
    "units": "#1f6fb4",
    "demand": "#111111",
    "before": "#c0392b",
    "after": "#1f6fb4",
    "optimal": "#2e7d32",
    "rule": "#7f8c8d",
    "price": "#f4b183",
    "low": "#c0392b",
    "high": "#1f6fb4",
}
ROW_INCHES = 0.24  # height per region row
MIN_HEIGHT = 3.2
DPI = 110


def _number(value: Any) -> float:
    """A table cell as a float (NaN when missing)."""
    return math.nan if value is None else float(value)


class CountFormatter(Formatter):
    """Tick labels with thousands separators and as few decimals as show every tick exactly
    (1,000 / 0.25 / 2.5): adapts to the range, never prints "-0" or two equal labels."""

    MAX_DECIMALS = 8

    def __init__(self) -> None:
        self.decimals = 0

    def set_locs(self, locs: Any) -> None:
        super().set_locs(locs)
        self.decimals = self.decimals_for(locs)

    @classmethod
    def decimals_for(cls, locs: Any) -> int:
        values = sorted({float(v) for v in np.asarray(locs, dtype=float) if math.isfinite(v)})
        if not values:
            return 0
        steps = np.diff(values)
        step = float(steps.min()) if len(steps) else max(abs(values[0]), 1.0)
        for decimals in range(cls.MAX_DECIMALS + 1):
            if all(abs(round(v, decimals) - v) <= step * 1e-6 for v in values):
                texts = [cls.text(v, decimals) for v in values]
                if len(set(texts)) == len(texts):
                    return decimals
        return cls.MAX_DECIMALS

    @staticmethod
    def text(value: float, decimals: int) -> str:
        out = f"{value:,.{decimals}f}"
        return out[1:] if out.startswith("-") and float(out.replace(",", "")) == 0 else out

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self.text(x, self.decimals)


LABEL_CHARS = 30
LABEL_GAP_PT = 5.0  # points between a value label and the mark it follows (> half a tick)


def _region_labels(regions: pd.DataFrame) -> list[str]:
    """'Name (id)', the name shortened when long: the id always stays readable."""
    labels = []
    for rid, row in regions.iterrows():
        name = str(row.get("name", rid)) if "name" in regions else str(rid)
        if name == str(rid):
            labels.append(str(rid))
            continue
        room = LABEL_CHARS - len(str(rid)) - 3
        short = name if len(name) <= room else name[: max(1, room - 1)].rstrip() + "…"
        labels.append(f"{short} ({rid})")
    return labels


def _tall_figure(n: int, width: float = 9.0, extra: float = 1.6) -> Figure:
    return Figure(
        figsize=(width, max(MIN_HEIGHT, n * ROW_INCHES + extra)), dpi=DPI, layout="constrained"
    )


def save(fig: Figure, folder: str | Path, name: str) -> dict[str, Path]:
    """Write NAME.png and NAME.svg (text kept as text in the SVG)."""
    import matplotlib

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {"png": folder / f"{name}.png", "svg": folder / f"{name}.svg"}
    fig.savefig(out["png"], dpi=DPI)
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(out["svg"])
    return out


def svg_text(fig: Figure) -> str:
    """The figure as an inline SVG string (for self-contained HTML)."""
    import io

    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.find("<svg") :]


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


def policy_chart(table: pd.DataFrame, title: str | None = None) -> Figure:
    """Lives saved by each baseline rule and by the optimum (optimiser.compare's table)."""
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
    ax.set_yticks(
        y, [n_.replace("+", "\n+ ", 1) if len(n_) > 30 else n_ for n_ in names], fontsize=8.5
    )
    right = max(best, float(lives.max()) if n else 0.0)
    ax.set_xlim(0, right * 1.5 if right > 0 else 1)
    ax.xaxis.set_major_formatter(CountFormatter())
    ax.set_xlabel("expected extra survivors (lives)")
    ax.set_ylabel("policy")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or "Lives saved: baseline rules against the optimum", fontsize=11)
    return fig


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
            ax.fill_between(
                both[level],
                both["lives_saved"],
                both["lives_optimal"],
                color=COLOURS["price"],
                alpha=0.35 if len(groups) == 1 else 0.12,
                label="price of fairness (gap to L*)" if key is None else None,
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
        from matplotlib.patches import Patch

        handles += [
            Line2D([], [], color="#555555", linestyle="--", linewidth=1),
            Patch(color=COLOURS["price"], alpha=0.5),
        ]
        labels += ["L* (no fairness constraint)", "price of fairness (gap to L*)"]
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
                f"plan table: missing column(s) {', '.join(missing)} "
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
) -> Figure:
    """Units on hand against demand over time, one small panel per region (most strained first).

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
        day = part["day"].to_numpy(dtype=float)
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
    fig.supxlabel("day of the plan", y=0.15 / height, fontsize=9.5)
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
    frame: pd.DataFrame, resource: str = "ventilator", *, per_page: int = PLAN_PAGE
) -> list[Figure]:
    """plan_chart in pages of at most `per_page` regions, most strained first (page k of n in
    each title)."""
    data = check_plan_frame(frame)
    order, _ = _plan_order(data)
    pages = [order[i : i + per_page] for i in range(0, len(order), per_page)] or [[]]
    figures = []
    for k, regions in enumerate(pages, start=1):
        title = "Units on hand against demand, by region"
        if len(pages) > 1:
            title += (
                f" (page {k} of {len(pages)}: regions {per_page * (k - 1) + 1}-"
                f"{per_page * (k - 1) + len(regions)}, most strained first)"
            )
        figures.append(plan_chart(data, resource, regions=regions, title=title))
    return figures


def plan_totals_chart(
    frame: pd.DataFrame,
    resource: str = "ventilator",
    *,
    arrivals: pd.Series | None = None,
    title: str | None = None,
) -> Figure:
    """The plan summed over regions: units on hand and patients needing one, each day, and the
    shortage summed region by region (a national total would hide a region's shortage behind
    another's spare units); `arrivals` (units arriving from depots, by day) as bars."""
    data = check_plan_frame(frame).assign(
        short=lambda f: (f["demand"] - f["units_on_hand"]).clip(lower=0)
    )
    daily = data.groupby("day")[["units_on_hand", "demand", "short"]].sum().sort_index()
    day = daily.index.to_numpy(dtype=float)
    have = daily["units_on_hand"].to_numpy(dtype=float)
    need = daily["demand"].to_numpy(dtype=float)
    short = daily["short"].to_numpy(dtype=float)
    fig = Figure(figsize=(9.0, 4.4), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    if arrivals is not None and len(arrivals) and float(arrivals.sum()) > 0:
        ax.bar(
            arrivals.index.to_numpy(dtype=float),
            arrivals.to_numpy(dtype=float),
            width=0.8,
            color="#a9c8e6",
            label=f"{resource}s arriving from depots that day",
        )
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
    ax.xaxis.set_major_formatter(CountFormatter())
    ax.set_xlabel("day of the plan")
    ax.set_ylabel(f"{resource}s (units) / patients, all regions")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    ax.set_title(title or "All regions: units on hand, demand and shortage", fontsize=11)
    return fig


__all__ = [
    "PLAN_COLUMNS",
    "CountFormatter",
    "allocation_chart",
    "binned_medians",
    "check_plan_frame",
    "coverage_chart",
    "frontier_chart",
    "grid_ticks",
    "plan_chart",
    "plan_chart_pages",
    "plan_frame",
    "plan_totals_chart",
    "policy_chart",
    "response_chart",
    "save",
    "svg_text",
    "tornado_chart",
]
