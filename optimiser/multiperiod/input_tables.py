"""The tables of a multi-period instance, each read and validated against the regions and the
horizon: demand.csv, deliveries.csv, lead_times.csv, capacity.csv (docs/multiperiod.md,
"Data"). Every problem names its file, line and column; optimiser/multiperiod/instance.py
assembles them into a MultiPeriodInstance.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from optimiser.errors import Problem, plural
from optimiser.instance import Instance
from optimiser.multiperiod.row_checks import (
    DEMAND_KINDS,
    MAX_DAYS,
    MAX_ROW_PROBLEMS,
    MAX_UNITS,
    _lines,
    _listing,
    _ranges,
    _report_rows,
    _require,
    _unknown_columns,
    day_numbers,
    numbers,
)

DEFAULT_DEPOT = "depot"


def _demand(
    raw: pd.DataFrame,
    regions: list[str],
    days_given: int | None,
    kind_given: str | None,
    start: dt.date | None,
    problems: list[Problem],
) -> tuple[str, pd.DataFrame | None, int | None]:
    """(kind, the regions x days table or None, the horizon T when it is known)."""
    file = raw.attrs.get("file", "demand.csv")
    if not _require(raw, ("region", "day"), problems):
        return "census", None, days_given
    kinds = [k for k in DEMAND_KINDS if k in raw.columns]
    if kind_given is not None:
        if kind_given not in raw.columns:
            problems.append(
                Problem(
                    f"demand_kind is '{kind_given}' but there is no '{kind_given}' column",
                    file=file,
                )
            )
            return kind_given, None, days_given
        kind = kind_given
    elif len(kinds) == 1:
        kind = kinds[0]
    elif not kinds:
        problems.append(Problem("needs a 'census' or a 'new_patients' column", file=file))
        return "census", None, days_given
    else:
        problems.append(
            Problem(
                "has both 'census' and 'new_patients': say which with [multiperiod] demand_kind",
                file=file,
            )
        )
        return "census", None, days_given
    _unknown_columns(raw, ["region", "day", *kinds], problems)
    if len(raw) == 0:
        problems.append(Problem("empty table: no rows", file=file))
        return kind, None, days_given
    before = len(problems)
    ids = raw["region"].astype(str).str.strip().to_numpy()
    known = set(regions)
    unknown = np.array([rid not in known for rid in ids])
    _report_rows(
        raw,
        unknown,
        "region",
        lambda v: f"unknown region '{str(v).strip()}' (not in regions.csv)",
        problems,
    )
    day = day_numbers(raw, "day", problems, days_given, start)
    value = numbers(raw, kind, problems, minimum=0.0, maximum=MAX_UNITS, unit="patients")
    valid = day[np.isfinite(day) & (day >= 0) & (day < MAX_DAYS) & (day == np.round(day))]
    T = days_given if days_given is not None else (int(valid.max()) + 1 if len(valid) else None)
    if len(problems) > before or T is None:
        return kind, None, T
    frame = pd.DataFrame({"region": ids, "day": day.astype(np.int64), "value": value})
    lines = _lines(raw)
    dup = frame.duplicated(["region", "day"], keep="first").to_numpy()
    for i in np.nonzero(dup)[0][:MAX_ROW_PROBLEMS]:
        problems.append(
            Problem(
                f"duplicate row for region '{ids[i]}', day {int(day[i])}",
                file=file,
                line=int(lines[i]),
            )
        )
    if dup.any():
        return kind, None, T
    table = frame.pivot(index="region", columns="day", values="value")
    table = table.reindex(index=regions, columns=range(T))
    present = set(ids)
    absent = [r for r in regions if r not in present]
    if absent:
        problems.append(
            Problem(
                f"no rows for {plural(len(absent), 'region')} {_listing(absent)} (every region "
                f"needs every day 0..{T - 1})",
                file=file,
            )
        )
    holes = table.isna().to_numpy()
    skip = set(absent)
    for i in np.nonzero(holes.any(axis=1))[0]:
        rid = regions[i]
        if rid in skip:
            continue
        missing = np.nonzero(holes[i])[0]
        problems.append(
            Problem(
                f"region '{rid}' has no row for {plural(len(missing), 'day')} "
                f"{_listing(_ranges(missing.tolist()))} "
                f"({len(missing)} of {T} days missing)",
                file=file,
                region=rid,
            )
        )
    if len(problems) > before:
        return kind, None, T
    table.columns = pd.RangeIndex(T, name="day")
    table.index.name = "region"
    return kind, table.astype(float), T


def _deliveries(
    raw: pd.DataFrame | None,
    depots_given: list[str] | None,
    regions: list[str],
    supply: int,
    T: int,
    start: dt.date | None,
    problems: list[Problem],
) -> tuple[list[str], pd.DataFrame]:
    depots = list(depots_given) if depots_given else []
    rows: list[tuple[str, int, float]] = []
    if raw is not None:
        before = len(problems)
        if _require(raw, ("day", "quantity"), problems):
            _unknown_columns(raw, ["day", "quantity", "depot"], problems)
            day = day_numbers(raw, "day", problems, T, start)
            qty = numbers(
                raw, "quantity", problems, whole=True, minimum=0.0, maximum=MAX_UNITS, unit="units"
            )
            if "depot" in raw.columns:
                names = raw["depot"].astype(str).str.strip().to_numpy()
                if not depots_given:
                    for name in names:
                        if name and name not in depots:
                            depots.append(name)
                known = set(depots)
                region_ids = set(regions)
                _report_rows(raw, names == "", "depot", lambda v: "missing depot name", problems)
                _report_rows(
                    raw,
                    np.array([n != "" and n in region_ids for n in names]),
                    "depot",
                    lambda v: f"'{str(v).strip()}' is a region, not a depot",
                    problems,
                )
                _report_rows(
                    raw,
                    np.array([n != "" and n not in known and n not in region_ids for n in names]),
                    "depot",
                    lambda v: f"unknown depot '{str(v).strip()}' (depots: {', '.join(depots)})",
                    problems,
                )
            else:
                names = np.array(
                    [(depots[0] if depots else DEFAULT_DEPOT)] * len(raw), dtype=object
                )
            if len(problems) == before:
                rows = [(str(n), int(d), float(q)) for n, d, q in zip(names, day, qty, strict=True)]
    if not depots:
        depots = [DEFAULT_DEPOT]
    table = pd.DataFrame(
        0.0, index=pd.Index(depots, name="depot"), columns=pd.RangeIndex(T, name="day")
    )
    values = np.zeros((len(depots), T))
    where = {k: i for i, k in enumerate(depots)}
    for name, d, q in rows:
        if name in where:
            values[where[name], d] += q
    values[0, 0] += float(supply)
    total = float(values.sum())
    if total > MAX_UNITS:
        file = "instance.toml" if raw is None else raw.attrs.get("file", "deliveries.csv")
        problems.append(
            Problem(
                f"delivers {total:,.0f} units in all (with instance.toml's supply), more than "
                f"{MAX_UNITS:,} (beyond it numbers lose meaning)",
                file=file,
                column="quantity",
            )
        )
    return depots, pd.DataFrame(values, index=table.index, columns=table.columns)


def _lead_times(
    raw: pd.DataFrame | None,
    depots: list[str],
    regions: list[str],
    default: int,
    problems: list[Problem],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    ship = pd.DataFrame(
        float(default), index=pd.Index(depots, name="from"), columns=pd.Index(regions, name="to")
    )
    lanes = pd.DataFrame(
        np.nan, index=pd.Index(regions, name="from"), columns=pd.Index(regions, name="to")
    )
    region_rows = 0
    if raw is not None:
        before = len(problems)
        if _require(raw, ("from", "to", "days"), problems):
            _unknown_columns(raw, ["from", "to", "days"], problems)
            src = raw["from"].astype(str).str.strip().to_numpy()
            dst = raw["to"].astype(str).str.strip().to_numpy()
            days = numbers(
                raw, "days", problems, whole=True, minimum=0.0, maximum=MAX_DAYS, unit="days"
            )
            region_set, depot_set = set(regions), set(depots)
            _report_rows(
                raw,
                np.array([s not in region_set and s not in depot_set for s in src]),
                "from",
                lambda v: f"unknown depot or region '{str(v).strip()}'",
                problems,
            )
            _report_rows(
                raw,
                np.array([t not in region_set for t in dst]),
                "to",
                lambda v: (
                    f"unknown region '{str(v).strip()}'"
                    + (" (a depot cannot receive)" if str(v).strip() in depot_set else "")
                ),
                problems,
            )
            _report_rows(
                raw, src == dst, "to", lambda v: f"lane from '{str(v).strip()}' to itself", problems
            )
            pairs = pd.Series(list(zip(src, dst, strict=True)))
            dup = pairs.duplicated().to_numpy()
            _report_rows(
                raw,
                dup,
                "to",
                lambda v: "duplicate lane (same from and to as an earlier row)",
                problems,
            )
            if len(problems) == before:
                depot_at = {k: i for i, k in enumerate(depots)}
                region_at = {r: i for i, r in enumerate(regions)}
                from_depot = np.array([s_ in depot_set for s_ in src], dtype=bool)
                to_idx = np.array([region_at[t] for t in dst], dtype=np.int64)
                ship_values = ship.to_numpy(dtype=float).copy()
                lane_values = lanes.to_numpy(dtype=float).copy()
                k_idx = np.array([depot_at[s_] for s_ in src[from_depot]], dtype=np.int64)
                ship_values[k_idx, to_idx[from_depot]] = days[from_depot]
                q_idx = np.array([region_at[s_] for s_ in src[~from_depot]], dtype=np.int64)
                lane_values[q_idx, to_idx[~from_depot]] = days[~from_depot]
                region_rows = int((~from_depot).sum())
                ship = pd.DataFrame(ship_values, index=ship.index, columns=ship.columns)
                lanes = pd.DataFrame(lane_values, index=lanes.index, columns=lanes.columns)
    if region_rows == 0 and len(regions) > 1:
        full = np.full((len(regions), len(regions)), float(default))
        np.fill_diagonal(full, np.nan)
        lanes = pd.DataFrame(full, index=lanes.index, columns=lanes.columns)
    return ship, lanes


def _capacity(
    raw: pd.DataFrame | None, base: Instance, T: int, start: dt.date | None, problems: list[Problem]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    regions = base.region_ids
    cols = pd.RangeIndex(T, name="day")
    index = pd.Index(regions, name="region")
    own_base = base.regions["capacity"].to_numpy(dtype=float)
    staff_base = base.staff_cap.to_numpy(dtype=float)
    bad_own = own_base != np.round(own_base)
    for rid in np.array(regions)[bad_own]:
        problems.append(
            Problem(
                "capacity must be a whole number of units in a multi-period instance",
                file="regions.csv",
                region=rid,
                column="capacity",
            )
        )
    own = pd.DataFrame(np.repeat(own_base[:, None], T, axis=1), index=index, columns=cols)
    staff = pd.DataFrame(np.repeat(staff_base[:, None], T, axis=1), index=index, columns=cols)
    if raw is None:
        return own, staff
    file = raw.attrs.get("file", "capacity.csv")
    before = len(problems)
    if not _require(raw, ("region", "day"), problems):
        return own, staff
    given = [c for c in ("capacity", "staff_cap") if c in raw.columns]
    if not given:
        problems.append(Problem("needs a 'capacity' and/or a 'staff_cap' column", file=file))
        return own, staff
    _unknown_columns(raw, ["region", "day", "capacity", "staff_cap"], problems)
    ids = raw["region"].astype(str).str.strip().to_numpy()
    _report_rows(
        raw,
        np.array([r not in set(regions) for r in ids]),
        "region",
        lambda v: f"unknown region '{str(v).strip()}'",
        problems,
    )
    day = day_numbers(raw, "day", problems, T, start)
    values = {
        c: numbers(
            raw,
            c,
            problems,
            whole=True,
            minimum=0.0,
            maximum=MAX_UNITS,
            allow_empty=True,
            unit="units",
        )
        for c in given
    }
    pairs = pd.Series(list(zip(ids, day, strict=True)))
    _report_rows(
        raw,
        pairs.duplicated().to_numpy(),
        "day",
        lambda v: "duplicate row for this region and day",
        problems,
    )
    if len(problems) > before:
        return own, staff
    # Piecewise constant: a value holds from its day until the region's next row.
    for col, frame in (("capacity", own), ("staff_cap", staff)):
        if col not in values:
            continue
        v = values[col]
        changes = pd.DataFrame(np.nan, index=index, columns=cols)
        for rid, d, x in zip(ids, day.astype(int), v, strict=True):
            if col == "staff_cap" and np.isnan(x):
                x = math.inf  # an empty staff_cap cell: unlimited from that day
            if not np.isnan(x):
                changes.loc[rid, d] = x
        filled = changes.ffill(axis=1)
        frame.loc[:, :] = np.where(filled.isna(), frame.to_numpy(), filled.to_numpy())
    return own, staff
