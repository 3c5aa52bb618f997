"""Forecast tables and the releases an instance carries (docs/scenarios.md, "Forecasts").

A forecast file has one row per region and date (or day number):

    region, date | day, mean [, lower, upper]

`lower`/`upper` are a central prediction interval (95% unless the release says otherwise).
Rows outside the instance's window are ignored (forecasts usually span longer); inside it every
region needs every day. An instance lists its forecasts in forecasts/releases.csv:

    source, release, file, quantity [, interval_level] [, note]

so that a plan made on a date can use only the forecasts published by then (`resolve`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimiser.errors import InputError, Problem, counted, listed, plural
from optimiser.instance import _read_csv
from optimiser.multiperiod.instance import (
    MAX_DAYS,
    MAX_ROW_PROBLEMS,
    MAX_UNITS,
    MultiPeriodInstance,
    _lines,
    _listing,
    _ranges,
    _report_rows,
    numbers,
)

FORECASTS_DIR = "forecasts"
RELEASES_FILE = "releases.csv"
RELEASE_COLUMNS = ("source", "release", "file", "quantity", "interval_level", "note")
DEFAULT_INTERVAL_LEVEL = 0.95


@dataclass(frozen=True)
class Forecast:
    """One forecast over an instance's window: regions x days tables (lower/upper or None)."""

    name: str
    mean: pd.DataFrame
    lower: pd.DataFrame | None = None
    upper: pd.DataFrame | None = None
    source: str = ""
    release: dt.date | None = None
    quantity: str = ""
    interval_level: float = DEFAULT_INTERVAL_LEVEL

    @property
    def has_interval(self) -> bool:
        return self.lower is not None and self.upper is not None


@dataclass(frozen=True)
class Release:
    """A row of forecasts/releases.csv."""

    source: str
    release: dt.date
    file: str
    quantity: str
    interval_level: float = DEFAULT_INTERVAL_LEVEL
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.source}@{self.release.isoformat()}"


def day_index(
    frame: pd.DataFrame, instance: MultiPeriodInstance, problems: list[Problem]
) -> np.ndarray:
    """Day numbers of a 'date' (ISO, needs start_date) or 'day' column; NaN where unreadable
    (reported). Days may lie outside the window: the caller decides."""
    file = frame.attrs.get("file")
    if "date" in frame.columns:
        if instance.start_date is None:
            problems.append(
                Problem("has a 'date' column but the instance has no start_date", file=file)
            )
            return np.full(len(frame), np.nan)
        text = frame["date"].astype(str).str.strip()
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna().to_numpy()
        _report_rows(frame, bad, "date", lambda v: f"not a date YYYY-MM-DD: {v!r}", problems)
        start = pd.Timestamp(instance.start_date)
        return np.asarray((parsed - start).dt.days, dtype=float)
    days = numbers(frame, "day", problems, whole=True, minimum=-MAX_DAYS, maximum=MAX_DAYS)
    return days


def forecast_from_frame(
    raw: pd.DataFrame,
    instance: MultiPeriodInstance,
    *,
    name: str = "forecast",
    source: str = "",
    release: dt.date | None = None,
    quantity: str = "",
    interval_level: float = DEFAULT_INTERVAL_LEVEL,
) -> Forecast:
    """Validate a forecast table (text cells, as read) over the instance's window."""
    file = raw.attrs.get("file", name)
    bounds = [c for c in ("lower", "upper") if c in raw.columns]
    if len(bounds) == 1:
        raise InputError(Problem(f"has '{bounds[0]}' without the other bound", file=file))
    tables = window_tables(
        raw, instance, ["mean", *bounds], optional=("lower", "upper"), ordered=len(bounds) == 2
    )
    return Forecast(
        name=name,
        mean=tables["mean"],
        lower=tables.get("lower"),
        upper=tables.get("upper"),
        source=source,
        release=release,
        quantity=quantity,
        interval_level=interval_level,
    )


