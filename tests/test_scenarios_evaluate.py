"""Out-of-sample evaluation, checked against independent computations: one scenario is
check-plan on an instance built with that demand; metrics are recomputed by hand from
per-scenario check-plan runs; hindsight plans bound any fixed plan; intervals cover."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scenario_support import load, long_frame, scaled, small_instance

from optimiser.errors import InputError
from optimiser.multiperiod import check_plan, multiperiod_from_frames, plan
from optimiser.scenarios import (
    Evaluation,
    LognormalSpec,
    evaluate,
    lognormal_scenarios,
    make_scenario_set,
    scenarios_from_frames,
)
from optimiser.scenarios.stats import cvar, cvar_estimate, mean_estimate, probability_estimate

LIVES = 1e-6


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A small instance, its optimal plan (written as plan.csv and manifest.csv)."""
    folder = small_instance(tmp_path_factory.mktemp("ev") / "inst", regions=5, days=14, seed=7)
    inst = load(folder)
    result = plan(inst, price_of_fairness=False)
    out = folder.parent / "plan"
    out.mkdir()
    result.plan.to_csv(out / "plan.csv", index=False)
    result.manifest.to_csv(out / "manifest.csv", index=False)
    return folder, inst, result, out


def rebuilt(folder: Path, demand: np.ndarray):  # type: ignore[no-untyped-def]
    """The instance rebuilt through multiperiod_from_frames with another demand table: the
    files' own validation, not the scenario code's replace()."""
    inst = load(folder)
    frame = long_frame(inst, demand[None]).drop(columns="scenario")
    return multiperiod_from_frames(
        inst.base,
        frame,
        deliveries=pd.read_csv(folder / "deliveries.csv"),
        lead_times=pd.read_csv(folder / "lead_times.csv"),
    )


def test_one_scenario_is_check_plan_on_an_instance_with_that_demand(case) -> None:  # type: ignore[no-untyped-def]
    folder, inst, _, out = case
    demand = np.round(inst.demand.to_numpy() * 1.7, 4)
    scenarios = make_scenario_set(inst, demand[None], ids=["high"], sampled=False)
    ev = evaluate(inst, out / "manifest.csv", scenarios)
    check = check_plan(rebuilt(folder, demand), out / "manifest.csv")
    row = ev.per_scenario.loc["high"]
    assert check.greedy_admissions
    assert abs(row.survivors - check.survivors) < LIVES
    assert abs(row.shortfall - check.shortfall) < LIVES
    assert row.violations == len(check.violations)
    # deaths from check-plan's region table and the survival columns, by hand
    regions = inst.base.regions
    by_hand = sum(
        check.regions.loc[r, "admitted"] * (1 - regions.loc[r, "survival_with"])
        + check.regions.loc[r, "not_admitted"] * (1 - regions.loc[r, "survival_without"])
        for r in inst.regions
    )
    assert abs(row.deaths - by_hand) < LIVES
    assert ev.metrics["expected_survivors"].value == pytest.approx(check.survivors, abs=LIVES)
    assert ev.metrics["expected_survivors"].low is None  # one weighted scenario: exact


def test_the_forecast_scenario_scores_the_engines_lives(case) -> None:  # type: ignore[no-untyped-def]
    _, inst, result, out = case
    forecast = make_scenario_set(inst, inst.demand.to_numpy()[None], ids=["f"], sampled=False)
    ev = evaluate(inst, out / "manifest.csv", forecast)
    assert ev.per_scenario.loc["f", "survivors"] == pytest.approx(result.lives_saved, abs=LIVES)
    ev = evaluate(inst, result, forecast, policy="as_is")  # the full plan, admissions too
    assert ev.per_scenario.loc["f", "survivors"] == pytest.approx(result.lives_saved, abs=LIVES)


def independent_cvar(x: np.ndarray, p: np.ndarray, alpha: float) -> float:
    """The mean of the worst alpha of the probability mass, taken atom by atom."""
    left, total = alpha, 0.0
    for value, mass in sorted(zip(x, p, strict=True), key=lambda t: -t[0]):
        take = min(mass, left)
        total += take * value
        left -= take
        if left <= 1e-15:
            break
    return total / alpha


