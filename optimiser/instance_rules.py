"""The rules of an instance's tables: regions.csv and tiers.csv, row by row.

The one definition of what a number may be (COLUMN_BOUNDS and its siblings): the engine checks
it for files, DataFrames and JSON alike, and the service states it in its OpenAPI schema
(optimiser.service.schemas). Loading and assembling an instance is optimiser.instance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd

from optimiser.errors import Problem, plural
from optimiser.errors import listed as listed_as
from optimiser.textfiles import ProblemList, did_you_mean, not_a_number, strict_float

REQUIRED_COLUMNS = ("region", "population", "capacity", "peak_demand")
OPTIONAL_DEFAULTS: dict[str, float | None] = {
    "survival_with": 1.0,
    "survival_without": 0.0,
    "los_days": None,  # missing: the horizon H
    "staff_cap": None,  # missing: unlimited
    "pressure": 1.0,
    "weight": 1.0,
}
TEXT_COLUMNS = ("region", "name")
REGION_COLUMNS = (*REQUIRED_COLUMNS, "name", *OPTIONAL_DEFAULTS)
MAX_SUPPLY = 10**9  # units; beyond it numbers lose meaning (and int64 overflows)


def _line_numbers(raw: pd.DataFrame) -> list[int]:
    """The file line (or row) of each row of a raw table."""
    found = raw.attrs.get("lines")
    return list(range(2, len(raw) + 2)) if found is None else [int(x) for x in found]


def _parse_number(text: str) -> float | None:
    """A number as the docs define it (optimiser.textfiles.strict_float): no 9_000_000, no
    digits of other scripts."""
    return strict_float(text)


def _hints(missing: Sequence[str], present: Sequence[str]) -> str:
    """' (found Region: did you mean region?)' style hints for missing columns."""
    found = []
    for name in present:
        hint = did_you_mean(name, missing)
        if hint:
            found.append(f"'{name}'{hint}")
    return f"; found {', '.join(found)}" if found else ""


def _with_hints(names: Sequence[str], choices: Sequence[str]) -> str:
    return ", ".join(f"{n}{did_you_mean(n, choices)}" for n in names)


def _validate_regions(
    raw: pd.DataFrame,
    defaults: dict[str, Any],
    problems: list[Problem],
    toml_file: str | None = "instance.toml",
) -> pd.DataFrame | None:
    file = raw.attrs.get("file", "regions.csv")
    lines = _line_numbers(raw)
    before = len(problems)
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    unknown = [c for c in raw.columns if c not in REGION_COLUMNS]
    if missing:
        problems.append(Problem(
            f"missing required {listed_as('column', missing)}"
            + _hints(missing, unknown), file=file))
    if unknown:
        problems.append(
            Problem(
                f"unknown {plural(len(unknown), 'column')}: {_with_hints(unknown, REGION_COLUMNS)} "
                f"(optional columns: name, {', '.join(OPTIONAL_DEFAULTS)})",
                file=file,
            )
        )
    if missing:
        return None
    if len(raw) == 0:
        problems.append(Problem("empty table: no regions", file=file))
        return None
    listed = ProblemList(problems, file)
    refused = raw.attrs.get("refused", set())  # JSON values of the wrong type, already named
    ids = [str(v).strip() for v in raw["region"]]
    seen: dict[str, int] = {}
    for line, rid in zip(lines, ids, strict=True):
        if (line, "region") in refused:
            continue
        if rid == "":
            listed.add(Problem("empty region id", file=file, line=line, column="region"))
        elif rid in seen:
            listed.add(
                Problem(
                    f"duplicate region id '{rid}' (first on line {seen[rid]})",
                    file=file,
                    line=line,
                    column="region",
                )
            )
        else:
            seen[rid] = line

    columns: dict[str, list[float]] = {}
    numeric = ["population", "capacity", "peak_demand", *OPTIONAL_DEFAULTS]
    for col in numeric:
        values: list[float] = []
        default = defaults.get(col, OPTIONAL_DEFAULTS.get(col))
        for line, rid, text in zip(
            lines, ids, raw[col] if col in raw.columns else [""] * len(raw), strict=True
        ):
            if listed.full:  # enough listed: stop here, in bounded time (the rest is unread)
                listed.stop()
                break
            text = str(text).strip()
            if text == "" and (line, col) in refused:
                values.append(math.nan)
                continue
            if text == "":
                if col in REQUIRED_COLUMNS:
                    listed.add(
                        Problem(
                            "missing value", file=file, line=line, column=col, region=rid or None
                        )
                    )
                    values.append(math.nan)
                    continue
                values.append(math.nan if default is None else float(default))
                continue
            value = _parse_number(text)
            if value is None:
                listed.add(
                    Problem(
                        not_a_number(text),
                        file=file,
                        line=line,
                        column=col,
                        region=rid or None,
                    )
                )
                values.append(math.nan)
                continue
            if not math.isfinite(value):
                listed.add(
                    Problem(
                        f"must be finite, got {text}",
                        file=file,
                        line=line,
                        column=col,
                        region=rid or None,
                    )
                )
                values.append(math.nan)
                continue
            message = _check_range(col, value)
            if message:
                listed.add(
                    Problem(message, file=file, line=line, column=col, region=rid or None)
                )
            values.append(value)
        columns[col] = values
    if listed.stopped:
        listed.close()
        return None
    # Defaults themselves must be in range.
    for col, val in defaults.items():
        if col in OPTIONAL_DEFAULTS and isinstance(val, int | float) and not isinstance(val, bool):
            message = _check_range(col, float(val))
            if message:
                problems.append(Problem(f"field 'defaults.{col}': {message}", file=toml_file))
    for line, rid, sw, swo in zip(
        lines, ids, columns["survival_with"], columns["survival_without"], strict=True
    ):
        if sw == sw and swo == swo and swo > sw:
            listed.add(
                Problem(
                    f"survival_without ({swo:g}) is greater than survival_with ({sw:g})",
                    file=file,
                    line=line,
                    column="survival_without",
                    region=rid or None,
                )
            )
    listed.close()
    if len(problems) > before:
        return None
    frame = pd.DataFrame(columns, index=pd.Index(ids, name="region"))
    names = [str(v).strip() for v in raw["name"]] if "name" in raw.columns else [""] * len(ids)
    default_name = str(defaults.get("name", "")).strip()
    frame.insert(
        0, "name", [n or default_name or rid for n, rid in zip(names, ids, strict=True)]
    )
    return frame


def _region_ids(regions: pd.DataFrame | None, raw: pd.DataFrame | None) -> set[str]:
    """Region ids to check tiers against: the validated ones, else those the file names."""
    if regions is not None:
        return {str(r) for r in regions.index}
    if raw is not None and "region" in raw.columns:
        return {str(v).strip() for v in raw["region"]}
    return set()


def _check_range(col: str, value: float) -> str | None:
    if col == "population" and value <= 0:
        return f"must be > 0, got {value:g}"
    if col in ("capacity", "peak_demand") and value < 0:
        return f"must be >= 0, got {value:g}"
    if col in ("survival_with", "survival_without") and not 0.0 <= value <= 1.0:
        return f"is a probability: must be in [0, 1], got {value:g}"
    if col == "los_days" and value <= 0:
        return f"must be > 0, got {value:g}"
    if col == "staff_cap" and (value < 0 or value != int(value)):
        return f"must be a whole number >= 0, got {value:g}"
    if col == "pressure" and not 0.0 < value <= 1.0:
        return f"must be in (0, 1], got {value:g}"
    if col == "weight" and value < 0:
        return f"must be >= 0, got {value:g}"
    upper = UPPER_BOUNDS.get(col)
    if upper is not None and value > upper:
        return f"must be at most {upper:g}, got {value:g} (beyond it numbers lose meaning)"
    lower = LOWER_BOUNDS.get(col)
    if lower is not None and 0 < value < lower:
        return f"must be at least {lower:g} when positive, got {value:g}"
    return None


# Sanity bounds: far beyond any real region, but they keep every computation finite. The one
# definition of what a number may be: the engine checks it, the service states it in its
# OpenAPI schema (optimiser.service.schemas), every path (file, DataFrame, JSON) uses it.


@dataclass(frozen=True)
class Bounds:
    """Allowed values: minimum <= value <= maximum, a whole number if `whole`."""

    minimum: float
    maximum: float
    whole: bool = False


COLUMN_BOUNDS: dict[str, Bounds] = {
    "population": Bounds(1.0, 1e10),  # > 0, and at least one person
    "capacity": Bounds(0.0, MAX_SUPPLY),
    "peak_demand": Bounds(0.0, MAX_SUPPLY),
    "survival_with": Bounds(0.0, 1.0),
    "survival_without": Bounds(0.0, 1.0),
    "los_days": Bounds(1e-3, 1e5),
    "staff_cap": Bounds(0.0, MAX_SUPPLY, whole=True),
    "pressure": Bounds(1e-6, 1.0),
    "weight": Bounds(0.0, 1e6),
}
TIER_BOUNDS: dict[str, Bounds] = {"share": Bounds(0.0, 1.0), "survival_with": Bounds(0.0, 1.0)}
HORIZON_BOUNDS = Bounds(1e-3, 1e5)  # days
SUPPLY_BOUNDS = Bounds(0.0, MAX_SUPPLY, whole=True)
UPPER_BOUNDS: dict[str, float] = {
    c: COLUMN_BOUNDS[c].maximum
    for c in ("population", "capacity", "peak_demand", "staff_cap", "los_days", "weight")
}
LOWER_BOUNDS: dict[str, float] = {
    c: COLUMN_BOUNDS[c].minimum for c in ("population", "los_days", "pressure")
}


TIER_TOLERANCE = 1e-6


TIER_COLUMNS = ("region", "share", "survival_with")


def _validate_tiers(
    raw: pd.DataFrame,
    region_ids: set[str],
    problems: list[Problem],
    regions: pd.DataFrame | None = None,
) -> pd.DataFrame | None:
    """Check tiers.csv against the region ids; with the validated `regions`, also against
    each region's survival_without."""
    file = raw.attrs.get("file", "tiers.csv")
    lines = _line_numbers(raw)
    before = len(problems)
    missing = [c for c in TIER_COLUMNS if c not in raw.columns]
    if missing:
        problems.append(Problem(f"missing required {listed_as('column', missing)}", file=file))
        return None
    unknown = [c for c in raw.columns if c not in TIER_COLUMNS]
    if unknown:
        problems.append(
            Problem(
                f"unknown {listed_as('column', unknown)} (columns: {', '.join(TIER_COLUMNS)})",
                file=file,
            )
        )
    if len(raw) == 0:
        problems.append(Problem("empty table: no tiers", file=file))
        return None
    records = []
    unreadable: set[str] = set()
    refused = raw.attrs.get("refused", set())  # JSON values of the wrong type, already named
    for line, row in zip(lines, raw.itertuples(index=False), strict=True):
        rid = str(row.region).strip()
        if any((line, col) in refused for col in TIER_COLUMNS):
            continue
        if rid not in region_ids:
            problems.append(
                Problem(f"unknown region '{rid}'", file=file, line=line, column="region")
            )
            continue
        vals = {}
        for col in ("share", "survival_with"):
            text = str(getattr(row, col)).strip()
            value = _parse_number(text)
            if value is None or not math.isfinite(value):
                problems.append(
                    Problem(
                        f"not a finite number: {text!r}",
                        file=file,
                        line=line,
                        column=col,
                        region=rid,
                    )
                )
                continue
            if not 0.0 <= value <= 1.0:
                problems.append(
                    Problem(
                        f"must be in [0, 1], got {value:g}",
                        file=file,
                        line=line,
                        column=col,
                        region=rid,
                    )
                )
            vals[col] = value
        if len(vals) == 2:
            swo = 0.0
            if regions is not None:
                swo = float(cast(float, regions.at[rid, "survival_without"]))
            if vals["survival_with"] < swo:
                problems.append(
                    Problem(
                        f"survival_with ({vals['survival_with']:g}) is below the region's "
                        f"survival_without ({swo:g})",
                        file=file,
                        line=line,
                        column="survival_with",
                        region=rid,
                    )
                )
            records.append((rid, line, vals["share"], vals["survival_with"]))
        else:
            unreadable.add(rid)
    tiers = pd.DataFrame(records, columns=["region", "line", "share", "survival_with"])
    for key, group in tiers.groupby("region", sort=False):
        rid = str(key)
        if rid in unreadable:  # a share could not be read: its sum would mislead
            continue
        total = float(group["share"].sum())
        if abs(total - 1.0) > TIER_TOLERANCE:
            problems.append(
                Problem(
                    f"tier shares of region '{rid}' sum to {total:g}, not 1 (lines "
                    f"{', '.join(str(x) for x in group['line'])})",
                    file=file,
                    column="share",
                )
            )
    if len(problems) > before:
        return None
    tiers["tier"] = tiers.groupby("region", sort=False).cumcount()
    return tiers[["region", "tier", "share", "survival_with"]].reset_index(drop=True)


# The documentation tables of instance.toml (docs/instance-format.md): [assumptions] holds text,
# [provenance] text or lists of text (its `inputs`: the files an instance was built from).
# Anything else (a number, a date, a nested table) is refused: these tables are kept with the
# instance as written, for people to read, and a value no one can read as a sentence is a slip.
DOC_TABLES = {"assumptions": "text", "provenance": "text or a list of texts"}


def doc_table_problems(meta: Mapping[str, Any], file: str | None) -> list[Problem]:
    """A problem per value of [assumptions] or [provenance] that is not of its kind."""
    problems = []
    for table, kind in DOC_TABLES.items():
        values = meta.get(table)
        if not isinstance(values, Mapping):
            continue  # missing, or not a table: said by the caller
        for key, value in values.items():
            texts = isinstance(value, list) and all(isinstance(v, str) for v in value)
            if isinstance(value, str) or (table == "provenance" and texts):
                continue
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            message = f"must be {kind} (a documentation table), got {shown}"
            problems.append(Problem(f"field '{table}.{key}': {message}", file=file))
    return problems
