"""`--compare` under a budget scores by priority (the stochastic plan, the mean-forecast plan and
hindsight first, then the other baselines as the budget remains), and a baseline's commit that
a donor could not make in some scenario is made executable in every scenario before it is
scored (optimiser/stochastic/executable.py).

The budgets here are counted in plans made (a Deadline on a clock that moves one second per
plan), so what gets scored does not depend on the machine's load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_multiperiod_support import write_instance
from test_stochastic import hedge_case

import optimiser.stochastic.compare as compare_module
from optimiser.cli import main
from optimiser.deadline import Deadline
from optimiser.errors import InputError
from optimiser.multiperiod import load_multiperiod, plan
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios import make_scenario_set
from optimiser.scenarios.evaluate import evaluate
from optimiser.scenarios.model import ScenarioSet
from optimiser.stochastic import plan_under_uncertainty
from optimiser.stochastic.compare import Comparison, compare
from optimiser.stochastic.executable import executable_in_every, not_executable


class PlanClock:
    """A clock that moves one second each time compare() makes a plan."""

    def __init__(self) -> None:
        self.now = 0.0
        self.made: list[str] = []

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def plan_clock(monkeypatch: pytest.MonkeyPatch) -> PlanClock:
    clock = PlanClock()
    real_plan = compare_module.plan

    def counted(*args: Any, **kwargs: Any) -> Any:
        out = real_plan(*args, **kwargs)
        clock.now += 1.0
        clock.made.append("recourse" if kwargs.get("today") else "plan")
        return out

    monkeypatch.setattr(compare_module, "plan", counted)
    return clock


def budget_of(plans: float, clock: PlanClock) -> Deadline:
    return Deadline(plans, start=0.0, clock=clock)


def test_a_budget_for_seven_plans_scores_stochastic_mean_and_hindsight(
    tmp_path: Path, plan_clock: PlanClock
) -> None:
    """2 scenarios: the stochastic commit's 2 re-plans, the mean plan and its 2 re-plans,
    hindsight's 2 plans = 7 plans; the 0.25 s left cannot start the buffer plan."""
    inst, scenarios = hedge_case(tmp_path)
    result = plan_under_uncertainty(inst, scenarios, commit_days=1)
    comparison = compare(inst, scenarios, commit_days=1, stochastic=result,
                         deadline=budget_of(7.25, plan_clock))
    assert plan_clock.made == ["recourse"] * 2 + ["plan"] + ["recourse"] * 2 + ["plan"] * 2
    assert list(comparison.table.index) == ["stochastic", "mean", "hindsight"]
    survivors = comparison.table["expected_survivors"]
    assert survivors.tolist() == pytest.approx([1.0, 0.9, 1.4], abs=1e-6)  # by hand
    assert comparison.vss == pytest.approx(0.1, abs=1e-6)
    assert comparison.evpi == pytest.approx(0.4, abs=1e-6)
    assert comparison.status == "time_limit"
    assert set(comparison.not_scored) == {"buffer", "worst_case"}
    for why in comparison.not_scored.values():
        assert why.startswith("not started: its 3 plans would take about 3.0 s")
    again = Comparison.from_dict(json.loads(comparison.to_json()))
    assert again.not_scored == comparison.not_scored
    pd.testing.assert_frame_equal(again.table, comparison.table, check_dtype=False)


def test_a_budget_for_five_plans_scores_stochastic_and_mean_never_part_of_hindsight(
    tmp_path: Path, plan_clock: PlanClock
) -> None:
    inst, scenarios = hedge_case(tmp_path)
    result = plan_under_uncertainty(inst, scenarios, commit_days=1)
    comparison = compare(inst, scenarios, commit_days=1, stochastic=result,
                         deadline=budget_of(5.25, plan_clock))
    assert len(plan_clock.made) == 5
    assert list(comparison.table.index) == ["stochastic", "mean"]
    assert comparison.vss == pytest.approx(0.1, abs=1e-6) and comparison.evpi is None
    assert comparison.not_scored["hindsight"] == (
        "not started: its 2 plans would take about 2.0 s at the pace of the plans so far "
        "(1.00 s); 0.2 s were left")
    assert set(comparison.not_scored) == {"hindsight", "buffer", "worst_case"}


