"""max_share_of_supply(share): the kind added end to end by issue 11 (models/fairness/
max_share_of_supply.py and its checker optimiser/multiperiod/checks/max_share_of_supply.py):
hand-solved in both engines, the same model as the Pyomo oracles, checked by check-plan, and
working through the CLI, the sweeps (fast path against rebuilding) and the frontier.
"""

from __future__ import annotations

import itertools
import json
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_multiperiod_cli import triage
from test_multiperiod_support import close, write_instance
from test_regional_model import assert_same_model

import optimiser
from optimiser.multiperiod import check_plan, load_multiperiod, plan
from optimiser.solver import SolveStatus
from optimiser.sweeps import sweep
from optimiser.sweeps.analysis import frontier

ROOT = Path(__file__).resolve().parents[1]


def three_regions(supply: int = 10) -> optimiser.Instance:
    """A, B, C with 10 excess patients each, gains 0.8, 0.4 and 0.2, one course per unit."""
    regions = pd.DataFrame(
        {
            "region": ["A", "B", "C"],
            "population": [100_000, 100_000, 100_000],
            "capacity": [0, 0, 0],
            "peak_demand": [10, 10, 10],
            "survival_with": [0.9, 0.5, 0.3],
            "survival_without": [0.1, 0.1, 0.1],
            "los_days": [10, 10, 10],
        }
    )
    return optimiser.instance_from_frames(regions, supply, horizon_days=10)


def test_single_period_by_hand() -> None:
    """Unconstrained: all 10 units to A (8 lives). A share of 0.3 caps each region at 3:
    3 x (0.8 + 0.4 + 0.2) = 4.2 lives, one unit left in the reserve; the price is 3.8."""
    inst = three_regions()
    free = optimiser.solve(inst)
    assert free.lives_saved == pytest.approx(8.0)
    capped = optimiser.solve(inst, ["max_share_of_supply:share=0.3"])
    assert capped.status == SolveStatus.OPTIMAL
    assert capped.regions["units"].tolist() == [3, 3, 3] and capped.unallocated == 1
    assert capped.lives_saved == pytest.approx(4.2)
    price = capped.price_of_fairness.iloc[0]
    assert price["lives_lost_alone"] == pytest.approx(3.8) and bool(price["exact"])
    # half the supply: 5 to A, 5 to B
    half = optimiser.solve(inst, ["max_share_of_supply:share=0.5"])
    assert half.regions["units"].tolist() == [5, 5, 0]
    # a floor above the cap is infeasible, and explained
    fits = optimiser.solve(inst, ["max_share_of_supply:share=0.2", "min_units:units=2"])
    assert fits.status == SolveStatus.OPTIMAL and fits.regions["units"].tolist() == [2, 2, 2]
    clash = optimiser.solve(inst, ["max_share_of_supply:share=0.2", "min_units:units=3"])
    assert clash.status == SolveStatus.INFEASIBLE
    assert clash.explanation == (  # the regions and numbers that conflict (leftovers3)
        "infeasible: min_units(units=3) needs at least 3 units in A, 3 in B and 3 in C, but "
        "max_share_of_supply(share=0.2) allows a region at most 2 units (0.2 of the supply of 10)"
    )


def brute_force(gains: list[float], excess: list[int], supply: int, share: float) -> float:
    """max sum g_r x_r over every whole x with x_r <= min(E_r, floor(share S)), sum x <= S."""
    cap = int(np.floor(share * supply + 1e-9))
    best = 0.0
    ranges = [range(min(e, cap) + 1) for e in excess]
    for x in itertools.product(*ranges):
        if sum(x) <= supply:
            best = max(best, sum(g * u for g, u in zip(gains, x, strict=True)))
    return best


