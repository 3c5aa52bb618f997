"""Every chart renders to PNG and SVG, with labelled axes, and stays readable with 50 regions
(the figure grows with the number of regions; every region gets its own tick label). Value
labels never sit on other marks (measured with the renderer), legends sit outside the data,
tick labels adapt to the range, and plan charts keep their labels readable in the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.image import imread

import optimiser
from optimiser import charts
from optimiser.errors import InputError
from optimiser.sweeps.analysis import frontier, tornado

US = Path(__file__).resolve().parents[1] / "instances" / "us-states-2020"
CHART_DIR = Path(__file__).resolve().parents[1] / ".pytest_cache" / "charts"  # kept for looking at


@pytest.fixture(scope="module")
def fifty(make_instance) -> optimiser.Instance:
    """50 synthetic regions, every one short at the peak, long names."""
    rng = np.random.default_rng(50)
    rows = []
    for i in range(50):
        capacity = int(rng.integers(20, 900))
        rows.append(
            {
                "region": f"R{i:02d}",
                "name": f"Health region number {i:02d} of the north",
                "population": int(rng.integers(200_000, 9_000_000)),
                "capacity": capacity,
                "peak_demand": int(capacity * rng.uniform(1.05, 2.5)),
                "survival_with": round(float(rng.uniform(0.4, 0.7)), 2),
                "survival_without": 0.05,
                "los_days": round(float(rng.uniform(6, 14)), 1),
            }
        )
    return make_instance(rows, 6000, name="fifty")


@pytest.fixture(scope="module")
def us() -> optimiser.Instance:
    return optimiser.load_instance(US)


def rendered(fig, name: str, svg: bool = True) -> np.ndarray:
    """Write the chart (PNG, and SVG unless told) where it can be looked at; returns the pixels."""
    if svg:
        paths = charts.save(fig, CHART_DIR, name)
        text = paths["svg"].read_text()
        assert text.lstrip().startswith("<?xml") and "<svg" in text
    else:
        CHART_DIR.mkdir(parents=True, exist_ok=True)
        paths = {"png": CHART_DIR / f"{name}.png"}
        fig.savefig(paths["png"], dpi=charts.DPI)
    assert paths["png"].stat().st_size > 5_000
    return imread(paths["png"])


def labels_of(fig) -> tuple[str, str, list[str]]:
    ax = fig.axes[0]
    return ax.get_xlabel(), ax.get_ylabel(), [t.get_text() for t in ax.get_yticklabels()]


def test_allocation_and_coverage_charts_with_50_regions(fifty):
    result = optimiser.solve(fifty, ["per_capita_floor:share=0.3"], price_of_fairness=False)
    fig = charts.allocation_chart(result.regions)
    xlabel, ylabel, ticks = labels_of(fig)
    assert "units" in xlabel and "ventilators" in xlabel and ylabel == "region"
    assert len(ticks) == 50 and len(set(ticks)) == 50  # long names shortened, ids kept
    assert {t.rsplit("(", 1)[1].rstrip(")") for t in ticks} == set(result.regions.index)
    image = rendered(fig, "allocation_50")
    assert image.shape[0] >= 50 * 0.24 * charts.DPI  # at least ~26 px per region row
    cov = charts.coverage_chart(result.regions)
    xlabel, _, ticks = labels_of(cov)
    assert "%" in xlabel and len(ticks) == 50  # every region is short: all shown
    rendered(cov, "coverage_50")


def test_coverage_chart_hides_regions_covered_in_full(us):
    result = optimiser.solve(us, price_of_fairness=False)
    fig = charts.coverage_chart(result.regions)
    _, _, ticks = labels_of(fig)
    short = int((us.excess_demand > 0).sum())
    assert len(ticks) == short
    assert f"{50 - short} other regions" in fig.axes[0].get_title()
    rendered(fig, "coverage_us")
    rendered(charts.allocation_chart(result.regions), "allocation_us")


def test_policy_chart(us):
    table = optimiser.compare(us, ["min_units:units=10"])
    fig = charts.policy_chart(table)
    xlabel, ylabel, ticks = labels_of(fig)
    assert "lives" in xlabel and ylabel == "policy"
    assert len(ticks) == len(table) and any("optimal" in t for t in ticks)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("100.0% of optimum" in t for t in texts)
    rendered(fig, "policies_us")


def test_frontier_chart_marks_the_price(us):
    table = frontier(us, "per_capita_floor", levels=[0, 0.25, 0.5, 0.75, 1.0])
    fig = charts.frontier_chart(table, "level", mark=0.5, level_label="per_capita_floor: share")
    ax = fig.axes[0]
    assert "lives" in ax.get_ylabel() and "share" in ax.get_xlabel()
    at = table[table["level"] == 0.5].iloc[0]
    price = at["lives_optimal"] - at["lives_saved"]
    assert any(f"{price:,.1f} lives" in t.get_text() for t in ax.texts)
    rendered(fig, "frontier_us")


def test_frontier_chart_shows_infeasible_levels(make_instance):
    inst = optimiser.load_instance(Path(__file__).resolve().parents[1] / "instances" / "pugh2021")
    table = frontier(inst, "coverage_floor", levels=[0, 0.2, 0.4, 0.6, 0.8])
    assert (table["status"] == "infeasible").sum() == 2
    fig = charts.frontier_chart(table, "level", mark=0.4)
    assert fig.axes[0].get_legend() is None  # outside the axes: it hides no data
    assert any("infeasible" in t.get_text() for t in fig.legends[0].get_texts())
    rendered(fig, "frontier_infeasible")


def test_tornado_chart(us):
    t = tornado(us, pct=20, constraints=["per_capita_floor:share=0.3"])
    assert t.rows["swing"].is_monotonic_decreasing
    assert {
        "supply (2,400 units)",
        "survival_with (all regions)",
        "per_capita_floor share (0.3)",
    } <= set(t.rows["input"])
    # the base case is the allocation optimiser.solve gives
    assert t.base == pytest.approx(
        optimiser.solve(us, ["per_capita_floor:share=0.3"], price_of_fairness=False).lives_saved,
        rel=2e-6,
    )
    # more supply saves more, higher survival saves more
    supply = t.rows.set_index("dimension").loc["supply"]
    assert supply["lives_low"] < t.base < supply["lives_high"]
    fig = charts.tornado_chart(t.rows, t.base, pct=t.pct)
    xlabel, ylabel, ticks = labels_of(fig)
    assert "lives" in xlabel and "20%" in ylabel
    assert ticks[-1] == t.rows["input"].iloc[0]  # the widest swing on top
    rendered(fig, "tornado_us")


def test_tornado_records_invalid_variants(pugh):
    t = tornado(pugh, pct=20)
    row = t.rows.set_index("dimension").loc["survival_with*"]
    assert np.isnan(row["lives_high"]) and "survival_with is a probability" in row["note"]
    assert row["lives_low"] == pytest.approx(0.8 * t.base)  # every unit saves 0.8 of a life
    rendered(charts.tornado_chart(t.rows, t.base, pct=t.pct), "tornado_pugh")


def test_response_chart(us):
    from optimiser.sweeps import sweep

    v = sweep(us, {"supply": "0:4000:500", "survival_with*": "0.8,1,1.2"})
    fig = charts.response_chart(v, "supply", xlabel="supply (units)")
    assert fig.axes[0].get_xlabel() == "supply (units)" and "lives" in fig.axes[0].get_ylabel()
    rendered(fig, "response_us")


def plan_frame(regions: int = 50, days: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for r in range(regions):
        peak_day, peak = rng.integers(10, 30), rng.integers(20, 400)
        stock = int(peak * rng.uniform(0.5, 1.2))
        for d in range(days):
            demand = peak * np.exp(-(((d - peak_day) / 8) ** 2))
            on_hand = stock + (int(peak * 0.3) if d >= 15 else 0)
            rows.append(
                {
                    "region": f"R{r:02d}",
                    "day": d,
                    "units_on_hand": on_hand,
                    "demand": round(float(demand), 1),
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_plan_chart_with_50_regions():
    frame = plan_frame()
    fig = charts.plan_chart(frame)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 50
    assert "day" in fig.get_supxlabel() if hasattr(fig, "get_supxlabel") else True
    image = rendered(fig, "plan_50")  # PNG and SVG
    assert image.shape[0] > 1000
    # most strained region first
    short = (frame["demand"] - frame["units_on_hand"]).clip(lower=0).groupby(frame["region"]).sum()
    assert visible[0].get_title().startswith(short.idxmax())


def test_plan_contract_is_validated():
    with pytest.raises(InputError, match="missing column"):
        charts.check_plan_frame(pd.DataFrame({"region": ["A"], "day": [0]}))
    with pytest.raises(InputError, match="finite numbers"):
        charts.check_plan_frame(
            pd.DataFrame({"region": ["A"], "day": [0], "units_on_hand": ["x"], "demand": [1]})
        )


def test_plan_frame_from_a_multiperiod_daily_table():
    """A multi-period PlanResult's `daily` table (need = patients needing one) feeds it."""
    from types import SimpleNamespace

    daily = plan_frame(regions=3, days=10).rename(columns={"demand": "need"})
    daily["occupancy"] = np.minimum(daily["need"], daily["units_on_hand"])
    frame = charts.plan_frame(SimpleNamespace(daily=daily))
    assert list(frame.columns) == list(charts.PLAN_COLUMNS)
    assert frame["demand"].tolist() == daily["need"].tolist()
    fig = charts.plan_chart(frame)
    assert sum(ax.get_visible() for ax in fig.axes) == 3
    rendered(fig, "plan_3", svg=False)


