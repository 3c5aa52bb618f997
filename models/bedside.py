"""The bedside integer programs (docs/bedside.md, "The integer programs").

Two programs, each assembled as labelled blocks of sparse rows and columns, one `add_*` per
constraint family, and loaded into HiGHS through `optimiser.solver.MatrixHighsModel`:

**Snapshot** (who receives the k free units now). Symbols: i a candidate, c a category
(the unreserved one and the reserves, in processing order), b_i the candidate's benefit
(expected extra survivors, or expected life-years), k free units, r_c the units of reserve c,
B_c the beneficiaries of reserve c, M the largest number of candidates the active categories
can serve at once (maximum cardinality). Units are held by *holders* h: each candidate alone
(`per_patient`, needed by the priority families) or, for speed, groups of candidates with the
same beneficiary flags (interchangeable for every reserve row).

    maximise    sum_i b_i x_i                                             (objective)
    subject to  sum_{c : h eligible for c} y_hc = sum_{i in h} x_i   every h (add_assignment)
                sum_h y_hc <= cap_c                                every c (add_category_capacity)
                sum_i x_i = M                                              (add_cardinality)
                x_i binary, y_hc >= 0

cap = k - sum of the active reserves' r_c for the unreserved category. A reserve switched off
has its units returned to the unreserved category and its y columns fixed at 0. The families:

* `reserve:<name>` (add_reserve): r_c units of category c; a *soft* reserve serves its
  beneficiaries first: with v_c in [0, 1], v_c <= x_i for i in B_c and
  sum_{h not in B_c} y_hc <= r_c v_c (a non-beneficiary holds a unit of c only if every
  beneficiary is served). A *hard* reserve is open to its beneficiaries only.
* `priority:<score>` and `tie_break:<rule>` (add_respect_of_priorities, per-patient holders):
  within each active category, nobody holds a unit of c while a candidate eligible for c with
  strictly higher priority under c's order goes without one (Pathak et al. 2024, respect of
  priorities). With the candidates of c in classes 0..L-1 (0 highest), w_cl = "everyone
  eligible of classes <= l is served": w_cl <= w_c(l-1), w_cl <= x_i (i in class l),
  y_ic <= w_c(class(i)-1).

y may stay continuous: for integral x the assignment polytope (a transportation polytope) is
integral, and any integral assignment inside the support of a fractional y keeps the reserve
and priority rows (a positive y forces v = 1 or w = 1, hence x = 1 above it);
optimiser.bedside.snapshot extracts one.

**Horizon** (offline, with hindsight). i a patient arriving on day a_i at site s_i, occupying a
unit for d_i days from the day it starts, U_st the units on hand at site s on day t.

    maximise    sum_i b_i x_i
    subject to  sum_{i : s_i = s, a_i <= t < a_i + d_i} x_i <= U_st       (add_site_capacity)
                sum_{i in B_c} x_i >= F_c                                 (add_reserve_floor)
                x_i binary

Without reserve floors the capacity rows form an interval matrix (consecutive ones in each
column), which is totally unimodular: the LP relaxation is integral and the bound is exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

INF = math.inf


@dataclass(frozen=True)
class Category:
    """A category of units: the unreserved one (index 0) or a reserve."""

    name: str
    units: int
    eligible: np.ndarray  # bool per candidate
    beneficiary: np.ndarray  # bool per candidate (all False for the unreserved category)
    reserve: bool = False
    soft: bool = True


@dataclass(frozen=True)
class SnapshotData:
    """Numbers of one decision: candidates (in a fixed order), categories and orders.

    `orders[kind]` gives, per candidate, its class under the baseline order of `kind`
    ("score": the priority score's classes, "score+lottery": score then lottery draw, strict,
    "lottery": the draw alone, strict); 0 is the highest priority.
    """

    benefit: np.ndarray
    units: int
    categories: tuple[Category, ...]
    orders: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.benefit)


class Builder:
    """Columns and rows in named blocks; entries collected as COO triplets."""

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
        self, name: str, count: int, lower: float, upper: float, integer: bool = False
    ) -> np.ndarray:
        idx = np.arange(self.num_cols, self.num_cols + count, dtype=np.int64)
        self.lower.append(np.full(count, lower, dtype=float))
        self.upper.append(np.full(count, upper, dtype=float))
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
        self.rows[name] = np.concatenate([self.rows[name], idx]) if name in self.rows else idx
        self.num_rows += count
        return idx

    def add(self, rows: np.ndarray, cols: np.ndarray, values: float | np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        vals = np.broadcast_to(np.asarray(values, dtype=float), rows.shape).copy()
        self.entries.append((rows, cols, vals))

    def program(self, objective: np.ndarray) -> Program:
        if self.entries:
            rows = np.concatenate([e[0] for e in self.entries])
            cols = np.concatenate([e[1] for e in self.entries])
            vals = np.concatenate([e[2] for e in self.entries])
        else:
            rows = cols = np.zeros(0, dtype=np.int64)
            vals = np.zeros(0)
        matrix = sp.csc_matrix((vals, (rows, cols)), shape=(self.num_rows, self.num_cols))
        matrix.sum_duplicates()

        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        return Program(
            matrix=matrix,
            col_lower=cat(self.lower, float),
            col_upper=cat(self.upper, float),
            integrality=cat(self.integer, np.int8),
            row_lower=cat(self.row_lower, float),
            row_upper=cat(self.row_upper, float),
            objective=np.asarray(objective, dtype=float),
            cols=dict(self.cols),
            rows=dict(self.rows),
        )


@dataclass
class Program:
    """An integer program as arrays; `cols` and `rows` map block names to their indices."""

    matrix: sp.csc_matrix
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    objective: np.ndarray
    cols: dict[str, np.ndarray]
    rows: dict[str, np.ndarray]
    pairs: dict[int, np.ndarray] = field(default_factory=dict)  # category -> holders of y
    holder: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape


# ---------------------------------------------------------------------------------------------
# Snapshot


ORDER_KINDS = ("score", "score+lottery", "lottery")


def holders_of(data: SnapshotData, per_patient: bool) -> np.ndarray:
    """holder[i]: each candidate alone, or groups of candidates with equal beneficiary flags."""
    n = data.size
    if per_patient or n == 0:
        return np.arange(n, dtype=np.int64)
    key = np.zeros(n, dtype=np.int64)
    for c, category in enumerate(data.categories):
        key |= category.beneficiary.astype(np.int64) << c
    _, holder = np.unique(key, return_inverse=True)
    return np.asarray(holder, dtype=np.int64).ravel()


def build_snapshot(data: SnapshotData, per_patient: bool = False) -> Program:
    """Assemble the snapshot program with every family built (the solver switches them).

    `per_patient`: one holder per candidate and the respect-of-priorities rows (needed only
    to price the priority score and the tie-break rule)."""
    b = Builder()
    holder = holders_of(data, per_patient)
    add_assignment(b, data, holder)
    add_category_capacity(b, data)
    add_cardinality(b, data)
    for c, category in enumerate(data.categories):
        if category.reserve:
            add_reserve(b, data, c, holder)
    if per_patient:
        for kind in ORDER_KINDS:
            if kind in data.orders:
                for c in range(len(data.categories)):
                    add_respect_of_priorities(b, data, c, kind)
    objective = np.zeros(b.num_cols)
    objective[b.cols["x"]] = data.benefit
    program = b.program(objective)
    program.holder = holder
    program.pairs = {c: _eligible_holders(data, c, holder) for c in range(len(data.categories))}
    return program


def _eligible_holders(data: SnapshotData, c: int, holder: np.ndarray) -> np.ndarray:
    """Holders eligible for category c (all members share the category's eligibility)."""
    count = int(holder.max(initial=-1)) + 1
    eligible = np.zeros(count, dtype=bool)
    eligible[holder[data.categories[c].eligible]] = True
    return np.flatnonzero(eligible)


def add_assignment(b: Builder, data: SnapshotData, holder: np.ndarray) -> None:
    """x_i binary (candidate i receives a unit); y_hc >= 0 for each holder h eligible for c;
    sum_c y_hc - sum_{i in h} x_i = 0."""
    n = data.size
    x = b.add_cols("x", n, 0.0, 1.0, integer=True)
    count = int(holder.max(initial=-1)) + 1
    rows = b.add_rows("assignment", count, 0.0, 0.0)
    b.add(rows[holder], x, -1.0)
    size = np.bincount(holder, minlength=count).astype(float)
    for c in range(len(data.categories)):
        members = _eligible_holders(data, c, holder)
        y = b.add_cols(f"y:{c}", len(members), 0.0, 1.0)
        b.upper[-1] = size[members]
        b.add(rows[members], y, 1.0)


def add_category_capacity(b: Builder, data: SnapshotData) -> None:
    """sum_h y_hc <= cap_c, one row per category (`capacity:<c>`); the solver sets the
    unreserved cap to k - sum of active reserves, and cap_c = 0 for a reserve switched off."""
    for c, category in enumerate(data.categories):
        row = b.add_rows(f"capacity:{c}", 1, -INF, float(category.units))
        y = b.cols[f"y:{c}"]
        b.add(np.full(len(y), row[0]), y, 1.0)


def add_cardinality(b: Builder, data: SnapshotData) -> None:
    """sum_i x_i = M: as many candidates served as the active categories allow (maximum
    cardinality; it implies non-wastefulness). The solver sets M for each active set."""
    row = b.add_rows("cardinality", 1, 0.0, float(min(data.units, data.size)))
    b.add(np.full(data.size, row[0]), b.cols["x"], 1.0)


def add_reserve(b: Builder, data: SnapshotData, c: int, holder: np.ndarray) -> None:
    """Reserve c's own rows (`reserve:<c>`). A soft reserve serves its beneficiaries first,
    with v_c in [0, 1] ("every beneficiary is served"):

        v_c <= x_i  (i in B_c),        sum_{h not in B_c} y_hc <= r_c v_c.

    (The aggregated second row is the tighter relaxation of y_hc <= v_c.) The solver fixes
    v_c at 0 when B_c has more members than the units can serve. A hard reserve needs no
    row: only its beneficiaries are eligible."""
    category = data.categories[c]
    members = _eligible_holders(data, c, holder)
    first = np.zeros(int(holder.max(initial=-1)) + 1, dtype=bool)
    first[holder[category.beneficiary]] = True
    others = np.flatnonzero(~first[members])
    if not category.soft or len(others) == 0:
        b.add_rows(f"reserve:{c}", 0, 0.0, 0.0)
        return
    v = b.add_cols(f"v:reserve:{c}", 1, 0.0, 1.0)[0]
    beneficiaries = np.flatnonzero(category.beneficiary)
    rows = b.add_rows(f"reserve:{c}", len(beneficiaries), -INF, 0.0)
    b.add(rows, np.full(len(rows), v), 1.0)
    b.add(rows, b.cols["x"][beneficiaries], -1.0)
    row = b.add_rows(f"reserve:{c}", 1, -INF, 0.0)[0]
    b.add(np.full(len(others), row), b.cols[f"y:{c}"][others], 1.0)
    b.add(np.array([row]), np.array([v]), -float(category.units))
    b.rows[f"reserve_units:{c}"] = np.array([row])


def category_classes(data: SnapshotData, c: int, kind: str) -> np.ndarray:
    """Class of each eligible candidate of c under c's order (0 highest): a reserve ranks its
    beneficiaries first, then the baseline order `kind`."""
    category = data.categories[c]
    eligible = np.flatnonzero(category.eligible)
    base = data.orders[kind][eligible]
    ben = (~category.beneficiary[eligible]).astype(np.int64) if category.reserve else 0
    key = np.asarray(ben, dtype=np.int64) * (int(base.max(initial=0)) + 1) + base
    _, classes = np.unique(key, return_inverse=True)
    return np.asarray(classes, dtype=np.int64)


def add_respect_of_priorities(b: Builder, data: SnapshotData, c: int, kind: str) -> None:
    """Rows `order:<kind>:<c>`: with classes 0..L-1 of c's eligible candidates, w_l ("every
    eligible candidate of classes <= l is served") for l < L - 1:

        w_l <= w_(l-1),   w_l <= x_i (i in class l),   y_jc <= w_(class(j)-1) (class(j) >= 1).
    """
    name = f"order:{kind}:{c}"
    eligible = np.flatnonzero(data.categories[c].eligible)
    classes = category_classes(data, c, kind)
    levels = int(classes.max(initial=-1)) + 1
    if levels <= 1:
        b.add_rows(name, 0, 0.0, 0.0)
        return
    w = b.add_cols(f"w:{name}", levels - 1, 0.0, 1.0)
    chain = b.add_rows(name, levels - 2, -INF, 0.0)
    b.add(chain, w[1:], 1.0)
    b.add(chain, w[:-1], -1.0)
    served = classes < levels - 1
    rows = b.add_rows(name, int(served.sum()), -INF, 0.0)
    b.add(rows, w[classes[served]], 1.0)
    b.add(rows, b.cols["x"][eligible[served]], -1.0)
    below = classes >= 1
    rows = b.add_rows(name, int(below.sum()), -INF, 0.0)
    b.add(rows, b.cols[f"y:{c}"][below], 1.0)
    b.add(rows, w[classes[below] - 1], -1.0)


# ---------------------------------------------------------------------------------------------
# Horizon


@dataclass(frozen=True)
class HorizonData:
    """Patients (arrival day, site index, days of use, benefit) and units on hand per site
    and day (`capacity[s, t]`, t = 0..T-1, T after the last arrival). Units on hand stay at
    U_s(T-1) after T - 1; as nobody starts then, the rows of days >= T are implied by day
    T - 1's and are not built."""

    benefit: np.ndarray
    arrival: np.ndarray
    site: np.ndarray
    days: np.ndarray
    capacity: np.ndarray
    floors: Sequence[tuple[str, np.ndarray, int]] = ()  # (reserve, beneficiary mask, F_c)


def build_horizon(data: HorizonData) -> Program:
    """Assemble the offline program (every reserve floor built; the solver switches them)."""
    b = Builder()
    x = b.add_cols("x", len(data.benefit), 0.0, 1.0, integer=True)
    add_site_capacity(b, data, x)
    for name, mask, floor in data.floors:
        add_reserve_floor(b, name, mask, floor, x)
    objective = np.zeros(b.num_cols)
    objective[x] = data.benefit
    return b.program(objective)


def add_site_capacity(b: Builder, data: HorizonData, x: np.ndarray) -> None:
    """sum over patients of site s running on day t of x_i <= U_st, one row per site and day
    on which some course runs (`capacity`)."""
    _sites, horizon = data.capacity.shape
    if len(data.arrival) and int(np.max(data.arrival)) >= horizon:
        raise ValueError("capacity must cover every arrival day")
    days = np.maximum(np.asarray(data.days, dtype=np.int64), 1)
    start = np.asarray(data.arrival, dtype=np.int64)
    end = np.minimum(start + days, horizon)
    length = np.maximum(end - start, 0)
    patient = np.repeat(np.arange(len(start)), length)
    offset = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
    day = np.repeat(start, length) + offset
    site = np.asarray(data.site, dtype=np.int64)[patient]
    cell = site * horizon + day
    used, local = np.unique(cell, return_inverse=True)
    rows = b.add_rows("capacity", len(used), -INF, data.capacity.ravel()[used])
    b.add(rows[local], x[patient], 1.0)
    b.rows["capacity_cells"] = used


def add_reserve_floor(
    b: Builder, name: str, beneficiary: np.ndarray, floor: int, x: np.ndarray
) -> None:
    """sum_{i in B_c} x_i >= F_c (`floor:<name>`): at least as many beneficiaries of reserve c
    served as the rule the bound is compared with served."""
    members = np.flatnonzero(beneficiary)
    row = b.add_rows(f"floor:{name}", 1, float(floor), INF)
    b.add(np.full(len(members), row[0]), x[members], 1.0)


# ---------------------------------------------------------------------------------------------
# The same program as a Pyomo model


def to_pyomo(program: Program, active_rows: np.ndarray | None = None) -> object:
    """The program as a Pyomo ConcreteModel (variables `v[j]`, rows `row[r]`, objective
    maximised), for inspection, export (`model.write("snapshot.lp")`) and the tests that
    check the arrays through Pyomo's own compiler. `active_rows`: only these rows."""
    import pyomo.environ as pyo

    m = pyo.ConcreteModel(name="bedside")
    n_rows, n_cols = program.shape
    m.J = pyo.RangeSet(0, n_cols - 1)

    def bounds(_m: object, j: int) -> tuple[float | None, float | None]:
        lo, hi = program.col_lower[j], program.col_upper[j]
        return (None if math.isinf(lo) else float(lo), None if math.isinf(hi) else float(hi))

    def domain(_m: object, j: int) -> object:
        return pyo.Integers if program.integrality[j] else pyo.Reals

    m.v = pyo.Var(m.J, bounds=bounds, domain=domain)
    csr = program.matrix.tocsr()
    keep = np.arange(n_rows) if active_rows is None else np.asarray(active_rows)
    m.R = pyo.Set(initialize=[int(r) for r in keep], ordered=True)

    def row(_m: object, r: int) -> object:
        start, stop = csr.indptr[r], csr.indptr[r + 1]
        body = sum(float(a) * m.v[int(j)] for j, a in zip(
            csr.indices[start:stop], csr.data[start:stop], strict=True))
        lo, hi = program.row_lower[r], program.row_upper[r]
        if start == stop:
            return pyo.Constraint.Skip
        return (None if math.isinf(lo) else float(lo), body, None if math.isinf(hi) else float(hi))

    m.row = pyo.Constraint(m.R, rule=row)
    m.objective = pyo.Objective(
        expr=sum(float(c) * m.v[int(j)] for j, c in enumerate(program.objective) if c),
        sense=pyo.maximize,
    )
    return m
