"""The `[uncertainty]` table of instance.toml: a generator and its parameters, so that an
instance carries its scenarios without a scenarios.csv (docs/scenarios.md, "Files").

    [uncertainty]
    method = "lognormal"          # lognormal | intervals | forecasts
    scenarios = 200
    seed = 1
    correlation = 0.5
    sigma0 = 0.45                 # lognormal only
    sigma_growth = 0.05
    peak_shift_sd = 7
    center = "mean"               # or "median"
    base = "ihme@2020-04-12"      # lognormal: a forecast instead of demand.csv
    forecast = "ihme@2020-04-07"  # intervals: the forecast with lower/upper
    forecasts = ["ihme", "delphi"]  # forecasts: the competing forecasts
    weights = [0.5, 0.5]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimiser.errors import InputError, Problem
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios.forecasts import resolve
from optimiser.scenarios.generators import (
    ForecastMixSpec,
    IntervalSpec,
    LognormalSpec,
    forecast_scenarios,
    interval_scenarios,
    lognormal_scenarios,
)
from optimiser.scenarios.io import SCENARIOS_FILE, load_scenarios
from optimiser.scenarios.model import ScenarioSet

METHODS = ("lognormal", "intervals", "forecasts")
COMMON_KEYS = {"method", "scenarios", "seed", "correlation"}
METHOD_KEYS = {
    "lognormal": {"sigma0", "sigma_growth", "peak_shift_sd", "center", "base"},
    "intervals": {"forecast"},
    "forecasts": {"forecasts", "weights"},
}
TOML = "instance.toml"


@dataclass(frozen=True)
class GeneratorRequest:
    """A generator, its parameters and the forecasts it reads (names, as `resolve` takes)."""

    method: str
    parameters: dict[str, Any] = field(default_factory=dict)
    forecasts: tuple[str, ...] = ()

    def run(
        self,
        instance: MultiPeriodInstance,
        folder: str | Path | None = None,
        as_of: dt.date | None = None,
    ) -> ScenarioSet:
        """Generate the set (forecast names resolved in `folder`, the instance's by default)."""
        where = folder if folder is not None else instance.path
        found = (
            resolve(where if where is not None else ".", instance, self.forecasts, as_of)
            if self.forecasts
            else []
        )
        p = dict(self.parameters)
        if self.method == "lognormal":
            if len(found) > 1:
                raise InputError(
                    Problem(
                        f"the lognormal generator takes one base forecast, got {len(found)}",
                        column="forecast",
                        column_word="option",
                    )
                )
            base = found[0] if found else None
            return lognormal_scenarios(
                instance,
                LognormalSpec(**p),
                None if base is None else base.mean,
                base_name="demand.csv" if base is None else base.name,
            )
        if self.method == "intervals":
            if len(found) != 1:
                raise InputError(
                    Problem(
                        "the intervals generator needs exactly one forecast with lower and "
                        f"upper columns, got {len(found)}",
                        column="forecast",
                        column_word="option",
                    )
                )
            return interval_scenarios(instance, found[0], IntervalSpec(**p))
        if "weights" in p and p["weights"] is not None:
            p["weights"] = tuple(p["weights"])
        return forecast_scenarios(instance, found, ForecastMixSpec(**p))


def request_from_table(table: Any) -> GeneratorRequest:
    """Parse the [uncertainty] table (InputError naming each bad field)."""
    if not isinstance(table, Mapping):
        raise InputError(Problem("field 'uncertainty': must be a table", file=TOML))
    problems: list[Problem] = []
    method = table.get("method")
    if method not in METHODS:
        raise InputError(
            Problem(
                f"field 'uncertainty.method': must be one of {', '.join(METHODS)}, got {method!r}",
                file=TOML,
            )
        )
    allowed = COMMON_KEYS | METHOD_KEYS[method]
    for key in sorted(set(table) - allowed):
        problems.append(
            Problem(
                f"field 'uncertainty.{key}': not a parameter of the {method} generator "
                f"(allowed: {', '.join(sorted(allowed))})",
                file=TOML,
            )
        )
    params = {
        k: v for k, v in table.items() if k in allowed - {"method", "base", "forecast", "forecasts"}
    }
    names: list[str] = []
    for key in ("base", "forecast"):
        if key in table:
            if not isinstance(table[key], str) or not table[key].strip():
                problems.append(
                    Problem(f"field 'uncertainty.{key}': must be a forecast name", file=TOML)
                )
            else:
                names.append(table[key])
    if "forecasts" in table:
        value = table["forecasts"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(
                Problem("field 'uncertainty.forecasts': must be a list of names", file=TOML)
            )
        else:
            names.extend(value)
    if "weights" in params and not isinstance(params["weights"], list):
        problems.append(Problem("field 'uncertainty.weights': must be a list", file=TOML))
    if problems:
        raise InputError(problems)
    request = GeneratorRequest(method=method, parameters=params, forecasts=tuple(names))
    try:
        _spec(request).check(*([len(names)] if method == "forecasts" else []))
    except InputError as exc:
        raise InputError(
            [
                Problem(f"field 'uncertainty.{p.column}': {p.message}", file=TOML)
                if p.column_word == "option"
                else p
                for p in exc.problems
            ]
        ) from exc
    return request


def _spec(request: GeneratorRequest) -> Any:
    p = dict(request.parameters)
    try:
        if request.method == "lognormal":
            return LognormalSpec(**p)
        if request.method == "intervals":
            return IntervalSpec(**p)
        if p.get("weights") is not None:
            p["weights"] = tuple(p["weights"])
        return ForecastMixSpec(**p)
    except TypeError as exc:  # pragma: no cover - keys are filtered above
        raise InputError(Problem(str(exc), file=TOML)) from exc


def instance_scenarios(instance: MultiPeriodInstance, overrides: Sequence[str] = ()) -> ScenarioSet:
    """The scenarios an instance carries: its scenarios.csv (with scenario_weights.csv), or
    those its [uncertainty] table generates. Both at once, or neither, is an error."""
    folder = instance.path
    table = instance.base.extra.get("uncertainty")
    has_file = folder is not None and (Path(folder) / SCENARIOS_FILE).is_file()
    if has_file and table is not None:
        raise InputError(
            Problem(
                f"has both {SCENARIOS_FILE} and an [uncertainty] table: keep one (the table "
                "generates what the file would give)",
                file=TOML,
            )
        )
    if has_file:
        assert folder is not None
        return load_scenarios(folder, instance)
    if table is None:
        raise InputError(
            Problem(
                f"the instance has no {SCENARIOS_FILE} and no [uncertainty] table: give "
                "--scenarios, or generate some (triage scenarios generate)",
                file=TOML,
            )
        )
    return request_from_table(table).run(instance)


__all__ = ["METHODS", "GeneratorRequest", "instance_scenarios", "request_from_table"]