def test_the_priority_tier_shares_the_budget_the_rest_come_in_order(
    tmp_path: Path, plan_clock: PlanClock
) -> None:
    """With room for everything: 13 plans, the priority candidates' first, then buffer's,
    then worst_case's. Before any plan was measured the first plan shares the budget with its
    own candidate's only; once a plan took 1 s, every candidate fits and they all share."""
    inst, scenarios = hedge_case(tmp_path)
    result = plan_under_uncertainty(inst, scenarios, commit_days=1)
    limits: list[float] = []
    counted = compare_module.plan

    def recorded(*args: Any, **kwargs: Any) -> Any:
        limits.append(kwargs["time_limit"])
        return counted(*args, **kwargs)

    compare_module.plan = recorded  # restored by the fixture's monkeypatch
    comparison = compare(inst, scenarios, commit_days=1, stochastic=result,
                         deadline=budget_of(100.0, plan_clock))
    assert len(plan_clock.made) == 13
    assert comparison.status == "complete" and not comparison.not_scored
    assert list(comparison.table.index) == ["stochastic", "mean", "buffer", "worst_case",
                                            "hindsight"]
    assert comparison.info["order"] == ["stochastic", "mean", "hindsight", "buffer",
                                        "worst_case"]
    # 100 s less one score's reserve (2 scenarios x 0.1 s), over the stochastic's 2 plans
    assert limits[0] == pytest.approx((100.0 - 0.2) / 2, rel=1e-9)
    # then 99 s less the 5 scores' reserve (5 x 0.2 s) over the 12 plans left
    assert limits[1] == pytest.approx((99.0 - 1.0) / 12, rel=1e-9)


def donor_case(tmp_path: Path) -> tuple[MultiPeriodInstance, ScenarioSet]:
    """2 regions x 4 days (census), A has 2 units, B none; transfers A -> B take a day, no
    donor share kept. s1 (p 1/2): A has nobody, B 2 patients from day 1; s2: A 2 patients
    from day 0 (they hold both its units), B nobody. The mean forecast (A 1, B 1 from day
    1) sends one unit A -> B on day 0: in s2 A's patients are on it, so that commit cannot be
    executed there. Made executable in both scenarios it sends nothing on day 0."""
    folder = write_instance(
        tmp_path / "donor",
        [{"region": "A", "capacity": 2, "los_days": 3},
         {"region": "B", "capacity": 0, "los_days": 3}],
        {"A": [1, 1, 1, 1], "B": [0, 1, 1, 1]},
        kind="census",
        leads=[("A", "B", 1), ("B", "A", 1)],
        multiperiod={"transfers": True, "donor_keep_share": 0.0},
    )
    inst = load_multiperiod(folder)
    cube = np.array([[[0, 0, 0, 0], [0, 2, 2, 2]], [[2, 2, 2, 2], [0, 0, 0, 0]]], dtype=float)
    return inst, make_scenario_set(inst, cube, ["s1", "s2"], [0.5, 0.5], sampled=False)


def test_the_mean_plans_commit_is_not_executable_in_every_scenario(tmp_path: Path) -> None:
    """The reproduction: the mean plan's day-0 transfer, fixed in s2, is refused by the
    planner (before the fix the mean plan was left out of the comparison)."""
    from optimiser.stochastic.compare import commit_of, forecast_tables, with_demand

    inst, scenarios = donor_case(tmp_path)
    mean = plan(with_demand(inst, forecast_tables(scenarios, 0.1)["mean"]),
                price_of_fairness=False)
    made = commit_of(mean, 0, 1)
    assert made[["kind", "day", "from", "to", "units"]].values.tolist() == [
        ["transfer", 0, "A", "B", 1.0]]
    s2 = scenarios.instance_for(inst, "s2")
    with pytest.raises(InputError, match="region A would hold 1 unit on day 0"):
        plan(s2, executed=made, today=1, price_of_fairness=False)
    why = not_executable(s2, made, 1)
    assert why is not None and "region A" in str(why)
    assert not_executable(scenarios.instance_for(inst, "s1"), made, 1) is None
    fixed, cut = executable_in_every(inst, scenarios, made, 1)
    assert cut == 1 and fixed.empty


def test_a_baseline_commit_is_made_executable_in_every_scenario_then_scored(
    tmp_path: Path,
) -> None:
    """The mean plan is scored with its commit cut to what every scenario's donors can send
    (nothing on day 0): its score is the recourse of that commit replayed by the simulator,
    computed here directly; in sample the stochastic plan is at least as good (VSS >= 0)."""
    inst, scenarios = donor_case(tmp_path)
    result = plan_under_uncertainty(inst, scenarios, commit_days=1, price_of_fairness=False)
    comparison = compare(inst, scenarios, commit_days=1, stochastic=result)
    assert comparison.status == "complete" and not comparison.not_scored
    assert comparison.info["units_cut_to_plan"] == {"mean": 1}
    assert comparison.committed["mean"].empty
    assert comparison.table["commit_units_cut"].tolist() == [0.0] * 5  # in sample: none
    plans = {sid: plan(one, executed=comparison.committed["mean"], today=1,
                       price_of_fairness=False)
             for sid, one in scenarios.instances(inst)}
    direct = evaluate(inst, plans, scenarios).metrics["expected_survivors"].value
    assert comparison.table.loc["mean", "expected_survivors"] == pytest.approx(direct, abs=1e-9)
    assert comparison.vss is not None and comparison.vss >= -1e-6
    assert comparison.evpi is not None and comparison.evpi >= -1e-6


