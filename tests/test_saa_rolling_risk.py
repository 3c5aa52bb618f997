"""SAA with executed moves (the rolling horizon) and with a risk measure, on distributions small
enough to solve by hand (tests/test_saa.py's `hedge` with one change each). Each case is
chosen so that the executed moves, or the risk measure, change the true optimum's commit: the
SAA candidate must be the hand-solved commit, and the bounds must bracket the hand-solved
optimum of the objective SAA says it bounds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_multiperiod_support import write_instance
from test_saa import run

from optimiser.errors import InputError
from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios import make_scenario_set, write_scenarios
from optimiser.scenarios.model import ScenarioSet
from optimiser.stochastic import parse_risk, plan_under_uncertainty
from optimiser.stochastic.replications import SaaResult, saa
from optimiser.stochastic.saa_objective import SaaObjective

TOL = 0.011  # every optimum is proved within 0.005 lives of its bound


def shipped(rows: pd.DataFrame) -> tuple[float, float]:
    return (
        float(rows.loc[rows["to"] == "A", "units"].sum()),
        float(rows.loc[rows["to"] == "B", "units"].sum()),
    )


def rolling(tmp_path: Path) -> tuple[Path, MultiPeriodInstance, ScenarioSet]:
    """2 regions x 4 days, 2 units at the depot from day 0, one day to either region; patients
    arrive on day 2. s1 (p 0.6): 2 patients in A (gain 1.0); s2 (p 0.4): 1 in B (gain 0.8).
    Shipping (a, b), a + b = 2, by day 1: E = 0.6 min(a, 2) + 0.32 min(b, 1): (2, 0) 1.2 is
    the optimum. Executed: 1 unit already sent to B on day 0; today = 1 and the last unit is
    the commit: to A 0.6 + 0.32 = 0.92, to B 0.32. So the executed move changes the commit
    (A: 1 unit, not A: 2) and the optimum (0.92, not 1.2)."""
    folder = write_instance(
        tmp_path / "rolling",
        [
            {"region": "A", "capacity": 0, "los_days": 2},
            {"region": "B", "capacity": 0, "los_days": 2, "survival_with": 0.8},
        ],
        {"A": [0, 0, 1, 0], "B": [0, 0, 0.5, 0]},
        deliveries=[(0, 2, "D")],
        leads=[("D", "A", 1), ("D", "B", 1)],
        multiperiod={"transfers": False},
    )
    inst = load_multiperiod(folder)
    cube = np.zeros((2, 2, 4))
    cube[0, 0, 2], cube[1, 1, 2] = 2, 1
    return folder, inst, make_scenario_set(inst, cube, ["s1", "s2"], [0.6, 0.4], sampled=False)


EXECUTED = pd.DataFrame(
    [{"kind": "ship", "day": 0, "from": "D", "to": "B", "units": 1.0, "arrives": 1}]
)


def test_executed_moves_change_the_saa_candidate_and_bounds(tmp_path: Path) -> None:
    _, inst, dist = rolling(tmp_path)
    free = plan_under_uncertainty(inst, dist, commit_days=2, price_of_fairness=False)
    assert free.expected_lives == pytest.approx(1.2, abs=1e-6)
    held = plan_under_uncertainty(
        inst, dist, commit_days=1, executed=EXECUTED, price_of_fairness=False
    )
    assert held.today == 1 and held.expected_lives == pytest.approx(0.92, abs=1e-6)
    kwargs = dict(replications=4, sample_size=4, evaluation_size=40, seed=3, workers=1)
    without = saa(inst, dist, commit_days=2, **kwargs)  # type: ignore[arg-type]
    assert shipped(without.committed) == (2.0, 0.0) and without.today == 0
    result = saa(inst, dist, commit_days=1, executed=EXECUTED, **kwargs)  # type: ignore[arg-type]
    assert result.today == 1 and len(result.executed) == 1
    assert shipped(result.committed) == (1.0, 0.0)  # the last unit, to A, on day 1
    assert (result.committed["day"] == 1).all()
    assert shipped(result.executed_rows()) == (1.0, 1.0)
    z = 0.92  # the candidate is the optimum: its true value is z
    assert result.upper_bound_high >= z - TOL
    assert result.lower_bound_low <= z + TOL and result.lower_bound <= 1.2 - 0.1
    assert result.upper_bound <= 1.0  # no replication can reach the free optimum's 1.2
    assert (result.per_replication["gap"] >= -TOL).all()
    assert without.upper_bound > result.upper_bound + 0.1
    back = SaaResult.from_dict(json.loads(result.to_json()))
    assert back.to_dict() == result.to_dict()
    assert back.executed.equals(result.executed)


def hedge_risk(tmp_path: Path) -> tuple[Path, MultiPeriodInstance, ScenarioSet]:
    """tests/test_saa.py's hedge with B's patient dying without a unit with probability 0.9
    (survival 0.1 -> 0.9: the same gain 0.8). Deaths D = (D0 - L): s1 (p 0.4): 2 - min(a, 2);
    s2 (p 0.6): 0.9 - 0.8 min(b, 1). Plans (a, b): (2, 0): E 0.8, D (0, 0.9); (1, 1): E 0.88,
    D (1, 0.1); (0, 2): E 0.48, D (2, 0.1). CVaR_0.4 of deaths (the worst 40%): 0.9, 1.0, 2.0.
    Neutral picks (1, 1) (0.88); worst:alpha=0.4 picks (2, 0) (f = -0.9); cvar:alpha=0.4,
    lambda=2 picks (2, 0) (0.8 - 1.8 = -1.0 against 0.88 - 2 = -1.12 and 0.48 - 4)."""
    folder = write_instance(
        tmp_path / "hedge_risk",
        [
            {"region": "A", "capacity": 0, "los_days": 2},
            {
                "region": "B",
                "capacity": 0,
                "los_days": 2,
                "survival_with": 0.9,
                "survival_without": 0.1,
            },
        ],
        {"A": [0, 1, 0], "B": [0, 0.5, 0]},
        deliveries=[(0, 2, "D")],
        leads=[("D", "A", 1), ("D", "B", 1)],
        multiperiod={"transfers": False},
    )
    inst = load_multiperiod(folder)
    cube = np.array([[[0, 2, 0], [0, 0, 0]], [[0, 0, 0], [0, 1, 0]]], dtype=float)
    return folder, inst, make_scenario_set(inst, cube, ["s1", "s2"], [0.4, 0.6], sampled=False)


def true_value(risk: str, a: float, b: float) -> float:
    """f(a, b) by hand for the hedge_risk distribution."""
    lives = np.array([min(a, 2.0), 0.8 * min(b, 1.0)])
    deaths = np.array([2.0, 0.9]) - lives
    measure = SaaObjective(parse_risk(risk))
    return measure.sample_value(lives, deaths, np.array([0.4, 0.6]))


@pytest.mark.parametrize(
    ("risk", "optimum", "plan"),
    [
        ("neutral", 0.88, (1.0, 1.0)),
        ("worst:alpha=0.4", -0.9, (2.0, 0.0)),
        ("cvar:alpha=0.4,lambda=2", -1.0, (2.0, 0.0)),
    ],
)
def test_risk_measure_changes_what_saa_bounds(
    tmp_path: Path, risk: str, optimum: float, plan: tuple[float, float]
) -> None:
    _, inst, dist = hedge_risk(tmp_path)
    assert true_value(risk, *plan) == pytest.approx(optimum)
    # the extensive form on the whole distribution agrees with the hand solution
    exact = plan_under_uncertainty(inst, dist, commit_days=1, risk=risk, price_of_fairness=False)
    assert shipped(exact.committed) == plan
    result = saa(
        inst,
        dist,
        risk=risk,
        replications=5,
        sample_size=10,
        selection_size=40,
        evaluation_size=60,
        seed=2,
        commit_days=1,
        workers=1,
    )
    assert result.risk == (risk if risk != "neutral" else "neutral")
    assert ("CVaR" in result.objective) == (risk != "neutral")
    assert shipped(result.committed) == plan  # the risk measure changes the candidate
    candidate = true_value(risk, *shipped(result.committed))
    assert result.upper_bound_high >= optimum - TOL
    assert optimum + TOL >= candidate
    assert result.lower_bound_low <= candidate + TOL
    assert result.gap >= -TOL and result.gap_high >= optimum - candidate - TOL
    assert result.gap_high_from_bounds >= optimum - candidate - TOL
    assert (result.per_replication["gap"] >= -TOL).all()
    kept = result.per_replication[result.per_replication["in_gap"]]  # all but the candidate's
    assert len(kept) == 4 and result.candidate not in kept.index
    assert result.gap == pytest.approx(float(kept["gap"].mean()), abs=1e-9)
    if risk != "neutral":
        # eta is the value-at-risk of the candidate's deaths: 0.9 for (2, 0)
        assert result.eta == pytest.approx(0.9, abs=1e-9)
        # with (2, 0) and eta 0.9, F = -(0.9 + [D - 0.9]^+ / 0.4) (worst) is -0.9 in every
        # scenario: the lower bound is exact
        if risk.startswith("worst"):
            assert result.lower_bound == pytest.approx(-0.9, abs=1e-6)
        info = result.info["candidate_out_of_sample"]
        assert info["cvar_deaths"] == pytest.approx(0.9, abs=1e-6)
    back = SaaResult.from_dict(json.loads(result.to_json()))
    assert back.to_dict() == result.to_dict()


def test_saa_risk_refuses_bad_measures_and_weighted_objectives(tmp_path: Path) -> None:
    _, inst, dist = hedge_risk(tmp_path)
    common = dict(replications=2, sample_size=2, evaluation_size=4, commit_days=1, workers=1)
    with pytest.raises(InputError, match="unknown risk kind"):
        saa(inst, dist, risk="median", **common)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="changes the objective's weights"):
        saa(
            inst,
            dist,
            ["prioritarian:weights=excess_per_capita"],
            risk="worst:alpha=0.5",
            **common,  # type: ignore[arg-type]
        )


def test_cli_saa_with_executed_and_risk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder, _, dist = rolling(tmp_path)
    (tmp_path / "dist").mkdir()
    write_scenarios(dist, tmp_path / "dist")
    executed = tmp_path / "executed.csv"
    EXECUTED.to_csv(executed, index=False)
    args = [
        "scenarios", "saa", str(folder), "--scenarios", str(tmp_path / "dist"),
        "-M", "3", "-N", "3", "--evaluate-on", "8", "--seed", "4", "--commit-days", "1",
        "--workers", "1", "--executed", str(executed),
    ]  # fmt: skip
    code, out, err = run([*args, "--json"], capsys)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["today"] == 1 and payload["executed"][0]["to"] == "B"
    assert shipped(pd.DataFrame(payload["committed"])) == (1.0, 0.0)
    code, out, err = run([*args, "--risk", "worst:alpha=0.5"], capsys)
    assert code == 0 and "CVaR_0.5 of deaths" in out and "executed" in out, err
    code, out, err = run([*args, "--risk", "cvar:alpha=2,lambda=1"], capsys)
    assert code == 2 and "alpha" in err and not out
    bad = tmp_path / "bad.csv"
    bad.write_text("day,from,to,units\n0,D,Nowhere,1\n")
    code, out, err = run([*args[:-1], str(bad)], capsys)
    assert code == 2 and "bad.csv" in err and "Nowhere" in err and not out
    code, out, err = run([*args[:-4], "--commit-days", "3", *args[-2:], "--today", "2"], capsys)
    assert code == 2 and "commit" in err and not out


def test_saa_time_limit_reports_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from optimiser.stochastic.replications import SaaTimeLimit

    folder, inst, dist = rolling(tmp_path)
    with pytest.raises(SaaTimeLimit, match="time limit"):
        saa(inst, dist, replications=2, sample_size=2, evaluation_size=500, commit_days=1,
            workers=1, time_limit=0.01)  # fmt: skip
    (tmp_path / "dist").mkdir()
    write_scenarios(dist, tmp_path / "dist")
    out = tmp_path / "o"
    code, stdout, err = run(
        ["scenarios", "saa", str(folder), "--scenarios", str(tmp_path / "dist"), "-M", "2",
         "-N", "2", "--evaluate-on", "500", "--commit-days", "1", "--workers", "1",
         "--time-limit", "0.01", "--out", str(out)],
        capsys,
    )  # fmt: skip
    assert code == 4 and "time limit" in err and not stdout and not out.exists()
    code, stdout, err = run(
        ["scenarios", "saa", str(folder), "--scenarios", str(tmp_path / "dist"), "-M", "2",
         "--time-limit", "0"],
        capsys,
    )  # fmt: skip
    assert code == 2 and ("time_limit" in err or "time-limit" in err)
