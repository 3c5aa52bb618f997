"""Movement cleanup: the final plan's shipments and transfers re-routed at the least logistics
cost, its patient flow (and so its lives) fixed (docs/multiperiod.md, "Movement cleanup").

Why: a plan rounded from a lives-only LP (the rounding method, the threshold rule's lambda
search and rule repair, any plan cut short by the time limit) inherits the LP's degenerate
movements. The LP's optimum is indifferent to units passed around in circles or shipped where no
patient uses them, and the rounding keeps them: 300 regions x 90 days under threshold:tau=0
moved 434,900 units to deliver a few thousand net. The tie-break stages (exact method's stage 2,
the rounding method's choice between candidates) only run when they have time, and choose among
rounded plans, not among movements.

The LP. Free columns: shipments x, transfers t, depot stock s, units on hand h. Every other
column is held at the plan's value and moved into the row bounds: admissions, patients sent and
moved, occupancy u, the shipment switches v (a lane the plan does not use stays unused), and the
active fairness families' own columns (threshold's lambda and stops: the rule is met at the
plan's own fairness level, so no region's share of the rule changes). Rows: every row of the
model that reads a free column, except the fairness rows of constraints not active, their cut
rows and node rows (depot stock, units on hand, cover h >= u, the shipment switches, the active
fairness rows). Minimise the logistics cost C of the tie-break (per unit: 1 + lead shipped,
2 + lead transferred). A row left with one free column is a bound on it, rounded inward: every
free column is whole in a whole plan (the data are whole: validated by instance.py), so with
B = 1 the LP is a min-cost flow on the time-expanded network of regions and depots and its
vertices are whole. One rule of check-plan is not a row: no patient waits beside a unit free
for the whole stay (simulation.idle_while_waiting). A unit kept at home could sit free beside
a patient the held admissions turned away, so the units on hand are capped at the plan's on
one day of each waiting patient's stay (`_idle_caps`). The plan given is feasible in the LP,
so its optimum costs at most the plan's C. An optimum that is not whole (batches B > 1 make x a
multiple of B; a fairness row over several regions) is solved again with the shipments held at
the plan's (the transfers alone are a network), then, if need be, with x and t integer from the
plan given. Every answer is checked against the model's rows before it replaces the plan (else
the plan is kept and `status` says why).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from models.multiperiod import PlanModel
from optimiser.deadline import Deadline
from optimiser.multiperiod.colgen import SIMPLEX_DUAL, SIMPLEX_PRIMAL
from optimiser.multiperiod.methods.base import PlanOutcome, Setting, clean_values
from optimiser.multiperiod.methods.whole import units_on_hand
from optimiser.multiperiod.results import MovementCleanup
from optimiser.solver import MatrixHighsModel, SolveStatus

ROW_TOL = 1e-6  # rows hold to this (HiGHS's own feasibility tolerance is 1e-7)
WHOLE_TOL = 1e-6  # a movement this close to a whole number is that number
MIN_SECONDS = 0.05  # start no cleanup with less than this left of the budget
WAIT_TOL = 1e-9  # a group with more patients than this not yet served is waiting
PRICE_TOL = 1e-7  # a column enters when its reduced cost is below -PRICE_TOL
PRICE_BATCH = 5_000  # at most this many columns enter a round (the most negative first)
WHOLE_NODES = 5_000  # branch-and-bound nodes for whole movements without a time limit


def units_moved(model: PlanModel, values: np.ndarray) -> tuple[float, float]:
    """(units moved, units transferred) of a plan: B x summed plus t summed."""
    x = clean_values(model, values)
    shipped = model.data.batch_size * float(x[model.ship.cols].sum())
    transferred = float(x[model.transfer.cols].sum())
    return shipped + transferred, transferred


def considered_rows(model: PlanModel, active_rows: np.ndarray) -> np.ndarray:
    """The model's rows a plan must meet under the active fairness rows `active_rows`: every
    row but the fairness families' (rows, cut rows, lambda node rows), plus the active ones."""
    off: list[np.ndarray] = []
    for family in model.fairness.values():
        off += [family.rows, family.cut_rows]
        if family.axis is not None:
            off.append(family.axis.node_rows)
    excluded = np.zeros(model.shape[0], dtype=bool)
    if off:
        excluded[np.concatenate(off).astype(np.int64)] = True
    excluded[np.asarray(active_rows, dtype=np.int64)] = False
    return np.nonzero(~excluded)[0]


