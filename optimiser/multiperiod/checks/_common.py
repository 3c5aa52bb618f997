"""What the checkers share: the instance's numbers by their docs' names, and the floor check."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimiser.errors import counted
from optimiser.multiperiod.checks import FairnessSpec
from optimiser.multiperiod.demand import length_of_stay, patient_groups, transfer_lanes
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.simulate import TOL, Simulation, Violation

FLOOR_EPS = 1e-9  # floor()/ceil() guard, as in the definitions (docs/model.md)
MAX_LISTED = 10  # regions listed per fairness constraint


@dataclass(frozen=True)
class Numbers:
    """regions.csv values as the definitions name them: pop_r, c_r (capacity on day 0), P_r
    (peak demand), E_r = max(0, P_r - c_r), cap_r (staff cap), RAI_r; S = every unit delivered
    over the horizon."""

    pop: np.ndarray
    c: np.ndarray
    P: np.ndarray
    E: np.ndarray
    cap: np.ndarray
    rai: np.ndarray
    S: float

    @classmethod
    def of(cls, instance: MultiPeriodInstance) -> Numbers:
        regions = instance.base.regions
        c = regions["capacity"].to_numpy(dtype=float)
        P = regions["peak_demand"].to_numpy(dtype=float)
        return cls(
            pop=regions["population"].to_numpy(dtype=float),
            c=c,
            P=P,
            E=np.maximum(P - c, 0.0),
            cap=instance.base.staff_cap.to_numpy(dtype=float),
            rai=instance.base.rai.to_numpy(dtype=float),
            S=float(round(float(instance.deliveries.to_numpy(dtype=float).sum()))),
        )


@dataclass(frozen=True)
class Useful:
    """When each region can use a unit (docs/multiperiod.md, "Fairness over the horizon"),
    computed here from the instance alone, region by region: `day` D_r, the last day on which
    the region is short (the patients who could be in treatment exceed its own units, and its
    staff can treat more; from the first day a new unit can arrive there, `first_arrival`)
    and one of its patients can be admitted (-1: never); `usable` U_r,
    the most units it can use at once (0 when never). The rules measure X_r on D_r."""

    day: np.ndarray
    usable: np.ndarray

    @classmethod
    def of(cls, instance: MultiPeriodInstance) -> Useful:
        T = instance.days
        own = instance.own.to_numpy(dtype=float)
        staff = instance.staff.to_numpy(dtype=float)
        los = length_of_stay(instance)
        groups = patient_groups(instance.demand_kind, instance.demand.to_numpy(dtype=float), los)
        wait = instance.settings.max_wait_days
        n = len(instance.regions)
        earliest = first_arrival(instance)
        day, usable = np.full(n, -1, dtype=np.int64), np.zeros(n)
        for r in range(n):
            mine = (groups.region == r) & (groups.size > 1e-12)
            e, stay, size = groups.day[mine], groups.stay[mine], groups.size[mine]
            first = np.maximum(e, 0)
            last = np.where(e < 0, 0, np.minimum(e + wait, T - 1))
            d = np.arange(T)[:, None]
            could_be_in = ((d >= first) & (d <= last + stay - 1)) @ size
            can_admit = ((d >= first) & (d <= last)).any(axis=1)
            extra = np.minimum(could_be_in - own[r], staff[r])
            short = (extra > 1e-9) & (np.arange(T) >= earliest[r])
            if np.any(short & can_admit):
                day[r] = int(np.nonzero(short & can_admit)[0].max())
                usable[r] = math.ceil(float(extra[short].max()) - 1e-9)
        return cls(day, usable)

    def measure_day(self, days: int) -> np.ndarray:
        """D_r, or the last day for a region that can never use a unit."""
        return np.where(self.day >= 0, self.day, days - 1)

    def received(self, instance: MultiPeriodInstance, sim: Simulation) -> np.ndarray:
        """X_r: units on hand net of the region's own on its measure day."""
        at = self.measure_day(instance.days)
        own = instance.own.to_numpy(dtype=float)
        rows = np.arange(len(at))
        return np.asarray(sim.on_hand[rows, at] - own[rows, at])


