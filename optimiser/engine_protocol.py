"""One engine protocol: what every engine (the regional engine, the planner, and those to come:
the scenario planner, the bedside engine) offers, and what is written once on top of it.

An engine (`FairnessEngine`) solves its model under a set of active constraints (`solve`,
answering an `Optimum`: status, lives, the proven bound on them), says whether a solution it
already has meets a constraint (`known_to_meet`) and puts the numbers of a conflict into words
(`conflict_numbers`). Written here once, for every engine:

* `component_optima`: the solves behind the price of fairness of each component (alone, and at
  the margin), with `lost_alone` / `lost_marginal` and their notes, for every engine: those
  above with fairness constraints, the bedside engine with its policy components (reserves,
  the priority score, the tie-break; optimiser/bedside/price.py supplies only how to solve
  with a set of them and its own columns);
* `price_table`: the price of fairness of fairness constraints, alone and at the margin, each
  with the interval the solver's bounds prove and an `exact` flag (docs/model.md, "Price of
  fairness"); `policy_price`: the one-row table of an allocation rule or a given allocation;
* `minimal_conflict` and `explain_infeasible`: the smallest-by-deletion infeasible subset of
  the active constraints, and its explanation;
* `resolve_constraints`: the active constraints of a request (the instance's defaults, then the
  caller's), parsed and validated;
* `check_time_limit` and `request_deadline`: one wall-clock budget per request
  (optimiser/deadline.py), started before loading.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import pandas as pd

from models.fairness import REGISTRY, ConstraintSpec
from optimiser.constraints import to_specs
from optimiser.deadline import Deadline
from optimiser.errors import InputError, Problem
from optimiser.results import PRICE_COLUMNS, PRICE_PRECISION
from optimiser.solver import SolveStatus

OBJECTIVE_NOTE = "objective weights: its price is the unweighted lives given up"


class Bounded(Protocol):
    """What a price interval needs of L*: its lives and the proven upper bound on them."""

    @property
    def lives(self) -> float | None: ...

    @property
    def lives_bound(self) -> float | None: ...


class Optimum(Protocol):
    """What a price needs of a solve: its status, its allocation's (or plan's) lives and,
    when the objective is lives, the proven upper bound on them."""

    @property
    def status(self) -> SolveStatus: ...

    @property
    def gap(self) -> float | None: ...

    @property
    def lives(self) -> float | None: ...

    @property
    def lives_bound(self) -> float | None: ...

    @property
    def solves(self) -> int: ...


C = TypeVar("C")  # a component priced: a ConstraintSpec, or a bedside policy component
C_contra = TypeVar("C_contra", contravariant=True)


class PricedEngine(Protocol[C_contra]):
    """What the price of fairness needs of an engine: solve with a set of components on."""

    def solve(
        self,
        active: Sequence[C_contra] = (),
        *,
        tie_break: bool = True,
        time_limit: float | None = None,
        skip_when_expired: bool = False,
    ) -> Optimum:
        """`skip_when_expired`: an optional solve not made already is not started once the
        engine's own deadline has passed (time_limit, no solution, `solves` 0)."""
        ...

    def known_to_meet(self, spec: C_contra, solution: Optimum) -> bool:
        """True when `solution` (a solve without `spec`) is known to meet `spec`: it is then
        optimal under `spec` too. False when unknown (a price is then solved for)."""
        ...


class FairnessEngine(PricedEngine[ConstraintSpec], Protocol):
    """An engine built once for an instance and its candidate fairness constraints."""

    def conflict_numbers(self, core: Sequence[ConstraintSpec]) -> str:
        """The explanation of an infeasible set `core`: the constraints and the numbers that
        conflict."""
        ...


def is_constraint(spec: ConstraintSpec) -> bool:
    return REGISTRY[spec.kind].role == "constraint"


def minimal_conflict(
    engine: FairnessEngine, active: Sequence[ConstraintSpec]
) -> list[ConstraintSpec]:
    """A smallest-by-deletion subset of `active` that is still infeasible."""
    core = [c for c in active if is_constraint(c)]
    for spec in list(core):
        trial = [c for c in core if c != spec]
        if engine.solve(trial, tie_break=False).status is not SolveStatus.INFEASIBLE:
            continue
        core = trial
    return core


def explain_infeasible(engine: FairnessEngine, active: Sequence[ConstraintSpec]) -> str:
    """Name the constraints and the numbers that conflict."""
    core = minimal_conflict(engine, active) or [c for c in active if is_constraint(c)]
    return engine.conflict_numbers(core)


def largest_needs(regions: Sequence[str], need: np.ndarray, shown: int = 5) -> str:
    """'C: 1,680, B: 1,550, ...': the largest positive needs by region, for explanations."""
    order = np.argsort(-need, kind="stable")
    top = [f"{regions[i]}: {int(need[i]):,}" for i in order[:shown] if need[i] > 0]
    more = " ..." if int((need > 0).sum()) > shown else ""
    return ", ".join(top) + more