def meets(model: PlanModel, rows: np.ndarray, values: np.ndarray, tol: float = ROW_TOL) -> bool:
    """Every row in `rows` and every column bound holds at `values` (to `tol`). The product
    over every row, then `rows` of it: the same floats as `matrix[rows] @ values` (each row
    sums the same terms in the same column order) without a copy of the matrix's rows (1.85M
    entries on 300 x 90 with patient transfers: BENCHMARKS.md, "mem4")."""
    got = (model.matrix @ values)[rows]
    return bool(
        np.all(got >= model.row_lower[rows] - tol)
        and np.all(got <= model.row_upper[rows] + tol)
        and np.all(values >= model.col_lower - tol)
        and np.all(values <= model.col_upper + tol)
    )


def whole_plan(
    model: PlanModel, values: np.ndarray, ship: np.ndarray, moved: np.ndarray
) -> np.ndarray:
    """`values` with whole shipments `ship` and transfers `moved`, depot stock and units on
    hand recomputed from them, and each shipment switch v on exactly where x > 0."""
    p, d = model, model.data
    x = values.copy()
    x[p.ship.cols] = ship
    x[p.transfer.cols] = moved
    x[p.hand] = units_on_hand(p, d, ship, moved)
    shipped = np.zeros((len(d.depots), d.days))
    np.add.at(shipped, (p.ship.depot, p.ship.day), d.batch_size * ship)
    x[p.stock] = np.cumsum(d.deliveries - shipped, axis=1)
    if len(p.uses):
        x[p.uses] = (ship > 0).astype(float)
    return x


def skipped_cleanup(setting: Setting, out: PlanOutcome, reason: str) -> MovementCleanup:
    """The cleanup not run (`reason`): the plan's movements as they are."""
    if out.values is None:
        return MovementCleanup("skipped", reason or "no plan")
    units, transferred = units_moved(setting.model, out.values)
    cost = setting.logistics_of(out.values)
    return MovementCleanup(
        "skipped",
        reason,
        units_before=units,
        units_after=units,
        transferred_before=transferred,
        transferred_after=transferred,
        cost_before=cost,
        cost_after=cost,
    )


def clean_movements(
    setting: Setting,
    out: PlanOutcome,
    active_rows: np.ndarray,
    deadline: Deadline,
) -> tuple[PlanOutcome, MovementCleanup]:
    """`out` with its shipments and transfers at the least logistics cost that keeps every
    admission and patient move, the active fairness rows (at the plan's own lambda) and every
    other rule of the model; and what was done. The lives are the plan's to the last digit:
    only the movement columns (and the stock and units on hand they imply) change."""
    t0 = time.perf_counter()
    p = setting.model
    if out.values is None:
        return out, MovementCleanup("skipped", "no plan")
    blank = skipped_cleanup(setting, out, "")
    before, cost0 = blank.units_before, blank.cost_before

    def done(status: str, reason: str = "", **changes: Any) -> MovementCleanup:
        fields = {**asdict(blank), **changes, "status": status, "reason": reason}
        fields["seconds"] = time.perf_counter() - t0
        return MovementCleanup(**fields)

    if before == 0:
        return out, done("skipped", "nothing moved")
    left = deadline.left()
    if left is not None and left < MIN_SECONDS:
        return out, done("not_finished", "no time left in the budget")
    x0 = clean_values(p, out.values)
    rows = considered_rows(p, active_rows)
    if not meets(p, rows, x0):
        # a plan off its own rows (never expected): nothing to compare a cleanup against
        return out, done("rejected", "the plan given does not meet the model's rows")
    lp = _cleanup_lp(p, rows, x0)
    y, lp_whole, why = _least_cost(lp, setting, deadline)
    if y is None:
        return out, done("not_finished", why, lp_whole=lp_whole)
    n_ship = len(p.ship.cols)
    ship = np.rint(y[:n_ship])
    moved = np.rint(y[n_ship : n_ship + len(p.transfer.cols)])
    values = whole_plan(p, x0, ship, moved)
    cost = float(p.logistics @ values)
    if not meets(p, rows, values):
        return out, done(
            "rejected", "the cleaned movements fail a row: plan kept", lp_whole=lp_whole
        )
    if cost >= cost0 - 1e-9:
        return out, done("unchanged", "already the least logistics cost", lp_whole=lp_whole)
    after, transferred_after = units_moved(p, values)
    # the patient columns are the plan's: lives and the weighted objective are unchanged
    cleaned = PlanOutcome(
        out.status,
        _keep_patients(p, out.values, values),
        out.lives,
        out.objective,
        out.gap,
        out.seconds,
        out.solves,
        logistics=cost,
        stage1_lives=out.stage1_lives,
        bound=out.bound,
        lives_bound=out.lives_bound,
    )
    return cleaned, done(
        "cleaned",
        units_after=after,
        transferred_after=transferred_after,
        cost_after=cost,
        lp_whole=lp_whole,
    )


