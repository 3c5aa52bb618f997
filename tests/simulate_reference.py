"""The replay simulator of check-plan as it was before it was made fast (optimiser/multiperiod/
simulate.py at 918cd7e, with demand.patient_groups of that commit), kept verbatim as the
reference the fast replay is tested against (tests/test_simulate_fast.py): same answers to the
bit. Not used by the product. Two rules changed since, in both: the greedy admissions (plans
without admit rows) leave free the units a later patients row fills (`arrivals`); units that
arrive the day they leave (lead time 0) are on hand for that day's rows (they were lost)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from optimiser.multiperiod.demand import (
    PatientGroups,
    length_of_stay,
    patient_lanes,
    patients_on_units,
    transfer_lanes,
)
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.plan_io import records
from optimiser.multiperiod.simulate import Simulation, Violation

TOL = 1e-6  # patients and units are compared with this slack (plans carry rounded floats)
FLOOR_EPS = 1e-9  # floor()/ceil() guard, as in the definitions (docs/model.md)


def _n(count: float, noun: str, spec: str = ":g") -> str:  # '1 day', '2 days' (counted)
    return f"{count:{spec[1:]}} {noun}" + ("" if count == 1 else "s")


def reference_simulate(instance: MultiPeriodInstance, plan: pd.DataFrame) -> Simulation:
    """Replay `plan` (rows from plan_io.read_plan / plan_rows) through the instance, day by
    day, with the instance's settings."""
    s = instance.settings
    regions = list(instance.regions)
    n, T = len(regions), instance.days
    rix = {r: i for i, r in enumerate(regions)}
    kix = {k: i for i, k in enumerate(instance.depots)}
    own = instance.own.to_numpy(dtype=float)
    staff = instance.staff.to_numpy(dtype=float)
    deliveries = instance.deliveries.to_numpy(dtype=float)
    ship_lead = instance.ship_lead.to_numpy(dtype=float)
    gain = instance.base.gain.to_numpy(dtype=float)
    los = length_of_stay(instance)
    groups = patient_groups(instance.demand_kind, instance.demand.to_numpy(dtype=float), los)
    lanes: dict[tuple[int, int], int] = {}
    if s.transfers:
        src, dst, lead = transfer_lanes(instance)
        lanes = {(int(a), int(b)): int(c) for a, b, c in zip(src, dst, lead, strict=True)}
    plane: dict[tuple[int, int], int] = {}
    if s.patient_transfers:
        src, dst, lead = patient_lanes(instance)
        plane = {(int(a), int(b)): int(c) for a, b, c in zip(src, dst, lead, strict=True)}
    donor = s.donor_keep_share if s.transfers else 0.0
    batch = s.batch_size
    violations: list[Violation] = []

    def broke(rule: str, day: int, message: str, line: int | None = None) -> None:
        violations.append(Violation(rule, int(day), message, None if line is None else int(line)))

    # Patients: need (independent of treatment) and cohorts waiting by region.
    need = np.zeros((n, T))
    arriving: dict[int, list[tuple[int, int, int, float]]] = defaultdict(
        list
    )  # day -> (r, e, stay, size)
    for r, e, stay, size in zip(groups.region, groups.day, groups.stay, groups.size, strict=True):
        first = max(int(e), 0)
        need[r, first : first + int(stay)] += size
        arriving[first].append((int(r), int(e), int(stay), float(size)))

    def last_day(e: int) -> int:
        return 0 if e < 0 else min(e + s.max_wait_days, T - 1)

    rows = plan.sort_values(["day", "line"], kind="stable")
    by_day = {int(str(d)): g for d, g in rows.groupby("day", sort=True)}
    has_admissions = bool((plan["kind"] == "admit").any())
    planned = _planned_on_hand(instance, plan, own)
    # Patients a later patients row moves (by home region and cohort): the simulation's own
    # admissions leave them waiting, so a manifest without admit rows replays its moves.
    reserved: dict[tuple[int, int], float] = defaultdict(float)
    for row in records(plan[plan["kind"] == "patients"]):
        if not math.isnan(float(row.cohort_day)):
            reserved[rix[row.src], int(row.cohort_day)] += float(row.units)
    # ... and the units those rows fill at their destination stay free for them (added when
    # the fast replay learnt it: (day, destination, patients, stay) in plan order)
    arrivals = [
        (int(row.day), rix[row.dst], float(row.units), int(los[rix[row.src]]))
        for row in records(rows[rows["kind"] == "patients"])
    ]

    stock = np.zeros(len(kix))
    depot_debt = np.zeros(len(kix))  # units shipped beyond a depot's stock, already reported
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
    waiting: list[dict[int, list[float]]] = [{} for _ in range(n)]  # r -> e -> [remaining, stay]

    def treat(origin: int, where: int, day: int, count: float, stay: int, cohort: int) -> None:
        occupancy[where, day : day + stay] += count
        treated[origin, day : day + stay] += count
        admitted[origin, day] += count
        survivors_by_region[origin] += gain[origin] * count
        admissions.append((origin, where, day, cohort, count))

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
        """Remove `count` waiting patients of region r (one cohort, or earliest deadline first)."""
        pool = waiting[r]
        if not math.isnan(cohort):
            keys = [int(cohort)] if int(cohort) in pool else []
        else:
            keys = sorted(pool, key=lambda e: (last_day(e), pool[e][1], e))
        have = sum(pool[e][0] for e in keys)
        if count > have + TOL:
            which = f" of cohort day {int(cohort)}" if not math.isnan(cohort) else ""
            broke(
                "patients_waiting",
                day,
                f"{what} {_n(count, 'patient')} of {regions[r]}{which} on day {day}, but only "
                f"{have:g} {'is' if have == 1 else 'are'} waiting"
                if not held
                else f"{what} {_n(count + held, 'patient')} of {regions[r]}{which} on day {day}, "
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

    # Patients on units when the plan starts (census only) hold them until their course ends:
    # in treatment before any row of day 0 leaves; the plan's day-0 admit rows for their
    # cohorts count them first (`on_start`).
    # (day, region, cohort, patients, stay) still waiting at the end of each day's admissions
    unserved: list[tuple[int, int, int, float, int]] = []
    on_units = patients_on_units(instance.demand_kind, groups, own)
    on_start: dict[tuple[int, int], float] = defaultdict(float)

    for d in range(T):
        # own capacity, deliveries, arrivals in transit, new patients
        on_hand_now += own[:, d] - (own[:, d - 1] if d > 0 else 0.0)
        stock += deliveries[:, d]
        for r, u in in_transit.pop(d, []):
            on_hand_now[r] += u
            arrived[r, d] += u
        for r, e, stay, size in arriving.get(d, []):
            waiting[r][e] = [size, stay]
        if d == 0:
            for g in np.nonzero(on_units > 0)[0]:
                r, e = int(groups.region[g]), int(groups.day[g])
                count = float(on_units[g])
                waiting[r][e][0] -= count
                on_start[r, e] += count
                treat(r, r, 0, count, int(groups.stay[g]), e)
        day_rows = by_day.get(d)
        shipments_today: dict[int, int] = defaultdict(int)
        pt_today = np.zeros(n)
        if day_rows is not None:
            for row in records(day_rows):  # lead time 0: on hand for the day's rows
                if row.kind in ("ship", "transfer") and int(row.arrives) == d:
                    on_hand_now[rix[row.dst]] += float(row.units)
                    arrived[rix[row.dst], d] += float(row.units)
            for row in records(day_rows):
                line, u = int(row.line), float(row.units)
                if row.kind == "ship":
                    k, r = kix[row.src], rix[row.dst]
                    days = int(ship_lead[k, r])
                    available = stock[k] + depot_debt[k]
                    if u > available + TOL:
                        broke(
                            "depot_stock",
                            d,
                            f"ships {_n(u, 'unit')} from depot {row.src} on day {d}, but it holds "
                            f"{max(available, 0):g}",
                            line,
                        )
                        depot_debt[k] += u - max(available, 0.0)
                    if batch > 1 and round(u) % batch:
                        broke(
                            "batch_size",
                            d,
                            f"ships {_n(u, 'unit')}, not a multiple of the batch size {batch}",
                            line,
                        )
                    if u > 0:
                        shipments_today[k] += 1
                    stock[k] -= u
                    _arrive(row, d, days, u, r, in_transit, broke)
                elif row.kind == "transfer":
                    q, r = rix[row.src], rix[row.dst]
                    lane_days = lanes.get((q, r))
                    if not s.transfers:
                        broke(
                            "transfers_off",
                            d,
                            f"transfers {_n(u, 'unit')} {row.src} -> {row.dst}, but transfers are "
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
                            "region_stock", d,
                            f"{row.src} sends {_n(u, 'unit')} on day {d}, "
                            f"but holds {max(held, 0):g}",
                            line,
                        )
                    elif u > held - in_use + TOL:
                        broke(
                            "units_taken_from_patients",
                            d,
                            f"{row.src} sends {_n(u, 'unit')} on day {d}: {held:g} on hand, "
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
                            f"{row.src} keeps {_n(kept, 'unit')} after sending, below "
                            f"{donor:g} x its own {own[q, d]:g}",
                            line,
                        )
                    _arrive(row, d, lane_days, u, r, in_transit, broke)
            for k, count in shipments_today.items():
                if s.max_shipments_per_day is not None and count > s.max_shipments_per_day:
                    broke(
                        "shipments_per_day",
                        d,
                        f"depot {instance.depots[k]} sends {_n(count, 'shipment', ':,')} on day "
                        f"{d}, limit {s.max_shipments_per_day}",
                    )
            # patient transfers, then the plan's admissions
            for row in records(day_rows):
                if row.kind != "patients":
                    continue
                line, u, q, r = int(row.line), float(row.units), rix[row.src], rix[row.dst]
                if not s.patient_transfers:
                    broke(
                        "patient_transfers_off",
                        d,
                        f"moves {_n(u, 'patient')} {row.src} -> {row.dst}, but patient transfers "
                        "are switched off",
                        line,
                    )
                elif (q, r) not in plane:
                    broke(
                        "patient_lane",
                        d,
                        f"{row.src} -> {row.dst} is beyond the patient transfer distance limit "
                        f"({_n(s.patient_transfer_max_lead_days, 'day', ':,')})",
                        line,
                    )
                free = free_units(r, d)
                if u > free + TOL:
                    broke(
                        "no_free_unit",
                        d,
                        f"moves {_n(u, 'patient')} to {row.dst} on day {d}, but only "
                        f"{_n(max(free, 0), 'unit')} {'is' if free == 1 else 'are'} free there",
                        line,
                    )
                    debt[r] += u - max(free, 0.0)
                pt_today[q] += u
                cohort = float(row.cohort_day)
                if not math.isnan(cohort):
                    reserved[q, int(cohort)] -= u
                for e, x in take(q, u, cohort, d, line, "moves"):
                    treat(q, r, d, x, int(los[q]), e)
            limit = s.patient_transfer_max_per_day
            if limit is not None:
                for origin in np.nonzero(pt_today > limit + TOL)[0]:
                    broke(
                        "patient_transfer_limit",
                        d,
                        f"{regions[origin]} sends {_n(pt_today[origin], 'patient')} on day {d}, "
                        f"limit {limit:g}",
                    )
            for row in records(day_rows):
                if row.kind != "admit":
                    continue
                r = rix[row.dst]
                free = free_units(r, d)
                u = float(row.units)
                held = 0.0
                if d == 0:  # patients on units since the start are counted first
                    cohort = float(row.cohort_day)
                    keys = [
                        k
                        for k in sorted(on_start)
                        if k[0] == r and (math.isnan(cohort) or k[1] == int(cohort))
                    ]
                    for key in keys:
                        already = min(u, on_start[key])
                        on_start[key] -= already
                        u -= already
                        held += already
                    if u <= TOL:
                        continue
                if u > free + TOL:
                    units = f"{max(free, 0):g} unit" + (" is" if free == 1 else "s are")
                    message = (
                        f"admits {_n(u, 'patient')} in {row.dst} on day {d}, but only {units} free"
                        if not held
                        else f"admits {_n(u + held, 'patient')} in {row.dst} on day {d}, "
                        f"{held:g} of them on units since the start: {u:g} "
                        f"need{'s' if u == 1 else ''} a free unit, but only {units} free"
                    )
                    broke("no_free_unit", d, message, int(row.line))
                    debt[r] += u - max(free, 0.0)
                for e, x in take(r, u, float(row.cohort_day), d, int(row.line), "admits", held):
                    treat(r, r, d, x, int(waiting[r][e][1]), e)
        if not has_admissions:
            _admit_greedy(
                d, waiting, reserved, arrivals, last_day, planned, occupancy, own, staff, treat, T
            )
        for r in range(n):
            over = occupancy[r, d] - (own[r, d] + staff[r, d])
            if over > staff_over[r] + TOL:
                broke(
                    "staff_cap",
                    d,
                    f"{regions[r]} treats {_n(occupancy[r, d], 'patient')} on day {d}; staff allow "
                    f"{own[r, d] + staff[r, d]:g} ({own[r, d]:g} own units + staff_cap "
                    f"{staff[r, d]:g})",
                )
                staff_over[r] = over
            staff_over[r] = min(staff_over[r], max(over, 0.0))
            deficit = occupancy[r, d] - (on_hand_now[r] + debt[r])
            if deficit > TOL:
                broke(
                    "units_taken_from_patients",
                    d,
                    f"{regions[r]} has {_n(occupancy[r, d], 'patient')} in treatment on day {d} "
                    f"but {_n(on_hand_now[r], 'unit')}",
                )
                debt[r] += deficit
            # a debt lasts as long as the shortfall it caused (patients beyond units, or units
            # sent that were not there)
            debt[r] = min(debt[r], max(occupancy[r, d] - on_hand_now[r], 0.0))
            for e, (left, stay) in waiting[r].items():
                if left > TOL:
                    unserved.append((d, r, e, left, int(stay)))
            for e in [e for e, v in waiting[r].items() if last_day(e) <= d]:
                lost[r, d] += max(waiting[r][e][0], 0.0)
                del waiting[r][e]
        depot_debt = np.minimum(depot_debt, np.maximum(-stock, 0.0))
        on_hand[:, d] = on_hand_now
    violations += idle_while_waiting(regions, unserved, on_hand, occupancy, own + staff)
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
        greedy=not has_admissions,
        admissions=admissions,
        arrived=arrived,
    )