def window_tables(
    raw: pd.DataFrame,
    instance: MultiPeriodInstance,
    columns: Sequence[str],
    *,
    optional: Sequence[str] = (),
    ordered: bool = False,
) -> dict[str, pd.DataFrame]:
    """Region x day tables of `columns` over the instance's window from a long table with
    region and date (or day): rows outside the window ignored, every region and day inside it
    required, values >= 0 and bounded; `ordered`: lower <= upper."""
    file = raw.attrs.get("file")
    raw.attrs["lines"] = np.asarray(_lines(raw), dtype=np.int64)
    problems: list[Problem] = []
    when = "date" if "date" in raw.columns else "day"
    missing = [c for c in ("region", when, *columns) if c not in raw.columns]
    known = ", ".join(
        ["region", "date or day", *columns, *[c for c in optional if c not in columns]]
    )
    if missing:
        problems.append(
            Problem(
                f"missing required {listed('column', missing)} (columns: {known})", file=file
            )
        )
    extra = [c for c in raw.columns if c not in ("region", "date", "day", *columns, *optional)]
    if "date" in raw.columns and "day" in raw.columns:
        extra.append("day (give date or day, not both)")
    if extra:
        problems.append(
            Problem(f"unknown {listed('column', extra)} (columns: {known})", file=file)
        )
    if problems:
        raise InputError(problems)
    regions, T = list(instance.regions), instance.days
    ids = raw["region"].astype(str).str.strip().to_numpy()
    _report_rows(
        raw,
        np.array([r not in set(regions) for r in ids]),
        "region",
        lambda v: f"unknown region '{str(v).strip()}' (not in regions.csv)",
        problems,
    )
    day = day_index(raw, instance, problems)
    values = {
        c: numbers(raw, c, problems, minimum=0.0, maximum=MAX_UNITS, unit="patients")
        for c in columns
    }
    if problems:
        raise InputError(problems)
    if ordered:  # not the mean: it can lie above the upper bound when most mass is at 0
        _report_rows(
            raw,
            values["lower"] > values["upper"],
            "lower",
            lambda v: "needs lower <= upper",
            problems,
        )
    inside = (day >= 0) & (day < T)
    keys = pd.Series(list(zip(ids, day, strict=True)))
    duplicated = keys.duplicated().to_numpy() & inside
    _report_rows(raw, duplicated, when, lambda v: "duplicate row for this region and day", problems)
    if problems:
        raise InputError(problems)
    r_code = pd.Index(regions).get_indexer(pd.Index(ids[inside]))
    d_code = day[inside].astype(np.int64)
    tables: dict[str, pd.DataFrame] = {}
    holes = np.zeros((len(regions), T), dtype=bool)
    for c in columns:
        cube = np.full((len(regions), T), np.nan)
        cube[r_code, d_code] = values[c][inside]
        holes |= np.isnan(cube)
        tables[c] = pd.DataFrame(
            cube, index=pd.Index(regions, name="region"), columns=pd.RangeIndex(T, name="day")
        )
    window = (
        f" {instance.date(0)}..{instance.date(T - 1)}" if instance.start_date is not None else ""
    )
    short = np.nonzero(holes.any(axis=1))[0]
    for r in short[:MAX_ROW_PROBLEMS]:
        gone = np.nonzero(holes[r])[0].tolist()
        what = (
            "no rows in the window"
            if len(gone) == T
            else f"no row for {plural(len(gone), 'day')} {_listing(_ranges(gone))} "
            f"({len(gone)} of {T} days)"
        )
        problems.append(
            Problem(
                f"{what}: the table must cover every day of the instance's window{window}",
                file=file,
                region=regions[r],
            )
        )
    if len(short) > MAX_ROW_PROBLEMS:
        problems.append(
            Problem(
                f"{counted(len(short) - MAX_ROW_PROBLEMS, 'more region')} like these", file=file
            )
        )
    if problems:
        raise InputError(problems)
    return tables


def read_forecast(
    path: str | Path, instance: MultiPeriodInstance, release: Release | None = None
) -> Forecast:
    """Read and validate a forecast CSV over the instance's window."""
    path = Path(path)
    problems: list[Problem] = []
    raw = _read_csv(path, problems, required=True)
    if problems:
        raise InputError(problems)
    assert raw is not None
    raw.attrs["file"] = str(path) if release is None else f"{FORECASTS_DIR}/{release.file}"
    if release is None:
        return forecast_from_frame(raw, instance, name=path.stem)
    return forecast_from_frame(
        raw,
        instance,
        name=release.name,
        source=release.source,
        release=release.release,
        quantity=release.quantity,
        interval_level=release.interval_level,
    )


