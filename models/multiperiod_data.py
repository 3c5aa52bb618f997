"""The numbers of the multi-period model (docs/multiperiod.md, same symbols) and its index sets.

`MultiPeriodData` is what the model is built from (optimiser/multiperiod/data.py computes it
from a validated instance); the index sets say which columns exist (SHIP, TR, ADM, OUT, PT).
They are data, not model: the planner's model (models/multiperiod.py) and the Pyomo oracle of
the tests (tests/pyomo_multiperiod.py) both use them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from models.fairness import REGISTRY, ConstraintSpec
from models.regional import RegionalData

# Logistics cost (tie-break only, docs/multiperiod.md, "The logistics tie-break"): handling
# per unit or patient moved, plus one per day in transit.
SHIP_HANDLING = 1.0
TRANSFER_HANDLING = 2.0
PATIENT_HANDLING = 5.0


@dataclass(frozen=True)
class MultiPeriodData:
    """Numbers the model needs. Arrays are indexed by position in `regions` / `depots` / days."""

    regions: tuple[str, ...]
    depots: tuple[str, ...]
    days: int
    own: np.ndarray  # (n, T) units the region itself has on day d (capacity)
    staff: np.ndarray  # (n, T) extra patients beyond own that staff allow (inf: unlimited)
    deliveries: np.ndarray  # (K, T) units arriving at each depot (initial supply on day 0)
    ship_lead: np.ndarray  # (K, n) whole days from depot k to region r
    arc_src: np.ndarray  # transfer lanes q -> r (empty: transfers off)
    arc_dst: np.ndarray
    arc_lead: np.ndarray
    los: np.ndarray  # (n,) whole days of treatment
    gain: np.ndarray  # (n,) g_r
    group_region: np.ndarray  # patient groups
    group_day: np.ndarray  # arrival day e_g (< 0: already present on day 0, residual stay)
    group_stay: np.ndarray  # rho_g
    group_size: np.ndarray  # n_g (expected patients, may be fractional)
    need: np.ndarray  # (n, T) patients needing the resource (census), treated or not
    # patients of each group on a unit when the plan starts (census only): admitted on day 0
    # whatever the plan, holding their unit until their course ends (demand.patients_on_units)
    group_held: np.ndarray | None = None
    held_occupancy: np.ndarray | None = None  # (n, T) units those patients use, day by day
    inflow: np.ndarray | None = None  # (n, T) units arriving (or leaving, < 0) by executed moves
    first_day: int = 0  # nothing new is dispatched before this day (rolling horizon: today)
    executed_from_depots: float = 0.0  # units the executed moves took from depots (off D)
    # the deliveries before executed shipments were taken off (None: `deliveries`): a depot's
    # lanes, for the rules' last useful days, are the whole horizon's, whatever left it since
    delivered: np.ndarray | None = None
    max_wait: int = 0
    batch_size: int = 1
    max_shipments_per_day: int | None = None
    donor_share: float = 0.0
    pt_src: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pt_dst: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pt_lead: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pt_max_per_day: float = math.inf
    # Horizon fairness (regions.csv values, as in the single-period engine)
    population: np.ndarray = field(default_factory=lambda: np.zeros(0))
    capacity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    peak_demand: np.ndarray = field(default_factory=lambda: np.zeros(0))
    staff_cap: np.ndarray = field(default_factory=lambda: np.zeros(0))
    weight: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rai: np.ndarray | None = None  # the single-period RAI (optimiser.instance.Instance.rai)

    @property
    def n(self) -> int:
        return len(self.regions)

    @property
    def supply(self) -> int:
        """S: every unit the depots receive over the horizon (executed shipments included)."""
        return round(float(self.deliveries.sum()) + self.executed_from_depots)

    @property
    def transfers(self) -> bool:
        return len(self.arc_src) > 0

    @property
    def patient_transfers(self) -> bool:
        return len(self.pt_src) > 0

    @property
    def held(self) -> np.ndarray:
        return np.zeros(len(self.group_size)) if self.group_held is None else self.group_held

    def held_units(self) -> np.ndarray:
        """(n, T): units in use by the patients on units at the start."""
        if self.held_occupancy is None:
            return np.zeros((self.n, self.days))
        return self.held_occupancy

    @property
    def group_first(self) -> np.ndarray:
        """First admission day of each group: max(e_g, 0)."""
        return np.maximum(self.group_day, 0)

    @property
    def group_last(self) -> np.ndarray:
        """Last admission day: 0 for patients already present, else min(e_g + w, T-1)."""
        return np.where(
            self.group_day < 0, 0, np.minimum(self.group_day + self.max_wait, self.days - 1)
        )

    @property
    def group_transferable(self) -> np.ndarray:
        """Patients may be transferred when they arrive inside the horizon (e_g >= 0)."""
        out = np.zeros(len(self.group_day), dtype=bool)
        if self.patient_transfers:
            has_lane = np.zeros(self.n, dtype=bool)
            has_lane[self.pt_src] = True
            out = (self.group_day >= 0) & has_lane[self.group_region]
        return out

    def fairness_view(self) -> RegionalData:
        """The single-period numbers the horizon floors are computed from (supply S)."""
        excess = np.maximum(self.peak_demand - self.capacity, 0.0)
        los = self.los.astype(float)
        rel = los / los.mean() if len(los) else los
        rai = self.rai if self.rai is not None else excess / np.where(rel > 0, rel, 1.0)
        return RegionalData(
            regions=self.regions,
            population=self.population,
            capacity=self.capacity,
            peak_demand=self.peak_demand,
            excess_demand=excess,
            gain=self.gain,
            turnover=np.ones(self.n),
            staff_cap=self.staff_cap,
            weight=self.weight,
            rai=rai,
            supply=self.supply,
            tiers=tuple(((float(e), float(g)),) for e, g in zip(excess, self.gain, strict=True)),
        )

    def usefulness(self) -> tuple[np.ndarray, np.ndarray]:
        """`useful_days` (computed once per data: the rounding asks for it per candidate)."""
        return self.useful_days

    @functools.cached_property
    def useful_days(self) -> tuple[np.ndarray, np.ndarray]:
        """(last useful day D_r, most units usable at once U_r) per region (docs/multiperiod.md,
        "Fairness over the horizon"): the horizon fairness rules measure X_r on D_r and never
        require units a region cannot use.

        N+_{r,d}: the most patients of r who could be in treatment on day d (every group g of r
        admissible by d whose stay could still cover d: first_g <= d <= last_g + rho_g - 1).
        Day d is *short* when N+_{r,d} > own_{r,d} and staff_{r,d} > 0, and a new unit can be
        there by d: d >= A_r, the earliest arrival of a shipment or transfer into r over the
        whole horizon (from day 0, not from today, and from the depots' deliveries before any
        executed shipment left them: a rolling re-plan measures the rule a plan of the whole
        horizon does, executed moves included, as check-plan replays it). D_r is
        the last short day on which one of r's patients can be admitted (a unit arriving later
        treats none of r's patients); -1: never.
        U_r = ceil(max over short days of min(N+_{r,d} - own_{r,d}, staff_{r,d})), 0 for a
        region with no short day."""
        n, T = self.n, self.days
        earliest = np.full(n, T, dtype=np.int64)
        whole = self if self.delivered is None else replace(self, deliveries=self.delivered)
        k, sr, sd = ship_index(whole, from_day=0)
        np.minimum.at(earliest, sr, sd + self.ship_lead[k, sr])
        a, td = transfer_index(self, from_day=0)
        if len(a):
            np.minimum.at(earliest, self.arc_dst[a], td + self.arc_lead[a])
        size = self.group_size
        live = size > 1e-12
        r, first, last = self.group_region[live], self.group_first[live], self.group_last[live]
        end = np.minimum(last + self.group_stay[live], T)
        present = np.zeros((n, T + 1))
        np.add.at(present, (r, first), size[live])
        np.add.at(present, (r, end), -size[live])
        most = np.cumsum(present, axis=1)[:, :T]
        window = np.zeros((n, T + 1))
        np.add.at(window, (r, first), 1.0)
        np.add.at(window, (r, last + 1), -1.0)
        admissible = np.cumsum(window, axis=1)[:, :T] > 0.5
        extra = np.minimum(most - self.own, self.staff)
        short = (extra > 1e-9) & (np.arange(T)[None, :] >= earliest[:, None])
        useful = short & admissible
        days = np.where(useful.any(axis=1), T - 1 - np.argmax(useful[:, ::-1], axis=1), -1)
        usable = np.ceil(np.where(short, extra, 0.0).max(axis=1, initial=0.0) - 1e-9)
        usable = np.where(days >= 0, np.maximum(usable, 0.0), 0.0)
        return days.astype(np.int64), usable

    def measure_days(self) -> np.ndarray:
        """The day each region's X_r is measured on: its last useful day D_r, or T-1 for a
        region that could never use a unit (no rule requires it any)."""
        days, _ = self.usefulness()
        return np.where(days >= 0, days, self.days - 1)

    def total_units(self) -> float:
        """Every unit in the system: delivered plus the regions' own (largest on any day)."""
        return float(self.supply + self.own.max(axis=1, initial=0.0).sum())


