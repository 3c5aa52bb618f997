"""Bedside inputs: patients.csv, the units (units.csv, a plan's daily.csv, or a regional
result.json plus existing capacity) and policy.toml, validated together.

Every problem names the file, the line (the header is line 1) and the column; `validate` lists
them all. docs/bedside.md, "Inputs", is the format's contract.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimiser.bedside.patients import MAX_DAY, validate_patients
from optimiser.bedside.policy import Policy, load_policy, policy_from_dict
from optimiser.errors import InputError, Problem
from optimiser.instance import _frame_as_text, _read_csv

MAX_UNITS = 1_000_000


@dataclass(frozen=True)
class Cohort:
    """Validated patients, indexed by patient id (file order kept).

    Columns: site, arrival (day number, fraction = time of day), day (whole day), days (whole
    days the unit is held: ceil(expected_days)), expected_days, survival_with,
    survival_without, dni, line, every optional column present, each category flag (bool)
    and each reporting group (text)."""

    patients: pd.DataFrame
    categories: tuple[str, ...] = ()
    reporting_groups: tuple[str, ...] = ()
    start_date: str | None = None  # day 0 when arrivals are dates
    sha256: str = ""
    file: str = "patients.csv"

    @property
    def candidates(self) -> pd.DataFrame:
        return self.patients[~self.patients["dni"]]


@dataclass(frozen=True)
class Units:
    """Units on hand per site and day (a step function: a day not listed keeps the previous
    day's units; before a site's first listed day it has none)."""

    table: pd.DataFrame  # site, day, units
    source: str = "units.csv"
    sha256: str = ""

    @property
    def sites(self) -> list[str]:
        return list(dict.fromkeys(self.table["site"]))

    def matrix(self, sites: list[str], horizon: int) -> np.ndarray:
        """units[s, t] for t = 0..horizon-1, forward filled."""
        out = np.zeros((len(sites), horizon), dtype=np.int64)
        index = {s: i for i, s in enumerate(sites)}
        for site, group in self.table.groupby("site", sort=False):
            i = index.get(str(site))
            if i is None:
                continue
            for day, units in zip(group["day"], group["units"], strict=True):
                if day < horizon:
                    out[i, int(day):] = int(units)
        return out

    def with_origin(self, start_date: str | None) -> Units:
        """Dates in the day column as day numbers counted from `start_date`."""
        if start_date is None:
            return self
        origin = dt.date.fromisoformat(start_date)
        table = self.table.copy()
        table["day"] = [(d - origin).days if isinstance(d, dt.date) else int(d)
                        for d in table["day"]]
        return Units(table, self.source, self.sha256)

    def on_day(self, site: str, day: int) -> int:
        rows = self.table[(self.table["site"] == site) & (self.table["day"] <= day)]
        return 0 if rows.empty else int(rows.sort_values("day")["units"].iloc[-1])


@dataclass(frozen=True)
class BedsideInputs:
    cohort: Cohort
    units: Units
    policy: Policy
    folder: Path | None = None
    files: dict[str, str] = field(default_factory=dict)  # role -> path as given

    @property
    def hashes(self) -> dict[str, str]:
        return {"patients": self.cohort.sha256, "units": self.units.sha256,
                "policy": self.policy.text_sha256}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def load_inputs(
    folder: str | Path,
    *,
    units: str | Path | None = None,
    policy: str | Path | None = None,
    existing: str | Path | None = None,
) -> BedsideInputs:
    """Load and check a bedside folder: patients.csv, policy.toml and units.csv (or `units`:
    a units.csv, a plan folder or its daily.csv, or a regional result.json; `existing`: a CSV
    site,units of existing capacity added to a result.json's allocation). Raises InputError
    listing every problem across the files."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(Problem(f"not a folder: {root} (a bedside case is a folder with "
                                 "patients.csv, units.csv and policy.toml)"))
    problems: list[Problem] = []
    policy_path = Path(policy) if policy is not None else root / "policy.toml"
    parsed: Policy | None = None
    try:
        parsed = load_policy(policy_path)
    except InputError as exc:
        problems.extend(exc.problems)
    units_path = Path(units) if units is not None else root / "units.csv"
    unit_table: Units | None = None
    sites: set[str] | None = None
    try:
        unit_table = load_units(units_path, existing)
    except InputError as exc:
        problems.extend(exc.problems)
        sites = _raw_sites(units_path)  # still check the patients' sites against the file
    patients_path = root / "patients.csv"
    raw = _read_csv(patients_path, problems, required=True)
    cohort = None
    if raw is not None:
        cohort = validate_patients(raw, parsed, unit_table, problems, sites)
        if cohort is not None:
            cohort = _with_hash(cohort, sha256_file(patients_path))
    if problems:
        raise InputError(problems)
    assert cohort is not None and unit_table is not None and parsed is not None
    unit_table = unit_table.with_origin(cohort.start_date)
    files = {"patients": str(patients_path), "units": str(units_path),
             "policy": str(policy_path)}
    if existing is not None:
        files["existing"] = str(existing)
    return BedsideInputs(cohort, unit_table, parsed, root, files)


