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
    rows += _patient_rows(engine, x)
    movement = pd.DataFrame(
        rows, columns=["kind", "day", "src", "dst", "units", "arrives", "cohort_day", "status"]
    )
    ag, as_ = p.admit.group, p.admit.day
    adm = x[p.admit.cols]
    keep = np.nonzero(adm > 0)[0]
    admits = pd.DataFrame(
        {
            "kind": "admit",
            "day": as_[keep],
            "src": [regions[d.group_region[g]] for g in ag[keep]],
            "dst": [regions[d.group_region[g]] for g in ag[keep]],
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

    # recompute the flows from the clean values (what check-plan will replay)
    inflow = np.zeros((n, T))
    inflow[:, 0] = d.own[:, 0]
    inflow[:, 1:] = d.own[:, 1:] - d.own[:, :-1]
    rix = {r: i for i, r in enumerate(regions)}
    for row in records(movement):
        if row.kind in ("ship", "transfer"):
            inflow[rix[row.dst], row.arrives] += row.units
        if row.kind == "transfer":
            inflow[rix[row.src], row.day] -= row.units
    hand = np.cumsum(inflow, axis=1)
    occ = np.zeros((n, T))
    treated = np.zeros((n, T))
    admitted = np.zeros((n, T))
    sent = np.zeros((n, T))
    received = np.zeros((n, T))
    for g, s, v in zip(ag[keep], as_[keep], adm[keep], strict=True):
        r, stay = d.group_region[g], d.group_stay[g]
        occ[r, s : s + stay] += v
        treated[r, s : s + stay] += v
        admitted[r, s] += v
    for row in records(movement[movement["kind"] == "patients"]):
        q, r = rix[row.src], rix[row.dst]
        stay = int(d.los[q])
        occ[r, row.day : row.day + stay] += row.units
        treated[q, row.day : row.day + stay] += row.units
        sent[q, row.day] += row.units
        received[r, row.day] += row.units
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
    for row in records(movement):
        if row.kind == "ship":
            shipped_in[rix[row.dst]] += row.units
        elif row.kind == "transfer":
            t_in[rix[row.dst]] += row.units
            t_out[rix[row.src]] += row.units
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
    engine: PlanEngine, x: np.ndarray
) -> list[tuple[str, int, str, str, float, int, float, str]]:
    """Patients moved, one row per lane and cohort: the cohorts each region sends that day
    (o_{g,d}) matched in order to the lanes they leave on (z_{b,d})."""
    p, d = engine.model, engine.data
    if not len(p.ptransfer.cols):
        return []
    regions = list(d.regions)
    og, os_ = p.send.group, p.send.day
    sv = x[p.send.cols]
    pb, pd_ = p.ptransfer.lane, p.ptransfer.day
    pv = x[p.ptransfer.cols]
    cohorts: dict[tuple[int, int], list[list[float]]] = {}
    for g, s, v in zip(og, os_, sv, strict=True):
        if v > 0:
            cohorts.setdefault((int(d.group_region[g]), int(s)), []).append(
                [float(d.group_day[g]), float(v)]
            )
    lanes: dict[tuple[int, int], list[list[float]]] = {}
    for b, day, v in zip(pb, pd_, pv, strict=True):
        if v > 0:
            lanes.setdefault((int(d.pt_src[b]), int(day)), []).append(
                [float(d.pt_dst[b]), float(v)]
            )
    out = []
    for (r, day), groups in sorted(cohorts.items()):
        targets = lanes.get((r, day), [])
        j = 0
        for e, amount in groups:
            left = amount
            while left > 1e-12 and targets:
                q, cap = targets[j]
                take = left if j == len(targets) - 1 else min(left, cap)
                if take > 0:
                    out.append(
                        (
                            "patients",
                            day,
                            regions[r],
                            regions[int(q)],
                            round(take, VALUE_DIGITS),
                            day,
                            e,
                            "planned",
                        )
                    )
                targets[j][1] -= take
                left -= take
                if targets[j][1] <= 1e-12 and j < len(targets) - 1:
                    j += 1
    return out