def idle_while_waiting(
    regions: Sequence[str],
    unserved: Sequence[tuple[int, int, int, float, int]],
    on_hand: np.ndarray,
    occupancy: np.ndarray,
    staffed: np.ndarray,
) -> list[Violation]:
    """No patient waits, or is turned away, while a staffed unit is free in their region for
    their whole stay (docs/multiperiod.md, "Waiting"): for each patient still waiting at the
    end of day d (admissions done), the units on hand and the staff not used by patients on
    every day of the stay that would start on day d, after the whole plan is replayed. One
    violation per region and cohort, on the first such day."""
    T = on_hand.shape[1]
    out: list[Violation] = []
    seen: set[tuple[int, int]] = set()
    for d, r, e, left, stay in unserved:
        if (r, e) in seen:
            continue
        end = min(d + stay, T)
        free = float(
            min(
                (on_hand[r, d:end] - occupancy[r, d:end]).min(),
                (staffed[r, d:end] - occupancy[r, d:end]).min(),
            )
        )
        if free > 1e-4:
            seen.add((r, e))
            out.append(
                Violation(
                    "idle_while_waiting",
                    d,
                    f"{regions[r]}: {_n(left, 'patient')} of cohort day {e} "
                    f"{'waits (or is' if left == 1 else 'wait (or are'} turned away) on day {d} "
                    f"while {free:g} staffed unit{' is' if free == 1 else 's are'} free there for "
                    f"their whole stay ({_n(end - d, 'day')})",
                )
            )
    if len(out) > MAX_IDLE_LISTED:
        more = len(out) - MAX_IDLE_LISTED
        out = out[:MAX_IDLE_LISTED]
        out.append(
            Violation(
                "idle_while_waiting",
                out[-1].day,
                f"{more} more region-cohorts wait beside free units",
            )
        )
    return out


