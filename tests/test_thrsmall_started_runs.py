"""Small plans proved fast (issue 12, track thrsmall; methods/exact.py, methods/polish.py).

A small threshold plan (12 x 14, seed 2, waiting 1 day) spent 20 CPU-s proving a plan the
rounding method had found: the whole-master polish and then the exact method, both HiGHS
branch-and-bound started from that plan, half of each run in HiGHS's RINS and RENS sub-MIPs
(searches for plans near the LP's, where the start is one already). Runs started from a plan
now have them off (`from_a_plan`). Tested here: the switch itself (off inside, put back after,
untouched without a start), that the runs the engine starts from a plan see it, and that the
answers stay right: each plan is HiGHS's optimum of the whole model solved apart with its
default heuristics, and check-plan replays it (BENCHMARKS.md, "Small threshold plans proved
fast")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optimiser import highs_model
from optimiser.multiperiod import GeneratorSpec, check_plan, generate, load_multiperiod, plan
from optimiser.multiperiod.engine import ABS_GAP, PlanEngine
from optimiser.multiperiod.methods import exact as exact_module
from optimiser.multiperiod.methods import polish as polish_module
from optimiser.multiperiod.methods.exact import NEAR_LP_HEURISTICS, from_a_plan
from optimiser.multiperiod.planner import active_constraints
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus


def _flags(h: MatrixHighsModel) -> tuple[bool, ...]:
    return tuple(bool(h.highs.getOptionValue(name)[1]) for name in NEAR_LP_HEURISTICS)


def _tiny() -> MatrixHighsModel:
    import scipy.sparse as sp

    return MatrixHighsModel(
        np.zeros(2),
        np.full(2, 3.0),
        sp.csc_matrix(np.array([[1.0, 1.0]])),
        np.array([-np.inf]),
        np.array([4.5]),
        np.ones(2, dtype=np.int8),
    )


def test_from_a_plan_switches_the_near_lp_heuristics_off_and_back() -> None:
    h = _tiny()
    assert _flags(h) == (True, True)  # HiGHS's defaults
    with from_a_plan(h):
        assert _flags(h) == (False, False)
    assert _flags(h) == (True, True)
    with from_a_plan(h, on=False):  # no plan to start from: HiGHS's own search
        assert _flags(h) == (True, True)
    h.set_option(NEAR_LP_HEURISTICS[0], False)  # a caller's own setting is put back as it was
    with pytest.raises(RuntimeError), from_a_plan(h):
        raise RuntimeError("a failed run")
    assert _flags(h) == (False, True)


def test_the_switch_changes_no_answer_of_a_tiny_mip() -> None:
    h = _tiny()
    h.set_cost(np.array([1.0, 0.5]), maximize=True)
    h.set_start(np.zeros(2))
    with from_a_plan(h):
        run = h.solve()
    assert run.status is SolveStatus.OPTIMAL and run.objective == pytest.approx(3.5)


# (regions, days, seed, waiting days, constraints): small plans where the rounding leaves a gap,
# so the polish and the exact method run from the rounding's plan (found by a scan of 6 x 8)
CASES = [
    (6, 8, 1, 1, ["threshold:tau=0"]),
    (6, 8, 1, 2, ["threshold:tau=0"]),
    (6, 8, 3, 1, []),
    (6, 8, 3, 2, []),
]


def _independent_optimum(engine: PlanEngine, active: list[Any]) -> float:
    """The whole model's optimum by HiGHS alone: default heuristics, no start, gap 1e-7."""
    p = engine.model
    h = MatrixHighsModel(
        p.col_lower,
        p.col_upper,
        p.matrix,
        p.row_lower,
        p.row_upper,
        p.integrality,
        SolverOptions(mip_rel_gap=0.0, mip_abs_gap=1e-7),
    )
    on = {c.label for c in active}
    for label, family in p.fairness.items():
        h.set_rows_active(family.rows, label in on)
        h.set_rows_active(family.cut_rows, False)
    h.set_cost(engine.objective(active), maximize=True)
    assert _flags(h) == (True, True)
    run = h.solve()
    assert run.status is SolveStatus.OPTIMAL and run.objective is not None
    return run.objective


