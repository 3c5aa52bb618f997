"""Load and validate instances: a folder (instance.toml, regions.csv, tiers.csv) or DataFrames.

Every problem is reported with the file, line, region and column at fault; nothing is guessed.
"""

from __future__ import annotations

import functools
import hashlib
import math
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.regional import DerivedNumbers
from optimiser.constraints import ConstraintSpec, check_region_keys, parse_constraint_table
from optimiser.errors import InputError, Problem, option_problem
from optimiser.instance_rows import _frame_as_text, _rows_as_text
from optimiser.instance_rules import COLUMN_BOUNDS as COLUMN_BOUNDS
from optimiser.instance_rules import HORIZON_BOUNDS as HORIZON_BOUNDS
from optimiser.instance_rules import LOWER_BOUNDS as LOWER_BOUNDS
from optimiser.instance_rules import MAX_SUPPLY as MAX_SUPPLY
from optimiser.instance_rules import OPTIONAL_DEFAULTS as OPTIONAL_DEFAULTS
from optimiser.instance_rules import REGION_COLUMNS as REGION_COLUMNS
from optimiser.instance_rules import REQUIRED_COLUMNS as REQUIRED_COLUMNS
from optimiser.instance_rules import SUPPLY_BOUNDS as SUPPLY_BOUNDS
from optimiser.instance_rules import TEXT_COLUMNS as TEXT_COLUMNS
from optimiser.instance_rules import TIER_BOUNDS as TIER_BOUNDS
from optimiser.instance_rules import TIER_COLUMNS as TIER_COLUMNS
from optimiser.instance_rules import UPPER_BOUNDS as UPPER_BOUNDS
from optimiser.instance_rules import Bounds as Bounds
from optimiser.instance_rules import _check_range as _check_range
from optimiser.instance_rules import (
    _region_ids,
    _validate_regions,
    _validate_tiers,
    doc_table_problems,
)
from optimiser.textfiles import (
    path_problem,
    read_csv_table,
    read_text,
)

TOP_LEVEL_KEYS = {
    "name",
    "description",
    "source",
    "resource",
    "supply",
    "horizon_days",
    "defaults",
    "constraints",
    "assumptions",
    "provenance",
    "multiperiod",
    "uncertainty",  # scenario generator (optimiser/scenarios/table.py, docs/scenarios.md)
}


@dataclass(frozen=True)
class Instance:
    """A validated regional-triage instance.

    `regions` is indexed by region id (file order kept) with every optional column filled:
    name, population, capacity, peak_demand, survival_with, survival_without, los_days (NaN:
    use the horizon), staff_cap (NaN: unlimited), pressure, weight.
    `tiers` (or None) has columns region, tier, share, survival_with.
    """

    name: str
    regions: pd.DataFrame
    supply: int
    description: str = ""
    source: str = ""
    resource: str = "ventilator"
    horizon_days: float | None = None
    constraints: tuple[ConstraintSpec, ...] = ()
    tiers: pd.DataFrame | None = None
    path: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    # Derived quantities, named as in docs/model.md: computed once (`numbers`), as arrays in
    # region order; the properties label them with the region ids.
    @property
    def region_ids(self) -> list[str]:
        return self.regions.index.astype(str).tolist()

    @functools.cached_property
    def numbers(self) -> DerivedNumbers:
        """E_r, H, los_r, t_r, g_r, cap_r and RAI_r as numpy arrays (an instance is immutable)."""
        return DerivedNumbers.of(self.regions.__getitem__, self.horizon_days)

    def _series(self, values: np.ndarray, name: str) -> pd.Series:
        return pd.Series(values, index=self.regions.index, name=name)

    @property
    def excess_demand(self) -> pd.Series:
        """E_r = max(0, peak_demand_r - capacity_r)."""
        return self._series(self.numbers.excess_demand, "excess_demand")

    @property
    def horizon(self) -> float:
        """H: horizon_days, else the unweighted mean of given los_days, else 1."""
        return self.numbers.horizon

    @property
    def los(self) -> pd.Series:
        """los_r, with H where a region gives none."""
        return self._series(self.numbers.los, "los_days")

    @property
    def turnover(self) -> pd.Series:
        """t_r = H / los_r: patients one unit treats over the horizon."""
        return self._series(self.numbers.turnover, "turnover")

    @property
    def gain(self) -> pd.Series:
        """g_r = survival_with_r - survival_without_r."""
        return self._series(self.numbers.gain, "gain")

    @property
    def staff_cap(self) -> pd.Series:
        """Most extra units a region can staff (inf when unlimited)."""
        return self._series(self.numbers.staff_cap, "staff_cap")

    @property
    def rai(self) -> pd.Series:
        """Regional Allocation Index: E_r * survival_with_r / (relative los_r * pressure_r)."""
        return self._series(self.numbers.rai, "rai")

    def with_supply(self, supply: int) -> Instance:
        """The same instance with another supply (validated)."""
        return replace(self, supply=validate_supply(supply, "supply", option=True))

    def with_constraints(self, constraints: Sequence[ConstraintSpec]) -> Instance:
        return replace(self, constraints=tuple(constraints))

    def fingerprint(self) -> str:
        """A stable hash of everything that determines an answer (for provenance and caching)."""
        return self._fingerprint

    @functools.cached_property
    def _fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(self.regions.to_csv(lineterminator="\n").encode())
        if self.tiers is not None:
            h.update(self.tiers.to_csv(lineterminator="\n").encode())
        h.update(f"{self.supply}|{self.horizon_days}|".encode())
        h.update("|".join(c.label for c in self.constraints).encode())
        return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Loading