@pytest.mark.parametrize("supply", [4, 7, 10, 13])
@pytest.mark.parametrize("share", [0.1, 0.25, 0.3, 0.5, 0.75, 1.0])
def test_single_period_against_brute_force(supply: int, share: float) -> None:
    """Four regions with different excess demands and gains: the optimum under the cap is the
    brute force's, for shares that cut no, one or every region."""
    regions = pd.DataFrame(
        {
            "region": ["A", "B", "C", "D"],
            "population": [100_000] * 4,
            "capacity": [0, 1, 0, 2],
            "peak_demand": [6, 5, 9, 4],
            "survival_with": [0.9, 0.7, 0.5, 0.35],
            "survival_without": [0.1, 0.2, 0.1, 0.05],
            "los_days": [10, 10, 10, 10],
        }
    )
    inst = optimiser.instance_from_frames(regions, supply, horizon_days=10)
    result = optimiser.solve(inst, [f"max_share_of_supply:share={share}"])
    assert result.status == SolveStatus.OPTIMAL
    expected = brute_force([0.8, 0.5, 0.4, 0.3], [6, 4, 9, 2], supply, share)
    assert result.lives_saved == pytest.approx(expected, abs=1e-9)
    assert result.regions["units"].max() <= np.floor(share * supply + 1e-9)


