"""Load and validate a multi-period instance: the single-period folder plus demand.csv,
deliveries.csv, lead_times.csv, capacity.csv and the `[multiperiod]` table of instance.toml.

Every problem names its file, line and column; a demand table missing regions or days says
which. Nothing is guessed (docs/multiperiod.md, "Data").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimiser.errors import InputError, Problem
from optimiser.instance import MAX_SUPPLY, Instance, _read_csv, load_instance

DEMAND_KINDS = ("census", "new_patients")
MAX_LISTED = 8  # how many days/regions an error message lists before "and N more"
MAX_ROW_PROBLEMS = 20  # per file and column
# Sanity bounds (docs/multiperiod.md, "Bounds"): far beyond any real plan, they keep every
# day index and count finite and inside int64. Units and patients: MAX_SUPPLY (as the
# single-period engine's supply and capacity); days, lead times, waits and stays: MAX_DAYS.
MAX_DAYS = 3_660  # ten years of days
MAX_UNITS = MAX_SUPPLY
DAY_SETTINGS = ("max_transfer_lead_days", "max_wait_days", "patient_transfer_max_lead_days")


@dataclass(frozen=True)
class PlanSettings:
    """Switches of the multi-period model ([multiperiod] table; CLI options override)."""

    transfers: bool = True
    transfer_neighbours: int | None = None
    max_transfer_lead_days: int | None = None
    donor_keep_share: float = 0.0
    max_wait_days: int = 0
    batch_size: int = 1
    max_shipments_per_day: int | None = None
    patient_transfers: bool = False
    patient_transfer_max_per_day: float | None = None
    patient_transfer_max_lead_days: int = 1

    def replace(self, **changes: Any) -> PlanSettings:
        """A copy with `changes` (None values are ignored), validated."""
        given = {k: v for k, v in changes.items() if v is not None}
        problems: list[Problem] = []
        checked = {
            k: _check_setting(k, v, problems, where=f"option '{k}'") for k, v in given.items()
        }
        if problems:
            raise InputError(problems)
        return replace(self, **checked)


SETTING_KEYS = {f.name for f in fields(PlanSettings)}
INFO_KEYS = {
    "total_delivered",
    "tranche_days",
    "lead_times_coverage",
    "supply_note",
    "notes",
    "note",
}
TABLE_KEYS = {"start_date", "days", "demand_kind", "default_lead_time_days", "depots"}
ALLOWED_KEYS = SETTING_KEYS | INFO_KEYS | TABLE_KEYS
DEFAULT_LEAD_TIME_DAYS = 1
DEFAULT_DEPOT = "depot"


@dataclass(frozen=True)
class MultiPeriodInstance:
    """A validated multi-period instance. Day-indexed tables are regions (or depots) x days.

    demand: the census or new_patients values (demand_kind); own: units each region has on day
    d (regions.csv capacity, or capacity.csv); staff: extra patients staff allow beyond own
    (inf: unlimited); deliveries: units arriving at each depot (the instance's supply is added
    to the first depot on day 0); ship_lead: depot x region lead days; region_lead: region x
    region lead days of the lanes that exist (NaN: no lane).
    """

    base: Instance
    days: int
    demand_kind: str
    demand: pd.DataFrame
    depots: tuple[str, ...]
    deliveries: pd.DataFrame
    ship_lead: pd.DataFrame
    region_lead: pd.DataFrame
    default_lead: int
    own: pd.DataFrame
    staff: pd.DataFrame
    settings: PlanSettings = field(default_factory=PlanSettings)
    start_date: dt.date | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def regions(self) -> list[str]:
        return self.base.region_ids

    @property
    def path(self) -> Path | None:
        return self.base.path

    def date(self, day: int) -> str:
        """ISO date of a day index ('' without start_date)."""
        if self.start_date is None:
            return ""
        return (self.start_date + dt.timedelta(days=int(day))).isoformat()

    def with_settings(self, **changes: Any) -> MultiPeriodInstance:
        return replace(self, settings=self.settings.replace(**changes))

    def fingerprint(self) -> str:
        import hashlib

        h = hashlib.sha256(self.base.fingerprint().encode())
        for frame in (
            self.demand,
            self.deliveries,
            self.ship_lead,
            self.region_lead,
            self.own,
            self.staff,
        ):
            h.update(frame.to_csv(lineterminator="\n").encode())
        h.update(repr(self.settings).encode())
        return h.hexdigest()[:16]


def is_multiperiod(path: str | Path) -> bool:
    """A folder is a multi-period instance when it has a demand.csv."""
    return (Path(path) / "demand.csv").is_file()


def load_multiperiod(path: str | Path) -> MultiPeriodInstance:
    """Load and validate a multi-period instance folder (raises InputError listing problems)."""
    folder = Path(path)
    base = load_instance(folder)
    problems: list[Problem] = []
    demand_raw = _read_csv(folder / "demand.csv", problems, required=True)
    deliveries_raw = _read_csv(folder / "deliveries.csv", problems, required=False)
    leads_raw = _read_csv(folder / "lead_times.csv", problems, required=False)
    capacity_raw = _read_csv(folder / "capacity.csv", problems, required=False)
    if problems:
        raise InputError(problems)
    assert demand_raw is not None
    table = base.extra.get("multiperiod", {})
    return build_multiperiod_instance(
        base, table, demand_raw, deliveries_raw, leads_raw, capacity_raw
    )


def multiperiod_from_frames(
    base: Instance,
    demand: pd.DataFrame,
    deliveries: pd.DataFrame | None = None,
    lead_times: pd.DataFrame | None = None,
    capacity: pd.DataFrame | None = None,
    table: Mapping[str, Any] | None = None,
) -> MultiPeriodInstance:
    """Build from DataFrames (long format, like the files), with the folder's validation."""
    from optimiser.instance import _frame_as_text

    def text(frame: pd.DataFrame | None, name: str) -> pd.DataFrame | None:
        if frame is None:
            return None
        out = _frame_as_text(frame, name)
        out.attrs["file"] = name
        return out

    raw = text(demand, "demand.csv")
    assert raw is not None
    return build_multiperiod_instance(
        base,
        dict(table if table is not None else base.extra.get("multiperiod", {})),
        raw,
        text(deliveries, "deliveries.csv"),
        text(lead_times, "lead_times.csv"),
        text(capacity, "capacity.csv"),
    )


