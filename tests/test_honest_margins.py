"""Honest answers at the margins (issue 9): time budgets that hold whatever the HiGHS clock
counts, prices exact to 0.01 lives or given with their proven interval, patients who keep
their units, no patient waiting beside a free unit, and one verdict per question."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import harden_nobound
import numpy as np
import pandas as pd
import pytest
from synthetic import threshold_instance

import optimiser
from optimiser.errors import EXIT_RULES_BROKEN
from optimiser.multiperiod import check_plan, load_multiperiod, plan
from optimiser.multiperiod.engine import PlanEngine
from optimiser.solver import HighsModel, SolveStatus, _limit_counts_every_run

ROOT = Path(__file__).resolve().parents[1]
US_DAILY = ROOT / "instances" / "us-states-apr2020"
PUGH = ROOT / "instances" / "pugh2021"


def triage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optimiser", *args], capture_output=True, text=True, cwd=ROOT
    )


# ---- time budgets


def market_split_model(seed: int) -> HighsModel:
    import pyomo.environ as pyo

    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, size=(4, 40))
    m = pyo.ConcreteModel()
    m.J = pyo.RangeSet(0, 39)
    m.I = pyo.RangeSet(0, 3)
    m.x = pyo.Var(m.J, domain=pyo.Binary)
    m.sp = pyo.Var(m.I, bounds=(0, None))
    m.sn = pyo.Var(m.I, bounds=(0, None))
    m.split = pyo.Constraint(
        m.I,
        rule=lambda m, i: (
            sum(int(a[i, j]) * m.x[j] for j in m.J) + m.sp[i] - m.sn[i] == int(a[i].sum()) // 2
        ),
    )
    model = HighsModel(m)
    model.set_objective(sum(m.sp[i] + m.sn[i] for i in m.I), maximize=False)
    return model


def test_the_clock_reading_is_measured_for_lps_and_mips() -> None:
    """highspy 1.12-1.15: the simplex counts every run of a Highs object, branch-and-bound
    only the current run (measured, not assumed)."""
    assert _limit_counts_every_run(False) is True
    assert _limit_counts_every_run(True) is False


def test_repeated_mip_runs_each_stop_at_their_own_limit() -> None:
    """A hard MIP re-solved on one Highs object: each run stops near its 0.3 s, the limits do
    not grow 0.3, 0.6, 1.2, 2.4 s (the 'time already spent plus asked' reading)."""
    model = market_split_model(3)
    started = time.perf_counter()
    for i in range(4):
        model.highs.changeColCost(0, 1.0 + i * 1e-3)  # a fresh search each run
        run = model.solve(time_limit=0.3)
        assert run.status is SolveStatus.TIME_LIMIT
        assert run.seconds < 0.3 + 0.5, (i, run.seconds)
    assert time.perf_counter() - started < 4 * 0.3 + 1.5


def test_solve_honours_its_budget_end_to_end_with_prices() -> None:
    """A 60-region threshold MIP with a price of fairness: the whole call (build, every run,
    the price table) ends within max(1 s, 10%) of its 3 s budget, with an allocation."""
    request = threshold_instance(60, seed=1)
    request.pop("options")
    instance = optimiser.instance_from_dict(request)
    started = time.perf_counter()
    result = optimiser.solve(instance, time_limit=3)
    assert time.perf_counter() - started < 3 + 1.0
    assert result.status in ("optimal", "time_limit")
    assert result.allocation and sum(result.allocation.values()) <= instance.supply


def test_a_deadline_started_before_loading_counts_the_load() -> None:
    from optimiser.deadline import Deadline

    deadline = Deadline(0.5, start=time.perf_counter() - 10.0)  # spent before the call
    result = optimiser.solve(optimiser.load_instance(PUGH), deadline=deadline)
    assert result.status in ("time_limit", "optimal")
    assert result.timings["total"] < 2.0


# ---- prices


def test_single_period_prices_are_exact_or_carry_their_interval() -> None:
    us = optimiser.load_instance(ROOT / "instances" / "us-states-2020")
    result = optimiser.solve(us, ["per_capita_floor:share=0.3", "min_units:units=5"])
    table = result.price_of_fairness
    assert table["exact"].all()
    width = table["lives_lost_alone_high"] - table["lives_lost_alone_low"]
    assert (width <= 0.01 + 1e-9).all()
    assert (table["lives_lost_alone"] >= table["lives_lost_alone_low"] - 1e-12).all()
    assert result.lives_optimal_bound - result.lives_optimal <= 0.005 + 1e-9


def test_time_limited_prices_are_flagged_with_their_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whether 0.5 s proves the price depends on the machine, so both outcomes are checked;
    then with a HiGHS that never proves a bound (harden_nobound), the price cannot be exact
    on any machine: flagged, with its interval around the figure. (Before, the test checked
    only the first run and only when it happened not to be exact.)"""
    request = threshold_instance(60, seed=1)
    request.pop("options")
    instance = optimiser.instance_from_dict(request)
    row = optimiser.solve(instance, time_limit=0.5).price_of_fairness.iloc[0]
    if row["lives_lost_alone"] is None or pd.isna(row["lives_lost_alone"]):
        assert not row["exact"]
        assert "no allocation found" in row["note"] or "time" in row["note"]
    elif row["exact"]:
        assert row["lives_lost_alone_high"] - row["lives_lost_alone_low"] <= 0.01 + 1e-9
    else:
        assert "not proved exact" in row["note"]
        assert row["lives_lost_alone_high"] >= row["lives_lost_alone_low"]

    harden_nobound.install(monkeypatch)
    result = optimiser.solve(instance, time_limit=5)
    assert result.status == SolveStatus.TIME_LIMIT
    row = result.price_of_fairness.iloc[0]
    assert not row["exact"] and "not proved exact" in row["note"]
    assert (
        row["lives_lost_alone_low"] <= row["lives_lost_alone"] <= row["lives_lost_alone_high"]
    )


