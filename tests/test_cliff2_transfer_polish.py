"""The polish cliff (issue 12, track cliff2; methods/polish.py): when the rounded plan is a few
tenths of a life short of the LP bound, the plan's shipments are usually right and its transfers
wrong (free transfers make a unit worth the same anywhere). `transfer_neighbourhood` keeps the
shipments, re-solves the master's LP over the transfers and runs a small MIP around it, before
branch-and-bound on the whole restricted master (`polish`, 46-50 CPU-s on the cases below).

Counted, not timed: the whole-master polish is made to fail the tests where the new step must
close the gap; plans are replayed by check-plan; on small plans where a gap stays, the answer
is HiGHS's exact method's on the whole model (BENCHMARKS.md, "Polish without the cliff")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optimiser.multiperiod import GeneratorSpec, check_plan, generate, load_multiperiod, plan
from optimiser.multiperiod.engine import ABS_GAP, PlanEngine
from optimiser.multiperiod.methods import polish
from optimiser.multiperiod.methods import rounding as rounding_module
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus

# 60 regions x 30 days, 1 depot, seed 0, waiting 1 day (all-pairs transfer lanes): the rounded
# plan is 0.179 lives short (3,653.2394 of 3,653.4186); the whole-master polish took 50 CPU-s
# and 500 MB to close it, the transfer step 0.7 CPU-s.
SPEC = GeneratorSpec(regions=60, days=30, depots=1, seed=0, max_wait_days=1)
LIVES = 3653.4185505  # the LP bound, reached (both the old polish and the new step)


def refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("branch-and-bound on the whole restricted master")


@pytest.mark.parametrize("time_limit", [None, 300.0])
def test_the_transfer_step_closes_the_gap_without_the_whole_master_polish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, time_limit: float | None
) -> None:
    """With a time limit the MIPs run on a copy of the master (guarded), which left HiGHS's
    basis elsewhere: the step's LP then reached another vertex of the degenerate LP and its MIP
    closed nothing (3,653.2394, time_limit after 27 s of a 30 s budget) until the LP was solved
    from no basis."""
    inst = load_multiperiod(generate(SPEC, tmp_path / "g"))
    steps: list[tuple[float, float | None]] = []
    inner = polish.transfer_neighbourhood

    def counted(cg: Any, cost: np.ndarray, start: np.ndarray, *args: Any, **kw: Any) -> Any:
        run = inner(cg, cost, start, *args, **kw)
        after = None if run.values is None else float(cost @ run.values)
        steps.append((float(cost @ start), after))
        if run.values is not None:  # the shipments stay the plan's
            ships = cg.program.ship.cols
            assert np.array_equal(run.values[ships], start[ships])
        return run

    monkeypatch.setattr(rounding_module.polish, "transfer_neighbourhood", counted)
    monkeypatch.setattr(rounding_module.polish, "polish", refuse)
    # the lift (methods/lift.py) closes this gap before any MIP (tests/test_roundfix_lift.py):
    # off here, so the transfer step is what is tested
    monkeypatch.setattr(rounding_module, "LIFT", False)
    options = SolverOptions(time_limit=time_limit, mip_rel_gap=0.0, mip_abs_gap=ABS_GAP)
    engine = PlanEngine(inst, [], options)
    out = engine.solve([], tie_break=False, time_limit=time_limit)
    assert len(steps) == 1  # the rounding left a gap, and the new step ran once
    start, after = steps[0]
    assert after is not None and LIVES - start > 0.1 and after > start
    assert out.status is SolveStatus.OPTIMAL
    assert out.objective is not None and out.bound is not None
    assert out.bound - out.objective <= ABS_GAP  # proved against the column generation's bound
    assert out.objective == pytest.approx(LIVES, abs=1e-6)
    if time_limit is None:  # the bound checked apart from the column generation: the whole
        # model's LP relaxation, solved by HiGHS in one piece, is within 0.005 of the plan
        m = engine.model
        lp = MatrixHighsModel(
            m.col_lower,
            m.col_upper,
            m.matrix,
            m.row_lower,
            m.row_upper,
            np.zeros(m.shape[1], dtype=np.int8),
        )
        lp.set_cost(engine.objective([]), True)
        relaxed = lp.solve()
        assert relaxed.status is SolveStatus.OPTIMAL and relaxed.objective is not None
        assert out.objective <= relaxed.objective + 1e-6
        assert relaxed.objective - out.objective <= ABS_GAP
    # the CLI's path (tie-break, cleanup) gives a plan that check-plan replays to its lives
    monkeypatch.setattr(rounding_module, "LIFT", True)
    result = plan(inst, price_of_fairness=False, time_limit=time_limit)
    assert str(result.status) == "optimal" and result.lives_saved is not None
    replay = check_plan(inst, result)
    assert replay.ok, replay.violations[:3]
    assert replay.survivors == pytest.approx(result.lives_saved, abs=1e-5)
    assert result.lives_saved == pytest.approx(LIVES, abs=ABS_GAP)


@pytest.mark.parametrize(("regions", "days", "wait", "seed"), [(10, 20, 1, 0), (6, 14, 0, 3)])
def test_small_plans_with_a_gap_match_the_exact_method(
    tmp_path: Path, regions: int, days: int, wait: int, seed: int
) -> None:
    """At a tolerance of 1e-6 lives these plans keep a true integrality gap after rounding:
    the transfer step and then the whole-master polish run, and the plan is the whole model's
    optimum by HiGHS's exact method; never reported optimal (the LP bound is not reached)."""
    spec = GeneratorSpec(
        regions=regions, days=days, depots=2, neighbours=3, seed=seed, max_wait_days=wait
    )
    inst = load_multiperiod(generate(spec, tmp_path / "g"))
    options = SolverOptions(time_limit=None, mip_rel_gap=0.0, mip_abs_gap=1e-6)
    calls: list[str] = []
    inner_step, inner_polish = polish.transfer_neighbourhood, polish.polish

    def step(*args: Any, **kw: Any) -> Any:
        calls.append("step")
        return inner_step(*args, **kw)

    def whole(*args: Any, **kw: Any) -> Any:
        calls.append("polish")
        return inner_polish(*args, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rounding_module.polish, "transfer_neighbourhood", step)
        patch.setattr(rounding_module.polish, "polish", whole)
        out = PlanEngine(inst, [], options, method="rounding").solve([], tie_break=False)
    exact = PlanEngine(inst, [], options, method="exact").solve([], tie_break=False)
    assert calls == ["step", "polish"]
    assert exact.status is SolveStatus.OPTIMAL and exact.objective is not None
    assert out.objective == pytest.approx(exact.objective, abs=1e-6)
    assert out.status is SolveStatus.ITERATION_LIMIT  # a gap to the LP bound stays
    assert out.bound is not None and out.objective is not None
    assert out.bound - out.objective > 1e-6
