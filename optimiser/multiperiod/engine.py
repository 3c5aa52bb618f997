"""The planner's engine: the model of one instance built once with every candidate constraint;
`solve(active)` switches fairness rows in HiGHS, chooses the solution method, caches outcomes.

Pipeline: MultiPeriodInstance -> model_data (+ executed moves) -> build_plan_model
(models/multiperiod.py) -> a solution method (methods/: exact, rounding) -> extract.py ->
PlanResult (planner.py, `plan`). check-plan lives apart (check.py, simulate.py): no model code.
The engine implements the engine protocol of optimiser/engine_protocol.py (prices of fairness,
conflicts and explanations are written there once, for every engine).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from models.fairness import REGISTRY, ConstraintSpec, HorizonFamily, horizon_floors
from models.multiperiod import MultiPeriodData, PlanModel, build_plan_model, horizon_kinds
from models.multiperiod_data import objective_weights
from optimiser.deadline import Deadline
from optimiser.engine_protocol import Optimum, explain_infeasible, largest_needs, minimal_conflict
from optimiser.errors import InputError, Problem, counted
from optimiser.multiperiod import colgen_manage, colgen_seed, colgen_window
from optimiser.multiperiod.colgen import MAX_ENTERING_PER_ROW, ColumnGeneration
from optimiser.multiperiod.conflict import cap_conflict
from optimiser.multiperiod.data import model_data
from optimiser.multiperiod.executed import executed_moves
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.methods.base import (
    DEADLINE_MARGIN,
    FALLBACK_NODES,
    Method,
    PlanOutcome,
    Setting,
    Task,
)
from optimiser.multiperiod.methods.exact import ExactMethod
from optimiser.multiperiod.methods.fallback import fallback_values, meets_rows, with_fallback
from optimiser.multiperiod.methods.rounding import RoundingMethod
from optimiser.multiperiod.methods.settle import settle_patients
from optimiser.multiperiod.plan_io import today_from
from optimiser.solver import (
    MatrixHighsModel,
    SolverOptions,
    SolveStatus,
    note_limit,
)

# Default tolerance: every optimum proved to within ABS_GAP lives of its bound (absolute gap
# control, the relative gap off), so a price of fairness (a difference of two optima) is exact
# to PRICE_PRECISION = 0.01 lives; `--gap` adds a relative tolerance (looser, faster).
ABS_GAP = 0.005
# Method: "exact" (HiGHS branch-and-bound on the whole model) up to this many integer
# columns, else "rounding" (column generation, rounding, repair: methods/rounding.py).
EXACT_LIMIT = 5_000
METHODS = ("auto", "exact", "rounding")
EXECUTED_COLUMNS = ["kind", "day", "src", "dst", "units", "arrives", "cohort_day", "line"]


def check_constraints(specs: Sequence[ConstraintSpec]) -> None:
    """InputError for a constraint whose kind has no family over the horizon."""
    bad = [s for s in specs if REGISTRY[s.kind].horizon is None]
    if bad:
        raise InputError(
            Problem(
                f"constraint {bad[0].label}: not available over the horizon "
                f"(multi-period constraints: {', '.join(horizon_kinds())})"
            )
        )


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
                    f"must be one of {', '.join(METHODS)}, got {method!r}",
                    column="method",
                    column_word="option",
                )
            )
        self.instance = instance
        self.candidates = tuple(candidates)
        self.options = options or SolverOptions(mip_rel_gap=0.0, mip_abs_gap=ABS_GAP)
        t0 = time.perf_counter()
        data = model_data(instance)
        self.executed = executed if executed is not None else pd.DataFrame(columns=EXECUTED_COLUMNS)
        self.today = int(today if today is not None else today_from(self.executed))
        if not 0 <= self.today <= instance.days - 1:
            raise InputError(
                Problem(
                    f"today must be a day of the horizon 0..{instance.days - 1}, got {self.today}",
                    column="today",
                    column_word="option",
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
                delivered=data.deliveries,
            )
        self.data: MultiPeriodData = data
        self.model: PlanModel = build_plan_model(data, self.candidates)
        self.build_seconds = time.perf_counter() - t0
        p = self.model
        self.integers = int(p.integrality.sum())
        self.method = method
        self.setting = Setting(p, self.options, self._zero_plan())
        self.exact = ExactMethod(self.setting)
        self.colgen: ColumnGeneration | None = None
        self.rounding: RoundingMethod | None = None
        self.translate_seconds = 0.0
        self._active: frozenset[str] = frozenset()
        if method in ("auto", "rounding"):
            # the per-row cap, not with patient transfers (1.2-1.3x slower there: BENCHMARKS.md,
            # "Per-row cap after the cliff fix")
            cap = None if len(p.ptransfer.cols) else MAX_ENTERING_PER_ROW
            self.colgen = ColumnGeneration(
                p, self.data, self.options, movements_first=True, max_per_row=cap
            )
            self.colgen.retire_columns = colgen_manage.IN_PLANNER  # growth3's hook
            if colgen_seed.applies(self.data, p):  # seed1000: a greedy plan's movements first
                seed = colgen_seed.seed_columns(p, self.data)
                start = None
                if colgen_window.applies(self.options) and not self.data.patient_transfers:
                    # window: a rolling horizon's, from the greedy one
                    seed, start = colgen_window.seed_plan(p, self.options, start=seed)
                self.colgen.include(seed)
                if start is not None and colgen_window.CROSSOVER:
                    # roundfix: the first LP from a basis crossed over from the window plan
                    self.colgen.start_from(start)
            self.rounding = RoundingMethod(self.setting, self.colgen)
            self.translate_seconds += self.colgen.translate_seconds
            for family in p.fairness.values():
                self.colgen.highs.set_rows_active(family.rows, False)
                self.colgen.highs.set_rows_active(family.cut_rows, False)
        if method == "exact":
            self.exact.load(())
            self.translate_seconds += self.exact.translate_seconds
        self._outcomes: dict[frozenset[str], PlanOutcome] = {}
        self._fallback: np.ndarray | None = None
        self._fingerprint: str | None = None
        # the request's budget, for solves given no time limit of their own (explanations,
        # prices); None: options.time_limit per solve
        self.deadline: Deadline | None = None

    # ---- helpers
    def _zero_plan(self) -> np.ndarray:
        """Ship nothing, admit nobody but the patients already on units (they keep them):
        feasible without fairness rows (a start for HiGHS)."""
        p, d = self.model, self.data
        x = np.zeros(p.shape[1])
        x[p.stock] = np.cumsum(d.deliveries, axis=1)
        inflow = d.inflow if d.inflow is not None else 0.0
        x[p.hand] = d.own + np.cumsum(inflow * np.ones_like(d.own), axis=1)
        x[p.admit.cols] = p.col_lower[p.admit.cols]
        x[p.occ] = d.held_units()
        return x

    def _methods(self) -> list[Method]:
        out: list[Method] = [self.rounding] if self.rounding is not None else []
        return [*out, self.exact]

    def _activate(self, active: Sequence[ConstraintSpec]) -> None:
        labels = frozenset(c.label for c in active if REGISTRY[c.kind].role == "constraint")
        for label, family in self.model.fairness.items():
            want = label in labels
            if want != (label in self._active):
                for method in self._methods():
                    if method.highs is not None:
                        method.highs.set_rows_active(family.rows, want)
        self._active = labels

    def families(self, active: Sequence[ConstraintSpec]) -> tuple[HorizonFamily, ...]:
        return tuple(self.model.fairness[c.label] for c in active)

    def objective(self, active: Sequence[ConstraintSpec]) -> np.ndarray:
        return self.model.weighted_lives(objective_weights(self.data, active))

    def lives_of(self, values: np.ndarray) -> float:
        return self.setting.lives_of(values)

    def outcomes(self) -> list[PlanOutcome]:
        """Every outcome solved so far (for the solver's totals)."""
        return list(self._outcomes.values())

    def forget(self) -> None:
        """Drop the outcomes remembered (after the model's numbers were changed)."""
        self._outcomes.clear()

    def release_solvers(self) -> None:
        """Free the HiGHS models (the restricted master, the whole model) once no solve on
        this engine follows: `plan` calls it after its last solve, before the movement
        cleanup (its own LP) and extraction, which then reuse that memory (the master held
        about 200 MB on 300 x 90 with waiting and patient transfers; BENCHMARKS.md, "mem4").
        A solve afterwards raises."""
        if self.colgen is not None:
            self.colgen.highs.release()
        if self.exact.model is not None:
            self.exact.model.release()

    # ---- solving
    def solve(
        self,
        active: Sequence[ConstraintSpec] = (),
        *,
        tie_break: bool = True,
        time_limit: float | None = None,
        skip_when_expired: bool = False,
        own_model: bool = False,
        improve_limit: float | None = None,
    ) -> PlanOutcome:
        """Most expected survivors under `active`; with `tie_break`, the least logistics cost
        among plans that save as many (stage 2, the lives objective held at its optimum).

        Status: optimal when the plan is proved within the gap tolerance of the best bound;
        infeasible when proved so; otherwise time_limit with the best plan found and its gap
        against the best bound known (without fairness rows, at worst the fallback plan:
        nothing shipped, patients admitted to their regions' own units).
        `skip_when_expired`: an optional solve (a price, L*) not made already is not started
        once the engine's deadline has passed: time_limit, no plan (and not cached).

        The rule-free ask (`active` empty: L*, the price of fairness's reference) is solved
        on the model built without the candidate constraints (`star`), as a plan without
        constraints is, unless `own_model`. `improve_limit`: seconds after which a plan found
        is not improved on (Task.improve_until; the time after it is another solve's)."""
        unknown = {c.label for c in active} - {c.label for c in self.candidates}
        if unknown:
            raise ValueError(f"not built into this engine: {sorted(unknown)}")
        # a constraint that builds no row here (every floor 0, fewer than two threshold
        # members) changes nothing: the same key, the same plan as without it
        fair = self.model.fairness
        key = frozenset(
            c.label
            for c in active
            if REGISTRY[c.kind].role == "objective" or fair[c.label].builds_rows
        ) | ({"#tie"} if tie_break else set())
        if key in self._outcomes:
            return self._outcomes[key]
        if not tie_break and key | {"#tie"} in self._outcomes:
            # a tie-broken plan saves the same lives (to LIVES_TOL): it serves a lives-only ask
            return self._outcomes[key | {"#tie"}]
        if self.deadline is not None and skip_when_expired and self.deadline.expired():
            return PlanOutcome(SolveStatus.TIME_LIMIT, None, None, None, None, 0.0, 0)
        if not active and self.candidates and not own_model:
            star = self.star(tie_break=tie_break, time_limit=time_limit)
            if star.status is SolveStatus.TIME_LIMIT:
                # cut short: no figure of it, as when it was not started (a price against the
                # plan of last resort, which it may be, says nothing), its bound kept
                star = replace(
                    star, values=None, lives=None, objective=None, gap=None, lives_bound=None
                )
            self._outcomes[key] = star
            return star
        if self.deadline is not None and time_limit is None:
            time_limit = self.deadline.remaining()
        limit = time_limit if time_limit is not None else self.options.time_limit
        deadline = Deadline(limit, margin=DEADLINE_MARGIN)
        improve = None if improve_limit is None else Deadline(improve_limit, margin=DEADLINE_MARGIN)
        self._activate(active)
        task = Task(
            active=tuple(active),
            families=self.families(active),
            cost=self.objective(active),
            tie_break=tie_break,
            deadline=deadline,
            relaxed=lambda: self._relaxed(active, deadline),
            improve_until=improve,
        )
        out: PlanOutcome
        if self.deadline is not None and self.deadline.expired():
            # the budget spent before the solves begin (start-up, loading, the build): no
            # method can start in time, the plan of last resort answers (below)
            out = PlanOutcome(SolveStatus.TIME_LIMIT, None, None, None, None, 0.0, 0)
        elif self.rounding is not None:
            out = self.rounding.solve(task)
            small = self.integers <= EXACT_LIMIT
            if (
                self.method == "auto"
                and small
                and not self.setting.proved(out)
                and not deadline.expired()
                and not task.improving_over(out.values is not None)
            ):
                # never unbounded: without a time limit, a budget of nodes (the same answer
                # whatever the machine's load)
                nodes = None if deadline.end is not None else FALLBACK_NODES
                exact = self.exact.solve(replace(task, node_limit=nodes), out.values)
                out = self.setting.better(out, exact)
            elif not self.setting.proved(out) and out.values is not None:
                note_limit(
                    "the rounding method's plans, no branch-and-bound on "
                    f"{self.integers:,} integer columns"
                    + (f" (over {EXACT_LIMIT:,})" if not small else " (method 'rounding')")
                )
            elif (
                out.status is SolveStatus.ERROR
                and out.bound is not None
                and not deadline.expired()
            ):
                # the LP solved (its bound), no whole plan rounded from it, none proved
                # impossible: the method's own limit, not a failed run (us-states-apr2020,
                # max_coverage_gap:gap=0 with a share cap)
                out = replace(out, status=SolveStatus.ITERATION_LIMIT)
                note_limit(
                    "no whole plan rounded from the LP relaxation meets the constraints, and no "
                    f"branch-and-bound on {self.integers:,} integer columns"
                    + (f" (over {EXACT_LIMIT:,})" if not small else " (method 'rounding')")
                    + " proves whether one exists"
                )
        else:
            out = self.exact.solve(task)
        if out.status is not SolveStatus.OPTIMAL and out.status is not SolveStatus.INFEASIBLE:
            weighted_gain = self.data.gain * objective_weights(self.data, active)
            out = with_fallback(self.setting, task, out, self.fallback_values(), weighted_gain)
        out = out.with_lives_bound(all(REGISTRY[c.kind].role == "constraint" for c in active))
        self._outcomes[key] = out
        return out

    def _relaxed(self, active: Sequence[ConstraintSpec], deadline: Deadline) -> PlanOutcome:
        """The same ask without the families the rounding method branches on (their
        relaxation), lives only; the active rows switched back afterwards."""
        fair = self.model.fairness
        relaxed = [c for c in active if fair[c.label].switch is None]
        # on this engine's model (the branches start from the columns it prices in)
        out = self.solve(relaxed, tie_break=False, time_limit=deadline.remaining(), own_model=True)
        self._activate(active)
        return out

    def star(self, *, tie_break: bool = False, time_limit: float | None = None) -> PlanOutcome:
        """The rule-free optimum (L*) solved on the model built without the candidate
        constraints, as a plan without constraints solves it (its values padded with zeros to
        this model's columns, as `seed_star` does). The candidates' own columns and rows, even
        switched off, change the LP's vertex and the integer columns of the rounding method's
        polish: on this model L* after a threshold plan rounded 0.46 lives short of its bound
        and was proved by a 12-28 s polish where the plain model rounds to its optimum in
        0.8 s (30 x 30, seed 2, waiting 1 day; BENCHMARKS.md, "Threshold price of fairness").
        So L* is the same plan whichever constraints a plan asks for, and the same as the
        process-wide cache's (PlanEngine.star_key). The plain engine is not kept (the
        outcome is, by `solve`): its model and HiGHS copies are freed once L* is solved."""
        plain = PlanEngine(
            self.instance,
            (),
            self.options,
            executed=self.executed,
            today=self.today,
            method=self.method,
        )
        if self._fallback is not None:  # the same instance and executed moves
            plain._fallback = self._fallback[: plain.model.shape[1]].copy()
        plain.deadline = self.deadline
        out = plain.solve([], tie_break=tie_break, time_limit=time_limit)
        values = None
        if out.values is not None:
            values = np.zeros(self.model.shape[1])
            values[: self.model.plan_columns] = out.values[: self.model.plan_columns]
        return replace(out, values=values)

    def settle_patients(
        self, out: PlanOutcome, active: Sequence[ConstraintSpec], deadline: Deadline
    ) -> PlanOutcome:
        """The final plan's patient flow settled for its movements (methods/settle.py)."""
        return settle_patients(
            self.setting,
            out,
            self.objective(active),
            deadline,
            self.colgen,
            self.exact.load(self._active) if self.colgen is None else None,
        )

    def fallback_values(self) -> np.ndarray:
        """The plan of last resort (methods/fallback.py), made once per engine: it depends on
        the instance and the executed moves only."""
        if self._fallback is None:
            self._fallback = fallback_values(self.setting, self.instance, self.executed)
        return self._fallback.copy()

    # ---- the engine protocol (optimiser/engine_protocol.py)
    def meets(self, active: Sequence[ConstraintSpec], values: np.ndarray | None) -> bool:
        """Does a plan meet every row of the `active` families, their own columns (lambda,
        stops, m_cov, z) at the values the plan implies (methods/fallback.py, meets_rows)?"""
        if values is None:
            return False
        return meets_rows(self.setting, self.families(active), values)

    def feasible(self, active: Sequence[ConstraintSpec]) -> bool:
        return self.solve(active, tie_break=False).status is not SolveStatus.INFEASIBLE

    def known_to_meet(self, spec: ConstraintSpec, solution: Optimum) -> bool:
        """A plan meets `spec` when its values meet the family's rows; asked of L* to take it
        as the optimum under `spec` too, so only of a plan proved optimal (a time-limited L*,
        the plan of last resort, met a threshold and stood for the threshold plan's own)."""
        if solution.status is not SolveStatus.OPTIMAL:
            return False
        return self.meets([spec], getattr(solution, "values", None))

    def minimal_conflict(self, active: Sequence[ConstraintSpec]) -> list[ConstraintSpec]:
        return minimal_conflict(self, active)

    def explain_infeasible(self, active: Sequence[ConstraintSpec]) -> str:
        return explain_infeasible(self, active)

    def conflict_numbers(self, core: Sequence[ConstraintSpec]) -> str:
        """The constraints of `core` and the numbers that conflict: for floors, the units
        they need net by each region's last useful day, the largest regions, and the units
        delivered in time to arrive by day T-1."""
        labels = " and ".join(c.label for c in core)
        d = self.data
        T = d.days
        short = self.history_shortfall()
        if short and not core:
            return f"infeasible: {short}"
        # units a depot receives too late to reach even its nearest region inside the horizon
        nearest = d.ship_lead.min(axis=1) if d.n else np.zeros(len(d.depots))
        late = np.arange(T)[None, :] + nearest[:, None] > T - 1
        in_time = float(d.deliveries[~late].sum() + d.executed_from_depots)
        floors = [c for c in core if REGISTRY[c.kind].floors is not None]
        if floors and len(floors) == len(core):
            need = np.zeros(d.n)
            for spec in floors:
                fn = REGISTRY[spec.kind].floors
                assert fn is not None
                need = np.maximum(need, horizon_floors(d, fn, spec))
            verb = "needs" if len(core) == 1 else "together need"
            largest = largest_needs(d.regions, need)
            return (
                f"infeasible: {labels} {verb} {counted(int(need.sum()), 'unit')} received net by "
                f"each region's last useful day ({largest}), but {counted(d.supply, 'unit')} "
                f"{'is' if d.supply == 1 else 'are'} delivered, "
                f"{in_time:,.0f} of them early enough to reach a region by day {T - 1}"
                f"{self.history_note()}"
            )
        capped = cap_conflict(self, core)  # the regions a share cap cannot give enough
        if capped:
            return capped
        return (
            f"infeasible: {labels} cannot hold together over the horizon "
            f"({counted(d.supply, 'unit')} delivered, {in_time:,.0f} in time to arrive by day "
            f"{T - 1}){self.history_note()}"
        )

    def history_shortfall(self) -> str:
        """The first region and day (today or later) on which the executed moves alone leave a
        region fewer units than it must keep (its own units, less what it may lend; the patients
        on units since the start): only moves planned from today can bring units back by then.
        '' when there is none."""
        d = self.data
        if not len(self.executed) or d.inflow is None or not d.n:
            return ""
        hand = d.own + np.cumsum(d.inflow, axis=1)
        keep = np.maximum(d.donor_share * d.own, d.held_units())
        low = hand < keep - 1e-9
        low[:, : self.today] = False
        if not low.any():
            return ""
        day = int(np.nonzero(low.any(axis=0))[0][0])
        r = int(np.nonzero(low[:, day])[0][0])
        return (
            f"after the executed moves region {d.regions[r]} would hold "
            f"{counted(hand[r, day], 'unit')} on day {day} where it must keep {keep[r, day]:g} "
            f"(its own units then, less what it may lend, or patients on units since the start), "
            f"and no plan from day "
            f"{self.today} brings enough units back by then"
        )

    def history_note(self) -> str:
        """In a rolling re-plan, what the executed moves already give each region net by its
        last useful day (the rules count them, as check-plan does): '' without executed moves."""
        d = self.data
        if not len(self.executed) or d.inflow is None or not d.n:
            return ""
        net = np.cumsum(d.inflow, axis=1)[np.arange(d.n), d.measure_days()]
        moved = np.nonzero(np.abs(net) > 1e-9)[0]
        short = self.history_shortfall()
        if not len(moved):
            return f"; {short}" if short else ""
        top = moved[np.argsort(-np.abs(net[moved]), kind="stable")][:3]
        listed = ", ".join(f"{d.regions[r]} {net[r]:+,.0f}" for r in top)
        more = f" and {len(moved) - len(top)} more" if len(moved) > len(top) else ""
        return (
            f"; the executed moves, fixed, already give regions units net by their last useful "
            f"days ({listed}{more}), which every rule counts over the whole horizon"
            + (f"; {short}" if short else "")
        )

    def fingerprint(self) -> str:
        """The instance's fingerprint, hashed once per engine (300 x 90: 0.25-0.35 s, which a
        second hash after the solves would add past the budget)."""
        if self._fingerprint is None:
            self._fingerprint = self.instance.fingerprint()
        return self._fingerprint

    def star_key(self) -> tuple[Any, ...]:
        """What L* depends on: the instance, its settings, executed moves, today, the method
        and the tolerances (not the candidate constraints: they only add columns after the
        plan's own)."""
        s = self.instance.settings
        moves = self.executed.drop(columns=["line"], errors="ignore").to_csv(index=False)
        o = self.options
        return (
            self.fingerprint(),
            tuple((k, getattr(s, k)) for k in s.__dataclass_fields__),
            moves,
            self.today,
            self.method,
            o.mip_rel_gap,
            o.mip_abs_gap,
        )

    def stored_star(self, out: PlanOutcome) -> PlanOutcome:
        """The unconstrained solve as the process-wide cache keeps it (plan columns only)."""
        values = None if out.values is None else out.values[: self.model.plan_columns].copy()
        return replace(out, values=values)

    def seed_star(self, star: PlanOutcome) -> None:
        """Take L* solved before for the same instance and settings (stored_star)."""
        values = None
        if star.values is not None:
            values = np.zeros(self.model.shape[1])
            values[: len(star.values)] = star.values
        self._outcomes[frozenset()] = replace(star, values=values, seconds=0.0, solves=0)

    @property
    def highs(self) -> MatrixHighsModel:
        """The HiGHS model the engine solves in first (tests read its options)."""
        if self.colgen is not None:
            return self.colgen.highs
        return self.exact.load(self._active)
