"""The two-stage planner in a rolling horizon (moves already executed, `today` > 0) under a
fairness constraint: the commit of the next window is checked against a brute force over every
commit, each scenario's recourse solved alone by the deterministic planner with the executed
and committed moves as its history; the CLI's `--executed` with `-c` gives the same plan."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scenario_support import write_set
from test_stochastic import brute_case, run_cli

from optimiser.multiperiod import plan
from optimiser.multiperiod.check import check_plan
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios.model import ScenarioSet
from optimiser.stochastic import plan_under_uncertainty

TOL = 0.011  # every optimum is proved within 0.005 lives of its bound
LEAD = {"A": 1, "B": 2}
COLUMNS = ["kind", "day", "from", "to", "units", "arrives"]
# Day 0 already happened: one unit went to B.
EXECUTED = pd.DataFrame(
    [{"kind": "ship", "day": 0, "from": "D", "to": "B", "units": 1, "arrives": 2}],
    columns=COLUMNS,
)


def ships(cells: dict[tuple[str, int], int]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"kind": "ship", "day": d, "from": "D", "to": r, "units": u, "arrives": d + LEAD[r]}
            for (r, d), u in cells.items()
            if u
        ],
        columns=COLUMNS,
    )


def brute_force(
    inst: MultiPeriodInstance, scenarios: ScenarioSet, constraints: list[str]
) -> dict[tuple[int, int], np.ndarray]:
    """Every commit on day 1 (units to A and to B, at most the 2 units left at the depot):
    each scenario's lives when that commit and the executed day 0 are its history (nan where
    the constraints cannot hold)."""
    out = {}
    for a, b in itertools.product(range(3), repeat=2):
        if a + b > 2:
            continue
        history = pd.concat([EXECUTED, ships({("A", 1): a, ("B", 1): b})], ignore_index=True)
        lives = []
        for _, one in scenarios.instances(inst):
            result = plan(
                one,
                constraints,
                executed=history,
                today=2,
                price_of_fairness=False,
                tie_break=False,
            )
            lives.append(np.nan if result.lives_saved is None else result.lives_saved)
        out[a, b] = np.array(lives)
    return out


@pytest.mark.parametrize(
    "constraints", [["max_share_of_supply:share=0.5"], []], ids=["max_share_of_supply", "none"]
)
def test_rolling_commit_under_fairness_equals_brute_force(
    tmp_path: Path, constraints: list[str]
) -> None:
    inst, scenarios = brute_case(tmp_path)
    p = scenarios.probability.to_numpy()
    table = brute_force(inst, scenarios, constraints)
    feasible = {c: float(p @ lives) for c, lives in table.items() if not np.isnan(lives).any()}
    assert feasible, "the case must leave some commit that meets the constraint"
    result = plan_under_uncertainty(
        inst,
        scenarios,
        constraints,
        commit_days=1,
        executed=EXECUTED,
        today=1,
        price_of_fairness=False,
    )
    assert result.status == "optimal"
    assert result.expected_lives == pytest.approx(max(feasible.values()), abs=TOL)
    committed = result.committed
    assert set(committed["day"]) <= {1}  # the commit window is [today, today + 1)
    chosen = tuple(int(committed.loc[committed["to"] == r, "units"].sum()) for r in ("A", "B"))
    # the chosen commit is one the brute force finds feasible and optimal
    assert chosen in feasible
    assert feasible[chosen] == pytest.approx(max(feasible.values()), abs=TOL)
    # the executed move is part of the history handed on
    assert result.executed_rows()["day"].tolist()[0] == 0


def test_the_constraint_costs_lives_here(tmp_path: Path) -> None:
    """The case is one where max_share_of_supply binds (else the test above could not fail on
    a planner that ignored the constraint with executed moves)."""
    inst, scenarios = brute_case(tmp_path)
    p = scenarios.probability.to_numpy()
    free = brute_force(inst, scenarios, [])
    ruled = brute_force(inst, scenarios, ["max_share_of_supply:share=0.5"])
    best_free = max(float(p @ v) for v in free.values())
    best_ruled = max(float(p @ v) for v in ruled.values() if not np.isnan(v).any())
    assert best_ruled < best_free - 0.05
    # the unconstrained optimum's commits all break the rule in some scenario
    top = [c for c, v in free.items() if float(p @ v) > best_free - TOL]
    assert all(np.isnan(ruled[c]).any() or float(p @ ruled[c]) < best_free - 0.05 for c in top)


def test_cli_executed_with_a_constraint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst, scenarios = brute_case(tmp_path)
    sets = write_set(tmp_path / "sets", inst, scenarios.array(inst.regions), [0.5, 0.3, 0.2])
    executed = tmp_path / "executed.csv"
    EXECUTED.to_csv(executed, index=False)
    api = plan_under_uncertainty(
        inst,
        scenarios,
        ["max_share_of_supply:share=0.5"],
        commit_days=1,
        executed=EXECUTED,
        today=1,
        price_of_fairness=False,
    )
    code, stdout, _ = run_cli(
        [
            "plan",
            str(tmp_path / "brute"),
            "--scenarios",
            str(sets),
            "--commit-days",
            "1",
            "--executed",
            str(executed),
            "--today",
            "1",
            "-c",
            "max_share_of_supply:share=0.5",
            "--no-price",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    payload = json.loads(stdout)
    assert payload["status"] == "optimal"
    assert payload["expected_lives"] == pytest.approx(api.expected_lives, abs=1e-9)


@pytest.mark.parametrize("rule", ["threshold:tau=0", "max_share_of_supply:share=0.5"])
def test_rolling_replans_measure_the_rule_check_plan_does(tmp_path: Path, rule: str) -> None:
    """A re-plan from today measures each region's units by its last useful day over the whole
    horizon, as check-plan does when it replays the manifest (executed moves included): so
    every re-plan the planner calls optimal passes check-plan. Before, a region that no new
    unit could reach in time any more was left out of the rule, and a history that broke the
    threshold (one unit to B, which may receive none) was re-planned as 'optimal'."""
    inst, scenarios = brute_case(tmp_path)
    verdicts = []
    for a, b in itertools.product(range(3), repeat=2):
        if a + b > 2:
            continue
        history = pd.concat([EXECUTED, ships({("A", 1): a, ("B", 1): b})], ignore_index=True)
        for _, one in scenarios.instances(inst):
            result = plan(one, [rule], executed=history, today=2, price_of_fairness=False)
            if result.status == "optimal":
                checked = check_plan(one, result.plan, [rule])
                assert checked.ok, (a, b, checked.violations)
            verdicts.append(result.status)
            if result.status == "infeasible" and rule.startswith("threshold"):
                assert "executed moves" in (result.explanation or "")
                assert re.search(r"\bB \+[123]\b", result.explanation or "")
    if rule.startswith("threshold"):
        # B has no excess demand per capita: the executed unit to B breaks the rule for good
        assert set(verdicts) == {"infeasible"}
    else:
        assert "optimal" in verdicts
