"""Track pyrest: the extraction's per region-day sums made at once (optimiser/multiperiod/sums.py)
are the row-by-row loop's, bit for bit, and a plan's daily table is the one that loop gave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimiser.multiperiod import GeneratorSpec, generate, load_multiperiod
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.extract import extract
from optimiser.multiperiod.methods.base import clean_values
from optimiser.multiperiod.sums import Moves, add_in_order, add_ranges


def loop_ranges(target: np.ndarray, rows, start, stop, values) -> None:
    for r, a, b, v in zip(rows, start, stop, values, strict=True):
        target[r, a:b] += v


def loop_cells(target: np.ndarray, rows, cols, values) -> None:
    for r, c, v in zip(rows, cols, values, strict=True):
        target[r, c] += v


def awkward(rng: np.random.Generator, size: int) -> np.ndarray:
    # sums of these depend on their order (0.1 + 0.2 + 0.3 != 0.3 + 0.2 + 0.1)
    return rng.choice([0.1, 0.2, 0.3, 1e-9, 1e9, 1 / 3, 2.5, 7.0], size) * rng.random(size)


@pytest.mark.parametrize("seed", range(10))
def test_add_ranges_is_the_loop_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, T, k = int(rng.integers(1, 6)), int(rng.integers(1, 12)), int(rng.integers(0, 400))
    rows = rng.integers(0, n, k)
    start = rng.integers(0, T + 3, k)  # some start past the last column
    stop = np.maximum(start + rng.integers(-2, T + 2, k), 0)  # empty, cut at the end, whole
    values = awkward(rng, k)
    base = awkward(rng, n * T).reshape(n, T)
    fast, slow = base.copy(), base.copy()
    add_ranges(fast, rows, start, stop, values)
    loop_ranges(slow, rows, start, stop, values)
    assert np.array_equal(fast, slow)
    assert fast.tobytes() == slow.tobytes()


def test_add_ranges_edge_cases() -> None:
    target = np.zeros((2, 4))
    add_ranges(target, np.zeros(0, int), np.zeros(0, int), np.zeros(0, int), np.zeros(0))
    assert not target.any()
    # a slice from the end (negative bounds): the loop's own meaning, kept
    rows, start, stop = np.array([0, 1]), np.array([-2, 1]), np.array([4, -1])
    values = np.array([0.5, 0.25])
    fast, slow = np.zeros((2, 4)), np.zeros((2, 4))
    add_ranges(fast, rows, start, stop, values)
    loop_ranges(slow, rows, start, stop, values)
    assert np.array_equal(fast, slow) and fast[0, 2:].tolist() == [0.5, 0.5]


@pytest.mark.parametrize("seed", range(6))
def test_add_in_order_is_the_loop_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, T, k = 3, 5, 300  # many additions per cell
    rows, cols = rng.integers(0, n, k), rng.integers(0, T, k)
    values = awkward(rng, k) * rng.choice([-1.0, 1.0], k)
    fast, slow = np.full((n, T), 0.7), np.full((n, T), 0.7)
    add_in_order(fast, rows, cols, values)
    loop_cells(slow, rows, cols, values)
    assert fast.tobytes() == slow.tobytes()


def test_moves_reads_kinds_and_names_a_missing_region() -> None:
    movement = pd.DataFrame(
        {
            "kind": ["ship", "transfer", "patients"],
            "day": [0, 1, 2],
            "src": ["D1", "B", "A"],
            "dst": ["A", "A", "B"],
            "units": [2.0, 1.5, 0.25],
            "arrives": [1, 2, 2],
        }
    )
    m = Moves.of(movement, ["A", "B"])
    assert m.ship.tolist() == [True, False, False] and m.unit.tolist() == [True, True, False]
    assert m.src.tolist() == [-1, 1, 0] and m.dst.tolist() == [0, 0, 1]
    with pytest.raises(KeyError):
        Moves.of(movement.assign(dst=["A", "Z", "B"]), ["A", "B"])


def old_flows(engine: PlanEngine, movement: pd.DataFrame, x: np.ndarray) -> dict[str, np.ndarray]:
    """The row-by-row loops extract.py had before track pyrest (reference)."""
    p, d = engine.model, engine.data
    n, T, regions = d.n, d.days, list(d.regions)
    inflow = np.zeros((n, T))
    inflow[:, 0] = d.own[:, 0]
    inflow[:, 1:] = d.own[:, 1:] - d.own[:, :-1]
    rix = {r: i for i, r in enumerate(regions)}
    for row in movement.itertuples(index=False):
        if row.kind in ("ship", "transfer"):
            inflow[rix[row.dst], row.arrives] += row.units
        if row.kind == "transfer":
            inflow[rix[row.src], row.day] -= row.units
    occ, treated, admitted = np.zeros((n, T)), np.zeros((n, T)), np.zeros((n, T))
    sent, received = np.zeros((n, T)), np.zeros((n, T))
    ag, as_ = p.admit.group, p.admit.day
    adm = x[p.admit.cols]
    keep = np.nonzero(adm > 0)[0]
    for g, s, v in zip(ag[keep], as_[keep], adm[keep], strict=True):
        r, stay = d.group_region[g], d.group_stay[g]
        occ[r, s : s + stay] += v
        treated[r, s : s + stay] += v
        admitted[r, s] += v
    for row in movement[movement["kind"] == "patients"].itertuples(index=False):
        q, r = rix[row.src], rix[row.dst]
        stay = int(d.los[q])
        occ[r, row.day : row.day + stay] += row.units
        treated[q, row.day : row.day + stay] += row.units
        sent[q, row.day] += row.units
        received[r, row.day] += row.units
    return {
        "units_on_hand": np.cumsum(inflow, axis=1),
        "occupancy": occ,
        "treated": treated,
        "admitted": admitted,
        "sent_out": sent,
        "received": received,
    }


@pytest.mark.parametrize("patients", [False, True])
def test_a_plans_daily_table_is_the_loops(tmp_path, patients: bool) -> None:
    # test_check_plan's instance whose plan moves patients (between both ways, days 7 and 11)
    spec = GeneratorSpec(regions=6, days=14, depots=2, seed=44)
    instance = load_multiperiod(generate(spec, tmp_path / "g"))
    if patients:
        instance = instance.with_settings(
            max_wait_days=2, patient_transfers=True, patient_transfer_max_lead_days=3
        )
    engine = PlanEngine(instance, [])
    out = engine.solve([])
    assert out.values is not None
    parts = extract(engine, out.values)
    flows = old_flows(engine, parts["movement"], clean_values(engine.model, out.values))
    daily = parts["daily"]
    for column, table in flows.items():
        assert daily[column].to_numpy().tobytes() == table.ravel().tobytes(), column
    kinds = set(parts["movement"]["kind"])
    assert "ship" in kinds
    assert ("patients" in kinds) == patients
