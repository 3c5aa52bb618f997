"""Load and validate a multi-period instance: the single-period folder plus demand.csv,
deliveries.csv, lead_times.csv, capacity.csv and the `[multiperiod]` table of instance.toml.

The tables are read in optimiser/multiperiod/input_tables.py, with the row checks of
optimiser/multiperiod/row_checks.py. Every problem names its file, line and column; a demand
table missing regions or days says which. Nothing is guessed (docs/multiperiod.md, "Data").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimiser.errors import InputError, Problem, option_problem
from optimiser.instance import Instance, _read_csv, load_instance

# Re-exported (hence the noqa): DEFAULT_DEPOT, MAX_LISTED, MAX_ROW_PROBLEMS, _lines, _listing,
# _ranges, _report_rows, day_numbers and numbers (plan_io and the scenario readers import them
# from here)
from optimiser.multiperiod.input_tables import (  # noqa: F401
    DEFAULT_DEPOT,
    _capacity,
    _deliveries,
    _demand,
    _lead_times,
)
from optimiser.multiperiod.row_checks import (  # noqa: F401
    DEMAND_KINDS,
    MAX_DAYS,
    MAX_LISTED,
    MAX_ROW_PROBLEMS,
    MAX_UNITS,
    _lines,
    _listing,
    _ranges,
    _report_rows,
    _whole,
    day_numbers,
    numbers,
)

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
            k: _check_setting(k, v, problems, where=None) for k, v in given.items()
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

        from optimiser.multiperiod.csv_text import frame_csv

        h = hashlib.sha256(self.base.fingerprint().encode())
        for frame in (
            self.demand,
            self.deliveries,
            self.ship_lead,
            self.region_lead,
            self.own,
            self.staff,
        ):
            h.update(frame_csv(frame).encode())  # to_csv's text, faster (csv_text.py)
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
    key: str, value: Any, problems: list[Problem], where: str | None, file: str | None = None
) -> Any:
    """`value` of setting `key` checked; `where` prefixes a problem's message (None: the key
    is an option, named as the user gives it: option_problem)."""

    def bad(message: str) -> None:
        if where is None:
            problems.append(option_problem(key, f"{message}, got {value!r}"))
        else:
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
