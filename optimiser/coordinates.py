"""Region coordinates (coordinates.csv: region, lat, lon) for the report's maps.

Kept apart from optimiser.reporting so that `triage validate` can check the file without
importing the report's renderer (Jinja2) and charts (matplotlib)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from optimiser.errors import InputError, Problem, listed
from optimiser.instance import Instance
from optimiser.textfiles import read_csv_table, read_text, strict_float

COLUMNS = ("region", "lat", "lon")


def load_coordinates(instance: Instance) -> pd.DataFrame | None:
    """The instance's coordinates.csv (region, lat, lon) as a frame indexed by region, or None.
    Coordinates serve the maps only: rows of unknown regions or out-of-range degrees are an
    InputError naming the file and line."""
    if instance.path is None:
        return None
    path = Path(instance.path) / "coordinates.csv"
    if not os.path.lexists(path):
        return None
    # the reader every instance file goes through: a BOM, CRLF, a ragged or a JSON file are
    # one message each, with the line numbers of the file (pandas skipped blank lines)
    problems: list[Problem] = []
    text = read_text(path, problems, required=True)
    table = None if text is None else read_csv_table(text, path.name, problems, COLUMNS)
    if table is None or problems:
        raise InputError(problems)
    missing = [c for c in COLUMNS if c not in table.header]
    unknown = [c for c in table.header if c not in COLUMNS]
    if missing or unknown:
        found = "; ".join(
            part
            for part in (
                f"missing {listed('column', missing)}" if missing else "",
                f"unknown {listed('column', unknown)}" if unknown else "",
            )
            if part
        )
        raise InputError(Problem(f"{found} (needs region, lat, lon)", file=path.name, line=1))
    known = set(instance.region_ids)
    first: dict[str, int] = {}
    rows: dict[str, tuple[float, float]] = {}
    at = [table.header.index(c) for c in COLUMNS]
    for line, row in zip(table.lines, table.rows, strict=True):
        region, lat, lon = (row[i].strip() for i in at)
        if region in first:
            problems.append(Problem(f"duplicate region {region!r} (first on line "
                                    f"{first[region]})", file=path.name, line=line,
                                    column="region"))
            continue
        first[region] = line
        if region not in known:
            problems.append(
                Problem(f"unknown region {region!r}", file=path.name, line=line, column="region")
            )
        degrees = []
        for column, value, limit in (("lat", lat, 90.0), ("lon", lon, 180.0)):
            number = strict_float(value)
            if number is None or not -limit <= number <= limit:
                problems.append(
                    Problem(
                        f"must be degrees in [-{limit:g}, {limit:g}], got {value!r}",
                        file=path.name,
                        line=line,
                        column=column,
                    )
                )
            degrees.append(number)
        rows[region] = (degrees[0] or 0.0, degrees[1] or 0.0)
    if problems:
        raise InputError(problems)
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["lat", "lon"], dtype=float)
    frame.index.name = "region"
    return frame