# ---------------------------------------------------------------------------------------------
# Placement, measured with the renderer


def drawn(fig):
    """Lay the figure out and draw it; returns the renderer."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


@pytest.mark.parametrize("peak_factor", [1.0, 3.0])
def test_allocation_value_labels_never_overlap_the_peak_tick_or_the_bar(us, peak_factor):
    inst = us
    if peak_factor != 1.0:
        regions = us.regions.copy()
        regions["peak_demand"] *= peak_factor
        inst = optimiser.instance_from_frames(regions.reset_index(), us.supply)
    # floors send units to many regions, several of them short of their peak (tick past the bar)
    result = optimiser.solve(
        inst, ["per_capita_floor:share=0.5", "min_units:units=20"], price_of_fairness=False
    )
    fig = charts.allocation_chart(result.regions)
    renderer = drawn(fig)
    ax = fig.axes[0]
    frame = result.regions.copy()
    ticks = next(c for c in ax.collections if len(c.get_offsets()) == len(frame))
    tick_half = 2.2 / 2 * fig.dpi / 72 + 0.5  # half the tick's line width, in pixels
    peaks = {round(float(y)): float(x) for x, y in ticks.get_offsets()}
    axes_box = ax.get_window_extent(renderer)
    bar_end: dict[int, float] = {}  # row -> right end of its stacked bars (pixels)
    for bar in ax.patches:
        row = round(bar.get_y() + bar.get_height() / 2)
        bar_end[row] = max(bar_end.get(row, 0.0), bar.get_window_extent(renderer).x1)
    labels = [t for t in ax.texts if t.get_text().startswith("+")]
    assert len(labels) == int((frame["units"] > 0).sum()) > 10
    overlaps = []
    for label in labels:
        box = label.get_window_extent(renderer)
        centre = ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)
        row = round(ax.transData.inverted().transform(centre)[1])
        peak_px = ax.transData.transform((peaks[row], row))[0]
        if box.x0 <= peak_px + tick_half or box.x0 < bar_end[row]:
            overlaps.append(label.get_text())
        assert box.x1 <= axes_box.x1 + 1, label.get_text()  # inside the axes
    assert not overlaps
    rendered(fig, f"allocation_labels_x{peak_factor:g}", svg=False)


def test_policy_value_labels_stay_right_of_the_optimum_line(us):
    table = optimiser.compare(us, ["per_capita_floor:share=0.3"])
    fig = charts.policy_chart(table)
    renderer = drawn(fig)
    ax = fig.axes[0]
    line = next(ln for ln in ax.lines if ln.get_linestyle() == "--")
    line_px = ax.transData.transform((line.get_xdata()[0], 0))[0]
    bars = [p for p in ax.patches]
    assert len(ax.texts) == len(bars) == len(table)  # one label a policy: the loop checks them
    for text in ax.texts:
        box = text.get_window_extent(renderer)
        assert box.x0 > line_px + 1, text.get_text()  # never across the dashed L* line
        for bar in bars:  # nor over any bar
            assert not box.overlaps(bar.get_window_extent(renderer)), text.get_text()
        assert box.x1 <= ax.get_window_extent(renderer).x1 + 1


def test_frontier_legend_sits_outside_the_data(us):
    table = frontier(us, "per_capita_floor", levels=[0, 0.25, 0.5, 0.75, 1.0])
    for group in (None, "supply"):
        frame = table if group is None else table.assign(supply=2400)
        fig = charts.frontier_chart(frame, "level", group=group)
        renderer = drawn(fig)
        ax = fig.axes[0]
        assert ax.get_legend() is None and len(fig.legends) == 1
        legend = fig.legends[0].get_window_extent(renderer)
        assert not legend.overlaps(ax.get_window_extent(renderer))


def test_tick_labels_adapt_to_the_range_and_never_repeat():
    zeros = pd.DataFrame(
        {
            "input": ["supply", "capacity"],
            "low_label": ["a", "b"],
            "high_label": ["c", "d"],
            "lives_low": [0.0, 0.0],
            "lives_high": [0.0, 0.0],
        }
    )
    flat = pd.DataFrame(
        {"level": [0, 0.5, 1], "lives_saved": [0.0] * 3, "lives_optimal": [0.0] * 3}
    ).assign(status="optimal")
    for fig, axis in (
        (charts.tornado_chart(zeros, 0.0, pct=20), "x"),
        (charts.frontier_chart(flat, "level"), "y"),
        (charts.frontier_chart(flat, "level"), "x"),
    ):
        drawn(fig)
        ax = fig.axes[0]
        lo, hi = ax.get_xlim() if axis == "x" else ax.get_ylim()
        ticks = [
            t.get_text()
            for t, v in zip(
                ax.get_xticklabels() if axis == "x" else ax.get_yticklabels(),
                ax.get_xticks() if axis == "x" else ax.get_yticks(),
                strict=True,
            )
            if lo - 1e-9 <= v <= hi + 1e-9
        ]
        assert len(ticks) == len(set(ticks)) > 2, ticks
        assert not any(t in ("-0", "-0.0") or t.startswith("-0.00") for t in ticks), ticks
    fmt = charts.CountFormatter()
    fmt.set_locs([0, 0.25, 0.5, 0.75])
    assert [fmt(v) for v in (0, 0.25, 0.5)] == ["0.00", "0.25", "0.50"]
    fmt.set_locs([0, 2000, 4000])
    assert fmt(2000) == "2,000" and fmt(-0.0) == "0"


def test_response_chart_grid_ticks_are_grid_values(us):
    from optimiser.sweeps import sweep

    v = sweep(us, {"supply": "0:4000:500", "survival_with*": "0.8,1,1.2"})
    fig = charts.response_chart(v, "supply", xlabel="supply (units)")
    drawn(fig)
    assert set(fig.axes[0].get_xticks()) <= set(v["supply"].astype(float))
    many = sweep(us, {"supply": "0:4000:125"})
    fig = charts.response_chart(many, "supply")
    ticks = fig.axes[0].get_xticks()
    assert set(ticks) <= set(many["supply"].astype(float)) and 2 < len(ticks) <= 12


@pytest.mark.slow
def test_response_chart_of_a_random_sample_is_a_scatter(us):
    from optimiser.sweeps import sweep

    v = sweep(us, {"supply": "0:4000", "survival_with*": "0.8:1.2"}, samples=300, seed=1)
    fig = charts.response_chart(v, "supply", sampled=True)
    ax = fig.axes[0]
    points = [c for c in ax.collections if len(c.get_offsets()) == 300]
    assert len(points) == 1  # every variant a point
    assert all(len(line.get_xdata()) <= charts.RESPONSE_BINS for line in ax.lines)  # no zig-zag
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("equal-width bins" in t for t in labels) and not any(
        "median over" in t for t in labels
    )
    rendered(fig, "response_sampled")


def test_plan_chart_pages_stay_readable_in_the_report_and_render_to_svg():
    frame = plan_frame(regions=50, days=30)
    pages = charts.plan_chart_pages(frame)
    assert [sum(ax.get_visible() for ax in fig.axes) for fig in pages] == [20, 20, 10]
    body_px = 1068  # the report's 1100 px body less its padding; SVG: 96 px per inch
    for fig in pages:
        width_px = fig.get_figwidth() * 96
        scale = min(1.0, body_px / width_px)  # shown at natural size, never scaled down
        smallest = min(
            t.get_fontsize()
            for ax in fig.axes
            if ax.get_visible()
            for t in ax.get_xticklabels() + ax.get_yticklabels()
        )
        assert smallest * 96 / 72 * scale >= 9.0  # >= 9 px at display size
    for k, fig in enumerate(pages, start=1):
        rendered(fig, f"plan_page_{k}")  # PNG and SVG
    svg = charts.svg_text(pages[0])
    assert svg.startswith("<svg") and "R" in svg
    totals = charts.plan_totals_chart(frame, arrivals=pd.Series([50.0, 20.0], index=[3, 10]))
    assert "day" in totals.axes[-1].get_xlabel()
    # the depot arrivals have their own panel and scale: visible beside national totals
    assert len(totals.axes) == 2
    low = totals.axes[1]
    assert max(p.get_height() for p in low.patches) >= 0.5 * low.get_ylim()[1]
    rendered(totals, "plan_totals")
