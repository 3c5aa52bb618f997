"""The fast replay (optimiser/multiperiod/simulate.py: a plan prepared once, regions handled
together, the scenarios' replays of the out-of-sample evaluation) gives the answers of the
day-by-day simulator it replaced (kept verbatim in tests/simulate_reference.py) to the bit:
every array byte for byte, the same survivors, violations (rule, day, line, message) and
admissions in the same order. Plans from the planner (admit rows, the manifest replayed with
the simulator's own admissions, transfers, patient transfers, waiting patients, executed
moves), the same plans broken on purpose (every rule), the demand of sampled scenarios, and
the evaluation's per-scenario figures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from simulate_reference import patient_groups as reference_groups
from simulate_reference import reference_simulate

from optimiser.multiperiod import GeneratorSpec, generate, load_multiperiod, plan
from optimiser.multiperiod.demand import length_of_stay, patient_groups
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.methods import rounding
from optimiser.multiperiod.plan_io import plan_rows, validate_plan
from optimiser.multiperiod.simulate import PlanReplay, Simulation, simulate
from optimiser.scenarios import LognormalSpec, evaluate, lognormal_scenarios
from optimiser.scenarios.evaluate import outcome_of, replay_rows

ROOT = Path(__file__).resolve().parents[1]
ARRAYS = (
    "admitted",
    "lost",
    "occupancy",
    "on_hand",
    "need",
    "treated",
    "survivors_by_region",
    "net_received",
    "arrived",
)


def assert_same(fast: Simulation, ref: Simulation) -> None:
    assert fast.regions == ref.regions
    assert fast.greedy == ref.greedy
    assert fast.survivors == ref.survivors
    assert fast.violations == ref.violations
    assert fast.admissions == ref.admissions
    for name in ARRAYS:
        a, b = getattr(fast, name), getattr(ref, name)
        assert a.shape == b.shape and a.dtype == b.dtype, name
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), name


# generator spec, settings applied on top (with_settings)
CASES: list[tuple[GeneratorSpec, dict[str, Any]]] = [
    (GeneratorSpec(regions=7, days=18, seed=11), {}),
    (
        # units may not move, so moving patients is the only way to the free units: the
        # optimal plan moves patients whatever optimum the planner picks (with unit transfers
        # it may use none; the replays below need patient rows to break the patient rules)
        GeneratorSpec(regions=8, days=20, seed=12, max_wait_days=3, patient_transfers=True),
        {"patient_transfer_max_per_day": 4.0, "donor_keep_share": 0.3, "transfers": False},
    ),
    (
        GeneratorSpec(
            regions=6,
            days=16,
            seed=13,
            demand_kind="new_patients",
            max_wait_days=2,
            patient_transfers=True,
            neighbours=3,
        ),
        {"batch_size": 2, "max_shipments_per_day": 2},
    ),
    (GeneratorSpec(regions=6, days=15, seed=14, depots=2, transfers=False), {}),
    (GeneratorSpec(regions=9, days=14, seed=15, supply_share=0.2, max_wait_days=1), {}),
]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[MultiPeriodInstance, Any]]:
    out = []
    for i, (spec, settings) in enumerate(CASES):
        folder = generate(spec, tmp_path_factory.mktemp(f"g{i}"))
        inst = load_multiperiod(folder)
        if settings:
            inst = inst.with_settings(**settings)
        result = plan(inst, price_of_fairness=False, time_limit=60)
        out.append((inst.with_settings(**result.settings), result))
    assert (out[1][1].plan["kind"] == "patients").any()  # the premise of the patient rules
    return out


def _broken(rows: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The plan with rows scaled up and down, moved earlier or later and made to arrive
    early: every rule the simulator checks gets a chance to break."""
    rng = np.random.default_rng(seed)
    out = rows.copy()
    k = len(out)
    out["units"] = out["units"] * rng.choice([0.0, 0.5, 1.0, 1.7, 3.0], size=k)
    shift = rng.choice([-2, 0, 0, 1], size=k)
    days = int(out["day"].max()) + 1 if k else 1
    out["day"] = np.clip(out["day"] + shift, 0, days - 1)
    moves = out["kind"].isin(["ship", "transfer"])
    out.loc[moves, "arrives"] = np.maximum(
        out.loc[moves, "arrives"] + rng.choice([-1, 0], k)[moves.to_numpy()], out.loc[moves, "day"]
    )
    return out


def _overdrawn(rows: pd.DataFrame) -> pd.DataFrame:
    """Every transfer one unit larger, nothing else moved: the sender gives a unit it does
    not have spare (taken from its patients, or more than it holds). Random perturbations
    alone stopped reaching the patients' units when the plans changed (track cliff2)."""
    out = rows.copy()
    transfers = out["kind"] == "transfer"
    out.loc[transfers, "units"] = out.loc[transfers, "units"] + 1
    return out


