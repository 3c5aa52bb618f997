"""The multi-period model: deliveries over time, lead times, redistribution, patient flow.

The one definition of the planner's model (docs/multiperiod.md, same symbols), built as arrays
on models/linear.py: one `add_<family>` per constraint family, the maths in its docstring, each
keeping typed handles to its columns and rows (`PlanModel`: `m.ship.cols`, `m.hand`,
`m.cover_rows`, ...); the fairness families are added by their kinds (models/fairness/<kind>.py,
`horizon`), which return `HorizonFamily` handles. Every engine of the planner (exact, rounding
with column generation, check-free extraction) reads this model; tests/pyomo_multiperiod.py
states it again in Pyomo, independently, as the tests' oracle. Why arrays and not Pyomo:
BENCHMARKS.md, "One model for the planner (issue 11)".

Symbols: r, q regions; k a depot; d, s days 0..T-1; g a patient group (region r_g, arrival day
e_g, stay rho_g days, size n_g); a a transfer lane q -> r with lead time l_a; b a patient
lane r -> q. Data: own_{r,d} units the region itself has (capacity), staff_{r,d} extra patients
its staff allow beyond own, D_{k,d} units delivered to depot k, l_{k,r} depot lead time, B the
batch size, w the longest wait, p the donor protection share, g_r = survival_with_r -
survival_without_r.

    maximise    L = sum_g g_{r_g} ( sum_s y_{g,s} + sum_s o_{g,s} )   (expected extra survivors)
    subject to  depot stock, units on hand, cohorts, patient lanes, occupancy and cover,
                shipments a day, and the active fairness families.

Stage 2 (tie-break) keeps L at its optimum and minimises the logistics cost C (`logistics`).
Columns are numbered as added, families in the order `build_plan_model` adds them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from models.fairness import REGISTRY, ConstraintSpec, HorizonFamily
from models.linear import INF, LinearModel, Program
from models.multiperiod_data import (
    PATIENT_HANDLING,
    PRIORITARIAN_FLOOR,
    SHIP_HANDLING,
    TRANSFER_HANDLING,
    MultiPeriodData,
    admission_index,
    logistics_costs,
    objective_weights,
    outflow_index,
    patient_lane_index,
    ship_index,
    transfer_index,
)

__all__ = [
    "PATIENT_HANDLING",
    "PRIORITARIAN_FLOOR",
    "SHIP_HANDLING",
    "TRANSFER_HANDLING",
    "Admissions",
    "MultiPeriodData",
    "PatientMoves",
    "PlanBuilder",
    "PlanModel",
    "Shipments",
    "Transfers",
    "build_plan_model",
    "horizon_kinds",
    "objective_weights",
]

EMPTY = np.zeros(0, dtype=np.int64)


def horizon_kinds() -> tuple[str, ...]:
    """The fairness kinds the planner accepts: those that declare a family over the horizon."""
    return tuple(name for name, kind in REGISTRY.items() if kind.horizon is not None)


@dataclass(frozen=True)
class Shipments:
    """x_{k,r,d}: `cols[i]` ships from depot `depot[i]` to `region[i]` on `day[i]`."""

    cols: np.ndarray
    depot: np.ndarray
    region: np.ndarray
    day: np.ndarray


@dataclass(frozen=True)
class Transfers:
    """t_{a,d}: `cols[i]` sends units on transfer lane `lane[i]` on `day[i]`."""

    cols: np.ndarray
    lane: np.ndarray
    day: np.ndarray


@dataclass(frozen=True)
class Admissions:
    """y_{g,s} (or o_{g,s}): `cols[i]` admits (sends) patients of `group[i]` on `day[i]`."""

    cols: np.ndarray
    group: np.ndarray
    day: np.ndarray


@dataclass(frozen=True)
class PatientMoves:
    """z_{b,d}: `cols[i]` moves patients on patient lane `lane[i]` on `day[i]`."""

    cols: np.ndarray
    lane: np.ndarray
    day: np.ndarray


def _no_shipments() -> Shipments:
    return Shipments(EMPTY, EMPTY, EMPTY, EMPTY)


def _no_moves() -> Transfers:
    return Transfers(EMPTY, EMPTY, EMPTY)


class PlanBuilder(LinearModel):
    """The model under construction: the arrays, and handles to what is built so far."""

    def __init__(self, data: MultiPeriodData) -> None:
        super().__init__()
        self.data = data
        n, T, K = data.n, data.days, len(data.depots)
        self.ship = _no_shipments()
        self.transfer = _no_moves()
        self.admit = Admissions(EMPTY, EMPTY, EMPTY)
        self.send = Admissions(EMPTY, EMPTY, EMPTY)
        self.ptransfer = PatientMoves(EMPTY, EMPTY, EMPTY)
        self.stock = np.zeros((K, T), dtype=np.int64)
        self.hand = np.zeros((n, T), dtype=np.int64)
        self.occ = np.zeros((n, T), dtype=np.int64)
        self.uses = EMPTY
        self.depot_rows = np.zeros((K, T), dtype=np.int64)
        self.hand_rows = np.zeros((n, T), dtype=np.int64)
        self.cohort_rows = EMPTY
        self.pt_link_rows = EMPTY
        self.pt_limit_rows = EMPTY
        self.occ_rows = np.zeros((n, T), dtype=np.int64)
        self.cover_rows = np.zeros((n, T), dtype=np.int64)
        self.ship_switch_rows = EMPTY
        self.ship_count_rows = EMPTY
        self.fairness: dict[str, HorizonFamily] = {}
        self.plan_columns = 0
        self.measure_day = data.measure_days()

    @property
    def last_hand(self) -> np.ndarray:
        """Columns of h_{r,T-1}: X_r = h_{r,T-1} - own_{r,T-1} (units received net by the end
        of the horizon, executed moves included)."""
        return self.hand[:, self.data.days - 1]

    @property
    def own_last(self) -> np.ndarray:
        """own_{r,T-1}."""
        return self.data.own[:, self.data.days - 1]

    @property
    def measured_hand(self) -> np.ndarray:
        """Columns of h_{r,D_r}: the fairness rules measure X_r = h_{r,D_r} - own_{r,D_r} on
        each region's last useful day D_r (T-1 for a region that can never use a unit;
        MultiPeriodData.usefulness)."""
        return self.hand[np.arange(self.data.n), self.measure_day]

    @property
    def own_measured(self) -> np.ndarray:
        """own_{r,D_r}."""
        return self.data.own[np.arange(self.data.n), self.measure_day]


@dataclass(frozen=True)
class PlanModel:
    """The built model: arrays for HiGHS (`program`, and `matrix` in scipy's CSC form for the
    column generation's products) and typed handles to its columns and rows."""

    data: MultiPeriodData
    program: Program
    matrix: sp.csc_matrix
    ship: Shipments
    transfer: Transfers
    stock: np.ndarray  # (K, T) columns of s_{k,d}
    hand: np.ndarray  # (n, T) columns of h_{r,d}
    admit: Admissions
    send: Admissions
    ptransfer: PatientMoves
    occ: np.ndarray  # (n, T) columns of u_{r,d}
    uses: np.ndarray  # v_{k,r,d}, one per shipment column (empty without a shipment limit)
    depot_rows: np.ndarray  # (K, T)
    hand_rows: np.ndarray  # (n, T)
    cohort_rows: np.ndarray
    pt_link_rows: np.ndarray
    pt_limit_rows: np.ndarray
    occ_rows: np.ndarray  # (n, T)
    cover_rows: np.ndarray  # (n, T)
    ship_switch_rows: np.ndarray
    ship_count_rows: np.ndarray
    fairness: dict[str, HorizonFamily]  # label -> its family (every candidate constraint)
    lives: np.ndarray  # objective coefficients of L (unweighted), full length
    logistics: np.ndarray  # coefficients of C, full length
    plan_columns: int  # columns of the plan itself; the fairness families' come after them
    fairness_columns: np.ndarray = field(default_factory=lambda: EMPTY)

    # the program's arrays, as the engines read them
    @property
    def col_lower(self) -> np.ndarray:
        return self.program.col_lower

    @property
    def col_upper(self) -> np.ndarray:
        return self.program.col_upper

    @property
    def row_lower(self) -> np.ndarray:
        return self.program.row_lower

    @property
    def row_upper(self) -> np.ndarray:
        return self.program.row_upper

    @property
    def integrality(self) -> np.ndarray:
        return self.program.integrality

    @property
    def shape(self) -> tuple[int, int]:
        return (self.program.num_rows, self.program.num_cols)

    @property
    def movements(self) -> np.ndarray:
        """Columns of the unit movements: shipments, then transfers."""
        return np.concatenate([self.ship.cols, self.transfer.cols])

    @property
    def patients(self) -> np.ndarray:
        """Columns of the patient flow: admissions, patients sent, patient moves."""
        return np.concatenate([self.admit.cols, self.send.cols, self.ptransfer.cols])

    def weighted_lives(self, weights: np.ndarray) -> np.ndarray:
        """Objective with prioritarian weights a_r on each group's region."""
        d = self.data
        cost = np.zeros_like(self.lives)
        cost[self.admit.cols] = (d.gain * weights)[d.group_region[self.admit.group]]
        cost[self.send.cols] = (d.gain * weights)[d.group_region[self.send.group]]
        return cost


def build_plan_model(
    data: MultiPeriodData, constraints: Sequence[ConstraintSpec] = ()
) -> PlanModel:
    """Build the planner's model with the family of every constraint in `constraints` (the
    engines switch them on and off). ValueError for a kind without a family over the horizon;
    TypeError for a kind whose family does not say what it built."""
    m = PlanBuilder(data)
    add_shipments(m, data)
    add_transfers(m, data)
    add_depot_stock(m, data)
    add_units_on_hand(m, data)
    add_admissions(m, data)
    add_patient_transfers(m, data)
    add_occupancy(m, data)
    add_shipment_limits(m, data)
    m.plan_columns = m.num_cols
    add_fairness(m, data, constraints)
    lives = np.zeros(m.num_cols)
    lives[m.admit.cols] = data.gain[data.group_region[m.admit.group]]
    lives[m.send.cols] = data.gain[data.group_region[m.send.group]]
    logistics = np.zeros(m.num_cols)
    cost = logistics_costs(data)
    logistics[m.ship.cols] = cost["ship"]
    logistics[m.transfer.cols] = cost["transfer"]
    logistics[m.ptransfer.cols] = cost["patients"]
    program = m.finish_in_order()
    matrix = sp.csc_matrix(
        (program.value, program.index, program.start),
        shape=(program.num_rows, program.num_cols),
    )
    fair = [f.columns for f in m.fairness.values() if len(f.columns)]
    return PlanModel(
        data=data,
        program=program,
        matrix=matrix,
        ship=m.ship,
        transfer=m.transfer,
        stock=m.stock,
        hand=m.hand,
        admit=m.admit,
        send=m.send,
        ptransfer=m.ptransfer,
        occ=m.occ,
        uses=m.uses,
        depot_rows=m.depot_rows,
        hand_rows=m.hand_rows,
        cohort_rows=m.cohort_rows,
        pt_link_rows=m.pt_link_rows,
        pt_limit_rows=m.pt_limit_rows,
        occ_rows=m.occ_rows,
        cover_rows=m.cover_rows,
        ship_switch_rows=m.ship_switch_rows,
        ship_count_rows=m.ship_count_rows,
        fairness=m.fairness,
        lives=lives,
        logistics=logistics,
        plan_columns=m.plan_columns,
        fairness_columns=np.concatenate(fair) if fair else EMPTY,
    )


def add_shipments(m: PlanBuilder, data: MultiPeriodData) -> None:
    """x_{k,r,d} in {0, ..., floor(U_k / B)}, (k, r, d) in SHIP: batches of B units dispatched
    from depot k to region r on day d, arriving on day d + l_{k,r} (within the horizon);
    U_k = sum_d D_{k,d}."""
    k, r, d = ship_index(data)
    depot_total = data.deliveries.sum(axis=1)
    cols = m.add_columns(len(k), 0.0, np.floor(depot_total[k] / data.batch_size), integer=True)
    m.ship = Shipments(cols, k, r, d)


def add_transfers(m: PlanBuilder, data: MultiPeriodData) -> None:
    """t_{a,d} in Z+, (a, d) in TR: spare units sent on lane a = (q -> r) on day d, arriving on
    day d + l_a. No lanes when transfers are switched off."""
    a, d = transfer_index(data)
    m.transfer = Transfers(m.add_columns(len(a), 0.0, INF, integer=True), a, d)


def _previous_day(cells: int, days: int) -> np.ndarray:
    """Mask of the (row-major, days last) cells that have a previous day."""
    return np.arange(cells) % days > 0


def add_depot_stock(m: PlanBuilder, data: MultiPeriodData) -> None:
    """Depot stock s_{k,d} >= 0 (s_{k,-1} = 0):

    s_{k,d} - s_{k,d-1} + B sum_r x_{k,r,d} = D_{k,d}.
    """
    K, T = len(data.depots), data.days
    stock = m.add_columns(K * T, 0.0, INF)  # k * T + d
    rows = m.add_rows(K * T, data.deliveries.ravel(), data.deliveries.ravel())
    later = _previous_day(K * T, T)
    m.add(rows, stock, 1.0)
    m.add(rows[later], stock[later] - 1, -1.0)
    m.add(rows[m.ship.depot * T + m.ship.day], m.ship.cols, float(data.batch_size))
    m.stock, m.depot_rows = stock.reshape(K, T), rows.reshape(K, T)


def add_units_on_hand(m: PlanBuilder, data: MultiPeriodData) -> None:
    """Units on hand h_{r,d} after day d's arrivals and departures (h_{r,-1} = own_{r,-1} = 0):

        h_{r,d} - h_{r,d-1} - B sum_k x_{k,r,d-l_{k,r}} - sum_{a: q->r} t_{a,d-l_a}
                + sum_{a: r->q} t_{a,d} = (own_{r,d} - own_{r,d-1}) + I_{r,d},
        h_{r,d} >= p own_{r,d}   (donor protection; p = 0 when off).

    I_{r,d}: units of movements already executed (rolling horizon) arriving (> 0) or leaving
    (< 0) on day d; their depot units are taken off D. Nothing new moves before today.
    Units received net by the end of the horizon: X_r = h_{r,T-1} - own_{r,T-1}.
    """
    n, T = data.n, data.days
    own = data.own
    hand = m.add_columns(n * T, (data.donor_share * own).ravel(), INF)  # r * T + d
    change = own - np.concatenate([np.zeros((n, 1)), own[:, :-1]], axis=1)
    if data.inflow is not None:
        change = change + data.inflow
    rows = m.add_rows(n * T, change.ravel(), change.ravel())
    later = _previous_day(n * T, T)
    m.add(rows, hand, 1.0)
    m.add(rows[later], hand[later] - 1, -1.0)
    s = m.ship
    m.add(
        rows[s.region * T + s.day + data.ship_lead[s.depot, s.region]],
        s.cols,
        -float(data.batch_size),
    )
    t = m.transfer
    if len(t.cols):
        m.add(rows[data.arc_dst[t.lane] * T + t.day + data.arc_lead[t.lane]], t.cols, -1.0)
        m.add(rows[data.arc_src[t.lane] * T + t.day], t.cols, 1.0)
    m.hand, m.hand_rows = hand.reshape(n, T), rows.reshape(n, T)


def add_admissions(m: PlanBuilder, data: MultiPeriodData) -> None:
    """y_{g,s} in [0, n_g], (g, s) in ADM: patients of group g admitted on day s; o_{g,s} (OUT)
    those sent to another region on day s. Each patient is admitted or sent at most once:

        sum_s y_{g,s} + sum_s o_{g,s} <= n_g,    y_{g,0} >= held_g  (e_g <= 0),

    a row only for a group with more than one variable (else n_g is its column's bound);
    held_g the patients of g already on a unit at the start (census only): they keep it, so
    with cover (u <= h) no plan can send their units away. Patients never admitted nor sent
    are the lives lost.
    """
    ag, as_ = admission_index(data)
    admit_low = np.where(as_ == data.group_first[ag], data.held[ag], 0.0)
    admit = m.add_columns(len(ag), admit_low, data.group_size[ag])
    og, os_ = outflow_index(data)
    send = m.add_columns(len(og), 0.0, data.group_size[og])
    G = len(data.group_size)
    count = np.bincount(ag, minlength=G) + np.bincount(og, minlength=G)
    multi = np.nonzero(count > 1)[0]
    rows = m.add_rows(len(multi), -INF, data.group_size[multi])
    row_of = np.full(G, -1, dtype=np.int64)
    row_of[multi] = rows
    mask = row_of[ag] >= 0
    m.add(row_of[ag][mask], admit[mask], 1.0)
    mask = row_of[og] >= 0
    m.add(row_of[og][mask], send[mask], 1.0)
    m.admit, m.send, m.cohort_rows = Admissions(admit, ag, as_), Admissions(send, og, os_), rows


def add_patient_transfers(m: PlanBuilder, data: MultiPeriodData) -> None:
    """z_{b,d} >= 0, (b, d) in PT: patients moved on lane b = (r -> q) on day d and admitted in q
    on arrival (lanes only where l_{r,q} is within the distance limit). They are the patients
    of region r sent that day, and at most P leave a region per day:

        sum_{g in r} o_{g,d} - sum_{b from r} z_{b,d} = 0,     sum_{b from r} z_{b,d} <= P.
    """
    b, d = patient_lane_index(data)
    cols = m.add_columns(len(b), 0.0, INF)
    m.ptransfer = PatientMoves(cols, b, d)
    if not len(b):
        return
    n, T = data.n, data.days
    link = m.add_rows(n * T, 0.0, 0.0)
    m.add(link[data.group_region[m.send.group] * T + m.send.day], m.send.cols, 1.0)
    m.add(link[data.pt_src[b] * T + d], cols, -1.0)
    m.pt_link_rows = link
    if math.isfinite(data.pt_max_per_day):
        limit = m.add_rows(n * T, -INF, data.pt_max_per_day)
        m.add(limit[data.pt_src[b] * T + d], cols, 1.0)
        m.pt_limit_rows = limit


def add_occupancy(m: PlanBuilder, data: MultiPeriodData) -> None:
    """Occupancy u_{r,d}: patients in treatment in region r on day d (u_{r,-1} = 0). A patient
    admitted on day s stays rho days (s .. s+rho-1); a transferred patient stays los of its
    origin:

        u_{r,d} - u_{r,d-1} - sum_{g in r} y_{g,d} + sum_{g in r, s + rho_g = d} y_{g,s}
                - sum_{b: q->r} z_{b,d} + sum_{b: q->r, d' + los_q = d} z_{b,d'} = 0,
        u_{r,d} - h_{r,d} <= 0                (cover: every patient has a unit; so a unit in
                                               use is never sent away),
        0 <= u_{r,d} <= own_{r,d} + staff_{r,d}   (staff).
    """
    n, T = data.n, data.days
    staff = data.staff
    occ_upper = np.where(np.isfinite(staff), data.own + staff, INF).ravel()
    occ = m.add_columns(n * T, 0.0, occ_upper)
    rows = m.add_rows(n * T, 0.0, 0.0)
    later = _previous_day(n * T, T)
    m.add(rows, occ, 1.0)
    m.add(rows[later], occ[later] - 1, -1.0)
    a = m.admit
    region = data.group_region[a.group]
    m.add(rows[region * T + a.day], a.cols, -1.0)
    end = a.day + data.group_stay[a.group]
    inside = end <= T - 1
    m.add(rows[region[inside] * T + end[inside]], a.cols[inside], 1.0)
    z = m.ptransfer
    if len(z.cols):
        dst = data.pt_dst[z.lane]
        m.add(rows[dst * T + z.day], z.cols, -1.0)
        end = z.day + data.los[data.pt_src[z.lane]]
        inside = end <= T - 1
        m.add(rows[dst[inside] * T + end[inside]], z.cols[inside], 1.0)
    cover = m.add_rows(n * T, -INF, 0.0)
    m.add(cover, occ, 1.0)
    m.add(cover, m.hand.ravel(), -1.0)
    m.occ, m.occ_rows, m.cover_rows = occ.reshape(n, T), rows.reshape(n, T), cover.reshape(n, T)


def add_shipment_limits(m: PlanBuilder, data: MultiPeriodData) -> None:
    """At most M shipments a day from each depot (when set), with binaries v_{k,r,d}:

        B x_{k,r,d} - U_k v_{k,r,d} <= 0,   sum_r v_{k,r,d} <= M,   U_k = sum_d D_{k,d}.

    (The batch size B itself is built into x: a shipment is a whole number of batches.)
    """
    if data.max_shipments_per_day is None:
        return
    T = data.days
    s = m.ship
    uses = m.add_columns(len(s.cols), 0.0, 1.0, integer=True)
    switch = m.add_rows(len(s.cols), -INF, 0.0)
    m.add(switch, s.cols, float(data.batch_size))
    m.add(switch, uses, -data.deliveries.sum(axis=1)[s.depot])
    count = m.add_rows(len(data.depots) * T, -INF, float(data.max_shipments_per_day or 0))
    m.add(count[s.depot * T + s.day], uses, 1.0)
    m.uses, m.ship_switch_rows, m.ship_count_rows = uses, switch, count


def add_fairness(
    m: PlanBuilder, data: MultiPeriodData, constraints: Sequence[ConstraintSpec]
) -> None:
    """The family of each fairness constraint over the horizon, added by its kind
    (models/fairness/<kind>.py, `horizon`) on X_r = h_{r,T-1} - own_{r,T-1}, keyed by its
    label. A kind without a family over the horizon is refused (ValueError); a family that
    does not return its handle is an error (TypeError), never a constraint silently dropped."""
    for spec in constraints:
        kind = REGISTRY[spec.kind]
        if kind.horizon is None:
            raise ValueError(
                f"{spec.kind} cannot be applied over the horizon (supported: "
                f"{', '.join(horizon_kinds())})"
            )
        family = kind.horizon(m, data, spec)
        if not isinstance(family, HorizonFamily):
            raise TypeError(
                f"{spec.kind} ({kind.module}): its horizon family returned {family!r}, not the "
                "HorizonFamily handle of the rows it built"
            )
        m.fairness[spec.label] = family