def test_a_kind_module_that_registers_nothing_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registries refuse a module of a kind that registers no kind (or no checker) of its
    own name: a half-added kind is an error on import, never a constraint silently dropped."""
    import models.fairness as kinds
    import optimiser.multiperiod.checks as checks

    monkeypatch.setitem(sys.modules, "models.fairness.max_share_of_everything", types.ModuleType(
        "models.fairness.max_share_of_everything"))
    monkeypatch.setattr(kinds, "kind_modules", lambda: ["max_share_of_everything"])
    with pytest.raises(kinds.RegistrationError, match="registers no fairness kind"):
        kinds.load_kinds()
    monkeypatch.setitem(sys.modules, "optimiser.multiperiod.checks.max_share_of_everything",
                        types.ModuleType("optimiser.multiperiod.checks.max_share_of_everything"))
    monkeypatch.setattr(checks, "checker_modules", lambda: ["max_share_of_everything"])
    with pytest.raises(checks.CheckerError, match="registers no checker"):
        checks.load_checkers()
    with pytest.raises(checks.CheckerError, match="two checkers"):
        checks.checker("max_share_of_supply")(lambda instance, sim, spec: [])
    with pytest.raises(optimiser.InputError, match="unknown constraint kind 'max_share'"):
        optimiser.solve(three_regions(), ["max_share:share=0.3"])


def test_the_regional_model_is_the_pyomo_oracles() -> None:
    for name in ("pugh2021", "us-states-2020"):
        instance = optimiser.load_instance(ROOT / "instances" / name)
        assert_same_model(instance, ["max_share_of_supply:share=0.1"])
        assert_same_model(
            instance, ["max_share_of_supply:share=0.05", "per_capita_floor:share=0.3"]
        )
    assert_same_model(three_regions(), ["max_share_of_supply:share=0.3"])


def share_case(tmp_path: Path) -> Path:
    """A and B: no units, 4 patients each on day 1 who stay beyond the 3-day horizon; a
    patient saved is worth 0.8 in A and 0.4 in B; the depot receives 4 units on day 0."""
    return write_instance(
        tmp_path / "share",
        [
            {"region": "A", "capacity": 0, "peak_demand": 4, "los_days": 5, "survival_with": 0.8},
            {"region": "B", "capacity": 0, "peak_demand": 4, "los_days": 5, "survival_with": 0.4},
        ],
        {"A": [0, 4, 0], "B": [0, 4, 0]},
        deliveries=[(0, 4, "D")],
        leads=[("D", "A", 1), ("D", "B", 1)],
        multiperiod={"transfers": False},
    )


@pytest.mark.parametrize("method", ["auto", "exact", "rounding"])
def test_over_the_horizon_by_hand(tmp_path: Path, method: str) -> None:
    """Unconstrained: 4 units to A (3.2 lives). A share of 0.5 of the 4 delivered caps each
    region at 2 units received net: 2 x 0.8 + 2 x 0.4 = 2.4; the replay agrees."""
    from test_multiperiod_model import exact_lives, pyomo_objective

    folder = share_case(tmp_path)
    assert close(exact_lives(folder), 3.2)
    assert close(exact_lives(folder, ("max_share_of_supply:share=0.5",)), 2.4)
    assert close(pyomo_objective(folder, ("max_share_of_supply:share=0.5",)), 2.4)
    # 0.3 of 4 is 1.2: one unit each (0.8 + 0.4)
    assert close(exact_lives(folder, ("max_share_of_supply:share=0.3",)), 1.2)
    assert close(pyomo_objective(folder, ("max_share_of_supply:share=0.3",)), 1.2)
    inst = load_multiperiod(folder)
    result = plan(inst, ["max_share_of_supply:share=0.5"], method=method)
    assert result.status == SolveStatus.OPTIMAL and close(result.lives_saved, 2.4)
    assert result.regions["net_received"].tolist() == [2.0, 2.0]
    price = result.price_of_fairness.set_index("constraint").iloc[0]
    assert close(price["lives_lost_alone"], 0.8)
    check = check_plan(inst, result)
    assert check.ok and close(check.survivors, 2.4)


def test_check_plan_names_the_region_over_its_share(tmp_path: Path) -> None:
    folder = share_case(tmp_path)
    inst = load_multiperiod(folder)
    path = tmp_path / "all-to-a.csv"
    path.write_text("kind,day,from,to,units,arrives,cohort_day\nship,0,D,A,4,1,\n")
    check = check_plan(inst, path, ["max_share_of_supply:share=0.5"])
    assert not check.ok
    [broken] = [v for v in check.violations if v["rule"] == "fairness"]
    assert "A receives 4 units net" in broken["message"] and "(2)" in broken["message"]
    assert check_plan(inst, path, ["max_share_of_supply:share=1"]).ok


@pytest.mark.parametrize("seed", [3, 4])
def test_random_plans_keep_the_share_and_replay_exactly(tmp_path: Path, seed: int) -> None:
    from optimiser.multiperiod import GeneratorSpec, generate

    spec = GeneratorSpec(regions=7, days=14, depots=2, neighbours=3, seed=seed)
    inst = load_multiperiod(generate(spec, tmp_path / "g"))
    free = plan(inst, price_of_fairness=False)
    top = float(free.regions["net_received"].max())
    supply = float(inst.deliveries.to_numpy().sum())
    share = max(0.5 * top / supply, 0.01)
    result = plan(inst, [f"max_share_of_supply:share={share:.4f}"], price_of_fairness=False)
    assert result.status == SolveStatus.OPTIMAL
    cap = np.floor(float(f"{share:.4f}") * supply + 1e-9)
    assert (result.regions["net_received"] <= cap + 1e-9).all()
    assert result.lives_saved <= free.lives_saved + 1e-6
    check = check_plan(inst, result)
    assert check.ok, check.violations[:3]
    assert close(check.survivors, result.lives_saved)


def test_sweeps_fast_path_agrees_with_rebuilding() -> None:
    """The kind's rows depend on the supply (it declares `supply`): the fast path builds a
    model per supply and agrees with rebuilding every variant."""
    inst = three_regions()
    vary = {"max_share_of_supply.share": "0.2,0.3,0.5", "supply": "6,10,14"}
    fast = sweep(inst, vary, default_constraints=False)
    slow = sweep(inst, vary, default_constraints=False, mode="rebuild")
    assert (fast["path"] == "fast").all() and (slow["path"] == "rebuild").all()
    assert np.allclose(fast["lives_saved"], slow["lives_saved"], rtol=1e-9)
    assert fast["lives_saved"].nunique() > 4
    levels = frontier(inst, "max_share_of_supply", levels=[0.1, 0.5, 1.0])
    assert levels["lives_saved"].tolist() == pytest.approx([0.8 * 1 + 0.4 + 0.2, 6.0, 8.0])


@pytest.mark.slow
def test_cli_solve_plan_and_check_plan(tmp_path: Path) -> None:
    out = triage("solve", "instances/pugh2021", "--json", "-c", "max_share_of_supply:share=0.3")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert max(payload["allocation"].values()) <= 300
    assert payload["constraints"] == ["max_share_of_supply(share=0.3)"]
    folder = share_case(tmp_path)
    out = triage(
        "plan", folder, "--json", "--out", tmp_path / "out", "-c", "max_share_of_supply:share=0.5"
    )
    assert out.returncode == 0, out.stderr
    assert close(json.loads(out.stdout)["lives_saved"], 2.4)
    check = triage("check-plan", folder, tmp_path / "out" / "plan.csv", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["constraints"] == ["max_share_of_supply(share=0.5)"]
    bad = triage("solve", "instances/pugh2021", "-c", "max_share_of_supply:share=1.5")
    assert bad.returncode == 2 and "share" in bad.stderr