def test_metrics_over_weighted_scenarios_are_the_weighted_check_plan_figures(case) -> None:  # type: ignore[no-untyped-def]
    folder, inst, _, out = case
    factors, weights = [0.6, 1.0, 1.4, 2.5], [0.1, 0.4, 0.3, 0.2]
    cube = scaled(inst, factors)
    frame = long_frame(inst, cube)
    w = pd.DataFrame({"scenario": ["s1", "s2", "s3", "s4"], "probability": weights})
    ev = evaluate(inst, out / "manifest.csv", scenarios_from_frames(inst, frame, w), alpha=0.25)
    checks = [check_plan(rebuilt(folder, cube[i]), out / "manifest.csv") for i in range(4)]
    p = np.array(weights)
    survivors = np.array([c.survivors for c in checks])
    shortfall = np.array([c.shortfall for c in checks])
    m = ev.metrics
    assert m["expected_survivors"].value == pytest.approx(float(p @ survivors), abs=LIVES)
    assert m["expected_shortfall"].value == pytest.approx(float(p @ shortfall), abs=LIVES)
    assert m["probability_of_shortfall"].value == pytest.approx(float(p[shortfall > 0.5].sum()))
    assert m["cvar_shortfall"].value == pytest.approx(independent_cvar(shortfall, p, 0.25))
    assert m["cvar_shortfall"].value >= m["expected_shortfall"].value - LIVES
    assert m["cvar_shortfall"].low is None  # weighted: the distribution itself, no interval
    # round trip of the result
    again = Evaluation.from_dict(ev.to_dict())
    assert again.to_dict() == ev.to_dict()


def test_cvar_brute_force_on_random_discrete_distributions() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(1, 12))
        x = rng.integers(0, 6, n).astype(float)  # ties on purpose
        p = rng.dirichlet(np.ones(n))
        alpha = float(rng.choice([0.05, 0.1, 0.37, 0.5, 1.0]))
        assert cvar(x, p, alpha) == pytest.approx(independent_cvar(x, p, alpha), abs=1e-12)
    assert cvar(np.array([1.0, 2.0, 3.0]), np.full(3, 1 / 3), 1.0) == pytest.approx(2.0)


def test_intervals_cover_at_their_level() -> None:
    """Coverage by simulation from known distributions (seeded): mean of an exponential,
    Wilson for a rare event, and CVaR_0.1 of Exp(1), which is 1 + ln 10."""
    rng = np.random.default_rng(12)
    reps, n = 300, 400
    hits = {"mean": 0, "prob": 0, "cvar": 0}
    true_cvar = 1.0 + math.log(10.0)
    for _ in range(reps):
        x = rng.exponential(1.0, n)
        p = np.full(n, 1.0 / n)
        e = mean_estimate(x, p, True, 0.95)
        hits["mean"] += e.low <= 1.0 <= e.high  # type: ignore[operator]
        b = probability_estimate(rng.random(n) < 0.02, p, True, 0.95)
        hits["prob"] += b.low <= 0.02 <= b.high  # type: ignore[operator]
        c = cvar_estimate(x, p, 0.1, True, 0.95)
        hits["cvar"] += c.low <= true_cvar <= c.high  # type: ignore[operator]
    for name, count in hits.items():
        assert 0.90 <= count / reps <= 0.99, (name, count / reps)


def test_hindsight_plans_bound_the_fixed_plan_in_every_scenario(case) -> None:  # type: ignore[no-untyped-def]
    """A plan made knowing the scenario saves at least as many lives there as the forecast's
    manifest replayed (when that replay breaks no rule): per-scenario plans, replayed as is,
    score what the engine claims."""
    _, inst, _, out = case
    scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=3, seed=2, sigma_growth=0.08))
    hindsight = {sid: plan(i, price_of_fairness=False) for sid, i in scenarios.instances(inst)}
    best = evaluate(inst, hindsight, scenarios)
    fixed = evaluate(inst, out / "manifest.csv", scenarios)
    assert best.policy == "as_is"
    compared = 0
    for sid in scenarios.ids:
        assert best.per_scenario.loc[sid, "survivors"] == pytest.approx(
            hindsight[sid].lives_saved, abs=LIVES
        )
        assert best.per_scenario.loc[sid, "violations"] == 0
        if fixed.per_scenario.loc[sid, "violations"] == 0:
            compared += 1
            assert (
                fixed.per_scenario.loc[sid, "survivors"]
                <= best.per_scenario.loc[sid, "survivors"] + LIVES
            )
    assert compared == len(scenarios)  # a manifest replays without breaking a rule
    gain = best.metrics["expected_survivors"].value - fixed.metrics["expected_survivors"].value
    assert gain > 0.01  # knowing the scenario is worth something here (else the test is idle)


