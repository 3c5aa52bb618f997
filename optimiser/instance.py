"""Load and validate instances: a folder (instance.toml, regions.csv, tiers.csv) or DataFrames.

Every problem is reported with the file, line, region and column at fault; nothing is guessed.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from optimiser.constraints import ConstraintSpec, check_region_keys, parse_constraint_table
from optimiser.errors import InputError, Problem

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
}
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_SUPPLY = 10**9  # units; beyond it numbers lose meaning (and int64 overflows)


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

    # Derived quantities, named as in docs/model.md.
    @property
    def region_ids(self) -> list[str]:
        return [str(r) for r in self.regions.index]

    @property
    def excess_demand(self) -> pd.Series:
        """E_r = max(0, peak_demand_r - capacity_r)."""
        e = (self.regions["peak_demand"] - self.regions["capacity"]).clip(lower=0.0)
        return e.rename("excess_demand")

    @property
    def horizon(self) -> float:
        """H: horizon_days, else the unweighted mean of given los_days, else 1."""
        if self.horizon_days is not None:
            return float(self.horizon_days)
        los = self.regions["los_days"].dropna()
        return float(los.mean()) if len(los) else 1.0

    @property
    def los(self) -> pd.Series:
        """los_r, with H where a region gives none."""
        return self.regions["los_days"].fillna(self.horizon).rename("los_days")

    @property
    def turnover(self) -> pd.Series:
        """t_r = H / los_r: patients one unit treats over the horizon."""
        return (self.horizon / self.los).rename("turnover")

    @property
    def gain(self) -> pd.Series:
        """g_r = survival_with_r - survival_without_r."""
        r = self.regions
        return (r["survival_with"] - r["survival_without"]).rename("gain")

    @property
    def staff_cap(self) -> pd.Series:
        """Most extra units a region can staff (inf when unlimited)."""
        return self.regions["staff_cap"].fillna(math.inf).rename("staff_cap")

    @property
    def rai(self) -> pd.Series:
        """Regional Allocation Index: E_r * survival_with_r / (relative los_r * pressure_r)."""
        los = self.los
        relative_los = los / los.mean()
        r = self.regions
        return (self.excess_demand * r["survival_with"] / (relative_los * r["pressure"])).rename(
            "rai"
        )

    def with_supply(self, supply: int) -> Instance:
        """The same instance with another supply (validated)."""
        return replace(self, supply=validate_supply(supply, "supply"))

    def with_constraints(self, constraints: Sequence[ConstraintSpec]) -> Instance:
        return replace(self, constraints=tuple(constraints))

    def fingerprint(self) -> str:
        """A stable hash of everything that determines an answer (for provenance and caching)."""
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
    if not folder.exists():
        raise InputError(Problem(f"instance folder not found: {folder}"))
    if not folder.is_dir():
        raise InputError(Problem(f"not a folder: {folder} (an instance is a folder)"))
    problems: list[Problem] = []
    meta = _read_toml(folder / "instance.toml", problems)
    regions_raw = _read_csv(folder / "regions.csv", problems, required=True)
    tiers_raw = _read_csv(folder / "tiers.csv", problems, required=False)
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

    Keys: the instance.toml keys plus `regions` (list of row objects) and optional `tiers`.
    """
    if not isinstance(payload, Mapping):
        raise InputError(Problem("the instance must be a JSON object"))
    problems: list[Problem] = []
    meta = {k: v for k, v in payload.items() if k not in ("regions", "tiers")}
    regions = payload.get("regions")
    if not isinstance(regions, list) or not regions:
        raise InputError(Problem("must be a non-empty list of region objects", column="regions"))
    for i, row in enumerate(regions):
        if not isinstance(row, Mapping):
            raise InputError(Problem(f"regions[{i}] must be an object", column="regions"))
    regions_raw = _frame_as_text(pd.DataFrame(list(regions)), "regions")
    tiers_raw = None
    if payload.get("tiers") is not None:
        tiers = payload["tiers"]
        if not isinstance(tiers, list) or not all(isinstance(t, Mapping) for t in tiers):
            raise InputError(Problem("must be a list of tier objects", column="tiers"))
        tiers_raw = _frame_as_text(pd.DataFrame(list(tiers)), "tiers")
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
    if not path.exists():
        if required:
            problems.append(Problem("file not found", file=path.name))
        return None
    if not path.is_file():
        problems.append(Problem("is not a regular file", file=path.name))
        return None
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(Problem(f"file too large ({size} bytes)", file=path.name))
            return None
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(f"cannot read file: {exc.strerror or exc}", file=path.name))
        return None
    if b"\x00" in data:
        problems.append(Problem("binary file (contains NUL bytes); expected text", file=path.name))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(f"not UTF-8 text (byte {exc.start})", file=path.name))
        return None