def test_a_free_constraint_costs_exactly_zero_in_the_planner() -> None:
    """A floor the lives-optimal plan already meets costs nothing, exactly (it cost 0.06-0.45
    lives under the old default relative gap of 1e-4)."""
    inst = load_multiperiod(US_DAILY)
    result = plan(inst, ["coverage_floor:level=0.1"], tie_break=False)
    row = result.price_of_fairness.iloc[0]
    assert row["exact"] and row["lives_lost_alone"] == 0.0
    assert row["lives_lost_alone_high"] <= 1e-6
    assert result.lives_optimal_bound - result.lives_optimal <= 0.005 + 1e-9


def test_l_star_is_one_solve_shared_by_every_plan_of_the_instance() -> None:
    inst = load_multiperiod(US_DAILY)
    first = plan(inst, ["coverage_floor:level=0.1"], tie_break=False)
    second = plan(inst, ["min_units:units=1"], tie_break=False, price_of_fairness=False)
    assert first.lives_optimal == second.lives_optimal


# ---- patients who hold their units, no waiting beside a free unit


def test_check_plan_names_a_plan_taking_units_from_patients_on_day_0(tmp_path) -> None:
    """NY starts with 1,719 units all in use: sending 1,500 away on day 0 breaks the rule
    (it passed as 'breaks no rule' when day-0 patients counted as admit-or-lose)."""
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame([{"kind": "transfer", "day": 0, "from": "NY", "to": "NJ", "units": 1500}]).to_csv(
        manifest, index=False
    )
    result = check_plan(load_multiperiod(US_DAILY), manifest)
    assert [v["rule"] for v in result.violations] == ["units_taken_from_patients"]
    assert result.violations[0]["day"] == 0