def load_instance(path: str | Path) -> Instance:
    """Load and validate an instance folder; raises InputError listing every problem found."""
    folder = Path(path)
    problem = path_problem(folder, "folder")
    if problem == "folder not found":
        raise InputError(Problem(f"instance folder not found: {folder}"))
    if problem == "not a folder":
        raise InputError(Problem(f"not a folder: {folder} (an instance is a folder)"))
    if problem is not None:
        raise InputError(Problem(f"instance folder {folder}: {problem}"))
    problems: list[Problem] = []
    meta = _read_toml(folder / "instance.toml", problems)
    regions_raw = _read_csv(folder / "regions.csv", problems, required=True,
                            expected=REGION_COLUMNS)
    tiers_raw = _read_csv(folder / "tiers.csv", problems, required=False, expected=TIER_COLUMNS)
    if meta is None or regions_raw is None:
        # Still check what could be read, so that `triage validate` lists every problem.
        regions = None
        if regions_raw is not None:
            regions = _validate_regions(regions_raw, {}, problems)
        if tiers_raw is not None:
            _validate_tiers(tiers_raw, _region_ids(regions, regions_raw), problems, regions)
        raise InputError([_in_rows(p, regions_raw, tiers_raw) for p in problems])
    return _build(meta, regions_raw, tiers_raw, problems, folder)


