"""From a solution to the plan's tables: the manifest, the plan check-plan replays, the
per region-day table and the per-region totals (docs/multiperiod.md, "Outputs").

The flows are recomputed from the clean values (patients rounded as written to the plan), so
the tables say what check-plan will replay.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimiser.multiperiod.methods.base import VALUE_DIGITS, clean_values
from optimiser.multiperiod.plan_io import plan_frame, records
from optimiser.multiperiod.sums import Moves, add_in_order, add_ranges

if TYPE_CHECKING:
    from optimiser.multiperiod.engine import PlanEngine


def extract(engine: PlanEngine, values: np.ndarray) -> dict[str, Any]:
    """Manifest, plan rows, per region-day table and per-region totals from a solution."""
    p, d, inst = engine.model, engine.data, engine.instance
    x = clean_values(p, values)
    n, T = d.n, d.days
    regions, depots = list(d.regions), list(d.depots)
    B = d.batch_size
    rows: list[tuple[str, int, str, str, float, int, float, str]] = []
    for row in records(engine.executed):
        rows.append(
            (
                row.kind,
                int(row.day),
                row.src,
                row.dst,
                float(row.units),
                int(row.arrives),
                math.nan,
                "executed",
            )
        )
    sk, sr, sd = p.ship.depot, p.ship.region, p.ship.day
    ship_units = B * x[p.ship.cols]
    for i in np.nonzero(ship_units > 0)[0]:
        k, r, day = int(sk[i]), int(sr[i]), int(sd[i])
        rows.append(
            (
                "ship",
                day,
                depots[k],
                regions[r],
                float(ship_units[i]),
                day + int(d.ship_lead[k, r]),
                math.nan,
                "planned",
            )
        )
    ta, td = p.transfer.lane, p.transfer.day
    tr = x[p.transfer.cols]
    for i in np.nonzero(tr > 0)[0]:
        a, day = int(ta[i]), int(td[i])
        rows.append(
            (
                "transfer",
                day,
                regions[d.arc_src[a]],
                regions[d.arc_dst[a]],
                float(tr[i]),
                day + int(d.arc_lead[a]),
                math.nan,
                "planned",
            )
        )
    rows += _patient_rows(engine, values, x)
    movement = pd.DataFrame(
        rows, columns=["kind", "day", "src", "dst", "units", "arrives", "cohort_day", "status"]
    )
    ag, as_ = p.admit.group, p.admit.day
    adm = x[p.admit.cols]
    keep = np.nonzero(adm > 0)[0]
    names = np.asarray(regions, dtype=object)
    admit_region = names[d.group_region[ag[keep]]].tolist()
    admits = pd.DataFrame(
        {
            "kind": "admit",
            "day": as_[keep],
            "src": admit_region,
            "dst": admit_region,
            "units": adm[keep],
            "arrives": as_[keep],
            "cohort_day": d.group_day[ag[keep]].astype(float),
            "status": "planned",
        }
    )
    order = {"ship": 0, "transfer": 1, "patients": 2, "admit": 3}
    movement = movement.sort_values(
        ["day", "kind", "src", "dst"],
        key=lambda c: c.map(order) if c.name == "kind" else c,
        kind="stable",
    )
    plan_rows = (
        pd.concat([movement, admits], ignore_index=True)
        if len(admits)
        else movement.reset_index(drop=True)
    )
    plan_rows = plan_rows.sort_values(
        ["day", "kind"], key=lambda c: c.map(order) if c.name == "kind" else c, kind="stable"
    )
    manifest = plan_frame(movement, inst)
    manifest["status"] = movement["status"].to_numpy()
    plan_csv = plan_frame(plan_rows, inst)

    # recompute the flows from the clean values (what check-plan will replay); every sum is
    # made in the rows' order, as one row at a time would (add_in_order, add_ranges)
    moves = Moves.of(movement, regions)
    inflow = np.zeros((n, T))
    inflow[:, 0] = d.own[:, 0]
    inflow[:, 1:] = d.own[:, 1:] - d.own[:, :-1]
    unit = np.flatnonzero(moves.unit)
    transfer = moves.transfer[unit]
    # per unit movement, its arrival (+) and, for a transfer, its departure (-) right after
    first = np.cumsum(1 + transfer) - 1 - transfer
    at_r = np.empty(len(unit) + int(transfer.sum()), dtype=np.int64)
    at_d, amount = np.empty_like(at_r), np.empty(len(at_r))
    at_r[first], at_d[first] = moves.dst[unit], moves.arrives[unit]
    amount[first] = moves.units[unit]
    out = first[transfer] + 1
    at_r[out], at_d[out] = moves.src[unit][transfer], moves.day[unit][transfer]
    amount[out] = -moves.units[unit][transfer]
    add_in_order(inflow, at_r, at_d, amount)
    hand = np.cumsum(inflow, axis=1)
    occ = np.zeros((n, T))
    treated = np.zeros((n, T))
    admitted = np.zeros((n, T))
    sent = np.zeros((n, T))
    received = np.zeros((n, T))
    r_adm, s_adm, v_adm = d.group_region[ag[keep]], as_[keep], adm[keep]
    stay_adm = d.group_stay[ag[keep]]
    add_ranges(occ, r_adm, s_adm, s_adm + stay_adm, v_adm)
    add_ranges(treated, r_adm, s_adm, s_adm + stay_adm, v_adm)
    add_in_order(admitted, r_adm, s_adm, v_adm)
    moved = np.flatnonzero(moves.patients)
    src, dst = moves.src[moved], moves.dst[moved]
    sent_day, moved_units = moves.day[moved], moves.units[moved]
    end = sent_day + d.los[src].astype(np.int64)
    add_ranges(occ, dst, sent_day, end, moved_units)
    add_ranges(treated, src, sent_day, end, moved_units)
    add_in_order(sent, src, sent_day, moved_units)
    add_in_order(received, dst, sent_day, moved_units)
    resolved = np.zeros(len(d.group_size))
    np.add.at(resolved, ag, adm)
    np.add.at(resolved, p.send.group, x[p.send.cols])
    lost = np.zeros((n, T))
    np.add.at(lost, (d.group_region, d.group_last), np.maximum(d.group_size - resolved, 0.0))
    arrivals = np.zeros((n, T))
    np.add.at(arrivals, (d.group_region, d.group_first), d.group_size)
    gain = d.gain
    survivors = gain[:, None] * (admitted + sent)
    waiting = np.cumsum(arrivals - admitted - sent - lost, axis=1)
    shortfall = np.maximum(d.need - treated, 0.0)
    usable = np.minimum(hand, np.where(np.isfinite(d.staff), d.own + d.staff, np.inf))
    supply_shortfall = np.maximum(d.need - usable, 0.0)
    daily = pd.DataFrame(
        {
            "region": np.repeat(regions, T),
            "day": np.tile(np.arange(T), n),
            "patients_arriving": arrivals.ravel(),
            "admitted": admitted.ravel(),
            "sent_out": sent.ravel(),
            "received": received.ravel(),
            "not_admitted": lost.ravel(),
            "waiting": np.maximum(waiting, 0.0).ravel(),
            "occupancy": occ.ravel(),
            "units_on_hand": hand.ravel(),
            "spare_units": (hand - occ).ravel(),
            "own_units": d.own.ravel(),
            "need": d.need.ravel(),
            "treated": treated.ravel(),
            "shortfall": shortfall.ravel(),
            "supply_shortfall": supply_shortfall.ravel(),
            "expected_survivors": survivors.ravel(),
        }
    )
    if inst.start_date is not None:
        daily.insert(2, "date", [inst.date(t) for t in daily["day"]])
    shipped_in = np.zeros(n)
    t_in = np.zeros(n)
    t_out = np.zeros(n)
    np.add.at(shipped_in, moves.dst[moves.ship], moves.units[moves.ship])
    np.add.at(t_in, moves.dst[moves.transfer], moves.units[moves.transfer])
    np.add.at(t_out, moves.src[moves.transfer], moves.units[moves.transfer])
    totals = pd.DataFrame(index=pd.Index(regions, name="region"))
    totals["name"] = inst.base.regions["name"].to_numpy()
    totals["patients"] = arrivals.sum(axis=1)
    totals["admitted"] = admitted.sum(axis=1) + sent.sum(axis=1)
    totals["sent_out"] = sent.sum(axis=1)
    totals["received_patients"] = received.sum(axis=1)
    totals["not_admitted"] = lost.sum(axis=1)
    totals["expected_survivors"] = survivors.sum(axis=1)
    totals["units_shipped_in"] = shipped_in
    totals["transfers_in"] = t_in
    totals["transfers_out"] = t_out
    totals["net_received"] = hand[:, T - 1] - d.own[:, T - 1]
    totals["peak_need"] = d.need.max(axis=1)
    totals["peak_occupancy"] = occ.max(axis=1)
    totals["own_units_day0"] = d.own[:, 0]
    totals["shortfall"] = shortfall.sum(axis=1)
    totals["supply_shortfall"] = supply_shortfall.sum(axis=1)
    stock_end = float(np.cumsum(d.deliveries, axis=1)[:, -1].sum() - ship_units.sum())
    return {
        "manifest": manifest,
        "movement": movement,
        "plan": plan_csv,
        "daily": daily,
        "regions": totals,
        "lives": float(survivors.sum()),
        "shortfall": float(shortfall.sum()),
        "supply_shortfall": float(supply_shortfall.sum()),
        "reserve_left": stock_end,
    }


def _patient_rows(
    engine: PlanEngine, values: np.ndarray, x: np.ndarray
) -> list[tuple[str, int, str, str, float, int, float, str]]:
    """Patients moved, one row per lane and cohort: the cohorts each region sends that day
    (o_{g,d}) matched in order to the lanes they leave on (z_{b,d}), on the solver's values
    (`values`, clipped to their bounds), then each cohort's pieces rounded to VALUE_DIGITS
    decimals so they sum exactly to the cohort as written (`x`, the clean values): see
    `split_cohorts`."""
    p, d = engine.model, engine.data
    if not len(p.ptransfer.cols):
        return []
    regions = list(d.regions)
    unit = 10**VALUE_DIGITS
    raw = np.clip(values, p.col_lower, p.col_upper)
    cohorts: dict[tuple[int, int], list[tuple[float, float, int]]] = {}
    for g, s, c in zip(p.send.group, p.send.day, p.send.cols, strict=True):
        if x[c] > 0:
            cohorts.setdefault((int(d.group_region[g]), int(s)), []).append(
                (float(d.group_day[g]), float(raw[c]), round(float(x[c]) * unit))
            )
    lanes: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for b, day, c in zip(p.ptransfer.lane, p.ptransfer.day, p.ptransfer.cols, strict=True):
        if raw[c] > 0:
            lanes.setdefault((int(d.pt_src[b]), int(day)), []).append(
                (int(d.pt_dst[b]), float(raw[c]))
            )
    out = []
    for (r, day), groups in sorted(cohorts.items()):
        for e, q, amount in split_cohorts(groups, lanes.get((r, day), [])):
            out.append(("patients", day, regions[r], regions[q], amount / unit, day, e, "planned"))
    return out


def split_cohorts(
    cohorts: list[tuple[float, float, int]], lanes: list[tuple[int, float]]
) -> list[tuple[float, int, int]]:
    """One region-day's patients sent, as (cohort day, lane destination, amount in units of
    10^-VALUE_DIGITS patients).

    `cohorts`: (cohort day, amount the solver sent, amount as written in units of
    10^-VALUE_DIGITS); `lanes`: (destination, amount the solver moved). The cohorts are matched
    in order to the lanes on the solver's amounts (they balance to its tolerance; the last lane
    takes what is left), then each cohort's pieces are rounded by largest remainder so they sum
    exactly to the cohort as written. Written amounts are floored column by column, so the
    cohorts and the lanes, each floored, can differ by a few 10^-9: splitting the floored
    amounts left that difference to the last lane ("move 1.000000001 patients")."""
    pieces: list[tuple[int, int, float]] = []  # (cohort index, destination, solver's amount)
    left_on = [amount for _, amount in lanes]
    j = 0
    for i, (_, sent, _) in enumerate(cohorts):
        left = sent
        while left > 0 and lanes:
            last = j == len(lanes) - 1
            take = left if last else min(left, left_on[j])
            if take > 0:
                pieces.append((i, lanes[j][0], take))
            left_on[j] -= take
            left -= take
            if not last and left_on[j] <= 0:
                j += 1
            elif last:
                break
    unit = 10**VALUE_DIGITS
    out: list[tuple[float, int, int]] = []
    for i, (day, _, written) in enumerate(cohorts):
        mine = [(q, amount * unit) for k, q, amount in pieces if k == i]
        # floored as clean_values floors (a hair under a whole count is that count)
        whole = [math.floor(a + 1e-3) for _, a in mine]
        order = sorted(range(len(mine)), key=lambda k: whole[k] - mine[k][1])  # largest first
        short = written - sum(whole)
        for n in range(max(short, 0) if mine else 0):
            whole[order[n % len(order)]] += 1
        for k in reversed(order):  # written below the pieces: take from the smallest remainders
            if short >= 0:
                break
            take = min(whole[k], -short)
            whole[k] -= take
            short += take
        out += [(day, q, w) for (q, _), w in zip(mine, whole, strict=True) if w > 0]
    return out
