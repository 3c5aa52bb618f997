"""One engine protocol for the price of fairness (optimiser/engine_protocol.py): every engine,
the regional engine, the planner, the stochastic planner and the bedside engine (its program
for one decision, its online rule over a horizon), is priced by the same code,
`component_optima`. Each engine's public price table is checked against an independent answer
(a hand-solved case, the Pyomo reference model, a brute force over the first-stage decisions),
and shown to come from the protocol: an engine whose `known_to_meet` answers True is priced at
L* without a solve, a shortcut only the protocol takes."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from bedside_cases import case
from test_bedside_price import ValueEngine, _seed_where_b_wins_the_lottery
from test_multiperiod_model import pyomo_objective, threshold_case
from test_stochastic import brute_case, enumerate_commits

import optimiser
from optimiser.bedside import allocate, load_inputs
from optimiser.bedside.price import HorizonRules, SnapshotEngine
from optimiser.engine_protocol import ComponentOptima, component_optima, join_notes
from optimiser.errors import InputError
from optimiser.multiperiod import load_multiperiod, plan
from optimiser.multiperiod.engine import PlanEngine
from optimiser.regional_engine import RegionalEngine
from optimiser.stochastic import plan_under_uncertainty
from optimiser.stochastic.engine import StochasticEngine

ROOT = Path(__file__).resolve().parents[1]
TOL = 0.011  # the regional engine and the planners prove each optimum to 0.005 lives


@dataclass
class Case:
    """An engine's public price of fairness, as {component: (lost_alone, lost_marginal)}."""

    engine: type
    prices: Callable[[], dict[str, tuple[float | None, float | None]]]
    tol: float = TOL


def _table(frame: pd.DataFrame, label: str) -> dict[str, tuple[float | None, float | None]]:
    lost = "lost_alone" if "lost_alone" in frame else "lives_lost_alone"
    marginal = "lost_marginal" if "lost_marginal" in frame else "lives_lost_marginal"
    return {str(r[label]): (r[lost], r[marginal]) for _, r in frame.iterrows()}


# The regional engine (tests/test_price_of_fairness.py works it out): three regions, supply 20.
# coverage_floor(level=0.5) alone: 13.4 (L* 14: lost 0.6); min_units(units=3) alone: 13.1
# (lost 0.9); both: 13.1, so coverage costs 0 at the margin and min_units 13.4 - 13.1 = 0.3.
REGIONAL_ROWS = [
    {"region": "A", "population": 1000, "capacity": 0, "peak_demand": 10, "survival_with": 0.9},
    {"region": "B", "population": 3000, "capacity": 5, "peak_demand": 20, "survival_with": 0.5},
    {"region": "C", "population": 6000, "capacity": 2, "peak_demand": 8, "survival_with": 0.2},
]
REGIONAL_EXPECTED = {
    "coverage_floor(level=0.5)": (0.6, 0.0),
    "min_units(units=3)": (0.9, 0.3),
}


def regional_case(make_instance: Any, tmp_path: Path) -> Case:
    def prices() -> dict[str, tuple[float | None, float | None]]:
        result = optimiser.solve(
            make_instance(REGIONAL_ROWS, 20),
            constraints=["coverage_floor:level=0.5", "min_units:units=3"],
        )
        return _table(result.price_of_fairness, "constraint")

    return Case(RegionalEngine, prices)


# The planner: tests/test_multiperiod_model.py's threshold case (4 units, 4 patients in A
# worth 0.8 each and 4 in B worth 0.4). Unconstrained: all 4 to A, 3.2. threshold(tau=0): 2
# and 2, 2.4. min_units(units=1): B at least 1, 2.4 + 0.4 = 2.8. Both: 2 and 2, 2.4.
PLANNER_SPECS = ("threshold:tau=0", "min_units:units=1")
PLANNER_EXPECTED = {
    "threshold(tau=0, index=rai)": (0.8, 0.4),
    "min_units(units=1)": (0.4, 0.0),
}


