"""The multi-period model: deliveries over time, lead times, redistribution, patient flow.

This is the documented reference formulation (docs/multiperiod.md, same symbols). The engine
solves the same model assembled directly as sparse matrices (optimiser/multiperiod/fastpath.py);
tests check that both give the same optimum.

Symbols: r, q regions; k a depot; d, s days 0..T-1; g a patient group (region r_g, arrival day
e_g, stay rho_g days, size n_g); a a transfer lane q -> r with lead time l_a; b a patient
lane r -> q. Data: own_{r,d} units the region itself has (capacity), staff_{r,d} extra patients
its staff allow beyond own, D_{k,d} units delivered to depot k, l_{k,r} depot lead time, B the
batch size, w the longest wait, p the donor protection share, g_r = survival_with_r -
survival_without_r.

    maximise    L = sum_g g_{r_g} ( sum_s y_{g,s} + sum_s o_{g,s} )   (expected extra survivors)
    subject to  depot stock, units on hand, cohorts, occupancy, cover, staff, patient lanes,
                batches and the active fairness families (one add_<family> each, below).

Stage 2 (tie-break) keeps L at its optimum and minimises the logistics cost C (add_logistics_cost).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo

from models.fairness import (
    FLOOR_EPS,
    REGISTRY,
    THRESHOLD_SLACK,
    ConstraintSpec,
    threshold_members,
)
from models.regional import RegionalData

# Logistics cost (tie-break only, docs/multiperiod.md "Logistics cost"): handling per unit or
# patient moved, plus one per day in transit.
SHIP_HANDLING = 1.0
TRANSFER_HANDLING = 2.0
PATIENT_HANDLING = 5.0

# Fairness kinds that can be applied over the horizon (on X_r, units received net by day T-1).
HORIZON_FLOOR_KINDS = (
    "per_capita_floor",
    "excess_per_capita_floor",
    "coverage_floor",
    "capacity_per_capita_floor",
    "min_units",
)
HORIZON_KINDS = (*HORIZON_FLOOR_KINDS, "max_coverage_gap", "threshold", "prioritarian")


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

    def total_units(self) -> float:
        """Every unit in the system: delivered plus the regions' own (largest on any day)."""
        return float(self.supply + self.own.max(axis=1, initial=0.0).sum())


# ---------------------------------------------------------------------------------------------
# Index sets shared by the Pyomo model and the matrix fast path (data, not model).


def ship_index(data: MultiPeriodData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SHIP = {(k, r, d): depot k has received units by day d and d + l_{k,r} <= T-1}."""
    K, T = len(data.depots), data.days
    cum = np.cumsum(data.deliveries, axis=1) if K else np.zeros((0, T))
    has = cum > 0
    first = np.where(has.any(axis=1), has.argmax(axis=1), T) if K else np.zeros(0, dtype=np.int64)
    d = np.arange(T)
    mask = (d[None, None, :] >= np.maximum(first, data.first_day)[:, None, None]) & (
        d[None, None, :] + data.ship_lead[:, :, None] <= T - 1
    )
    k, r, dd = np.nonzero(mask)
    return k.astype(np.int64), r.astype(np.int64), dd.astype(np.int64)


def transfer_index(data: MultiPeriodData) -> tuple[np.ndarray, np.ndarray]:
    """TR = {(a, d): today <= d, d + l_a <= T-1} over the transfer lanes a."""
    d = np.arange(data.days)
    mask = (d[None, :] + data.arc_lead[:, None] <= data.days - 1) & (d[None, :] >= data.first_day)
    a, dd = np.nonzero(mask)
    return a.astype(np.int64), dd.astype(np.int64)


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


def horizon_floors(data: MultiPeriodData, spec: ConstraintSpec) -> np.ndarray:
    """f_r for a floor kind over the horizon: the single-period floor with supply S, clipped
    at the staff cap (models/fairness.py)."""
    fn = REGISTRY[spec.kind].floors
    assert fn is not None
    view = data.fairness_view()
    return np.minimum(fn(view, spec.options), view.staff_cap)


def coverage_big_m(data: MultiPeriodData) -> np.ndarray:
    """M_r >= (c_r + X_r) / P_r for any plan: X_r is at most every unit in the system."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            data.peak_demand > 0, (data.capacity + data.total_units()) / data.peak_demand, 0.0
        )