def read_releases(folder: str | Path) -> list[Release]:
    """forecasts/releases.csv of an instance folder ([] when there is none)."""
    base = Path(folder) / FORECASTS_DIR
    path = base / RELEASES_FILE
    if not path.is_file():
        return []
    problems: list[Problem] = []
    raw = _read_csv(path, problems, required=True)
    if problems:
        raise InputError(problems)
    assert raw is not None
    file = f"{FORECASTS_DIR}/{RELEASES_FILE}"
    raw.attrs["file"] = file
    raw.attrs["lines"] = np.asarray(_lines(raw), dtype=np.int64)
    missing = [c for c in ("source", "release", "file", "quantity") if c not in raw.columns]
    if missing:
        raise InputError(Problem(f"missing required {listed('column', missing)}", file=file))
    extra = [c for c in raw.columns if c not in RELEASE_COLUMNS]
    if extra:
        problems.append(
            Problem(
                f"unknown {listed('column', extra)} (columns: {', '.join(RELEASE_COLUMNS)})",
                file=file,
            )
        )
    lines = _lines(raw)
    level = (
        numbers(raw, "interval_level", problems, minimum=0.5, maximum=0.999, allow_empty=True)
        if "interval_level" in raw.columns
        else np.full(len(raw), np.nan)
    )
    out: list[Release] = []
    seen: set[tuple[str, dt.date]] = set()
    for i, row in enumerate(raw.to_dict("records")):
        line = int(lines[i])
        source = str(row["source"]).strip()
        if not source or "@" in source:
            problems.append(
                Problem("source must be a name without '@'", file=file, line=line, column="source")
            )
            continue
        try:
            released = dt.date.fromisoformat(str(row["release"]).strip())
        except ValueError:
            problems.append(
                Problem(
                    f"not a date YYYY-MM-DD: {row['release']!r}",
                    file=file,
                    line=line,
                    column="release",
                )
            )
            continue
        name = str(row["file"]).strip()
        if not name or Path(name).is_absolute() or ".." in Path(name).parts:
            problems.append(
                Problem(
                    "file must be a name inside forecasts/", file=file, line=line, column="file"
                )
            )
            continue
        if not (base / name).is_file():
            problems.append(
                Problem(f"no such file forecasts/{name}", file=file, line=line, column="file")
            )
        if (source, released) in seen:
            problems.append(
                Problem(
                    f"{source} released on {released} is listed twice",
                    file=file,
                    line=line,
                )
            )
        seen.add((source, released))
        out.append(
            Release(
                source=source,
                release=released,
                file=name,
                quantity=str(row["quantity"]).strip(),
                interval_level=DEFAULT_INTERVAL_LEVEL if np.isnan(level[i]) else float(level[i]),
                note=str(row.get("note", "") or "").strip(),
            )
        )
    if problems:
        raise InputError(problems)
    return sorted(out, key=lambda r: (r.source, r.release))


def resolve(
    folder: str | Path,
    instance: MultiPeriodInstance,
    names: Sequence[str],
    as_of: dt.date | None = None,
) -> list[Forecast]:
    """Forecasts by name: a CSV path, or SOURCE / SOURCE@YYYY-MM-DD listed in the instance's
    forecasts/releases.csv. With `as_of` (a backtest date), SOURCE means its latest release on
    or before that date, and a release after it is refused: it was not known then."""
    releases = read_releases(folder)
    problems: list[Problem] = []
    out: list[Forecast] = []
    for name in names:
        text = name.strip()
        path = Path(text)
        if text.endswith(".csv") or path.is_file():
            if as_of is not None:
                problems.append(
                    Problem(
                        f"forecast {text}: with a backtest date, name a release of "
                        f"{FORECASTS_DIR}/{RELEASES_FILE} (its release date is checked), not a "
                        "file",
                        column="--forecast",
                        column_word="option",
                    )
                )
                continue
            try:
                out.append(read_forecast(path, instance))
            except InputError as exc:
                problems.extend(exc.problems)
            continue
        source, _, date_text = text.partition("@")
        mine = [r for r in releases if r.source == source]
        if not mine:
            known = ", ".join(sorted({r.name for r in releases})) or "none"
            problems.append(
                Problem(
                    f"no forecast file or release named {text!r} (releases in "
                    f"{FORECASTS_DIR}/{RELEASES_FILE}: {known})",
                    column="--forecast",
                    column_word="option",
                )
            )
            continue
        chosen: Release | None
        if date_text:
            try:
                wanted = dt.date.fromisoformat(date_text)
            except ValueError:
                problems.append(
                    Problem(
                        f"{text!r}: the release must be a date YYYY-MM-DD",
                        column="--forecast",
                        column_word="option",
                    )
                )
                continue
            chosen = next((r for r in mine if r.release == wanted), None)
            if chosen is None:
                problems.append(
                    Problem(
                        f"{source} has no release on {wanted} (releases: "
                        f"{', '.join(r.release.isoformat() for r in mine)})",
                        column="--forecast",
                        column_word="option",
                    )
                )
                continue
            if as_of is not None and chosen.release > as_of:
                problems.append(
                    Problem(
                        f"forecast {chosen.name} was released on {chosen.release}, after the "
                        f"backtest date {as_of}: a plan made on {as_of} could not use it",
                        column="--forecast",
                        column_word="option",
                    )
                )
                continue
        else:
            known_then = [r for r in mine if as_of is None or r.release <= as_of]
            if not known_then:
                problems.append(
                    Problem(
                        f"the backtest date {as_of} is before the first release of {source} "
                        f"({mine[0].release}): no {source} forecast was published by then",
                        column="--forecast",
                        column_word="option",
                    )
                )
                continue
            chosen = known_then[-1]
        try:
            out.append(read_forecast(Path(folder) / FORECASTS_DIR / chosen.file, instance, chosen))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return out


__all__ = [
    "FORECASTS_DIR",
    "RELEASES_FILE",
    "Forecast",
    "Release",
    "forecast_from_frame",
    "read_forecast",
    "read_releases",
    "resolve",
    "window_tables",
]
