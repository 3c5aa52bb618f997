"""The two-stage stochastic planner (optimiser/stochastic, models/stochastic.py), checked against
a case solved by hand, a brute force over the first-stage decisions (each scenario's recourse
solved alone by the deterministic planner), the deterministic planner itself (one scenario),
and the simulator (VSS, EVPI)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scenario_support import small_instance, write_set
from test_multiperiod_support import write_instance

from optimiser.cli import main
from optimiser.errors import InputError
from optimiser.multiperiod import load_multiperiod, plan
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios import LognormalSpec, lognormal_scenarios, make_scenario_set
from optimiser.scenarios.model import ScenarioSet
from optimiser.scenarios.stats import cvar
from optimiser.stochastic import StochasticResult, parse_risk, plan_under_uncertainty
from optimiser.stochastic.compare import Comparison, compare

TOL = 0.011  # every optimum is proved within 0.005 lives of its bound


def hedge_case(tmp_path: Path) -> tuple[MultiPeriodInstance, ScenarioSet]:
    """2 regions x 3 days, 2 units at the depot on day 0, one day to either region; every
    patient arrives on day 1 and cannot wait, so only the day-0 shipment (the commit) can
    treat anyone. s1 (p = 1/2): 2 patients in A; s2 (p = 1/2): 1 patient in B. Gains: A 1.0,
    B 0.8 (survival 0 without a unit).

    By hand: ship (a, b) units with a + b = 2 on day 0. E[L] = 1/2 min(a, 2) + 1/2 0.8
    min(b, 1): (2, 0) -> 1.0, (1, 1) -> 0.9, (0, 2) -> 0.4: the stochastic plan ships both
    to A, E = 1.0. The mean forecast (A 1, B 0.5) ships one to each (1 + 0.4 > 1 + 0),
    scoring 0.9: VSS = 0.1. Hindsight: 2 in s1, 0.8 in s2: 1.4, EVPI = 0.4."""
    folder = write_instance(
        tmp_path / "hedge",
        [
            {"region": "A", "capacity": 0, "los_days": 2},
            {"region": "B", "capacity": 0, "los_days": 2, "survival_with": 0.8},
        ],
        {"A": [0, 1, 0], "B": [0, 0.5, 0]},
        deliveries=[(0, 2, "D")],
        leads=[("D", "A", 1), ("D", "B", 1)],
        multiperiod={"transfers": False},
    )
    inst = load_multiperiod(folder)
    cube = np.array([[[0, 2, 0], [0, 0, 0]], [[0, 0, 0], [0, 1, 0]]], dtype=float)
    return inst, make_scenario_set(inst, cube, ["s1", "s2"], [0.5, 0.5], sampled=False)


def test_hand_solved_two_scenarios(tmp_path: Path) -> None:
    inst, scenarios = hedge_case(tmp_path)
    result = plan_under_uncertainty(inst, scenarios, commit_days=1)
    assert result.status == "optimal"
    assert result.expected_lives == pytest.approx(1.0, abs=1e-6)
    assert result.committed[["kind", "day", "from", "to", "units"]].values.tolist() == [
        ["ship", 0, "D", "A", 2.0]
    ]
    assert result.per_scenario["lives"].tolist() == pytest.approx([2.0, 0.0], abs=1e-6)
    assert result.per_scenario["deaths"].tolist() == pytest.approx([0.0, 1.0], abs=1e-6)
    comparison = compare(inst, scenarios, commit_days=1, stochastic=result)
    survivors = comparison.table["expected_survivors"]
    assert survivors["stochastic"] == pytest.approx(1.0, abs=1e-6)
    assert survivors["mean"] == pytest.approx(0.9, abs=1e-6)
    assert survivors["hindsight"] == pytest.approx(1.4, abs=1e-6)
    assert comparison.vss == pytest.approx(0.1, abs=1e-6)
    assert comparison.evpi == pytest.approx(0.4, abs=1e-6)
    assert comparison.in_sample
    again = Comparison.from_dict(json.loads(comparison.to_json()))
    pd.testing.assert_frame_equal(again.table, comparison.table, check_dtype=False)


def brute_case(tmp_path: Path) -> tuple[MultiPeriodInstance, ScenarioSet]:
    """2 regions x 5 days, 3 units at the depot, leads 1 (A) and 2 (B); three unequal
    scenarios of new patients staying 2 days."""
    folder = write_instance(
        tmp_path / "brute",
        [
            {"region": "A", "capacity": 0, "los_days": 2, "survival_with": 0.9},
            {"region": "B", "capacity": 1, "los_days": 2, "survival_with": 0.7},
        ],
        {"A": [0, 1, 1, 1, 0], "B": [0, 1, 1, 1, 1]},
        deliveries=[(0, 3, "D")],
        leads=[("D", "A", 1), ("D", "B", 2)],
        multiperiod={"transfers": False},
    )
    inst = load_multiperiod(folder)
    cube = np.array(
        [
            [[0, 2, 1, 0, 1], [0, 0, 1, 1, 0]],
            [[0, 0, 1, 1, 2], [1, 1, 2, 2, 1]],
            [[0, 1, 0, 2, 0], [0, 2, 0, 1, 1]],
        ],
        dtype=float,
    )
    return inst, make_scenario_set(inst, cube, ["s1", "s2", "s3"], [0.5, 0.3, 0.2], sampled=False)


def enumerate_commits(
    inst: MultiPeriodInstance, scenarios: ScenarioSet, commit_days: int, constraints: list[str]
) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """Every first-stage shipment plan (units to A and B on each day of the window, at most
    the depot's 3 units), with each scenario's best recourse by the deterministic planner
    (None where the constraints cannot hold)."""
    cells = [(r, d) for d in range(commit_days) for r in ("A", "B")]
    lead = {"A": 1, "B": 2}
    out = []
    for units in itertools.product(range(4), repeat=len(cells)):
        if sum(units) > 3:
            continue
        rows = pd.DataFrame(
            [
                {"kind": "ship", "day": d, "from": "D", "to": r, "units": u, "arrives": d + lead[r]}
                for (r, d), u in zip(cells, units, strict=True)
                if u
            ],
            columns=["kind", "day", "from", "to", "units", "arrives"],
        )
        lives = []
        for _, one in scenarios.instances(inst):
            result = plan(
                one,
                constraints,
                executed=rows,
                today=commit_days,
                price_of_fairness=False,
                tie_break=False,
            )
            lives.append(np.nan if result.lives_saved is None else result.lives_saved)
        out.append((units, np.array(lives)))
    return out


def test_extensive_form_equals_brute_force_over_the_commit(tmp_path: Path) -> None:
    inst, scenarios = brute_case(tmp_path)
    p = scenarios.probability.to_numpy()
    table = enumerate_commits(inst, scenarios, 2, [])
    best = max(float(p @ lives) for _, lives in table)
    result = plan_under_uncertainty(inst, scenarios, commit_days=2, price_of_fairness=False)
    assert result.expected_lives == pytest.approx(best, abs=TOL)
    # the committed plan's own recourse is as good (the commit is an optimal first stage)
    committed = tuple(
        int(result.committed.query(f"to == '{r}' and day == {d}")["units"].sum())
        for d in range(2)
        for r in ("A", "B")
    )
    own = dict(table)[committed]
    assert float(p @ own) == pytest.approx(best, abs=TOL)
    # the alpha-worst variant: the least CVaR of deaths over every commit
    deaths0 = result.per_scenario["deaths"].to_numpy() + result.per_scenario["lives"].to_numpy()
    least = min(cvar(deaths0 - lives, p, 0.4) for _, lives in table)
    worst = plan_under_uncertainty(inst, scenarios, commit_days=2, risk="worst:alpha=0.4")
    assert worst.cvar_deaths == pytest.approx(least, abs=TOL)
    assert worst.expected_lives <= result.expected_lives + TOL


def test_fairness_holds_in_every_scenario_brute_force(tmp_path: Path) -> None:
    """min_units per scenario: the commit must leave every scenario able to meet it."""
    inst, scenarios = brute_case(tmp_path)
    p = scenarios.probability.to_numpy()
    spec = ["min_units:units=1"]
    table = enumerate_commits(inst, scenarios, 1, spec)
    feasible = [float(p @ lives) for _, lives in table if not np.isnan(lives).any()]
    result = plan_under_uncertainty(inst, scenarios, spec, commit_days=1)
    assert result.status == "optimal"
    assert result.expected_lives == pytest.approx(max(feasible), abs=TOL)
    # price of fairness, in expected lives: L* (no constraint) minus the constrained optimum
    free = plan_under_uncertainty(inst, scenarios, commit_days=1, price_of_fairness=False)
    row = result.price_of_fairness.iloc[0]
    assert result.lives_optimal == pytest.approx(free.expected_lives, abs=TOL)
    assert row["lives_lost_alone"] == pytest.approx(
        free.expected_lives - result.expected_lives, abs=2 * TOL
    )


def test_one_scenario_is_the_deterministic_plan(tmp_path: Path) -> None:
    inst = load_multiperiod(small_instance(tmp_path / "one", regions=4, days=10))
    cube = inst.demand.to_numpy(dtype=float)[None, :, :]
    single = make_scenario_set(inst, cube, ["only"], [1.0], sampled=False)
    result = plan_under_uncertainty(inst, single, commit_days=3, price_of_fairness=False)
    det = plan(inst, price_of_fairness=False)
    assert result.expected_lives == pytest.approx(det.lives_saved, abs=TOL)
    assert result.lives_bound is not None and result.lives_bound >= det.lives_saved - TOL


@pytest.fixture(scope="module")
def sampled_case(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[MultiPeriodInstance, ScenarioSet]:
    folder = small_instance(tmp_path_factory.mktemp("vss") / "inst", regions=3, days=8)
    inst = load_multiperiod(folder).with_settings(transfers=False)
    return inst, lognormal_scenarios(inst, LognormalSpec(scenarios=4, seed=3))


def test_vss_and_evpi_are_not_negative_in_sample(
    sampled_case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    inst, scenarios = sampled_case
    result = plan_under_uncertainty(inst, scenarios, commit_days=3, price_of_fairness=False)
    comparison = compare(inst, scenarios, commit_days=3, stochastic=result)
    assert comparison.vss is not None and comparison.vss >= -TOL
    assert comparison.evpi is not None and comparison.evpi >= -TOL
    survivors = comparison.table["expected_survivors"]
    assert (survivors["hindsight"] >= survivors - TOL).all()
    assert survivors["stochastic"] - survivors["mean"] == pytest.approx(comparison.vss)
    # in sample, the simulator scores the stochastic plan's recourse as the model does: its
    # survivors minus the hindsight's equal the model's expected lives minus theirs
    hindsight = [
        plan(one, price_of_fairness=False).lives_saved for _, one in scenarios.instances(inst)
    ]
    p = scenarios.probability.to_numpy()
    assert comparison.evpi == pytest.approx(float(p @ hindsight) - result.expected_lives, abs=TOL)


def test_cvar_with_lambda_zero_is_risk_neutral(
    sampled_case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    inst, scenarios = sampled_case
    neutral = plan_under_uncertainty(inst, scenarios, commit_days=3, price_of_fairness=False)
    zero = plan_under_uncertainty(
        inst, scenarios, commit_days=3, risk="cvar:alpha=0.25,lambda=0", price_of_fairness=False
    )
    assert zero.expected_lives == pytest.approx(neutral.expected_lives, abs=TOL)
    averse = plan_under_uncertainty(
        inst, scenarios, commit_days=3, risk="cvar:alpha=0.25,lambda=5", price_of_fairness=False
    )
    assert averse.expected_lives <= neutral.expected_lives + TOL
    assert averse.cvar_deaths is not None and zero.cvar_deaths is not None
    assert averse.cvar_deaths <= zero.cvar_deaths + TOL


def test_result_round_trips_and_feeds_the_rolling_horizon(tmp_path: Path) -> None:
    inst, scenarios = hedge_case(tmp_path)
    result = plan_under_uncertainty(inst, scenarios, commit_days=1)
    again = StochasticResult.from_json(result.to_json())
    assert again.to_dict() == result.to_dict()
    # the backtest's use: execute the commit, re-plan the rest from the end of the window
    follow = plan(inst, executed=result.executed_rows(), today=result.commit_end)
    assert follow.status == "optimal"
    assert follow.executed_rows == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cvar:alpha=0,lambda=1", "alpha must be a tail share"),
        ("cvar:alpha=0.1", "cvar needs lambda"),
        ("cvar:alpha=0.1,lambda=-1", "lambda must be in"),
        ("worst:lambda=1", "worst takes alpha"),
        ("median", "unknown risk kind"),
        ("cvar:alpha=x,lambda=1", "alpha must be a number"),
    ],
)
def test_bad_risk_is_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_risk(text)


def test_bad_commit_windows_are_refused(tmp_path: Path) -> None:
    inst, scenarios = hedge_case(tmp_path)
    for days, message in ((0, "at least 1 day"), (4, "ends after the horizon"), (1.5, "whole")):
        with pytest.raises(InputError, match=message):
            plan_under_uncertainty(inst, scenarios, commit_days=days)  # type: ignore[arg-type]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_plan_with_scenarios(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst, scenarios = hedge_case(tmp_path)
    folder = tmp_path / "hedge"
    sets = write_set(tmp_path / "sets", inst, scenarios.array(inst.regions), [0.5, 0.5])
    out = tmp_path / "out"
    code, stdout, _ = run_cli(
        [
            "plan",
            str(folder),
            "--scenarios",
            str(sets),
            "--commit-days",
            "1",
            "--compare",
            "--json",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0
    payload = json.loads(stdout)
    assert payload["expected_lives"] == pytest.approx(1.0)
    assert payload["comparison"]["vss"] == pytest.approx(0.1, abs=1e-6)
    committed = pd.read_csv(out / "committed.csv")
    assert committed[["day", "from", "to", "units"]].values.tolist() == [[0, "D", "A", 2.0]]
    assert (out / "committed.csv").read_text().splitlines()[1].split(",")[4] == "2"  # as plan.csv
    # committed.csv is what --executed reads back
    code, stdout, _ = run_cli(
        ["plan", str(folder), "--executed", str(out / "committed.csv"), "--json", "--no-price"],
        capsys,
    )
    assert code == 0 and json.loads(stdout)["executed_rows"] == 1


@pytest.mark.parametrize(
    ("weights", "extra", "message"),
    [
        ([0.5, 0.6], [], "sum"),
        ([-0.5, 1.5], [], "negative|>= 0|at least 0"),
        ([0.5, 0.5], ["--commit-days", "0"], "at least 1 day"),
        ([0.5, 0.5], ["--commit-days", "9"], "ends after the horizon"),
        ([0.5, 0.5], ["--risk", "cvar:alpha=0.1"], "cvar needs lambda"),
    ],
)
def test_cli_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    weights: list[float],
    extra: list[str],
    message: str,
) -> None:
    inst, scenarios = hedge_case(tmp_path)
    sets = write_set(tmp_path / "sets", inst, scenarios.array(inst.regions), weights)
    out = tmp_path / "out"
    code, _, err = run_cli(
        ["plan", str(tmp_path / "hedge"), "--scenarios", str(sets), "--out", str(out), *extra],
        capsys,
    )
    assert code == 2, err
    assert pd.Series([err]).str.contains(message).all(), err
    assert not out.exists()


def test_cli_scenarios_missing_a_region_say_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inst, scenarios = hedge_case(tmp_path)
    sets = write_set(tmp_path / "sets", inst, scenarios.array(inst.regions), [0.5, 0.5])
    frame = pd.read_csv(sets / "scenarios.csv")
    frame[frame["region"] != "B"].to_csv(sets / "scenarios.csv", index=False)
    code, _, err = run_cli(["plan", str(tmp_path / "hedge"), "--scenarios", str(sets)], capsys)
    assert code == 2 and "B" in err, err


def test_cli_stochastic_options_need_scenarios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hedge_case(tmp_path)
    code, _, err = run_cli(["plan", str(tmp_path / "hedge"), "--risk", "worst:alpha=0.2"], capsys)
    assert code == 2 and "--scenarios" in err


def test_the_plan_that_moves_nothing_is_a_feasible_start(
    sampled_case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    """The start given to HiGHS, and the witness that an 'infeasible' without fairness rows is
    a solver error, not an answer."""
    from optimiser.stochastic.engine import StochasticEngine
    from optimiser.stochastic.risk import parse_risk

    inst, scenarios = sampled_case
    engine = StochasticEngine(
        inst, scenarios, commit_days=3, risk=parse_risk("cvar:alpha=0.5,lambda=1")
    )
    start = engine.zero_plan()
    assert engine.meets_rows(start, [])
    start[engine.form.excess[0]] -= 1.0  # below its tail row
    assert not engine.meets_rows(start, [])


def test_relaxed_recourse_bounds_the_integer_one_and_keeps_the_commit_whole(
    sampled_case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    inst, scenarios = sampled_case
    exact = plan_under_uncertainty(inst, scenarios, commit_days=3, price_of_fairness=False)
    relaxed = plan_under_uncertainty(
        inst, scenarios, commit_days=3, price_of_fairness=False, relax_recourse=True
    )
    assert relaxed.expected_lives >= exact.expected_lives - TOL
    units = relaxed.committed["units"].to_numpy(dtype=float)
    assert np.allclose(units, np.rint(units))
    assert relaxed.sizes["relaxed_recourse"] == 1


def test_out_of_sample_comparison_scores_every_candidate(
    sampled_case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    inst, scenarios = sampled_case
    held_out = lognormal_scenarios(inst, LognormalSpec(scenarios=3, seed=11))
    comparison = compare(
        inst, scenarios, evaluation=held_out, commit_days=3, risk="worst:alpha=0.5"
    )
    assert not comparison.in_sample
    assert list(comparison.table.index) == [
        "stochastic", "risk_averse", "mean", "buffer", "worst_case", "hindsight"
    ]
    assert comparison.info["evaluation_scenarios"] == 3
    assert comparison.alpha == 0.5
    # hindsight is the bound in every evaluation, in sample or not
    survivors = comparison.table["expected_survivors"]
    assert (survivors["hindsight"] >= survivors - TOL).all()
