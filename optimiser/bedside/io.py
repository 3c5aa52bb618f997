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

from optimiser.bedside.patients import MAX_DAY, blank, validate_patients
from optimiser.bedside.policy import Policy, load_policy, policy_from_dict
from optimiser.errors import InputError, Problem, listed
from optimiser.instance import _frame_as_text, _read_csv
from optimiser.textfiles import json_error_words

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
        frames[name] = _json_rows(rows, name, parsed, problems)
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


JSON_TEXT = {"patient", "site"}
JSON_BOOLEAN = {"dni", "exclusion", "single_organ_failure"}
JSON_NUMBER = {"arrival", "expected_days", "survival_with", "survival_without", "sofa",
               "life_expectancy_years", "age_years", "sofa_48h", "sofa_120h", "day", "units"}


def _json_rows(rows: list[Mapping[str, Any]], name: str, policy: Policy | None,
               problems: list[Problem]) -> pd.DataFrame:
    """JSON row objects as text cells, with the JSON types the schema states: ids and sites
    are strings, measures numbers (days are day numbers: dates belong to the CSV files),
    flags booleans; a reporting group may be a string, a number or a boolean; null is an
    empty cell. A value of the wrong type is a problem of its row and field."""
    flags = set(policy.categories) if policy is not None else set()
    text_columns = JSON_TEXT | ({"site"} if name == "units" else set())
    cleaned = []
    for i, row in enumerate(rows):
        kept: dict[str, Any] = {}
        for key, value in row.items():
            column = str(key)
            reason = _json_type_problem(column, value, text_columns, flags)
            if reason:
                problems.append(Problem(reason, file=name, line=i + 1, column=column,
                                        line_word="row"))
                value = None
            kept[column] = value
        cleaned.append(kept)
    columns = list(dict.fromkeys(k for row in cleaned for k in row))
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in cleaned], columns=columns)
    return _frame_as_text(frame, name)


def _json_type_problem(column: str, value: Any, text: set[str], flags: set[str]) -> str | None:
    if value is None:
        return None
    if column in text:
        return None if isinstance(value, str) else f"must be a string, got {value!r:.40}"
    if column in JSON_NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, got {value!r:.40}"
        if isinstance(value, int) and abs(value) > 10**15:
            return f"must be a number of at most 15 digits, got {value!r:.40}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        return None
    if column == "comorbidity":
        return None if value in ("none", "major", "severe") else (
            f"must be one of none, major, severe, got {value!r:.40}")
    if column in JSON_BOOLEAN:
        return None if isinstance(value, bool) else f"must be true or false, got {value!r:.40}"
    if column in flags:
        return None if isinstance(value, bool) else (
            f"a category flag of the policy: must be true or false, got {value!r:.40}")
    if not isinstance(value, str | int | float | bool):
        return f"must be a string, a number or a boolean, got {value!r:.40}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    return None


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
    if existing is not None:  # it was ignored: the decision was made without those units
        raise InputError(Problem(
            f"adds to a regional result.json given as the units, not to {path.name} (units.csv "
            "and a plan's daily.csv count every unit on hand already)",
            column="existing-capacity", column_word="option"))
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
        problems.append(Problem(f"missing required {listed('column', missing)}", file=file))
        return None
    extra = [c for c in raw.columns if c not in ("site", "day", "units")]
    if extra:
        problems.append(Problem(f"unknown {listed('column', extra)} (columns: site, day, "
                                "units)", file=file))
    rows = []
    seen: dict[tuple[str, int], int] = {}
    for line, site, day, units in zip(lines, raw["site"], raw["day"], raw["units"], strict=True):
        site = str(site).strip()
        where = {"file": file, "line": line, "line_word": word}
        if blank(site):
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
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise InputError(Problem(f"not a regional result.json ({json_error_words(exc)})",
                                 file=path.name)) from None
    problems: list[Problem] = []
    counts: dict[str, int] = {}
    for key, units in allocation.items():
        site = str(key)
        if (isinstance(units, bool) or not isinstance(units, int)
                or not 0 <= units <= MAX_UNITS):
            problems.append(Problem(f"must be a whole number of units (0-{MAX_UNITS:,}), got "
                                    f"{units!r:.40}", file=path.name, column=f"allocation.{site}",
                                    column_word="field"))
            continue
        counts[site] = units
    if existing is not None:
        raw = _read_csv(Path(existing), problems, required=True)
        if raw is not None:
            if set(raw.columns) != {"site", "units"}:
                problems.append(Problem("columns must be site, units", file=Path(existing).name))
            else:
                _add_existing(raw, Path(existing).name, set(map(str, allocation)), counts,
                              problems)
    rows = [(site, 0, units) for site, units in counts.items()]
    if problems:
        raise InputError(problems)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if existing is not None:
        digest = hashlib.sha256((digest + sha256_file(Path(existing))).encode()).hexdigest()
    return Units(pd.DataFrame(rows, columns=["site", "day", "units"]), path.name, digest)


def _add_existing(raw: pd.DataFrame, file: str, regions: set[str], counts: dict[str, int],
                  problems: list[Problem]) -> None:
    """--existing-capacity (site, units): added to the allocation of each region it names."""
    seen: dict[str, int] = {}
    for line, site_text, units in zip(raw.attrs["lines"], raw["site"], raw["units"],
                                      strict=True):
        site = str(site_text).strip()
        where = {"file": file, "line": line}
        if site not in regions:
            problems.append(Problem(f"site {site!r} is not a region of the result (its regions: "
                                    f"{', '.join(sorted(regions))})", column="site", **where))
        elif site in seen:
            problems.append(Problem(f"site {site!r} listed twice (first on line {seen[site]})",
                                    column="site", **where))
        seen.setdefault(site, line)
        u = _whole(str(units).strip(), MAX_UNITS)
        if u is None:
            problems.append(Problem(f"must be a whole number >= 0, got {units!r}",
                                    column="units", **where))
        elif site in regions and seen[site] == line and site in counts:
            counts[site] += u


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


def case_to_dict(folder: str | Path, **files: Any) -> dict[str, Any]:
    """A bedside folder as the JSON body of POST /v1/bedside (inputs_from_dict reads it back
    to the same decisions): the validated patients (arrivals as day numbers, with the
    survival the policy's SOFA table gave), the units as day numbers, policy.toml as a table.
    `files`: load_inputs' units, policy and existing."""
    import tomllib

    inputs = load_inputs(folder, **files)
    cohort = inputs.cohort
    columns = [c for c in cohort.patients.columns if c not in ("day", "days", "line")]
    patients = []
    for pid, row in cohort.patients[columns].iterrows():
        record: dict[str, Any] = {"patient": str(pid)}
        for key, value in row.items():
            if key == "comorbidity" and value == "":
                continue
            if key in cohort.reporting_groups:
                record[str(key)] = _json_cell(str(value))
                continue
            value = value.item() if hasattr(value, "item") else value
            if isinstance(value, float) and math.isnan(value):
                continue
            if key in ("sofa", "sofa_48h", "sofa_120h"):
                value = int(value)
            record[str(key)] = value
        patients.append(record)
    units = [{"site": str(s), "day": int(d), "units": int(u)}
             for s, d, u in inputs.units.table.itertuples(index=False)]

    def plain(value: Any) -> Any:
        if isinstance(value, dt.date | dt.datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    policy_path = Path(inputs.files["policy"])
    policy = plain(tomllib.loads(policy_path.read_text(encoding="utf-8-sig")))
    return {"patients": patients, "units": units, "policy": policy}


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