def inputs_from_dict(payload: Mapping[str, Any]) -> BedsideInputs:
    """The service's body: {"patients": [rows], "units": [rows], "policy": {...}}; the same
    rules as the files, problems located by row and field."""
    problems: list[Problem] = []
    if not isinstance(payload, Mapping):
        raise InputError(Problem("the request must be a JSON object"))
    parsed = None
    policy = payload.get("policy")
    try:
        parsed = policy_from_dict(policy if isinstance(policy, Mapping) else {}, file="policy",
                                  text=json.dumps(policy, sort_keys=True))
    except InputError as exc:
        problems.extend(exc.problems)
    frames = {}
    for name in ("patients", "units"):
        rows = payload.get(name)
        if not isinstance(rows, list) or not rows or not all(isinstance(r, Mapping) for r in rows):
            problems.append(Problem("must be a non-empty list of row objects", column=name,
                                    column_word="field"))
            continue
        frames[name] = _frame_as_text(pd.DataFrame(list(rows)), name)
    unit_table = None
    if "units" in frames:
        text = json.dumps(payload.get("units"), sort_keys=True)
        unit_table = _units_from_raw(frames["units"], problems, "units",
                                     hashlib.sha256(text.encode()).hexdigest())
    cohort = None
    if "patients" in frames:
        cohort = validate_patients(frames["patients"], parsed, unit_table, problems)
    if problems:
        raise InputError(problems)
    assert cohort is not None and unit_table is not None and parsed is not None
    text = json.dumps(payload.get("patients"), sort_keys=True)
    return BedsideInputs(_with_hash(cohort, hashlib.sha256(text.encode()).hexdigest()),
                         unit_table.with_origin(cohort.start_date), parsed)


def _with_hash(cohort: Cohort, digest: str) -> Cohort:
    from dataclasses import replace

    return replace(cohort, sha256=digest)


# ---------------------------------------------------------------------------------------------
# Units


def load_units(path: Path, existing: str | Path | None = None) -> Units:
    """units.csv (site, day, units), a plan (its folder or daily.csv: region, day,
    units_on_hand) or a regional result.json (allocation, plus `existing` site,units)."""
    problems: list[Problem] = []
    if path.is_dir():
        path = path / "daily.csv"
    if path.suffix == ".json":
        return _units_from_result(path, existing)
    raw = _read_csv(path, problems, required=True)
    if raw is None:
        raise InputError(problems)
    if "units_on_hand" in raw.columns and "region" in raw.columns:  # a plan's daily.csv
        raw = raw.rename(columns={"region": "site", "units_on_hand": "units"})
        raw = raw[["site", "day", "units"]].copy()
        raw["units"] = [_floor_text(v) for v in raw["units"]]
        raw.attrs.update(file=path.name, lines=raw.attrs.get("lines", []))
    units = _units_from_raw(raw, problems, path.name, sha256_file(path))
    if problems:
        raise InputError(problems)
    assert units is not None
    return units


def _floor_text(text: str) -> str:
    """A plan's units on hand can carry rounding noise (12.0000001): whole units held."""
    try:
        value = float(text)
    except ValueError:
        return text
    return str(math.floor(value + 1e-6)) if math.isfinite(value) else text


def _raw_sites(path: Path) -> set[str] | None:
    """The site ids a units.csv lists, even when other cells are wrong (None if unreadable)."""
    scratch: list[Problem] = []
    raw = _read_csv(path, scratch, required=True) if path.suffix == ".csv" else None
    if raw is None or "site" not in raw.columns:
        return None
    return {str(v).strip() for v in raw["site"] if str(v).strip()}