def _read_toml(path: Path, problems: list[Problem]) -> dict[str, Any] | None:
    text = _read_bytes(path, problems, required=True)
    if text is None:
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(f"malformed TOML: {exc}", file=path.name))
        return None


def _read_csv(path: Path, problems: list[Problem], required: bool) -> pd.DataFrame | None:
    import csv
    import io

    before = len(problems)
    text = _read_bytes(path, problems, required)
    if text is None:
        return None
    if not text.strip():
        problems.append(Problem("empty file: no header and no rows", file=path.name))
        return None
    rows = list(csv.reader(io.StringIO(text)))
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    lines = [i + 2 for i, r in enumerate(rows[1:]) if any(cell.strip() for cell in r)]
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        problems.append(Problem(f"duplicate column(s) in header: {', '.join(dup)}", file=path.name))
        return None
    if any(h == "" for h in header):
        problems.append(Problem("empty column name in header", file=path.name, line=1))
        return None
    kept_rows, kept_lines = [], []
    for line, r in zip(lines, body, strict=True):
        if len(r) != len(header):  # reported; the other rows are still checked
            hint = " (an unclosed quote?)" if any('"' in c for c in r) else ""
            problems.append(
                Problem(
                    f"has {len(r)} fields, header has {len(header)}{hint}",
                    file=path.name,
                    line=line,
                )
            )
        else:
            kept_rows.append(r)
            kept_lines.append(line)
    if len(problems) > before and not kept_rows:
        return None
    frame = pd.DataFrame([[c.strip() for c in r] for r in kept_rows], columns=header, dtype=object)
    frame.attrs["file"] = path.name
    frame.attrs["lines"] = kept_lines
    return frame