def _least_cost(
    lp: _Lp, setting: Setting, deadline: Deadline
) -> tuple[np.ndarray | None, bool | None, str]:
    """Whole movements of least cost: (values in the LP's positions or None, whether the first
    LP's optimum was whole, why none). The LP first; when its optimum is not whole (batches
    B > 1 make x a multiple of B; a fairness row over several regions), the LP again with the
    shipments held at the plan's (the transfers alone are a network: whole); when that is not
    whole either, branch-and-bound (methods: _whole_movements)."""
    priced = _solve_priced(lp, setting, deadline)
    if priced.values is None:
        return None, None, f"the cleanup LP ended {priced.status}: plan kept"
    if _is_whole(lp, priced.values):
        return priced.values, True, ""
    held = _held_shipments(lp)
    again = _solve_priced(held, setting, deadline)
    if again.values is not None and _is_whole(held, again.values):
        return again.values, False, ""
    left = deadline.left()
    if left is not None and left < MIN_SECONDS:
        return None, False, "no time left for whole movements: plan kept"
    mip = _whole_movements(lp, priced, deadline)
    if mip is None:
        return None, False, "no whole movements in time: plan kept"
    return mip, False, ""


def _is_whole(lp: _Lp, values: np.ndarray) -> bool:
    moving = values[lp.movement_positions]
    return bool(np.all(np.abs(moving - np.rint(moving)) <= WHOLE_TOL))


def _held_shipments(lp: _Lp) -> _Lp:
    """The LP with every shipment held at the plan's value (the first `ships` positions)."""
    lower, upper = lp.lower.copy(), lp.upper.copy()
    lower[: lp.ships] = upper[: lp.ships] = lp.start[: lp.ships]
    return replace(lp, lower=lower, upper=upper)


def _keep_patients(p: PlanModel, given: np.ndarray, cleaned: np.ndarray) -> np.ndarray:
    """The cleaned movements with the plan's own (unrounded) values everywhere else but the
    columns the movements imply (so extraction rounds the patients exactly as before)."""
    x = given.copy()
    for block in (p.ship.cols, p.transfer.cols, p.hand.ravel(), p.stock.ravel(), p.uses):
        x[block] = cleaned[block]
    return x


@dataclass(frozen=True)
class _Lp:
    """The cleanup LP over the free columns (positions: shipments, transfers, stock, hand)."""

    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    cost: np.ndarray
    start: np.ndarray  # the plan given, in the LP's positions
    movement_positions: np.ndarray
    ships: int  # positions 0..ships-1 are the shipments

    @property
    def columns(self) -> int:
        return len(self.lower)