def price_interval(
    star: Bounded, low_lives: float | None, high_lives: float | None
) -> tuple[float | None, float | None]:
    """The lives given up against L*, as the interval the solver's bounds prove: L* lies in
    [its incumbent, its bound] and the other figure in [low_lives, high_lives], so the
    difference lies in [L*_incumbent - high_lives, L*_bound - low_lives] (never below 0:
    no allocation saves more than L*). (None, None) when a figure is missing."""
    if star.lives is None or low_lives is None or high_lives is None:
        return None, None
    star_high = star.lives if star.lives_bound is None else star.lives_bound
    return max(0.0, star.lives - high_lives), max(0.0, star_high - low_lives)


def price_difference(first: Optimum, second: Optimum) -> tuple[float | None, float | None]:
    """The interval of (first's optimum - second's optimum) the bounds prove (an objective
    without a lives bound contributes its allocation's lives)."""
    if first.lives is None or second.lives is None:
        return None, None
    first_high = first.lives if first.lives_bound is None else first.lives_bound
    second_high = second.lives if second.lives_bound is None else second.lives_bound
    low = first.lives - second_high
    if first.lives_bound is not None and second.lives_bound is not None:
        low = max(0.0, low)  # fewer constraints never save fewer lives
    return low, first_high - second.lives


def join_notes(*parts: str) -> str:
    """A price row's note: its parts in order, "; " between them, the empty ones left out."""
    return "; ".join(part for part in parts if part)


def price_row(
    label: str,
    saved_alone: float | None,
    lost_alone: float | None,
    alone: tuple[float | None, float | None],
    marginal: float | None,
    margin: tuple[float | None, float | None],
    note: str,
) -> list[Any]:
    """One PRICE_COLUMNS row: a price is exact when both intervals are at most PRICE_PRECISION
    wide; the point value is then clipped into its interval. Otherwise the row is flagged
    (exact False) and its note says so."""
    exact = all(
        low is not None and high is not None and high - low <= PRICE_PRECISION + 1e-9
        for low, high in (alone, margin)
        if not (low is None and high is None)
    ) and not (alone == (None, None) and margin == (None, None))

    def clip(value: float | None, interval: tuple[float | None, float | None]) -> float | None:
        low, high = interval
        if value is None or low is None or high is None:
            return value
        return min(max(value, low), high)

    if not exact and (alone != (None, None) or margin != (None, None)):
        note = join_notes(note, "not proved exact to 0.01 lives: see the _low/_high interval")
    return [
        label,
        saved_alone,
        clip(lost_alone, alone),
        clip(marginal, margin),
        alone[0],
        alone[1],
        margin[0],
        margin[1],
        exact,
        note,
    ]


