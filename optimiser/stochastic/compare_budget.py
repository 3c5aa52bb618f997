"""One time budget for a whole comparison (`triage plan --scenarios --compare --time-limit`),
shared among its plans as the backtest's (optimiser/backtest/budget.py) is.

compare() makes many plans: each candidate's commit (a deterministic plan, weight 1, or a
two-stage plan, weight the number of scenarios), then one recourse re-plan per candidate and
evaluation scenario (weight 1 each), then replays each candidate through the simulator (a
score). The candidates come one after the other in priority order (the stochastic plan, the
mean-forecast plan and hindsight first, then the other baselines), each started with `start`.
A plan's time limit is what is left, less the scores still to make, times its weight over the
weight of the plans it shares the rest with: its own candidate's still to make, and those of
the candidates after it that fit, in priority order, at the pace plans have taken so far
(`plan_seconds`, the mean of the deterministic plans measured; before any was measured, its
own candidate's only). What a plan leaves passes
on. A candidate that does not fit at that pace is not started (`fits`), so the budget goes to
the candidates of higher priority instead of being spread thinly over all of them. A plan's
limit is its share less the most a plan has run past its limit (the planner's extraction is
not in its solves' limit), so that it ends within its share. A plan is
not started when what is left is below the longest set-up (build, translate, fallback) seen
plus how far a plan ran past its limit plus MIN_PLAN_SECONDS: it would overrun. A candidate
whose plans were not all made is left out (not scored), never scored on part of the
scenarios.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
        self.weight_left = float(weight)  # the current candidate's plans still to make
        self.scores_left = scores
        self.queue: list[float] = []  # the weights of the candidates after it, by priority
        self.scenarios = max(1, scenarios)
        self.score_per_scenario = SCORE_SECONDS
        self.setup_per_weight = 0.0  # the longest set-up + overrun seen, per unit of weight
        self.plan_seconds = 0.0  # the mean time a deterministic plan (weight 1) took, all told
        self._plans_measured = 0
        self.overrun = 0.0  # the most a plan ran past its time limit (extraction, set-up)

    @property
    def limited(self) -> bool:
        return self.deadline.limit is not None

    def start(self, weight: float, queue: Sequence[float] = ()) -> None:
        """The next candidate: the weight of its plans, and the weights of the candidates
        that may follow it (in priority order)."""
        self.weight_left = float(weight)
        self.scores_left = 1
        self.queue = [float(w) for w in queue]

    def sharing(self) -> tuple[float, int]:
        """The weight and the scores the next plan shares what is left with: the current
        candidate's, and those of the candidates after it that fit, in priority order, at
        `plan_seconds` a plan (none while no plan was measured)."""
        weight, scores = self.weight_left, self.scores_left
        left = self.deadline.left()
        if left is None or not self.plan_seconds:
            return weight, scores
        for more in self.queue:
            need = (weight + more) * self.plan_seconds + self._reserve(scores + 1)
            if need > left:
                break
            weight, scores = weight + more, scores + 1
        return weight, scores

    def fits(self, weight: float) -> bool:
        """Whether a candidate of `weight` plans (and its score) fits in what is left at
        `plan_seconds` a plan (True while no plan was measured)."""
        left = self.deadline.left()
        if left is None or not self.plan_seconds:
            return True
        return weight * self.plan_seconds + self._reserve(1) <= left

    def _reserve(self, scores: int) -> float:
        return scores * self.scenarios * self.score_per_scenario

    def for_plans(self) -> float:
        left = self.deadline.left()
        if left is None:
            return float("inf")
        return left - self._reserve(self.sharing()[1])

    def limit(self, weight: float) -> float | None:
        """The time limit of the next plan of `weight`; None without a budget. Raises
        OutOfTime when it should not start."""
        if not self.limited:
            return None
        left = self.for_plans()
        floor = self.setup_per_weight * weight + MIN_PLAN_SECONDS
        if left < floor:
            raise OutOfTime
        shared = self.sharing()[0]
        share = left if shared <= weight else left * weight / shared
        return max(floor, share - self.overrun)  # what it runs past its limit is in its share

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
        self.overrun = max(self.overrun, past)
        if weight > 0:
            self.setup_per_weight = max(self.setup_per_weight, (setup + past) / weight)
        if weight == 1:  # the pace: plans far from their limit take about this long
            self._plans_measured += 1
            self.plan_seconds += (took - self.plan_seconds) / self._plans_measured
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