def test_out_of_sample_a_commit_the_donor_cannot_make_is_cut_there_and_counted(
    tmp_path: Path,
) -> None:
    """Planned on s1 alone, the stochastic plan sends A's two units to B on day 0; scored on
    s1 and s2, the donor cannot send them in s2 (its patients are on them): they are cut
    there (two units in a scenario of probability 1/2), for every candidate alike."""
    inst, both = donor_case(tmp_path)
    s1 = both.subset(["s1"])
    result = plan_under_uncertainty(inst, s1, commit_days=1, price_of_fairness=False)
    assert result.committed[["kind", "from", "to", "units"]].values.tolist() == [
        ["transfer", "A", "B", 2.0]]
    comparison = compare(inst, s1, commit_days=1, stochastic=result, evaluation=both)
    assert not comparison.not_scored
    cut = comparison.table["commit_units_cut"]
    assert cut["stochastic"] == pytest.approx(1.0) and cut["hindsight"] == 0.0
    assert comparison.info["cut_scenarios"]["stochastic"] == ["s2"]
    moved = comparison.committed["stochastic"]
    plans = {
        "s1": plan(both.instance_for(inst, "s1"), executed=moved, today=1,
                   price_of_fairness=False),
        "s2": plan(both.instance_for(inst, "s2"), today=1, executed=moved.iloc[0:0],
                   price_of_fairness=False),
    }
    direct = evaluate(inst, plans, both).metrics["expected_survivors"].value
    assert comparison.table.loc["stochastic", "expected_survivors"] == pytest.approx(
        direct, abs=1e-9)


def test_a_commit_cutting_transfers_cannot_mend_is_refused_naming_scenario_and_rule(
    tmp_path: Path,
) -> None:
    inst, scenarios = donor_case(tmp_path)
    impossible = pd.DataFrame(
        [["transfer", 0, "B", "A", 1.0, 1]],
        columns=["kind", "day", "from", "to", "units", "arrives"],
    )
    fixed, cut = executable_in_every(inst, scenarios, impossible, 1)  # B has no unit to send
    assert cut == 1 and fixed.empty
    hedge, two = hedge_case(tmp_path)  # its depot D has 2 units
    shipped = pd.DataFrame(
        [["ship", 0, "D", "A", 5.0, 1]],
        columns=["kind", "day", "from", "to", "units", "arrives"],
    )
    with pytest.raises(InputError) as refused:
        executable_in_every(hedge, two, shipped, 1, "mean plan's commit")
    text = str(refused.value)
    assert "the mean plan's commit cannot be executed in scenario s1" in text


def test_cli_compare_scores_the_mean_plan_whose_commit_was_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scenario_support import write_set

    inst, scenarios = donor_case(tmp_path)
    folder = write_set(tmp_path / "sc", inst, scenarios.array(), [0.5, 0.5], ["s1", "s2"])
    with pytest.raises(SystemExit) as ended:
        main(["plan", str(tmp_path / "donor"), "--scenarios", str(folder), "--commit-days",
              "1", "--compare", "--no-price", "--json"])
    assert ended.value.code in (0, None)
    answer = json.loads(capsys.readouterr().out)["comparison"]
    assert answer["status"] == "complete" and answer["not_scored"] == {}
    assert answer["info"]["units_cut_to_plan"] == {"mean": 1}
    assert {c["candidate"] for c in answer["candidates"]} == {
        "stochastic", "mean", "buffer", "worst_case", "hindsight"}


def test_with_a_risk_measure_the_plan_made_is_scored_as_it_is_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plan_and_compare (the CLI's and the service's path) with a risk measure: the
    risk-averse plan is the answer, scored first and not made again; the risk-neutral one is
    made once, for VSS and EVPI."""
    import optimiser.stochastic.plan_compare as shared

    inst, scenarios = hedge_case(tmp_path)
    made: list[Any] = []
    real = compare_module.plan_under_uncertainty

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(kwargs.get("risk"))
        return real(*args, **kwargs)

    monkeypatch.setattr(compare_module, "plan_under_uncertainty", counted)
    result, comparison = shared.plan_and_compare(
        inst, scenarios, commit_days=1, risk="worst:alpha=0.5", price_of_fairness=False)
    assert made == [None]  # only the risk-neutral plan, inside compare()
    assert comparison is not None and comparison.info["order"][:2] == [
        "risk_averse", "stochastic"]
    pd.testing.assert_frame_equal(comparison.committed["risk_averse"], result.committed)
    assert comparison.vss == pytest.approx(0.1, abs=1e-6)
    assert set(comparison.table.index) == {"stochastic", "risk_averse", "mean", "buffer",
                                           "worst_case", "hindsight"}
