"""One time budget for a whole backtest, shared among its plans (docs/backtest.md, "Time
limit").

A backtest makes many plans: one per policy and re-planning date. A `time_limit` given by the
user bounds the whole backtest (loading, every plan, the replays), not each plan. The split
rule: each plan may take what is left of the budget, less what scoring the policies not yet
scored will take, times its weight over the weight of the plans still to make. A weight is what
a policy's plan costs against a deterministic plan: 0 for no deliveries (no solve), 1 for a
deterministic plan, the number of scenarios for a two-stage plan (its extensive form holds a
copy of the plan per scenario). What a plan leaves unused passes to the plans after it; the
last plan gets all that is left.

A plan is not started when its share is below what its set-up (building the model) took the
last time, or MIN_PLAN_SECONDS: the set-up cannot be interrupted and would overrun. Its policy
is then left out of the results as not completed (which re-planning dates were planned is
said); so is a policy whose plan found no plan in its share. Nothing is scored half.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from optimiser.deadline import Deadline

MIN_PLAN_SECONDS = 0.1  # a plan's solves get at least this beyond its set-up
# Scoring one policy (replaying its moves against the observed census) before any was measured,
# per replay: US 15 states x 47 days, 0.1 s (moves) and 0.45 s (hindsight, its whole plan
# replayed as it is) on a free core. Once measured, the longest seen times SCORE_FACTOR.
SCORE_SECONDS = {"manifest": 0.5, "as_is": 1.5}
SCORE_FACTOR = 1.5


@dataclass
class BacktestBudget:
    """The backtest's deadline and the plans and scores it still has to pay for."""

    deadline: Deadline
    given: float | None  # the budget as the user gave it (the deadline may keep some back)
    weight_left: float
    to_score: list[str]  # the replay of each policy not yet scored
    score_seconds: dict[str, float] = field(default_factory=lambda: dict(SCORE_SECONDS))
    measured: set[str] = field(default_factory=set)  # replays whose score time was measured
    setup: dict[str, float] = field(default_factory=dict)  # policy -> longest set-up seen
    overrun: dict[str, float] = field(default_factory=dict)  # policy -> most past its limit
    per_weight: float = 0.0  # the longest set-up + overrun per unit of weight, any policy

    @property
    def limited(self) -> bool:
        return self.deadline.limit is not None

    def for_plans(self) -> float:
        """Seconds left for the plans still to make (inf without a limit)."""
        left = self.deadline.left()
        if left is None:
            return float("inf")
        reserve = sum(self.score_seconds.get(r, max(SCORE_SECONDS.values())) for r in self.to_score)
        return left - reserve

    def _share(self, weight: float) -> float:
        left = self.for_plans()
        if self.weight_left <= weight or self.weight_left <= 0:
            return left
        return left * weight / self.weight_left

    def _fixed(self, policy: str, weight: float) -> tuple[float, float]:
        """A plan's set-up and how far past its limit it ran (measured, else estimated)."""
        if policy in self.setup:
            return self.setup[policy], self.overrun.get(policy, 0.0)
        return self.per_weight * weight, 0.0

    def can_start(self, policy: str, weight: float) -> bool:
        """Whether a plan of `policy` may start now: what is left covers its set-up, what it
        ran past its limit before, and MIN_PLAN_SECONDS of solving."""
        if not self.limited:
            return True
        if weight <= 0:  # no solve, only its own score to pay for
            left = self.deadline.left()
            return left is not None and left > max(self.score_seconds.values())
        setup, overrun = self._fixed(policy, weight)
        return self.for_plans() >= setup + overrun + MIN_PLAN_SECONDS

    def limit(self, policy: str, weight: float) -> float | None:
        """The time limit of the next plan: its share, but at least its set-up plus
        MIN_PLAN_SECONDS (a limit below its set-up only shortens its solves to nothing),
        never more than is left less what it ran past its limit before. None: no limit."""
        if not self.limited:
            return None
        setup, overrun = self._fixed(policy, weight)
        floor = setup + MIN_PLAN_SECONDS
        return max(
            MIN_PLAN_SECONDS, min(self.for_plans() - overrun, max(self._share(weight), floor))
        )

    def planned(
        self, policy: str, weight: float, setup: float, seconds: float, limit: float | None
    ) -> None:
        self.weight_left = max(0.0, self.weight_left - weight)
        if weight <= 0:
            return
        self.setup[policy] = max(self.setup.get(policy, 0.0), setup)
        past = 0.0 if limit is None else max(0.0, seconds - limit)
        self.overrun[policy] = max(self.overrun.get(policy, 0.0), past)
        self.per_weight = max(self.per_weight, (setup + past) / weight)

    def skipped(self, weight: float, replay: str) -> None:
        """A policy given up: the weight of its plans left, and its score."""
        self.weight_left = max(0.0, self.weight_left - weight)
        self._unscored(replay)

    def scored(self, replay: str, seconds: float) -> None:
        """A policy scored in `seconds`: the estimate for its replay follows the measure."""
        self._unscored(replay)
        measured = SCORE_FACTOR * seconds
        if replay in self.measured:
            self.score_seconds[replay] = max(self.score_seconds[replay], measured)
        else:
            self.score_seconds[replay] = measured
            self.measured.add(replay)

    def _unscored(self, replay: str) -> None:
        if replay in self.to_score:
            self.to_score.remove(replay)


__all__ = ["MIN_PLAN_SECONDS", "SCORE_FACTOR", "SCORE_SECONDS", "BacktestBudget"]
