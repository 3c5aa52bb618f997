"""Issue 12, track thr4: the lambda search's node LPs from their parent's basis.

A node's LP (lambda bounded to [a, b], the stop binaries fixed outside it) used to start with a
phase 1 (slacks on the fairness rows) whose basis the dual simplex then left from: on 300 x 90
with `threshold:tau=0` the first leaf's LP took 34 s of 59 CPU-s before the first plan. It is
now solved by the dual simplex from the parent's optimal basis (still dual feasible: only
bounds changed), with the phase 1 only when the restricted master is infeasible there
(methods/rounding.py, `round_branch`; methods/lambda_search.py). These tests check that every
node's LP bound is the LP optimum of the whole model with the node's bounds, solved
independently (scipy's linprog on every column, no column generation, no warm start); that the
phase-1 path still gives the same answers; and that the price of fairness's interval under a
loose tolerance holds the exact price (HiGHS branch-and-bound on the whole model, both plans).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from optimiser.multiperiod import GeneratorSpec, PlanEngine, check_plan, generate, load_multiperiod
from optimiser.multiperiod import planner as planner_module
from optimiser.multiperiod.colgen import ColumnGeneration, LpResult
from optimiser.multiperiod.engine import ABS_GAP
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.methods.rounding import RoundingMethod
from optimiser.multiperiod.planner import active_constraints, plan
from optimiser.solver import SolverOptions, SolveStatus

THRESHOLD = "threshold:tau=0"


@pytest.fixture(autouse=True)
def no_star_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every plan solves its own L* (the process-wide cache would serve an earlier test's)."""
    monkeypatch.setattr(planner_module, "_STARS", planner_module._StarCache())


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> MultiPeriodInstance:
    spec = GeneratorSpec(regions=8, days=12, depots=2, neighbours=4, transfers=True, seed=3)
    return load_multiperiod(generate(spec, tmp_path_factory.mktemp("thr4") / "g"))


def whole_lp(engine: PlanEngine, a: float, b: float) -> float:
    """The node [a, b]'s LP on the whole model (every column, integrality relaxed), by
    scipy's linprog: the threshold's rows on, its node rows at limit_rows(a, b), lambda in
    [a, b], each stop binary fixed at 1 below a, at 0 from b (the lambda search's node)."""
    p = engine.model
    (family,) = engine.families(engine.candidates)
    axis = family.axis
    assert axis is not None
    lower, upper = p.col_lower.astype(float).copy(), p.col_upper.astype(float).copy()
    lower[axis.lam], upper[axis.lam] = a, b
    lower[axis.stopped] = (axis.breaks <= a).astype(float)
    upper[axis.stopped] = (axis.breaks < b).astype(float)
    row_lower, row_upper = p.row_lower.astype(float).copy(), p.row_upper.astype(float).copy()
    off = np.concatenate([family.cut_rows, axis.node_rows]).astype(np.int64)
    row_lower[off], row_upper[off] = -np.inf, np.inf
    rows, lo, hi = axis.limit_rows(a, b)
    row_lower[rows], row_upper[rows] = lo, hi
    A = sp.csr_matrix(p.matrix)
    up, low = np.isfinite(row_upper), np.isfinite(row_lower)
    A_ub = sp.vstack([A[up], -A[low]]).tocsr()
    b_ub = np.concatenate([row_upper[up], -row_lower[low]])
    cost = engine.objective(engine.candidates)
    res = linprog(
        -cost,
        A_ub=A_ub,
        b_ub=b_ub,
        bounds=list(zip(lower, upper, strict=True)),
        method="highs",
    )
    assert res.status == 0, res.message
    return float(-res.fun)


def nodes_of(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float, Any]]:
    """Record every lambda node's [a, b] and the Branch its LP gave."""
    seen: list[tuple[float, float, Any]] = []
    real = RoundingMethod.round_branch

    def spy(self: RoundingMethod, task: Any, *args: Any, **kwargs: Any) -> Any:
        axes = [f.axis for f in task.families if f.axis is not None]
        out = real(self, task, *args, **kwargs)
        if axes:
            lam = int(axes[0].lam[0])
            seen.append((float(self.colgen.lower[lam]), float(self.colgen.upper[lam]), out))
        return out

    monkeypatch.setattr(RoundingMethod, "round_branch", spy)
    return seen


