"""The snapshot: who receives the k free units now (docs/bedside.md, "Snapshot").

The integer program of models/bedside.py is built once per decision and held in HiGHS
(solver.MatrixHighsModel); `SnapshotIP.solve` switches the families (reserves, respect of
priorities, tie-break order) on and off and re-solves.

Solving: the LP relaxation first (presolve off: HiGHS's presolve costs seconds on these dense
rows and removes nothing). When its x is integral it is the integer optimum, proved; otherwise
the integer program is solved by branch and bound. Ties between allocations of equal benefit
are never left to the solver: every x with a nonzero reduced cost has the same value in every
optimum (complementary slackness), so those are fixed, and a second, exact stage picks, among
the optima, the allocation with the highest priority (sum of n - rank over those served; ranks
are strict, so the rule is documented and deterministic). Units then go to categories by the
reserve rule restricted to the solution's support (reserves.smart), so every reserve and
priority row the program enforced holds for the per-patient assignment too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.bedside import Category, Program, SnapshotData, build_snapshot
from optimiser.bedside.policy import UNRESERVED
from optimiser.bedside.reserves import NONE, maximum_cardinality, smart
from optimiser.solver import MatrixHighsModel, SolverOptions, SolverRun, SolveStatus

INTEGRAL_TOL = 1e-6
# A bedside decision is a set of patients: branch and bound is closed to 1e-9 of the
# objective (the engine's default, 0.005 lives, suits prices of whole regions, not one patient).
EXACT = SolverOptions(mip_rel_gap=0.0, mip_abs_gap=1e-9)
LIVES_TOL_REL = 1e-7
LIVES_TOL_ABS = 1e-7
REDUCED_COST_TOL = 1e-9


@dataclass(frozen=True)
class Outcome:
    """One solve: status, who is served, from which category, objective, proof."""

    status: SolveStatus
    assigned: np.ndarray | None  # category index per candidate, -1 none
    objective: float | None
    gap: float | None
    seconds: float
    solves: int
    proof: str  # "lp-integral" | "branch-and-bound" | "time-limit" | ...

    @property
    def served(self) -> np.ndarray | None:
        return None if self.assigned is None else self.assigned != NONE


class SnapshotIP:
    """The snapshot program of one decision, built once with every family."""

    def __init__(self, data: SnapshotData, *, per_patient: bool = False,
                 options: SolverOptions | None = None) -> None:
        t0 = time.perf_counter()
        self.data = data
        self.per_patient = per_patient
        self.options = options or EXACT
        self.program: Program = build_snapshot(data, per_patient=per_patient)
        p = self.program
        self.x = p.cols["x"]
        self.highs = MatrixHighsModel(p.col_lower, p.col_upper, p.matrix, p.row_lower,
                                      p.row_upper, np.zeros_like(p.integrality), self.options)
        self.highs.set_option("presolve", "off")
        self.build_seconds = time.perf_counter() - t0
        self.unreserved = next(c for c, cat in enumerate(data.categories)
                               if cat.name == UNRESERVED)
        self.reserves = {cat.name: c for c, cat in enumerate(data.categories) if cat.reserve}
        self.kinds = sorted({k.split(":")[1] for k in p.rows if k.startswith("order:")})
        self._cache: dict[tuple[frozenset[str], str | None], Outcome] = {}

    # ---- switching
    def categories(self, active: frozenset[str]) -> list[Category]:
        """The categories with only `active` reserves (the others' units unreserved)."""
        out = []
        back = sum(cat.units for name, c in self.reserves.items() if name not in active
                   for cat in [self.data.categories[c]])
        for cat in self.data.categories:
            if cat.reserve and cat.name not in active:
                continue
            if cat.name == UNRESERVED:
                cat = Category(cat.name, cat.units + back, cat.eligible, cat.beneficiary)
            out.append(cat)
        return out

    def _switch(self, active: frozenset[str], kind: str | None) -> int:
        p, h = self.program, self.highs
        cats = self.categories(active)
        maximum = maximum_cardinality(cats)
        units = {cat.name: cat.units for cat in cats}
        for c, cat in enumerate(self.data.categories):
            on = cat.name in units
            row = p.rows[f"capacity:{c}"]
            h.set_rows_bounds(row, np.array([-math.inf]), np.array([float(units.get(cat.name,
                                                                                      0))]))
            y = p.cols[f"y:{c}"]
            upper = p.col_upper[y] if on else np.zeros(len(y))
            h.set_col_bounds_arrays(y, np.zeros(len(y)), upper)
            if cat.reserve:
                h.set_rows_active(p.rows[f"reserve:{c}"], on)
                v = p.cols.get(f"v:reserve:{c}")
                if v is not None:
                    possible = on and int(cat.beneficiary.sum()) <= maximum
                    h.set_col_bounds_arrays(v, np.zeros(1), np.ones(1) * float(possible))
            for k in self.kinds:
                h.set_rows_active(p.rows[f"order:{k}:{c}"], on and k == kind)
        h.set_rows_bounds(p.rows["cardinality"], np.array([float(maximum)]),
                          np.array([float(maximum)]))
        return maximum

    # ---- solving
    def solve(self, active: Sequence[str] = (), kind: str | None = None, *,
              rank: np.ndarray | None = None, time_limit: float | None = None) -> Outcome:
        """Most benefit with the reserves in `active` and, if `kind` ("score",
        "score+lottery", "lottery"), respect of that order in every category. With `rank`,
        the exact second stage picks the highest-priority optimum."""
        key = (frozenset(active), kind)
        if key in self._cache and rank is None:
            return self._cache[key]
        if kind is not None and kind not in self.kinds:
            raise ValueError(f"order {kind!r} not built into this program")
        deadline = None if time_limit is None else time.perf_counter() + time_limit
        self._switch(key[0], kind)
        h, x = self.highs, self.x
        objective = self.program.objective
        h.set_cost(objective, maximize=True)
        run, proof, solves, seconds = self._integer_solve(deadline, None)
        if run.values is None or run.status is not SolveStatus.OPTIMAL:
            out = Outcome(run.status, None, None, run.gap, seconds, solves, proof)
            self._cache[key] = out
            return out
        values = run.values
        best = float(objective @ values)
        status = run.status
        if rank is not None and len(x):
            values, extra, more = self._tie_stage(values, best, rank, proof, deadline, key)
            solves += extra
            seconds += more
        served = values[x] > 0.5
        assigned = self._assign(served, values, key[0], rank)
        out = Outcome(status, assigned, float(self.data.benefit[served].sum()), run.gap,
                      seconds, solves, proof)
        if rank is None:
            self._cache[key] = out
        return out

    def solved(self, active: Sequence[str] = (), kind: str | None = None) -> bool:
        """True when `solve(active, kind)` (without `rank`) is already known: it costs nothing
        (a price's solve is skipped past its deadline unless it is)."""
        return (frozenset(active), kind) in self._cache

    def _remaining(self, deadline: float | None) -> float | None:
        return None if deadline is None else max(0.01, deadline - time.perf_counter())

    def _integer_solve(self, deadline: float | None, start: np.ndarray | None) -> tuple[
            SolverRun, str, int, float]:
        """LP relaxation; if x is fractional, branch and bound (x integer) from `start`."""
        h, x = self.highs, self.x
        h.set_integrality(x, False)
        run = h.solve(self._remaining(deadline))
        seconds, solves = run.seconds, 1
        if run.values is None or run.status is not SolveStatus.OPTIMAL:
            return run, "lp-" + str(run.status), solves, seconds
        frac = np.abs(run.values[x] - np.round(run.values[x]))
        if float(frac.max(initial=0.0)) <= INTEGRAL_TOL:
            return run, "lp-integral", solves, seconds
        h.set_integrality(x, True)
        h.set_option("presolve", "on")
        if start is not None:
            h.set_start(start)
        try:
            mip = h.solve(self._remaining(deadline), exact=start is not None)
        finally:
            h.set_integrality(x, False)
            h.set_option("presolve", "off")
        proof = "branch-and-bound" if mip.status is SolveStatus.OPTIMAL else str(mip.status)
        return mip, proof, solves + 1, seconds + mip.seconds

    def _tie_stage(self, values: np.ndarray, best: float, rank: np.ndarray, proof: str,
                   deadline: float | None, key: tuple[frozenset[str], str | None]
                   ) -> tuple[np.ndarray, int, float]:
        """Among the optima, the highest priority (sum of n - rank over those served).

        When the LP optimum was integral, the optimal face is known exactly from its duals
        (complementary slackness): every column with a nonzero reduced cost keeps its value
        and every row with a nonzero dual stays tight in every optimum. Fixing those, every
        remaining point is optimal, and the priority objective is maximised over it with the
        same matrix (usually integral again). Otherwise, benefit >= best - tol is added."""
        h, x, p = self.highs, self.x, self.program
        n = len(x)
        weights = np.zeros(len(p.objective))
        weights[x] = (n - rank).astype(float)
        if proof == "lp-integral":
            rows = p.matrix.shape[0]
            duals = h.row_duals()[:rows]  # rows added later are free
            reduced = p.objective - p.matrix.T @ duals
            scale = max(1.0, float(np.abs(p.objective).max(initial=0.0)))
            tol = REDUCED_COST_TOL * scale
            if not (np.abs(reduced[x]) <= tol).any():
                return values, 0, 0.0  # no x can change: the optimum is unique
            fixed = np.flatnonzero(np.abs(reduced) > tol)
            tight = np.flatnonzero(np.abs(duals) > tol)
            saved = (h._row_lower[tight].copy(), h._row_upper[tight].copy())
            activity = p.matrix[tight] @ values
            h.set_col_bounds_arrays(fixed, values[fixed], values[fixed])
            h.set_rows_bounds(tight, activity, activity)
            h.set_cost(weights, maximize=True)
            try:
                run, _, solves, seconds = self._integer_solve(deadline, values)
            finally:
                h.set_rows_bounds(tight, *saved)
                h.set_col_bounds_arrays(fixed, p.col_lower[fixed], p.col_upper[fixed])
                self._switch(*key)  # the active families' column bounds again
                h.set_cost(p.objective, maximize=True)
        else:
            tol = max(LIVES_TOL_ABS, LIVES_TOL_REL * abs(best))
            row = h.add_row_arrays(x, self.data.benefit, best - tol, math.inf)
            h.set_cost(weights, maximize=True)
            try:
                run, _, solves, seconds = self._integer_solve(deadline, np.round(values))
            finally:
                h.set_row_bounds(row, -math.inf, math.inf)
                h.set_cost(p.objective, maximize=True)
        if run.values is None or run.status is not SolveStatus.OPTIMAL:
            return values, solves, seconds
        if float(self.data.benefit @ run.values[x]) < best - max(LIVES_TOL_ABS,
                                                                  LIVES_TOL_REL * abs(best)):
            return values, solves, seconds  # numerical safety: never trade lives for rank
        return run.values, solves, seconds

    def _assign(self, served: np.ndarray, values: np.ndarray, active: frozenset[str],
                rank: np.ndarray | None) -> np.ndarray:
        """Per-candidate categories of the served set, by smart processing in the policy's
        order. Grouped holders: a soft reserve is open to non-beneficiaries exactly when all
        its beneficiaries are served (the widest the program allows, so the served set always
        fits, and the answer depends on the set alone, not on which optimal y the LP
        returned). Per-patient holders (the priority families): inside the support of y."""
        p = self.program
        cats = self.categories(active)
        index = {cat.name: c for c, cat in enumerate(self.data.categories)}
        restricted = []
        for cat in cats:
            c = index[cat.name]
            if self.per_patient:
                holders = p.pairs[c]
                support = holders[values[p.cols[f"y:{c}"]] > INTEGRAL_TOL]
                allowed = np.zeros(int(p.holder.max(initial=-1)) + 1, dtype=bool)
                allowed[support] = True
                eligible = cat.eligible & served & allowed[p.holder]
            else:
                open_to_all = cat.soft and bool(served[cat.beneficiary].all())
                eligible = cat.eligible & served & (cat.beneficiary | (not cat.reserve)
                                                    | open_to_all)
            restricted.append(Category(cat.name, cat.units, eligible, cat.beneficiary,
                                       cat.reserve, cat.soft))
        order = rank if rank is not None else np.arange(len(served))
        local = smart(restricted, order).assigned
        assigned = np.full(len(served), NONE, dtype=np.int64)
        for c_local, cat in enumerate(restricted):
            assigned[local == c_local] = index[cat.name]
        if int((assigned != NONE).sum()) != int(served.sum()):
            raise RuntimeError("the program's solution has no integral assignment")
        return assigned