@pytest.mark.parametrize(("regions", "days", "seed", "wait", "asks"), CASES)
def test_plans_proved_from_a_started_run_are_the_whole_models_optimum(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    regions: int,
    days: int,
    seed: int,
    wait: int,
    asks: list[str],
) -> None:
    spec = GeneratorSpec(regions=regions, days=days, seed=seed, max_wait_days=wait)
    inst = load_multiperiod(generate(spec, tmp_path / "g"))
    active = active_constraints(inst, asks, True)
    seen: list[tuple[str, bool, tuple[bool, ...]]] = []  # (caller, started, RINS/RENS)
    inner_run = highs_model.HighsModel._run
    calls: list[str] = []

    def run(self: Any, limit: float | None, start: np.ndarray | None) -> Any:
        if self.is_mip:
            seen.append((calls[-1] if calls else "", start is not None, _flags(self)))
        return inner_run(self, limit, start)

    inner_exact, inner_polish = exact_module.ExactMethod.solve, polish_module.polish

    def exact(self: Any, task: Any, start: np.ndarray | None = None) -> Any:
        calls.append("exact from a plan" if start is not None else "exact")
        try:
            return inner_exact(self, task, start)
        finally:
            calls.append("")

    def polish(*args: Any, **kw: Any) -> Any:
        calls.append("polish")
        try:
            return inner_polish(*args, **kw)
        finally:
            calls.append("")

    monkeypatch.setattr(highs_model.HighsModel, "_run", run)
    monkeypatch.setattr(exact_module.ExactMethod, "solve", exact)
    monkeypatch.setattr(polish_module, "polish", polish)
    engine = PlanEngine(inst, active, SolverOptions(mip_rel_gap=0.0, mip_abs_gap=ABS_GAP))
    out = engine.solve(active, tie_break=False)
    assert [c for c in calls if c] == ["polish", "exact from a plan"]  # the mechanism ran
    runs = [(started, flags) for caller, started, flags in seen if caller]
    assert len(runs) >= 2 and all(started and flags == (False, False) for started, flags in runs)
    # the neighbourhood MIPs (a few free columns) keep HiGHS's defaults
    assert all(flags == (True, True) for caller, _, flags in seen if not caller)
    assert out.status is SolveStatus.OPTIMAL and out.objective is not None
    assert out.bound is not None and out.bound - out.objective <= ABS_GAP + 1e-9
    monkeypatch.undo()
    best = _independent_optimum(engine, active)
    assert out.objective == pytest.approx(best, abs=ABS_GAP)
    assert out.bound >= best - 1e-6  # the bound proved is a bound
    # the CLI's path: check-plan replays the plan to its lives, every rule kept
    result = plan(inst, asks, price_of_fairness=False)
    assert str(result.status) == "optimal" and result.lives_saved is not None
    assert result.lives_saved == pytest.approx(best, abs=ABS_GAP)
    replay = check_plan(inst, result)
    assert replay.ok, replay.violations[:3]
    assert replay.survivors == pytest.approx(result.lives_saved, abs=1e-5)


@pytest.mark.slow
def test_the_issues_small_threshold_plan(tmp_path: Path) -> None:
    """12 x 14, seed 2, waiting 1 day, threshold(tau=0): 1,028.7243939 lives (the rounding's
    plan, proved by the exact method), L* 1,030.7785354; check-plan replays the plan."""
    spec = GeneratorSpec(regions=12, days=14, seed=2, max_wait_days=1)
    inst = load_multiperiod(generate(spec, tmp_path / "g"))
    result = plan(inst, ["threshold:tau=0"])
    assert str(result.status) == "optimal"
    assert result.lives_saved == pytest.approx(1028.7243939, abs=1e-6)
    assert result.lives_optimal == pytest.approx(1030.7785354, abs=ABS_GAP)
    assert result.objective_bound is not None
    assert result.objective_bound - result.lives_saved <= ABS_GAP
    replay = check_plan(inst, result)
    assert replay.ok, replay.violations[:3]