@dataclass(frozen=True)
class HorizonThreshold:
    """The numbers of threshold(tau, index) over the horizon, on X_r (docs/multiperiod.md):
    members T = {r : index_r >= tau} (regions.csv values, the single-period index), weights
    w_r = (E_r / pop_r) / max_T (E / pop), stop levels q_r = min(cap_r, ceil(E_r)), the
    members that can stop (q_r below every unit in the system), lambda_max and the big-M of
    the lower rows, M_r = lambda_max w_r."""

    members: np.ndarray  # region positions in T (empty: no rows, fewer than two members)
    weight: np.ndarray  # w_r of each member
    stop: np.ndarray  # q_r of each member
    stoppable: np.ndarray  # bool per member
    lambda_max: float

    @property
    def slack(self) -> np.ndarray:
        """s_r = 1 - 1e-5; 0 where w_r = 0: X_r is whole, and 0 is the only whole number
        within one unit of lambda * 0 (a tighter LP, the same whole plans)."""
        return np.where(self.weight > 0, 1.0 - THRESHOLD_SLACK, 0.0)

    def big_m(self) -> np.ndarray:
        return self.lambda_max * self.weight

    def limits(self, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """For a fixed lambda the rule is a pair of bounds on each member's whole X_r:
        ceil(min(lambda w_r - s_r, q_r)) <= X_r <= floor(lambda w_r + s_r) (min only where the
        member can stop)."""
        low = self.weight * lam - self.slack
        low = np.where(self.stoppable, np.minimum(low, self.stop), low)
        return np.ceil(low - FLOOR_EPS), np.floor(self.weight * lam + self.slack + FLOOR_EPS)


def horizon_threshold(data: MultiPeriodData, spec: ConstraintSpec) -> HorizonThreshold:
    """threshold(tau, index) on the units received net by the last day (X_r := x_r, supply:
    every unit in the system, since transfers can bring a member more than the depots hold)."""
    view = data.fairness_view()
    members = np.nonzero(threshold_members(view, spec.options))[0]
    per_capita = view.excess_demand / view.population
    scale = float(per_capita[members].max()) if len(members) else 0.0
    if len(members) <= 1 or scale <= 0:
        empty = np.zeros(0)
        return HorizonThreshold(members[:0], empty, empty, empty.astype(bool), 0.0)
    weight = per_capita[members] / scale
    stop = np.minimum(view.staff_cap[members], np.ceil(view.excess_demand[members] - FLOOR_EPS))
    units = data.total_units()
    positive = weight[weight > 0]
    return HorizonThreshold(
        members=members,
        weight=weight,
        stop=stop,
        stoppable=stop < units,
        lambda_max=(units + 1.0) / float(positive.min()),
    )


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


# ---------------------------------------------------------------------------------------------
# The Pyomo formulation


@dataclass(frozen=True)
class MultiPeriodOptions:
    """Fairness families to build (all active) and the objective's prioritarian weights."""

    constraints: Sequence[ConstraintSpec] = ()


def build_multiperiod(
    data: MultiPeriodData, options: MultiPeriodOptions | None = None
) -> pyo.ConcreteModel:
    """Build the multi-period model with every requested fairness family active."""
    options = options or MultiPeriodOptions()
    m = pyo.ConcreteModel(name="multiperiod")
    m.R = pyo.Set(initialize=range(data.n), ordered=True)
    m.D = pyo.Set(initialize=range(data.days), ordered=True)
    m.K = pyo.Set(initialize=range(len(data.depots)), ordered=True)
    add_shipments(m, data)
    add_depot_stock(m, data)
    add_transfers(m, data)
    add_units_on_hand(m, data)
    add_admissions(m, data)
    add_patient_transfers(m, data)
    add_occupancy(m, data)
    add_shipment_limits(m, data)
    add_fairness(m, data, options.constraints)
    add_lives(m, data, objective_weights(data, options.constraints))
    add_logistics_cost(m, data)
    m.objective = pyo.Objective(expr=m.weighted_lives, sense=pyo.maximize)
    return m


def add_shipments(m: pyo.ConcreteModel, data: MultiPeriodData) -> None:
    """x_{k,r,d} in Z+, (k, r, d) in SHIP: batches of B units dispatched from depot k to region r
    on day d, arriving on day d + l_{k,r} (within the horizon)."""
    k, r, d = ship_index(data)
    m.SHIP = pyo.Set(
        initialize=list(zip(k.tolist(), r.tolist(), d.tolist(), strict=True)), dimen=3, ordered=True
    )
    m.ship = pyo.Var(m.SHIP, domain=pyo.NonNegativeIntegers)


def add_depot_stock(m: pyo.ConcreteModel, data: MultiPeriodData) -> None:
    """Depot stock s_{k,d} >= 0 (s_{k,-1} = 0):

    s_{k,d} = s_{k,d-1} + D_{k,d} - B sum_r x_{k,r,d}.
    """
    m.stock = pyo.Var(m.K, m.D, bounds=(0.0, None))
    out: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for k, r, d in m.SHIP:
        out[k, d].append(m.ship[k, r, d])
    B = data.batch_size

    def rule(_m: Any, k: int, d: int) -> Any:
        prev = m.stock[k, d - 1] if d > 0 else 0.0
        return m.stock[k, d] == prev + float(data.deliveries[k, d]) - B * sum(out[k, d])

    m.depot_balance = pyo.Constraint(m.K, m.D, rule=rule)


def add_transfers(m: pyo.ConcreteModel, data: MultiPeriodData) -> None:
    """t_{a,d} in Z+, (a, d) in TR: spare units sent on lane a = (q -> r) on day d, arriving on
    day d + l_a. No lanes when transfers are switched off."""
    a, d = transfer_index(data)
    m.TR = pyo.Set(initialize=list(zip(a.tolist(), d.tolist(), strict=True)), dimen=2, ordered=True)
    m.transfer = pyo.Var(m.TR, domain=pyo.NonNegativeIntegers)


def add_units_on_hand(m: pyo.ConcreteModel, data: MultiPeriodData) -> None:
    """Units on hand h_{r,d} after day d's arrivals and departures (h_{r,-1} = own_{r,-1} = 0):

        h_{r,d} = h_{r,d-1} + (own_{r,d} - own_{r,d-1}) + I_{r,d} + B sum_k x_{k,r,d-l_{k,r}}
                  + sum_{a: q->r} t_{a,d-l_a} - sum_{a: r->q} t_{a,d},
        h_{r,d} >= p own_{r,d}   (donor protection; p = 0 when off).

    I_{r,d}: units of movements already executed (rolling horizon) arriving (> 0) or leaving
    (< 0) on day d; their depot units are taken off D. Nothing new moves before today.
    Cumulative units received net by the end of the horizon: X_r = h_{r,T-1} - own_{r,T-1}.
    """
    p = data.donor_share
    own = data.own
    m.hand = pyo.Var(m.R, m.D, bounds=lambda _m, r, d: (p * float(own[r, d]), None))
    inflow: dict[tuple[int, int], list[Any]] = defaultdict(list)
    outflow: dict[tuple[int, int], list[Any]] = defaultdict(list)
    B = data.batch_size
    for k, r, d in m.SHIP:
        inflow[r, d + int(data.ship_lead[k, r])].append(B * m.ship[k, r, d])
    for a, d in m.TR:
        inflow[int(data.arc_dst[a]), d + int(data.arc_lead[a])].append(m.transfer[a, d])
        outflow[int(data.arc_src[a]), d].append(m.transfer[a, d])

    inflow_data = data.inflow if data.inflow is not None else np.zeros_like(own)

    def rule(_m: Any, r: int, d: int) -> Any:
        prev = m.hand[r, d - 1] if d > 0 else 0.0
        change = (
            float(own[r, d]) - (float(own[r, d - 1]) if d > 0 else 0.0) + float(inflow_data[r, d])
        )
        return m.hand[r, d] == prev + change + sum(inflow[r, d]) - sum(outflow[r, d])

    m.hand_balance = pyo.Constraint(m.R, m.D, rule=rule)


def add_admissions(m: pyo.ConcreteModel, data: MultiPeriodData) -> None:
    """y_{g,s} in [0, n_g], (g, s) in ADM: patients of group g admitted on day s; o_{g,s} (OUT)
    those sent to another region on day s. Each patient is admitted or sent at most once:

        sum_s y_{g,s} + sum_s o_{g,s} <= n_g,    y_{g,0} >= held_g  (e_g <= 0),

    held_g the patients of g already on a unit at the start (census only): they keep it, so
    with cover (u <= h) no plan can send their units away.

    Patients never admitted nor sent are the lives lost.
    """
    g, s = admission_index(data)
    m.ADM = pyo.Set(
        initialize=list(zip(g.tolist(), s.tolist(), strict=True)), dimen=2, ordered=True
    )
    size = data.group_size
    held, first = data.held, data.group_first
    m.admit = pyo.Var(
        m.ADM,
        bounds=lambda _m, g, s: (float(held[g]) if s == first[g] else 0.0, float(size[g])),
    )
    go, so = outflow_index(data)
    m.OUT = pyo.Set(
        initialize=list(zip(go.tolist(), so.tolist(), strict=True)), dimen=2, ordered=True
    )
    m.send = pyo.Var(m.OUT, bounds=lambda _m, g, s: (0.0, float(size[g])))
    terms: dict[int, list[Any]] = defaultdict(list)
    for g_, s_ in m.ADM:
        terms[g_].append(m.admit[g_, s_])
    for g_, s_ in m.OUT:
        terms[g_].append(m.send[g_, s_])
    m.G = pyo.Set(initialize=range(len(size)), ordered=True)
    m.cohort = pyo.Constraint(m.G, rule=lambda _m, g: sum(terms[g]) <= float(size[g]))


def add_patient_transfers(m: pyo.ConcreteModel, data: MultiPeriodData) -> None:
    """z_{b,d} >= 0, (b, d) in PT: patients moved on lane b = (r -> q) on day d and admitted in q
    on arrival (lanes only where l_{r,q} is within the distance limit). They are the patients
    of region r sent that day, and at most P leave a region per day:

        sum_{b from r} z_{b,d} = sum_{g in r} o_{g,d},     sum_{b from r} z_{b,d} <= P.
    """
    b, d = patient_lane_index(data)
    m.PT = pyo.Set(initialize=list(zip(b.tolist(), d.tolist(), strict=True)), dimen=2, ordered=True)
    m.ptransfer = pyo.Var(m.PT, bounds=(0.0, None))
    sent: dict[tuple[int, int], list[Any]] = defaultdict(list)
    moved: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for g, s in m.OUT:
        sent[int(data.group_region[g]), s].append(m.send[g, s])
    for b_, d_ in m.PT:
        moved[int(data.pt_src[b_]), d_].append(m.ptransfer[b_, d_])
    keys = sorted(set(sent) | set(moved))
    m.PTRD = pyo.Set(initialize=keys, dimen=2, ordered=True)
    m.pt_link = pyo.Constraint(m.PTRD, rule=lambda _m, r, d: sum(moved[r, d]) == sum(sent[r, d]))
    if math.isfinite(data.pt_max_per_day):
        limit = float(data.pt_max_per_day)
        m.pt_limit = pyo.Constraint(
            m.PTRD,
            rule=lambda _m, r, d: sum(moved[r, d]) <= limit if moved[r, d] else pyo.Constraint.Skip,
        )


def add_occupancy(m: pyo.ConcreteModel, data: MultiPeriodData) -> None:
    """Occupancy u_{r,d}: patients in treatment in region r on day d (u_{r,-1} = 0). A patient
    admitted on day s stays rho days (s .. s+rho-1); a transferred patient stays los of its
    origin:

        u_{r,d} = u_{r,d-1} + sum_{g in r} y_{g,d} - sum_{g in r, s + rho_g = d} y_{g,s}
                  + sum_{b: q->r} z_{b,d} - sum_{b: q->r, d' + los_q = d} z_{b,d'},
        u_{r,d} <= h_{r,d}                    (cover: every patient has a unit; so a unit in
                                               use is never sent away),
        0 <= u_{r,d} <= own_{r,d} + staff_{r,d}   (staff).
    """
    own, staff = data.own, data.staff
    m.occ = pyo.Var(
        m.R,
        m.D,
        bounds=lambda _m, r, d: (
            0.0,
            None if not math.isfinite(staff[r, d]) else float(own[r, d] + staff[r, d]),
        ),
    )
    delta: dict[tuple[int, int], list[Any]] = defaultdict(list)
    T = data.days
    for g, s in m.ADM:
        r = int(data.group_region[g])
        delta[r, s].append(m.admit[g, s])
        end = s + int(data.group_stay[g])
        if end <= T - 1:
            delta[r, end].append(-m.admit[g, s])
    for b, d in m.PT:
        q = int(data.pt_dst[b])
        delta[q, d].append(m.ptransfer[b, d])
        end = d + int(data.los[int(data.pt_src[b])])
        if end <= T - 1:
            delta[q, end].append(-m.ptransfer[b, d])

    def balance(_m: Any, r: int, d: int) -> Any:
        prev = m.occ[r, d - 1] if d > 0 else 0.0
        return m.occ[r, d] == prev + sum(delta[r, d])

    m.occ_balance = pyo.Constraint(m.R, m.D, rule=balance)
    m.cover = pyo.Constraint(m.R, m.D, rule=lambda _m, r, d: m.occ[r, d] <= m.hand[r, d])


def add_shipment_limits(m: pyo.ConcreteModel, data: MultiPeriodData) -> None:
    """At most M shipments a day from each depot (when set), with binaries v_{k,r,d}:

        B x_{k,r,d} <= U_k v_{k,r,d},   sum_r v_{k,r,d} <= M,   U_k = sum_d D_{k,d}.

    (The batch size B itself is built into x: a shipment is a whole number of batches.)
    """
    if data.max_shipments_per_day is None:
        return
    B = data.batch_size
    total = data.deliveries.sum(axis=1)
    m.uses = pyo.Var(m.SHIP, domain=pyo.Binary)
    m.ship_switch = pyo.Constraint(
        m.SHIP, rule=lambda _m, k, r, d: B * m.ship[k, r, d] <= float(total[k]) * m.uses[k, r, d]
    )
    per_day: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for k, r, d in m.SHIP:
        per_day[k, d].append(m.uses[k, r, d])
    limit = int(data.max_shipments_per_day)
    m.KD = pyo.Set(initialize=sorted(per_day), dimen=2, ordered=True)
    m.ship_count = pyo.Constraint(m.KD, rule=lambda _m, k, d: sum(per_day[k, d]) <= limit)


def add_fairness(
    m: pyo.ConcreteModel, data: MultiPeriodData, constraints: Sequence[ConstraintSpec]
) -> None:
    """One block per active fairness constraint, on X_r = h_{r,T-1} - own_{r,T-1} (units
    received net of units given, by the end of the horizon), with S = sum_{k,d} D_{k,d}:

        floors (per_capita_floor, excess_per_capita_floor, coverage_floor,
        capacity_per_capita_floor, min_units):  X_r >= f_r   (f_r the single-period floor
        computed with supply S, clipped at staff_cap_r; rows only where f_r > 0);
        max_coverage_gap(gap): y_r = (c_r + X_r) / P_r over {r : P_r > 0},
            m_cov <= y_r,  y_r <= m_cov + gap + M_r z,  m_cov + gap >= z,
            m_cov in [0, 1], z binary, M_r = (c_r + every unit in the system) / P_r;
        threshold(tau, index): for members r in T (HorizonThreshold), one lambda >= 0,
            X_r <= lambda w_r + s_r,  X_r >= lambda w_r - s_r - M_r k_r,  X_r >= q_r k_r,
            k_r binary (only where r can stop; else k_r = 0), s_r = 1 - 1e-5 (0 if w_r = 0);
        prioritarian: no row (objective weights a_r, add_lives).
    """
    labels = [c.label for c in constraints]
    m.fairness = pyo.Block(labels)
    last = data.days - 1

    def received(r: int) -> Any:
        return m.hand[r, last] - float(data.own[r, last])

    for spec in constraints:
        block = m.fairness[spec.label]
        if spec.kind in HORIZON_FLOOR_KINDS:
            floors = horizon_floors(data, spec)
            rows = [r for r in range(data.n) if floors[r] > 0]
            block.lower = pyo.Constraint(
                rows, rule=lambda _b, r, f=floors: received(r) >= float(f[r])
            )
        elif spec.kind == "max_coverage_gap":
            gap = float(spec.options["gap"])
            demand = [r for r in range(data.n) if data.peak_demand[r] > 0]
            if not demand:
                continue
            big_m = coverage_big_m(data)
            block.min_coverage = pyo.Var(bounds=(0.0, 1.0))
            block.all_near_full = pyo.Var(domain=pyo.Binary)

            def cov(r: int) -> Any:
                return (float(data.capacity[r]) + received(r)) / float(data.peak_demand[r])

            def upper(b: Any, r: int, gap: float = gap, big_m: np.ndarray = big_m) -> Any:
                return cov(r) <= b.min_coverage + gap + float(big_m[r]) * b.all_near_full

            block.lower = pyo.Constraint(demand, rule=lambda b, r: b.min_coverage <= cov(r))
            block.upper = pyo.Constraint(demand, rule=upper)
            block.switch = pyo.Constraint(expr=block.min_coverage + gap >= block.all_near_full)
        elif spec.kind == "threshold":
            add_horizon_threshold(block, data, horizon_threshold(data, spec), received)
        elif spec.kind == "prioritarian":
            continue
        else:
            raise ValueError(
                f"{spec.kind} cannot be applied over the horizon (supported: "
                f"{', '.join(HORIZON_KINDS)})"
            )


def add_horizon_threshold(
    block: Any, data: MultiPeriodData, rule: HorizonThreshold, received: Any
) -> None:
    """The paper's threshold rule on X_r (`received(r)`): members receive net units in
    proportion to w_r within one unit, for one common lambda, or have reached their stop level:

        X_r <= lambda w_r + s_r,   X_r >= lambda w_r - s_r - M_r k_r,   X_r >= q_r k_r,

    s_r = 1 - 1e-5 (strictly within one unit), or 0 where w_r = 0 (X_r = 0: the only whole
    number within one unit of 0; the same whole plans, a tighter LP).
    """
    if not len(rule.members):
        return
    members = [int(r) for r in rule.members]
    at = {r: i for i, r in enumerate(members)}
    w, big_m, s = rule.weight, rule.big_m(), rule.slack
    block.lam = pyo.Var(bounds=(0.0, rule.lambda_max))
    stoppable = [r for r in members if rule.stoppable[at[r]]]
    block.stopped = pyo.Var(stoppable, domain=pyo.Binary)
    block.upper = pyo.Constraint(
        members, rule=lambda b, r: received(r) <= b.lam * float(w[at[r]]) + float(s[at[r]])
    )

    def lower(b: Any, r: int) -> Any:
        i = at[r]
        below = b.lam * float(w[i]) - float(s[i])
        if r in b.stopped:
            return received(r) >= below - float(big_m[i]) * b.stopped[r]
        return received(r) >= below

    block.lower = pyo.Constraint(members, rule=lower)
    block.stop_level = pyo.Constraint(
        stoppable, rule=lambda b, r: received(r) >= float(rule.stop[at[r]]) * b.stopped[r]
    )


def add_lives(
    m: pyo.ConcreteModel, data: MultiPeriodData, weights: np.ndarray | None = None
) -> None:
    """L = sum_g g_{r_g} (sum_s y_{g,s} + sum_s o_{g,s}): every patient admitted (here or, when
    sent, in the receiving region) gains g of its home region. With prioritarian weights a_r
    the objective is sum_g a_{r_g} g_{r_g} (...); `lives` stays unweighted."""
    a = np.ones(data.n) if weights is None else weights
    gain = data.gain[data.group_region]
    wgain = gain * a[data.group_region]
    m.lives = pyo.Expression(
        expr=sum(float(gain[g]) * m.admit[g, s] for g, s in m.ADM)
        + sum(float(gain[g]) * m.send[g, s] for g, s in m.OUT)
    )
    m.weighted_lives = pyo.Expression(
        expr=sum(float(wgain[g]) * m.admit[g, s] for g, s in m.ADM)
        + sum(float(wgain[g]) * m.send[g, s] for g, s in m.OUT)
    )


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


def add_logistics_cost(m: pyo.ConcreteModel, data: MultiPeriodData) -> None:
    """C = sum (1 + l_{k,r}) B x_{k,r,d} + sum (2 + l_a) t_{a,d} + sum (5 + l_b) z_{b,d}:
    handling plus days in transit. Only ever minimised with L held at its optimum (stage 2),
    so it breaks ties and never costs a life."""
    cost = logistics_costs(data)
    m.logistics_cost = pyo.Expression(
        expr=sum(float(c) * m.ship[i] for c, i in zip(cost["ship"], m.SHIP, strict=True))
        + sum(float(c) * m.transfer[i] for c, i in zip(cost["transfer"], m.TR, strict=True))
        + sum(float(c) * m.ptransfer[i] for c, i in zip(cost["patients"], m.PT, strict=True))
    )