def _cleanup_lp(p: PlanModel, rows: np.ndarray, x0: np.ndarray) -> _Lp:
    """The LP of the module's docstring: the free columns' block of `rows`, the held columns'
    part moved into the row bounds, rows of one free column turned into (whole) bounds."""
    free = np.concatenate([p.ship.cols, p.transfer.cols, p.stock.ravel(), p.hand.ravel()])
    moving = np.arange(len(p.ship.cols) + len(p.transfer.cols))
    held = x0.copy()
    held[free] = 0.0
    # the free columns first, then the rows (as `meets`: no copy of every column's rows)
    rest = (p.matrix @ held)[rows]
    sub = sp.csr_matrix(p.matrix[:, free])[rows]
    sub.eliminate_zeros()
    lo = p.row_lower[rows] - rest
    hi = p.row_upper[rows] - rest
    lower = p.col_lower[free].astype(float).copy()
    upper = p.col_upper[free].astype(float).copy()
    count = np.diff(sub.indptr)
    single = np.nonzero(count == 1)[0]
    col = sub.indices[sub.indptr[single]]
    coef = sub.data[sub.indptr[single]]
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = lo[single] / coef, hi[single] / coef
    low_b = np.where(coef > 0, a, b)
    high_b = np.where(coef > 0, b, a)
    np.maximum.at(lower, col, low_b)
    np.minimum.at(upper, col, high_b)
    # every free column is whole in a whole plan: bounds rounded inward (to ROW_TOL, which the
    # plan given meets: it stays feasible)
    finite_low, finite_high = np.isfinite(lower), np.isfinite(upper)
    lower[finite_low] = np.ceil(lower[finite_low] - ROW_TOL)
    upper[finite_high] = np.floor(upper[finite_high] + ROW_TOL)
    # no unit kept idle beside a waiting patient that the plan did not keep idle there
    hand_position = len(p.ship.cols) + len(p.transfer.cols) + p.stock.size
    capped = _idle_caps(p, x0)
    where = hand_position + capped
    upper[where] = np.minimum(upper[where], x0[p.hand.ravel()[capped]])
    many = np.nonzero(count > 1)[0]
    cost = p.logistics[free].astype(float)
    return _Lp(
        matrix=sp.csc_matrix(sub[many]),
        row_lower=lo[many],
        row_upper=hi[many],
        lower=lower,
        upper=upper,
        cost=cost,
        start=x0[free],
        movement_positions=moving,
        ships=len(p.ship.cols),
    )


def _idle_caps(p: PlanModel, x0: np.ndarray) -> np.ndarray:
    """Cells (r * T + d, into p.hand.ravel()) whose units on hand may not rise above the
    plan's: check-plan's rule that no patient waits (or is turned away) while a staffed unit
    is free in the region for the whole stay (simulation.idle_while_waiting) must hold after
    the cleanup wherever it held before. For each patient group waiting at the end of a day
    (its admissions and patients sent so far below its size), on the day of the stay's window
    where the plan's free staffed units min(h, own + staff) - u are fewest, h is held at most
    at the plan's value (unless the staff are what binds there: then h changes nothing): the
    free units there cannot grow, so the window never gets a free unit on every day."""
    d = p.data
    T = d.days
    group, day = _waiting_days(p, x0)
    if not len(group):
        return np.zeros(0, dtype=np.int64)
    hand = x0[p.hand]
    occupancy = x0[p.occ]
    staffed = d.own + d.staff  # inf where staff are unlimited
    spare = np.minimum(hand, staffed) - occupancy
    region = d.group_region[group]
    stay = d.group_stay[group]
    offsets = np.arange(int(stay.max()))
    cols = day[:, None] + offsets
    valid = (offsets < stay[:, None]) & (cols < T)
    cols = np.minimum(cols, T - 1)
    free = np.where(valid, spare[region[:, None], cols], np.inf)
    at = cols[np.arange(len(group)), np.argmin(free, axis=1)]
    binds = hand[region, at] < staffed[region, at]
    return np.unique(region[binds] * T + at[binds])


def _waiting_days(p: PlanModel, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group, day) of each group still waiting at the end of an open day of its own (its
    admissions and patients sent so far below its size), by group then day. On each group's
    own days first..last only (a group is admitted and sent on those days alone: ADM and OUT,
    models/multiperiod_data.admission_index): a table of
    groups x (longest window) days, not x T (at 1,000 x 90, 90,000 x 90 cells; track pyrest).
    The sums are those over every day: the days before a group's first add nothing."""
    d = p.data
    first, last = d.group_first, d.group_last
    span = last - first
    width = int(span.max()) + 1 if len(span) else 1
    served = np.zeros((len(d.group_size), width))
    for fam in (p.admit, p.send):
        np.add.at(served, (fam.group, fam.day - first[fam.group]), x0[fam.cols])
    waiting = d.group_size[:, None] - np.cumsum(served, axis=1)
    open_days = np.arange(width) <= span[:, None]
    group, offset = np.nonzero(open_days & (waiting > WAIT_TOL))
    return group, first[group] + offset


