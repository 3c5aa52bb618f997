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

from optimiser.bedside.policy import Policy, load_policy, policy_from_dict
from optimiser.errors import InputError, Problem
from optimiser.instance import _frame_as_text, _read_csv

MAX_DAY = 100_000
MAX_UNITS = 1_000_000
TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f", ""}
COMORBIDITY = ("none", "major", "severe")
REQUIRED = ("patient", "site", "arrival", "expected_days")
# column -> (kind, low, high); kinds: prob, number, int, bool, text, choice
OPTIONAL: dict[str, tuple[str, float, float]] = {
    "survival_with": ("prob", 0, 1),
    "survival_without": ("prob", 0, 1),
    "sofa": ("int", 0, 24),
    "dni": ("bool", 0, 0),
    "life_expectancy_years": ("number", 0, 150),
    "comorbidity": ("choice", 0, 0),
    "age_years": ("number", 0, 130),
    "exclusion": ("bool", 0, 0),
    "single_organ_failure": ("bool", 0, 0),
    "sofa_48h": ("int", 0, 24),
    "sofa_120h": ("int", 0, 24),
}


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


def _arrival(text: str) -> float | dt.datetime | None:
    """A day number (>= 0, a fraction is the time of day) or an ISO date or date-time."""
    try:
        value = float(text)
    except ValueError:
        try:
            stamp = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        return stamp.replace(tzinfo=None) if stamp.tzinfo is None else stamp.astimezone(
            dt.UTC).replace(tzinfo=None)
    if not math.isfinite(value) or not 0 <= value <= MAX_DAY:
        return None
    return value


# ---------------------------------------------------------------------------------------------
# Patients


def _raw_sites(path: Path) -> set[str] | None:
    """The site ids a units.csv lists, even when other cells are wrong (None if unreadable)."""
    scratch: list[Problem] = []
    raw = _read_csv(path, scratch, required=True) if path.suffix == ".csv" else None
    if raw is None or "site" not in raw.columns:
        return None
    return {str(v).strip() for v in raw["site"] if str(v).strip()}


