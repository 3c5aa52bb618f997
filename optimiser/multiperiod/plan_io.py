"""Plan files: the manifest a logistics team acts on, plus the admissions check-plan replays.

One CSV, one row per movement or admission:

    kind,day,from,to,units,arrives,cohort_day

kind: ship (depot -> region), transfer (spare units region -> region), patients (patients moved
region -> region, admitted on arrival the same day), admit (patients admitted in region `to`).
`arrives` defaults to day + lead time (ship/transfer) or day (patients/admit). cohort_day (for
patients/admit, optional) is the day those patients arrived (negative: already present on day
0); without it the earliest deadline goes first. Without `kind`, a row from a depot is a ship and
a row from a region a transfer. Optional dispatch_date/arrival_date columns must agree with
start_date. Pure pandas/numpy: no model code.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimiser.errors import InputError, Problem, listed
from optimiser.instance import _frame_as_text, _read_csv
from optimiser.multiperiod.instance import (
    MAX_DAYS,
    MAX_UNITS,
    MultiPeriodInstance,
    day_numbers,
    numbers,
)

KINDS = ("ship", "transfer", "patients", "admit")
MOVEMENTS = ("ship", "transfer")
PLAN_COLUMNS = ["kind", "day", "from", "to", "units", "arrives", "cohort_day"]
DATE_COLUMNS = ["dispatch_date", "arrival_date"]
# written by the engine (manifest.csv: ids, names, resource), ignored when read
INFO_COLUMNS = ["status", "shipment_id", "resource", "from_name", "to_name"]
MAX_PROBLEMS = 30


def read_plan(
    path: str | Path, instance: MultiPeriodInstance, *, executed: bool = False
) -> pd.DataFrame:
    """Read and validate a plan (or, with `executed`, a file of units already dispatched).

    Returns columns kind, day, src, dst, units, arrives, cohort_day (NaN when absent), line.
    Malformed or inconsistent rows raise InputError naming file, line and column.
    """
    path = Path(path)
    problems: list[Problem] = []
    raw = _read_csv(path, problems, required=True)
    if problems:
        raise InputError(problems)
    assert raw is not None
    raw.attrs["file"] = path.name
    return validate_plan(raw, instance, executed=executed)


INTERNAL_COLUMNS = ["kind", "day", "src", "dst", "units", "arrives", "cohort_day", "line"]


def plan_rows(
    plan: str | Path | pd.DataFrame,
    instance: MultiPeriodInstance,
    *,
    executed: bool = False,
    name: str = "plan",
) -> pd.DataFrame:
    """Validated rows of a plan given as a file, as a DataFrame in the file's form (for example
    PlanResult.plan or .manifest) or as rows already validated (read_plan's form)."""
    if not isinstance(plan, pd.DataFrame):
        return read_plan(plan, instance, executed=executed)
    if set(INTERNAL_COLUMNS) <= set(plan.columns):
        return plan
    return validate_plan(_frame_as_text(plan, name), instance, executed=executed)


def validate_plan(
    raw: pd.DataFrame, instance: MultiPeriodInstance, *, executed: bool = False
) -> pd.DataFrame:
    file = raw.attrs.get("file", "plan")
    raw.attrs["lines"] = np.asarray(raw.attrs.get("lines", range(2, len(raw) + 2)), dtype=np.int64)
    problems: list[Problem] = []
    # manifest.csv as it is: its dates stand for the day numbers when those are left out
    for number, date in (("day", "dispatch_date"), ("arrives", "arrival_date")):
        if number not in raw.columns and date in raw.columns:
            raw = raw.assign(**{number: raw[date]})
    required = ["day", "from", "to", "units"]
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise InputError(
            Problem(
                f"missing required {listed('column', missing)} (columns: "
                f"{', '.join(PLAN_COLUMNS)}; dispatch_date and arrival_date may stand for day "
                "and arrives)",
                file=file,
            )
        )
    unknown = [c for c in raw.columns if c not in PLAN_COLUMNS + DATE_COLUMNS + INFO_COLUMNS]
    if unknown:
        problems.append(
            Problem(
                f"unknown {listed('column', unknown)} (columns: {', '.join(PLAN_COLUMNS)})",
                file=file,
            )
        )
    lines = np.asarray(raw.attrs.get("lines", list(range(2, len(raw) + 2))), dtype=np.int64)
    T = instance.days
    day = day_numbers(raw, "day", problems, T, instance.start_date)
    units = numbers(raw, "units", problems, minimum=0.0, maximum=MAX_UNITS, unit="units")
    arrives = np.full(len(raw), np.nan)
    if "arrives" in raw.columns:
        given = raw["arrives"].astype(str).str.strip() != ""
        sub = raw.loc[given]
        arrives[given.to_numpy()] = day_numbers(sub, "arrives", problems, T, instance.start_date)
    cohort = np.full(len(raw), np.nan)
    if "cohort_day" in raw.columns:
        cohort = numbers(
            raw,
            "cohort_day",
            problems,
            whole=True,
            minimum=-MAX_DAYS,
            maximum=T - 1,
            allow_empty=True,
            unit="(the last day)",
        )
    if len(problems) > MAX_PROBLEMS or any(p.column in ("day", "units") for p in problems):
        raise InputError(problems)

    depots, regions = set(instance.depots), set(instance.regions)
    depot_index = {k: i for i, k in enumerate(instance.depots)}
    region_index = {r: i for i, r in enumerate(instance.regions)}
    ship_lead = instance.ship_lead.to_numpy(dtype=float)
    region_lead = instance.region_lead.to_numpy(dtype=float)
    src = raw["from"].astype(str).str.strip().to_numpy()
    dst = raw["to"].astype(str).str.strip().to_numpy()
    if "kind" in raw.columns:
        kind = raw["kind"].astype(str).str.strip().str.lower().to_numpy()
    else:
        kind = np.where([s in depots for s in src], "ship", "transfer")
    out_kind, out_arrives = [], []
    for i in range(len(raw)):
        line = int(lines[i])

        def bad(message: str, column: str | None = None, line: int = line) -> None:
            problems.append(Problem(message, file=file, line=line, column=column))

        k, s, t = str(kind[i]), src[i], dst[i]
        if k == "" and "kind" in raw.columns:
            k = "ship" if s in depots else "transfer"
        if k not in KINDS:
            bad(f"unknown kind {k!r} (kinds: {', '.join(KINDS)})", "kind")
        elif executed and k not in MOVEMENTS:
            bad(
                f"an executed file lists dispatched units only (ship or transfer), not {k!r}",
                "kind",
            )
        elif k == "ship":
            if s not in depots:
                bad(
                    f"unknown depot '{s}'"
                    + (" (a region: use kind transfer)" if s in regions else ""),
                    "from",
                )
            if t not in regions:
                bad(f"unknown region '{t}'", "to")
        elif k == "admit":
            if t not in regions:
                bad(f"unknown region '{t}'", "to")
            if s not in ("", t):
                bad(f"an admission happens in one region: 'from' must be empty or '{t}'", "from")
        else:
            if s not in regions:
                bad(
                    f"unknown region '{s}'" + (" (a depot: use kind ship)" if s in depots else ""),
                    "from",
                )
            if t not in regions:
                bad(f"unknown region '{t}'", "to")
            if s == t:
                bad(f"moves from '{s}' to itself", "to")
        if k in MOVEMENTS and np.isfinite(units[i]) and units[i] != round(units[i]):
            bad(f"units of a {k} must be whole, got {units[i]:g}", "units")
        if k in MOVEMENTS and not np.isnan(cohort[i]):
            bad("cohort_day only applies to patients and admit rows", "cohort_day")
        a = arrives[i]
        if k in MOVEMENTS and not np.isnan(a) and a < day[i]:
            bad(
                f"arrives on day {int(a)}, before it was dispatched (day {int(day[i])})",
                "arrives",
            )
        if k in ("patients", "admit"):
            if not np.isnan(a) and a != day[i]:
                bad(
                    f"patients are admitted on the day they move: arrives must be {int(day[i])}, "
                    f"got {int(a)}",
                    "arrives",
                )
            a = day[i]
        elif np.isnan(a):
            lead = np.nan
            if k == "ship" and s in depot_index and t in region_index:
                lead = ship_lead[depot_index[s], region_index[t]]
            elif k == "transfer" and s in region_index and t in region_index:
                lead = region_lead[region_index[s], region_index[t]]
                if np.isnan(lead):
                    lead = float(instance.default_lead)
            if np.isfinite(lead):
                a = day[i] + lead
                if a > T - 1:
                    bad(
                        f"arrives on day {int(a)} (day {int(day[i])} + lead time {int(lead)}), "
                        f"outside the horizon (days 0..{T - 1})",
                        "arrives",
                    )
        if executed and day[i] >= T:
            bad("day outside the horizon", "day")
        out_kind.append(k)
        out_arrives.append(a)
        if len(problems) > MAX_PROBLEMS:
            break
    _check_dates(
        raw,
        instance,
        day,
        np.asarray(out_arrives + [np.nan] * (len(raw) - len(out_arrives))),
        problems,
    )
    if problems:
        raise InputError(problems)
    frame = pd.DataFrame(
        {
            "kind": out_kind,
            "day": day.astype(np.int64),
            "src": src,
            "dst": dst,
            "units": units,
            "arrives": np.asarray(out_arrives, dtype=float).astype(np.int64),
            "cohort_day": cohort,
            "line": lines,
        }
    )
    frame.attrs["file"] = file
    return frame


def _check_dates(
    raw: pd.DataFrame,
    instance: MultiPeriodInstance,
    day: np.ndarray,
    arrives: np.ndarray,
    problems: list[Problem],
) -> None:
    file = raw.attrs.get("file", "plan")
    lines = raw.attrs.get("lines", list(range(2, len(raw) + 2)))
    for column, values in (("dispatch_date", day), ("arrival_date", arrives)):
        if column not in raw.columns:
            continue
        if instance.start_date is None:
            problems.append(
                Problem(
                    f"has a {column} column but the instance has no start_date",
                    file=file,
                    column=column,
                )
            )
            continue
        for i, text in enumerate(raw[column].astype(str).str.strip()):
            if text == "" or np.isnan(values[i]):
                continue
            expect = instance.date(int(values[i]))
            if text != expect:
                problems.append(
                    Problem(
                        f"{column} {text} disagrees with day {int(values[i])} ({expect})",
                        file=file,
                        line=int(lines[i]),
                        column=column,
                    )
                )


def plan_frame(rows: pd.DataFrame, instance: MultiPeriodInstance) -> pd.DataFrame:
    """The CSV form of internal rows (kind, day, src, dst, units, arrives, cohort_day), with
    dates when the instance has a start_date. Whole numbers are written as integers."""
    out = pd.DataFrame(
        {
            "kind": rows["kind"].to_numpy(),
            "day": rows["day"].astype(np.int64).to_numpy(),
            "from": rows["src"].to_numpy(),
            "to": rows["dst"].to_numpy(),
            "units": number_texts(rows["units"].to_numpy()),
            "arrives": rows["arrives"].astype(np.int64).to_numpy(),
            "cohort_day": day_texts(rows["cohort_day"].astype(float).to_numpy()),
        }
    )
    if instance.start_date is not None:
        out["dispatch_date"] = [instance.date(d) for d in out["day"]]
        out["arrival_date"] = [instance.date(d) for d in out["arrives"]]
    return out


def _number(value: float) -> str:
    value = float(value)
    return str(int(value)) if value == int(value) else repr(value)


# whole numbers below this are written from an int64 array at once (exactly: 2**53 < 2**63)
_WHOLE_AT_ONCE = 2.0**53


def number_texts(values: np.ndarray) -> list[str]:
    """`[_number(v) for v in values]`: whole numbers at once, the others one by one (track
    pyrest: 60,000 plan rows at 1,000 x 90 were 0.07 CPU-s)."""
    try:
        floats = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return [_number(v) for v in values]
    whole = np.abs(floats) < _WHOLE_AT_ONCE
    whole[whole] = floats[whole] == np.trunc(floats[whole])
    out: list[str] = np.where(whole, floats, 0.0).astype(np.int64).astype(str).tolist()
    for i in np.flatnonzero(~whole).tolist():
        out[i] = _number(floats[i])
    return out


def day_texts(days: np.ndarray) -> list[str]:
    """`["" if np.isnan(c) else str(int(c)) for c in days]` (days as floats, NaN: none)."""
    days = np.asarray(days, dtype=float)
    missing = np.isnan(days)
    small = ~missing & (np.abs(days) < _WHOLE_AT_ONCE)
    out: list[str] = np.where(small, days, 0.0).astype(np.int64).astype(str).tolist()
    for i in np.flatnonzero(~small).tolist():
        out[i] = "" if missing[i] else str(int(days[i]))
    return out


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV next to its destination, then rename: never half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            frame.to_csv(handle, index=False, lineterminator="\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def records(frame: pd.DataFrame) -> Iterator[Any]:
    """Rows as named tuples (typed loosely: columns hold ids, days and numbers)."""
    yield from frame.itertuples(index=False)


def today_from(executed: pd.DataFrame) -> int:
    """Default re-planning day: the day after the last dispatch in the executed file."""
    return int(executed["day"].max()) + 1 if len(executed) else 0


__all__ = [
    "KINDS",
    "PLAN_COLUMNS",
    "dt",
    "plan_frame",
    "plan_rows",
    "read_plan",
    "today_from",
    "validate_plan",
    "write_csv_atomic",
]
