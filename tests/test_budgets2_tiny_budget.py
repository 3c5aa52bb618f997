"""budgets2: a budget below what building the model takes (the floor: `plan(inst,
time_limit=0.01)` on 400 regions x 90 days answered after 1.6-2.0 s, status time_limit, and
said nothing of it). The choice: the budget is not refused (what the build takes depends on
the machine and its load, known only once built; refusing would leave no plan where the plan
of last resort can be given), the answer is never `optimal`, and the result says in words that
its budget was overrun, by how much and what took it (`notes`; `timings.total` is the true
elapsed time). The service's plan jobs call the same `plan`; the `triage` program's watchdog
ends at the budget instead (exit 4, "raise --time-limit")."""

from __future__ import annotations

from pathlib import Path

from optimiser.deadline import overrun_note
from optimiser.multiperiod import load_multiperiod, plan
from optimiser.solver_status import SolveStatus

REPO = Path(__file__).resolve().parents[1]


def test_a_budget_below_the_build_is_said_in_the_result() -> None:
    inst = load_multiperiod(REPO / "instances" / "italy-2020-wave1")
    result = plan(inst, time_limit=1e-6, price_of_fairness=False)
    assert result.status == SolveStatus.TIME_LIMIT  # never optimal
    assert result.timings["total"] > 1e-6
    said = [n for n in result.notes if "was overrun" in n]
    assert len(said) == 1 and said[0].startswith("time_limit 1e-06 s was overrun")
    assert "building the model" in said[0]
    came = float(said[0].split("the answer came after ")[1].split(" s")[0])
    assert result.timings["total"] - 0.01 <= came <= result.timings["total"] + 1.0
    assert result.to_dict()["notes"] == list(result.notes)  # the service's JSON says it too


def test_a_budget_that_held_says_nothing() -> None:
    inst = load_multiperiod(REPO / "instances" / "italy-2020-wave1")
    result = plan(inst, time_limit=600.0, price_of_fairness=False)
    assert not [n for n in result.notes if "was overrun" in n]
    assert overrun_note(None, {"total": 5.0}) == ""
    assert overrun_note(1.0, {"total": 0.5}) == ""
    words = overrun_note(0.01, {"total": 1.98, "build": 0.9, "fallback": 0.47})
    assert words == ("time_limit 0.01 s was overrun: the answer came after 1.98 s (building "
                     "the model 0.90 s, the plan of last resort 0.47 s: no limit shortens "
                     "them); an answer within the budget needs a longer time_limit")


def test_a_deadline_started_before_the_call_counts_its_time_before_it() -> None:
    """The service starts the budget before reading the request: the time before `plan` counts
    (the note once compared only the call's own time with the budget and said nothing)."""
    import time

    from optimiser.deadline import Deadline

    inst = load_multiperiod(REPO / "instances" / "italy-2020-wave1")
    budget = Deadline(2.0, start=time.perf_counter() - 1.99)
    result = plan(inst, price_of_fairness=False, deadline=budget)
    assert result.status != SolveStatus.OPTIMAL
    said = [n for n in result.notes if "was overrun" in n]
    assert len(said) == 1
    came = float(said[0].split("the answer came after ")[1].split(" s")[0])
    assert came >= 1.99 + result.timings["total"] - 0.01
