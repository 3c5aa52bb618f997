"""The stochastic planner's engine: the extensive form of one instance and scenario set, built
once with every candidate constraint; `solve(active)` switches the fairness rows of every
scenario block in HiGHS and re-solves. It implements the engine protocol of
optimiser/engine_protocol.py, so the price of fairness (in expected lives), minimal conflicts
and explanations are the protocol's, unchanged.

Per scenario, the block's numbers are the planner's own (optimiser.multiperiod.data.model_data
on the instance with that scenario's demand; executed moves applied as PlanEngine applies
them), its model the planner's own (models.multiperiod.build_plan_model).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from models.fairness import REGISTRY, ConstraintSpec
from models.multiperiod import MultiPeriodData, build_plan_model
from models.multiperiod_data import objective_weights
from models.stochastic import ExtensiveForm, Risk, build_extensive_form
from optimiser.deadline import Deadline
from optimiser.engine_protocol import explain_infeasible, minimal_conflict
from optimiser.errors import InputError, Problem, counted
from optimiser.multiperiod.data import model_data
from optimiser.multiperiod.engine import (
    ABS_GAP,
    EXACT_LIMIT,
    EXECUTED_COLUMNS,
    check_constraints,
)
from optimiser.multiperiod.executed import executed_moves
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.methods.base import DEADLINE_MARGIN, STAGE2_GAP
from optimiser.scenarios.model import ScenarioSet, check_compatible
from optimiser.scenarios.stats import cvar
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus
from optimiser.stochastic.decomp import Decomposition

FEASIBILITY_TOL = 1e-6
# Methods: "exact" (HiGHS's branch-and-bound on the whole extensive form), "rounding" (the
# decomposition of optimiser/stochastic/decomp.py: column generation for the LP bound, a whole
# commit, the planner's recourse per scenario); "auto": exact up to EXACT_LIMIT integer
# columns in the extensive form (the planner's own limit), rounding above it.
METHODS = ("auto", "exact", "rounding")
WORST_TOL = 1e-6  # K held within this (relative, plus ABS_GAP) of its optimum in worst's stage 2


@dataclass(frozen=True)
class StochasticOutcome:
    """One solve of the extensive form (what the engine protocol reads: status, lives,
    lives_bound, gap, solves)."""

    status: SolveStatus
    values: np.ndarray | None
    lives: float | None  # expected extra survivors, sum_s p_s L_s
    lives_bound: float | None  # proven upper bound on them (objective = expected lives only)
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    solves: int
    scenario_lives: np.ndarray | None = None  # L_s
    tail: float | None = None  # K = CVaR_alpha of deaths (cvar, worst)
    logistics: float | None = None  # expected logistics cost


def scenario_data(
    instance: MultiPeriodInstance,
    scenarios: ScenarioSet,
    executed: pd.DataFrame,
    today: int,
) -> list[MultiPeriodData]:
    """The planner's numbers per scenario (the instance with the scenario's demand), the
    executed moves applied from `today` as the deterministic planner applies them."""
    out = []
    for sid, inst in scenarios.instances(instance):
        data = model_data(inst)
        if len(executed) or today:
            try:
                deliveries, inflow, shipped = executed_moves(
                    inst,
                    executed,
                    today,
                    file=executed.attrs.get("file", "executed"),
                    held_units=data.held_units(),
                )
            except InputError as exc:
                raise InputError(
                    [replace(p, message=f"{p.message} (scenario {sid})") for p in exc.problems]
                ) from None
            data = replace(
                data,
                deliveries=deliveries,
                inflow=inflow,
                first_day=today,
                executed_from_depots=shipped,
                delivered=data.deliveries,
            )
        out.append(data)
    return out


def base_deaths(instance: MultiPeriodInstance, data: MultiPeriodData) -> float:
    """D0_s: deaths if no patient of the scenario got a unit (expected counts)."""
    without = instance.base.regions["survival_without"].to_numpy(dtype=float)
    return float(np.dot(data.group_size, 1.0 - without[data.group_region]))


def check_commit(commit_days: object, today: int, days: int) -> int:
    """The commit window's length, validated: whole days >= 1, ending inside the horizon."""
    if isinstance(commit_days, bool) or not isinstance(commit_days, int | np.integer):
        raise InputError(
            Problem(
                f"must be a whole number of days, got {commit_days!r}",
                column="commit-days",
                column_word="option",
            )
        )
    c = int(commit_days)
    if c < 1:
        raise InputError(
            Problem(f"must be at least 1 day, got {c}", column="commit-days", column_word="option")
        )
    if today + c > days:
        raise InputError(
            Problem(
                f"the commit window [{today}, {today + c - 1}] ends after the horizon's last day "
                f"{days - 1} (today {today} + {c} days > {days}); at most {days - today}",
                column="commit-days",
                column_word="option",
            )
        )
    return c