MAX_IDLE_LISTED = 20


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
    if arrives != d:
        in_transit[arrives].append((r, units))


def _planned_on_hand(
    instance: MultiPeriodInstance, plan: pd.DataFrame, own: np.ndarray
) -> np.ndarray:
    """Units each region will hold each day if every movement of the plan happens."""
    n, T = own.shape
    rix = {r: i for i, r in enumerate(instance.regions)}
    delta = np.zeros((n, T))
    delta[:, 0] = own[:, 0]
    delta[:, 1:] = own[:, 1:] - own[:, :-1]
    for row in records(plan):
        if row.kind in ("ship", "transfer"):
            delta[rix[row.dst], int(row.arrives)] += float(row.units)
        if row.kind == "transfer":
            delta[rix[row.src], int(row.day)] -= float(row.units)
    return np.cumsum(delta, axis=1)


def _admit_greedy(
    d: int,
    waiting: list[dict[int, list[float]]],
    reserved: Mapping[tuple[int, int], float],
    arrivals: Sequence[tuple[int, int, float, int]],
    last_day: Any,
    planned: np.ndarray,
    occupancy: np.ndarray,
    own: np.ndarray,
    staff: np.ndarray,
    treat: Any,
    T: int,
) -> None:
    """Admit waiting patients, earliest deadline first (then shortest stay), whenever a unit the
    plan keeps in the region and staff are free for every day of the stay, beside the patients
    a later patients row brings (`arrivals`); patients a later patients row moves (`reserved`)
    stay waiting."""
    for r, pool in enumerate(waiting):
        coming = np.zeros(T)
        for moved, where, count, length in arrivals:
            if moved > d and where == r:
                coming[moved : moved + length] += count
        for e in sorted(pool, key=lambda e: (last_day(e), pool[e][1], e)):
            size = pool[e][0] - max(reserved.get((r, e), 0.0), 0.0)
            stay = pool[e][1]
            if size <= 1e-12:
                continue
            end = min(d + int(stay), T)
            units_free = planned[r, d:end] - occupancy[r, d:end] - coming[d:end]
            staff_free = own[r, d:end] + staff[r, d:end] - occupancy[r, d:end] - coming[d:end]
            room = float(min(units_free.min(), staff_free.min()))
            x = min(size, max(room, 0.0))
            if x > 0:
                pool[e][0] -= x
                treat(r, r, d, x, int(stay), e)