def instance_from_frames(
    regions: pd.DataFrame,
    supply: int,
    *,
    name: str = "instance",
    tiers: pd.DataFrame | None = None,
    constraints: Sequence[ConstraintSpec | Mapping[str, Any]] = (),
    defaults: Mapping[str, Any] | None = None,
    horizon_days: float | str | None = None,
    description: str = "",
    source: str = "",
    resource: str = "ventilator",
) -> Instance:
    """Build an instance from DataFrames, with exactly the folder format's validation.

    A DataFrame carries no instance.toml: settings that change the answer are arguments.
    `horizon_days` sets the patients one unit treats over the horizon (turnover H / los_r);
    when the regions give `los_days` and it is not given, H is the mean length of stay (the
    documented default), and a HorizonAssumedWarning says so (a folder's instance.toml often
    sets another: us-states-2020 has 47 days). Pass `horizon_days="mean_los"` to take that
    default on purpose.
    """
    if not isinstance(regions, pd.DataFrame):  # None, a dict of columns, a path...
        raise InputError(Problem(f"must be a pandas DataFrame, got {type(regions).__name__}",
                                 column="regions", column_word="argument"))
    if horizon_days == "mean_los":
        horizon_days = None
    elif isinstance(horizon_days, str):
        raise InputError(
            Problem(
                f"must be a number of days or 'mean_los', got {horizon_days!r}",
                column="horizon_days",
                column_word="option",
            )
        )
    elif horizon_days is None and _gives_los(regions):
        warnings.warn(
            "instance_from_frames: horizon_days not given; assuming H = the mean of los_days "
            "(one course of treatment per unit). A folder's instance.toml may set another "
            "horizon (us-states-2020: 47 days), which changes the lives saved; pass "
            "horizon_days=... (or 'mean_los' to take this default on purpose).",
            HorizonAssumedWarning,
            stacklevel=2,
        )
    meta: dict[str, Any] = {
        "name": name,
        "supply": supply,
        "description": description,
        "source": source,
        "resource": resource,
        "defaults": dict(defaults or {}),
        "constraints": [
            c.as_table() if isinstance(c, ConstraintSpec) else dict(c) for c in constraints
        ],
    }
    if horizon_days is not None:
        meta["horizon_days"] = horizon_days
    regions_raw = _frame_as_text(regions, "regions")
    tiers_raw = _frame_as_text(tiers, "tiers") if tiers is not None else None
    return _build(meta, regions_raw, tiers_raw, [], None)


class HorizonAssumedWarning(UserWarning):
    """instance_from_frames assumed the horizon (no horizon_days given)."""


def _gives_los(regions: pd.DataFrame) -> bool:
    frame = regions.reset_index() if "los_days" not in regions else regions
    if "los_days" not in frame:
        return False
    return bool(pd.to_numeric(frame["los_days"], errors="coerce").notna().any())


def instance_from_dict(payload: Mapping[str, Any]) -> Instance:
    """Build an instance from a JSON-like mapping (the service's body and the folder's schema).

    Keys: the instance.toml keys plus `regions` (list of row objects) and optional `tiers`
    (an empty list: no tiers). A key may be left out but not null; in a row, null is an empty
    cell (the column's default). Problems name rows as `regions[i].key`.
    """
    if not isinstance(payload, Mapping):
        raise InputError(Problem("the instance must be a JSON object"))
    problems: list[Problem] = [
        Problem("must not be null (leave the key out instead)", column=str(key))
        for key, value in payload.items() if value is None
    ]
    meta = {k: v for k, v in payload.items() if k not in ("regions", "tiers") and v is not None}
    regions = payload.get("regions")
    if not isinstance(regions, list) or not regions:
        raise InputError(Problem("must be a non-empty list of region objects", column="regions"))
    for i, row in enumerate(regions):
        if not isinstance(row, Mapping):
            raise InputError(Problem(f"regions[{i}] must be an object", column="regions"))
    regions_raw = _rows_as_text(regions, "regions", REGION_COLUMNS, REQUIRED_COLUMNS, problems)
    tiers_raw = None
    tiers = payload.get("tiers")
    if tiers is not None:
        if not isinstance(tiers, list) or not all(isinstance(t, Mapping) for t in tiers):
            raise InputError(Problem("must be a list of tier objects", column="tiers"))
        if tiers:
            tiers_raw = _rows_as_text(tiers, "tiers", TIER_COLUMNS, TIER_COLUMNS, problems)
    return _build(meta, regions_raw, tiers_raw, problems, None)


def instance_to_dict(instance: Instance) -> dict[str, Any]:
    """The inverse of instance_from_dict (round trip)."""
    regions = []
    for rid, row in instance.regions.iterrows():
        item: dict[str, Any] = {"region": str(rid)}
        for col, val in row.items():
            if isinstance(val, float) and math.isnan(val):
                continue
            item[str(col)] = val.item() if hasattr(val, "item") else val
        regions.append(item)
    out: dict[str, Any] = {
        "name": instance.name,
        "description": instance.description,
        "source": instance.source,
        "resource": instance.resource,
        "supply": instance.supply,
        "regions": regions,
        "constraints": [c.as_table() for c in instance.constraints],
    }
    if instance.horizon_days is not None:
        out["horizon_days"] = instance.horizon_days
    if instance.tiers is not None:
        out["tiers"] = [
            {
                "region": str(t["region"]),
                "share": float(t["share"]),
                "survival_with": float(t["survival_with"]),
            }
            for t in instance.tiers.to_dict("records")
        ]
    return out