class StochasticEngine:
    """The extensive form of an instance under a scenario set, loaded into HiGHS once."""

    def __init__(
        self,
        instance: MultiPeriodInstance,
        scenarios: ScenarioSet,
        candidates: Sequence[ConstraintSpec] = (),
        *,
        commit_days: int = 7,
        risk: Risk | None = None,
        options: SolverOptions | None = None,
        executed: pd.DataFrame | None = None,
        today: int = 0,
        relax_recourse: bool = False,
        method: str = "auto",
    ) -> None:
        check_constraints(candidates)
        if method not in METHODS:
            raise InputError(
                Problem(
                    f"must be one of {', '.join(METHODS)}, got {method!r}",
                    column="method",
                    column_word="option",
                )
            )
        check_compatible(scenarios, instance)
        if not 0 <= today <= instance.days - 1:
            raise InputError(
                Problem(
                    f"today must be a day of the horizon 0..{instance.days - 1}, got {today}",
                    column="today",
                    column_word="option",
                )
            )
        self.commit_days = check_commit(commit_days, today, instance.days)
        self.instance = instance
        self.scenarios = scenarios
        self.candidates = tuple(candidates)
        self.risk = risk or Risk()
        self.options = options or SolverOptions(mip_rel_gap=0.0, mip_abs_gap=ABS_GAP)
        self.executed = executed if executed is not None else pd.DataFrame(columns=EXECUTED_COLUMNS)
        self.today = today
        t0 = time.perf_counter()
        self.data = scenario_data(instance, scenarios, self.executed, today)
        blocks = [build_plan_model(d, self.candidates) for d in self.data]
        self.form: ExtensiveForm = build_extensive_form(
            blocks,
            scenarios.probability.reindex(scenarios.ids).to_numpy(dtype=float),
            np.array([base_deaths(instance, d) for d in self.data]),
            today + self.commit_days,
            self.risk,
            relax_recourse=relax_recourse,
        )
        self.relax_recourse = relax_recourse
        self.build_seconds = time.perf_counter() - t0
        integers = int(self.form.integrality.sum())
        if method == "auto":
            method = "exact" if integers <= EXACT_LIMIT or relax_recourse else "rounding"
        if method == "rounding" and relax_recourse:
            raise InputError(
                Problem(
                    "relax_recourse needs method exact (the rounding method's recourse is "
                    "already whole)",
                    column="method",
                    column_word="option",
                )
            )
        self.method = method
        self._highs: MatrixHighsModel | None = None
        self.decomposition: Decomposition | None = None
        self._active: frozenset[str] = frozenset(self.form.blocks[0].fairness)
        t1 = time.perf_counter()
        if method == "exact":
            self._activate(())
        else:
            self.decomposition = Decomposition(self)
        self.translate_seconds = time.perf_counter() - t1
        self._outcomes: dict[frozenset[str], StochasticOutcome] = {}
        self.deadline: Deadline | None = None

    @property
    def highs(self) -> MatrixHighsModel:
        """The whole extensive form in HiGHS (method exact), loaded on first use."""
        if self._highs is None:
            f = self.form
            self._highs = MatrixHighsModel(
                f.col_lower,
                f.col_upper,
                f.matrix,
                f.row_lower,
                f.row_upper,
                f.integrality,
                self.options,
            )
        return self._highs

    # ---- fairness rows across the blocks
    def family_rows(self, label: str) -> np.ndarray:
        f = self.form
        parts = [f.rows(s, b.fairness[label].rows) for s, b in enumerate(f.blocks)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def _activate(self, active: Sequence[ConstraintSpec]) -> None:
        labels = frozenset(c.label for c in active if REGISTRY[c.kind].role == "constraint")
        for label in self.form.blocks[0].fairness:
            want = label in labels
            if want != (label in self._active):
                self.highs.set_rows_active(self.family_rows(label), want)
        self._active = labels
        for s, b in enumerate(self.form.blocks):  # cut rows serve the rounding method only
            for family in b.fairness.values():
                if len(family.cut_rows):
                    self.highs.set_rows_active(self.form.rows(s, family.cut_rows), False)

    def cost(self, active: Sequence[ConstraintSpec]) -> np.ndarray:
        return self.form.cost(
            [
                b.weighted_lives(objective_weights(d, active))
                for b, d in zip(self.form.blocks, self.data, strict=True)
            ]
        )

    def lives_cost(self) -> np.ndarray:
        return self.form.expected([b.lives for b in self.form.blocks])

    # ---- solving
    def solve(
        self,
        active: Sequence[ConstraintSpec] = (),
        *,
        tie_break: bool = True,
        time_limit: float | None = None,
        skip_when_expired: bool = False,
    ) -> StochasticOutcome:
        """Best plan under `active` in every scenario, for the engine's risk measure; with
        `tie_break`, the least expected logistics cost among plans as good (every scenario's
        admissions and the risk columns held). Status optimal only when proved within the
        gap tolerance; time_limit with the best plan found and its gap otherwise."""
        unknown = {c.label for c in active} - {c.label for c in self.candidates}
        if unknown:
            raise ValueError(f"not built into this engine: {sorted(unknown)}")
        key = frozenset(c.label for c in active) | ({"#tie"} if tie_break else set())
        if key in self._outcomes:
            return self._outcomes[key]
        if not tie_break and key | {"#tie"} in self._outcomes:
            return self._outcomes[key | {"#tie"}]
        if self.deadline is not None:
            if skip_when_expired and self.deadline.expired():
                return StochasticOutcome(
                    SolveStatus.TIME_LIMIT, None, None, None, None, None, None, 0.0, 0
                )
            if time_limit is None:
                time_limit = self.deadline.remaining()
        limit = time_limit if time_limit is not None else self.options.time_limit
        deadline = Deadline(limit, margin=DEADLINE_MARGIN)
        if self.decomposition is not None:
            out = self.decomposition.solve(active, tie_break, deadline)
        else:
            self._activate(active)
            out = self._solve(active, tie_break, deadline)
        self._outcomes[key] = out
        return out

    def _solve(
        self, active: Sequence[ConstraintSpec], tie_break: bool, deadline: Deadline
    ) -> StochasticOutcome:
        f, h = self.form, self.highs
        cost = self.cost(active)
        h.set_cost(cost, maximize=True)
        start = self.zero_plan()
        h.set_start(start)
        first = h.solve(deadline.remaining())
        solves, seconds = 1, first.seconds
        if first.status is SolveStatus.OPTIMAL and not math.isfinite(first.bound or math.nan):
            # HiGHS 1.15.1 said "optimal" with no finite dual bound on US 50 x 47 x 20 (a plan
            # of 4,886 expected lives where the decomposition proves 23,704): not a proof
            first = replace(first, status=SolveStatus.ERROR)
        if first.status is SolveStatus.INFEASIBLE and self.meets_rows(start, active):
            # the plan that moves nothing meets every active row: not infeasible, whatever
            # HiGHS says (seen on the US 50 x 47 extensive form: BENCHMARKS.md)
            first = replace(first, status=SolveStatus.ERROR)
        if first.values is None:
            return StochasticOutcome(
                first.status, None, None, None, None, None, first.gap, seconds, solves
            )
        values, status = first.values, first.status
        lives_objective = self.risk.kind == "neutral" and all(
            REGISTRY[c.kind].role == "constraint" for c in active
        )
        if self.risk.kind == "worst" and deadline.expired():
            status = SolveStatus.TIME_LIMIT  # stage 2 not made: the plan is not the optimum
        elif self.risk.kind == "worst":
            # stage 2: K held at its optimum, the expected (weighted) lives
            tail = float(f.tail_cost() @ values)
            cap = tail + ABS_GAP + WORST_TOL * max(abs(tail), 1.0)
            h.set_rows_bounds(np.array([f.cap_row]), np.array([-np.inf]), np.array([cap]))
            h.set_cost(
                self.form.expected(
                    [
                        b.weighted_lives(objective_weights(d, active))
                        for b, d in zip(f.blocks, self.data, strict=True)
                    ]
                ),
                maximize=True,
            )
            h.set_start(values)
            second = h.solve(deadline.remaining())
            solves, seconds = solves + 1, seconds + second.seconds
            if second.values is not None:
                values = second.values
                if second.status is not SolveStatus.OPTIMAL:
                    status = second.status
        # the tie-break is optional (same lives): not started once the budget has run out
        # (an expired run still costs HiGHS's set-up: 0.5 s on US 50 x 47 x 4 scenarios)
        if tie_break and not deadline.expired():
            held = np.concatenate(
                [
                    *(f.columns(s, b.patients) for s, b in enumerate(f.blocks)),
                    np.atleast_1d(f.eta) if f.eta >= 0 else np.zeros(0, dtype=np.int64),
                    f.excess,
                ]
            )
            h.set_col_bounds_arrays(held, values[held], values[held])
            h.set_cost(self.form.expected([b.logistics for b in f.blocks]), maximize=False)
            h.set_start(values)
            options = h.options
            h.options = replace(options, mip_rel_gap=STAGE2_GAP)
            try:
                second = h.solve(deadline.remaining())
            finally:
                h.options = options
                h.set_col_bounds_arrays(held, f.col_lower[held], f.col_upper[held])
            solves, seconds = solves + 1, seconds + second.seconds
            if second.values is not None and float(cost @ second.values) >= float(
                cost @ values
            ) - 1e-7 * max(1.0, abs(float(cost @ values))):
                values = second.values
        if self.risk.kind == "worst":
            h.set_rows_bounds(np.array([f.cap_row]), np.array([-np.inf]), np.array([np.inf]))
        values = self._clean(values)
        per = f.scenario_lives(values)
        lives = float(f.probability @ per)
        return StochasticOutcome(
            status=status,
            values=values,
            lives=lives,
            lives_bound=max(first.bound, lives)
            if lives_objective and first.bound is not None
            else None,
            objective=float(cost @ values),
            bound=first.bound,
            gap=first.gap,
            seconds=seconds,
            solves=solves,
            scenario_lives=per,
            tail=float(self.tail_of(per)) if f.eta >= 0 else None,
            logistics=float(self.form.expected([b.logistics for b in f.blocks]) @ values),
        )

    def tail_of(self, scenario_lives: np.ndarray) -> float:
        """CVaR_alpha of the deaths D0_s - L_s, computed from the outcomes (not the columns)."""
        deaths = self.form.base_deaths - scenario_lives
        return cvar(deaths, self.form.probability, self.risk.alpha)

    def zero_plan(self) -> np.ndarray:
        """Move nothing; admit only the patients on units at the start (they keep them); the
        risk columns at their least values for it. Feasible without fairness rows."""
        f = self.form
        x = np.zeros(f.shape[1])
        for s, (b, d) in enumerate(zip(f.blocks, self.data, strict=True)):
            inflow = d.inflow if d.inflow is not None else 0.0
            x[f.columns(s, b.stock.ravel())] = np.cumsum(d.deliveries, axis=1).ravel()
            hand = d.own + np.cumsum(inflow * np.ones_like(d.own), axis=1)
            x[f.columns(s, b.hand.ravel())] = hand.ravel()
            x[f.columns(s, b.admit.cols)] = b.col_lower[b.admit.cols]
            x[f.columns(s, b.occ.ravel())] = d.held_units().ravel()
        if f.eta >= 0:
            deaths = f.base_deaths - f.scenario_lives(x)
            x[f.excess] = deaths  # with eta = 0
        return x

    def implied(self, values: np.ndarray, labels: Sequence[str]) -> np.ndarray:
        """A copy of `values` with the own columns of each scenario's families `labels`
        (threshold's lambda and stops, max_coverage_gap's m_cov and z) at the values that
        scenario's plan implies (`HorizonFamily.imply`, as PlanEngine.meets): a plan is judged
        by its movements, not by those columns as given (0 in the zero plan)."""
        f = self.form
        x = np.array(values, dtype=float)
        for s, (b, d) in enumerate(zip(f.blocks, self.data, strict=True)):
            families = [b.fairness[label] for label in labels]
            if not any(len(family.columns) for family in families):
                continue
            local = f.block_values(x, s)  # a view of x: set in place
            day, rows = d.measure_days(), np.arange(d.n)
            received = local[b.hand[rows, day]] - d.own[rows, day]
            for family in families:
                family.imply(received, local)
        return x

    def meets_rows(self, values: np.ndarray, active: Sequence[ConstraintSpec]) -> bool:
        """Does `values` meet every row that is switched on (the active fairness rows, every
        other row but the cut rows), and every column bound? The active families' own columns
        are taken at the values the plan implies (`implied`)."""
        f = self.form
        values = self.implied(values, [c.label for c in active])
        off = [self.family_rows(c.label) for c in self.candidates if c not in active]
        off += [
            f.rows(s, fam.cut_rows) for s, b in enumerate(f.blocks) for fam in b.fairness.values()
        ]
        keep = np.ones(f.shape[0], dtype=bool)
        for rows in off:
            keep[rows] = False
        act = f.matrix @ values
        tol = FEASIBILITY_TOL * np.maximum(1.0, np.abs(act))
        rows_ok = (act >= f.row_lower - tol) & (act <= f.row_upper + tol)
        cols_ok = (values >= f.col_lower - FEASIBILITY_TOL) & (
            values <= f.col_upper + FEASIBILITY_TOL
        )
        return bool(rows_ok[keep].all() and cols_ok.all())

    def _clean(self, values: np.ndarray) -> np.ndarray:
        """Integer columns rounded (HiGHS's values are within its integrality tolerance)."""
        x = np.array(values, dtype=float)
        integral = self.form.integrality.astype(bool)
        x[integral] = np.rint(x[integral])
        return x

    # ---- the engine protocol (optimiser/engine_protocol.py)
    def meets(self, labels: Sequence[str], values: np.ndarray | None) -> bool:
        if values is None:
            return False
        rows = [self.family_rows(label) for label in labels]
        which = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        if not len(which):
            return True
        activity = self.form.matrix[which] @ self.implied(values, labels)
        f = self.form
        return bool(
            np.all(activity >= f.row_lower[which] - FEASIBILITY_TOL)
            and np.all(activity <= f.row_upper[which] + FEASIBILITY_TOL)
        )

    def known_to_meet(self, spec: ConstraintSpec, solution: object) -> bool:
        return self.meets([spec.label], getattr(solution, "values", None))

    def minimal_conflict(self, active: Sequence[ConstraintSpec]) -> list[ConstraintSpec]:
        return minimal_conflict(self, active)

    def explain_infeasible(self, active: Sequence[ConstraintSpec]) -> str:
        return explain_infeasible(self, active)

    def conflict_numbers(self, core: Sequence[ConstraintSpec]) -> str:
        """The constraints of `core` and the units they compete for, in every scenario."""
        labels = " and ".join(c.label for c in core)
        d = self.data[0]
        return (
            f"infeasible: {labels} cannot hold together in every scenario over the horizon "
            f"({counted(d.supply, 'unit')} delivered; the movements of days {self.today}.."
            f"{self.today + self.commit_days - 1} are the same in all {len(self.data)} "
            "scenarios)"
        )