@pytest.mark.slow  # starts two worker processes
def test_worker_processes_give_the_same_figures(case) -> None:  # type: ignore[no-untyped-def]
    _, inst, _, out = case
    scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=40, seed=5, peak_shift_sd=2))
    alone = evaluate(inst, out / "manifest.csv", scenarios, workers=1)
    pooled = evaluate(inst, out / "manifest.csv", scenarios, workers=2, chunk_size=7)
    assert "2 local processes" in pooled.info["executor"]
    pd.testing.assert_frame_equal(alone.per_scenario, pooled.per_scenario)
    assert alone.metrics == pooled.metrics


@pytest.mark.slow  # starts a Dask cluster
def test_a_dask_cluster_gives_the_same_figures(case) -> None:  # type: ignore[no-untyped-def]
    from distributed import Client, LocalCluster

    _, inst, _, out = case
    scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=12, seed=6))
    alone = evaluate(inst, out / "manifest.csv", scenarios, workers=1)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        remote = evaluate(inst, out / "manifest.csv", scenarios, scheduler=client)
    assert remote.info["executor"].startswith("dask")
    pd.testing.assert_frame_equal(alone.per_scenario, remote.per_scenario)


def test_options_are_checked(case) -> None:  # type: ignore[no-untyped-def]
    _, inst, _, out = case
    scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=3, seed=1))
    with pytest.raises(InputError) as exc:
        evaluate(inst, out / "manifest.csv", scenarios, alpha=0, confidence=1.0, policy="best")
    text = " | ".join(str(p) for p in exc.value.problems)
    assert "option 'alpha'" in text and "option 'confidence'" in text
    with pytest.raises(InputError, match="unknown replay policy 'best'"):
        evaluate(inst, out / "manifest.csv", scenarios, policy="best")
    with pytest.raises(InputError, match="no plan for scenario"):
        evaluate(inst, {"s001": out / "plan.csv"}, scenarios)
    other = lognormal_scenarios(inst, LognormalSpec(scenarios=2, seed=1))
    bad = make_scenario_set(inst, other.array()[:, :, :], sampled=True)
    with pytest.raises(InputError, match="the scenarios are new_patients"):
        from dataclasses import replace

        evaluate(inst, out / "manifest.csv", replace(bad, demand_kind="new_patients"))


@pytest.mark.slow  # starts the CLI
def test_cli_evaluate_json_and_out(case, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    folder, inst, _, out = case
    scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=6, seed=3))
    from optimiser.scenarios import write_scenarios

    (tmp_path / "s").mkdir()
    write_scenarios(scenarios, tmp_path / "s")
    proc = run_cli(
        "scenarios",
        "evaluate",
        folder,
        out / "manifest.csv",
        "--scenarios",
        tmp_path / "s",
        "--json",
        "--out",
        tmp_path / "ev",
        "--alpha",
        "0.2",
    )
    assert proc.returncode == 0, proc.stderr
    import json

    payload = json.loads(proc.stdout)
    direct = evaluate(inst, out / "manifest.csv", scenarios, alpha=0.2)
    assert payload["metrics"]["cvar_shortfall"]["value"] == pytest.approx(
        direct.metrics["cvar_shortfall"].value
    )
    assert (tmp_path / "ev" / "per_scenario.csv").is_file()
    proc = run_cli(
        "scenarios",
        "evaluate",
        folder,
        out / "manifest.csv",
        "--scenarios",
        "observed",
        "--out",
        tmp_path / "ev2",
    )
    assert proc.returncode == 2 and "needs the instance's observed.csv" in proc.stderr
    assert not (tmp_path / "ev2").exists()