def _frame_as_text(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """A DataFrame given in Python, as text cells, so it is validated like a file."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(Problem(f"{name} must be a pandas DataFrame"))
    df = frame.reset_index() if frame.index.name == "region" else frame.copy()

    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return repr(v)
        return str(v)

    out = df.map(cell).astype(object)
    out.columns = [str(c) for c in out.columns]
    out.attrs["file"] = name
    out.attrs["lines"] = [i + 1 for i in range(len(out))]
    out.attrs["line_word"] = "row"
    return out


# ---------------------------------------------------------------------------------------------
# Validation


def validate_supply(value: Any, where: str) -> int:
    """Supply is a whole number of units >= 0 (10.5, "10", True and NaN are refused)."""
    bad = isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating)
    if not bad and isinstance(value, float | np.floating):
        bad = not math.isfinite(value) or value != int(value)
    if bad:
        raise InputError(Problem(f"{where}: must be a whole number >= 0, got {value!r}"))
    if value < 0:
        raise InputError(Problem(f"{where}: must be >= 0, got {value!r}"))
    if value > MAX_SUPPLY:
        raise InputError(Problem(f"{where}: must be at most {MAX_SUPPLY:,}, got {value!r}"))
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
    for key in ("description", "source", "resource"):
        if key in meta and not isinstance(meta[key], str):
            problems.append(_meta_problem("must be a string", key, toml_file))
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
        else:
            horizon = float(horizon)
    defaults = meta.get("defaults", {})
    if not isinstance(defaults, Mapping):
        problems.append(_meta_problem("must be a table", "defaults", toml_file))
        defaults = {}
    for key, val in defaults.items():
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
    for key in ("assumptions", "provenance", "multiperiod"):
        if key in meta and not isinstance(meta[key], Mapping):
            problems.append(_meta_problem("must be a table", key, toml_file))
    constraints: tuple[ConstraintSpec, ...] = ()
    raw_constraints = meta.get("constraints", [])
    try:
        constraints = parse_constraint_table(raw_constraints, file=toml_file)
    except InputError as exc:
        problems.extend(exc.problems)

    regions = _validate_regions(regions_raw, dict(defaults), problems, toml_file)
    tiers = None
    if tiers_raw is not None:
        tiers = _validate_tiers(tiers_raw, _region_ids(regions, regions_raw), problems, regions)
    if regions is not None:
        problems.extend(check_region_keys(constraints, list(regions.index), file=toml_file))
    if problems:
        raise InputError([_in_rows(p, regions_raw, tiers_raw) for p in problems])
    assert regions is not None
    extra: dict[str, Any] = {
        k: meta[k] for k in ("assumptions", "provenance", "multiperiod") if k in meta
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


def _parse_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def _validate_regions(
    raw: pd.DataFrame,
    defaults: dict[str, Any],
    problems: list[Problem],
    toml_file: str | None = "instance.toml",
) -> pd.DataFrame | None:
    file = raw.attrs.get("file", "regions.csv")
    lines: list[int] = raw.attrs.get("lines", list(range(2, len(raw) + 2)))
    before = len(problems)
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        problems.append(Problem(f"missing required column(s): {', '.join(missing)}", file=file))
        return None
    unknown = [
        c
        for c in raw.columns
        if c not in REQUIRED_COLUMNS and c not in OPTIONAL_DEFAULTS and c != "name"
    ]
    if unknown:
        problems.append(
            Problem(
                f"unknown column(s): {', '.join(unknown)} (optional columns: name, "
                f"{', '.join(OPTIONAL_DEFAULTS)})",
                file=file,
            )
        )
    if len(raw) == 0:
        problems.append(Problem("empty table: no regions", file=file))
        return None
    ids = [str(v).strip() for v in raw["region"]]
    seen: dict[str, int] = {}
    for line, rid in zip(lines, ids, strict=True):
        if rid == "":
            problems.append(Problem("empty region id", file=file, line=line, column="region"))
        elif rid in seen:
            problems.append(
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
            text = str(text).strip()
            if text == "":
                if col in REQUIRED_COLUMNS:
                    problems.append(
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
                problems.append(
                    Problem(
                        f"not a number: {text!r}",
                        file=file,
                        line=line,
                        column=col,
                        region=rid or None,
                    )
                )
                values.append(math.nan)
                continue
            if not math.isfinite(value):
                problems.append(
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
                problems.append(
                    Problem(message, file=file, line=line, column=col, region=rid or None)
                )
            values.append(value)
        columns[col] = values
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
            problems.append(
                Problem(
                    f"survival_without ({swo:g}) is greater than survival_with ({sw:g})",
                    file=file,
                    line=line,
                    column="survival_without",
                    region=rid or None,
                )
            )
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


# Sanity bounds: far beyond any real region, but they keep every computation finite.
UPPER_BOUNDS: dict[str, float] = {
    "population": 1e10,
    "capacity": MAX_SUPPLY,
    "peak_demand": MAX_SUPPLY,
    "staff_cap": MAX_SUPPLY,
    "los_days": 1e5,
    "weight": 1e6,
}
LOWER_BOUNDS: dict[str, float] = {"population": 1.0, "los_days": 1e-3, "pressure": 1e-6}


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
    lines: list[int] = raw.attrs.get("lines", list(range(2, len(raw) + 2)))
    before = len(problems)
    missing = [c for c in TIER_COLUMNS if c not in raw.columns]
    if missing:
        problems.append(Problem(f"missing required column(s): {', '.join(missing)}", file=file))
        return None
    unknown = [c for c in raw.columns if c not in TIER_COLUMNS]
    if unknown:
        problems.append(
            Problem(
                f"unknown column(s): {', '.join(unknown)} (columns: {', '.join(TIER_COLUMNS)})",
                file=file,
            )
        )
    if len(raw) == 0:
        problems.append(Problem("empty table: no tiers", file=file))
        return None
    records = []
    unreadable: set[str] = set()
    for line, row in zip(lines, raw.itertuples(index=False), strict=True):
        rid = str(row.region).strip()
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