# ---------------------------------------------------------------------------------------------
# Validation


def build_multiperiod_instance(
    base: Instance,
    table: Mapping[str, Any],
    demand_raw: pd.DataFrame,
    deliveries_raw: pd.DataFrame | None,
    leads_raw: pd.DataFrame | None,
    capacity_raw: pd.DataFrame | None,
) -> MultiPeriodInstance:
    for raw in (demand_raw, deliveries_raw, leads_raw, capacity_raw):
        if raw is not None:  # pandas deep-copies attrs on every operation: keep them small
            raw.attrs["lines"] = np.asarray(
                raw.attrs.get("lines", range(2, len(raw) + 2)), dtype=np.int64
            )
    problems: list[Problem] = []
    toml = "instance.toml"
    if not isinstance(table, Mapping):
        raise InputError(Problem("field 'multiperiod' must be a table", file=toml))
    for key in sorted(set(table) - ALLOWED_KEYS):
        problems.append(
            Problem(
                f"field 'multiperiod.{key}': unknown key (allowed: "
                f"{', '.join(sorted(ALLOWED_KEYS))})",
                file=toml,
            )
        )
    settings = PlanSettings()
    given = {}
    for key in SETTING_KEYS & set(table):
        given[key] = _check_setting(
            key, table[key], problems, where=f"field 'multiperiod.{key}'", file=toml
        )
    if not problems:
        settings = replace(settings, **given)
    start_date = _start_date(table.get("start_date"), problems)
    days_given = _whole(table.get("days"), "multiperiod.days", problems, minimum=1)
    default_lead = _whole(
        table.get("default_lead_time_days"),
        "multiperiod.default_lead_time_days",
        problems,
        minimum=0,
    )
    if default_lead is None:
        default_lead = DEFAULT_LEAD_TIME_DAYS
    kind_given = table.get("demand_kind")
    if kind_given is not None and kind_given not in DEMAND_KINDS:
        problems.append(
            Problem(
                f"field 'multiperiod.demand_kind': must be one of {', '.join(DEMAND_KINDS)}, got "
                f"{kind_given!r}",
                file=toml,
            )
        )
        kind_given = None
    depots_given = table.get("depots")
    regions = base.region_ids
    if depots_given is not None:
        if (
            not isinstance(depots_given, list)
            or not depots_given
            or not all(isinstance(d, str) and d.strip() for d in depots_given)
        ):
            problems.append(
                Problem(
                    "field 'multiperiod.depots': must be a non-empty list of depot names", file=toml
                )
            )
            depots_given = None
        else:
            depots_given = [d.strip() for d in depots_given]
            dup = sorted({d for d in depots_given if depots_given.count(d) > 1})
            if dup:
                problems.append(
                    Problem(
                        f"field 'multiperiod.depots': listed twice: {', '.join(dup)}", file=toml
                    )
                )
            clash = sorted(set(depots_given) & set(regions))
            if clash:
                problems.append(
                    Problem(
                        f"field 'multiperiod.depots': {', '.join(clash)} is also a region id; "
                        "names must differ",
                        file=toml,
                    )
                )
    if problems:
        raise InputError(problems)

    # demand.csv decides the horizon when [multiperiod] days is absent
    # demand.csv's problems do not stop the other files' checks (every problem is listed) as
    # long as the horizon is known
    kind, demand, T_known = _demand(
        demand_raw, regions, days_given, kind_given, start_date, problems
    )
    if T_known is None:
        raise InputError(problems)
    T = T_known
    before = len(problems)
    depots, deliveries = _deliveries(
        deliveries_raw, depots_given, regions, base.supply, T, start_date, problems
    )
    deliveries_ok = len(problems) == before
    ship_lead, region_lead = _lead_times(leads_raw, depots, regions, default_lead, problems)
    own, staff = _capacity(capacity_raw, base, T, start_date, problems)
    if deliveries_ok:  # totals of a deliveries.csv with bad rows would only echo them
        _check_info(table, deliveries, base.supply, problems)
    long_stay = base.regions["los_days"].to_numpy(dtype=float) > MAX_DAYS
    for rid in np.asarray(regions)[long_stay]:
        problems.append(
            Problem(
                f"must be at most {MAX_DAYS:,} days in a multi-period instance",
                file="regions.csv",
                region=str(rid),
                column="los_days",
            )
        )
    if base.regions["los_days"].isna().all():
        problems.append(
            Problem(
                "multi-period planning needs a length of stay: give los_days (a column of "
                "regions.csv "
                "or [defaults] los_days in instance.toml)",
                file="regions.csv",
                column="los_days",
            )
        )
    if problems:
        raise InputError(problems)
    assert demand is not None
    info = {k: table[k] for k in INFO_KEYS if k in table}
    return MultiPeriodInstance(
        base=base,
        days=T,
        demand_kind=kind,
        demand=demand,
        depots=tuple(depots),
        deliveries=deliveries,
        ship_lead=ship_lead,
        region_lead=region_lead,
        default_lead=default_lead,
        own=own,
        staff=staff,
        settings=settings,
        start_date=start_date,
        info=info,
    )


