"""check-plan: the engine's plans replay exactly through the independent simulation; hand-made
plans are scored and every broken rule is named; malformed plans are refused."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from test_multiperiod_support import close, write_instance

from optimiser.errors import InputError
from optimiser.multiperiod import (
    GeneratorSpec,
    check_plan,
    generate,
    load_multiperiod,
    model_data,
    plan,
)
from optimiser.multiperiod.instance import is_multiperiod
from optimiser.multiperiod.methods import rounding
from optimiser.solver import SolveStatus

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for p in (ROOT / "instances").iterdir() if is_multiperiod(p))


def replay(tmp_path: Path, folder: Path, **settings: object) -> tuple[object, object]:
    """Plan, write plan.csv, check it; returns (result, check)."""
    inst = load_multiperiod(folder).with_settings(**settings)
    result = plan(inst, price_of_fairness=False)
    assert result.lives_saved is not None
    path = tmp_path / "plan.csv"
    result.plan.to_csv(path, index=False)
    return result, check_plan(inst, path)


@pytest.mark.skipif(not SHIPPED, reason="no multi-period instance shipped yet")
@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_engine_plans_pass_on_every_shipped_instance(tmp_path: Path, folder: Path) -> None:
    result, check = replay(tmp_path, folder)
    assert check.ok, check.violations[:3]
    assert close(check.survivors, result.lives_saved)
    assert close(check.shortfall, result.shortfall)
    assert not check.greedy_admissions


RANDOM = [
    dict(seed=41),
    dict(seed=42, max_wait_days=2),
    dict(seed=43, donor_keep_share=0.6, batch_size=3),
    dict(
        seed=44,
        patient_transfers=True,
        patient_transfer_max_per_day=3.0,
        patient_transfer_max_lead_days=2,
    ),
    dict(seed=45, max_shipments_per_day=2, demand_kind="new_patients"),
    dict(seed=46, regions=30, days=25, neighbours=4),  # large enough for the rounding method
]


@pytest.mark.parametrize("case", RANDOM, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_engine_plans_pass_on_random_instances(tmp_path: Path, case: dict) -> None:
    case = dict(case)
    spec = GeneratorSpec(
        regions=case.pop("regions", 6),
        days=case.pop("days", 14),
        depots=2,
        neighbours=case.pop("neighbours", None),
        seed=case.pop("seed"),
        demand_kind=case.pop("demand_kind", "census"),
    )
    folder = generate(spec, tmp_path / "g")
    result, check = replay(tmp_path, folder, **case)
    assert check.ok, check.violations[:3]
    assert close(check.survivors, result.lives_saved)
    assert close(check.shortfall, result.shortfall)


@pytest.mark.parametrize("seed", [51, 52, 53])
def test_manifest_alone_scores_at_least_the_claim(tmp_path: Path, seed: int) -> None:
    """Without admit rows the simulation admits greedily (a unit free for the whole stay,
    earliest deadline first), which is optimal for a fixed manifest without waiting or patient
    transfers: it must reach the engine's (optimal) lives, never exceed them."""
    folder = generate(GeneratorSpec(regions=5, days=12, seed=seed), tmp_path / "g")
    inst = load_multiperiod(folder)
    result = plan(inst, price_of_fairness=False, mip_gap=0.0, method="exact")
    path = tmp_path / "manifest.csv"
    result.manifest.to_csv(path, index=False)
    check = check_plan(inst, path)
    assert check.greedy_admissions and check.ok, check.violations[:3]
    assert close(check.survivors, result.lives_saved)