def first_arrival(instance: MultiPeriodInstance) -> np.ndarray:
    """The first day a new unit can arrive in each region (the horizon's length: never): from a
    depot, dispatched once it has received units, or, with transfers, along a lane from day
    0; within the horizon."""
    T = instance.days
    deliveries = instance.deliveries.to_numpy(dtype=float)
    ship_lead = instance.ship_lead.to_numpy(dtype=float)
    n = len(instance.regions)
    earliest = np.full(n, float(T))
    for k in range(deliveries.shape[0]):
        stocked = np.nonzero(np.cumsum(deliveries[k]) > 0)[0]
        if len(stocked):
            earliest = np.minimum(earliest, stocked[0] + ship_lead[k])
    if instance.settings.transfers:
        _, dst, lead = transfer_lanes(instance)
        for r, days in zip(dst, lead, strict=True):
            earliest[r] = min(earliest[r], float(days))
    return np.where(earliest <= T - 1, earliest, T).astype(np.int64)


def parked_units(instance: MultiPeriodInstance, sim: Simulation) -> np.ndarray:
    """Units each region receives net after its last useful day and keeps to the end (0 when
    none; all it received net, for a region that can never use a unit): they treat none of its
    patients and count for no rule. Units passed on to another region are not counted."""
    useful = Useful.of(instance)
    own = instance.own.to_numpy(dtype=float)
    T = instance.days
    rows = np.arange(len(useful.day))
    at = np.maximum(useful.day, 0)
    before = np.where(useful.day >= 0, sim.on_hand[rows, at] - own[rows, at], 0.0)
    kept = sim.on_hand[:, T - 1] - own[:, T - 1] - before
    return np.where(kept > TOL, kept, 0.0)


def late_arrivals(instance: MultiPeriodInstance, sim: Simulation, r: int, after: int) -> str:
    """'' or the units arriving in region r after day `after` (its last useful day), which
    can treat none of its patients: '; it receives 2 more after that day (2 on day 4), which
    treat no one'."""
    if sim.arrived is None:
        return ""
    late = [d for d in range(after + 1, instance.days) if sim.arrived[r, d] > TOL]
    if not late:
        return ""
    total = float(sim.arrived[r, late].sum())
    listed = ", ".join(f"{sim.arrived[r, d]:g} on day {d}" for d in late[:5])
    more = ", ..." if len(late) > 5 else ""
    return f"; it receives {total:g} more after that day ({listed}{more}), which treat no one"


def check_floors(
    instance: MultiPeriodInstance,
    sim: Simulation,
    spec: FairnessSpec,
    floors: Callable[[Numbers, dict], np.ndarray],
) -> list[Violation]:
    """A floor kind's check from its definition `floors(numbers, params)`: X_r >= f_r where
    f_r > 0, f_r clipped at the staff cap and at U_r (a region with f_r <= 0 has no floor: it
    may give units away), X_r on the region's last useful day; a region below its floor is
    named with the units that reached it too late to count (`late_arrivals`)."""
    useful = Useful.of(instance)
    f = required(instance, floors, spec, useful)
    received = useful.received(instance, sim)
    return floor_violations(instance, received, f, str(spec.label), useful, sim)


def required(
    instance: MultiPeriodInstance,
    floors: Callable[[Numbers, dict], np.ndarray],
    spec: FairnessSpec,
    useful: Useful | None = None,
) -> np.ndarray:
    """f_r of a floor kind, clipped at the staff cap and at the most units the region can use
    at once."""
    numbers = Numbers.of(instance)
    useful = useful or Useful.of(instance)
    return np.minimum(np.minimum(floors(numbers, dict(spec.options)), numbers.cap), useful.usable)


def floor_violations(
    instance: MultiPeriodInstance,
    received: np.ndarray,
    floors: np.ndarray,
    label: str,
    useful: Useful | None = None,
    sim: Simulation | None = None,
) -> list[Violation]:
    regions = list(instance.regions)
    last = instance.days - 1
    at = (useful or Useful.of(instance)).measure_day(instance.days)
    out: list[Violation] = []
    short = np.nonzero((floors > 0) & (received < floors - TOL))[0]
    for r in short[:MAX_LISTED]:
        out.append(
            Violation(
                "fairness",
                int(at[r]),
                f"{label}: {regions[r]} receives {counted(received[r], 'unit')} net by day {at[r]} "
                f"(its last useful day), floor {floors[r]:g}"
                + ("" if sim is None else late_arrivals(instance, sim, int(r), int(at[r]))),
            )
        )
    if len(short) > MAX_LISTED:
        out.append(
            Violation(
                "fairness",
                last,
                f"{label}: {counted(len(short) - MAX_LISTED, 'more region')} below their floor",
            )
        )
    return out


def share_of(numbers: Numbers, share: float, weights: np.ndarray) -> np.ndarray:
    """floor(share S w_r / sum w): a share of every unit delivered, in proportion to w."""
    total = float(weights.sum())
    if total <= 0:
        return np.zeros(len(weights))
    return np.floor(share * numbers.S * weights / total + FLOOR_EPS)
