"""The multi-period model stated in Pyomo, independently of models/multiperiod.py: the oracle
the planner's array model is checked against (tests/test_multiperiod_model.py: same optimum on
small instances, by HiGHS on each).

It is the model as docs/multiperiod.md writes it (and as the product stated it before the array
model became the one definition): one Pyomo component per family, compiled by Pyomo's
standard-form compiler (optimiser.solver.HighsModel). The fairness families are restated here
from their definitions; only the data (models/multiperiod_data.py: the numbers and index sets)
and the floor values f_r (the registry's `floors` functions, checked by hand in
tests/test_fairness_constraints.py) are shared. Differences of form from the product's model:
every patient group has a cohort row (the product bounds a group with one variable instead),
and no cut rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyomo.environ as pyo

from models.fairness import FLOOR_EPS, REGISTRY, THRESHOLD_SLACK, ConstraintSpec, threshold_members
from models.multiperiod_data import (
    MultiPeriodData,
    admission_index,
    logistics_costs,
    objective_weights,
    outflow_index,
    patient_lane_index,
    ship_index,
    transfer_index,
)


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


def useful(data: MultiPeriodData) -> tuple[list[int], list[float]]:
    """(D_r, U_r) per region, restated group by group from docs/multiperiod.md: day d is short
    for r when the patients of r who could be in treatment on d (groups admissible by d whose
    stay could still cover d) exceed own_{r,d} and staff_{r,d} > 0, from the first day a
    shipment or transfer can arrive in r (over the whole horizon: from day 0, whatever today
    is); D_r is the last short day on which a patient of r can
    be admitted (-1: none), U_r = ceil(the largest
    min(those patients - own, staff) over short days), 0 when D_r = -1."""
    T = data.days
    earliest = [T] * data.n  # the first day a shipment or transfer column can arrive
    whole = data if data.delivered is None else replace(data, deliveries=data.delivered)
    for k, r, d in zip(*ship_index(whole, from_day=0), strict=True):
        earliest[r] = min(earliest[r], int(d + data.ship_lead[k, r]))
    for a, d in zip(*transfer_index(data, from_day=0), strict=True):
        dst = int(data.arc_dst[a])
        earliest[dst] = min(earliest[dst], int(d + data.arc_lead[a]))
    most = [[0.0] * T for _ in range(data.n)]
    admissible = [[False] * T for _ in range(data.n)]
    for g in range(len(data.group_size)):
        if data.group_size[g] <= 1e-12:
            continue
        r = int(data.group_region[g])
        first = max(int(data.group_day[g]), 0)
        last = 0 if data.group_day[g] < 0 else min(int(data.group_day[g]) + data.max_wait, T - 1)
        for d in range(first, min(last + int(data.group_stay[g]), T)):
            most[r][d] += float(data.group_size[g])
        for d in range(first, last + 1):
            admissible[r][d] = True
    days, usable = [], []
    for r in range(data.n):
        day, top = -1, 0.0
        for d in range(earliest[r], T):
            extra = min(most[r][d] - float(data.own[r, d]), float(data.staff[r, d]))
            if extra > 1e-9:
                top = max(top, extra)
                if admissible[r][d]:
                    day = d
        days.append(day)
        usable.append(float(math.ceil(top - 1e-9)) if day >= 0 else 0.0)
    return days, usable


def add_fairness(
    m: pyo.ConcreteModel, data: MultiPeriodData, constraints: Sequence[ConstraintSpec]
) -> None:
    """One block per active fairness constraint, on X_r = h_{r,D_r} - own_{r,D_r} (units
    received net of units given, by the region's last useful day D_r, `useful`; T-1 for a
    region that can never use a unit), with S = sum_{k,d} D_{k,d}. A region with U_r = 0
    (it can never use a unit) has no floor and is no threshold member; floors and stop levels
    are capped at U_r, the coverage gap's peak demands at c_r + U_r (regions whose capped peak
    is 0 are outside it):

        floors (per_capita_floor, excess_per_capita_floor, coverage_floor,
        capacity_per_capita_floor, min_units):  X_r >= f_r   (f_r the single-period floor
        computed with supply S, clipped at staff_cap_r; rows only where f_r > 0);
        max_coverage_gap(gap): y_r = (c_r + X_r) / P_r over {r : P_r > 0},
            m_cov <= y_r,  y_r <= m_cov + gap + M_r z,  m_cov + gap >= z,
            m_cov in [0, 1], z binary, M_r = (c_r + every unit in the system) / P_r;
        threshold(tau, index): for members r in T (add_horizon_threshold), one lambda >= 0,
            X_r <= lambda w_r + s_r,  X_r >= lambda w_r - s_r - M_r k_r,  X_r >= q_r k_r,
            k_r binary (only where r can stop; else k_r = 0), s_r = 1 - 1e-5 (0 if w_r = 0);
        prioritarian: no row (objective weights a_r, add_lives).
    """
    labels = [c.label for c in constraints]
    m.fairness = pyo.Block(labels)
    days, usable = useful(data)
    at = [d if d >= 0 else data.days - 1 for d in days]

    def received(r: int) -> Any:
        return m.hand[r, at[r]] - float(data.own[r, at[r]])

    view = data.fairness_view()
    units = data.total_units()  # every unit in the system: own (largest on any day) + delivered
    for spec in constraints:
        block = m.fairness[spec.label]
        kind = REGISTRY[spec.kind]
        if kind.role == "objective":
            continue
        if kind.floors is not None:
            floors = np.minimum(kind.floors(view, spec.options), view.staff_cap)
            floors = np.minimum(floors, np.asarray(usable))
            rows = [r for r in range(data.n) if floors[r] > 0]
            block.lower = pyo.Constraint(
                rows, rule=lambda _b, r, f=floors: received(r) >= float(f[r])
            )
        elif spec.kind == "max_coverage_gap":
            gap = float(spec.options["gap"])
            capped = [
                min(float(data.peak_demand[r]), float(data.capacity[r]) + usable[r])
                for r in range(data.n)
            ]
            peak = {r: capped[r] for r in range(data.n) if capped[r] > 0}
            demand = sorted(peak)
            if not demand:
                continue
            big_m = {r: (data.capacity[r] + units) / peak[r] for r in demand}
            block.min_coverage = pyo.Var(bounds=(0.0, 1.0))
            block.all_near_full = pyo.Var(domain=pyo.Binary)

            def cov(r: int, peak: dict = peak) -> Any:
                return (float(data.capacity[r]) + received(r)) / peak[r]

            def upper(b: Any, r: int, gap: float = gap, big_m: dict = big_m) -> Any:
                return cov(r) <= b.min_coverage + gap + float(big_m[r]) * b.all_near_full

            block.lower = pyo.Constraint(demand, rule=lambda b, r: b.min_coverage <= cov(r))
            block.upper = pyo.Constraint(demand, rule=upper)
            block.switch = pyo.Constraint(expr=block.min_coverage + gap >= block.all_near_full)
        elif spec.kind == "threshold":
            add_horizon_threshold(block, data, spec, received, usable)
        elif spec.kind == "max_share_of_supply":
            cap = math.floor(float(spec.options["share"]) * data.supply + FLOOR_EPS)
            block.upper = pyo.Constraint(
                range(data.n), rule=lambda _b, r, cap=cap: received(r) <= cap
            )
        else:
            raise ValueError(f"the Pyomo oracle does not state {spec.kind} over the horizon")


def add_horizon_threshold(
    block: Any, data: MultiPeriodData, spec: ConstraintSpec, received: Any, usable: list[float]
) -> None:
    """The paper's threshold rule on X_r (`received(r)`): members T = {r : index_r >= tau,
    U_r > 0} receive net units in proportion to w_r = (E_r / pop_r) / max_T (E / pop) within
    one unit, for one common lambda in [0, lambda_max], or have reached their stop level
    q_r = min(cap_r, ceil(E_r), U_r):

        X_r <= lambda w_r + s_r,   X_r >= lambda w_r - s_r - M_r k_r,   X_r >= q_r k_r,

    s_r = 1 - 1e-5 (strictly within one unit), or 0 where w_r = 0; k_r only where q_r is below
    every unit in the system; lambda_max = (every unit + 1) / min_{w > 0} w, M_r = lambda_max w_r.
    """
    view = data.fairness_view()
    members = [
        int(r) for r in np.nonzero(threshold_members(view, spec.options))[0] if usable[r] > 0
    ]
    per_capita = view.excess_demand / view.population
    if len(members) <= 1 or float(per_capita[members].max()) <= 0:
        return
    scale = float(per_capita[members].max())
    units = data.total_units()
    w = {r: float(per_capita[r] / scale) for r in members}
    s = {r: (1.0 - THRESHOLD_SLACK) if w[r] > 0 else 0.0 for r in members}
    stop = {
        r: float(
            min(view.staff_cap[r], math.ceil(view.excess_demand[r] - FLOOR_EPS), usable[r])
        )
        for r in members
    }
    lambda_max = (units + 1.0) / min(v for v in w.values() if v > 0)
    block.lam = pyo.Var(bounds=(0.0, lambda_max))
    stoppable = [r for r in members if stop[r] < units]
    block.stopped = pyo.Var(stoppable, domain=pyo.Binary)
    block.upper = pyo.Constraint(members, rule=lambda b, r: received(r) <= b.lam * w[r] + s[r])

    def lower(b: Any, r: int) -> Any:
        below = b.lam * w[r] - s[r]
        if r in b.stopped:
            return received(r) >= below - lambda_max * w[r] * b.stopped[r]
        return received(r) >= below

    block.lower = pyo.Constraint(members, rule=lower)
    block.stop_level = pyo.Constraint(
        stoppable, rule=lambda b, r: received(r) >= stop[r] * b.stopped[r]
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
