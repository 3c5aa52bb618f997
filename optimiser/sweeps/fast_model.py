"""The fast path's model: one built regional model (RegionalEngine, with only the fairness
families that need rows) re-solved for many variants of a sweep by changing numbers in HiGHS:
bounds for supply, floors and staff caps, costs for lives and objective weights (the table in
optimiser/sweeps/fast.py's docstring).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.fairness import REGISTRY, ConstraintSpec
from models.regional import RegionalData
from optimiser.deadline import Deadline
from optimiser.engine import (
    RegionalEngine,
    floor_bounds,
    floor_conflict,
)
from optimiser.instance import Instance
from optimiser.solver import SolverOptions, SolveStatus
from optimiser.sweeps.sweep_plan import VariantOutcome, family

MAX_EXTRA_ROWS = 4000  # tie-break cuts left behind in a model before it is rebuilt


class FastModel:
    """One built regional model, re-solved for many variants by changing numbers in HiGHS."""

    def __init__(
        self,
        instance: Instance,
        specs: Sequence[ConstraintSpec],
        supply_max: int,
        *,
        tie_break: bool,
        options: SolverOptions | None = None,
    ) -> None:
        self.tie_break = tie_break
        self.row_specs = tuple(s for s in specs if family(s) == "rows")
        self.objective_specs = tuple(s for s in specs if family(s) == "objective")
        candidates = self.row_specs + (self.objective_specs if tie_break else ())
        self.engine = RegionalEngine(
            instance, candidates, options or SolverOptions(), supply=supply_max
        )
        m, h = self.engine.model, self.engine.highs
        self.highs = h
        self.x_cols = m.x
        self.u_cols = m.u
        self.u_region = m.u_region
        self.u_tier = m.u_tier
        if m.program.row_upper[m.supply_row] != float(supply_max):
            raise RuntimeError("unexpected form of the supply row")  # use rebuild
        self.supply_row = m.supply_row
        self.blocks = [m.fairness[s.label] for s in self.row_specs]
        self.base_rows = h.num_rows
        self.n_cols = h.num_cols
        self._rows_on = False
        self._set_rows(True)
        self._last_tiers: tuple[Any, Any, np.ndarray, np.ndarray] | None = None
        self._last_units: np.ndarray | None = None
        self._last_lives: np.ndarray | None = None
        self._last_status = SolveStatus.ERROR

    def _set_rows(self, on: bool) -> None:
        if on != self._rows_on:
            for rows in self.blocks:
                self.highs.set_rows_active(rows, on)
            self._rows_on = on

    @property
    def worn(self) -> bool:
        """Too many rows left behind by tie-break stages: rebuild."""
        return self.highs.num_rows - self.base_rows > MAX_EXTRA_ROWS

    # ---- numbers of a variant
    def _tier_numbers(self, data: RegionalData) -> tuple[np.ndarray, np.ndarray]:
        """(lives per useful unit g_rk t_r, useful-unit bound s_k E_r) in column order; cached
        while the variant's tiers and turnover are the same objects (supply-only changes)."""
        last = self._last_tiers
        if last is not None and last[0] is data.tiers and last[1] is data.turnover:
            return last[2], last[3]
        if len(self.u_cols) == len(
            data.regions
        ):  # one tier per region: (E_r, g_r), as regional_data makes it
            per_unit = np.asarray(data.gain, dtype=float) * data.turnover
            bounds = np.asarray(data.excess_demand, dtype=float)
        else:
            pairs = [data.tiers[i][k] for i, k in zip(self.u_region, self.u_tier, strict=True)]
            per_unit = np.array([g for _, g in pairs], dtype=float) * data.turnover[self.u_region]
            bounds = np.array([b for b, _ in pairs], dtype=float)
        self._last_tiers = (data.tiers, data.turnover, per_unit, bounds)
        return per_unit, bounds

    def _costs(self, data: RegionalData, weights: np.ndarray | None) -> np.ndarray:
        per_unit, _ = self._tier_numbers(data)
        if weights is not None:
            per_unit = per_unit * weights[self.u_region]
        cost = np.zeros(self.n_cols)
        cost[self.u_cols] = per_unit
        return cost

    def _useful_bounds(self, data: RegionalData) -> np.ndarray:
        return self._tier_numbers(data)[1]

    def _floors(self, data: RegionalData, specs: Sequence[ConstraintSpec]) -> np.ndarray:
        return floor_bounds(data, specs)

    def _weights(self, data: RegionalData, specs: Sequence[ConstraintSpec]) -> np.ndarray | None:
        weights = None
        for spec in specs:
            fn = REGISTRY[spec.kind].weights
            if REGISTRY[spec.kind].role == "objective" and fn is not None:
                a = fn(data, spec.options)
                weights = a if weights is None else weights * a
        return weights

    def _load(self, data: RegionalData, lower: np.ndarray, supply: int) -> None:
        h = self.highs
        h.set_cols_bounds(self.x_cols, lower, data.staff_cap)
        h.set_cols_bounds(self.u_cols, np.zeros(len(self.u_cols)), self._useful_bounds(data))
        h.set_row_bounds(self.supply_row, -math.inf, float(supply))

    # ---- solving
    def solve(
        self,
        data: RegionalData,
        specs: Sequence[ConstraintSpec],
        *,
        deadline: Deadline | None = None,
        lives_star: tuple[float | None, float | None] | None = None,
        want_star: bool = False,
    ) -> VariantOutcome:
        """Most expected survivors of one variant (`data` carries its supply), every solve
        within the variant's `deadline`: the variant's own optimum first, then L* (`lives_star`:
        L* and its bound when known already)."""
        deadline = deadline or Deadline(None)
        if self.tie_break:
            return self._solve_tie_break(
                data, specs, deadline=deadline, want_star=want_star, lives_star=lives_star
            )
        floor_specs = [s for s in specs if family(s) == "floor"]
        weights = self._weights(data, specs)
        lower = self._floors(data, floor_specs)
        fair = bool(self.row_specs) or weights is not None or bool(lower.any())
        main = self._lives_only(data, lower, weights, rows=fair, time_limit=deadline.remaining())
        out = VariantOutcome(
            str(main.status),
            main.lives,
            None,
            self._last_units,
            data,
            main.seconds,
            region_lives=self._last_lives,
            lives_bound=main.bound,
        )
        if want_star and lives_star is None and not fair:
            lives_star = (main.lives, main.bound)
        elif want_star and lives_star is None:
            star = self._lives_only(
                data, np.zeros(len(lower)), None, rows=False, time_limit=deadline.remaining()
            )
            out.seconds += star.seconds
            lives_star = (star.lives, star.bound)
        if lives_star is not None:
            out.lives_optimal, out.lives_optimal_bound = lives_star
        if main.status is SolveStatus.INFEASIBLE:
            out.reason = self._floor_conflict(data, floor_specs, lower)
        return out

    def _lives_only(
        self,
        data: RegionalData,
        lower: np.ndarray,
        weights: np.ndarray | None,
        *,
        rows: bool,
        time_limit: float | None,
    ) -> _Run:
        """One HiGHS solve; its allocation's units and lives are kept in _last_units and
        _last_lives. The bound holds the lives only when the objective is lives (no weights)."""
        self._set_rows(rows)
        self._load(data, lower, data.supply)
        self.highs.set_cost(self._costs(data, weights), maximize=True)
        run = self.highs.solve(time_limit)
        self._last_status = run.status
        if run.values is None:
            self._last_units = self._last_lives = None
            return _Run(run.status, None, None, run.seconds)
        units = np.rint(run.values[self.x_cols]).astype(np.int64)
        self._last_units = units
        self._last_lives = self._lives(data, units)
        lives = float(self._last_lives.sum())
        bound = None if weights is not None or run.bound is None else max(run.bound, lives)
        return _Run(run.status, lives, bound, run.seconds)

    def _lives(self, data: RegionalData, units: np.ndarray) -> np.ndarray:
        """data.lives(units), vectorised when every region has one tier (the same arithmetic:
        g_r t_r * min(x_r, E_r)); with tiers, data.lives itself."""
        if len(self.u_cols) != len(data.regions):
            return data.lives(units)
        per_unit, _ = self._tier_numbers(data)
        return per_unit * np.minimum(units.astype(float), data.excess_demand)

    def _floor_conflict(
        self, data: RegionalData, floor_specs: Sequence[ConstraintSpec], lower: np.ndarray
    ) -> str:
        return floor_conflict(data, floor_specs, lower)

    def _solve_tie_break(
        self,
        data: RegionalData,
        specs: Sequence[ConstraintSpec],
        *,
        deadline: Deadline,
        want_star: bool,
        lives_star: tuple[float | None, float | None] | None,
    ) -> VariantOutcome:
        engine = self.engine
        floor_specs = [s for s in specs if family(s) == "floor"]
        active = [s for s in specs if family(s) != "floor"]
        lower = self._floors(data, floor_specs)
        self._load(data, lower, data.supply)
        engine.forget()  # outcomes cached by constraint labels are stale once bounds change
        engine.deadline = deadline  # this variant's budget, for every solve of the engine
        main = engine.solve(active, tie_break=True, time_limit=deadline.remaining())
        seconds = main.seconds
        if want_star and lives_star is None:
            if active or lower.any():
                self._load(data, np.zeros(len(lower)), data.supply)
                engine.forget()
                star = engine.solve([], tie_break=False, time_limit=deadline.remaining())
                seconds += star.seconds
                lives_star = (star.lives, star.lives_bound)
            else:
                lives_star = (main.lives, main.lives_bound)
        out = VariantOutcome(
            str(main.status),
            main.lives,
            None,
            main.units,
            data,
            seconds,
            lives_bound=main.lives_bound,
        )
        if lives_star is not None:
            out.lives_optimal, out.lives_optimal_bound = lives_star
        if main.status is SolveStatus.INFEASIBLE:
            out.reason = self._floor_conflict(data, floor_specs, lower)
        return out


@dataclass(frozen=True)
class _Run:
    """One lives-only HiGHS solve of a variant (FastModel._lives_only)."""

    status: SolveStatus
    lives: float | None
    bound: float | None
    seconds: float