# ---------------------------------------------------------------------------------------------
# Reading raw files


def _read_bytes(path: Path, problems: list[Problem], required: bool) -> str | None:
    return read_text(path, problems, required)


def _read_toml(path: Path, problems: list[Problem]) -> dict[str, Any] | None:
    text = _read_bytes(path, problems, required=True)
    if text is None:
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(f"malformed TOML: {exc}", file=path.name))
        return None


def _read_csv(
    path: Path, problems: list[Problem], required: bool, expected: Sequence[str] = ()
) -> pd.DataFrame | None:
    """A CSV file as a DataFrame of text cells (attrs: file, lines), or None when nothing of
    it can be used; every problem is appended (optimiser.textfiles)."""
    before = len(problems)
    text = _read_bytes(path, problems, required)
    if text is None:
        return None
    table = read_csv_table(text, path.name, problems, expected)
    if table is None or (len(problems) > before and not table.lines):
        return None
    del text
    frame = pd.DataFrame(
        {name: np.array([c.strip() for c in column], dtype=object)
         for name, column in zip(table.header, table.columns, strict=True)},
        columns=table.header,
    )
    frame.attrs["file"] = path.name
    # an array, not a list: pandas deep-copies attrs into every column it hands out
    frame.attrs["lines"] = np.asarray(table.lines, dtype=np.int64)
    return frame


# ---------------------------------------------------------------------------------------------
# Validation


def validate_supply(value: Any, where: str, *, option: bool = False) -> int:
    """Supply is a whole number of units >= 0 (10.5, "10", True and NaN are refused). `where`
    prefixes the message, or with `option` names the argument (errors.option_problem)."""
    bad = isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating)
    if not bad and isinstance(value, float | np.floating):
        bad = not math.isfinite(value) or value != int(value)
    reason = None
    if bad:
        reason = f"must be a whole number >= 0, got {value!r}"
    elif value < 0:
        reason = f"must be >= 0, got {value!r}"
    elif value > MAX_SUPPLY:
        reason = f"must be at most {MAX_SUPPLY:,}, got {value!r}"
    if reason is not None:
        raise InputError(option_problem(where, reason) if option else Problem(f"{where}: {reason}"))
    return int(value)


def _meta_problem(message: str, key: str, file: str | None) -> Problem:
    return Problem(f"field '{key}': {message}", file=file)