def patient_groups(kind: str, demand: np.ndarray, los: np.ndarray) -> PatientGroups:
    """Turn the demand table into patient groups.

    new_patients: a_{r,d} patients arrive on day d and stay L_r days; nobody is present before.
    census (c_{r,d} patients need the resource at once): the day-0 census is taken as a steady
    state, c_{r,0} / L_r arrivals on each of the days -L_r+1 .. 0, so the group that arrived on
    day -j (j >= 1) is present on day 0 with a residual stay of L_r - j days. Each later day's
    arrivals fill the gap between the census and the patients still present:

        a_{r,d} = max(0, c_{r,d} - carried_{r,d}),   carried_{r,d} = patients of earlier groups
                                                      still in their stay on day d.

    With enough units for everybody the occupancy then equals the census, except where the
    census falls faster than stays of L_r days allow (`clipped` counts those patient-days).
    """
    n, T = demand.shape
    regions, days, stays, sizes = [], [], [], []
    need = np.zeros((n, T))
    clipped = np.zeros(n)
    for r in range(n):
        L = int(los[r])
        present = np.zeros(T + L + 1)  # patients present per day from groups added so far

        def add(e: int, stay: int, size: float, r: int = r, present: np.ndarray = present) -> None:
            if size <= 0:
                return
            regions.append(r)
            days.append(e)
            stays.append(stay)
            sizes.append(size)
            start = max(e, 0)
            present[start : start + stay] += size

        if kind == "census":
            share = float(demand[r, 0]) / L
            for j in range(L - 1, 0, -1):
                add(-j, L - j, share)
            add(0, L, share)
            for d in range(1, T):
                gap = float(demand[r, d]) - present[d]
                if gap > 1e-12:
                    add(d, L, gap)
                else:
                    clipped[r] += max(0.0, -gap)
        else:
            for d in range(T):
                add(d, L, float(demand[r, d]))
        need[r] = present[:T]
    return PatientGroups(
        region=np.asarray(regions, dtype=np.int64),
        day=np.asarray(days, dtype=np.int64),
        stay=np.asarray(stays, dtype=np.int64),
        size=np.asarray(sizes, dtype=float),
        need=need,
        clipped=clipped,
    )
