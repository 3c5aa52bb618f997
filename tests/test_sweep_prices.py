"""Sweeps report prices as honestly as solve (issue 9): each variant's price of fairness is
exact to 0.01 lives or given with the interval its solves prove (price_of_fairness_low /
_high) and flagged (price_of_fairness_exact False); each variant's time limit is a budget for
all of its work."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from synthetic import threshold_instance

import optimiser
from optimiser.deadline import Deadline
from optimiser.sweeps import run_sweep
from optimiser.sweeps.fast import VariantOutcome, solve_fast, solve_rebuild
from optimiser.sweeps.prices import variant_price
from optimiser.sweeps.run import build_plan

US = Path(__file__).resolve().parents[1] / "instances" / "us-states-2020"


@pytest.fixture(scope="module")
def hard() -> optimiser.Instance:
    """120 regions under threshold(tau=100): a MIP HiGHS does not prove in 5 s on a quiet
    machine (22% gap; 60 regions were proved within the 1 s budget when the cores were free)."""
    request = threshold_instance(120, seed=1)
    request.pop("options")
    return optimiser.instance_from_dict(request)


def test_the_interval_is_the_engines_arithmetic() -> None:
    """L* in [100, 100.5] and the variant's optimum in [90, 90.2]: the price lies in
    [100 - 90.2, 100.5 - 90], wider than 0.01, so it is flagged."""
    out = VariantOutcome("time_limit", lives=90.0, lives_optimal=100.0, lives_bound=90.2,
                         lives_optimal_bound=100.5)
    price = variant_price(out)
    assert price["price_of_fairness_low"] == pytest.approx(9.8)
    assert price["price_of_fairness_high"] == pytest.approx(10.5)
    assert price["price_of_fairness"] == pytest.approx(10.0)
    assert price["price_of_fairness_exact"] is False
    proved = VariantOutcome("optimal", lives=90.0, lives_optimal=100.0, lives_bound=90.004,
                            lives_optimal_bound=100.004)
    assert variant_price(proved)["price_of_fairness_exact"] is True
    assert variant_price(VariantOutcome("infeasible"))["price_of_fairness_exact"] is pd.NA


@pytest.mark.parametrize(
    ("kind", "param", "values"),
    [
        ("per_capita_floor", "share", (0.1, 0.3, 0.6)),  # the greedy path
        ("max_coverage_gap", "gap", (0.3, 0.5, 0.8)),  # HiGHS, a family built as rows
    ],
)
def test_sweep_prices_are_exact_and_equal_the_engines(kind, param, values) -> None:
    """Each exact price equals the engine's lives_lost_alone for the same constraint, solved
    on its own by optimiser.solve (a model built anew), to 0.01 lives."""
    us = optimiser.load_instance(US)
    vary = {f"{kind}.{param}": ",".join(str(v) for v in values)}
    table = run_sweep(us, vary, constraints=[f"{kind}:{param}={values[0]}"],
                      default_constraints=False, price_of_fairness=True, workers=1).variants
    assert (table["status"] == "optimal").all()
    assert table["price_of_fairness_exact"].all()
    width = table["price_of_fairness_high"] - table["price_of_fairness_low"]
    assert (width <= 0.01 + 1e-9).all()
    for _, row in table.iterrows():
        value = row[f"{kind}.{param}"]
        engine = optimiser.solve(us, [f"{kind}:{param}={value}"], default_constraints=False)
        alone = engine.price_of_fairness.iloc[0]
        assert alone["exact"]
        assert row["price_of_fairness"] == pytest.approx(alone["lives_lost_alone"], abs=0.01)
        assert row["price_of_fairness_low"] <= alone["lives_lost_alone_high"] + 1e-9
        assert alone["lives_lost_alone_low"] <= row["price_of_fairness_high"] + 1e-9


def test_time_limited_sweep_prices_are_flagged_with_their_interval(hard, tmp_path) -> None:
    supply = hard.supply
    result = run_sweep(hard, {"supply": f"{supply},{supply + 100}"}, price_of_fairness=True,
                       time_limit=0.5, workers=1, out=tmp_path)
    table = result.variants
    assert (table["status"] == "time_limit").all()
    assert not table["price_of_fairness_exact"].any()
    assert (table["price_of_fairness_low"] <= table["price_of_fairness"] + 1e-9).all()
    assert (table["price_of_fairness"] <= table["price_of_fairness_high"] + 1e-9).all()
    assert (table["price_of_fairness_high"] - table["price_of_fairness_low"] > 0.01).all()
    # the flag and the interval survive the files
    stored = pd.read_parquet(tmp_path / "variants.parquet")
    assert stored["price_of_fairness_exact"].tolist() == [False, False]
    assert stored["price_of_fairness_high"].tolist() == pytest.approx(
        table["price_of_fairness_high"].tolist()
    )


@pytest.mark.parametrize("mode", ["fast", "rebuild"])
def test_a_variant_honours_its_time_limit_end_to_end(hard, mode) -> None:
    """The tie-break stages, L* and the variant's own solves share one budget: a variant of
    the hard instance given 1 s ends within max(1 s, 10%) of it (each stage used to get the
    whole limit)."""
    plan = build_plan(hard, {"supply": f"{hard.supply}"}, price_of_fairness=True,
                      tie_break=True, time_limit=1.0, mode=mode)[0]
    started = time.perf_counter()
    solve = solve_fast if mode == "fast" else solve_rebuild
    out = solve(plan, {"supply": hard.supply}, Deadline(1.0))
    took = time.perf_counter() - started
    assert out.status == "time_limit"
    assert took < 1.0 + 1.0, took
