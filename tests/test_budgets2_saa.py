"""budgets2: the Python API's `saa(..., time_limit=S)` holds S end to end.

Failed before: the time was only looked at between scenarios, every recourse re-plan ran
without a limit, and a replication was started however little was left (italy-2020-wave1,
-M 4 -N 4, 40 evaluation scenarios: `time_limit=4` ended after 4.81 s, 1 after 1.32 s; a
replication started 0.04 s before the end took 0.84 s). Now every plan gets what is left
(optimiser/stochastic/saa_budget.py), a re-plan cut short stops the run (no bounds from plans
that are not optimal), and no plan starts with less left than its kind's floor."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_saa import hedge

import optimiser.stochastic.compare as compare
import optimiser.stochastic.replications as replications
from optimiser.solver_status import SolveStatus
from optimiser.stochastic import saa_budget
from optimiser.stochastic.replications import SaaTimeLimit, saa

REPO = Path(__file__).resolve().parents[1]
RUN = {"replications": 2, "sample_size": 2, "evaluation_size": 6, "seed": 3, "commit_days": 1,
       "workers": 1}  # fmt: skip


def test_every_plan_gets_what_is_left_of_the_budget(tmp_path: Path, monkeypatch) -> None:
    _, inst, dist = hedge(tmp_path)
    free = saa(inst, dist, **RUN)
    limits: list[tuple[str, float | None]] = []
    plan, two_stage = compare.plan, replications.plan_under_uncertainty

    def replan(*args: Any, **kwargs: Any) -> Any:
        limits.append(("recourse", kwargs.get("time_limit")))
        return plan(*args, **kwargs)

    def replication(*args: Any, **kwargs: Any) -> Any:
        given = kwargs.get("deadline")
        limits.append(("replication", None if given is None else given.left()))
        return two_stage(*args, **kwargs)

    monkeypatch.setattr(compare, "plan", replan)
    monkeypatch.setattr(replications, "plan_under_uncertainty", replication)
    started = time.perf_counter()
    limited = saa(inst, dist, **RUN, time_limit=600.0)
    took = time.perf_counter() - started
    kinds = [k for k, _ in limits]
    assert kinds.count("replication") == 2
    assert kinds.count("recourse") == 2 * 2 + 2 * 2 + 6  # choose the candidate, score it
    for kind, left in limits:  # before: every re-plan ran with time_limit None
        assert left is not None and 600.0 - took - 1.0 < left <= 600.0, (kind, left)
    seconds = [left for _, left in limits]
    assert seconds == sorted(seconds, reverse=True)  # what is left, not a share
    assert limited.status == "done" and limited.to_dict() == free.to_dict()


def test_a_replan_cut_short_by_the_limit_stops_the_run(tmp_path: Path, monkeypatch) -> None:
    """A re-plan that says time_limit is not optimal: no bounds are made from it (before, its
    lives were scored as if optimal)."""
    _, inst, dist = hedge(tmp_path)
    plan = compare.plan

    def cut_short(*args: Any, **kwargs: Any) -> Any:
        return replace(plan(*args, **kwargs), status=SolveStatus.TIME_LIMIT)

    monkeypatch.setattr(compare, "plan", cut_short)
    with pytest.raises(SaaTimeLimit, match="time limit"):
        saa(inst, dist, **RUN, time_limit=600.0)
    saa(inst, dist, **RUN)  # without a limit the re-plans are not looked at for it


def test_no_plan_starts_with_less_left_than_its_floor() -> None:
    stop_at = time.time() + 2.0
    assert 1.5 < (saa_budget.startable(stop_at, "replication") or 0) <= 2.0  # no floor yet
    saa_budget.note_floor(stop_at, "replication", 1.95)
    with pytest.raises(SaaTimeLimit):
        saa_budget.startable(stop_at, "replication")  # 1.95 + MIN_PLAN_SECONDS > 2
    assert saa_budget.startable(stop_at, "recourse") is not None  # another kind: no floor
    assert saa_budget.startable(None, "replication") is None
    with pytest.raises(SaaTimeLimit):
        saa_budget.startable(time.time() - 0.001, "recourse")
    budget = saa_budget.RecourseBudget(stop_at)
    saa_budget.note_floor(stop_at, "recourse", 5.0)
    with pytest.raises(compare.OutOfTime):  # recourse() ends its loop: SaaTimeLimit above it
        budget.run(1, lambda limit: pytest.fail("started"))


# The first plan of a kind in a process has no floor yet: the run can end past its limit by
# that plan's overrun (italy-2020-wave1: up to 0.23 s at load 3.5, the first replication's
# patient-flow repair). MARGIN is twice that; before, 0.19-0.81 s past the limit.
MARGIN = 0.5


@pytest.mark.slow
@pytest.mark.parametrize("limit", [1.0, 4.0])
def test_saa_on_italy_ends_within_its_budget(limit: float) -> None:
    from optimiser.multiperiod import load_multiperiod
    from optimiser.scenarios.table import GeneratorRequest

    inst = load_multiperiod(REPO / "instances" / "italy-2020-wave1")
    started = time.perf_counter()
    with pytest.raises(SaaTimeLimit):  # the whole run takes about 70 s
        saa(inst, GeneratorRequest("lognormal", {}), replications=4, sample_size=4,
            evaluation_size=40, time_limit=limit, workers=1)  # fmt: skip
    assert time.perf_counter() - started < limit + MARGIN
