"""The fast path: the multi-period model of models/multiperiod.py assembled directly as sparse
matrices with vectorised numpy, then loaded into HiGHS through solver.MatrixHighsModel.

Same variables, rows and bounds as the Pyomo reference (tests check both reach the same
optimum); differences of form only: a patient group with a single decision variable gets its
size as a column bound instead of a row, and max_coverage_gap and threshold add rows that are
switched off except in a branch or node of the rounding method (`cut_rows`, valid cuts there).
Why not Pyomo: docs/multiperiod.md, "Fast path".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from models.fairness import REGISTRY, ConstraintSpec
from models.multiperiod import (
    HORIZON_FLOOR_KINDS,
    HORIZON_KINDS,
    MultiPeriodData,
    admission_index,
    coverage_big_m,
    horizon_floors,
    horizon_threshold,
    logistics_costs,
    outflow_index,
    patient_lane_index,
    ship_index,
    transfer_index,
)

INF = math.inf


class _Builder:
    """Columns and rows in blocks; entries collected as COO triplets."""

    def __init__(self) -> None:
        self.lower: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.cols: dict[str, np.ndarray] = {}
        self.num_cols = 0
        self.row_lower: list[np.ndarray] = []
        self.row_upper: list[np.ndarray] = []
        self.rows: dict[str, np.ndarray] = {}
        self.num_rows = 0
        self.entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add_cols(
        self,
        name: str,
        count: int,
        lower: float | np.ndarray,
        upper: float | np.ndarray,
        integer: bool = False,
    ) -> np.ndarray:
        idx = np.arange(self.num_cols, self.num_cols + count, dtype=np.int64)
        self.lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (count,)).copy())
        self.upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (count,)).copy())
        self.integer.append(np.full(count, 1 if integer else 0, dtype=np.int8))
        self.cols[name] = idx
        self.num_cols += count
        return idx

    def add_rows(
        self, name: str, count: int, lower: float | np.ndarray, upper: float | np.ndarray
    ) -> np.ndarray:
        idx = np.arange(self.num_rows, self.num_rows + count, dtype=np.int64)
        self.row_lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (count,)).copy())
        self.row_upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (count,)).copy())
        self.rows[name] = idx
        self.num_rows += count
        return idx

    def add(self, rows: np.ndarray, cols: np.ndarray, values: float | np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        vals = np.broadcast_to(np.asarray(values, dtype=float), rows.shape)
        self.entries.append((rows, cols, vals))


@dataclass
class LinearProgram:
    """The model as arrays. `cols` / `rows` map block names to their indices; the *_index
    arrays say what each column of a block stands for."""

    matrix: sp.csc_matrix
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    integrality: np.ndarray
    cols: dict[str, np.ndarray]
    rows: dict[str, np.ndarray]
    ship: tuple[np.ndarray, np.ndarray, np.ndarray]
    transfer: tuple[np.ndarray, np.ndarray]
    admit: tuple[np.ndarray, np.ndarray]
    send: tuple[np.ndarray, np.ndarray]
    ptransfer: tuple[np.ndarray, np.ndarray]
    lives: np.ndarray  # objective coefficients of L (unweighted), full length
    logistics: np.ndarray  # coefficients of C, full length
    fairness_rows: dict[str, np.ndarray] = field(default_factory=dict)
    # rows of the rounding method's cuts (max_coverage_gap with z = 1), off unless switched on
    cut_rows: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def weighted_lives(self, data: MultiPeriodData, weights: np.ndarray) -> np.ndarray:
        """Objective with prioritarian weights a_r on each group's region."""
        cost = np.zeros_like(self.lives)
        g, _ = self.admit
        cost[self.cols["admit"]] = (data.gain * weights)[data.group_region[g]]
        go, _ = self.send
        cost[self.cols["send"]] = (data.gain * weights)[data.group_region[go]]
        return cost


