"""Task kind "backtest": `triage backtest` as a job (tasks.KINDS registers it). The service
reads no folder: like a plan job, the instance comes inline (a "plan" request whose
`multiperiod` table has a start_date), with the backtest's own tables as JSON rows:

* observed: [{region, date (or day), <demand_kind>}], what actually happened (observed.csv);
* releases: [{source, release, quantity, interval_level?, note?, forecast: [{region, date (or
  day), mean, lower?, upper?}]}], each published forecast with its rows
  (forecasts/releases.csv and the file each row names).

options: the plan options plus as_of, policies, commit_days, buffer, forecast, anchor; the
job's time_limit bounds the whole backtest (optimiser/backtest/budget.py), as `triage backtest
--time-limit` does.
Errors are 422s naming the JSON path (observed[3].census, releases[1].forecast[0].mean).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimiser.errors import InputError, Problem
from optimiser.scenarios.backtest import Backtest
from optimiser.scenarios.forecasts import (
    DEFAULT_INTERVAL_LEVEL,
    Forecast,
    Release,
    forecast_from_frame,
    window_tables,
)

BACKTEST_OPTIONS = ("as_of", "policies", "commit_days", "buffer", "forecast", "anchor")
RELEASE_KEYS = ("source", "release", "quantity", "interval_level", "note", "forecast")
FORECAST_KEYS = ("region", "date", "day", "mean", "lower", "upper")


@dataclass(frozen=True)
class InlineBacktest(Backtest):
    """A Backtest whose forecasts come from the request (by release index), not from files."""

    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def forecast(self, release: Release) -> Forecast:
        return forecast_from_frame(
            self.tables[release.file],
            self.instance,
            name=release.name,
            source=release.source,
            release=release.release,
            quantity=release.quantity,
            interval_level=release.interval_level,
        )


def _text_frame(rows: Any, path: str, allowed: tuple[str, ...] | None,
                problems: list[Problem]) -> pd.DataFrame:
    """JSON rows as a frame of text cells (what the CSV readers validate); the rows' indices
    are the frame's line numbers, its file the JSON path."""
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        problems.append(Problem("must be a list of row objects", file=path))
        return pd.DataFrame()
    for i, row in enumerate(rows):
        for key in row:
            if allowed is not None and key not in allowed:
                problems.append(Problem(f"unknown key (allowed: {', '.join(allowed)})",
                                        file=path, line=i, column=str(key)))
    columns = list(dict.fromkeys(k for row in rows for k in row))
    frame = pd.DataFrame(
        [{c: "" if row.get(c) is None else str(row.get(c)) for c in columns} for row in rows],
        columns=columns, dtype=object,
    )
    frame.attrs["file"] = path
    frame.attrs["lines"] = np.arange(len(frame), dtype=np.int64)
    return frame


def json_path(problem: Problem) -> str | None:
    """The JSON path of a problem found in one of the backtest's inline tables."""
    if not problem.file or not problem.file.startswith(("observed", "releases")):
        return None
    out = problem.file
    if problem.line is not None:
        out += f"[{problem.line}]"
    if problem.column:
        out += f".{problem.column}"
    return out


def _releases(given: Any, problems: list[Problem]) -> tuple[list[Release], dict[str, Any]]:
    if not isinstance(given, list) or not given:
        problems.append(Problem("required: the forecasts published (a list of releases)",
                                file="releases"))
        return [], {}
    out: list[Release] = []
    tables: dict[str, pd.DataFrame] = {}
    seen: set[tuple[str, dt.date]] = set()
    for i, item in enumerate(given):
        where = f"releases[{i}]"
        if not isinstance(item, Mapping):
            problems.append(Problem("must be an object", file="releases", line=i))
            continue
        before = len(problems)
        for key in item:
            if key not in RELEASE_KEYS:
                problems.append(Problem(f"unknown key (allowed: {', '.join(RELEASE_KEYS)})",
                                        file="releases", line=i, column=str(key)))
        source = item.get("source")
        if not isinstance(source, str) or not source.strip() or "@" in source:
            problems.append(Problem("source must be a name without '@'", file="releases",
                                    line=i, column="source"))
        try:
            released = dt.date.fromisoformat(str(item.get("release")).strip())
        except ValueError:
            problems.append(Problem(f"not a date YYYY-MM-DD: {item.get('release')!r}",
                                    file="releases", line=i, column="release"))
        level = item.get("interval_level", DEFAULT_INTERVAL_LEVEL)
        if level is None:
            level = DEFAULT_INTERVAL_LEVEL
        if isinstance(level, bool) or not isinstance(level, int | float) or not (
            0.5 <= level <= 0.999
        ):
            problems.append(Problem(f"must be a number in [0.5, 0.999], got {level!r}",
                                    file="releases", line=i, column="interval_level"))
        frame = _text_frame(item.get("forecast"), f"{where}.forecast", FORECAST_KEYS, problems)
        if len(problems) > before:
            continue
        assert isinstance(source, str)
        if (source, released) in seen:
            problems.append(Problem(f"{source} released on {released} is listed twice",
                                    file="releases", line=i))
            continue
        seen.add((source, released))
        tables[where] = frame
        out.append(Release(source=source.strip(), release=released, file=where,
                           quantity=str(item.get("quantity") or ""),
                           interval_level=float(level), note=str(item.get("note") or "")))
    return sorted(out, key=lambda r: (r.source, r.release)), tables