def _plans(inst: MultiPeriodInstance, result: Any) -> list[pd.DataFrame]:
    rows = plan_rows(result.plan, inst, name="plan")
    manifest = replay_rows(rows, "manifest")
    broken = [_broken(rows, 1), _broken(manifest, 2), _broken(rows, 3), _overdrawn(rows)]
    return [rows, manifest, *broken]


def test_patient_groups_are_those_of_the_reference(
    worlds: list[tuple[MultiPeriodInstance, Any]],
) -> None:
    rng = np.random.default_rng(5)
    for inst, _ in worlds:
        los = length_of_stay(inst)
        demand = inst.demand.to_numpy(dtype=float)
        noisy = demand * rng.lognormal(0.0, 0.4, size=demand.shape)
        noisy[rng.random(demand.shape) < 0.1] = 0.0
        for kind in ("census", "new_patients"):
            for table in (demand, noisy):
                a, b = patient_groups(kind, table, los), reference_groups(kind, table, los)
                for name in ("region", "day", "stay", "size", "need", "clipped"):
                    x, y = getattr(a, name), getattr(b, name)
                    assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), (kind, name)


def test_plans_replay_as_the_reference_did(worlds: list[tuple[MultiPeriodInstance, Any]]) -> None:
    rules: set[str] = set()
    for inst, result in worlds:
        for rows in _plans(inst, result):
            fast, ref = simulate(inst, rows), reference_simulate(inst, rows)
            assert_same(fast, ref)
            rules |= {v.rule for v in ref.violations}
    # the broken plans did break rules of every family (stock, lanes, patients, staff)
    assert {"depot_stock", "lead_time", "units_taken_from_patients"} <= rules
    assert len(rules) >= 6, rules


TIGHTER: list[dict[str, Any]] = [
    {"transfers": False, "patient_transfers": False},
    {"transfer_neighbours": 1, "patient_transfer_max_lead_days": 0},
    {"batch_size": 7, "max_shipments_per_day": 1, "donor_keep_share": 0.9},
    {"max_transfer_lead_days": 0, "patient_transfer_max_per_day": 0.5, "max_wait_days": 1},
]
RULES = {
    "batch_size",
    "depot_stock",
    "donor_protection",
    "idle_while_waiting",
    "lead_time",
    "no_free_unit",
    "patient_lane",
    "patient_transfer_limit",
    "patient_transfers_off",
    "patients_waiting",
    "region_stock",
    "shipments_per_day",
    "staff_cap",
    "transfers_off",
    "units_taken_from_patients",
    "unknown_lane",
}  # every rule simulate.py names


def test_plans_replayed_under_other_rules_break_them_as_the_reference_did(
    worlds: list[tuple[MultiPeriodInstance, Any]],
) -> None:
    """Each plan replayed under tighter switches than it was made for, with a third of its
    staff, or with fewer units of its own: every rule of the simulator is broken somewhere,
    and reported alike."""
    rules: set[str] = set()
    for inst, result in worlds:
        rows = plan_rows(result.plan, inst, name="plan")
        worlds_replayed = [inst.with_settings(**tight) for tight in TIGHTER]
        worlds_replayed.append(replace(inst, staff=inst.staff * 0.3))
        worlds_replayed.append(replace(inst, own=(inst.own * 0.6).round()))
        for other in worlds_replayed:
            for table in (rows, replay_rows(rows, "manifest"), _broken(rows, 11)):
                ref = reference_simulate(other, table)
                assert_same(simulate(other, table), ref)
                rules |= {v.rule for v in ref.violations}
    assert rules == RULES, RULES - rules


def test_scenarios_replay_as_the_reference_did(
    worlds: list[tuple[MultiPeriodInstance, Any]],
) -> None:
    for i, (inst, result) in enumerate(worlds):
        scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=4, seed=40 + i))
        cube = scenarios.array(inst.regions)
        for rows in _plans(inst, result)[:4]:
            replay = PlanReplay(inst, rows)
            for s, sid in enumerate(scenarios.ids):
                one = scenarios.instance_for(inst, sid)
                assert_same(replay.run(cube[s]), reference_simulate(one, rows))


def test_shipped_instances_replay_as_the_reference_did() -> None:
    """US 50 x 47 (the benchmark's instance) and Italy: the optimal plan, its manifest and
    sampled scenarios."""
    for name in ("us-states-apr2020", "italy-2020-wave1"):
        folder = ROOT / "instances" / name
        if not folder.is_dir():
            continue
        inst = load_multiperiod(folder)
        result = plan(inst, price_of_fairness=False, time_limit=120)
        inst = inst.with_settings(**result.settings)
        rows = plan_rows(result.plan, inst, name="plan")
        manifest = replay_rows(rows, "manifest")
        assert_same(simulate(inst, rows), reference_simulate(inst, rows))
        scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=3, seed=1))
        replay = PlanReplay(inst, manifest)
        for s, sid in enumerate(scenarios.ids):
            one = scenarios.instance_for(inst, sid)
            assert_same(
                replay.run(scenarios.array(inst.regions)[s]), reference_simulate(one, manifest)
            )