def test_the_planner_never_moves_the_units_of_patients_on_them(tmp_path) -> None:
    inst = load_multiperiod(US_DAILY)
    result = plan(inst, price_of_fairness=False)
    replay = check_plan(inst, result)
    assert replay.ok, replay.violations[:3]
    from optimiser.multiperiod.data import model_data

    data = model_data(inst)
    assert data.held.sum() > 0
    sent = result.manifest[(result.manifest["kind"] == "transfer") & (result.manifest["day"] == 0)]
    totals = pd.to_numeric(sent["units"]).groupby(sent["from"]).sum()
    for region, units in totals.items():
        r = list(inst.regions).index(region)
        assert data.own[r, 0] - units >= data.held_units()[r, 0] - 1e-6


def test_no_patient_waits_beside_a_free_unit() -> None:
    """With --max-wait 2 the old plan left patients waiting beside free staffed units (NJ,
    day 1: 101.75 waiting, 18.25 units free for their whole stay): check-plan names it, and
    the planner's settled patient flow never does it, at no cost in lives."""
    inst = load_multiperiod(US_DAILY).with_settings(max_wait_days=2)
    settle = PlanEngine.settle_patients
    try:
        PlanEngine.settle_patients = lambda self, out, active, deadline: out  # type: ignore
        loose = plan(inst, price_of_fairness=False)
    finally:
        PlanEngine.settle_patients = settle  # type: ignore
    rules = {v["rule"] for v in check_plan(inst, loose).violations}
    assert rules == {"idle_while_waiting"}
    settled = plan(inst, price_of_fairness=False)
    replay = check_plan(inst, settled)
    assert replay.ok, replay.violations[:3]
    assert settled.lives_saved >= loose.lives_saved - 1e-5
    assert abs(replay.survivors - settled.lives_saved) < 1e-5


# ---- consistent verdicts


def test_solve_on_a_multiperiod_folder_points_to_plan() -> None:
    run = triage("solve", str(US_DAILY))
    assert run.returncode == 2
    assert "multi-period" in run.stderr and "triage plan" in run.stderr


def test_evaluate_and_check_plan_share_the_rules_broken_exit_code(tmp_path) -> None:
    allocation = tmp_path / "allocation.csv"
    pd.DataFrame({"region": ["A", "B"], "units": [900, 900]}).to_csv(allocation, index=False)
    run = triage("evaluate", str(PUGH), str(allocation), "--json")
    assert run.returncode == EXIT_RULES_BROKEN == 1, run.stderr  # the documented exit code
    assert json.loads(run.stdout)["violations"]
    ok = tmp_path / "ok.csv"
    pd.DataFrame({"region": ["A"], "units": [10]}).to_csv(ok, index=False)
    assert triage("evaluate", str(PUGH), str(ok)).returncode == 0


def test_a_result_is_evaluated_under_the_supply_it_was_solved_with() -> None:
    inst = optimiser.load_instance(PUGH)
    result = optimiser.solve(inst, constraints=["coverage_floor:level=0.4"], supply=1200)
    scored = optimiser.evaluate(inst, result)
    assert scored.supply == 1200
    assert scored.lives_lost_total == pytest.approx(0.0, abs=1e-9)
    assert scored.unallocated == result.unallocated >= 0
    assert not scored.violations


def test_frames_say_which_horizon_they_assumed() -> None:
    regions = pd.read_csv(ROOT / "instances" / "us-states-2020" / "regions.csv")
    folder = optimiser.load_instance(ROOT / "instances" / "us-states-2020")
    with pytest.warns(optimiser.instance.HorizonAssumedWarning, match="horizon_days"):
        optimiser.instance_from_frames(regions, supply=2400)
    carried = optimiser.instance_from_frames(regions, supply=2400, horizon_days=folder.horizon_days)
    assert optimiser.solve(carried).lives_saved == pytest.approx(
        optimiser.solve(folder).lives_saved, abs=1e-6
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimiser.instance_from_frames(regions, supply=2400, horizon_days="mean_los")