def _units_from_raw(raw: pd.DataFrame, problems: list[Problem], file: str,
                    digest: str) -> Units | None:
    lines: list[int] = raw.attrs.get("lines", list(range(2, len(raw) + 2)))
    word = raw.attrs.get("line_word", "line")
    before = len(problems)
    missing = [c for c in ("site", "day", "units") if c not in raw.columns]
    if missing:
        problems.append(Problem(f"missing required column(s): {', '.join(missing)}", file=file))
        return None
    extra = [c for c in raw.columns if c not in ("site", "day", "units")]
    if extra:
        problems.append(Problem(f"unknown column(s): {', '.join(extra)} (columns: site, day, "
                                "units)", file=file))
    rows = []
    seen: dict[tuple[str, int], int] = {}
    for line, site, day, units in zip(lines, raw["site"], raw["day"], raw["units"], strict=True):
        site = str(site).strip()
        where = {"file": file, "line": line, "line_word": word}
        if not site:
            problems.append(Problem("empty site id", column="site", **where))
            continue
        d = _day(str(day).strip())
        u = _whole(str(units).strip(), MAX_UNITS)
        if d is None:
            problems.append(Problem(f"must be a day number (0-{MAX_DAY}) or a date YYYY-MM-DD, "
                                    f"got {str(day)!r}", column="day", **where))
        if u is None:
            problems.append(Problem(f"must be a whole number of units >= 0, got {str(units)!r}",
                                    column="units", **where))
        if d is None or u is None:
            continue
        key = (site, d if isinstance(d, int) else d.toordinal() + MAX_DAY)
        if key in seen:
            problems.append(Problem(f"site {site!r} and day {day} listed twice (first on "
                                    f"{word} {seen[key]})", column="day", **where))
            continue
        seen[key] = line
        rows.append((site, d, u))
    kinds = {isinstance(d, dt.date) for _, d, _ in rows}
    if len(kinds) > 1:
        problems.append(Problem("column day mixes day numbers and dates; use one kind",
                                file=file, column="day"))
    if not rows and len(problems) == before:
        problems.append(Problem("no units listed", file=file))
    if len(problems) > before:
        return None
    table = pd.DataFrame(rows, columns=["site", "day", "units"])
    return Units(table, file, digest)


def _units_from_result(path: Path, existing: str | Path | None) -> Units:
    """A regional result.json: each region's allocated units (+ existing capacity) from day 0."""
    try:
        data = json.loads(path.read_text())
        allocation = data["allocation"]
        if not isinstance(allocation, Mapping):
            raise TypeError("allocation is not an object")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(Problem(f"not a regional result.json ({exc})", file=path.name)) from None
    counts = {str(k): v for k, v in allocation.items()}
    problems: list[Problem] = []
    if existing is not None:
        raw = _read_csv(Path(existing), problems, required=True)
        if raw is not None:
            if set(raw.columns) != {"site", "units"}:
                problems.append(Problem("columns must be site, units", file=Path(existing).name))
            else:
                for line, site, units in zip(raw.attrs["lines"], raw["site"], raw["units"],
                                             strict=True):
                    u = _whole(str(units).strip(), MAX_UNITS)
                    if u is None:
                        problems.append(Problem(f"must be a whole number >= 0, got {units!r}",
                                                file=Path(existing).name, line=line,
                                                column="units"))
                        continue
                    counts[str(site).strip()] = counts.get(str(site).strip(), 0) + u
    rows = []
    for site, units in counts.items():
        if isinstance(units, bool) or not isinstance(units, int) or units < 0:
            problems.append(Problem(f"allocation of {site!r} is not a whole number >= 0: "
                                    f"{units!r}", file=path.name))
            continue
        rows.append((site, 0, units))
    if problems:
        raise InputError(problems)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if existing is not None:
        digest = hashlib.sha256((digest + sha256_file(Path(existing))).encode()).hexdigest()
    return Units(pd.DataFrame(rows, columns=["site", "day", "units"]), path.name, digest)


def _whole(text: str, high: int) -> int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or value != int(value) or not 0 <= value <= high:
        return None
    return int(value)


def _day(text: str) -> int | dt.date | None:
    try:
        value = float(text)
    except ValueError:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None
    if not math.isfinite(value) or value != int(value) or not 0 <= value <= MAX_DAY:
        return None
    return int(value)


def case_to_dict(folder: str | Path) -> dict[str, Any]:
    """A bedside folder as the JSON body of POST /v1/bedside (the inverse of
    inputs_from_dict): rows of patients.csv and units.csv, policy.toml as a table."""
    import tomllib

    root = Path(folder)

    def rows(path: Path) -> list[dict[str, Any]]:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        out = []
        for record in frame.to_dict("records"):
            out.append({str(k): _json_cell(v) for k, v in record.items()
                        if str(v).strip() != ""})
        return out

    def plain(value: Any) -> Any:
        if isinstance(value, dt.date | dt.datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    policy = tomllib.loads((root / "policy.toml").read_text())
    return {"patients": rows(root / "patients.csv"), "units": rows(root / "units.csv"),
            "policy": plain(policy)}


def _json_cell(text: str) -> Any:
    word = text.strip()
    if word.lower() in ("true", "false"):
        return word.lower() == "true"
    try:
        number = float(word)
    except ValueError:
        return word
    if not math.isfinite(number):
        return word
    return int(number) if number == int(number) and "." not in word else number