def prepare_backtest(
    request: Mapping[str, Any], time_limit: float | None = None
) -> dict[str, Any]:
    """Validate a backtest request; the arguments of optimiser.backtest.backtest()."""
    from optimiser.backtest.policies import check_anchor
    from optimiser.backtest.run import check_request
    from optimiser.service.tasks import _invalid, prepare_plan

    body = dict(request)
    observed_rows = body.pop("observed", None)
    release_rows = body.pop("releases", None)
    options = dict(body.get("options") or {})
    chosen = {k: options.pop(k) for k in BACKTEST_OPTIONS if k in options}
    body["options"] = options
    arguments = prepare_plan(body, time_limit)
    instance = arguments["instance"]
    problems: list[Problem] = []
    if instance.start_date is None:
        problems.append(Problem("required by a backtest (forecasts and observations are "
                                "dated)"))
        raise _invalid(problems, ["multiperiod.start_date"])
    if observed_rows is None:
        problems.append(Problem("required: the observed series", file="observed"))
    releases, tables = _releases(release_rows, problems)
    observed = None
    if observed_rows is not None:
        raw = _text_frame(observed_rows, "observed", None, problems)
        if not problems:
            try:
                observed = window_tables(raw, instance, [instance.demand_kind])[
                    instance.demand_kind]
            except InputError as exc:
                problems.extend(exc.problems)
    bt = None
    if not problems and observed is not None:
        bt = InlineBacktest(instance=instance, observed=observed, releases=tuple(releases),
                            tables=tables)
        for release in releases:
            try:
                bt.forecast(release)
            except InputError as exc:
                problems.extend(exc.problems)
    if problems or bt is None:
        raise _invalid(problems, [json_path(p) for p in problems])
    as_of = chosen.get("as_of")
    try:
        date = None if as_of is None else dt.date.fromisoformat(str(as_of))
    except ValueError:
        raise _invalid([Problem(f"must be a date YYYY-MM-DD, got {as_of!r}")],
                       ["options.as_of"]) from None
    policies = chosen.get("policies")
    if policies is not None and not isinstance(policies, list):
        raise _invalid([Problem(f"must be a list of policy names, got {policies!r}")],
                       ["options.policies"])
    buffer = chosen.get("buffer", 0.1)
    try:
        check_request(bt, date, chosen.get("commit_days", 7), chosen.get("forecast"),
                      policies, buffer)
        check_anchor(chosen.get("anchor", "none"))  # before the job is accepted, not in it
    except InputError as exc:
        raise _invalid(exc.problems, [_option_field(p) for p in exc.problems]) from None
    return {
        "source": bt,
        "as_of": date,
        "policies": policies,
        "commit_days": chosen.get("commit_days", 7),
        "buffer": buffer,
        "forecast": chosen.get("forecast"),
        "anchor": chosen.get("anchor", "none"),
        "time_limit": arguments.get("time_limit"),  # the whole backtest (budget.py)
        "mip_gap": arguments.get("mip_gap"),
    }


def _option_field(problem: Problem) -> str | None:
    """The JSON path of an option the CLI names by its flag (--commit-days, the policy)."""
    if not problem.column:
        return None
    return "options.policies" if problem.column == "policy" else \
        f"options.{problem.column.replace('-', '_')}"


def backtest_task(
    request: Any, key: str | None = None, time_limit: float | None = None
) -> dict[str, Any]:
    """Jobs of kind "backtest": the JSON of `triage backtest --json`. The job's time limit
    counts from here, reading the request included."""
    import time

    from optimiser.backtest import backtest
    from optimiser.deadline import Deadline
    from optimiser.service.tasks import _invalid, load_request

    started = time.perf_counter()
    arguments = prepare_backtest(load_request(request), time_limit)
    limit = arguments.get("time_limit")
    deadline = None if limit is None else Deadline(limit, start=started)
    try:
        result = backtest(arguments.pop("source"), **arguments, deadline=deadline)
    except InputError as exc:
        raise _invalid(exc.problems, [_option_field(p) for p in exc.problems]) from None
    payload: dict[str, Any] = result.to_dict()
    return payload


def validate_backtest(request: Mapping[str, Any], time_limit: float | None = None) -> None:
    prepare_backtest(request, time_limit)


def register(kinds: dict[str, Any], task_kind: Any) -> None:
    kinds["backtest"] = task_kind(
        "backtest",
        backtest_task,
        validate_backtest,
        "plans made week by week with the forecasts of the time, replayed against what "
        "happened (docs/backtest.md)",
    )
