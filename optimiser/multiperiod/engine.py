"""Plan deliveries over time: build once (fast path), solve lives first, then break ties by the
logistics cost, price every fairness constraint over the horizon, extract a manifest.

Pipeline: MultiPeriodInstance -> model_data (+ executed moves) -> build_program -> HiGHS
(solver.MatrixHighsModel) -> extract -> PlanResult. The CLI and the Python API call `plan`
here; nothing else builds the model. check-plan lives apart (check.py, simulate.py): no model
code.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.fairness import REGISTRY, ConstraintSpec
from models.multiperiod import (
    HORIZON_FLOOR_KINDS,
    HORIZON_KINDS,
    HorizonThreshold,
    MultiPeriodData,
    horizon_floors,
    horizon_threshold,
    objective_weights,
)
from optimiser.constraints import to_specs
from optimiser.deadline import Deadline
from optimiser.engine import largest_needs, price_difference, price_frame, price_interval, price_row
from optimiser.errors import InputError, Problem
from optimiser.multiperiod.colgen import ColumnGeneration, round_movements, units_on_hand
from optimiser.multiperiod.data import model_data
from optimiser.multiperiod.fastpath import LinearProgram, build_program
from optimiser.multiperiod.instance import MultiPeriodInstance, PlanSettings
from optimiser.multiperiod.plan_io import plan_frame, plan_rows, records, today_from
from optimiser.multiperiod.results import PRICE_COLUMNS, PlanResult
from optimiser.multiperiod.simulate import simulate
from optimiser.results import PRICE_PRECISION, SolverInfo
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus, solver_versions

# Tolerances, declared once. Stage 2 keeps the lives objective within LIVES_TOL_REL (relative,
# plus LIVES_TOL_ABS) of stage 1's: far below one life. VALUE_DIGITS: patients are written with
# this many decimals.
LIVES_TOL_REL = 1e-9
LIVES_TOL_ABS = 1e-7
VALUE_DIGITS = 9
# Default tolerance: every optimum proved to within ABS_GAP lives of its bound (absolute gap
# control, the relative gap off), so a price of fairness (a difference of two optima) is exact
# to PRICE_PRECISION = 0.01 lives; `--gap` adds a relative tolerance (looser, faster).
ABS_GAP = PRICE_PRECISION / 2
DEFAULT_GAP: float | None = None
INF_BOUND = math.inf
# Method: "exact" (HiGHS branch-and-bound on the whole model) up to this many integer
# columns, else "rounding" (column generation, rounding, repair: colgen.py).
EXACT_LIMIT = 5_000
POLISH_SECONDS = 60.0  # branch-and-bound on the restricted master when rounding leaves a gap
NEIGHBOURHOOD_SECONDS = 20.0  # ... after this much on the movements plan and LP disagree on
CLEANUP_COST = 1e-4  # lives per unit of logistics cost in the rounding method's second LP
STAGE2_GAP = 1e-4  # the tie-break stage stops within 0.01% of the least logistics cost
METHODS = ("auto", "exact", "rounding")
# Under a time limit the solves leave this multiple of the build time for the work after them
# (the patient flow, extraction): all grow with the model like the build (300 regions x 90
# days: build 0.25-0.5 s, extraction 0.27 s; the fallback plan is made before the solves).
FINISH_SHARE_OF_BUILD = 1.0


@dataclass(frozen=True)
class PlanOutcome:
    """One solve for a set of active constraints."""

    status: SolveStatus
    values: np.ndarray | None
    lives: float | None
    objective: float | None
    gap: float | None
    seconds: float
    solves: int
    logistics: float | None = None
    stage1_lives: float | None = None
    bound: float | None = None
    lives_bound: float | None = None  # upper bound on lives when the objective is lives

    def with_lives_bound(self, lives_objective: bool) -> PlanOutcome:
        if not lives_objective or self.bound is None or self.lives is None:
            return replace(self, lives_bound=None)
        return replace(self, lives_bound=max(self.bound, self.lives))


@dataclass(frozen=True)
class _Branch:
    """One column-generation LP of the rounding method and its best rounded plan."""

    status: SolveStatus
    bound: float | None
    best: tuple[float, np.ndarray] | None
    solves: int
    seconds: float
    lp: np.ndarray | None = None  # the LP solution (full-length)


@dataclass(frozen=True)
class _LambdaAxis:
    """One threshold's lambda column, stop binaries (full-model columns), each stop binary's
    break point b_r (inf: never stops) and the sorted points 0 < b... < lambda_max."""

    lam: np.ndarray
    stopped: np.ndarray
    breaks: np.ndarray
    points: np.ndarray
    rule: HorizonThreshold
    low_rows: np.ndarray  # h_{r,T-1} >= own + ceil(min(a w_r - s_r, q_r)) per member
    high_rows: np.ndarray  # h_{r,T-1} <= own + floor(b w_r + s_r)
    own_last: np.ndarray  # own_{r,T-1} per member

    def limit_rows(self, a: float, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows and bounds (lower, upper) of the node [a, b]'s limits on X_r."""
        low, _ = self.rule.limits(a)
        _, high = self.rule.limits(b)
        rows = np.concatenate([self.low_rows, self.high_rows])
        inf = np.full(len(low), np.inf)
        lower = np.concatenate([self.own_last + low, -inf])
        upper = np.concatenate([inf, self.own_last + high])
        return rows, lower, upper


def _gap(bound: float, objective: float) -> float:
    """Relative gap (U - L) / U of a plan's objective L against an upper bound U."""
    return max(0.0, (bound - objective) / max(abs(bound), 1e-9))


class _Deadline(Deadline):
    """The request's deadline as the planner reads it: past it (less 50 ms), start no optional
    search (HiGHS's branch-and-bound on a large model can take minutes to set up before it
    first looks at its time limit)."""

    def expired(self, margin: float = 0.05) -> bool:
        return super().expired(margin)


def check_constraints(specs: Sequence[ConstraintSpec]) -> None:
    bad = [s for s in specs if s.kind not in HORIZON_KINDS]
    if bad:
        raise InputError(
            Problem(
                f"constraint {bad[0].label}: not available over the horizon "
                f"(multi-period constraints: {', '.join(HORIZON_KINDS)})"
            )
        )


