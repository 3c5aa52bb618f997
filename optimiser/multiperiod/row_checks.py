"""Checks shared by every multi-period table reader: required and unknown columns, whole
numbers and day numbers read column by column with one problem per row (at most
MAX_ROW_PROBLEMS per file and column), and the sanity bounds of docs/multiperiod.md ("Bounds").
The scenario and forecast readers (optimiser/scenarios/) use them too.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from optimiser.errors import Problem, counted, listed
from optimiser.instance import MAX_SUPPLY
from optimiser.textfiles import not_a_number

DEMAND_KINDS = ("census", "new_patients")
MAX_LISTED = 8  # how many days/regions an error message lists before "and N more"
MAX_ROW_PROBLEMS = 20  # per file and column
# Sanity bounds (docs/multiperiod.md, "Bounds"): far beyond any real plan, they keep every
# day index and count finite and inside int64. Units and patients: MAX_SUPPLY (as the
# single-period engine's supply and capacity); days, lead times, waits and stays: MAX_DAYS.
MAX_DAYS = 3_660  # ten years of days
MAX_UNITS = MAX_SUPPLY


def _whole(
    value: Any, key: str, problems: list[Problem], minimum: int, maximum: int = MAX_DAYS
) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and (not math.isfinite(value) or value != int(value)))
        or not minimum <= value <= maximum
    ):
        problems.append(
            Problem(
                f"field '{key}': must be a whole number >= {minimum} and <= {maximum:,}, got "
                f"{value!r}",
                file="instance.toml",
            )
        )
        return None
    return int(value)


def _lines(frame: pd.DataFrame) -> np.ndarray:
    if "lines" in frame.attrs:  # (the default not made unless used: 90,000 rows at 1,000 x 90)
        return np.asarray(frame.attrs["lines"], dtype=np.int64)
    return np.arange(2, len(frame) + 2, dtype=np.int64)


def _require(frame: pd.DataFrame, columns: Sequence[str], problems: list[Problem]) -> bool:
    file = frame.attrs.get("file")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        problems.append(Problem(f"missing required {listed('column', missing)}", file=file))
        return False
    return True


def _unknown_columns(frame: pd.DataFrame, allowed: Sequence[str], problems: list[Problem]) -> None:
    extra = [c for c in frame.columns if c not in allowed]
    if extra:
        problems.append(
            Problem(
                f"unknown {listed('column', extra)} (columns: {', '.join(allowed)})",
                file=frame.attrs.get("file"),
            )
        )


def _report_rows(
    frame: pd.DataFrame, bad: np.ndarray, column: str, message: Any, problems: list[Problem]
) -> None:
    """One problem per bad row (at most MAX_ROW_PROBLEMS, then a count)."""
    idx = np.nonzero(bad)[0]
    if not len(idx):  # nothing to say: no copy of the column (8 ms at 90,000 rows)
        return
    file = frame.attrs.get("file")
    lines = _lines(frame)
    values = frame[column].to_numpy(dtype=object) if column in frame.columns else [""] * len(frame)
    for i in idx[:MAX_ROW_PROBLEMS]:
        problems.append(Problem(message(values[i]), file=file, line=int(lines[i]), column=column))
    if len(idx) > MAX_ROW_PROBLEMS:
        problems.append(
            Problem(
                f"{counted(len(idx) - MAX_ROW_PROBLEMS, 'more row')} like these",
                file=file,
                column=column,
            )
        )


def numbers(
    frame: pd.DataFrame,
    column: str,
    problems: list[Problem],
    *,
    whole: bool = False,
    minimum: float | None = 0.0,
    maximum: float | None = None,
    allow_empty: bool = False,
    unit: str = "",
) -> np.ndarray:
    """The column as floats (NaN for empty cells when allowed); bad cells become problems.
    `maximum`: a sanity bound (MAX_UNITS, MAX_DAYS), named with `unit` in the message."""
    text = frame[column].astype(str).str.strip()
    empty = (text == "").to_numpy()
    values = pd.to_numeric(text.where(~empty, None), errors="coerce").to_numpy(dtype=float)
    if allow_empty:
        missing = np.zeros(len(text), dtype=bool)
    else:
        missing = empty
        _report_rows(frame, missing, column, lambda v: "missing value", problems)
    not_number = ~empty & np.isnan(values)
    _report_rows(frame, not_number, column, not_a_number, problems)
    infinite = np.isinf(values)
    _report_rows(frame, infinite, column, lambda v: f"must be finite, got {v}", problems)
    ok = ~empty & np.isfinite(values)
    if minimum is not None:
        low = ok & (values < minimum)
        _report_rows(frame, low, column, lambda v: f"must be >= {minimum:g}, got {v}", problems)
    if maximum is not None:
        high = ok & (values > maximum)
        what = f" {unit}" if unit else ""
        _report_rows(
            frame,
            high,
            column,
            lambda v: (
                f"must be at most {maximum:,.0f}{what} (beyond it numbers lose meaning), got {v}"
            ),
            problems,
        )
    if whole:
        frac = ok & (values != np.round(values))
        _report_rows(frame, frac, column, lambda v: f"must be a whole number, got {v}", problems)
    return values


def day_numbers(
    frame: pd.DataFrame,
    column: str,
    problems: list[Problem],
    horizon: int | None,
    start: dt.date | None,
) -> np.ndarray:
    """Days as whole numbers 0..T-1, or ISO dates when the instance has a start_date."""
    text = frame[column].astype(str).str.strip()
    values = np.array(pd.to_numeric(text, errors="coerce"), dtype=float)  # a writable copy
    if start is not None:
        as_date = np.isnan(values) & text.str.match(r"^\d{4}-\d{2}-\d{2}$").to_numpy()
        for i in np.nonzero(as_date)[0]:
            try:
                day = (dt.date.fromisoformat(text.iloc[i]) - start).days
            except ValueError:
                continue
            values[i] = day
    hint = " or a date YYYY-MM-DD" if start is not None else ""
    _report_rows(
        frame, np.isnan(values), column, lambda v: f"not a day number{hint}: {v!r}", problems
    )
    ok = np.isfinite(values)
    _report_rows(
        frame,
        ok & (values != np.round(values)),
        column,
        lambda v: f"must be a whole day, got {v}",
        problems,
    )
    last = horizon - 1 if horizon is not None else MAX_DAYS - 1
    limit = f"0..{last}" if horizon is not None else f"0..{last:,}, the longest horizon supported"
    outside = ~np.isnan(values) & ((values < 0) | (values > last))  # inf and 1e400 too
    _report_rows(
        frame, outside, column, lambda v: f"day {v} is outside the horizon (days {limit})", problems
    )
    return values


def _listing(items: Sequence[Any]) -> str:
    shown = ", ".join(str(x) for x in items[:MAX_LISTED])
    more = f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return shown + more


def _ranges(days: Sequence[int]) -> list[str]:
    """[1, 2, 3, 7] -> ['1-3', '7']."""
    out: list[str] = []
    days = sorted(days)
    i = 0
    while i < len(days):
        j = i
        while j + 1 < len(days) and days[j + 1] == days[j] + 1:
            j += 1
        out.append(str(days[i]) if i == j else f"{days[i]}-{days[j]}")
        i = j + 1
    return out
