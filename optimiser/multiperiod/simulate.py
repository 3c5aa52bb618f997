"""check-plan: replay a plan day by day and report its expected survivors and every rule it
breaks. Written independently of the optimisation model: no Pyomo, no HiGHS, no model code
(models.*, the fast path, the engine). What it shares with the planner, and why, is the reading
of the inputs only (docs/multiperiod.md, "check-plan"): the validated instance (instance.py),
the plan file reader (plan_io.py) and the documented census -> arrivals rule and lane lists
(demand.py). The fairness constraints are checked from their definitions by checks/<kind>.py
(one checker per kind), not taken from the model.

Each day d, in this order: own capacity changes; depot deliveries; units in transit arrive
(and those the day's rows bring with lead time 0); new patients arrive; the day's ship and
transfer rows leave (checked against depot stock, the units free of patients, donor
protection, lanes, lead times, batch size, shipments per day);
patient transfers (checked against waiting patients, free units at the destination, lanes,
per-day limit), admitted on arrival; admissions (the plan's admit rows, or, when the plan has
none, every waiting patient for whom a unit and staff are free for the whole stay, earliest
deadline first, leaving waiting the patients a later patients row moves and free the units a
later patients row fills); staff and cover checks; patients whose last admission day has
passed are lost.

A broken rule is reported once, at its cause: units a row takes beyond what a depot or region
had (or beyond the units free of patients) are booked as that depot's or region's *debt*, and
later checks count them as present until the shortfall they caused has ended, so one bad row
does not echo as a violation on every later day.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from optimiser.errors import counted
from optimiser.multiperiod.demand import patient_groups, patients_on_units
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.prepared_plan import PreparedPlan
from optimiser.multiperiod.simulation import (
    FLOOR_EPS,
    MAX_IDLE_LISTED,
    TOL,
    Simulation,
    Violation,
    free_units_text,
    idle_while_waiting,
    incoming_after,
    no_free_unit,
    patients,
    units_text,
    windows,
)


def simulate(instance: MultiPeriodInstance, plan: pd.DataFrame, *, today: int = 0) -> Simulation:
    """Replay `plan` (rows from plan_io.read_plan / plan_rows) through the instance, day by
    day, with the instance's settings. Rows before `today` are executed moves (a re-plan's):
    every rule but the dispatch rules (batch size, shipments per day) applies to them."""
    return PlanReplay(instance, plan, today=today).run()


class PlanReplay(PreparedPlan):
    """A plan made ready to replay in an instance: everything the replay needs that does not
    depend on the demand table (the instance's tables as arrays, the lanes, the plan's rows by
    day as plain tuples, the units the plan keeps in each region) is computed once, and
    `run(demand)` replays the plan under one demand table. `simulate()` is one run with the
    instance's own demand; the out-of-sample evaluation prepares a plan once and runs it in
    every scenario. The rules and the order of every sum are those described at the top of
    this module (tests/test_simulate_fast.py holds the replay to the bit against the
    day-by-day reference kept in tests/simulate_reference.py)."""

    def run(self, demand: np.ndarray | None = None) -> Simulation:
        """Replay under `demand` (regions x days in the instance's order; default: the
        instance's own demand table)."""
        instance, s = self.instance, self.instance.settings
        regions, own, staff, staffed = self.regions, self.own, self.staff, self.staffed
        gain, los, plane = self.gain, self.los, self.plane
        n, T = len(regions), instance.days
        table = instance.demand.to_numpy(dtype=float) if demand is None else demand
        table = np.asarray(table, dtype=float)
        if table.shape != (n, T):
            raise ValueError(f"demand must be regions x days, {n} x {T}; got {table.shape}")
        groups = patient_groups(instance.demand_kind, table, los)
        donor = s.donor_keep_share if s.transfers else 0.0
        batch = s.batch_size
        max_wait = s.max_wait_days
        violations: list[Violation] = []

        def broke(rule: str, day: int, message: str, line: int | None = None) -> None:
            violations.append(
                Violation(rule, int(day), message, None if line is None else int(line))
            )

        # Patients: need (independent of treatment; patient_groups adds the groups in the
        # order the replay would) and cohorts arriving each day, by region.
        need = groups.need.copy()
        arriving: dict[int, list[tuple[int, int, int, float]]] = defaultdict(list)
        for r, e, stay, size in zip(
            groups.region.tolist(),
            groups.day.tolist(),
            groups.stay.tolist(),
            groups.size.tolist(),
            strict=True,
        ):
            arriving[max(e, 0)].append((r, e, stay, size))

        def last_day(e: int) -> int:
            return 0 if e < 0 else min(e + max_wait, T - 1)

        reserved = defaultdict(float, self.reserved)
        incoming = self.incoming.copy() if self.arrivals and not self.has_admissions else None
        stock = np.zeros(len(instance.depots))
        depot_debt = np.zeros(len(instance.depots))  # units shipped beyond stock, reported
        on_hand_now = np.zeros(n)
        debt = np.zeros(n)  # units taken beyond a region's (free) units, already reported
        staff_over = np.zeros(n)  # patients beyond the staff cap, already reported
        in_transit: dict[int, list[tuple[int, float]]] = defaultdict(list)
        occupancy = np.zeros((n, T))
        treated = np.zeros((n, T))
        admitted = np.zeros((n, T))
        lost = np.zeros((n, T))
        on_hand = np.zeros((n, T))
        arrived = np.zeros((n, T))  # units arriving by shipment or transfer
        survivors_by_region = np.zeros(n)
        admissions: list[tuple[int, int, int, int, float]] = []
        # r -> e -> [patients left, stay, last admission day], in order of arrival day
        waiting: list[dict[int, list[Any]]] = [{} for _ in range(n)]

        def treat(origin: int, where: int, day: int, count: float, stay: int, cohort: int) -> None:
            occupancy[where, day : day + stay] += count
            treated[origin, day : day + stay] += count
            admitted[origin, day] += count
            survivors_by_region[origin] += gain[origin] * count
            admissions.append((origin, where, day, cohort, count))

        def treat_regions(
            rs: np.ndarray,
            day: int,
            counts: np.ndarray,
            stays: np.ndarray,
            window: tuple[np.ndarray, np.ndarray] | None = None,
        ) -> None:
            """treat(r, r, day, count, stay, ...) for several regions at once (each region at
            most once: the cells are distinct, so each gets the one sum treat() makes); the
            caller lists the admissions. `window`: windows(day, stays, T), when known."""
            cols, valid = window or windows(day, stays, T)
            r_cells = np.broadcast_to(rs[:, None], valid.shape)[valid]
            x_cells = np.broadcast_to(counts[:, None], valid.shape)[valid]
            occupancy[r_cells, cols[valid]] += x_cells
            treated[r_cells, cols[valid]] += x_cells
            admitted[rs, day] += counts
            survivors_by_region[rs] += gain[rs] * counts

        def free_units(r: int, d: int) -> float:
            """Units in r not in use by patients, counting the debt already reported."""
            return float(on_hand_now[r] + debt[r] - occupancy[r, d])

        def take(
            r: int,
            count: float,
            cohort: float,
            day: int,
            line: int,
            what: str,
            held: float = 0.0,
        ) -> list[tuple[int, float]]:
            """Remove `count` waiting patients of region r (one cohort, or earliest deadline
            first)."""
            pool = waiting[r]
            if not math.isnan(cohort):
                keys = [int(cohort)] if int(cohort) in pool else []
            else:
                keys = sorted(pool, key=lambda e: (pool[e][2], pool[e][1], e))
            have = sum(pool[e][0] for e in keys)
            if count > have + TOL:
                which = f" of cohort day {int(cohort)}" if not math.isnan(cohort) else ""
                broke(
                    "patients_waiting",
                    day,
                    f"{what} {patients(count)} of {regions[r]}{which} on day {day}, but only "
                    f"{have:g} {'is' if have == 1 else 'are'} waiting"
                    if not held
                    else f"{what} {patients(count + held)} of {regions[r]}{which} on day {day}, "
                    f"{held:g} of them on units since the start: {count:g} from those waiting, "
                    f"but only {have:g} {'is' if have == 1 else 'are'} waiting",
                    line,
                )
            taken: list[tuple[int, float]] = []
            left = count
            for e in keys:
                if left <= 0:
                    break
                x = min(left, pool[e][0])
                pool[e][0] -= x
                left -= x
                taken.append((e, x))
            return taken

        def admit_greedy(d: int) -> None:
            """Admit waiting patients, earliest deadline first (then shortest stay), whenever
            a unit the plan keeps in the region and staff are free for every day of the stay,
            beside the patients a later patients row brings (`incoming`); patients a later
            patients row moves (`reserved`) stay waiting. Regions do not
            share units here: the j-th cohort of every region is admitted at once (round j),
            and the admissions are listed region by region, as one region at a time would."""
            # round j: the j-th cohort with patients to admit of every region, in columns
            r_of: list[list[int]] = []
            e_of: list[list[int]] = []
            stay_of: list[list[int]] = []
            size_of: list[list[float]] = []
            for r, pool in enumerate(waiting):
                if not pool:
                    continue
                j = 0
                order = (
                    sorted(pool, key=lambda e: (pool[e][2], pool[e][1], e))
                    if len(pool) > 1
                    else pool
                )
                for e in order:
                    left, stay, _ = pool[e]
                    kept = reserved.get((r, e)) if reserved else None
                    # no reservation: max(0.0, 0.0) = 0.0 off, and x - 0.0 is x
                    size = left if kept is None else left - max(kept, 0.0)
                    if size <= 1e-12:
                        continue
                    if j == len(r_of):
                        for column in (r_of, e_of, stay_of, size_of):
                            column.append([])
                    r_of[j].append(r)
                    e_of[j].append(e)
                    stay_of[j].append(int(stay))
                    size_of[j].append(size)
                    j += 1
            made: list[tuple[int, int, tuple[int, int, int, int, float]]] = []
            for j in range(len(r_of)):
                rs = np.array(r_of[j], dtype=np.int64)
                stays = np.array(stay_of[j], dtype=np.int64)
                cols, valid = windows(d, stays, T)
                rows = rs[:, None]
                free = self.room_cap[rows, cols] - occupancy[rows, cols]
                if incoming is not None:  # (x - 0.0 is x: no arrivals, no change)
                    free = free - incoming[rows, cols]
                free = np.where(valid, free, np.inf)
                x = np.minimum(np.array(size_of[j]), np.maximum(free.min(axis=1), 0.0))
                yes = np.flatnonzero(x > 0)
                if not len(yes):
                    continue
                xs = x[yes]
                treat_regions(rs[yes], d, xs, stays[yes], (cols[yes], valid[yes]))
                for i, count in zip(yes.tolist(), xs.tolist(), strict=True):
                    r, e = r_of[j][i], e_of[j][i]
                    waiting[r][e][0] -= count
                    made.append((r, j, (r, r, d, e, count)))
            if len(r_of) > 1:  # one round is in region order already
                made.sort(key=lambda m: (m[0], m[1]))
            admissions.extend(m[2] for m in made)

        # Patients on units when the plan starts (census only) hold them until their course
        # ends: in treatment before any row of day 0 leaves; the plan's day-0 admit rows for
        # their cohorts count them first (`on_start`).
        # (day, region, cohort, patients, stay) still waiting at the end of each day's admissions
        unserved: list[tuple[int, int, int, float, int]] = []
        on_units = patients_on_units(instance.demand_kind, groups, own)
        on_start: dict[tuple[int, int], float] = defaultdict(float)
        own_change = np.diff(own, axis=1, prepend=0.0).T.copy()  # own[:, d] - own[:, d - 1]

        for d in range(T):
            # own capacity, deliveries, arrivals in transit, new patients
            on_hand_now += own_change[d]
            stock += self.deliveries[:, d]
            for r, u in in_transit.pop(d, []):
                on_hand_now[r] += u
                arrived[r, d] += u
            for r, e, stay, size in arriving.get(d, []):
                waiting[r][e] = [size, stay, last_day(e)]
            if d == 0:
                held = np.flatnonzero(on_units > 0)
                held_r, held_c = groups.region[held], on_units[held]
                for r, e, count in zip(
                    held_r.tolist(), groups.day[held].tolist(), held_c.tolist(), strict=True
                ):
                    waiting[r][e][0] -= count
                    on_start[r, e] += count
                    admissions.append((r, r, 0, e, count))
                # the k-th group of every region at once, so that each region's sums keep
                # the groups' order (groups are listed by region)
                rank = np.arange(len(held)) - np.searchsorted(held_r, held_r)
                for k in range(int(rank.max()) + 1 if len(held) else 0):
                    at = np.flatnonzero(rank == k)
                    treat_regions(held_r[at], 0, held_c[at], groups.stay[held][at])
            shipments_today: dict[int, int] = defaultdict(int)
            # lead time 0: units that arrive the day they leave are on hand for that day's
            # rows and patients, as in the model (the day's movements net, h_{r,d}); in
            # transit otherwise (a lead-0 row added to day d's arrivals after they arrived
            # was never delivered: its units vanished)
            for row, _line, u, _a, b, _lead in self.moves.get(d, ()):
                if int(row.arrives) == d:
                    on_hand_now[b] += u
                    arrived[b, d] += u
            for row, line, u, a, b, lead in self.moves.get(d, ()):
                if row.kind == "ship":
                    k, r = a, b
                    available = stock[k] + depot_debt[k]
                    if u > available + TOL:
                        broke(
                            "depot_stock",
                            d,
                            f"ships {units_text(u)} from depot {row.src} on day {d}, but it holds "
                            f"{max(available, 0):g}",
                            line,
                        )
                        depot_debt[k] += u - max(available, 0.0)
                    if batch > 1 and d >= self.today and round(u) % batch:
                        broke(
                            "batch_size",
                            d,
                            f"ships {units_text(u)}, not a multiple of the batch size {batch}",
                            line,
                        )
                    if u > 0:
                        shipments_today[k] += 1
                    stock[k] -= u
                    _arrive(row, d, int(lead or 0), u, r, in_transit, broke)
                    continue
                q, r = a, b
                lane_days = lead
                if not s.transfers:
                    broke(
                        "transfers_off",
                        d,
                        f"transfers {units_text(u)} {row.src} -> {row.dst}, but transfers are "
                        "switched off",
                        line,
                    )
                elif lane_days is None:
                    broke(
                        "unknown_lane",
                        d,
                        f"no transfer lane {row.src} -> {row.dst} (lead_times.csv and "
                        "transfer limits)",
                        line,
                    )
                if lane_days is None:
                    lane_days = int(row.arrives) - d
                held = on_hand_now[q] + debt[q]
                in_use = occupancy[q, d]
                if u > held + TOL:
                    broke(
                        "region_stock",
                        d,
                        f"{row.src} sends {units_text(u)} on day {d}, but holds {max(held, 0):g}",
                        line,
                    )
                elif u > held - in_use + TOL:
                    broke(
                        "units_taken_from_patients",
                        d,
                        f"{row.src} sends {units_text(u)} on day {d}: {held:g} on hand, "
                        f"{in_use:g} in use by patients, only {max(held - in_use, 0):g} spare",
                        line,
                    )
                debt[q] += max(0.0, u - max(held - in_use, 0.0))
                on_hand_now[q] -= u
                kept = on_hand_now[q] + debt[q]
                if donor > 0 and kept < donor * own[q, d] - TOL:
                    broke(
                        "donor_protection",
                        d,
                        f"{row.src} keeps {units_text(kept)} after sending, below "
                        f"{donor:g} x its own {own[q, d]:g}",
                        line,
                    )
                _arrive(row, d, lane_days, u, r, in_transit, broke)
            for k, count in shipments_today.items():
                if (
                    s.max_shipments_per_day is not None
                    and d >= self.today
                    and count > s.max_shipments_per_day
                ):
                    broke(
                        "shipments_per_day",
                        d,
                        f"depot {instance.depots[k]} sends {counted(count, 'shipment')} on day "
                        f"{d}, limit {s.max_shipments_per_day}",
                    )
            # patient transfers, then the plan's admissions
            day_patients = self.patients.get(d, ())
            pt_today = np.zeros(n)
            for row, line, u, q, r, cohort in day_patients:
                if not s.patient_transfers:
                    broke(
                        "patient_transfers_off",
                        d,
                        f"moves {patients(u)} {row.src} -> {row.dst}, but patient transfers "
                        "are switched off",
                        line,
                    )
                elif (q, r) not in plane:
                    broke(
                        "patient_lane",
                        d,
                        f"{row.src} -> {row.dst} is beyond the patient transfer distance "
                        f"limit ({counted(s.patient_transfer_max_lead_days, 'day')})",
                        line,
                    )
                free = free_units(r, d)
                if u > free + TOL:
                    broke(
                        "no_free_unit",
                        d,
                        f"moves {patients(u)} to {row.dst} on day {d}, but only "
                        f"{free_units_text(free)} there",
                        line,
                    )
                    debt[r] += u - max(free, 0.0)
                pt_today[q] += u
                if not math.isnan(cohort):
                    reserved[q, int(cohort)] -= u
                for e, x in take(q, u, cohort, d, line, "moves"):
                    treat(q, r, d, x, int(los[q]), e)
            if incoming is not None and day_patients:
                for r in {moved[4] for moved in day_patients}:
                    incoming[r] = incoming_after(self.arrivals[r], d, T)
            limit = s.patient_transfer_max_per_day
            if limit is not None and d in self.days_with_rows:
                for origin in np.nonzero(pt_today > limit + TOL)[0]:
                    broke(
                        "patient_transfer_limit",
                        d,
                        f"{regions[origin]} sends {patients(pt_today[origin])} on day {d}, "
                        f"limit {limit:g}",
                    )
            for row, line, u, r, cohort in self.admits.get(d, ()):
                free = free_units(r, d)
                kept = 0.0  # the row's patients on units since the start (named in messages)
                if d == 0:  # patients on units since the start are counted first
                    keys = [
                        k
                        for k in sorted(on_start)
                        if k[0] == r and (math.isnan(cohort) or k[1] == int(cohort))
                    ]
                    for key in keys:
                        already = min(u, on_start[key])
                        on_start[key] -= already
                        u -= already
                        kept += already
                    if u <= TOL:
                        continue
                if u > free + TOL:
                    broke("no_free_unit", d, no_free_unit(row.dst, d, u, kept, free), line)
                    debt[r] += u - max(free, 0.0)
                for e, x in take(r, u, cohort, d, line, "admits", kept):
                    treat(r, r, d, x, int(waiting[r][e][1]), e)
            if not self.has_admissions:
                admit_greedy(d)
            # staff and cover, every region at once (each region's figures are its own)
            occ_d = occupancy[:, d]
            over = occ_d - staffed[:, d]
            over_staff = over > staff_over + TOL
            deficit = occ_d - (on_hand_now + debt)
            short = deficit > TOL
            for r in np.flatnonzero(over_staff | short).tolist():
                if over_staff[r]:
                    broke(
                        "staff_cap",
                        d,
                        f"{regions[r]} treats {patients(occupancy[r, d])} on day {d}; staff "
                        f"allow {own[r, d] + staff[r, d]:g} ({own[r, d]:g} own units + "
                        f"staff_cap {staff[r, d]:g})",
                    )
                if short[r]:
                    broke(
                        "units_taken_from_patients",
                        d,
                        f"{regions[r]} has {patients(occupancy[r, d])} in treatment on day {d} "
                        f"but {units_text(on_hand_now[r])}",
                    )
            np.copyto(staff_over, over, where=over_staff)
            np.minimum(staff_over, np.maximum(over, 0.0), out=staff_over)
            np.add(debt, deficit, out=debt, where=short)
            # a debt lasts as long as the shortfall it caused (patients beyond units, or units
            # sent that were not there)
            np.minimum(debt, np.maximum(occ_d - on_hand_now, 0.0), out=debt)
            for r, pool in enumerate(waiting):
                if not pool:
                    continue
                gone = []
                for e, (left, stay, last) in pool.items():
                    if left > TOL:
                        unserved.append((d, r, e, left, int(stay)))
                    if last <= d:
                        gone.append(e)
                if gone:
                    lost_today = lost[r, d]
                    for e in gone:
                        lost_today += max(pool.pop(e)[0], 0.0)
                    lost[r, d] = lost_today
            depot_debt = np.minimum(depot_debt, np.maximum(-stock, 0.0))
            on_hand[:, d] = on_hand_now
        violations += idle_while_waiting(regions, unserved, on_hand, occupancy, staffed)
        return Simulation(
            regions=regions,
            survivors=float(survivors_by_region.sum()),
            violations=violations,
            admitted=admitted,
            lost=lost,
            occupancy=occupancy,
            on_hand=on_hand,
            need=need,
            treated=treated,
            survivors_by_region=survivors_by_region,
            net_received=on_hand[:, T - 1] - own[:, T - 1],
            greedy=not self.has_admissions,
            admissions=admissions,
            arrived=arrived,
        )


def _arrive(
    row: Any,
    d: int,
    lead: int,
    units: float,
    r: int,
    in_transit: dict[int, list[tuple[int, float]]],
    broke: Any,
) -> None:
    arrives = int(row.arrives)
    if arrives < d + lead:
        broke(
            "lead_time",
            d,
            f"{row.kind} {row.src} -> {row.dst} dispatched on day {d} arrives on day {arrives}, "
            f"before day {d + lead} (dispatch + lead time {lead})",
            int(row.line),
        )
    if arrives != d:  # (same-day arrivals are on hand already: PlanReplay.run)
        in_transit[arrives].append((r, units))


__all__ = [
    "FLOOR_EPS",
    "MAX_IDLE_LISTED",
    "TOL",
    "PlanReplay",
    "Simulation",
    "Violation",
    "idle_while_waiting",
    "simulate",
]
