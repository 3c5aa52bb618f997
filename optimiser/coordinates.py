"""Region coordinates (coordinates.csv: region, lat, lon) for the report's maps.

Kept apart from optimiser.reporting so that `triage validate` can check the file without
importing the report's renderer (Jinja2) and charts (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from optimiser.errors import InputError, Problem
from optimiser.instance import Instance


def load_coordinates(instance: Instance) -> pd.DataFrame | None:
    """The instance's coordinates.csv (region, lat, lon) as a frame indexed by region, or None.
    Coordinates serve the maps only: rows of unknown regions or out-of-range degrees are an
    InputError naming the file and line."""
    if instance.path is None:
        return None
    path = Path(instance.path) / "coordinates.csv"
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, dtype={"region": str})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(Problem(f"cannot read: {exc}", file=path.name)) from exc
    missing = [c for c in ("region", "lat", "lon") if c not in frame.columns]
    if missing:
        raise InputError(
            Problem(
                f"missing column(s): {', '.join(missing)} (needs region, lat, lon)",
                file=path.name,
                line=1,
            )
        )
    known = set(instance.region_ids)
    problems = []
    for line, row in enumerate(frame.itertuples(index=False), start=2):
        region, lat, lon = str(row.region).strip(), row.lat, row.lon
        if region not in known:
            problems.append(
                Problem(f"unknown region {region!r}", file=path.name, line=line, column="region")
            )
        for column, value, limit in (("lat", lat, 90.0), ("lon", lon, 180.0)):
            number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
            if pd.isna(number) or not -limit <= float(number) <= limit:
                problems.append(
                    Problem(
                        f"must be degrees in [-{limit:g}, {limit:g}], got {value!r}",
                        file=path.name,
                        line=line,
                        column=column,
                    )
                )
    if problems:
        raise InputError(problems)
    frame["region"] = frame["region"].str.strip()
    return frame.set_index("region")[["lat", "lon"]].astype(float)