@dataclass(frozen=True)
class _Priced:
    """The cleanup LP's optimum over every column (zeros where a column was never priced in),
    found on a restricted set: `included` the positions in the HiGHS model `highs`."""

    status: SolveStatus
    values: np.ndarray | None
    included: np.ndarray
    highs: MatrixHighsModel | None
    rounds: int


def _solve_priced(lp: _Lp, setting: Setting, deadline: Deadline) -> _Priced:
    """The cleanup LP by column generation: HiGHS starts from the depot stock, the units on
    hand and the movements the plan uses (the plan is feasible there), then every round adds
    the movement columns whose reduced cost c_j - A_j^T y is negative (at most PRICE_BATCH,
    the most negative first), re-optimising from the basis it has (primal simplex), until none
    is left: the optimum over every lane and day. 300 x 90 with 10 nearest, an optimal plan:
    one HiGHS run on all 373,827 columns took 10.6 s; this, 1.1-1.5 s (seven rounds, 45,000
    columns), both cores busy."""
    total = lp.columns
    movement = np.zeros(total, dtype=bool)
    movement[lp.movement_positions] = True
    usable = lp.upper > lp.lower + 0.5  # a column held at 0 by its bounds never enters
    included = np.nonzero(~movement | (lp.start > 0))[0]
    mask = np.zeros(total, dtype=bool)
    mask[included] = True
    csc = lp.matrix.tocsc()
    highs = MatrixHighsModel(
        lp.lower[included],
        lp.upper[included],
        csc[:, included],
        lp.row_lower,
        lp.row_upper,
        np.zeros(len(included)),
        setting.options,
    )
    highs.set_cost(lp.cost[included], maximize=False)
    highs.set_option("simplex_strategy", SIMPLEX_DUAL)
    rounds = 0
    while True:
        run = highs.solve(deadline.remaining())
        rounds += 1
        if run.values is None or run.status is not SolveStatus.OPTIMAL:
            return _Priced(run.status, None, included, None, rounds)
        y = highs.row_duals()
        reduced = lp.cost - csc.T @ y
        enter = np.nonzero(~mask & usable & (reduced < -PRICE_TOL))[0]
        if not len(enter):
            values = np.zeros(total)
            values[included] = run.values
            return _Priced(SolveStatus.OPTIMAL, values, included, highs, rounds)
        if deadline.expired():
            return _Priced(SolveStatus.TIME_LIMIT, None, included, None, rounds)
        enter = enter[np.argsort(reduced[enter], kind="stable")[:PRICE_BATCH]]
        enter.sort()
        highs.add_columns(lp.cost[enter], lp.lower[enter], lp.upper[enter], csc[:, enter])
        included = np.concatenate([included, enter])
        mask[enter] = True
        highs.set_option("simplex_strategy", SIMPLEX_PRIMAL)


def _whole_movements(lp: _Lp, priced: _Priced, deadline: Deadline) -> np.ndarray | None:
    """Whole movements of least cost on the columns priced in (an LP optimum that is not whole:
    batches, a fairness row over several regions): branch-and-bound from the plan given, which
    is feasible there. None when no whole solution came in time."""
    highs = priced.highs
    assert highs is not None
    position = np.full(lp.columns, -1, dtype=np.int64)
    position[priced.included] = np.arange(len(priced.included))
    moving = position[lp.movement_positions]
    highs.set_integrality(moving[moving >= 0], True)
    highs.set_start(lp.start[priced.included])
    # without a time limit, a budget of nodes (the same answer whatever the machine's load)
    nodes = WHOLE_NODES if deadline.end is None else None
    run = highs.solve(deadline.remaining(), node_limit=nodes)
    if run.values is None:
        return None
    values = np.zeros(lp.columns)
    values[priced.included] = run.values
    return values