def _build(
    meta: dict[str, Any],
    regions_raw: pd.DataFrame,
    tiers_raw: pd.DataFrame | None,
    problems: list[Problem],
    folder: Path | None,
) -> Instance:
    toml_file = "instance.toml" if folder is not None else None
    unknown = sorted(set(meta) - TOP_LEVEL_KEYS)
    for key in unknown:
        problems.append(
            _meta_problem(
                f"unknown key (allowed: {', '.join(sorted(TOP_LEVEL_KEYS))})", key, toml_file
            )
        )
    name = meta.get("name", folder.name if folder is not None else "instance")
    if not isinstance(name, str) or not name.strip():
        problems.append(_meta_problem("must be a non-empty string", "name", toml_file))
        name = "instance"
    for key, blank in (("description", True), ("source", True), ("resource", False)):
        if not isinstance(value := meta.get(key, "-"), str) or not (blank or value.strip()):
            word = "a string" if blank else "a non-empty string"  # not "1,000 s for 4 regions"
            problems.append(_meta_problem(f"must be {word}", key, toml_file))
    supply = 0
    if "supply" not in meta:
        problems.append(_meta_problem("missing (units to allocate now)", "supply", toml_file))
    else:
        try:
            supply = validate_supply(meta["supply"], "supply")
        except InputError as exc:
            message = exc.problems[0].message.removeprefix("supply: ")
            problems.append(_meta_problem(message, "supply", toml_file))
    horizon = meta.get("horizon_days")
    if horizon is not None:
        if (
            isinstance(horizon, bool)
            or not isinstance(horizon, int | float)
            or not math.isfinite(horizon)
            or horizon <= 0
        ):
            problems.append(
                _meta_problem(f"must be a number > 0, got {horizon!r}", "horizon_days", toml_file)
            )
            horizon = None
        elif not HORIZON_BOUNDS.minimum <= horizon <= HORIZON_BOUNDS.maximum:
            problems.append(_meta_problem(
                f"must be between {HORIZON_BOUNDS.minimum:g} and {HORIZON_BOUNDS.maximum:g} days "
                f"(beyond it numbers lose meaning), got {horizon:g}", "horizon_days", toml_file))
            horizon = None
        else:
            horizon = float(horizon)
    defaults = meta.get("defaults", {})
    if not isinstance(defaults, Mapping):
        problems.append(_meta_problem("must be a table", "defaults", toml_file))
        defaults = {}
    usable: dict[str, Any] = {}  # the defaults of the right type, for the regions' check
    for key, val in defaults.items():
        if (key == "name" and isinstance(val, str)) or (
            key in OPTIONAL_DEFAULTS and not isinstance(val, bool)
            and isinstance(val, int | float) and math.isfinite(val)
        ):
            usable[key] = val
        if key == "name":
            if not isinstance(val, str):
                problems.append(
                    _meta_problem(f"must be a string, got {val!r}", "defaults.name", toml_file)
                )
        elif key not in OPTIONAL_DEFAULTS:
            problems.append(
                _meta_problem(
                    f"no such optional column (allowed: name, {', '.join(OPTIONAL_DEFAULTS)})",
                    f"defaults.{key}",
                    toml_file,
                )
            )
        elif isinstance(val, bool) or not isinstance(val, int | float):
            problems.append(
                _meta_problem(f"must be a number, got {val!r}", f"defaults.{key}", toml_file)
            )
        elif not math.isfinite(val):
            problems.append(
                _meta_problem(f"must be finite, got {val!r}", f"defaults.{key}", toml_file)
            )
    for key in ("assumptions", "provenance", "multiperiod", "uncertainty"):
        if key in meta and not isinstance(meta[key], Mapping):
            problems.append(_meta_problem("must be a table", key, toml_file))
    problems.extend(doc_table_problems(meta, toml_file))
    constraints: tuple[ConstraintSpec, ...] = ()
    raw_constraints = meta.get("constraints", [])
    try:
        constraints = parse_constraint_table(raw_constraints, file=toml_file)
    except InputError as exc:
        problems.extend(exc.problems)

    regions = _validate_regions(regions_raw, usable, problems, toml_file)
    tiers = None
    if tiers_raw is not None:
        tiers = _validate_tiers(tiers_raw, _region_ids(regions, regions_raw), problems, regions)
    if regions is not None:
        problems.extend(check_region_keys(constraints, list(regions.index), file=toml_file))
    if problems:
        raise InputError([_in_rows(p, regions_raw, tiers_raw) for p in problems])
    assert regions is not None
    extra: dict[str, Any] = {
        k: meta[k]
        for k in ("assumptions", "provenance", "multiperiod", "uncertainty")
        if k in meta
    }
    return Instance(
        name=name.strip(),
        regions=regions,
        supply=supply,
        description=str(meta.get("description", "")),
        source=str(meta.get("source", "")),
        resource=str(meta.get("resource", "ventilator")),
        horizon_days=horizon,
        constraints=constraints,
        tiers=tiers,
        path=folder,
        extra=extra,
    )


def _in_rows(problem: Problem, *frames: pd.DataFrame | None) -> Problem:
    """Problems in a DataFrame given in Python name rows, not file lines."""
    for raw in frames:
        if (
            raw is not None
            and raw.attrs.get("line_word") == "row"
            and problem.file == raw.attrs.get("file")
        ):
            return replace(problem, line_word="row")
    return problem