def validate_patients(
    raw: pd.DataFrame,
    policy: Policy | None,
    units: Units | None,
    problems: list[Problem],
    unit_sites: set[str] | None = None,
) -> Cohort | None:
    """Check patients.csv (as text cells) against the policy and the units (or, when the
    units could not be read, the `unit_sites` they list); None if any problem was found (all of
    them are appended to `problems`)."""
    file = raw.attrs.get("file", "patients.csv")
    lines: list[int] = raw.attrs.get("lines", list(range(2, len(raw) + 2)))
    word = raw.attrs.get("line_word", "line")
    before = len(problems)
    categories = policy.categories if policy is not None else ()
    reporting = policy.reporting_groups if policy is not None else ()
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        problems.append(Problem(f"missing required column(s): {', '.join(missing)}", file=file))
        return None
    if "survival_with" not in raw.columns and "sofa" not in raw.columns:
        problems.append(Problem("needs survival_with, or sofa with a survival_from_sofa table "
                                "in the policy", file=file))
    if policy is not None:
        known = {*REQUIRED, *OPTIONAL, *categories, *reporting}
        unknown = [c for c in raw.columns if c not in known]
        if unknown:
            problems.append(Problem(
                f"unknown column(s): {', '.join(unknown)} (a column the policy does not name is "
                "refused: list category flags in the policy's categories and reporting columns "
                "in its reporting_groups)", file=file))
        for key, names in (("categories", categories), ("reporting_groups", reporting)):
            for i, name in enumerate(names):
                if name not in raw.columns:
                    problems.append(Problem(
                        f"field '{key}[{i}]': names column {name!r}, which patients.csv "
                        "does not have", file="policy.toml" if file == "patients.csv" else None))
    if len(raw) == 0:
        problems.append(Problem("no patients", file=file))
        return None
    ids = [str(v).strip() for v in raw["patient"]]
    seen: dict[str, int] = {}
    for line, pid in zip(lines, ids, strict=True):
        if not pid:
            problems.append(Problem("empty patient id", file=file, line=line, column="patient",
                                    line_word=word))
        elif pid in seen:
            problems.append(Problem(f"duplicate patient id {pid!r} (first on {word} "
                                    f"{seen[pid]})", file=file, line=line, column="patient",
                                    line_word=word))
        else:
            seen[pid] = line
    columns: dict[str, list[Any]] = {}

    def fail(line: int, column: str, message: str) -> None:
        problems.append(Problem(message, file=file, line=line, column=column, line_word=word))

    sites = [str(v).strip() for v in raw["site"]]
    known_sites = set(units.sites) if units is not None else unit_sites
    for line, site in zip(lines, sites, strict=True):
        if not site:
            fail(line, "site", "empty site id")
        elif known_sites is not None and site not in known_sites:
            fail(line, "site", f"unknown site {site!r} (sites with units: "
                 f"{', '.join(sorted(known_sites))})")
    arrivals = []
    for line, text in zip(lines, raw["arrival"], strict=True):
        value = _arrival(str(text).strip())
        if value is None:
            fail(line, "arrival", f"must be a day number >= 0 or an ISO date-time, got "
                 f"{str(text)!r}")
        arrivals.append(value)
    kinds = {isinstance(a, dt.datetime) for a in arrivals if a is not None}
    start_date = None
    if len(kinds) > 1:
        problems.append(Problem("column arrival mixes day numbers and dates; use one kind",
                                file=file, column="arrival"))
    elif kinds == {True}:
        first = min(a for a in arrivals if isinstance(a, dt.datetime))
        unit_dates = [] if units is None else [
            d for d in units.table["day"] if isinstance(d, dt.date)]
        if units is not None and len(unit_dates) != len(units.table):
            problems.append(Problem("arrival uses dates but the units use day numbers; use "
                                    "dates in both", file=file, column="arrival"))
        origin = min([first.date(), *unit_dates])
        start_date = origin.isoformat()
        base = dt.datetime.combine(origin, dt.time())
        arrivals = [a if not isinstance(a, dt.datetime) else (a - base).total_seconds() / 86400
                    for a in arrivals]
    elif units is not None and any(isinstance(d, dt.date) for d in units.table["day"]):
        problems.append(Problem("the units use dates but arrival uses day numbers; use one "
                                "kind in both", file=file, column="arrival"))
    columns["arrival"] = [a if isinstance(a, float) else math.nan for a in arrivals]
    columns["expected_days"] = _numbers(raw, "expected_days", lines, fail, low=0.0, high=1e4,
                                        strict_low=True)
    for column, (kind, low, high) in OPTIONAL.items():
        present = column in raw.columns
        if kind == "bool":
            columns[column] = _booleans(raw, column, lines, fail) if present else [False] * len(raw)
        elif kind == "choice":
            columns[column] = _choices(raw, column, lines, fail) if present else [""] * len(raw)
        elif present:
            columns[column] = _numbers(raw, column, lines, fail, low=low, high=high,
                                       integer=kind == "int")
        else:
            columns[column] = [math.nan] * len(raw)
    for flag in categories:
        columns[flag] = (_booleans(raw, flag, lines, fail) if flag in raw.columns
                         else [False] * len(raw))
    for group in reporting:
        columns[group] = ([str(v).strip() for v in raw[group]] if group in raw.columns
                          else [""] * len(raw))
    _survival(columns, lines, fail, policy, "survival_with" in raw.columns)
    if policy is not None:
        _requirements(columns, lines, fail, policy)
    if len(problems) > before:
        return None
    frame = pd.DataFrame(columns, index=pd.Index(ids, name="patient"))
    frame.insert(0, "site", sites)
    frame["day"] = np.floor(frame["arrival"].to_numpy() + 1e-9).astype(np.int64)
    frame["days"] = np.maximum(np.ceil(frame["expected_days"].to_numpy() - 1e-9), 1).astype(
        np.int64)
    frame["line"] = lines
    frame["dni"] = frame["dni"].astype(bool)
    return Cohort(frame, tuple(categories), tuple(reporting), start_date, file=file)


