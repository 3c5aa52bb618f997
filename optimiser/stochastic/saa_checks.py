"""SAA's options checked before any scenario is drawn (optimiser.stochastic.replications; the
service checks a request with the same functions): the sizes, seed, confidence and workers
(`_check`, every problem at once), and today and the commit window (`_check_window`, the
planner's rules).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optimiser.errors import InputError, Problem, counted
from optimiser.multiperiod.instance import MultiPeriodInstance

MAX_SCENARIOS = 100_000


def _check(
    replications: int,
    sample_size: int,
    selection_size: int | None,
    evaluation_size: int,
    seed: int,
    confidence: float,
    workers: int | None,
) -> None:
    problems: list[Problem] = []

    def whole(v: Any, low: int, high: int) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high

    def bad(option: str, message: str, value: Any) -> None:
        problems.append(Problem(f"{message}, got {value!r}", column=option, column_word="option"))

    if not whole(replications, 2, 1000):
        bad(
            "replications",
            "must be a whole number in 2..1000 (the bounds need the variance "
            "over at least two independent replications)",
            replications,
        )
    if not whole(sample_size, 1, MAX_SCENARIOS):
        bad("sample", f"must be a whole number of scenarios in 1..{MAX_SCENARIOS}", sample_size)
    if selection_size is not None and not whole(selection_size, 1, MAX_SCENARIOS):
        bad("select-on", f"must be a whole number in 1..{MAX_SCENARIOS}", selection_size)
    if not whole(evaluation_size, 2, MAX_SCENARIOS):
        bad(
            "evaluate-on",
            f"must be a whole number in 2..{MAX_SCENARIOS} (a confidence "
            "interval needs two scenarios)",
            evaluation_size,
        )
    if not whole(seed, 0, 2**63 - 1):
        bad("seed", "must be a whole number >= 0", seed)
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not (0.5 <= confidence < 1.0)
    ):
        bad("confidence", "must be a level in [0.5, 1)", confidence)
    if workers is not None and not whole(workers, 1, 4096):
        bad("workers", "must be a whole number in 1..4096", workers)
    if problems:
        raise InputError(problems)


def _check_window(instance: MultiPeriodInstance, commit_days: Any, today: Any) -> None:
    """today and the commit window, checked before any scenario is drawn (the planner's rules)."""
    from optimiser.stochastic.engine import check_commit

    if isinstance(today, bool) or not isinstance(today, int) or not 0 <= today < instance.days:
        raise InputError(
            Problem(
                f"today must be a day of the horizon 0..{instance.days - 1}, got {today!r}",
                column="today",
                column_word="option",
            )
        )
    last = instance.days - 1
    if today == last:
        raise InputError(
            Problem(
                f"today {today} is the horizon's last day (the horizon has days 0..{last}): "
                "SAA scores each commit by re-planning the days after its commit window, and "
                f"none are left; give an earlier today (at most {last - 1})",
                column="today",
                column_word="option",
            )
        )
    whole = isinstance(commit_days, int | np.integer) and not isinstance(commit_days, bool)
    if whole and int(commit_days) >= 1 and today + int(commit_days) > last:
        end = today + int(commit_days) - 1
        raise InputError(
            Problem(
                f"the commit window days {today}..{end} (today {today} + {int(commit_days)} "
                f"days) {'ends on' if end == last else 'ends after'} the horizon's last day "
                f"(the horizon has days 0..{last}): SAA scores each commit by re-planning the "
                f"days after its commit window, so at least one must be left; give a commit "
                f"window of at most {counted(last - today, 'day')}",
                column="commit-days",
                column_word="option",
            )
        )
    check_commit(commit_days, today, instance.days)