def _check_setting(
    key: str, value: Any, problems: list[Problem], where: str, file: str | None = None
) -> Any:
    def bad(message: str) -> None:
        problems.append(Problem(f"{where}: {message}, got {value!r}", file=file))

    if key in ("transfers", "patient_transfers"):
        if not isinstance(value, bool):
            bad("must be true or false")
        return value
    if key == "donor_keep_share":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0.0 <= float(value) <= 1.0
        ):
            bad("must be a share in [0, 1]")
            return 0.0
        return float(value)
    if key == "patient_transfer_max_per_day":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 <= value <= MAX_UNITS
        ):
            bad(f"must be a number in [0, {MAX_UNITS:,}]")
            return None
        return float(value)
    minimum = 1 if key in ("transfer_neighbours", "batch_size", "max_shipments_per_day") else 0
    maximum = MAX_DAYS if key in DAY_SETTINGS else MAX_UNITS
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and (not math.isfinite(value) or value != int(value)))
        or not minimum <= value <= maximum
    ):
        bad(f"must be a whole number >= {minimum} and <= {maximum:,}")
        return None
    return int(value)


def _start_date(value: Any, problems: list[Problem]) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    problems.append(
        Problem(
            f"field 'multiperiod.start_date': must be a date YYYY-MM-DD, got {value!r}",
            file="instance.toml",
        )
    )
    return None


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
    return np.asarray(frame.attrs.get("lines", list(range(2, len(frame) + 2))), dtype=np.int64)