def _numbers(raw: pd.DataFrame, column: str, lines: list[int], fail: Any, *, low: float,
             high: float, integer: bool = False, strict_low: bool = False) -> list[float]:
    out = []
    for line, text in zip(lines, raw[column], strict=True):
        text = str(text).strip()
        if text == "":
            out.append(math.nan)
            continue
        try:
            value = float(text)
        except ValueError:
            fail(line, column, f"not a number: {text!r}")
            out.append(math.nan)
            continue
        if not math.isfinite(value):
            fail(line, column, f"must be finite, got {text}")
            value = math.nan
        elif integer and value != int(value):
            fail(line, column, f"must be a whole number, got {text}")
        elif value < low or (strict_low and value == low) or value > high:
            if column.startswith("survival"):
                fail(line, column, f"is a probability: must be in [0, 1], got {text}")
            else:
                op = ">" if strict_low else ">="
                fail(line, column, f"must be {op} {low:g} and <= {high:g}, got {text}")
        out.append(value)
    return out


def _booleans(raw: pd.DataFrame, column: str, lines: list[int], fail: Any) -> list[bool]:
    out = []
    for line, text in zip(lines, raw[column], strict=True):
        word = str(text).strip().lower()
        if word in TRUE:
            out.append(True)
        elif word in FALSE:
            out.append(False)
        else:
            fail(line, column, f"must be true or false, got {str(text)!r}")
            out.append(False)
    return out


def _choices(raw: pd.DataFrame, column: str, lines: list[int], fail: Any) -> list[str]:
    out = []
    for line, text in zip(lines, raw[column], strict=True):
        word = str(text).strip().lower() or "none"
        if word not in COMORBIDITY:
            fail(line, column, f"must be one of {', '.join(COMORBIDITY)}, got {str(text)!r}")
        out.append(word)
    return out


def _survival(columns: dict[str, list[Any]], lines: list[int], fail: Any,
              policy: Policy | None, given: bool) -> None:
    """Fill survival_with from SOFA where blank (the policy's table); survival_without
    defaults to 0 (the RAPR assumption, seed 002 note 8); survival_without <= survival_with."""
    sw, swo, sofa = columns["survival_with"], columns["survival_without"], columns["sofa"]
    for i, line in enumerate(lines):
        if math.isnan(sw[i]):
            mapped = None
            if policy is not None and not math.isnan(sofa[i]):
                mapped = policy.survival_from_sofa(int(sofa[i]))
            if mapped is None:
                where = "survival_with" if given else "sofa"
                hint = ("give survival_with, or sofa with a survival_from_sofa table in the "
                        "policy that lists this score")
                fail(line, where, f"no survival probability: {hint}")
                continue
            sw[i] = mapped
        if math.isnan(swo[i]):
            swo[i] = 0.0
        if swo[i] > sw[i]:
            fail(line, "survival_without", f"survival_without ({swo[i]:g}) is greater than "
                 f"survival_with ({sw[i]:g})")


def _requirements(columns: dict[str, list[Any]], lines: list[int], fail: Any,
                  policy: Policy) -> None:
    """Columns the policy needs for every candidate (DNI patients are not candidates)."""
    needs: list[tuple[str, str]] = []
    if policy.objective == "life_years":
        needs.append(("life_expectancy_years", "the objective is life_years"))
    if policy.priority in ("ny2015_tiers", "pittsburgh_points"):
        needs.append(("sofa", f"the priority is {policy.priority}"))
    if policy.priority == "pittsburgh_points" and policy.pittsburgh.life_cycle_tiebreak:
        needs.append(("age_years", "the Pittsburgh life-cycle tie-break is on"))
    if policy.reassessment:
        needs += [("sofa", "reassessment is on"), ("sofa_48h", "reassessment is on"),
                  ("sofa_120h", "reassessment is on")]
    for column, why in dict(needs).items():
        for i, line in enumerate(lines):
            if not columns["dni"][i] and math.isnan(columns[column][i]):
                fail(line, column, f"missing value ({why})")


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
