"""Backtest instances: forecasts as they were published, and what happened
(docs/scenarios.md, "Backtest instances").

A backtest instance is a multi-period instance folder (demand.csv holds the forecast a team
would have planned on) plus

    observed.csv              region, date | day, census | new_patients   what happened
    forecasts/releases.csv    source, release, file, quantity [, interval_level] [, note]
    forecasts/<file>.csv      region, date | day, mean [, lower, upper]

`Backtest.forecasts_as_of(date)` gives only the forecasts published by that date (a plan made
then could not know the others); `observed_scenarios()` the observed series as a one-scenario
set, so that any plan is scored against reality by the same evaluation as against scenarios.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from optimiser.errors import InputError, Problem
from optimiser.instance import _read_csv
from optimiser.multiperiod.instance import MultiPeriodInstance, load_multiperiod
from optimiser.scenarios.forecasts import (
    FORECASTS_DIR,
    RELEASES_FILE,
    Forecast,
    Release,
    read_forecast,
    read_releases,
    window_tables,
)
from optimiser.scenarios.model import ScenarioSet, make_scenario_set

OBSERVED_FILE = "observed.csv"
OBSERVED_ID = "observed"


@dataclass(frozen=True)
class Backtest:
    """A backtest instance: the instance, the observed series (regions x days of its window)
    and the forecast releases it carries (sorted by source, then release date)."""

    instance: MultiPeriodInstance
    observed: pd.DataFrame
    releases: tuple[Release, ...]

    @property
    def window(self) -> tuple[dt.date, dt.date]:
        start = self.instance.start_date
        assert start is not None
        return start, start + dt.timedelta(days=self.instance.days - 1)

    def observed_scenarios(self) -> ScenarioSet:
        """What happened, as a one-scenario set (id 'observed', probability 1)."""
        values = self.observed.reindex(self.instance.regions).to_numpy(dtype=float)
        return make_scenario_set(
            self.instance,
            values[None],
            ids=[OBSERVED_ID],
            sampled=False,
            info={"generator": "observed", "file": OBSERVED_FILE},
        )

    def check_date(self, as_of: dt.date) -> None:
        """A backtest date must fall on or before the window's last day and after the first
        forecast release (InputError saying why not)."""
        first, last = self.window
        problems = []
        if as_of > last:
            problems.append(
                Problem(
                    f"the backtest date {as_of} is after the window ({first}..{last})",
                    column="as-of",
                    column_word="option",
                )
            )
        if self.releases and as_of < min(r.release for r in self.releases):
            earliest = min(self.releases, key=lambda r: r.release)
            problems.append(
                Problem(
                    f"the backtest date {as_of} is before the first forecast release "
                    f"({earliest.name}): no forecast was published by then",
                    column="as-of",
                    column_word="option",
                )
            )
        if problems:
            raise InputError(problems)

    def forecasts_as_of(self, as_of: dt.date) -> list[Release]:
        """The releases published on or before `as_of`, the latest of each source."""
        self.check_date(as_of)
        latest: dict[str, Release] = {}
        for release in self.releases:
            if release.release <= as_of:
                latest[release.source] = release
        return list(latest.values())

    def forecast(self, release: Release) -> Forecast:
        folder = self.instance.path
        assert folder is not None
        return read_forecast(Path(folder) / FORECASTS_DIR / release.file, self.instance, release)


def is_backtest(path: str | Path) -> bool:
    return (Path(path) / OBSERVED_FILE).is_file()


def load_backtest(path: str | Path, *, read_forecasts: bool = True) -> Backtest:
    """Load a backtest instance; every forecast file is read and checked over the window
    (unless `read_forecasts` is False). Raises InputError listing every problem: an observed
    series or forecast not covering the window says which regions and days are missing."""
    folder = Path(path)
    instance = load_multiperiod(folder)
    problems: list[Problem] = []
    if not is_backtest(folder):  # not "needs a start_date": it is no backtest at all
        raise InputError(Problem("file not found", file=OBSERVED_FILE))
    if instance.start_date is None:
        problems.append(
            Problem(
                "a backtest instance needs [multiperiod] start_date (forecasts and observations "
                "are dated)",
                file="instance.toml",
            )
        )
        raise InputError(problems)
    raw = _read_csv(folder / OBSERVED_FILE, problems, required=True)
    releases: list[Release] = []
    try:
        releases = read_releases(folder)
    except InputError as exc:
        problems.extend(exc.problems)
    if not releases and not problems:
        problems.append(
            Problem(
                "a backtest instance lists its forecasts here (source, release, file, quantity)",
                file=f"{FORECASTS_DIR}/{RELEASES_FILE}",
            )
        )
    observed = None
    if raw is not None:
        try:
            observed = window_tables(raw, instance, [instance.demand_kind])[instance.demand_kind]
        except InputError as exc:
            problems.extend(exc.problems)
    backtest = None
    if observed is not None:
        backtest = Backtest(instance=instance, observed=observed, releases=tuple(releases))
        if read_forecasts:
            for release in releases:
                try:
                    backtest.forecast(release)
                except InputError as exc:
                    problems.extend(exc.problems)
    if problems or backtest is None:
        raise InputError(problems)
    return backtest


__all__ = ["OBSERVED_FILE", "OBSERVED_ID", "Backtest", "is_backtest", "load_backtest"]