def planner_case(make_instance: Any, tmp_path: Path) -> Case:
    folder = threshold_case(tmp_path)

    def prices() -> dict[str, tuple[float | None, float | None]]:
        result = plan(load_multiperiod(folder), list(PLANNER_SPECS), method="exact", mip_gap=0.0)
        return _table(result.price_of_fairness, "constraint")

    return Case(PlanEngine, prices)


def test_the_planner_case_by_hand_is_the_pyomo_models(tmp_path: Path) -> None:
    """The planner's expected prices, from the Pyomo reference model (an independent
    formulation, tests/pyomo_multiperiod.py) solved on every set of constraints."""
    folder = threshold_case(tmp_path)
    value = {
        frozenset(s): pyomo_objective(folder, s)
        for k in range(3)
        for s in itertools.combinations(PLANNER_SPECS, k)
    }
    full = frozenset(PLANNER_SPECS)
    for spec, label in zip(PLANNER_SPECS, PLANNER_EXPECTED, strict=True):
        alone = value[frozenset()] - value[frozenset([spec])]
        marginal = value[full - {spec}] - value[full]
        assert (alone, marginal) == pytest.approx(PLANNER_EXPECTED[label], abs=1e-6)


# The stochastic planner: tests/test_stochastic.py's brute force over the first-stage shipments
# (each scenario's recourse solved alone), for every set of constraints.
STOCHASTIC_SPECS = ("threshold:tau=0", "max_share_of_supply:share=0.5")


def stochastic_case(make_instance: Any, tmp_path: Path) -> Case:
    def prices() -> dict[str, tuple[float | None, float | None]]:
        inst, scenarios = brute_case(tmp_path)
        result = plan_under_uncertainty(inst, scenarios, list(STOCHASTIC_SPECS), commit_days=1)
        return _table(result.price_of_fairness, "constraint")

    return Case(StochasticEngine, prices, tol=2 * TOL)


def stochastic_expected(tmp_path: Path) -> dict[str, tuple[float | None, float | None]]:
    inst, scenarios = brute_case(tmp_path)
    p = scenarios.probability.to_numpy()

    def best(specs: list[str]) -> float:
        table = enumerate_commits(inst, scenarios, 1, specs)
        return max(float(p @ lives) for _, lives in table if not np.isnan(lives).any())

    value = {
        frozenset(c): best(list(c))
        for k in range(3)
        for c in itertools.combinations(STOCHASTIC_SPECS, k)
    }
    full = frozenset(STOCHASTIC_SPECS)
    labels = [optimiser.parse_constraint(spec).label for spec in STOCHASTIC_SPECS]
    return {
        label: (value[frozenset()] - value[frozenset([spec])], value[full - {spec}] - value[full])
        for spec, label in zip(STOCHASTIC_SPECS, labels, strict=True)
    }


# The bedside engine, one decision (tests/test_bedside_price.py solves it by hand): one unit; A
# gain 0.8, first by the score; B gain 0.5, first in the lottery. The score costs 0 alone and
# -0.3 at the margin (a proven gain: without it the lottery alone orders them); the lottery
# costs 0.3 alone and 0 at the margin.
BEDSIDE_EXPECTED = {"priority:rapr": (0.0, -0.3), "tie_break:lottery": (0.3, 0.0)}


def bedside_case(make_instance: Any, tmp_path: Path) -> Case:
    rows = [
        {"patient": "A", "survival_with": 0.8, "expected_days": 5},
        {"patient": "B", "survival_with": 0.5, "expected_days": 5},
    ]
    inputs = case(rows, 1, method="optimal", tie_break={"seed": _seed_where_b_wins_the_lottery()})

    def prices() -> dict[str, tuple[float | None, float | None]]:
        result = allocate(inputs, protocols=False)
        assert result.mode == "snapshot"
        return _table(result.price_of_fairness, "component")

    return Case(SnapshotEngine, prices, tol=1e-12)


def horizon_case(make_instance: Any, tmp_path: Path) -> Case:
    inputs = load_inputs(ROOT / "instances" / "bedside-synthetic")

    def prices() -> dict[str, tuple[float | None, float | None]]:
        result = allocate(inputs, protocols=False)
        assert result.mode == "horizon"
        return _table(result.price_of_fairness, "component")

    return Case(HorizonRules, prices, tol=1e-12)


