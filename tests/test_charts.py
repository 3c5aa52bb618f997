"""Every chart renders to PNG and SVG, with labelled axes, and stays readable with 50 regions
(the figure grows with the number of regions; every region gets its own tick label)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
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
    assert any("infeasible" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
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


def test_plan_chart_with_50_regions():
    frame = plan_frame()
    fig = charts.plan_chart(frame)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 50
    assert "day" in fig.get_supxlabel() if hasattr(fig, "get_supxlabel") else True
    image = rendered(fig, "plan_50", svg=False)
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
