"""check-plan: replay a plan day by day and report its expected survivors and every rule it
breaks. Written independently of the optimisation model: no Pyomo, no HiGHS, no model code;
only the instance's data, the documented census -> arrivals rule (demand.py) and the plan.

Each day d, in this order: own capacity changes; depot deliveries; units in transit arrive;
new patients arrive; the day's ship and transfer rows leave (checked against depot stock, the
units free of patients, donor protection, lanes, lead times, batch size, shipments per day);
patient transfers (checked against waiting patients, lanes, per-day limit), admitted on
arrival; admissions (the plan's admit rows, or, when the plan has none, every waiting patient
for whom a unit and staff are free for the whole stay, earliest deadline first); staff and
cover checks; patients whose last admission day has passed are lost.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimiser.multiperiod.demand import (
    length_of_stay,
    patient_groups,
    patient_lanes,
    transfer_lanes,
)
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.plan_io import records

TOL = 1e-6  # patients and units are compared with this slack (plans carry rounded floats)


@dataclass(frozen=True)
class Violation:
    """One broken rule: its name, the day, the plan line (when one row is at fault), a message."""

    rule: str
    day: int
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "day": self.day, "line": self.line, "message": self.message}


@dataclass
class Simulation:
    """What the replay found. Arrays are regions x days."""

    regions: list[str]
    survivors: float
    violations: list[Violation]
    admitted: np.ndarray  # patients of region r admitted (here or, when sent, elsewhere) on day d
    lost: np.ndarray  # patients of region r whose last admission day was d, never admitted
    occupancy: np.ndarray  # patients in treatment in region r on day d
    on_hand: np.ndarray  # units in region r at the end of day d
    need: np.ndarray  # patients of r needing the resource on day d (treated or not)
    treated: np.ndarray  # patients of r in treatment (anywhere) on day d
    survivors_by_region: np.ndarray
    net_received: np.ndarray  # X_r: units received minus units sent by the end of the horizon
    greedy: bool  # admissions chosen by the simulation (the plan had no admit rows)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def shortfall(self) -> np.ndarray:
        """Resource-days of unmet need: max(0, need - treated) per region and day."""
        return np.maximum(self.need - self.treated, 0.0)

    @property
    def ok(self) -> bool:
        return not self.violations


def simulate(instance: MultiPeriodInstance, plan: pd.DataFrame) -> Simulation:
    """Replay `plan` (rows from plan_io.read_plan) through the instance, day by day."""
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

    stock = np.zeros(len(kix))
    on_hand_now = np.zeros(n)
    in_transit: dict[int, list[tuple[int, float]]] = defaultdict(list)
    occupancy = np.zeros((n, T))
    treated = np.zeros((n, T))
    admitted = np.zeros((n, T))
    lost = np.zeros((n, T))
    on_hand = np.zeros((n, T))
    survivors_by_region = np.zeros(n)
    received = np.zeros(n)
    waiting: list[dict[int, list[float]]] = [{} for _ in range(n)]  # r -> e -> [remaining, stay]
    cover_reported: set[tuple[int, int]] = set()

    def treat(origin: int, where: int, day: int, count: float, stay: int) -> None:
        occupancy[where, day : day + stay] += count
        treated[origin, day : day + stay] += count
        admitted[origin, day] += count
        survivors_by_region[origin] += gain[origin] * count

    def take(
        r: int, count: float, cohort: float, day: int, line: int, what: str
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
                f"{what} {count:g} patients of {regions[r]}{which} on day {day}, but only "
                f"{have:g} are waiting",
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

    for d in range(T):
        # own capacity, deliveries, arrivals in transit, new patients
        on_hand_now += own[:, d] - (own[:, d - 1] if d > 0 else 0.0)
        stock += deliveries[:, d]
        for r, u in in_transit.pop(d, []):
            on_hand_now[r] += u
        for r, e, stay, size in arriving.get(d, []):
            waiting[r][e] = [size, stay]
        day_rows = by_day.get(d)
        shipments_today: dict[int, int] = defaultdict(int)
        pt_today = np.zeros(n)
        if day_rows is not None:
            for row in records(day_rows):
                line, u = int(row.line), float(row.units)
                if row.kind == "ship":
                    k, r = kix[row.src], rix[row.dst]
                    days = int(ship_lead[k, r])
                    if u > stock[k] + TOL:
                        broke(
                            "depot_stock",
                            d,
                            f"ships {u:g} units from depot {row.src} on day {d}, but it holds "
                            f"{max(stock[k], 0):g}",
                            line,
                        )
                    if batch > 1 and round(u) % batch:
                        broke(
                            "batch_size",
                            d,
                            f"ships {u:g} units, not a multiple of the batch size {batch}",
                            line,
                        )
                    if u > 0:
                        shipments_today[k] += 1
                    stock[k] -= u
                    _arrive(row, d, days, u, r, in_transit, broke, T)
                elif row.kind == "transfer":
                    q, r = rix[row.src], rix[row.dst]
                    lane_days = lanes.get((q, r))
                    if not s.transfers:
                        broke(
                            "transfers_off",
                            d,
                            f"transfers {u:g} units {row.src} -> {row.dst}, but transfers are "
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
                    in_use = occupancy[q, d]
                    if u > on_hand_now[q] + TOL:
                        broke(
                            "region_stock",
                            d,
                            f"{row.src} sends {u:g} units on day {d}, but holds "
                            f"{max(on_hand_now[q], 0):g}",
                            line,
                        )
                    elif u > on_hand_now[q] - in_use + TOL:
                        broke(
                            "units_taken_from_patients",
                            d,
                            f"{row.src} sends {u:g} units on day {d}: {on_hand_now[q]:g} on "
                            f"hand, {in_use:g} in use by patients, only "
                            f"{max(on_hand_now[q] - in_use, 0):g} spare",
                            line,
                        )
                        cover_reported.add((q, d))
                    on_hand_now[q] -= u
                    received[q] -= u
                    if donor > 0 and on_hand_now[q] < donor * own[q, d] - TOL:
                        broke(
                            "donor_protection",
                            d,
                            f"{row.src} keeps {on_hand_now[q]:g} units after sending, below "
                            f"{donor:g} x its own {own[q, d]:g}",
                            line,
                        )
                    _arrive(row, d, lane_days, u, r, in_transit, broke, T)
            for k, count in shipments_today.items():
                if s.max_shipments_per_day is not None and count > s.max_shipments_per_day:
                    broke(
                        "shipments_per_day",
                        d,
                        f"depot {instance.depots[k]} sends {count} shipments on day {d}, limit "
                        f"{s.max_shipments_per_day}",
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
                        f"moves {u:g} patients {row.src} -> {row.dst}, but patient transfers are "
                        "switched off",
                        line,
                    )
                elif (q, r) not in plane:
                    broke(
                        "patient_lane",
                        d,
                        f"{row.src} -> {row.dst} is beyond the patient transfer distance limit "
                        f"({s.patient_transfer_max_lead_days} day(s))",
                        line,
                    )
                pt_today[q] += u
                for _e, x in take(q, u, float(row.cohort_day), d, line, "moves"):
                    treat(q, r, d, x, int(los[q]))
            limit = s.patient_transfer_max_per_day
            if limit is not None:
                for origin in np.nonzero(pt_today > limit + TOL)[0]:
                    broke(
                        "patient_transfer_limit",
                        d,
                        f"{regions[origin]} sends {pt_today[origin]:g} patients on day {d}, "
                        f"limit {limit:g}",
                    )
            for row in records(day_rows):
                if row.kind != "admit":
                    continue
                r = rix[row.dst]
                free = on_hand_now[r] - occupancy[r, d]
                u = float(row.units)
                if u > free + TOL:
                    broke(
                        "no_free_unit",
                        d,
                        f"admits {u:g} patients in {row.dst} on day {d}, but only "
                        f"{max(free, 0):g} units are free",
                        int(row.line),
                    )
                    cover_reported.add((r, d))
                for e, x in take(r, u, float(row.cohort_day), d, int(row.line), "admits"):
                    treat(r, r, d, x, int(waiting[r][e][1]))
        if not has_admissions:
            _admit_greedy(d, waiting, last_day, planned, occupancy, own, staff, treat, T)
        for r in range(n):
            if occupancy[r, d] > own[r, d] + staff[r, d] + TOL:
                broke(
                    "staff_cap",
                    d,
                    f"{regions[r]} treats {occupancy[r, d]:g} patients on day {d}; staff allow "
                    f"{own[r, d] + staff[r, d]:g} ({own[r, d]:g} own units + staff_cap "
                    f"{staff[r, d]:g})",
                )
            if occupancy[r, d] > on_hand_now[r] + TOL and (r, d) not in cover_reported:
                broke(
                    "units_taken_from_patients",
                    d,
                    f"{regions[r]} has {occupancy[r, d]:g} patients in treatment on day {d} but "
                    f"{on_hand_now[r]:g} units",
                )
            for e in [e for e, v in waiting[r].items() if last_day(e) <= d]:
                lost[r, d] += max(waiting[r][e][0], 0.0)
                del waiting[r][e]
        on_hand[:, d] = on_hand_now
    for r, u in ((r, u) for items in in_transit.values() for r, u in items):
        on_hand_now[r] += 0 * u  # arrivals after the horizon are refused when reading the plan
    received += _received(plan, rix)
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
        extra={"received_check": received},
    )


def _arrive(
    row: Any,
    d: int,
    lead: int,
    units: float,
    r: int,
    in_transit: dict[int, list[tuple[int, float]]],
    broke: Any,
    T: int,
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
    in_transit[arrives].append((r, units))


def _received(plan: pd.DataFrame, rix: dict[str, int]) -> np.ndarray:
    out = np.zeros(len(rix))
    for row in records(plan):
        if row.kind in ("ship", "transfer"):
            out[rix[row.dst]] += float(row.units)
    return out


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
    last_day: Any,
    planned: np.ndarray,
    occupancy: np.ndarray,
    own: np.ndarray,
    staff: np.ndarray,
    treat: Any,
    T: int,
) -> None:
    """Admit waiting patients, earliest deadline first (then shortest stay), whenever a unit the
    plan keeps in the region and staff are free for every day of the stay."""
    for r, pool in enumerate(waiting):
        for e in sorted(pool, key=lambda e: (last_day(e), pool[e][1], e)):
            size, stay = pool[e]
            if size <= 0:
                continue
            end = min(d + int(stay), T)
            units_free = planned[r, d:end] - occupancy[r, d:end]
            staff_free = own[r, d:end] + staff[r, d:end] - occupancy[r, d:end]
            room = float(min(units_free.min(), staff_free.min()))
            x = min(size, max(room, 0.0))
            if x > 0:
                pool[e][0] -= x
                treat(r, r, d, x, int(stay))