CASES = {
    "regional": regional_case,
    "planner": planner_case,
    "stochastic": stochastic_case,
    "bedside": bedside_case,
    "bedside-horizon": horizon_case,
}


def expected(name: str, tmp_path: Path) -> dict[str, tuple[float | None, float | None]]:
    if name == "regional":
        return REGIONAL_EXPECTED
    if name == "planner":
        return PLANNER_EXPECTED
    if name == "stochastic":
        return stochastic_expected(tmp_path / "brute")
    return BEDSIDE_EXPECTED


@pytest.mark.parametrize("name", [n for n in CASES if n != "bedside-horizon"])
def test_every_engine_prices_fairness_as_solved_independently(
    name: str, make_instance: Any, tmp_path: Path
) -> None:
    got = CASES[name](make_instance, tmp_path).prices()
    want = expected(name, tmp_path)
    tol = CASES[name](make_instance, tmp_path).tol
    assert set(got) == set(want)
    for label, (alone, marginal) in want.items():
        assert got[label][0] == pytest.approx(alone, abs=tol), label
        assert got[label][1] == pytest.approx(marginal, abs=tol), label


@pytest.mark.parametrize("name", list(CASES))
def test_every_engine_is_priced_by_the_protocol(
    name: str, make_instance: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The protocol asks each engine whether L* already meets a component and, when it does,
    prices it alone at L* without a solve: 0 lost. An engine whose table is made elsewhere
    would still show what the component costs alone."""
    the_case = CASES[name](make_instance, tmp_path)
    before = the_case.prices()
    assert any(alone is not None and abs(alone) > 0.1 for alone, _ in before.values())
    asked: list[Any] = []

    def known_to_meet(self: Any, component: Any, solution: Any) -> bool:
        asked.append(getattr(component, "label", component))
        return True

    monkeypatch.setattr(the_case.engine, "known_to_meet", known_to_meet)
    after = the_case.prices()
    assert sorted(asked) == sorted(before)
    for label, (alone, marginal) in after.items():
        assert alone == pytest.approx(0.0, abs=1e-12), label
        assert marginal == pytest.approx(before[label][1], abs=the_case.tol), label


def test_component_optima_by_hand() -> None:
    """lost_alone = V({}) - V({f}), lost_marginal = V(all - {f}) - V(all); a missing figure
    leaves its price missing; all of them solved once first, then each alone and without."""
    value: dict[frozenset[str], float | None] = {
        frozenset(): 10.0,
        frozenset("a"): 9.0,
        frozenset("b"): 7.5,
        frozenset("ab"): 7.0,
    }
    engine = ValueEngine(value)
    star = engine.solve([])
    optima = component_optima(engine, ["a", "b"], star)
    assert [o.component for o in optima] == ["a", "b"]
    assert [(o.lost_alone, o.lost_marginal) for o in optima] == [(1.0, 0.5), (2.5, 2.0)]
    assert engine.solved == [frozenset(), frozenset("ab"), *map(frozenset, ["a", "b", "b", "a"])]
    value[frozenset("b")] = None
    (a, b) = component_optima(ValueEngine(value), ["a", "b"], star)
    assert a.lost_marginal is None and a.lost_alone == 1.0
    assert b.lost_alone is None and b.lost_marginal == 2.0
    assert isinstance(a, ComponentOptima)


def test_notes_are_joined_in_one_place() -> None:
    assert join_notes("alone: time_limit", "", "objective weights") == (
        "alone: time_limit; objective weights"
    )
    assert join_notes("", "") == ""


@pytest.mark.parametrize("bad", ["5", True, 0, -1.0, float("inf"), float("nan")])
def test_the_bedside_time_limit_is_checked_by_the_protocol(bad: Any) -> None:
    """One check for every engine: a time limit given as text was a TypeError in bedside."""
    inputs = case([{"patient": "A", "survival_with": 0.8}], 1)
    with pytest.raises(InputError, match="option 'time_limit': must be a number of seconds > 0"):
        allocate(inputs, price=False, protocols=False, time_limit=bad)
