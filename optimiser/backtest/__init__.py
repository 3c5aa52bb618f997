"""`triage backtest`: plans made week by week with what was known then, replayed against what
actually happened (docs/backtest.md).

    >>> from optimiser.backtest import backtest
    >>> result = backtest("instances/backtest-italy-apr2020", as_of="2020-04-08")
    >>> result.table[["survivors", "shortfall"]]

Policies are registered by name in optimiser.backtest.policies (`register`).
"""

from optimiser.backtest.policies import (
    DEFAULT_POLICIES,
    POLICIES,
    BacktestOptions,
    BacktestPolicy,
    WeekContext,
    WeekPlan,
    register,
)
from optimiser.backtest.results import BacktestResult
from optimiser.backtest.run import DEFAULT_BUFFER, DEFAULT_COMMIT_DAYS, backtest

__all__ = [
    "DEFAULT_BUFFER",
    "DEFAULT_COMMIT_DAYS",
    "DEFAULT_POLICIES",
    "POLICIES",
    "BacktestOptions",
    "BacktestPolicy",
    "BacktestResult",
    "WeekContext",
    "WeekPlan",
    "backtest",
    "register",
]