# ---------------------------------------------------------------------------------------------
# Index sets shared by the Pyomo model and the matrix fast path (data, not model).


def ship_index(
    data: MultiPeriodData, from_day: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SHIP = {(k, r, d): depot k has received units by day d, d >= today and d + l_{k,r} <=
    T-1}; `from_day` in place of today (0: the whole horizon's lanes, executed days too)."""
    K, T = len(data.depots), data.days
    cum = np.cumsum(data.deliveries, axis=1) if K else np.zeros((0, T))
    has = cum > 0
    first = np.where(has.any(axis=1), has.argmax(axis=1), T) if K else np.zeros(0, dtype=np.int64)
    d = np.arange(T)
    today = data.first_day if from_day is None else from_day
    mask = (d[None, None, :] >= np.maximum(first, today)[:, None, None]) & (
        d[None, None, :] + data.ship_lead[:, :, None] <= T - 1
    )
    k, r, dd = np.nonzero(mask)
    return (
        k.astype(np.int64, copy=False),
        r.astype(np.int64, copy=False),
        dd.astype(np.int64, copy=False),
    )


def transfer_index(
    data: MultiPeriodData, from_day: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """TR = {(a, d): today <= d, d + l_a <= T-1} over the transfer lanes a (`from_day` in
    place of today, as in ship_index)."""
    d = np.arange(data.days)
    today = data.first_day if from_day is None else from_day
    mask = (d[None, :] + data.arc_lead[:, None] <= data.days - 1) & (d[None, :] >= today)
    a, dd = np.nonzero(mask)
    return a.astype(np.int64, copy=False), dd.astype(np.int64, copy=False)


def _windows(
    first: np.ndarray, last: np.ndarray, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    counts = np.maximum(last[groups] - first[groups] + 1, 0)
    g = np.repeat(groups, counts)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    s = first[g] + (np.arange(int(counts.sum())) - offsets)
    return g.astype(np.int64), s.astype(np.int64)


def admission_index(data: MultiPeriodData) -> tuple[np.ndarray, np.ndarray]:
    """ADM = {(g, s): first_g <= s <= last_g}: group g admitted on day s."""
    groups = np.arange(len(data.group_size))
    return _windows(data.group_first, data.group_last, groups)


def outflow_index(data: MultiPeriodData) -> tuple[np.ndarray, np.ndarray]:
    """OUT = ADM restricted to transferable groups: group g sent to another region on day s."""
    groups = np.nonzero(data.group_transferable)[0]
    return _windows(data.group_first, data.group_last, groups)


def patient_lane_index(data: MultiPeriodData) -> tuple[np.ndarray, np.ndarray]:
    """PT = {(b, d): d >= today}: patients moved on lane b on day d (admitted on arrival)."""
    B, T = len(data.pt_src), data.days
    days = np.arange(data.first_day, T)
    b = np.repeat(np.arange(B), len(days))
    d = np.tile(days, B)
    return b.astype(np.int64), d.astype(np.int64)


PRIORITARIAN_FLOOR = 1e-3  # weights below this share of the largest are raised to it


def objective_weights(data: MultiPeriodData, constraints: Sequence[ConstraintSpec]) -> np.ndarray:
    """a_r: the product of the active prioritarian weights (ones when none). Over the horizon
    every admitted patient counts, also those treated with the region's own units, so a weight
    of 0 would leave patients untreated beside idle units: weights below PRIORITARIAN_FLOOR x
    the largest are raised to it."""
    a = np.ones(data.n)
    for spec in constraints:
        if REGISTRY[spec.kind].role == "objective":
            fn = REGISTRY[spec.kind].weights
            assert fn is not None
            a = a * fn(data.fairness_view(), spec.options)
    top = float(a.max()) if len(a) else 0.0
    return np.maximum(a, PRIORITARIAN_FLOOR * top) if top > 0 else np.ones(data.n)


def logistics_costs(data: MultiPeriodData) -> dict[str, np.ndarray]:
    """Cost per unit (or patient) of each movement variable, in index-set order."""
    k, r, _ = ship_index(data)
    a, _ = transfer_index(data)
    b, _ = patient_lane_index(data)
    return {
        "ship": data.batch_size * (SHIP_HANDLING + data.ship_lead[k, r].astype(float)),
        "transfer": TRANSFER_HANDLING + data.arc_lead[a].astype(float),
        "patients": PATIENT_HANDLING + data.pt_lead[b].astype(float),
    }