def executed_moves(
    instance: MultiPeriodInstance,
    rows: pd.DataFrame,
    today: int,
    file: str = "executed",
    held_units: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Executed ship/transfer rows as data: depot deliveries net of what left, the units they
    bring to (or take from) each region per day, and the units taken from depots. Checks that
    the depots and regions had those units."""
    n, T = len(instance.regions), instance.days
    deliveries = instance.deliveries.to_numpy(dtype=float).copy()
    inflow = np.zeros((n, T))
    kix = {k: i for i, k in enumerate(instance.depots)}
    rix = {r: i for i, r in enumerate(instance.regions)}
    problems: list[Problem] = []
    shipped = 0.0
    for row in records(rows):
        if row.day >= today:
            problems.append(
                Problem(
                    f"dispatched on day {row.day}, not before today (day {today}): only moves "
                    "already made belong here",
                    file=file,
                    line=int(row.line),
                    column="day",
                )
            )
            continue
        if row.kind == "ship":
            deliveries[kix[row.src], row.day] -= row.units
            shipped += row.units
        else:
            inflow[rix[row.src], row.day] -= row.units
        inflow[rix[row.dst], row.arrives] += row.units
    stock = np.cumsum(deliveries, axis=1)
    for k, d in zip(*np.nonzero(stock < -1e-9), strict=True):
        problems.append(
            Problem(
                f"depot {instance.depots[k]} would hold {stock[k, d]:g} units on day {d}: more "
                "units shipped than delivered",
                file=file,
            )
        )
        break
    own = instance.own.to_numpy(dtype=float)
    hand = own + np.cumsum(inflow, axis=1)
    share = instance.settings.donor_keep_share if instance.settings.transfers else 0.0
    low = hand < np.maximum(share * own, held_units) - 1e-9
    for r, d in zip(*np.nonzero(low), strict=True):
        problems.append(
            Problem(
                f"region {instance.regions[r]} would hold {hand[r, d]:g} units on day {d}: more "
                "units sent than it had (below the donor protection share, or taken from "
                "patients on units since the start)",
                file=file,
            )
        )
        break
    if problems:
        raise InputError(problems)
    return deliveries, inflow, shipped


class PlanEngine:
    """The multi-period model of one instance, built once with every candidate constraint;
    `solve(active)` switches fairness rows and objectives in HiGHS and re-solves."""

    def __init__(
        self,
        instance: MultiPeriodInstance,
        candidates: Sequence[ConstraintSpec] = (),
        options: SolverOptions | None = None,
        executed: pd.DataFrame | None = None,
        today: int | None = None,
        method: str = "auto",
    ) -> None:
        check_constraints(candidates)
        if method not in METHODS:
            raise InputError(
                Problem(
                    f"method must be one of {', '.join(METHODS)}, got {method!r}", column="method"
                )
            )
        self.instance = instance
        self.candidates = tuple(candidates)
        self.options = options or SolverOptions(mip_rel_gap=0.0, mip_abs_gap=ABS_GAP)
        t0 = time.perf_counter()
        data = model_data(instance)
        self.executed = (
            executed
            if executed is not None
            else pd.DataFrame(
                columns=["kind", "day", "src", "dst", "units", "arrives", "cohort_day", "line"]
            )
        )
        self.today = int(today if today is not None else today_from(self.executed))
        if not 0 <= self.today <= instance.days - 1:
            raise InputError(
                Problem(
                    f"today must be a day of the horizon 0..{instance.days - 1}, got {self.today}",
                    column="today",
                )
            )
        if len(self.executed) or self.today:
            deliveries, inflow, shipped = executed_moves(
                instance,
                self.executed,
                self.today,
                file=self.executed.attrs.get("file", "executed"),
                held_units=data.held_units(),
            )
            data = replace(
                data,
                deliveries=deliveries,
                inflow=inflow,
                first_day=self.today,
                executed_from_depots=shipped,
            )
        self.data: MultiPeriodData = data
        rows = [c for c in self.candidates if REGISTRY[c.kind].role == "constraint"]
        self.program: LinearProgram = build_program(data, rows)
        self.build_seconds = time.perf_counter() - t0
        p = self.program
        self.integers = int(p.integrality.sum())
        self.method = method
        self.colgen: ColumnGeneration | None = None
        self.exact_model: MatrixHighsModel | None = None
        self.translate_seconds = 0.0
        self._active: frozenset[str] = frozenset()
        if method in ("auto", "rounding"):
            self.colgen = ColumnGeneration(p, self.data, self.options)
            self.translate_seconds += self.colgen.translate_seconds
            for family in [*p.fairness_rows.values(), *p.cut_rows.values()]:
                self.colgen.highs.set_rows_active(family, False)
        if method == "exact":
            self._exact()
        self._cache: dict[frozenset[str], PlanOutcome] = {}
        self._zero = self._zero_plan()
        self._fallback: np.ndarray | None = None
        # the request's budget, for solves given no time limit of their own (explanations)
        self.deadline: Deadline | None = None

    # ---- helpers
    def _zero_plan(self) -> np.ndarray:
        """Ship nothing, admit nobody but the patients already on units (they keep them):
        feasible without fairness rows (a start for HiGHS)."""
        p, d = self.program, self.data
        x = np.zeros(p.shape[1])
        x[p.cols["stock"]] = np.cumsum(d.deliveries, axis=1).ravel()
        inflow = d.inflow if d.inflow is not None else 0.0
        x[p.cols["hand"]] = (d.own + np.cumsum(inflow * np.ones_like(d.own), axis=1)).ravel()
        x[p.cols["admit"]] = p.col_lower[p.cols["admit"]]
        x[p.cols["occ"]] = d.held_units().ravel()
        return x

    def _exact(self) -> MatrixHighsModel:
        """The whole model in HiGHS for branch-and-bound (built on first use), its fairness
        rows switched like the master's."""
        if self.exact_model is None:
            p = self.program
            t0 = time.perf_counter()
            self.exact_model = MatrixHighsModel(
                p.col_lower,
                p.col_upper,
                p.matrix,
                p.row_lower,
                p.row_upper,
                p.integrality,
                self.options,
            )
            for label, rows in p.fairness_rows.items():
                self.exact_model.set_rows_active(rows, label in self._active)
            for rows in p.cut_rows.values():
                self.exact_model.set_rows_active(rows, False)
            self.translate_seconds += time.perf_counter() - t0
        return self.exact_model

    @property
    def highs(self) -> MatrixHighsModel:
        return self.colgen.highs if self.colgen is not None else self._exact()

    def _models(self) -> list[MatrixHighsModel]:
        out = [self.colgen.highs] if self.colgen is not None else []
        return out + ([self.exact_model] if self.exact_model is not None else [])

    def _activate(self, active: Sequence[ConstraintSpec]) -> None:
        labels = frozenset(c.label for c in active if REGISTRY[c.kind].role == "constraint")
        for label, rows in self.program.fairness_rows.items():
            want = label in labels
            if want != (label in self._active):
                for model in self._models():
                    model.set_rows_active(rows, want)
        self._active = labels

    def objective(self, active: Sequence[ConstraintSpec]) -> np.ndarray:
        weights = objective_weights(self.data, active)
        return self.program.weighted_lives(self.data, weights)

    def lives_of(self, values: np.ndarray) -> float:
        return float(self.program.lives @ clean_values(self.program, values))

    # ---- solving
    def solve(
        self,
        active: Sequence[ConstraintSpec] = (),
        *,
        tie_break: bool = True,
        time_limit: float | None = None,
    ) -> PlanOutcome:
        """Most expected survivors under `active`; with `tie_break`, the least logistics cost
        among plans that save as many (stage 2, the lives objective held at its optimum).

        Status: optimal when the plan is proved within the gap tolerance of the best bound;
        infeasible when proved so; otherwise time_limit with the best plan found and its gap
        against the best bound known (without fairness rows, at worst the fallback plan:
        nothing shipped, patients admitted to their regions' own units)."""
        unknown = {c.label for c in active} - {c.label for c in self.candidates}
        if unknown:
            raise ValueError(f"not built into this engine: {sorted(unknown)}")
        key = self._key(active, tie_break)
        known = self.solved(active, tie_break)
        if known is not None:
            return known
        if time_limit is None and self.deadline is not None:
            time_limit = self.deadline.remaining()
        deadline = _Deadline(time_limit if time_limit is not None else self.options.time_limit)
        self._activate(active)
        out: PlanOutcome | None = None
        if self.colgen is not None:
            out = self._solve_rounding(active, tie_break, deadline)
            small = self.integers <= EXACT_LIMIT
            if self.method == "auto" and small and not self._proved(out) and not deadline.expired():
                # never unbounded in time: without a limit, the fallback gets POLISH_SECONDS
                budget = deadline if deadline.end is not None else _Deadline(POLISH_SECONDS)
                exact = self._solve_exact(active, tie_break, budget, out.values)
                out = self._better(out, exact)
        else:
            out = self._solve_exact(active, tie_break, deadline, None)
        if out.status is not SolveStatus.OPTIMAL and out.status is not SolveStatus.INFEASIBLE:
            out = self._with_fallback(active, out)
        out = out.with_lives_bound(all(REGISTRY[c.kind].role == "constraint" for c in active))
        self._cache[key] = out
        return out

    def _key(self, active: Sequence[ConstraintSpec], tie_break: bool) -> frozenset[str]:
        """The cache key of a solve: a constraint that builds no row here (every floor 0,
        fewer than two threshold members) changes nothing: the same key as without it."""
        rows = self.program.fairness_rows
        return frozenset(
            c.label
            for c in active
            if REGISTRY[c.kind].role == "objective" or len(rows.get(c.label, ()))
        ) | ({"#tie"} if tie_break else set())

    def solved(
        self, active: Sequence[ConstraintSpec], tie_break: bool = False
    ) -> PlanOutcome | None:
        """The outcome of this solve if it was made already (else None)."""
        key = self._key(active, tie_break)
        if key in self._cache:
            return self._cache[key]
        if not tie_break and key | {"#tie"} in self._cache:
            # a tie-broken plan saves the same lives (to LIVES_TOL): it serves a lives-only ask
            return self._cache[key | {"#tie"}]
        return None

    def _settles(self, bound: float | None, objective: float) -> bool:
        """A plan of `objective` is within the gap tolerance of the upper bound `bound`."""
        return bound is not None and bound - objective <= self.tolerance(bound)

    def tolerance(self, bound: float) -> float:
        """How far below the bound a plan may be and count as optimal: the absolute gap, or
        the relative one when that is looser (as HiGHS stops at whichever is met first)."""
        o = self.options
        return max(o.mip_abs_gap, o.mip_rel_gap * max(abs(bound), 1.0)) + 1e-9

    def _proved(self, out: PlanOutcome) -> bool:
        return out.status is SolveStatus.INFEASIBLE or (
            out.values is not None
            and out.objective is not None
            and self._settles(out.bound, out.objective)
        )

    def _better(self, first: PlanOutcome, second: PlanOutcome) -> PlanOutcome:
        """Combine two attempts at the same problem (rounding, then exact): a proof of
        infeasibility wins; else the plan with the higher objective, its gap measured against
        the lower of the two bounds (both are upper bounds of any plan)."""
        seconds, solves = first.seconds + second.seconds, first.solves + second.solves
        if second.status is SolveStatus.INFEASIBLE:
            return replace(second, seconds=seconds, solves=solves)
        plans = [o for o in (first, second) if o.values is not None]
        if not plans:
            return replace(second, seconds=seconds, solves=solves)
        best = max(plans, key=lambda o: o.objective or 0.0)
        bounds = [o.bound for o in (first, second) if o.bound is not None]
        bound = min(bounds) if bounds else None
        gap = best.gap if bound is None else _gap(bound, best.objective or 0.0)
        settled = bound is not None and self._settles(bound, best.objective or 0.0)
        if best is second and second.status is SolveStatus.OPTIMAL:
            settled = True  # HiGHS proved it within the same tolerance
        status = SolveStatus.OPTIMAL if settled else SolveStatus.TIME_LIMIT
        return replace(best, status=status, gap=gap, bound=bound, seconds=seconds, solves=solves)

    def _meets_fairness(self, active: Sequence[ConstraintSpec], values: np.ndarray) -> bool:
        """Does a plan (fairness columns at 0: lambda, stops, m_cov, z) meet every active
        fairness row? The fallback ships nothing, so X_r = 0 (plus executed moves): it meets
        a threshold (lambda = 0) but not a floor."""
        p = self.program
        rows = [p.fairness_rows[c.label] for c in active if len(p.fairness_rows.get(c.label, ()))]
        if not rows:
            return True
        which = np.concatenate(rows)
        x = values.copy()
        for name, cols in p.cols.items():
            if name.startswith("fair:"):
                x[cols] = 0.0
        got = p.matrix[which] @ x
        return bool(
            np.all(got >= p.row_lower[which] - 1e-7) and np.all(got <= p.row_upper[which] + 1e-7)
        )

    def fallback_values(self) -> np.ndarray:
        """The plan of last resort: nothing new shipped or transferred, every waiting patient
        admitted to its own region's units (and the executed moves' units) earliest deadline
        first, the rule of check-plan's simulation (simulate.py), whose admissions it takes.
        Made once per engine (it depends on the instance and the executed moves only)."""
        if self._fallback is not None:
            return self._fallback.copy()
        p, d = self.program, self.data
        sim = simulate(self.instance, self.executed)
        group = {
            (int(r), int(e)): g
            for g, (r, e) in enumerate(zip(d.group_region, d.group_day, strict=True))
        }
        ag, as_ = p.admit
        column = {(int(g), int(t)): i for i, (g, t) in enumerate(zip(ag, as_, strict=True))}
        x = self._zero.copy()
        admit = p.cols["admit"]
        for home, _where, day, cohort, count in sim.admissions:
            x[admit[column[group[home, cohort], day]]] += count
        self._fallback = x
        return x.copy()

    def _with_fallback(self, active: Sequence[ConstraintSpec], out: PlanOutcome) -> PlanOutcome:
        """Keep the better of `out` and the fallback plan (only when it meets the active
        fairness rows: it ships nothing, so it meets a threshold but not a floor). Its gap is
        measured against the
        best bound known: the LP bound when column generation finished, else every patient
        admitted (sum_g a_r g_r n_g)."""
        values = self.fallback_values()
        if not self._meets_fairness(active, values):
            return out
        cost = self.objective(active)
        objective = float(cost @ clean_values(self.program, values))
        d = self.data
        weighted_gain = d.gain * objective_weights(d, active)
        everyone = float(weighted_gain[d.group_region] @ d.group_size)
        bound = out.bound if out.bound is not None else everyone
        if out.values is not None and (out.objective or 0.0) >= objective:
            return replace(out, gap=_gap(bound, out.objective or 0.0), bound=bound)
        return PlanOutcome(
            SolveStatus.TIME_LIMIT,
            values,
            self.lives_of(values),
            objective,
            _gap(bound, objective),
            out.seconds,
            out.solves,
            logistics=0.0,
            bound=bound,
        )

    def _solve_exact(
        self,
        active: Sequence[ConstraintSpec],
        tie_break: bool,
        deadline: _Deadline,
        start: np.ndarray | None,
    ) -> PlanOutcome:
        """HiGHS branch-and-bound on the whole model; stage 2 keeps stage 1's admissions and
        minimises the logistics cost (to STAGE2_GAP: it only breaks ties)."""
        h = self._exact()
        cost = self.objective(active)
        h.set_cost(cost, maximize=True)
        h.set_start(start if start is not None else self._zero)
        first = h.solve(deadline.remaining())
        solves, seconds = 1, first.seconds
        if first.values is None:
            return PlanOutcome(first.status, None, None, None, first.gap, seconds, solves)
        values, status = first.values, first.status
        stage1 = self.lives_of(values)
        if tie_break:
            # Stage 2: every admission (and patient move) of stage 1 kept as it is, the least
            # logistics cost of shipments and transfers that serve them: same lives exactly.
            p = self.program
            held = np.concatenate([p.cols["admit"], p.cols["send"], p.cols["ptransfer"]])
            h.set_col_bounds_arrays(held, values[held], values[held])
            h.set_cost(p.logistics, maximize=False)
            h.set_start(values)
            options = h.options
            h.options = replace(options, mip_rel_gap=STAGE2_GAP)
            try:
                second = h.solve(deadline.remaining())
            finally:
                h.options = options
                h.set_col_bounds_arrays(held, p.col_lower[held], p.col_upper[held])
            solves += 1
            seconds += second.seconds
            if (
                second.values is not None
                and float(cost @ second.values) >= float(cost @ values) - 1e-7
            ):
                values = second.values
        out = PlanOutcome(
            status,
            values,
            self.lives_of(values),
            float(cost @ values),
            first.gap,
            seconds,
            solves,
            logistics=float(self.program.logistics @ clean_values(self.program, values)),
            stage1_lives=stage1,
            bound=first.bound,
        )
        return out

    def _solve_rounding(
        self, active: Sequence[ConstraintSpec], tie_break: bool, deadline: _Deadline
    ) -> PlanOutcome:
        """Column generation for the LP bound U, then rounding + repair for a whole plan.

        max_coverage_gap's binary z is branched on, not relaxed: each assignment of the active
        gap constraints' z (z = 1 first: everyone within `gap` of full coverage) is its own
        column-generation LP (U = the largest branch optimum: a valid bound, exactly as if z
        were binary), rounded and repaired with z fixed. If the best plan is not within the
        gap tolerance of U, branch-and-bound on the restricted master (z integer) polishes it.
        """
        cg = self.colgen
        assert cg is not None
        p = self.program
        cost = self.objective(active)
        rows = [p.fairness_rows[c.label] for c in active if c.label in p.fairness_rows]
        active_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        switches = [
            (c, p.cols[f"fair:{c.label}:all_near_full"])
            for c in active
            if f"fair:{c.label}:all_near_full" in p.cols
        ]
        solves = 0
        seconds = 0.0
        bounds: list[float] = []
        bound_known = True
        best: tuple[float, np.ndarray] | None = None
        feasible = False
        # Without the gap constraints the problem is a relaxation of every branch: its bound
        # holds for all of them, and a branch plan within the gap tolerance of it ends the
        # branching (its solve is cached: the price of fairness asks for it anyway).
        relaxed_bound: float | None = None
        if switches:
            relaxed = [c for c in active if c.kind != "max_coverage_gap"]
            ref = self.solve(relaxed, tie_break=False, time_limit=deadline.remaining())
            self._activate(active)
            if ref.status is SolveStatus.INFEASIBLE:
                return PlanOutcome(SolveStatus.INFEASIBLE, None, None, None, None, 0.0, 0)
            relaxed_bound = ref.bound
        zcols = np.array([int(col[0]) for _, col in switches], dtype=np.int64)
        skipped = False
        for assignment in itertools.product((1.0, 0.0), repeat=len(switches)):
            if best is not None and self._settles(relaxed_bound, best[0]):
                skipped = True
                break
            z = {spec.label: value for (spec, _), value in zip(switches, assignment, strict=True)}
            cg.fix_columns(zcols, np.asarray(assignment, dtype=float))
            # With z = 1 every X_r >= (1 - gap) P_r - c_r, and X_r is whole in every plan:
            # the cut rows hold it rounded up, so the LP's X is whole where it binds.
            cuts = [p.cut_rows[label] for label, value in z.items() if value == 1.0]
            cut_rows = np.concatenate(cuts) if cuts else np.zeros(0, dtype=np.int64)
            cg.highs.set_rows_active(cut_rows, True)
            try:
                branch = self._lambda_search(
                    cost, active, np.concatenate([active_rows, cut_rows]), tie_break, deadline, z
                )
            finally:
                cg.fix_columns(zcols, None)
                cg.highs.set_rows_active(cut_rows, False)
            solves += branch.solves
            seconds += branch.seconds
            if branch.status is SolveStatus.INFEASIBLE:
                continue
            feasible = True
            if branch.bound is None:
                bound_known = False
            else:
                bounds.append(branch.bound)
            if branch.best is not None and (best is None or branch.best[0] > best[0]):
                best = branch.best
        if not feasible and not skipped:
            return PlanOutcome(SolveStatus.INFEASIBLE, None, None, None, None, seconds, solves)
        bound = max(bounds) if bound_known and bounds and not skipped else None
        if relaxed_bound is not None:
            bound = relaxed_bound if bound is None else min(bound, relaxed_bound)
        if not deadline.expired() and (
            best is None or (bound is not None and not self._settles(bound, best[0]))
        ):
            limit = deadline.remaining()
            start = best[1] if best is not None else self._zero
            polished = cg.polish(cost, start, POLISH_SECONDS if limit is None else limit)
            solves += 1
            seconds += polished.seconds
            if polished.values is not None and (
                best is None or float(cost @ polished.values) > best[0]
            ):
                best = float(cost @ polished.values), polished.values
        if best is None:
            return PlanOutcome(SolveStatus.ERROR, None, None, None, None, seconds, solves)
        objective, values = best
        gap = None if bound is None else _gap(bound, objective)
        ok = self._settles(bound, objective)
        return PlanOutcome(
            SolveStatus.OPTIMAL if ok else SolveStatus.TIME_LIMIT,
            values,
            self.lives_of(values),
            objective,
            gap,
            seconds,
            solves,
            logistics=float(p.logistics @ clean_values(p, values)),
            stage1_lives=None,
            bound=bound,
        )

    def _thresholds(self, active: Sequence[ConstraintSpec]) -> list[_LambdaAxis]:
        """The lambda axis of each active threshold with members that can stop."""
        p, out = self.program, []
        for spec in active:
            if spec.kind != "threshold" or f"fair:{spec.label}:lambda" not in p.cols:
                continue
            rule = horizon_threshold(self.data, spec)
            weight = rule.weight[rule.stoppable]
            reach = rule.stop[rule.stoppable] + rule.slack[rule.stoppable]
            breaks = np.full(len(weight), np.inf)
            np.divide(reach, weight, out=breaks, where=weight > 0)
            inside = np.unique(breaks[breaks < rule.lambda_max])
            cuts = p.cut_rows[spec.label]
            out.append(
                _LambdaAxis(
                    lam=p.cols[f"fair:{spec.label}:lambda"],
                    stopped=p.cols[f"fair:{spec.label}:stopped"],
                    breaks=breaks,
                    points=np.concatenate([[0.0], inside, [rule.lambda_max]]),
                    rule=rule,
                    low_rows=cuts[: len(rule.members)],
                    high_rows=cuts[len(rule.members) :],
                    own_last=self.data.own[rule.members, self.data.days - 1],
                )
            )
        return out

    def _lambda_search(
        self,
        cost: np.ndarray,
        active: Sequence[ConstraintSpec],
        active_rows: np.ndarray,
        tie_break: bool,
        deadline: _Deadline,
        z: Mapping[str, float],
    ) -> _Branch:
        """threshold's stop binaries k_r, branched on lambda (docs/multiperiod.md). Member r
        stops (k_r = 1) exactly when lambda >= b_r = (q_r + s) / w_r, so between two
        consecutive b_r every k_r is known and the model is an LP: the lambda axis is split
        at the b_r. A node [a, b] fixes k_r = 1 where b_r <= a, k_r = 0 where b_r >= b,
        relaxes the rest, and bounds each member's whole X_r by the limits of lambda = a
        (below) and lambda = b (above): its LP bounds every plan with lambda in [a, b]. A
        node without relaxed k_r (a leaf) is rounded; a node whose bound is within the gap
        tolerance of the best plan is closed; others split into a leaf and the intervals
        either side: the lowest leaf, dived into first, until a plan is found; then the leaf
        holding their LP's lambda, best bound first. U = the largest bound of the leaves and
        closed nodes (and of the nodes left open at a time limit)."""
        axes = self._thresholds(active)
        if not axes:
            return self._round_branch(cost, active, active_rows, tie_break, deadline, z)
        cg = self.colgen
        assert cg is not None
        node_rows = np.concatenate([np.concatenate([a.low_rows, a.high_rows]) for a in axes])
        active_rows = np.concatenate([active_rows, node_rows])
        root = tuple((0, len(axis.points) - 1) for axis in axes)
        open_nodes: list[tuple[float, int, tuple[tuple[int, int], ...]]] = [(math.inf, 0, root)]
        counter = itertools.count(1)
        best: tuple[float, np.ndarray] | None = None
        bounds: list[float] = []
        bound_known, feasible = True, False
        solves, seconds = 0, 0.0
        try:
            while open_nodes:
                open_nodes.sort(key=lambda node: (-node[0], node[1]))
                parent_bound, _, node = open_nodes.pop(0)
                if best is not None and self._settles(parent_bound, best[0]):
                    bounds.append(parent_bound)
                    continue
                if deadline.expired():
                    bound_known = bound_known and math.isfinite(parent_bound)
                    bounds.append(parent_bound)
                    continue
                leaf = True
                for axis, (i, j) in zip(axes, node, strict=True):
                    a, b = axis.points[i], axis.points[j]
                    cg.bound_columns(axis.lam, np.array([a]), np.array([b]))
                    k_low = (axis.breaks <= a).astype(float)
                    k_high = (axis.breaks < b).astype(float)
                    cg.bound_columns(axis.stopped, k_low, k_high)
                    cg.highs.set_rows_bounds(*axis.limit_rows(a, b))
                    leaf = leaf and j == i + 1
                branch = self._round_branch(
                    cost,
                    active,
                    active_rows,
                    tie_break,
                    deadline,
                    z,
                    round_plan=leaf,
                    incumbent=None if best is None else best[0],
                )
                solves += branch.solves
                seconds += branch.seconds
                if branch.status is SolveStatus.INFEASIBLE:
                    continue
                feasible = True
                if branch.best is not None and (best is None or branch.best[0] > best[0]):
                    best = branch.best
                if branch.bound is None:
                    bound_known = False
                    continue
                if leaf:
                    bounds.append(branch.bound)
                    continue
                # Split the axis with the widest range of break points around a leaf: until a
                # plan is found, its lowest (lambda from 0: the fewest units bound to members,
                # feasible whenever shipping nothing more to members is), dived into first;
                # then the leaf holding the LP's lambda.
                wide = max(range(len(axes)), key=lambda t: node[t][1] - node[t][0])
                i, j = node[wide]
                axis = axes[wide]
                lam = float(branch.lp[axis.lam[0]]) if branch.lp is not None else axis.points[i]
                at = int(np.clip(np.searchsorted(axis.points, lam, side="right") - 1, i, j - 1))
                if best is None:
                    at = i
                halves = [(at, at + 1)]
                halves += [(i, at)] if at > i else []
                halves += [(at + 1, j)] if at + 1 < j else []
                for rank, half in enumerate(halves):
                    child = tuple(half if t == wide else node[t] for t in range(len(axes)))
                    first = rank == 0 and best is None
                    open_nodes.append((math.inf if first else branch.bound, next(counter), child))
        finally:
            for axis in axes:
                cg.fix_columns(axis.lam, None)
                cg.fix_columns(axis.stopped, None)
            cg.highs.set_rows_active(node_rows, False)
        if not feasible:
            return _Branch(SolveStatus.INFEASIBLE, None, None, solves, seconds)
        bound = max(bounds) if bound_known and bounds else None
        status = SolveStatus.OPTIMAL if bound is not None else SolveStatus.TIME_LIMIT
        return _Branch(status, bound, best, solves, seconds)

    def _round_branch(
        self,
        cost: np.ndarray,
        active: Sequence[ConstraintSpec],
        active_rows: np.ndarray,
        tie_break: bool,
        deadline: _Deadline,
        z: Mapping[str, float],
        round_plan: bool = True,
        incumbent: float | None = None,
    ) -> _Branch:
        """One LP by column generation (max_coverage_gap's z fixed at `z`), rounded twice:
        from the lives-only optimum and from an LP that also pays CLEANUP_COST per unit of
        logistics cost. If the better of the two is not within the gap tolerance of the LP
        bound, a small MIP around it (ColumnGeneration.neighbourhood) may improve it. The plan
        kept saves the most lives; with tie_break, the lowest logistics cost among the plans
        within LIVES_TOL of the most: the same candidates either way, so the cost never
        decides against a life. Without `round_plan`, or when the LP bound is within the gap
        tolerance of `incumbent` (a plan found elsewhere), the LP alone is returned."""
        cg = self.colgen
        assert cg is not None
        p = self.program
        lp = cg.solve_lp(cost, True, deadline.remaining(), active_rows)
        solves, seconds = lp.rounds, lp.seconds
        if lp.values is None:
            return _Branch(lp.status, None, None, solves, seconds)
        bound = lp.objective if lp.status is SolveStatus.OPTIMAL else None
        closed = incumbent is not None and self._settles(bound, incumbent)
        if not round_plan or closed:  # nothing to round, or nothing better to find here
            return _Branch(lp.status, bound, None, solves, seconds, lp.values)
        tol = LIVES_TOL_ABS + LIVES_TOL_REL * abs(lp.objective or 0.0)
        zcols = [int(p.cols[f"fair:{label}:all_near_full"][0]) for label in z]
        plans: list[tuple[float, np.ndarray, np.ndarray]] = []  # (objective, plan, its LP)

        def whole(values: np.ndarray) -> None:
            nonlocal solves, seconds
            lower, upper = self.received_limits(active, z, values)
            fixed = round_movements(p, self.data, values, lower, upper)
            fixed[zcols] = list(z.values())
            self.stop_values(active, fixed)
            run = cg.repair(fixed, cost, True, deadline.remaining())
            solves += 1
            seconds += run.seconds
            if run.values is not None and run.status is SolveStatus.OPTIMAL:
                plans.append((float(cost @ run.values), run.values, values))

        whole(lp.values)
        # The LP optimum is degenerate (free circular transfers); an LP solution that also
        # pays a little for logistics (lives - CLEANUP_COST x cost, re-optimised from the same
        # basis) rounds better.
        if lp.status is SolveStatus.OPTIMAL and not deadline.expired():
            cheap = cg.solve_lp(
                cost - CLEANUP_COST * p.logistics, True, deadline.remaining(), active_rows
            )
            solves += cheap.rounds
            seconds += cheap.seconds
            if cheap.values is not None:
                whole(cheap.values)
        if not plans:
            return _Branch(lp.status, bound, None, solves, seconds)
        top = max(plans, key=lambda c: c[0])  # the first of equals: independent of tie_break
        if bound is not None and not self._settles(bound, top[0]) and not deadline.expired():
            limit = deadline.remaining()
            near = cg.neighbourhood(
                cost, top[1], top[2], NEIGHBOURHOOD_SECONDS if limit is None else limit
            )
            solves += 1
            seconds += near.seconds
            if near.values is not None:
                plans.append((float(cost @ near.values), near.values, top[2]))
        most = max(c[0] for c in plans)
        if tie_break:
            close = [c for c in plans if c[0] >= most - tol]
            chosen = min(close, key=lambda c: float(p.logistics @ c[1]))
        else:
            chosen = max(plans, key=lambda c: c[0])
        return _Branch(lp.status, bound, (chosen[0], chosen[1]), solves, seconds)

    def received_limits(
        self,
        active: Sequence[ConstraintSpec],
        z: Mapping[str, float],
        values: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Limits lower_r <= X_r <= upper_r on the units each region receives net by the last
        day that the active fairness rows impose (-inf / +inf: none), for the rounding:

        * a floor kind: X_r >= f_r where f_r > 0 (no row, so no limit, where f_r <= 0);
        * max_coverage_gap(gap) with z = 1: m_cov >= 1 - gap, so X_r >= (1 - gap) P_r - c_r
          for every r with P_r > 0 (negative: how many units r may give away);
        * with z = 0: m <= (c_r + X_r) / P_r <= m + gap, with m the LP's m_cov (`values`;
          without values, no limit).
        """
        d = self.data
        lower = np.full(d.n, -np.inf)
        upper = np.full(d.n, np.inf)
        demand = d.peak_demand > 0
        P = np.where(demand, d.peak_demand, 1.0)
        for spec in active:
            if spec.kind in HORIZON_FLOOR_KINDS:
                f = horizon_floors(d, spec)
                lower = np.maximum(lower, np.where(f > 0, f, -np.inf))
            elif spec.label in z:
                gap = float(spec.options["gap"])
                if z[spec.label] >= 0.5:
                    low = (1.0 - gap) * P - d.capacity
                    high = np.full(d.n, np.inf)
                elif values is None:
                    continue
                else:
                    m = float(values[self.program.cols[f"fair:{spec.label}:min_coverage"][0]])
                    low = m * P - d.capacity
                    high = (m + gap) * P - d.capacity
                lower = np.maximum(lower, np.where(demand, low - 1e-9, -np.inf))
                upper = np.minimum(upper, np.where(demand, high + 1e-9, np.inf))
            elif spec.kind == "threshold" and values is not None:
                rule = horizon_threshold(d, spec)
                if not len(rule.members):
                    continue
                lam = float(values[self.program.cols[f"fair:{spec.label}:lambda"][0]])
                low, high = rule.limits(lam)
                lower[rule.members] = np.maximum(lower[rule.members], low)
                upper[rule.members] = np.minimum(upper[rule.members], high)
        return lower, upper

    def stop_values(self, active: Sequence[ConstraintSpec], movements: np.ndarray) -> None:
        """Set each threshold's stop binaries k_r in `movements` (whole shipments and
        transfers) to what the plan allows: k_r = 1 where member r receives at least its stop
        level q_r net by the last day (the least restrictive choice), else 0."""
        p, d = self.program, self.data
        received: np.ndarray | None = None
        for spec in active:
            key = f"fair:{spec.label}:stopped"
            if spec.kind != "threshold" or key not in p.cols:
                continue
            if received is None:
                hands = units_on_hand(
                    p, d, movements[p.cols["ship"]], movements[p.cols["transfer"]]
                )
                received = hands[:, d.days - 1] - d.own[:, d.days - 1]
            rule = horizon_threshold(d, spec)
            which = rule.members[rule.stoppable]
            movements[p.cols[key]] = (received[which] >= rule.stop[rule.stoppable] - 1e-9).astype(
                float
            )

    def settle_patients(
        self, out: PlanOutcome, active: Sequence[ConstraintSpec], deadline: Deadline
    ) -> PlanOutcome:
        """The patient flow of a plan made final for its movements, lexicographically:
        (A) the most (weighted) lives the plan's shipments and transfers allow, then (B) with
        that held, every patient admitted as early as possible (maximise
        sum (last_g + 1 - s) y_{g,s}: waiting patient-days, counting a patient turned away as
        waiting to its last day). So no patient waits, or is turned away, while a staffed unit
        is free in their region for their whole stay (docs/multiperiod.md, "Waiting"): such a
        patient could be admitted at once, earlier or in addition, with nothing else changed,
        which (A) or (B) would take. Never fewer lives than `out`."""
        if out.values is None:
            return out
        p = self.program
        cost = self.objective(active)
        values = out.values
        early = np.zeros(p.shape[1])
        ag, as_ = p.admit
        early[p.cols["admit"]] = self.data.group_last[ag] + 1 - as_
        og, os_ = p.send
        early[p.cols["send"]] = self.data.group_last[og] + 1 - os_
        fixed = np.nonzero(p.integrality)[0]
        if self.colgen is not None:
            cg = self.colgen
            cg.include(cg.candidates[np.nonzero(values[cg.candidates])[0]])
            highs, position = cg.highs, cg.position
            restore_lower, restore_upper = cg.lower, cg.upper
            cols = fixed[position[fixed] >= 0]
        else:
            highs = self._exact()
            position = np.arange(p.shape[1])
            restore_lower, restore_upper = p.col_lower, p.col_upper
            cols = fixed
            highs.set_integrality(fixed, False)
        pos = position[cols]
        highs.set_col_bounds_arrays(pos, values[cols], values[cols])
        held_row: int | None = None
        try:
            master = position >= 0
            full = np.nonzero(master)[0]

            def run(objective: np.ndarray) -> np.ndarray | None:
                vector = np.zeros(highs.num_cols)
                vector[position[full]] = objective[full]
                highs.set_cost(vector, maximize=True)
                if isinstance(highs, MatrixHighsModel) and self.colgen is not None:
                    highs.set_option("simplex_strategy", 1)
                result = highs.solve(deadline.remaining(0.05))
                if result.values is None or result.status is not SolveStatus.OPTIMAL:
                    return None
                x = np.zeros(p.shape[1])
                x[full] = result.values[position[full]]
                return x

            first = run(cost)
            if first is None:
                return out
            best = float(cost @ first)
            used = np.nonzero(cost[full])[0]
            held_row = highs.add_row_arrays(
                position[full[used]],
                cost[full[used]],
                best - 1e-6,
                INF_BOUND,
            )
            second = run(early)
            settled = second if second is not None else first
        finally:
            if held_row is not None:
                highs.set_row_bounds(held_row, -INF_BOUND, INF_BOUND)
            highs.set_col_bounds_arrays(pos, restore_lower[cols], restore_upper[cols])
            if self.colgen is None:
                highs.set_integrality(fixed, True)
        settled[cols] = values[cols]
        for name, block in p.cols.items():
            if name.startswith("fair:") or name in ("ship", "transfer", "uses", "stock", "hand"):
                settled[block] = values[block]
        objective = float(cost @ clean_values(p, settled))
        if objective < (out.objective or 0.0) - 1e-6 * max(1.0, abs(out.objective or 0.0)):
            return out
        gap = out.gap if out.bound is None else _gap(out.bound, objective)
        return replace(
            out,
            values=settled,
            lives=self.lives_of(settled),
            objective=objective,
            gap=gap,
        ).with_lives_bound(out.lives_bound is not None)

    def star_key(self) -> tuple[Any, ...]:
        """What L* depends on: the instance, its settings, executed moves, today, the method
        and the tolerances (not the candidate constraints: they only add columns after the
        plan's own)."""
        s = self.instance.settings
        moves = self.executed.drop(columns=["line"], errors="ignore").to_csv(index=False)
        o = self.options
        return (
            self.instance.fingerprint(),
            tuple((k, getattr(s, k)) for k in s.__dataclass_fields__),
            moves,
            self.today,
            self.method,
            o.mip_rel_gap,
            o.mip_abs_gap,
        )

    def _plan_columns(self) -> int:
        """Columns of the plan itself (fairness columns come after them)."""
        fair = [c for name, c in self.program.cols.items() if name.startswith("fair:")]
        return (
            int(min(int(c[0]) for c in fair if len(c)))
            if any(len(c) for c in fair)
            else (self.program.shape[1])
        )

    def stored_star(self, out: PlanOutcome) -> PlanOutcome:
        """The unconstrained solve as the process-wide cache keeps it (plan columns only)."""
        values = None if out.values is None else out.values[: self._plan_columns()].copy()
        return replace(out, values=values)

    def seed_star(self, star: PlanOutcome) -> None:
        """Take L* solved before for the same instance and settings (stored_star)."""
        values = None
        if star.values is not None:
            values = np.zeros(self.program.shape[1])
            values[: len(star.values)] = star.values
        self._cache[frozenset()] = replace(star, values=values, seconds=0.0, solves=0)

    def meets(self, active: Sequence[ConstraintSpec], values: np.ndarray) -> bool:
        """Does a plan meet every active fairness row (fairness columns free)?"""
        return self._meets_fairness(active, values)

    def feasible(self, active: Sequence[ConstraintSpec]) -> bool:
        return self.solve(active, tie_break=False).status is not SolveStatus.INFEASIBLE

    def minimal_conflict(self, active: Sequence[ConstraintSpec]) -> list[ConstraintSpec]:
        core = [c for c in active if REGISTRY[c.kind].role == "constraint"]
        for spec in list(core):
            trial = [c for c in core if c != spec]
            if not self.feasible(trial):
                core = trial
        return core

    def explain_infeasible(self, active: Sequence[ConstraintSpec]) -> str:
        """Name the constraints and the numbers that conflict."""
        core = self.minimal_conflict(active) or [
            c for c in active if REGISTRY[c.kind].role == "constraint"
        ]
        labels = " and ".join(c.label for c in core)
        d = self.data
        T = d.days
        reach = d.deliveries.copy()
        # units a depot receives too late to reach even its nearest region inside the horizon
        nearest = d.ship_lead.min(axis=1) if d.n else np.zeros(len(d.depots))
        late = np.arange(T)[None, :] + nearest[:, None] > T - 1
        in_time = float(reach[~late].sum() + d.executed_from_depots)
        floors = [c for c in core if c.kind in HORIZON_FLOOR_KINDS]
        if floors and len(floors) == len(core):
            need = np.zeros(d.n)
            for spec in floors:
                need = np.maximum(need, horizon_floors(d, spec))
            verb = "needs" if len(core) == 1 else "together need"
            largest = largest_needs(d.regions, need)
            return (
                f"infeasible: {labels} {verb} {int(need.sum()):,} units received net by the end of "
                f"the horizon ({largest}), but {d.supply:,} units are delivered, "
                f"{in_time:,.0f} of them early enough to reach a region by day {T - 1}"
            )
        return (
            f"infeasible: {labels} cannot hold together over the horizon ({d.supply:,} units "
            f"delivered, {in_time:,.0f} in time to arrive by day {T - 1})"
        )


def clean_values(program: LinearProgram, values: np.ndarray) -> np.ndarray:
    """Integers rounded, patients clipped to their bounds and rounded to VALUE_DIGITS decimals
    (the numbers written to the plan, so the engine and check-plan count the same patients)."""
    x = np.array(values, dtype=float)
    integral = program.integrality.astype(bool)
    x[integral] = np.rint(x[integral])
    for block in ("admit", "send", "ptransfer"):
        cols = program.cols[block]
        v = np.clip(x[cols], program.col_lower[cols], program.col_upper[cols])
        v = np.floor(v * 10**VALUE_DIGITS + 1e-3) / 10**VALUE_DIGITS
        x[cols] = np.where(v < 10**-VALUE_DIGITS, 0.0, v)
    return x


# ---------------------------------------------------------------------------------------------
# Extraction


def extract(engine: PlanEngine, values: np.ndarray) -> dict[str, Any]:
    """Manifest, plan rows, per region-day table and per-region totals from a solution."""
    p, d, inst = engine.program, engine.data, engine.instance
    x = clean_values(p, values)
    n, T = d.n, d.days
    regions, depots = list(d.regions), list(d.depots)
    B = d.batch_size
    rows: list[tuple[str, int, str, str, float, int, float, str]] = []
    for row in records(engine.executed):
        rows.append(
            (
                row.kind,
                int(row.day),
                row.src,
                row.dst,
                float(row.units),
                int(row.arrives),
                math.nan,
                "executed",
            )
        )
    sk, sr, sd = p.ship
    ship_units = B * x[p.cols["ship"]]
    for i in np.nonzero(ship_units > 0)[0]:
        k, r, day = int(sk[i]), int(sr[i]), int(sd[i])
        rows.append(
            (
                "ship",
                day,
                depots[k],
                regions[r],
                float(ship_units[i]),
                day + int(d.ship_lead[k, r]),
                math.nan,
                "planned",
            )
        )
    ta, td = p.transfer
    tr = x[p.cols["transfer"]]
    for i in np.nonzero(tr > 0)[0]:
        a, day = int(ta[i]), int(td[i])
        rows.append(
            (
                "transfer",
                day,
                regions[d.arc_src[a]],
                regions[d.arc_dst[a]],
                float(tr[i]),
                day + int(d.arc_lead[a]),
                math.nan,
                "planned",
            )
        )
    rows += _patient_rows(engine, x)
    movement = pd.DataFrame(
        rows, columns=["kind", "day", "src", "dst", "units", "arrives", "cohort_day", "status"]
    )
    ag, as_ = p.admit
    adm = x[p.cols["admit"]]
    keep = np.nonzero(adm > 0)[0]
    admits = pd.DataFrame(
        {
            "kind": "admit",
            "day": as_[keep],
            "src": [regions[d.group_region[g]] for g in ag[keep]],
            "dst": [regions[d.group_region[g]] for g in ag[keep]],
            "units": adm[keep],
            "arrives": as_[keep],
            "cohort_day": d.group_day[ag[keep]].astype(float),
            "status": "planned",
        }
    )
    order = {"ship": 0, "transfer": 1, "patients": 2, "admit": 3}
    movement = movement.sort_values(
        ["day", "kind", "src", "dst"],
        key=lambda c: c.map(order) if c.name == "kind" else c,
        kind="stable",
    )
    plan_rows = (
        pd.concat([movement, admits], ignore_index=True)
        if len(admits)
        else movement.reset_index(drop=True)
    )
    plan_rows = plan_rows.sort_values(
        ["day", "kind"], key=lambda c: c.map(order) if c.name == "kind" else c, kind="stable"
    )
    manifest = plan_frame(movement, inst)
    manifest["status"] = movement["status"].to_numpy()
    plan_csv = plan_frame(plan_rows, inst)

    # recompute the flows from the clean values (what check-plan will replay)
    inflow = np.zeros((n, T))
    inflow[:, 0] = d.own[:, 0]
    inflow[:, 1:] = d.own[:, 1:] - d.own[:, :-1]
    rix = {r: i for i, r in enumerate(regions)}
    for row in records(movement):
        if row.kind in ("ship", "transfer"):
            inflow[rix[row.dst], row.arrives] += row.units
        if row.kind == "transfer":
            inflow[rix[row.src], row.day] -= row.units
    hand = np.cumsum(inflow, axis=1)
    occ = np.zeros((n, T))
    treated = np.zeros((n, T))
    admitted = np.zeros((n, T))
    sent = np.zeros((n, T))
    received = np.zeros((n, T))
    for g, s, v in zip(ag[keep], as_[keep], adm[keep], strict=True):
        r, stay = d.group_region[g], d.group_stay[g]
        occ[r, s : s + stay] += v
        treated[r, s : s + stay] += v
        admitted[r, s] += v
    for row in records(movement[movement["kind"] == "patients"]):
        q, r = rix[row.src], rix[row.dst]
        stay = int(d.los[q])
        occ[r, row.day : row.day + stay] += row.units
        treated[q, row.day : row.day + stay] += row.units
        sent[q, row.day] += row.units
        received[r, row.day] += row.units
    resolved = np.zeros(len(d.group_size))
    np.add.at(resolved, ag, adm)
    og, _ = p.send
    np.add.at(resolved, og, x[p.cols["send"]])
    lost = np.zeros((n, T))
    np.add.at(lost, (d.group_region, d.group_last), np.maximum(d.group_size - resolved, 0.0))
    arrivals = np.zeros((n, T))
    np.add.at(arrivals, (d.group_region, d.group_first), d.group_size)
    gain = d.gain
    survivors = gain[:, None] * (admitted + sent)
    waiting = np.cumsum(arrivals - admitted - sent - lost, axis=1)
    shortfall = np.maximum(d.need - treated, 0.0)
    usable = np.minimum(hand, np.where(np.isfinite(d.staff), d.own + d.staff, np.inf))
    supply_shortfall = np.maximum(d.need - usable, 0.0)
    daily = pd.DataFrame(
        {
            "region": np.repeat(regions, T),
            "day": np.tile(np.arange(T), n),
            "patients_arriving": arrivals.ravel(),
            "admitted": admitted.ravel(),
            "sent_out": sent.ravel(),
            "received": received.ravel(),
            "not_admitted": lost.ravel(),
            "waiting": np.maximum(waiting, 0.0).ravel(),
            "occupancy": occ.ravel(),
            "units_on_hand": hand.ravel(),
            "spare_units": (hand - occ).ravel(),
            "own_units": d.own.ravel(),
            "need": d.need.ravel(),
            "treated": treated.ravel(),
            "shortfall": shortfall.ravel(),
            "supply_shortfall": supply_shortfall.ravel(),
            "expected_survivors": survivors.ravel(),
        }
    )
    if inst.start_date is not None:
        daily.insert(2, "date", [inst.date(t) for t in daily["day"]])
    shipped_in = np.zeros(n)
    t_in = np.zeros(n)
    t_out = np.zeros(n)
    for row in records(movement):
        if row.kind == "ship":
            shipped_in[rix[row.dst]] += row.units
        elif row.kind == "transfer":
            t_in[rix[row.dst]] += row.units
            t_out[rix[row.src]] += row.units
    totals = pd.DataFrame(index=pd.Index(regions, name="region"))
    totals["name"] = inst.base.regions["name"].to_numpy()
    totals["patients"] = arrivals.sum(axis=1)
    totals["admitted"] = admitted.sum(axis=1) + sent.sum(axis=1)
    totals["sent_out"] = sent.sum(axis=1)
    totals["received_patients"] = received.sum(axis=1)
    totals["not_admitted"] = lost.sum(axis=1)
    totals["expected_survivors"] = survivors.sum(axis=1)
    totals["units_shipped_in"] = shipped_in
    totals["transfers_in"] = t_in
    totals["transfers_out"] = t_out
    totals["net_received"] = hand[:, T - 1] - d.own[:, T - 1]
    totals["peak_need"] = d.need.max(axis=1)
    totals["peak_occupancy"] = occ.max(axis=1)
    totals["own_units_day0"] = d.own[:, 0]
    totals["shortfall"] = shortfall.sum(axis=1)
    totals["supply_shortfall"] = supply_shortfall.sum(axis=1)
    stock_end = float(np.cumsum(d.deliveries, axis=1)[:, -1].sum() - ship_units.sum())
    return {
        "manifest": manifest,
        "movement": movement,
        "plan": plan_csv,
        "daily": daily,
        "regions": totals,
        "lives": float(survivors.sum()),
        "shortfall": float(shortfall.sum()),
        "supply_shortfall": float(supply_shortfall.sum()),
        "reserve_left": stock_end,
    }


def _patient_rows(
    engine: PlanEngine, x: np.ndarray
) -> list[tuple[str, int, str, str, float, int, float, str]]:
    """Patients moved, one row per lane and cohort: the cohorts each region sends that day
    (o_{g,d}) matched in order to the lanes they leave on (z_{b,d})."""
    p, d = engine.program, engine.data
    if not len(p.ptransfer[0]):
        return []
    regions = list(d.regions)
    og, os_ = p.send
    sv = x[p.cols["send"]]
    pb, pd_ = p.ptransfer
    pv = x[p.cols["ptransfer"]]
    cohorts: dict[tuple[int, int], list[list[float]]] = {}
    for g, s, v in zip(og, os_, sv, strict=True):
        if v > 0:
            cohorts.setdefault((int(d.group_region[g]), int(s)), []).append(
                [float(d.group_day[g]), float(v)]
            )
    lanes: dict[tuple[int, int], list[list[float]]] = {}
    for b, day, v in zip(pb, pd_, pv, strict=True):
        if v > 0:
            lanes.setdefault((int(d.pt_src[b]), int(day)), []).append(
                [float(d.pt_dst[b]), float(v)]
            )
    out = []
    for (r, day), groups in sorted(cohorts.items()):
        targets = lanes.get((r, day), [])
        j = 0
        for e, amount in groups:
            left = amount
            while left > 1e-12 and targets:
                q, cap = targets[j]
                take = left if j == len(targets) - 1 else min(left, cap)
                if take > 0:
                    out.append(
                        (
                            "patients",
                            day,
                            regions[r],
                            regions[int(q)],
                            round(take, VALUE_DIGITS),
                            day,
                            e,
                            "planned",
                        )
                    )
                targets[j][1] -= take
                left -= take
                if targets[j][1] <= 1e-12 and j < len(targets) - 1:
                    j += 1
    return out


# ---------------------------------------------------------------------------------------------
# Public entry points


def setting_notes(instance: MultiPeriodInstance, data: MultiPeriodData) -> list[str]:
    """Switches that are on (or set away from their default) but change nothing here, said
    plainly (the CLI prints them as warnings; the JSON carries them as `notes`)."""
    s, defaults = instance.settings, PlanSettings()
    notes: list[str] = []
    lead = instance.region_lead.to_numpy(dtype=float)
    shortest = float(np.nanmin(lead)) if np.isfinite(lead).any() else math.inf
    if s.patient_transfers and not data.patient_transfers:
        why = (
            f"the shortest region-to-region lead time is {shortest:g} day(s)"
            if math.isfinite(shortest)
            else "there is no region-to-region lane"
        )
        notes.append(
            "patient transfers are on but no pair of regions is within the distance limit "
            f"patient_transfer_max_lead_days = {s.patient_transfer_max_lead_days} ({why}): no "
            "patient can move; raise --patient-transfer-max-lead-days"
        )
    if not s.patient_transfers:
        changed = [
            k
            for k in ("patient_transfer_max_per_day", "patient_transfer_max_lead_days")
            if getattr(s, k) != getattr(defaults, k)
        ]
        if changed:
            notes.append(f"{' and '.join(changed)} change nothing: patient transfers are off")
    if s.transfers and data.n > 1 and not data.transfers:
        notes.append(
            "transfers are on but no transfer lane remains (lead_times.csv lanes within "
            f"max_transfer_lead_days = {s.max_transfer_lead_days}): no unit can move between "
            "regions"
        )
    if not data.transfers:
        changed = [
            k
            for k in ("donor_keep_share", "transfer_neighbours", "max_transfer_lead_days")
            if getattr(s, k) != getattr(defaults, k)
        ]
        if changed:
            notes.append(f"{' and '.join(changed)} change nothing: no unit moves between regions")
    total = data.deliveries.sum(axis=1)
    if len(total) and data.batch_size > 1 and float(total.max()) < data.batch_size:
        notes.append(
            f"batch_size = {data.batch_size} is more than any depot receives "
            f"({float(total.max()):g} units at most): nothing can be shipped"
        )
    return notes


def active_constraints(
    instance: MultiPeriodInstance,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    default_constraints: bool = True,
) -> tuple[ConstraintSpec, ...]:
    base = list(instance.base.constraints) if default_constraints else []
    specs = to_specs([*base, *(constraints or ())])
    check_constraints(specs)
    return specs


def plan(
    instance: MultiPeriodInstance,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    *,
    default_constraints: bool = True,
    executed: pd.DataFrame | str | Path | None = None,
    today: int | None = None,
    time_limit: float | None = None,
    mip_gap: float | None = DEFAULT_GAP,
    tie_break: bool = True,
    price_of_fairness: bool = True,
    progress: bool = False,
    method: str = "auto",
    deadline: Deadline | None = None,
) -> PlanResult:
    """Plan deliveries, transfers and admissions over the horizon.

    `time_limit` is one wall-clock budget for the whole call (building the model, every
    solve, the price of fairness, extraction); a caller that loaded the instance passes
    `deadline`, started before loading. `mip_gap`: a relative tolerance on top of the
    default absolute one (every optimum within 0.005 lives of its bound: prices exact to
    0.01 lives). Returns a PlanResult; an infeasible constraint set is a result with status
    'infeasible' and an explanation (the CLI turns it into exit code 3).
    """
    t_start = time.perf_counter()
    if time_limit is not None and (
        isinstance(time_limit, bool)
        or not isinstance(time_limit, int | float)
        or not time_limit > 0
    ):
        raise InputError(
            Problem(
                f"must be a number of seconds > 0, got {time_limit!r}",
                column="time_limit",
                column_word="option",
            )
        )
    budget = _Deadline(
        time_limit if deadline is None else deadline.limit,
        start=t_start if deadline is None else deadline.start,
    )
    if mip_gap is not None and (
        isinstance(mip_gap, bool) or not isinstance(mip_gap, int | float) or not 0 <= mip_gap < 1
    ):
        raise InputError(
            Problem(f"must be in [0, 1), got {mip_gap!r}", column="mip_gap", column_word="option")
        )
    if executed is not None:
        executed = plan_rows(executed, instance, executed=True, name="executed")
    if executed is not None and today is None:
        today = today_from(executed)
    active = active_constraints(instance, constraints, default_constraints)
    options = SolverOptions(
        time_limit=budget.limit,
        mip_rel_gap=0.0 if mip_gap is None else float(mip_gap),
        mip_abs_gap=ABS_GAP,
    )
    engine = PlanEngine(instance, active, options, executed=executed, today=today, method=method)
    timings = {"build": engine.build_seconds, "translate": engine.translate_seconds}
    if budget.limit is not None:
        # a time-limited solve is compared with the fallback plan: made now, inside the budget
        # and before the solves' share of it is set (300 x 90: 0.8 s, three times the build)
        t_fallback = time.perf_counter()
        engine.fallback_values()
        timings["fallback"] = time.perf_counter() - t_fallback
    # the solves leave time for what follows them (patient flow, extraction)
    runs = _Deadline(budget.reserved(FINISH_SHARE_OF_BUILD * engine.build_seconds).limit,
                     start=budget.start)
    engine.deadline = runs
    star_key = engine.star_key()
    cached_star = _STARS.get(star_key)
    if cached_star is not None:
        engine.seed_star(cached_star)
    main = engine.solve(active, tie_break=tie_break, time_limit=runs.remaining())
    main = engine.settle_patients(main, active, runs)
    timings["solve"] = (
        time.perf_counter() - t_start - timings["build"] - timings["translate"]
        - timings.get("fallback", 0.0)
    )
    t_main = time.perf_counter()
    explanation = None
    if main.status is SolveStatus.INFEASIBLE:
        explanation = engine.explain_infeasible(active)
    star = _unless_expired(engine, [], runs)  # L* is reported only once proved
    if star.status is SolveStatus.OPTIMAL and cached_star is None:
        _STARS.put(star_key, engine.stored_star(star))
    if price_of_fairness and active and main.values is not None:
        price = _price_table(engine, active, star, runs, progress)
    else:
        price = pd.DataFrame(columns=PRICE_COLUMNS)
    # L*: the one unconstrained solve, shared by every price, and only once proved (a plan
    # cut short by the time limit says nothing of the optimum)
    proved = star.status is SolveStatus.OPTIMAL
    lives_star = star.lives if proved else None
    timings["price_of_fairness"] = time.perf_counter() - t_main
    t_extract = time.perf_counter()
    parts = extract(engine, main.values) if main.values is not None else None
    timings["extract"] = time.perf_counter() - t_extract
    timings["total"] = time.perf_counter() - t_start
    versions = solver_versions()
    outcomes = list(engine._cache.values())
    info = SolverInfo(
        name="highs",
        version=versions["highs"],
        gap=main.gap,
        seconds=sum(o.seconds for o in outcomes),
        solves=sum(o.solves for o in outcomes),
        pyomo_version=versions["pyomo"],
    )
    empty = pd.DataFrame()
    s = instance.settings
    return PlanResult(
        instance=instance.name,
        status=main.status,
        days=instance.days,
        start_date=None if instance.start_date is None else instance.start_date.isoformat(),
        lives_saved=None if parts is None else parts["lives"],
        lives_optimal=lives_star,
        lives_optimal_bound=star.lives_bound if proved else None,
        constraints=tuple(c.label for c in active),
        settings={k: getattr(s, k) for k in s.__dataclass_fields__},
        manifest=empty if parts is None else parts["manifest"],
        plan=empty if parts is None else parts["plan"],
        daily=empty if parts is None else parts["daily"],
        regions=empty if parts is None else parts["regions"],
        price_of_fairness=price,
        shortfall=None if parts is None else parts["shortfall"],
        supply_shortfall=None if parts is None else parts["supply_shortfall"],
        logistics_cost=main.logistics,
        reserve_left=None if parts is None else parts["reserve_left"],
        today=engine.today,
        executed_rows=len(engine.executed),
        explanation=explanation,
        solver=info,
        timings=timings,
        fingerprint=instance.fingerprint(),
        resource=instance.base.resource,
        notes=tuple(setting_notes(instance, engine.data)),
        objective_bound=main.bound,
        sizes={
            "columns": int(engine.program.shape[1]),
            "rows": int(engine.program.shape[0]),
            "nonzeros": int(engine.program.matrix.nnz),
            "integer_columns": int(engine.program.integrality.sum()),
        },
    )


class _StarCache:
    """L* per instance and settings (PlanEngine.star_key), shared by every plan and price of
    the process: the unconstrained optimum is solved once, so every price is measured against
    the same L* (a few entries: a plan's values are a few MB)."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self.items: dict[tuple[Any, ...], PlanOutcome] = {}

    def get(self, key: tuple[Any, ...]) -> PlanOutcome | None:
        out = self.items.pop(key, None)
        if out is not None:
            self.items[key] = out
        return out

    def put(self, key: tuple[Any, ...], value: PlanOutcome) -> None:
        self.items.pop(key, None)
        self.items[key] = value
        while len(self.items) > self.size:
            self.items.pop(next(iter(self.items)))


_STARS = _StarCache()


def _unless_expired(
    engine: PlanEngine, active: Sequence[ConstraintSpec], deadline: _Deadline
) -> PlanOutcome:
    """A lives-only solve within `deadline`; once it has passed, what was solved already or
    a time_limit outcome without a plan (no solve is started past the budget)."""
    if deadline.expired():
        known = engine.solved(active)
        if known is not None:
            return known
        return PlanOutcome(SolveStatus.TIME_LIMIT, None, None, None, None, 0.0, 0)
    return engine.solve(active, tie_break=False, time_limit=deadline.remaining())


def _price_table(
    engine: PlanEngine,
    active: Sequence[ConstraintSpec],
    star: PlanOutcome,
    deadline: _Deadline,
    progress: bool,
) -> pd.DataFrame:
    """lives_saved_alone, lives_lost_alone = L* - alone, lives_lost_marginal = without_k - all,
    each with the interval the bounds prove (L* in [its plan's lives, its bound], likewise
    every other optimum): exact when both are at most 0.01 lives wide, else flagged. L* is the
    one unconstrained solve `star`. A constraint the L* plan already meets costs exactly 0:
    that plan is then optimal under it too."""
    from tqdm import tqdm

    everything = _unless_expired(engine, active, deadline)
    rows = []
    for spec in tqdm(
        active,
        desc="price of fairness",
        unit="constraint",
        disable=not progress or None,
        leave=False,
    ):
        constraint = REGISTRY[spec.kind].role == "constraint"
        if constraint and star.values is not None and engine.meets([spec], star.values):
            alone = star
        else:
            alone = _unless_expired(engine, [spec], deadline)
        rest = [c for c in active if c != spec]
        without = _unless_expired(engine, rest, deadline)
        notes = []
        saved_alone = lost_alone = marginal = None
        alone_interval: tuple[float | None, float | None] = (None, None)
        margin: tuple[float | None, float | None] = (None, None)
        if alone.lives is None and alone.solves == 0 and alone.status is SolveStatus.TIME_LIMIT:
            notes.append("alone: not solved, the time limit was reached first")
        elif alone.lives is None:
            notes.append(f"alone: {alone.status}; " + engine.explain_infeasible([spec]))
        else:
            saved_alone = alone.lives
            lost_alone = None if star.lives is None else max(0.0, star.lives - alone.lives)
            high = alone.lives if alone.lives_bound is None else alone.lives_bound
            alone_interval = price_interval(star, alone.lives, high)
            if alone.status is SolveStatus.TIME_LIMIT:
                notes.append(f"alone: time limit, gap {alone.gap}")
        if everything.lives is None:
            notes.append("marginal: the full constraint set is infeasible")
        elif without.lives is None:
            notes.append(f"marginal: without it the rest is {without.status}")
        else:
            margin = price_difference(without, everything)
            marginal = without.lives - everything.lives
            if margin[0] is not None and margin[0] >= 0.0:
                marginal = max(0.0, marginal)
        if REGISTRY[spec.kind].role == "objective":
            notes.append("objective weights: its price is the unweighted lives given up")
        rows.append(
            price_row(
                spec.label,
                saved_alone,
                lost_alone,
                alone_interval,
                marginal,
                margin,
                "; ".join(notes),
            )
        )
    return price_frame(rows)