def test_every_nodes_lp_bound_is_the_whole_models_lp(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    active = active_constraints(instance, [THRESHOLD], True)
    engine = PlanEngine(instance, active, method="rounding")
    seen = nodes_of(monkeypatch)
    warm: list[bool] = []
    real_lp = ColumnGeneration.solve_lp

    def count(self: ColumnGeneration, cost: Any, *args: Any, **kwargs: Any) -> Any:
        out = real_lp(self, cost, *args, **kwargs)
        rows = args[2] if len(args) > 2 else kwargs.get("active_rows")
        warm.append(rows is None and out.values is not None)
        return out

    monkeypatch.setattr(ColumnGeneration, "solve_lp", count)
    out = engine.solve(active, tie_break=False)
    assert len(seen) >= 3  # the root, a leaf and more: the parent's basis reused
    assert any(warm)  # the nodes' LPs without the phase 1
    for a, b, branch in seen:
        assert branch.bound is not None
        assert branch.bound == pytest.approx(whole_lp(engine, a, b), abs=1e-5, rel=1e-8)
    # the search's bound and plan: the largest bound of the nodes, a plan below it that meets
    # the rule
    assert out.bound is not None and out.values is not None and out.objective is not None
    assert out.bound <= max(branch.bound for _a, _b, branch in seen) + 1e-6
    assert out.objective <= out.bound + 1e-6
    assert engine.meets(active, out.values)


def test_the_phase_one_path_gives_the_same_answer(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restricted master infeasible at a node (here: every attempt without the phase 1
    made to fail) falls back to the phase 1: the same bound, a plan as good within the
    tolerance, both proved."""
    active = active_constraints(instance, [THRESHOLD], True)
    warm = PlanEngine(instance, active, method="rounding").solve(active, tie_break=False)
    real_lp = ColumnGeneration.solve_lp
    refused = [0]

    def no_master(self: ColumnGeneration, cost: Any, *args: Any, **kwargs: Any) -> Any:
        rows = args[2] if len(args) > 2 else kwargs.get("active_rows")
        if rows is None and not kwargs.get("warm", False):
            refused[0] += 1
            return LpResult(SolveStatus.ERROR, None, None, 0.0, 1)
        return real_lp(self, cost, *args, **kwargs)

    monkeypatch.setattr(ColumnGeneration, "solve_lp", no_master)
    cold = PlanEngine(instance, active, method="rounding").solve(active, tie_break=False)
    assert refused[0] >= 2
    assert warm.status is cold.status
    assert warm.bound is not None and cold.bound is not None
    assert warm.bound == pytest.approx(cold.bound, abs=1e-6)
    assert warm.lives is not None and cold.lives is not None
    if warm.status is SolveStatus.OPTIMAL:
        assert warm.lives == pytest.approx(cold.lives, abs=2 * ABS_GAP + 1e-9)


def test_the_rounding_methods_threshold_plan_is_the_exact_optimum(
    instance: MultiPeriodInstance,
) -> None:
    """Against HiGHS branch-and-bound on the whole model (the exact method)."""
    active = active_constraints(instance, [THRESHOLD], True)
    rounded = PlanEngine(instance, active, method="rounding").solve(active, tie_break=False)
    exact = PlanEngine(instance, active, method="exact").solve(active, tie_break=False)
    assert exact.status is SolveStatus.OPTIMAL and exact.lives is not None
    assert rounded.lives is not None and rounded.bound is not None
    assert rounded.lives <= exact.lives + ABS_GAP  # no plan better than the optimum
    assert exact.lives <= rounded.bound + 1e-6  # the bound holds the optimum
    if rounded.status is SolveStatus.OPTIMAL:
        assert rounded.lives == pytest.approx(exact.lives, abs=2 * ABS_GAP)


def test_the_price_interval_holds_the_exact_price_under_a_loose_gap(
    instance: MultiPeriodInstance, tmp_path: Path
) -> None:
    """A 20% tolerance and a time limit (the first plan the lambda search finds is kept): the
    price row's figure and interval are honest; the interval holds the exact price (both
    optima by branch-and-bound on the whole model), and the row is not called exact unless the
    interval is narrower than 0.01 lives."""
    result = plan(instance, [THRESHOLD], time_limit=600.0, mip_gap=0.2)
    assert result.lives_saved is not None and result.lives_optimal is not None
    check = check_plan(instance, result)
    assert check.ok and check.survivors == pytest.approx(result.lives_saved, abs=1e-6)
    active = active_constraints(instance, [THRESHOLD], True)
    options = SolverOptions(mip_rel_gap=0.0, mip_abs_gap=ABS_GAP)
    rule = PlanEngine(instance, active, options, method="exact").solve(active, tie_break=False)
    free = PlanEngine(instance, (), options, method="exact").solve([], tie_break=False)
    assert rule.lives is not None and free.lives is not None
    price = free.lives - rule.lives
    row = result.price_of_fairness.iloc[0]
    low, high = row["lives_lost_alone_low"], row["lives_lost_alone_high"]
    assert low - 2 * ABS_GAP <= price <= high + 2 * ABS_GAP
    assert low <= row["lives_lost_alone"] <= high
    assert row["lives_lost_alone"] == pytest.approx(
        result.lives_optimal - row["lives_saved_alone"], abs=1e-6
    )
    assert bool(row["exact"]) == (high - low <= 0.01 + 1e-9)


def test_reserves_take_at_most_their_share_of_the_budget() -> None:
    """A build timed in a burst of load (300 x 90: 1.04 s where 0.1-0.15 s is usual) no
    longer reserves 53 s of a 120 s budget for the work after the solves: settle, repair and
    cleanup together at most RESERVES_SHARE_OF_BUDGET of it, none below its own share; a
    usual build's reserves are unchanged."""
    from optimiser.multiperiod import planner as p

    usual = p.Reserves.sized(0.15, 120.0)
    assert usual.settle == pytest.approx(p.SETTLE_SHARE_OF_BUILD * 0.15)
    assert usual.repair == pytest.approx(p.REPAIR_SHARE_OF_BUILD * 0.15)
    assert usual.cleanup == pytest.approx(p.CLEANUP_SHARE_OF_BUDGET * 120.0)
    loaded = p.Reserves.sized(1.04, 120.0)
    total = loaded.settle + loaded.repair + loaded.cleanup
    assert total == pytest.approx(p.RESERVES_SHARE_OF_BUDGET * 120.0)
    assert loaded.settle >= p.SETTLE_SHARE_OF_BUDGET * 120.0
    assert loaded.cleanup >= p.CLEANUP_SHARE_OF_BUDGET * 120.0
    assert loaded.repair > 0 and loaded.extract == pytest.approx(1.04)
    # without a time limit nothing is capped (the reserves only place deadlines)
    free = p.Reserves.sized(1.04, None)
    assert free.settle == pytest.approx(p.SETTLE_SHARE_OF_BUILD * 1.04)