def build_program(
    data: MultiPeriodData, constraints: Sequence[ConstraintSpec] = ()
) -> LinearProgram:
    """Assemble the model of models/multiperiod.py (every family in `constraints` built)."""
    for spec in constraints:
        if spec.kind not in HORIZON_KINDS:
            raise ValueError(f"{spec.kind} cannot be applied over the horizon")
    n, T, K = data.n, data.days, len(data.depots)
    B = data.batch_size
    own, staff = data.own, data.staff
    b = _Builder()

    # ---- columns
    sk, sr, sd = ship_index(data)
    depot_total = data.deliveries.sum(axis=1)
    ship = b.add_cols("ship", len(sk), 0.0, np.floor(depot_total[sk] / B), integer=True)
    ta, td = transfer_index(data)
    transfer = b.add_cols("transfer", len(ta), 0.0, INF, integer=True)
    stock = b.add_cols("stock", K * T, 0.0, INF)  # k * T + d
    hand = b.add_cols("hand", n * T, (data.donor_share * own).ravel(), INF)  # r * T + d
    ag, as_ = admission_index(data)
    # patients on units at the start are admitted on day 0 (y_{g,0} >= held_g)
    admit_low = np.where(as_ == data.group_first[ag], data.held[ag], 0.0)
    admit = b.add_cols("admit", len(ag), admit_low, data.group_size[ag])
    og, os_ = outflow_index(data)
    send = b.add_cols("send", len(og), 0.0, data.group_size[og])
    pb, pd_ = patient_lane_index(data)
    ptransfer = b.add_cols("ptransfer", len(pb), 0.0, INF)
    occ_upper = np.where(np.isfinite(staff), own + staff, INF).ravel()
    occ = b.add_cols("occ", n * T, 0.0, occ_upper)
    uses = None
    if data.max_shipments_per_day is not None:
        uses = b.add_cols("uses", len(sk), 0.0, 1.0, integer=True)

    # ---- depot stock: s_{k,d} - s_{k,d-1} + B sum_r x_{k,r,d} = D_{k,d}
    rows = b.add_rows("depot_balance", K * T, data.deliveries.ravel(), data.deliveries.ravel())
    dd = np.arange(K * T) % T
    b.add(rows, stock, 1.0)
    later = dd > 0
    b.add(rows[later], stock[later] - 1, -1.0)
    b.add(rows[sk * T + sd], ship, float(B))

    # ---- units on hand
    change = own - np.concatenate([np.zeros((n, 1)), own[:, :-1]], axis=1)
    if data.inflow is not None:
        change = change + data.inflow
    rows = b.add_rows("hand_balance", n * T, change.ravel(), change.ravel())
    dd = np.arange(n * T) % T
    b.add(rows, hand, 1.0)
    later = dd > 0
    b.add(rows[later], hand[later] - 1, -1.0)
    b.add(rows[sr * T + sd + data.ship_lead[sk, sr]], ship, -float(B))
    if len(ta):
        b.add(rows[data.arc_dst[ta] * T + td + data.arc_lead[ta]], transfer, -1.0)
        b.add(rows[data.arc_src[ta] * T + td], transfer, 1.0)

    # ---- cohorts: sum_s y_{g,s} + sum_s o_{g,s} <= n_g (a row only when g has >1 variable)
    G = len(data.group_size)
    count = np.bincount(ag, minlength=G) + np.bincount(og, minlength=G)
    multi = np.nonzero(count > 1)[0]
    rows = b.add_rows("cohort", len(multi), -INF, data.group_size[multi])
    row_of = np.full(G, -1, dtype=np.int64)
    row_of[multi] = rows
    mask = row_of[ag] >= 0
    b.add(row_of[ag][mask], admit[mask], 1.0)
    mask = row_of[og] >= 0
    b.add(row_of[og][mask], send[mask], 1.0)

    # ---- patient transfers
    if len(pb):
        rows = b.add_rows("pt_link", n * T, 0.0, 0.0)
        b.add(rows[data.group_region[og] * T + os_], send, 1.0)
        b.add(rows[data.pt_src[pb] * T + pd_], ptransfer, -1.0)
        if math.isfinite(data.pt_max_per_day):
            rows = b.add_rows("pt_limit", n * T, -INF, data.pt_max_per_day)
            b.add(rows[data.pt_src[pb] * T + pd_], ptransfer, 1.0)

    # ---- occupancy: u_{r,d} - u_{r,d-1} - (admitted) + (leaving) = 0
    rows = b.add_rows("occ_balance", n * T, 0.0, 0.0)
    b.add(rows, occ, 1.0)
    b.add(rows[later], occ[later] - 1, -1.0)
    ar = data.group_region[ag]
    b.add(rows[ar * T + as_], admit, -1.0)
    end = as_ + data.group_stay[ag]
    inside = end <= T - 1
    b.add(rows[ar[inside] * T + end[inside]], admit[inside], 1.0)
    if len(pb):
        dst = data.pt_dst[pb]
        b.add(rows[dst * T + pd_], ptransfer, -1.0)
        end = pd_ + data.los[data.pt_src[pb]]
        inside = end <= T - 1
        b.add(rows[dst[inside] * T + end[inside]], ptransfer[inside], 1.0)
    # cover: u_{r,d} - h_{r,d} <= 0
    rows = b.add_rows("cover", n * T, -INF, 0.0)
    b.add(rows, occ, 1.0)
    b.add(rows, hand, -1.0)

    # ---- at most M shipments per depot and day
    if uses is not None:
        rows = b.add_rows("ship_switch", len(sk), -INF, 0.0)
        b.add(rows, ship, float(B))
        b.add(rows, uses, -depot_total[sk])
        rows = b.add_rows("ship_count", K * T, -INF, float(data.max_shipments_per_day or 0))
        b.add(rows[sk * T + sd], uses, 1.0)

    # ---- fairness over the horizon, on X_r = h_{r,T-1} - own_{r,T-1}
    fairness_rows: dict[str, np.ndarray] = {}
    cut_rows: dict[str, np.ndarray] = {}
    last_hand = hand[np.arange(n) * T + T - 1]
    own_last = own[:, T - 1]
    for spec in constraints:
        start = b.num_rows
        if spec.kind in HORIZON_FLOOR_KINDS:
            floors = horizon_floors(data, spec)
            where = np.nonzero(floors > 0)[0]
            rows = b.add_rows(
                f"fair:{spec.label}", len(where), own_last[where] + floors[where], INF
            )
            b.add(rows, last_hand[where], 1.0)
        elif spec.kind == "max_coverage_gap":
            gap = float(spec.options["gap"])
            where = np.nonzero(data.peak_demand > 0)[0]
            if len(where):
                mc = b.add_cols(f"fair:{spec.label}:min_coverage", 1, 0.0, 1.0)
                z = b.add_cols(f"fair:{spec.label}:all_near_full", 1, 0.0, 1.0, integer=True)
                P = data.peak_demand[where]
                base = (data.capacity[where] - own_last[where]) / P
                big_m = coverage_big_m(data)[where]
                low = b.add_rows(f"fair:{spec.label}:lower", len(where), -INF, base)
                b.add(low, np.repeat(mc, len(where)), 1.0)
                b.add(low, last_hand[where], -1.0 / P)
                up = b.add_rows(f"fair:{spec.label}:upper", len(where), -INF, gap - base)
                b.add(up, last_hand[where], 1.0 / P)
                b.add(up, np.repeat(mc, len(where)), -1.0)
                b.add(up, np.repeat(z, len(where)), -big_m)
                sw = b.add_rows(f"fair:{spec.label}:switch", 1, -INF, gap)
                b.add(sw, z, 1.0)
                b.add(sw, mc, -1.0)
                fairness_rows[spec.label] = np.arange(start, b.num_rows, dtype=np.int64)
                # Valid only when z = 1 (m_cov >= 1 - gap) and X_r whole: the rounding method's
                # cut h_{r,T-1} >= own_{r,T-1} + ceil((1 - gap) P_r - c_r); built switched
                # off, switched on only in that method's z = 1 branch (engine.py).
                whole = np.ceil((1.0 - gap) * P - data.capacity[where] - 1e-9)
                cut = b.add_rows(f"cut:{spec.label}", len(where), own_last[where] + whole, INF)
                b.add(cut, last_hand[where], 1.0)
                cut_rows[spec.label] = cut
                continue
        elif spec.kind == "threshold":
            rule = horizon_threshold(data, spec)
            where = rule.members
            if len(where):
                m = len(where)
                lam = np.repeat(b.add_cols(f"fair:{spec.label}:lambda", 1, 0.0, rule.lambda_max), m)
                stoppable = np.nonzero(rule.stoppable)[0]
                k = b.add_cols(f"fair:{spec.label}:stopped", len(stoppable), 0.0, 1.0, integer=True)
                hands, base = last_hand[where], own_last[where]
                up = b.add_rows(f"fair:{spec.label}:upper", m, -INF, base + rule.slack)
                b.add(up, hands, 1.0)
                b.add(up, lam, -rule.weight)
                low = b.add_rows(f"fair:{spec.label}:lower", m, base - rule.slack, INF)
                b.add(low, hands, 1.0)
                b.add(low, lam, -rule.weight)
                b.add(low[stoppable], k, rule.big_m()[stoppable])
                level = b.add_rows(
                    f"fair:{spec.label}:stop_level", len(stoppable), base[stoppable], INF
                )
                b.add(level, hands[stoppable], 1.0)
                b.add(level, k, -rule.stop[stoppable])
                fairness_rows[spec.label] = np.arange(start, b.num_rows, dtype=np.int64)
                # The rounding method's lambda nodes [a, b] (engine.py): valid there, with X_r
                # whole, ceil(min(a w_r - s_r, q_r)) <= X_r <= floor(b w_r + s_r); built
                # switched off, bounds set per node (>= rows, then <= rows: phase-1 slacks).
                low = b.add_rows(f"cut:{spec.label}:low", m, base, INF)
                b.add(low, hands, 1.0)
                high = b.add_rows(f"cut:{spec.label}:high", m, -INF, base + data.total_units())
                b.add(high, hands, 1.0)
                cut_rows[spec.label] = np.concatenate([low, high])
                continue
        fairness_rows[spec.label] = np.arange(start, b.num_rows, dtype=np.int64)

    # ---- objective vectors
    N = b.num_cols
    lives = np.zeros(N)
    lives[admit] = data.gain[data.group_region[ag]]
    lives[send] = data.gain[data.group_region[og]]
    logistics = np.zeros(N)
    cost = logistics_costs(data)
    logistics[ship] = cost["ship"]
    logistics[transfer] = cost["transfer"]
    logistics[ptransfer] = cost["patients"]

    rows_all = (
        np.concatenate([e[0] for e in b.entries]) if b.entries else np.zeros(0, dtype=np.int64)
    )
    cols_all = (
        np.concatenate([e[1] for e in b.entries]) if b.entries else np.zeros(0, dtype=np.int64)
    )
    vals_all = np.concatenate([e[2] for e in b.entries]) if b.entries else np.zeros(0)
    matrix = sp.csc_matrix((vals_all, (rows_all, cols_all)), shape=(b.num_rows, N))
    matrix.sum_duplicates()
    return LinearProgram(
        matrix=matrix,
        col_lower=np.concatenate(b.lower),
        col_upper=np.concatenate(b.upper),
        row_lower=np.concatenate(b.row_lower) if b.row_lower else np.zeros(0),
        row_upper=np.concatenate(b.row_upper) if b.row_upper else np.zeros(0),
        integrality=np.concatenate(b.integer),
        cols=b.cols,
        rows=b.rows,
        ship=(sk, sr, sd),
        transfer=(ta, td),
        admit=(ag, as_),
        send=(og, os_),
        ptransfer=(pb, pd_),
        lives=lives,
        logistics=logistics,
        fairness_rows=fairness_rows,
        cut_rows=cut_rows,
    )


def is_objective(spec: ConstraintSpec) -> bool:
    return REGISTRY[spec.kind].role == "objective"
