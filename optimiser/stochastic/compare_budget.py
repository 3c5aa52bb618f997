"""One time budget for a whole comparison (`triage plan --scenarios --compare --time-limit`),
shared among its plans as the backtest's (optimiser/backtest/budget.py) is.

compare() makes many plans: each candidate's commit (a deterministic plan, weight 1, or a
two-stage plan, weight the number of scenarios), then one recourse re-plan per candidate and
evaluation scenario (weight 1 each), then replays each candidate through the simulator (a
score). The plans come in tiers (`open`): first the stochastic plan, the mean-forecast plan and
hindsight together, then each other candidate alone, in order. Each plan may take what is
left of the budget, less the scores of its tier still to make, times its weight over the
weight of its tier's plans still to make; what it leaves passes on, to its tier and then to
the next. A plan is
not started when what is left is below the longest set-up (build, translate, fallback) seen
plus how far a plan ran past its limit plus MIN_PLAN_SECONDS: it would overrun. A candidate
whose plans were not all made is left out (not scored), never scored on part of the
scenarios.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from optimiser.deadline import Deadline

MIN_PLAN_SECONDS = 0.1  # a plan's solves get at least this beyond its set-up
# Replaying one candidate over one evaluation scenario through the simulator before any was
# measured (US 50 states x 47 days: 0.02-0.05 s on a free core); once measured, the longest
# seen per scenario times SCORE_FACTOR.
SCORE_SECONDS = 0.1
SCORE_FACTOR = 1.5

R = TypeVar("R")


class CompareBudget:
    """The comparison's deadline, the weight of the plans and the scores still to make."""

    def __init__(self, deadline: Deadline, weight: float, scores: int, scenarios: int) -> None:
        self.deadline = deadline
        self.clock = deadline.clock  # what the budget is counted on (the wall clock)
        self.weight_left = float(weight)
        self.scores_left = scores
        self.scenarios = max(1, scenarios)
        self.score_per_scenario = SCORE_SECONDS
        self.setup_per_weight = 0.0  # the longest set-up + overrun seen, per unit of weight

    @property
    def limited(self) -> bool:
        return self.deadline.limit is not None

    def for_plans(self) -> float:
        left = self.deadline.left()
        if left is None:
            return float("inf")
        return left - self.scores_left * self.scenarios * self.score_per_scenario

    def open(self, weight: float, scores: int) -> None:
        """A tier of plans of total `weight` and `scores` candidates to replay: the next plans
        share what is left among these only (what an earlier tier did not use is theirs)."""
        self.weight_left = float(weight)
        self.scores_left = scores

    def limit(self, weight: float) -> float | None:
        """The time limit of the next plan of `weight`; None without a budget. Raises
        OutOfTime when it should not start."""
        if not self.limited:
            return None
        left = self.for_plans()
        floor = self.setup_per_weight * weight + MIN_PLAN_SECONDS
        if left < floor:
            raise OutOfTime
        share = left if self.weight_left <= weight else left * weight / self.weight_left
        return max(floor, share)

    def run(self, weight: float, make: Callable[[float | None], R]) -> R:
        """`make(time_limit)` within this plan's share (OutOfTime: not started)."""
        limit = self.limit(weight)
        started = self.clock()
        result = make(limit)
        took = self.clock() - started
        self.weight_left = max(0.0, self.weight_left - weight)
        timings: dict[str, Any] = getattr(result, "timings", {}) or {}
        setup = sum(float(timings.get(k, 0.0)) for k in ("build", "translate", "fallback"))
        past = 0.0 if limit is None else max(0.0, took - limit)
        if weight > 0:
            self.setup_per_weight = max(self.setup_per_weight, (setup + past) / weight)
        return result

    def skip(self, weight: float, score: bool = True) -> None:
        """Plans (and a score) that will not be made: their weight is released."""
        self.weight_left = max(0.0, self.weight_left - weight)
        if score:
            self.scores_left = max(0, self.scores_left - 1)

    def can_score(self, scenarios: int) -> bool:
        left = self.deadline.left()
        return left is None or left >= scenarios * self.score_per_scenario / SCORE_FACTOR

    def scored(self, seconds: float, scenarios: int) -> None:
        self.scores_left = max(0, self.scores_left - 1)
        self.score_per_scenario = max(
            self.score_per_scenario, SCORE_FACTOR * seconds / max(1, scenarios)
        )


class OutOfTime(Exception):
    """What is left of the budget cannot hold the next plan's set-up."""


__all__ = ["MIN_PLAN_SECONDS", "CompareBudget", "OutOfTime"]
