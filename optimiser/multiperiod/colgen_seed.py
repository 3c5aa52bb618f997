"""The column generation's first movement columns, from a time-aggregated LP (issue 12, track
seed1000).

The planner's first LP (methods/rounding.py: lives less CLEANUP_COST x logistics, by column
generation from a master without any movement column) spends most of its time in late rounds
of warm primal simplex on a large master (HiGHS 1.15 scans every master column per pivot:
BENCHMARKS.md, "Planner growth 2"). Started with the movement columns of its final optimum, the
same LP took 11.4 CPU-s instead of 93.4 at 1,000 x 90 (BENCHMARKS.md, "seed1000").

`seed_columns` predicts those columns cheaply: the same model over days grouped into blocks of
BLOCK days (`coarse_data`: deliveries summed per block, capacities the block's least, stays and
lead times in blocks), its LP solved by the same column generation, and each shipment or
transfer lane used in a block there gives the fine model's columns of that lane on every day of
the block. Seeding changes only the master the column generation starts from: it still prices
every candidate until none improves, so the LP optimum is unchanged (tests/test_seed1000_*).

Deterministic: the coarse model and its LP depend on the data alone.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from models.multiperiod import MultiPeriodData, PlanModel, build_plan_model
from models.multiperiod_data import logistics_costs
from optimiser.solver import SolverOptions, SolveStatus

BLOCK = 6  # days per block of the coarse model
# Seed only models with at least this many movement candidates: 800 x 90 has 924,000, 1,000 x 90
# 1.15 million, 1,600 x 90 1.85 million; 400 x 90 (462,000) and 100 x 365 (473,000) are not
# seeded (not measured to gain there)
MIN_CANDIDATES = 700_000
MIN_DAYS = 4 * BLOCK  # ... and at least this many days (fewer: the coarse model is too short)
VALUE_TOL = 1e-9  # a coarse movement used: above this


def applies(data: MultiPeriodData, program: PlanModel) -> bool:
    """Whether `seed_columns` is tried: a large model of a plain horizon (planned from day 0,
    nothing executed, no shipment limit, no patient transfers)."""
    candidates = len(program.ship.cols) + len(program.transfer.cols)
    return (
        candidates >= MIN_CANDIDATES
        and data.days >= MIN_DAYS
        and data.first_day == 0
        and data.inflow is None
        and data.max_shipments_per_day is None
        and not data.patient_transfers
    )


def _blocks(a: np.ndarray, block: int, how: str) -> np.ndarray:
    """(rows, T) -> (rows, ceil(T / block)): each block's sum, min or max."""
    rows, T = a.shape
    tc = math.ceil(T / block)
    pad = tc * block - T
    if pad:
        fill = {"sum": 0.0, "min": np.inf, "max": -np.inf}[how]
        a = np.concatenate([a, np.full((rows, pad), fill)], axis=1)
    shaped = a.reshape(rows, tc, block)
    if how == "sum":
        return np.asarray(shaped.sum(axis=2))
    if how == "min":
        return np.asarray(shaped.min(axis=2))
    return np.asarray(shaped.max(axis=2))