# ---------------------------------------------------------------------------------------------
# Hand-made plans and the rules they break


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """A owns 2 units (staff for 1 more), B none; depot D gets 3 units on day 0 (lead 1 to both,
    batch 2 if asked); A's 2 patients arrive on day 0, B's 2 on day 3; stays 2 days."""
    return write_instance(
        tmp_path / "world",
        [
            {"region": "A", "capacity": 2, "los_days": 2, "staff_cap": 1},
            {"region": "B", "capacity": 0, "los_days": 2},
        ],
        {"A": [2, 0, 0, 0, 0, 0], "B": [0, 0, 0, 2, 0, 0]},
        deliveries=[(0, 3, "D")],
        leads=[("D", "A", 1), ("D", "B", 1), ("A", "B", 1), ("B", "A", 1)],
    )


def write_plan(tmp_path: Path, lines: list[str], name: str = "hand.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(["kind,day,from,to,units,arrives,cohort_day", *lines]) + "\n")
    return path


def rules(check: object) -> set[str]:
    return {v["rule"] for v in check.violations}  # type: ignore[attr-defined]


def test_a_good_hand_plan_scores_by_hand(world: Path, tmp_path: Path) -> None:
    inst = load_multiperiod(world)
    path = write_plan(tmp_path, ["admit,0,A,A,2,0,", "transfer,2,A,B,2,3,", "admit,3,B,B,2,3,"])
    check = check_plan(inst, path)
    assert check.ok and close(check.survivors, 4.0)
    assert close(check.shortfall, 0.0)


@pytest.mark.parametrize(
    "lines, settings, expected",
    [
        (["ship,0,D,A,4,1,"], {}, "depot_stock"),
        (["ship,0,D,B,1,0,"], {}, "lead_time"),
        (["admit,0,A,A,2,0,", "transfer,1,A,B,2,2,"], {}, "units_taken_from_patients"),
        (["transfer,0,A,B,3,1,"], {}, "region_stock"),
        (["ship,0,D,A,3,1,", "admit,0,A,A,2,0,", "admit,3,A,A,0,3,"], {}, None),
        (["transfer,0,A,B,2,1,"], {"donor_keep_share": 0.5}, "donor_protection"),
        (["transfer,0,A,B,1,1,"], {"transfers": False}, "transfers_off"),
        (["ship,0,D,A,3,1,"], {"batch_size": 2}, "batch_size"),
        (["ship,0,D,A,1,1,", "ship,0,D,B,1,1,"], {"max_shipments_per_day": 1}, "shipments_per_day"),
        (["admit,0,A,A,3,0,"], {}, "patients_waiting"),
        (["admit,3,B,B,1,3,"], {}, "no_free_unit"),
        (["patients,3,B,A,1,3,"], {}, "patient_transfers_off"),
        (
            ["patients,3,B,A,2,3,"],
            {"patient_transfers": True, "patient_transfer_max_per_day": 1.0},
            "patient_transfer_limit",
        ),
        (
            ["patients,3,B,A,1,3,"],
            {"patient_transfers": True, "patient_transfer_max_lead_days": 0},
            "patient_lane",
        ),
    ],
)
def test_every_broken_rule_is_named(
    world: Path, tmp_path: Path, lines: list[str], settings: dict, expected: str | None
) -> None:
    inst = load_multiperiod(world).with_settings(**settings)
    check = check_plan(inst, write_plan(tmp_path, lines))
    if expected is None:
        assert check.ok
    else:
        assert expected in rules(check), check.violations


def test_staff_cap_is_a_rule(world: Path, tmp_path: Path) -> None:
    # A: 2 own units + 3 shipped = 5 units, but staff allow 2 + 1 patients
    folder = write_instance(
        tmp_path / "staffed",
        [{"region": "A", "capacity": 2, "los_days": 2, "staff_cap": 1}],
        {"A": [0, 5, 0]},
        deliveries=[(0, 3, "D")],
        leads=[("D", "A", 1)],
    )
    check = check_plan(
        load_multiperiod(folder), write_plan(tmp_path, ["ship,0,D,A,3,1,", "admit,1,A,A,5,1,"])
    )
    assert "staff_cap" in rules(check)


def test_fairness_constraints_are_checked_too(world: Path, tmp_path: Path) -> None:
    inst = load_multiperiod(world)
    check = check_plan(inst, write_plan(tmp_path, []), ["min_units:units=1"])
    assert "fairness" in rules(check)


# ---------------------------------------------------------------------------------------------
# Malformed or inconsistent plan files


@pytest.mark.parametrize(
    "text, message",
    [
        ("day,from,units\n0,D,1\n", "missing required column"),
        ("kind,day,from,to,units\nfly,0,D,A,1\n", "unknown kind"),
        ("kind,day,from,to,units\nship,0,X,A,1\n", "unknown depot 'X'"),
        ("kind,day,from,to,units\nship,0,D,Z,1\n", "unknown region 'Z'"),
        ("kind,day,from,to,units\nship,9,D,A,1\n", "outside the horizon"),
        ("kind,day,from,to,units\nship,0,D,A,-1\n", "must be >= 0"),
        ("kind,day,from,to,units\nship,0,D,A,1.5\n", "must be whole"),
        ("kind,day,from,to,units\nship,0,D,A,lots\n", "not a number"),
        ("kind,day,from,to,units\nship,5,D,A,1\n", "outside the horizon"),
        ("kind,day,from,to,units,arrives\nadmit,1,A,A,1,2\n", "admitted on the day they move"),
        ("kind,day,from,to,units\ntransfer,1,A,A,1\n", "to itself"),
        ("kind,day,from,to,units,surprise\nship,0,D,A,1,x\n", "unknown column"),
        ("kind,day,from,to,units,dispatch_date\nship,0,D,A,1,2020-01-01\n", "no start_date"),
        ("", "empty file"),
    ],
)
def test_malformed_plans_are_refused(world: Path, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        check_plan(load_multiperiod(world), path)


def test_binary_plan_is_refused(world: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\x00\x01\x02")
    with pytest.raises(InputError, match="binary"):
        check_plan(load_multiperiod(world), path)


def test_the_simulation_is_independent_of_the_model() -> None:
    """check-plan (check.py, simulate.py with prepared_plan.py, the checkers of checks/ and the
    input readers they share with the planner) imports no Pyomo, HiGHS or model code: not the
    model modules (their floors), the model's numbers (data.py), the engine, its methods nor the
    solver (solver.py and the modules it gathers). What is
    shared is listed in docs/multiperiod.md ("check-plan"): instance.py, plan_io.py, demand.py
    and constraint parsing (optimiser.constraints)."""
    banned = {
        "pyomo",
        "highspy",
        "models",
        "optimiser.multiperiod.engine",
        "optimiser.multiperiod.methods",
        "optimiser.multiperiod.colgen",
        "optimiser.multiperiod.data",
        "optimiser.multiperiod.planner",
        "optimiser.multiperiod.extract",
        "optimiser.engine",
        "optimiser.engine_protocol",
        "optimiser.solver",
        "optimiser.solver_status",
        "optimiser.highs_setup",
        "optimiser.highs_model",
        "optimiser.matrix_highs_model",
    }
    here = ROOT / "optimiser" / "multiperiod"
    names = ["simulate.py", "prepared_plan.py", "simulation.py", "check.py", "demand.py"]
    names += ["plan_io.py"]
    names += [str(p.relative_to(here)) for p in sorted((here / "checks").glob("*.py"))]
    assert len(names) > 6
    for name in names:
        tree = ast.parse((here / name).read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imported if any(m == b or m.startswith(b + ".") for b in banned)}, (
            name
        )


def test_same_input_same_plan(tmp_path: Path) -> None:
    folder = generate(GeneratorSpec(regions=30, days=20, neighbours=3, seed=61), tmp_path / "g")
    inst = load_multiperiod(folder)
    first = plan(inst, price_of_fairness=False)
    second = plan(load_multiperiod(folder), price_of_fairness=False)
    assert first.plan.equals(second.plan)
    assert first.lives_saved == second.lives_saved


# ---------------------------------------------------------------------------------------------
# The natural Python calls, causes reported once, malformed arrivals


def test_check_plan_takes_the_result_or_its_frames(tmp_path: Path) -> None:
    folder = generate(GeneratorSpec(regions=5, days=12, seed=71), tmp_path / "g")
    inst = load_multiperiod(folder).with_settings(max_wait_days=1)
    result = plan(inst, price_of_fairness=False)
    for given in (result.plan, result, result.plan.astype(str)):
        check = check_plan(inst, given)
        assert check.ok, check.violations[:3]
        assert close(check.survivors, result.lives_saved)
    assert check_plan(inst, result).settings_source == "PlanResult"
    # a PlanResult carries its settings: replayed under them even with the plain instance
    assert check_plan(load_multiperiod(folder), result).settings["max_wait_days"] == 1
    manifest = check_plan(inst, result.manifest)
    assert manifest.greedy_admissions and manifest.ok


@pytest.fixture
def long_stay(tmp_path: Path) -> Path:
    """A owns 2 units and its 2 patients (day 0) stay 5 days; B owns none; staff of A allow
    1 patient beyond its units."""
    return write_instance(
        tmp_path / "long",
        [
            {"region": "A", "capacity": 2, "los_days": 5, "staff_cap": 1},
            {"region": "B", "capacity": 0, "los_days": 2},
        ],
        {"A": [2, 0, 0, 0, 0, 0, 0], "B": [0, 0, 0, 2, 0, 0, 0]},
        deliveries=[(0, 4, "D")],
        leads=[("D", "A", 1), ("D", "B", 1), ("A", "B", 1), ("B", "A", 1)],
    )


@pytest.mark.parametrize(
    "lines, rule",
    [
        (["transfer,0,A,B,3,1,"], "region_stock"),  # A holds 2: its account stays short
        (["admit,0,A,A,2,0,", "transfer,1,A,B,2,2,"], "units_taken_from_patients"),
        (["ship,0,D,A,3,1,", "ship,0,D,B,3,1,"], "depot_stock"),  # 6 shipped out of 4
        (["ship,0,D,A,4,1,", "admit,0,A,A,2,0,", "admit,1,A,A,2,1,"], "patients_waiting"),
    ],
)
def test_a_broken_rule_is_reported_once_not_its_echoes(
    long_stay: Path, tmp_path: Path, lines: list[str], rule: str
) -> None:
    check = check_plan(load_multiperiod(long_stay), write_plan(tmp_path, lines))
    # (these hand-made plans also leave patients waiting beside free units: another rule)
    broken = [v["rule"] for v in check.violations if v["rule"] != "idle_while_waiting"]
    assert broken == [rule], check.violations


def test_staff_cap_is_reported_once_per_episode(long_stay: Path, tmp_path: Path) -> None:
    # 4 units shipped to A: 2 own + 4 = 6 units, staff for 3; 4 patients for 5 days
    folder = write_instance(
        tmp_path / "staffed",
        [{"region": "A", "capacity": 2, "los_days": 5, "staff_cap": 1}],
        {"A": [0, 4, 0, 0, 0, 0, 0]},
        deliveries=[(0, 4, "D")],
        leads=[("D", "A", 1)],
    )
    check = check_plan(
        load_multiperiod(folder), write_plan(tmp_path, ["ship,0,D,A,4,1,", "admit,1,A,A,4,1,"])
    )
    assert [v["rule"] for v in check.violations] == ["staff_cap"], check.violations


def test_an_arrival_before_its_dispatch_is_malformed(world: Path, tmp_path: Path) -> None:
    for line in ("ship,2,D,A,1,1,", "transfer,3,A,B,1,0,"):
        with pytest.raises(InputError, match="before it was dispatched"):
            check_plan(load_multiperiod(world), write_plan(tmp_path, [line]))


# ---------------------------------------------------------------------------------------------
# Fairness over the horizon, checked from the definitions


def test_a_region_without_a_floor_may_give_units_away(world: Path, tmp_path: Path) -> None:
    """min_units(1): B (excess 1) has a floor of 1, A (no excess) none; A gives 2 units."""
    inst = load_multiperiod(world)
    lines = ["admit,0,A,A,2,0,", "transfer,2,A,B,2,3,", "admit,3,B,B,2,3,"]
    check = check_plan(inst, write_plan(tmp_path, lines), ["min_units:units=1"])
    assert check.ok, check.violations
    short = check_plan(inst, write_plan(tmp_path, ["admit,0,A,A,2,0,"]), ["min_units:units=1"])
    [violation] = short.violations
    assert violation["message"] == (
        "min_units(units=1): B receives 0 units net by day 3 (its last useful day), floor 1"
    )


def test_the_coverage_gap_is_checked(world: Path, tmp_path: Path) -> None:
    """Coverage y = (c + X) / P capped at 1: A 1 (2 units, peak 1); B 0, or 1 with 1 unit."""
    inst = load_multiperiod(world)
    gap = ["max_coverage_gap:gap=0.5"]
    bad = check_plan(inst, write_plan(tmp_path, []), gap)
    assert rules(bad) == {"fairness"}
    assert "ranges from 0.0000 (B) to 1.0000 (A)" in bad.violations[0]["message"]
    good = check_plan(inst, write_plan(tmp_path, ["ship,0,D,B,1,1,"]), gap)
    assert good.ok, good.violations


def test_the_threshold_is_checked(tmp_path: Path) -> None:
    """threshold(tau=0) with w_A = w_B = 1 and stop levels 4: X_A and X_B must be within one
    unit of one common lambda. 4 units to A and none to B break it, naming both; 2 and 2 pass.
    With B's staff cap at 1, B stops at 1 unit and A may take 3."""
    from test_multiperiod_model import threshold_case

    rule = ["threshold:tau=0"]
    inst = load_multiperiod(threshold_case(tmp_path))
    greedy = check_plan(inst, write_plan(tmp_path, ["ship,0,D,A,4,1,"]), rule)
    [violation] = greedy.violations
    assert violation["rule"] == "fairness"
    assert violation["message"] == (
        "threshold(tau=0, index=rai): units net by each member's last useful day are not in "
        "proportion to excess demand per capita: A receives 4 (w = 1.0000), so lambda >= "
        "3.0000, but B receives 0 (w = 1.0000, stop level 4 not reached), so lambda <= 1.0000"
    )
    even = check_plan(inst, write_plan(tmp_path, ["ship,0,D,A,2,1,", "ship,0,D,B,2,1,"]), rule)
    assert even.ok, even.violations
    three = write_plan(tmp_path, ["ship,0,D,A,3,1,", "ship,0,D,B,1,1,"])
    assert not check_plan(inst, three, rule).ok
    stopped = load_multiperiod(threshold_case(tmp_path, staff_cap_b=1))
    assert check_plan(stopped, three, rule).ok
    assert not check_plan(stopped, write_plan(tmp_path, ["ship,0,D,A,4,1,"]), rule).ok


@pytest.mark.parametrize("seed", [94, 95, 96])
def test_the_checker_threshold_agrees_with_the_model(tmp_path: Path, seed: int) -> None:
    """The checker's threshold (checks/threshold.py, from the definition) and the model's
    (models/fairness/threshold.py, horizon_threshold) accept the same whole X: X_r =
    round(lambda w_r) for members, lambda below every stop level, passes both; three more
    units for the member with the least positive w, or one unit for a member without excess
    demand, breaks the rule, and the model's limits for any lambda exclude it too."""
    import numpy as np

    from models.fairness.threshold import horizon_threshold
    from optimiser.constraints import to_specs
    from optimiser.multiperiod.checks.threshold import threshold_violation

    inst = load_multiperiod(generate(GeneratorSpec(regions=9, days=10, seed=seed), tmp_path / "g"))
    data = model_data(inst)
    for text in ("threshold:tau=0", "threshold:tau=0.2,index=rai_relative"):
        [spec] = to_specs([text])
        rule = horizon_threshold(data, spec)
        positive = rule.weight > 0
        assert positive.sum() >= 2
        lam = 0.5 * float(np.min(rule.stop[positive] / rule.weight[positive]))
        X = np.zeros(data.n)
        X[rule.members] = np.round(lam * rule.weight)
        assert threshold_violation(inst, X, spec) is None
        low, high = rule.limits(lam)
        assert np.all((low <= X[rule.members]) & (X[rule.members] <= high))
        smallest = int(np.argmin(np.where(positive, rule.weight, np.inf)))
        more = X.copy()
        more[rule.members[smallest]] += 3.0
        assert threshold_violation(inst, more, spec) is not None
        for candidate in np.linspace(0.0, 4.0 * lam + 10.0, 401):
            low, high = rule.limits(float(candidate))
            assert not np.all((low <= more[rule.members]) & (more[rule.members] <= high))
        if not positive.all():
            idle = X.copy()
            idle[rule.members[int(np.argmin(rule.weight))]] += 1.0
            assert "no excess demand" in (threshold_violation(inst, idle, spec) or "")


CONSTRAINTS = [
    "coverage_floor:level=0.5",
    "min_units:units=5",
    "per_capita_floor:share=0.3",
    "excess_per_capita_floor:share=0.3",
    "capacity_per_capita_floor:beds_per_100k=8",
    "max_coverage_gap:gap=0.4",
    "threshold:tau=0",
    "threshold:tau=0.3,index=rai_relative",
]


@pytest.mark.slow
@pytest.mark.skipif(not SHIPPED, reason="no multi-period instance shipped yet")
@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_plans_with_fairness_constraints_pass_on_shipped_instances(
    folder: Path, constraint: str
) -> None:
    inst = load_multiperiod(folder)
    result = plan(inst, [constraint], price_of_fairness=False)
    if result.status == SolveStatus.INFEASIBLE:
        pytest.skip(f"{constraint} infeasible on {folder.name}")
    check = check_plan(inst, result)
    assert check.ok, check.violations[:3]
    assert check.constraints == (constraint_label(constraint),)
    assert close(check.survivors, result.lives_saved)


@pytest.mark.parametrize("constraint", CONSTRAINTS)
@pytest.mark.parametrize("method", ["rounding", "exact"])
def test_plans_with_fairness_constraints_pass_on_random_instances(
    tmp_path: Path, constraint: str, method: str
) -> None:
    spec = GeneratorSpec(regions=6, days=14, depots=2, neighbours=3, seed=81)
    inst = load_multiperiod(generate(spec, tmp_path / "g")).with_settings(max_wait_days=1)
    result = plan(inst, [constraint], price_of_fairness=False, method=method)
    if result.status == SolveStatus.INFEASIBLE:
        pytest.skip(f"{constraint} infeasible")
    check = check_plan(inst, result)
    assert check.ok, check.violations[:3]
    assert close(check.survivors, result.lives_saved)


def constraint_label(text: str) -> str:
    from optimiser.constraints import parse_constraint

    return parse_constraint(text).label


@pytest.mark.parametrize("seed", [91, 92, 93])
def test_the_checker_floors_agree_with_the_model(tmp_path: Path, seed: int) -> None:
    """Two implementations of the same definitions (each checker's `floors`, written from the
    docs; the model's, from the single-period registry) agree."""
    import importlib

    from models.fairness import REGISTRY, horizon_floors
    from optimiser.constraints import to_specs
    from optimiser.multiperiod.checks._common import required

    floor_kinds = {k for k, kind in REGISTRY.items() if kind.floors is not None}
    inst = load_multiperiod(generate(GeneratorSpec(regions=9, days=10, seed=seed), tmp_path / "g"))
    data = model_data(inst)
    specs = to_specs(c for c in CONSTRAINTS if c.split(":")[0] in floor_kinds)
    assert {s.kind for s in specs} == floor_kinds
    for spec in specs:
        checker = importlib.import_module(f"optimiser.multiperiod.checks.{spec.kind}")
        ours = required(inst, checker.floors, spec)
        model = horizon_floors(data, REGISTRY[spec.kind].floors, spec)
        assert ours.tolist() == model.tolist(), spec


def test_the_checker_checks_every_horizon_kind() -> None:
    from models.multiperiod import horizon_kinds
    from optimiser.multiperiod.checks import checked_kinds

    assert set(checked_kinds()) == set(horizon_kinds())


# ---------------------------------------------------------------------------------------------
# Which file to replay (docs/multiperiod.md, "check-plan")


@pytest.mark.parametrize("cheap_first", [None, 0], ids=["lp-order-default", "lp-order-cheap-first"])
def test_the_manifest_alone_replays_its_patient_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cheap_first: int | None
) -> None:
    """With waiting and patient transfers the manifest's patient rows name their cohorts; the
    simulation's own admissions leave those patients waiting for their move, and the units
    the moves fill free for them, so the manifest alone breaks no rule (and scores at most the
    engine's lives; plan.csv scores exactly). With the logistics-paying LP solved first, the
    plan moves 23.9999 patients R001 -> R002 on day 7 and 23 R002 -> R001 on day 11: the
    simulation once admitted the 0.0001 left in R001 on day 10 into a unit of the 23."""
    if cheap_first is not None:
        monkeypatch.setattr(rounding, "CHEAP_FIRST_CANDIDATES", cheap_first)
    spec = GeneratorSpec(regions=6, days=14, depots=2, seed=44)
    inst = load_multiperiod(generate(spec, tmp_path / "g")).with_settings(
        max_wait_days=2, patient_transfers=True, patient_transfer_max_lead_days=3
    )
    result = plan(inst, price_of_fairness=False)
    assert (result.manifest["kind"] == "patients").any()
    check = check_plan(inst, result.manifest)
    assert check.greedy_admissions and check.ok, check.violations[:3]
    assert check.survivors <= result.lives_saved + 1e-6
    assert close(check_plan(inst, result.plan).survivors, result.lives_saved)


def test_the_manifest_alone_leaves_free_the_units_its_patient_moves_fill(tmp_path: Path) -> None:
    """A owns 1 unit; its patient arrives on day 0 (stays 2 days, may wait 3); B owns none and
    its patient (day 1) is moved to A on day 1. The simulation's own admissions must not put
    A's patient on A's unit on day 0 (it would hold it on day 1, when B's patient arrives):
    A's patient waits, and takes the unit on day 3, once B's stay has ended."""
    folder = write_instance(
        tmp_path / "moves_in",
        [
            {"region": "A", "capacity": 1, "los_days": 2, "survival_with": 0.5},
            {"region": "B", "capacity": 0, "los_days": 2, "survival_with": 0.9},
        ],
        {"A": [1, 0, 0, 0, 0, 0], "B": [0, 1, 0, 0, 0, 0]},
        leads=[("A", "B", 1), ("B", "A", 1)],
    )
    inst = load_multiperiod(folder).with_settings(max_wait_days=3, patient_transfers=True)
    check = check_plan(inst, write_plan(tmp_path, ["patients,1,B,A,1,1,1"]))
    assert check.greedy_admissions and check.ok, check.violations
    assert close(check.survivors, 0.5 + 0.9)
    assert check.regions["admitted"].to_dict() == pytest.approx({"A": 1.0, "B": 1.0})
    # the same plan with its admissions written out replays alike
    full = ["patients,1,B,A,1,1,1", "admit,3,A,A,1,3,0"]
    assert close(check_plan(inst, write_plan(tmp_path, full, "full.csv")).survivors, 1.4)