def test_a_replan_with_executed_moves_replays_as_the_reference_did(tmp_path: Path) -> None:
    folder = generate(
        GeneratorSpec(regions=6, days=14, seed=31, max_wait_days=2, patient_transfers=True),
        tmp_path / "g",
    )
    inst = load_multiperiod(folder)
    first = plan(inst, price_of_fairness=False, time_limit=60)
    manifest = first.manifest
    done = manifest[(manifest["day"] < 4) & manifest["kind"].isin(["ship", "transfer"])]
    executed = validate_plan(done.drop(columns=["status"]).astype(str), inst, executed=True)
    again = plan(inst, executed=executed, today=4, price_of_fairness=False, time_limit=60)
    inst = inst.with_settings(**again.settings)
    assert (again.manifest["status"] == "executed").any()
    for rows in (plan_rows(again.plan, inst, name="plan"), plan_rows(again.manifest, inst)):
        for table in (rows, replay_rows(rows, "manifest"), _broken(rows, 7)):
            assert_same(simulate(inst, table), reference_simulate(inst, table))


@pytest.mark.parametrize("cheap_first", [None, 0], ids=["lp-order-default", "lp-order-cheap-first"])
def test_manifests_with_patient_moves_replay_as_the_reference_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cheap_first: int | None
) -> None:
    """The planner's manifest with its patient rows (no admit rows: the simulation's own
    admissions, which leave free the units a later patients row fills), as written and broken:
    the plans of tests/test_check_plan.py's manifest-alone test, under both LP orders. A
    prepared replay run twice gives the same answer (the units kept free are per run)."""
    if cheap_first is not None:
        monkeypatch.setattr(rounding, "CHEAP_FIRST_CANDIDATES", cheap_first)
    folder = generate(GeneratorSpec(regions=6, days=14, depots=2, seed=44), tmp_path / "g")
    inst = load_multiperiod(folder).with_settings(
        max_wait_days=2, patient_transfers=True, patient_transfer_max_lead_days=3
    )
    result = plan(inst, price_of_fairness=False)
    inst = inst.with_settings(**result.settings)
    manifest = plan_rows(result.manifest, inst, name="manifest")
    assert (manifest["kind"] == "patients").any() and not (manifest["kind"] == "admit").any()
    for table in [manifest, *(_broken(manifest, seed) for seed in range(2, 8))]:
        replay = PlanReplay(inst, table)
        first = replay.run()
        assert_same(first, reference_simulate(inst, table))
        assert_same(replay.run(), first)


def test_the_evaluation_gives_the_reference_figures(
    worlds: list[tuple[MultiPeriodInstance, Any]],
) -> None:
    """evaluate() (one prepared replay per chunk) against each scenario built as an instance
    and replayed by the reference; in this process and on 2 local processes."""
    inst, result = worlds[1]
    scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=30, seed=9))
    rows = replay_rows(plan_rows(result.plan, inst, name="plan"), "manifest")
    expected = pd.DataFrame(
        [
            {"scenario": sid, **outcome_of(one, reference_simulate(one, rows))}
            for sid, one in ((sid, scenarios.instance_for(inst, sid)) for sid in scenarios.ids)
        ]
    ).set_index("scenario")
    for workers in (1, 2):
        got = evaluate(inst, result, scenarios, workers=workers).per_scenario
        pd.testing.assert_frame_equal(
            got.drop(columns="probability"),
            expected[got.columns.drop("probability")],
            check_exact=True,
        )


def test_a_replay_does_not_change_the_prepared_plan(
    worlds: list[tuple[MultiPeriodInstance, Any]],
) -> None:
    """Runs are independent: the same demand twice, or after another, gives the same replay."""
    inst, result = worlds[2]
    rows = plan_rows(result.plan, inst, name="plan")
    replay = PlanReplay(inst, rows)
    first = replay.run()
    replay.run(inst.demand.to_numpy(dtype=float) * 2.0)
    assert_same(replay.run(), first)
    assert_same(replay.run(inst.demand.to_numpy(dtype=float)), first)


def test_a_demand_of_another_shape_is_refused(
    worlds: list[tuple[MultiPeriodInstance, Any]],
) -> None:
    inst, result = worlds[0]
    replay = PlanReplay(inst, plan_rows(result.plan, inst, name="plan"))
    with pytest.raises(ValueError, match="regions x days"):
        replay.run(inst.demand.to_numpy(dtype=float)[:, :-1])
