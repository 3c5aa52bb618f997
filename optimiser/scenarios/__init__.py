"""Demand scenarios: the format, generators, out-of-sample evaluation and backtest data.

    >>> from optimiser.multiperiod import load_multiperiod
    >>> from optimiser.scenarios import LognormalSpec, lognormal_scenarios, evaluate
    >>> inst = load_multiperiod("instances/us-states-apr2020")
    >>> scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=50, seed=1))
    >>> evaluation = evaluate(inst, "plan/manifest.csv", scenarios)

Stages, each callable alone: load_scenarios / scenarios_from_frames (load + validate) or a
generator -> ScenarioSet (labelled; `array()`, `patient_groups()`, `instance_for()` give what
the planner and the simulator run on) -> evaluate (replays through check-plan's simulator) ->
Evaluation (metrics with confidence intervals, per-scenario outcomes). docs/scenarios.md.
"""

from optimiser.scenarios.backtest import Backtest, is_backtest, load_backtest
from optimiser.scenarios.evaluate import Evaluation, evaluate, replay_rows
from optimiser.scenarios.forecasts import Forecast, Release, read_forecast, read_releases, resolve
from optimiser.scenarios.generators import (
    ForecastMixSpec,
    IntervalSpec,
    LognormalSpec,
    forecast_scenarios,
    interval_scenarios,
    lognormal_scenarios,
)
from optimiser.scenarios.io import (
    load_scenarios,
    scenarios_from_dict,
    scenarios_from_frames,
    write_scenarios,
)
from optimiser.scenarios.model import ScenarioSet, make_scenario_set
from optimiser.scenarios.skill import forecast_skill, log_errors, skill_summary
from optimiser.scenarios.stats import Estimate
from optimiser.scenarios.table import GeneratorRequest, instance_scenarios, request_from_table

__all__ = [
    "Backtest",
    "Estimate",
    "Evaluation",
    "Forecast",
    "ForecastMixSpec",
    "GeneratorRequest",
    "IntervalSpec",
    "LognormalSpec",
    "Release",
    "ScenarioSet",
    "evaluate",
    "forecast_scenarios",
    "forecast_skill",
    "instance_scenarios",
    "interval_scenarios",
    "is_backtest",
    "load_backtest",
    "load_scenarios",
    "log_errors",
    "lognormal_scenarios",
    "make_scenario_set",
    "read_forecast",
    "read_releases",
    "replay_rows",
    "request_from_table",
    "resolve",
    "scenarios_from_dict",
    "scenarios_from_frames",
    "skill_summary",
    "write_scenarios",
]