def price_frame(rows: list[list[Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=PRICE_COLUMNS)


def policy_price(label: str, lives: float | None, star: Bounded, note: str) -> pd.DataFrame:
    """The one-row price table of an allocation made without the optimiser (a rule, or one
    given): the lives it gives up against L*, alone and at the margin alike."""
    lost = None if lives is None or star.lives is None else star.lives - lives
    interval = price_interval(star, lives, lives)
    return price_frame([price_row(label, lives, lost, interval, lost, interval, note)])


@dataclass(frozen=True)
class ComponentOptima(Generic[C]):
    """The solves behind the price of one component f: L* (`star`, no component on), f alone,
    every active component but f (`without`) and all of them (`everything`)."""

    component: C
    star: Optimum
    alone: Optimum
    without: Optimum
    everything: Optimum

    @property
    def lost_alone(self) -> float | None:
        """L* - V({f}): what f costs on its own."""
        if self.star.lives is None or self.alone.lives is None:
            return None
        return self.star.lives - self.alone.lives

    @property
    def lost_marginal(self) -> float | None:
        """V(all - {f}) - V(all): what f costs beside the others."""
        if self.without.lives is None or self.everything.lives is None:
            return None
        return self.without.lives - self.everything.lives


def component_optima(
    engine: PricedEngine[C],
    active: Sequence[C],
    star: Optimum,
    deadline: Deadline | None = None,
    *,
    progress: bool = False,
    may_be_known: Callable[[C], bool] = lambda component: True,
) -> list[ComponentOptima[C]]:
    """The solves behind the price of each component of `active`, under one budget: all of
    them once, then each alone and all but each. L* is the one solve `star` (none on), shared
    by every component; a component `star` is known to meet (`engine.known_to_meet`, asked
    only where `may_be_known`) costs no solve alone: that solution is optimal under it too.
    No solve is started past `deadline` (its figure is then missing, `solves` 0)."""
    from tqdm import tqdm

    deadline = deadline or Deadline(None)

    def optimum(components: Sequence[C]) -> Optimum:
        return engine.solve(
            components, tie_break=False, time_limit=deadline.remaining(), skip_when_expired=True
        )

    everything = optimum(active)
    out = []
    for spec in tqdm(
        active,
        desc="price of fairness",
        unit="constraint",
        disable=not progress or None,
        leave=False,
    ):
        known = may_be_known(spec) and engine.known_to_meet(spec, star)
        alone = star if known else optimum([spec])
        without = optimum([c for c in active if c != spec])
        out.append(ComponentOptima(spec, star, alone, without, everything))
    return out


def price_table(
    engine: FairnessEngine,
    active: Sequence[ConstraintSpec],
    star: Optimum,
    deadline: Deadline | None = None,
    *,
    progress: bool = False,
) -> pd.DataFrame:
    """lives_saved_alone, lives_lost_alone = L* - alone, lives_lost_marginal = without_k - all,
    each with the interval the solver's bounds prove (docs/model.md, Price of fairness): exact
    when both are at most 0.01 lives wide, else flagged. The solves are `component_optima`'s
    (an objective's price is always solved for)."""
    rows = []
    for o in component_optima(
        engine, active, star, deadline, progress=progress, may_be_known=is_constraint
    ):
        spec, alone, without, everything = o.component, o.alone, o.without, o.everything
        objective = not is_constraint(spec)
        notes = []
        saved_alone = None
        alone_interval: tuple[float | None, float | None] = (None, None)
        margin: tuple[float | None, float | None] = (None, None)
        if alone.lives is None and alone.status is SolveStatus.INFEASIBLE:
            notes.append("alone: " + explain_infeasible(engine, [spec]))
        elif alone.lives is None and alone.solves == 0:
            notes.append("alone: not solved, the time limit was reached first")
        elif alone.lives is None:
            notes.append(f"alone: {alone.status}, no allocation found")
        else:
            saved_alone = alone.lives
            high = alone.lives_bound if alone.lives_bound is not None else alone.lives
            if objective:
                high = alone.lives  # the price of the allocation the weights choose
            alone_interval = price_interval(star, alone.lives, high)
            gap = "-"  # a percentage, not 16 digits of a bare ratio
            if alone.gap is not None and math.isfinite(alone.gap):
                gap = f"{100 * alone.gap:,.4f}%"
            if alone.status is SolveStatus.TIME_LIMIT:
                notes.append(f"alone: time limit, gap {gap}")
            elif alone.status is SolveStatus.ITERATION_LIMIT:
                notes.append(f"alone: iteration limit (rounds or nodes), gap {gap}")
        if everything.lives is None:
            notes.append(f"marginal: the full constraint set is {everything.status}")
        elif without.lives is None:
            notes.append(f"marginal: without it the rest is {without.status}")
        else:
            margin = price_difference(without, everything)
            if SolveStatus.TIME_LIMIT in (without.status, everything.status):
                notes.append("marginal: from time-limited solves (not proven optimal)")
            elif SolveStatus.ITERATION_LIMIT in (without.status, everything.status):
                notes.append("marginal: from solves stopped at their iteration limits (not proven "
                             "optimal)")
        if objective:
            notes.append(OBJECTIVE_NOTE)
        rows.append(
            price_row(
                spec.label,
                saved_alone,
                o.lost_alone,
                alone_interval,
                o.lost_marginal,
                margin,
                join_notes(*notes),
            )
        )
    return price_frame(rows)


def resolve_constraints(
    defaults: Sequence[ConstraintSpec],
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]]
    | ConstraintSpec
    | str
    | Mapping[str, Any]
    | None = None,
    default_constraints: bool = True,
    *,
    regions: Sequence[str] | None = None,
) -> tuple[ConstraintSpec, ...]:
    """The active constraints of a request: the instance's `defaults` (unless
    `default_constraints` is False), then `constraints` (one, or a list), parsed and validated
    (`regions`: the instance's region ids, for weights given per region)."""
    base = list(defaults) if default_constraints else []
    if isinstance(constraints, str | Mapping | ConstraintSpec):  # one constraint, not a list
        constraints = [constraints]
    if constraints is not None and (isinstance(constraints, bytes)
                                    or not isinstance(constraints, Iterable)):
        raise InputError(Problem(
            "must be a constraint ('kind:param=value', a mapping or a ConstraintSpec) or a "
            f"list of them, got {type(constraints).__name__}", column="constraints",
            column_word="argument"))
    return to_specs([*base, *(constraints or ())], regions=regions)


def check_time_limit(time_limit: Any, *, finite: bool = False) -> None:
    """InputError unless `time_limit` is None or a number of seconds > 0 (and, with `finite`,
    not infinite: the bedside decision log records the budget it ran under)."""
    if time_limit is not None and (
        isinstance(time_limit, bool)
        or not isinstance(time_limit, int | float)
        or not time_limit > 0
        or (finite and not math.isfinite(time_limit))
    ):
        raise InputError(
            Problem(
                f"must be a number of seconds > 0, got {time_limit!r}",
                column="time_limit",
                column_word="option",
            )
        )


def request_deadline(
    time_limit: float | None,
    deadline: Deadline | None,
    start: float,
    *,
    margin: float = 0.0,
) -> Deadline:
    """The budget of a request: `deadline` when the caller started one before loading (its
    limit, start and clock kept), else `time_limit` seconds from `start`."""
    if deadline is None:
        return Deadline(time_limit, start=start, margin=margin)
    return Deadline(deadline.limit, start=deadline.start, margin=margin, clock=deadline.clock)