def _lead(lead: np.ndarray, block: int) -> np.ndarray:
    """Lead times in blocks (the nearest whole number)."""
    return np.floor((lead + block // 2) / block).astype(np.int64)


def coarse_data(data: MultiPeriodData, block: int = BLOCK) -> MultiPeriodData:
    """The data over blocks of `block` days: deliveries summed per block (at its start), each
    region's own units and staff the block's least, patients needing units the block's most,
    arrival days, stays, waits and lead times in blocks. Only a start for the column
    generation: nothing of the coarse LP reaches a plan."""
    tc = math.ceil(data.days / block)
    stay = np.maximum(np.ceil(data.group_stay / block), 1).astype(np.int64)
    day = np.floor_divide(data.group_day, block)
    # groups alike in blocks (region, arrival, stay, already on units or not) are one group
    held_g = data.held
    key = np.stack([data.group_region, day, stay, (held_g > 0).astype(np.int64)], axis=1)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    size = np.bincount(inverse, weights=data.group_size, minlength=len(uniq))
    held_c = np.bincount(inverse, weights=held_g, minlength=len(uniq))
    held = None if data.held_occupancy is None else _blocks(data.held_occupancy, block, "max")
    return replace(
        data,
        group_region=uniq[:, 0].astype(np.int64),
        group_day=uniq[:, 1].astype(np.int64),
        group_stay=uniq[:, 2].astype(np.int64),
        group_size=size,
        group_held=None if data.group_held is None else held_c,
        days=tc,
        own=_blocks(data.own, block, "min"),
        staff=_blocks(data.staff, block, "min"),
        deliveries=_blocks(data.deliveries, block, "sum"),
        ship_lead=_lead(data.ship_lead, block),
        arc_lead=_lead(data.arc_lead, block),
        los=np.maximum(np.ceil(data.los / block), 1).astype(np.int64),
        need=_blocks(data.need, block, "max"),
        held_occupancy=held,
        max_wait=math.ceil(data.max_wait / block),
        delivered=None,
    )


def _lane_blocks(
    fine_key: np.ndarray,
    fine_day: np.ndarray,
    used_key: np.ndarray,
    used_block: np.ndarray,
    block: int,
) -> np.ndarray:
    """Mask of the fine columns (lane key, day) whose (lane, block) is among the used ones."""
    if not len(used_key):
        return np.zeros(len(fine_key), dtype=bool)
    span = int(max(fine_day.max(initial=0) // block, used_block.max(initial=0))) + 1
    used = np.unique(used_key * span + used_block)
    return np.isin(fine_key * span + fine_day // block, used)


def seed_columns(
    program: PlanModel,
    data: MultiPeriodData,
    options: SolverOptions,
    block: int = BLOCK,
    time_limit: float | None = None,
) -> np.ndarray:
    """Full-model movement columns (shipments, transfers) to start the column generation's
    master with: those of the lanes and blocks the coarse model's LP (`coarse_data`; lives
    less CLEANUP_COST x logistics, as the planner's first LP) uses. Empty when the coarse LP is
    not solved to optimality (a start only: nothing is lost)."""
    from optimiser.multiperiod.colgen import MAX_ENTERING_PER_ROW, ColumnGeneration
    from optimiser.multiperiod.methods.base import CLEANUP_COST

    start = time.perf_counter()
    coarse = coarse_data(data, block)
    cp = build_plan_model(coarse)
    cg = ColumnGeneration(
        cp, coarse, options, movements_first=True, max_per_row=MAX_ENTERING_PER_ROW
    )
    # the logistics cost of the fine lanes (lead times in days, not blocks): the coarse LP
    # chooses among donors and depots as the fine one does
    logistics = np.zeros(cp.shape[1])
    fine = logistics_costs(data)
    n = data.n
    ship_cost = np.zeros((len(data.depots), n))
    ship_cost[program.ship.depot, program.ship.region] = fine["ship"]
    logistics[cp.ship.cols] = ship_cost[cp.ship.depot, cp.ship.region]
    if len(cp.transfer.cols):
        lane_cost = np.zeros(len(data.arc_src))
        lane_cost[program.transfer.lane] = fine["transfer"]
        logistics[cp.transfer.cols] = lane_cost[cp.transfer.lane]
    cost = cp.lives - CLEANUP_COST * logistics
    left = None if time_limit is None else max(0.05, time_limit - (time.perf_counter() - start))
    lp = cg.solve_lp(cost, True, left)
    if lp.status is not SolveStatus.OPTIMAL or lp.values is None:
        return np.zeros(0, dtype=np.int64)
    x = lp.values
    s, t = cp.ship, cp.transfer
    ship_used = x[s.cols] > VALUE_TOL
    tr_used = x[t.cols] > VALUE_TOL
    fs, ft = program.ship, program.transfer
    ships = _lane_blocks(
        fs.depot * n + fs.region,
        fs.day,
        (s.depot * n + s.region)[ship_used],
        s.day[ship_used],
        block,
    )
    transfers = _lane_blocks(ft.lane, ft.day, t.lane[tr_used], t.day[tr_used], block)
    return np.concatenate([fs.cols[ships], ft.cols[transfers]]).astype(np.int64)
