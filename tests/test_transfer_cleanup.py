"""The movement cleanup (optimiser/multiperiod/methods/cleanup.py): a plan's shipments and
transfers re-routed at the least logistics cost with its admissions, and so its lives, fixed.

Measured before it (BENCHMARKS.md, "The threshold rule at national scale"): plans rounded from
the lives-only LP moved 434,900 units (300 x 90, threshold:tau=0) and 304,315 (100 x 90) to
deliver a few thousand net, in circles. Here the dirty plans are made by hand: a cycle A -> B
-> A, a triangle A -> B -> C -> A and a shipment nobody uses are put into an optimal plan, the
patients are settled for those movements (methods/settle.py), and the plan is cleaned. Every
plan, dirty and clean, is replayed by check-plan's independent simulation.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from optimiser.deadline import Deadline
from optimiser.multiperiod import PlanEngine, check_plan, load_multiperiod, plan
from optimiser.multiperiod.extract import extract
from optimiser.multiperiod.methods import cleanup as cleanup_module
from optimiser.multiperiod.methods.base import PlanOutcome
from optimiser.multiperiod.methods.cleanup import (
    clean_movements,
    skipped_cleanup,
    units_moved,
    whole_plan,
)
from optimiser.multiperiod.methods.settle import settle_patients
from optimiser.multiperiod.report import plan_text
from optimiser.multiperiod.results import MovementCleanup, PlanResult
from optimiser.solver import SolveStatus
from tests.test_multiperiod_support import write_instance

NO_ROWS = np.zeros(0, dtype=np.int64)


def three_regions(folder: Path, **multiperiod: Any) -> Path:
    """A has spare units and no patients; B has no units; C one. Depot D gets 4 units on day
    0 (2 are needed); every lead time is 1 day."""
    return write_instance(
        folder,
        [
            {"region": "A", "capacity": 8, "los_days": 2},
            {"region": "B", "capacity": 0, "los_days": 2},
            {"region": "C", "capacity": 1, "los_days": 2},
        ],
        {"A": [0, 0, 0, 0, 0, 0], "B": [0, 1, 1, 0, 1, 0], "C": [0, 0, 1, 1, 1, 0]},
        deliveries=[(0, 6, "D")],
        leads=[("D", "A", 1), ("D", "B", 1), ("D", "C", 1)],
        multiperiod=multiperiod,
    )


def lane_column(engine: PlanEngine, src: str, dst: str, day: int) -> int:
    p, d = engine.model, engine.data
    regions = list(d.regions)
    a, b = regions.index(src), regions.index(dst)
    for i, (lane, t) in enumerate(zip(p.transfer.lane, p.transfer.day, strict=True)):
        if d.arc_src[lane] == a and d.arc_dst[lane] == b and t == day:
            return i
    raise KeyError((src, dst, day))


def ship_column(engine: PlanEngine, dst: str, day: int) -> int:
    p, d = engine.model, engine.data
    r = list(d.regions).index(dst)
    for i, (region, t) in enumerate(zip(p.ship.region, p.ship.day, strict=True)):
        if region == r and t == day:
            return i
    raise KeyError((dst, day))


def with_movements(engine: PlanEngine, ship: np.ndarray, moved: np.ndarray) -> PlanOutcome:
    """The plan with these whole movements and the most lives they allow, every patient
    admitted as early as possible (the planner's own last stage: methods/settle.py)."""
    s = engine.setting
    x = whole_plan(s.model, s.zero, ship, moved)
    start = PlanOutcome(SolveStatus.OPTIMAL, x, 0.0, 0.0, 0.0, 0.0, 0)
    cost = engine.objective(())
    out = settle_patients(s, start, cost, Deadline(None), None, engine.exact.load(()))
    assert out is not start, "the patients could not be settled"
    return out


def replay(engine: PlanEngine, values: np.ndarray, constraints: tuple[str, ...] = ()) -> Any:
    parts = extract(engine, values)
    return check_plan(engine.instance, parts["plan"], list(constraints), default_constraints=False)


def transfers_of(engine: PlanEngine, values: np.ndarray) -> list[tuple[str, str, int, float]]:
    p, d = engine.model, engine.data
    regions = list(d.regions)
    t = values[p.transfer.cols]
    return [
        (
            regions[d.arc_src[p.transfer.lane[i]]],
            regions[d.arc_dst[p.transfer.lane[i]]],
            int(p.transfer.day[i]),
            float(t[i]),
        )
        for i in np.nonzero(t > 0.5)[0]
    ]


def crossing(engine: PlanEngine, values: np.ndarray) -> list[tuple[Any, Any]]:
    """Pairs of transfers A -> B and B -> A in transit at the same time: one unit less on
    each keeps both regions' units on hand at least as high on every day, at a lower cost.
    (Opposite transfers on days apart can be needed: B uses the unit in between.)"""
    lead = {
        (engine.data.regions[int(a)], engine.data.regions[int(b)]): int(t)
        for a, b, t in zip(
            engine.data.arc_src, engine.data.arc_dst, engine.data.arc_lead, strict=True
        )
    }
    edges = transfers_of(engine, values)
    return [
        (x, y)
        for x in edges
        for y in edges
        if x[0] == y[1]
        and x[1] == y[0]
        and y[2] < x[2] + lead[x[0], x[1]]
        and x[2] < y[2] + lead[y[0], y[1]]
    ]


def has_cycle(edges: list[tuple[str, str, int, float]]) -> bool:
    """A directed cycle among the region pairs units are transferred between (any days)."""
    graph: dict[str, set[str]] = {}
    for a, b, _, _ in edges:
        graph.setdefault(a, set()).add(b)
    state: dict[str, int] = {}

    def visit(node: str) -> bool:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1 or (nxt not in state and visit(nxt)):
                return True
        state[node] = 2
        return False

    return any(node not in state and visit(node) for node in list(graph))


@pytest.fixture
def engine(tmp_path: Path) -> PlanEngine:
    inst = load_multiperiod(three_regions(tmp_path / "three"))
    return PlanEngine(inst, (), method="exact")


def dirty_plan(engine: PlanEngine) -> tuple[PlanOutcome, PlanOutcome]:
    """(the optimal plan, the same plus a cycle A -> B -> A, a triangle A -> B -> C -> A and
    2 units shipped to A, where no patient is)."""
    best = engine.solve((), tie_break=True)
    assert best.status is SolveStatus.OPTIMAL and best.values is not None
    p = engine.model
    ship = np.rint(best.values[p.ship.cols])
    moved = np.rint(best.values[p.transfer.cols])
    moved[lane_column(engine, "A", "B", 0)] += 2  # A -> B -> A
    moved[lane_column(engine, "B", "A", 1)] += 2
    moved[lane_column(engine, "A", "B", 1)] += 1  # A -> B -> C -> A
    moved[lane_column(engine, "B", "C", 2)] += 1
    moved[lane_column(engine, "C", "A", 3)] += 1
    ship[ship_column(engine, "A", 0)] += 2  # units nobody uses
    return best, with_movements(engine, ship, moved)


def test_cycles_and_idle_shipments_are_removed_with_the_lives_kept(engine: PlanEngine) -> None:
    best, dirty = dirty_plan(engine)
    assert dirty.values is not None and best.values is not None
    p = engine.model
    before = replay(engine, dirty.values)
    assert before.ok, before.violations  # the dirty plan is a valid plan
    assert before.survivors == pytest.approx(dirty.lives, abs=1e-6)
    assert has_cycle(transfers_of(engine, dirty.values))
    units, _ = units_moved(p, dirty.values)
    assert units == units_moved(p, best.values)[0] + 2 + 2 + 2 + 1 + 1 + 1
    clean, info = clean_movements(engine.setting, dirty, NO_ROWS, Deadline(None))
    assert info.status == "cleaned" and info.lp_whole
    assert clean.values is not None
    # the lives: the same patient columns, the same replayed survivors to the last digit
    patients = p.patients
    assert np.array_equal(clean.values[patients], dirty.values[patients])
    after = replay(engine, clean.values)
    assert after.ok, after.violations
    assert after.survivors == before.survivors
    assert clean.lives == dirty.lives
    # the movements: no cycle, fewer units, at most the optimal plan's logistics cost
    assert not has_cycle(transfers_of(engine, clean.values))
    assert info.units_before == units and info.units_after < units
    assert info.units_after == units_moved(p, clean.values)[0]
    assert info.cost_after == pytest.approx(engine.setting.logistics_of(clean.values))
    assert info.cost_after <= engine.setting.logistics_of(best.values) + 1e-9
    assert clean.logistics == info.cost_after
    # nothing is shipped to A, where no patient is
    a = list(engine.data.regions).index("A")
    assert clean.values[p.ship.cols][p.ship.region == a].sum() == 0


def two_regions(folder: Path) -> Path:
    """B has no unit and two patients (day 1 for 2 days, day 2 for 1 day inside the horizon);
    A has 2 spare units one day away; depot D gets 1 unit on day 0, one day from B and A."""
    return write_instance(
        folder,
        [
            {"region": "A", "capacity": 2, "los_days": 2},
            {"region": "B", "capacity": 0, "los_days": 2},
        ],
        {"A": [0, 0, 0], "B": [0, 1, 1]},
        deliveries=[(0, 1, "D")],
        leads=[("D", "A", 1), ("D", "B", 1), ("A", "B", 1), ("B", "A", 1)],
    )


def candidate_frame(
    engine: PlanEngine, admits: pd.DataFrame, ship: np.ndarray, moved: np.ndarray
) -> pd.DataFrame:
    """A plan file: the admit rows given and these movements (units per model column)."""
    p, d = engine.model, engine.data
    regions, depots = list(d.regions), list(d.depots)
    rows = []
    for i in np.nonzero(ship)[0]:
        k, r, day = int(p.ship.depot[i]), int(p.ship.region[i]), int(p.ship.day[i])
        arrives = day + int(d.ship_lead[k, r])
        rows.append(("ship", day, depots[k], regions[r], str(int(ship[i])), arrives, ""))
    for i in np.nonzero(moved)[0]:
        a, day = int(p.transfer.lane[i]), int(p.transfer.day[i])
        arrives = day + int(d.arc_lead[a])
        src, dst = regions[d.arc_src[a]], regions[d.arc_dst[a]]
        rows.append(("transfer", day, src, dst, str(int(moved[i])), arrives, ""))
    columns = ["kind", "day", "from", "to", "units", "arrives", "cohort_day"]
    frame = pd.concat([pd.DataFrame(rows, columns=columns), admits], ignore_index=True)
    return frame.sort_values("day", kind="stable").reset_index(drop=True)


def test_the_least_cost_matches_a_brute_force_through_the_simulation(tmp_path: Path) -> None:
    """Every whole movement vector (each column 0..2 units, the depot's one unit at most)
    replayed by check-plan with the dirty plan's admit rows, cheapest first: the first that
    breaks no rule and saves the same lives costs what the cleanup's plan costs (5: the
    depot's unit shipped to B, cost 1 + 1, and one unit from A, cost 2 + 1)."""
    inst = load_multiperiod(two_regions(tmp_path / "two"))
    engine = PlanEngine(inst, (), method="exact")
    p, d = engine.model, engine.data
    ship = np.zeros(len(p.ship.cols))
    moved = np.zeros(len(p.transfer.cols))
    moved[lane_column(engine, "A", "B", 0)] = 2  # both of A's units, one sent back ...
    moved[lane_column(engine, "B", "A", 1)] = 1
    moved[lane_column(engine, "A", "B", 1)] = 1  # ... and sent again
    ship[ship_column(engine, "A", 0)] = 1  # the depot's unit parked in A
    dirty = with_movements(engine, ship, moved)
    assert dirty.values is not None and dirty.lives == pytest.approx(2.0)
    plan_rows = extract(engine, dirty.values)["plan"]
    admits = plan_rows[plan_rows["kind"] == "admit"]
    before = check_plan(inst, plan_rows, default_constraints=False)
    assert before.ok and before.survivors == pytest.approx(2.0)

    ship_cost = d.batch_size * (1.0 + d.ship_lead[p.ship.depot, p.ship.region])
    move_cost = 2.0 + d.arc_lead[p.transfer.lane]
    costs = np.concatenate([ship_cost, move_cost])
    width = len(costs)
    grid = np.array(list(itertools.product(range(3), repeat=width)), dtype=float)
    grid = grid[grid[:, : len(ship)].sum(axis=1) <= 1]  # the depot holds one unit
    order = np.argsort(grid @ costs, kind="stable")
    best = None
    for row in grid[order]:
        frame = candidate_frame(engine, admits, row[: len(ship)], row[len(ship) :])
        got = check_plan(inst, frame, default_constraints=False)
        if got.ok and got.survivors == before.survivors:
            best = float(row @ costs)
            break
    assert best == 5.0

    clean, info = clean_movements(engine.setting, dirty, NO_ROWS, Deadline(None))
    assert info.status == "cleaned"
    assert info.cost_after == best
    assert clean.values is not None
    assert replay(engine, clean.values).survivors == before.survivors


def test_no_unit_is_left_idle_beside_a_waiting_patient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A's one unit goes round A -> B -> A while A's first patient arrives (day 1) and is back
    for the second (day 3): the dirty plan turns the first away, as it must with the unit
    away. Removing the cycle would leave the unit free in A beside that patient (check-plan:
    idle_while_waiting), which the admissions held fixed cannot take: the cleanup keeps A's
    units at most where they were that day, so the round trip stays."""
    folder = write_instance(
        tmp_path / "idle",
        [
            {"region": "A", "capacity": 1, "los_days": 1},
            {"region": "B", "capacity": 0, "los_days": 1},
        ],
        {"A": [0, 1, 0, 1], "B": [0, 0, 0, 0]},
        leads=[("A", "B", 1), ("B", "A", 1)],
    )
    engine = PlanEngine(load_multiperiod(folder), (), method="exact")
    p = engine.model
    moved = np.zeros(len(p.transfer.cols))
    moved[lane_column(engine, "A", "B", 0)] = 1
    moved[lane_column(engine, "B", "A", 1)] = 1
    dirty = with_movements(engine, np.zeros(len(p.ship.cols)), moved)
    assert dirty.values is not None and dirty.lives == 1.0
    before = replay(engine, dirty.values)
    assert before.ok and before.survivors == 1.0
    clean, info = clean_movements(engine.setting, dirty, NO_ROWS, Deadline(None))
    assert info.status == "unchanged" and info.units_after == 2
    assert clean.values is not None
    after = replay(engine, clean.values)
    assert after.ok and after.survivors == 1.0
    # without the caps the round trip goes, and check-plan names the idle unit
    monkeypatch.setattr(cleanup_module, "_idle_caps", lambda p, x: np.zeros(0, dtype=np.int64))
    bare, bare_info = clean_movements(engine.setting, dirty, NO_ROWS, Deadline(None))
    assert bare_info.status == "cleaned" and bare_info.units_after == 0
    assert bare.values is not None
    rules = {v["rule"] for v in replay(engine, bare.values).violations}
    assert rules == {"idle_while_waiting"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from optimiser.multiperiod import GeneratorSpec, generate

    folder = tmp_path_factory.mktemp("gen") / "g40x30"
    return generate(GeneratorSpec(regions=40, days=30, depots=2, neighbours=5, seed=1), folder)


def test_the_threshold_rule_holds_after_cleaning_a_rounded_plan(generated: Path) -> None:
    """40 regions x 30 days under threshold:tau=0 (every region a member), rounding method
    without the tie-break: cleaned, the plan moves no more than the rounded one (about 15,000
    units -> 1,300 before the planner's LPs went warm; the rounded plan now moves about 1,300
    itself), no two lanes cross, check-plan (which checks the rule from its own definition)
    finds no rule broken and the same survivors. The cycles themselves are tested above on
    hand-made plans."""
    from optimiser.constraints import to_specs

    inst = load_multiperiod(generated)
    specs = to_specs(["threshold:tau=0"])
    engine = PlanEngine(inst, specs, method="rounding")
    out = engine.solve(specs, tie_break=False)
    assert out.values is not None
    rows = np.concatenate([f.rows for f in engine.families(specs)])
    clean, info = clean_movements(engine.setting, out, rows, Deadline(None))
    assert info.status == "cleaned"
    assert info.units_after <= info.units_before and info.cost_after <= info.cost_before + 1e-9
    assert clean.values is not None and clean.lives == out.lives
    before = replay(engine, out.values, ("threshold:tau=0",))
    after = replay(engine, clean.values, ("threshold:tau=0",))
    assert before.ok and after.ok, after.violations
    assert after.survivors == before.survivors
    got = engine.model.matrix[rows] @ clean.values  # the rule's rows at the plan's lambda
    assert np.all(got >= engine.model.row_lower[rows] - 1e-6)
    assert np.all(got <= engine.model.row_upper[rows] + 1e-6)
    assert not crossing(engine, clean.values)


def test_a_spent_budget_or_a_bad_answer_keeps_the_plan(
    engine: PlanEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, dirty = dirty_plan(engine)
    assert dirty.values is not None
    kept, info = clean_movements(engine.setting, dirty, NO_ROWS, Deadline(0.0))
    assert kept is dirty and info.status == "not_finished"
    assert info.units_after == info.units_before
    # an answer that breaks a row (here: nothing moved, patients left without units) is never
    # returned
    real = cleanup_module._solve_priced

    def broken(*args: Any) -> Any:
        priced = real(*args)
        return replace(priced, values=np.zeros_like(priced.values))

    monkeypatch.setattr(cleanup_module, "_solve_priced", broken)
    kept, info = clean_movements(engine.setting, dirty, NO_ROWS, Deadline(None))
    assert kept is dirty and info.status == "rejected"


def test_a_fractional_lp_holds_the_shipments_then_branches(
    engine: PlanEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An LP optimum that is not whole (batches B > 1, rows over several regions): the LP
    again with the shipments held at the plan's (the transfers alone are a network), and
    when even that is not whole, branch-and-bound from the plan: each answer whole, checked,
    replayed with the same survivors and no cycle left."""
    _, dirty = dirty_plan(engine)
    assert dirty.values is not None
    p = engine.model
    _, lp_info = clean_movements(engine.setting, dirty, NO_ROWS, Deadline(None))
    real = cleanup_module._is_whole
    calls = [0]

    def first_not_whole(*args: Any) -> bool:
        calls[0] += 1
        return calls[0] > 1 and real(*args)

    monkeypatch.setattr(cleanup_module, "_is_whole", first_not_whole)
    held, info = clean_movements(engine.setting, dirty, NO_ROWS, Deadline(None))
    assert calls[0] == 2 and info.status == "cleaned" and info.lp_whole is False
    assert held.values is not None
    assert np.array_equal(held.values[p.ship.cols], dirty.values[p.ship.cols])
    assert not has_cycle(transfers_of(engine, held.values))
    assert info.units_after == info.units_before - 7  # the 7 units transferred in circles
    assert replay(engine, held.values).ok

    monkeypatch.setattr(cleanup_module, "_is_whole", lambda *args: False)
    clean, info = clean_movements(engine.setting, dirty, NO_ROWS, Deadline(None))
    assert info.status == "cleaned" and info.lp_whole is False
    assert info.cost_after == lp_info.cost_after  # the same least cost, whole
    assert clean.values is not None and replay(engine, clean.values).ok


def test_batches(tmp_path: Path) -> None:
    """Batches of 2: a plan that ships a batch to A, where nobody is, and moves units in a
    circle A -> C -> A. The LP's optimum ships half batches (not whole), so the shipments are
    held and the transfers cleaned: the circle goes; every row holds and check-plan replays
    the same survivors. (Branch-and-bound would also drop the batch: left for later.)"""
    inst = load_multiperiod(three_regions(tmp_path / "batches", batch_size=2))
    engine = PlanEngine(inst, (), method="exact")
    p = engine.model
    best = engine.solve((), tie_break=True)
    assert best.values is not None
    ship = np.rint(best.values[p.ship.cols])
    moved = np.rint(best.values[p.transfer.cols])
    ship[ship_column(engine, "A", 0)] += 1
    moved[lane_column(engine, "A", "C", 0)] += 1
    moved[lane_column(engine, "C", "A", 1)] += 1
    dirty = with_movements(engine, ship, moved)
    assert dirty.values is not None and replay(engine, dirty.values).ok
    clean, info = clean_movements(engine.setting, dirty, NO_ROWS, Deadline(None))
    assert info.status == "cleaned" and info.lp_whole is False
    assert clean.values is not None
    assert np.array_equal(clean.values[p.ship.cols], dirty.values[p.ship.cols])
    assert info.units_after < info.units_before
    assert not has_cycle(transfers_of(engine, clean.values))
    after = replay(engine, clean.values)
    assert after.ok and after.survivors == replay(engine, dirty.values).survivors


def test_the_result_says_what_the_cleanup_did(tmp_path: Path) -> None:
    inst = load_multiperiod(three_regions(tmp_path / "three"))
    result = plan(inst, price_of_fairness=False)
    c = result.movement_cleanup
    assert c is not None and c.status in ("cleaned", "unchanged")
    assert c.units_after == sum(s["units"] for s in result.shipments())
    assert "cleanup" in result.timings
    data = json.loads(result.to_json())
    assert data["movement_cleanup"]["status"] == c.status
    back = PlanResult.from_dict(data)
    assert back.movement_cleanup == MovementCleanup.from_dict(c.to_dict())
    assert back.to_dict()["movement_cleanup"] == data["movement_cleanup"]
    assert "movements" in plan_text(result)
    off = plan(inst, price_of_fairness=False, tie_break=False)
    assert off.movement_cleanup is not None and off.movement_cleanup.status == "skipped"
    assert "tie-break is off" in plan_text(off)
    with pytest.raises(ValueError, match="movement cleanup status"):
        MovementCleanup.from_dict({"status": "done"})


def test_skipped_cleanup_counts_the_plan_as_it_is(engine: PlanEngine) -> None:
    _, dirty = dirty_plan(engine)
    info = skipped_cleanup(engine.setting, dirty, "why")
    assert info.status == "skipped" and info.reason == "why"
    assert info.units_before == info.units_after == 12.0
    assert info.transferred_before == 7.0


def test_the_cli_json_carries_the_cleanup(tmp_path: Path, run_cli: Any) -> None:
    folder = three_regions(tmp_path / "three")
    done = run_cli("plan", folder, "--json", "--no-price")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["movement_cleanup"]["status"] in ("cleaned", "unchanged")
    done = run_cli("plan", folder)
    assert done.returncode == 0, done.stderr
    assert "movements" in done.stdout