def _require(frame: pd.DataFrame, columns: Sequence[str], problems: list[Problem]) -> bool:
    file = frame.attrs.get("file")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        problems.append(Problem(f"missing required column(s): {', '.join(missing)}", file=file))
        return False
    return True


def _unknown_columns(frame: pd.DataFrame, allowed: Sequence[str], problems: list[Problem]) -> None:
    extra = [c for c in frame.columns if c not in allowed]
    if extra:
        problems.append(
            Problem(
                f"unknown column(s): {', '.join(extra)} (columns: {', '.join(allowed)})",
                file=frame.attrs.get("file"),
            )
        )


def _report_rows(
    frame: pd.DataFrame, bad: np.ndarray, column: str, message: Any, problems: list[Problem]
) -> None:
    """One problem per bad row (at most MAX_ROW_PROBLEMS, then a count)."""
    file = frame.attrs.get("file")
    lines = _lines(frame)
    idx = np.nonzero(bad)[0]
    values = frame[column].to_numpy(dtype=object) if column in frame.columns else [""] * len(frame)
    for i in idx[:MAX_ROW_PROBLEMS]:
        problems.append(Problem(message(values[i]), file=file, line=int(lines[i]), column=column))
    if len(idx) > MAX_ROW_PROBLEMS:
        problems.append(
            Problem(
                f"{len(idx) - MAX_ROW_PROBLEMS} more row(s) like these", file=file, column=column
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
    _report_rows(frame, not_number, column, lambda v: f"not a number: {v!r}", problems)
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
    outside = ok & ((values < 0) | (values > last))
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
                f"no rows for region(s) {_listing(absent)} (every region needs every day "
                f"0..{T - 1})",
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
                f"region '{rid}' has no row for day(s) {_listing(_ranges(missing.tolist()))} "
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


def _check_info(
    table: Mapping[str, Any], deliveries: pd.DataFrame, supply: int, problems: list[Problem]
) -> None:
    toml = "instance.toml"
    total = float(deliveries.to_numpy().sum())
    if "total_delivered" in table:
        value = table["total_delivered"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(
                Problem(
                    f"field 'multiperiod.total_delivered': must be a number, got {value!r}",
                    file=toml,
                )
            )
        elif abs(float(value) - (total - supply)) > 1e-9:
            problems.append(
                Problem(
                    f"field 'multiperiod.total_delivered': says {value:g} but deliveries.csv "
                    f"sums to {total - supply:g}",
                    file=toml,
                )
            )
    if "tranche_days" in table:
        value = table["tranche_days"]
        days = sorted(
            {
                int(d)
                for d in np.nonzero(
                    deliveries.to_numpy().sum(axis=0) - np.eye(1, deliveries.shape[1])[0] * supply
                    > 0
                )[0]
            }
        )
        if not isinstance(value, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in value
        ):
            problems.append(
                Problem(
                    "field 'multiperiod.tranche_days': must be a list of day numbers, got "
                    f"{value!r}",
                    file=toml,
                )
            )
        elif sorted(set(value)) != days:
            problems.append(
                Problem(
                    f"field 'multiperiod.tranche_days': says {sorted(value)} but deliveries.csv "
                    f"has deliveries on days {days}",
                    file=toml,
                )
            )
    for key in ("lead_times_coverage", "supply_note", "notes", "note"):
        if key in table and not isinstance(table[key], str):
            problems.append(Problem(f"field 'multiperiod.{key}': must be text", file=toml))
