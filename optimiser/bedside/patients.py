"""patients.csv: every cell checked against the policy and the units (docs/bedside.md,
"patients.csv"). Problems name the file, the line and the column; all are collected."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimiser.errors import Problem, listed
from optimiser.textfiles import not_a_number

if TYPE_CHECKING:
    from optimiser.bedside.io import Cohort, Units
    from optimiser.bedside.policy import Policy

TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f", ""}
COMORBIDITY = ("none", "major", "severe")
REQUIRED = ("patient", "site", "arrival", "expected_days")
# column -> (kind, low, high); kinds: prob, number, int, bool, choice
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
MAX_DAY = 100_000
_VISIBLE = re.compile(r"[^\s\ufeff]")


def blank(text: str) -> bool:
    """No visible character: only whitespace (Python's and JSON Schema's: a byte order mark
    too), so that what the service's schema calls empty (pattern \\S) is empty here."""
    return _VISIBLE.search(text) is None


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
        problems.append(Problem(f"missing required {listed('column', missing)}", file=file))
        return None
    if "survival_with" not in raw.columns and "sofa" not in raw.columns:
        problems.append(Problem("needs survival_with, or sofa with a survival_from_sofa table "
                                "in the policy", file=file))
    if policy is not None:
        known = {*REQUIRED, *OPTIONAL, *categories, *reporting}
        unknown = [c for c in raw.columns if c not in known]
        if unknown:
            problems.append(Problem(
                f"unknown {listed('column', unknown)} (a column the policy does not name is "
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
        if blank(pid):
            problems.append(Problem("empty patient id", file=file, line=line, column="patient",
                                    line_word=word))
        elif pid in seen:
            problems.append(Problem(f"duplicate patient id {pid!r} (first on {word} "
                                    f"{seen[pid]})", file=file, line=line, column="patient",
                                    line_word=word))
        else:
            seen[pid] = line
    columns: dict[str, list[Any]] = {}

    reported: set[tuple[int, str]] = set()  # cells already named in a problem

    def fail(line: int, column: str, message: str) -> None:
        reported.add((line, column))
        problems.append(Problem(message, file=file, line=line, column=column, line_word=word))

    sites = [str(v).strip() for v in raw["site"]]
    known_sites = set(units.sites) if units is not None else unit_sites
    for line, site in zip(lines, sites, strict=True):
        if blank(site):
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
                                        strict_low=True, required=True)
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
    _survival(columns, lines, fail, policy, "survival_with" in raw.columns, reported)
    if policy is not None:
        _requirements(columns, lines, fail, policy)
    if policy is not None and len(problems) == before:
        from optimiser.bedside.guardrails import check_values

        problems.extend(check_values(policy, columns, "policy.toml" if file == "patients.csv"
                                     else "policy"))
    if len(problems) > before:
        return None
    from optimiser.bedside.io import Cohort  # io imports this module

    frame = pd.DataFrame(columns, index=pd.Index(ids, name="patient"))
    frame.insert(0, "site", sites)
    frame["day"] = np.floor(frame["arrival"].to_numpy() + 1e-9).astype(np.int64)
    frame["days"] = np.maximum(np.ceil(frame["expected_days"].to_numpy() - 1e-9), 1).astype(
        np.int64)
    frame["line"] = lines
    frame["dni"] = frame["dni"].astype(bool)
    return Cohort(frame, tuple(categories), tuple(reporting), start_date, file=file)


def _numbers(raw: pd.DataFrame, column: str, lines: list[int], fail: Any, *, low: float,
             high: float, integer: bool = False, strict_low: bool = False,
             required: bool = False) -> list[float]:
    """The cells as numbers (blank: NaN, or a problem when `required`)."""
    out = []
    for line, text in zip(lines, raw[column], strict=True):
        text = str(text).strip()
        if text == "":
            if required:
                fail(line, column, "required: must be a number > 0, got an empty cell")
            out.append(math.nan)
            continue
        try:
            value = float(text)
        except ValueError:
            fail(line, column, not_a_number(text))
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
              policy: Policy | None, given: bool, reported: set[tuple[int, str]]) -> None:
    """Fill survival_with from SOFA where blank (the policy's table); survival_without
    defaults to 0 (the RAPR assumption, seed 002 note 8); survival_without <= survival_with.
    A score already refused (`reported`: 'twelve', out of range) is not named twice."""
    sw, swo, sofa = columns["survival_with"], columns["survival_without"], columns["sofa"]
    for i, line in enumerate(lines):
        if math.isnan(sw[i]):
            mapped = None
            if policy is not None and not math.isnan(sofa[i]):
                mapped = policy.survival_from_sofa(int(sofa[i]))
            if mapped is None and policy is None and not math.isnan(sofa[i]):
                continue  # the policy's own problems are listed; its table cannot be read
            if mapped is None and ((line, "sofa") in reported
                                   or (line, "survival_with") in reported):
                continue  # its unreadable value is the problem, listed once
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


def _arrival(text: str) -> float | dt.datetime | None:
    """A day number (>= 0, a fraction is the time of day) or an ISO date or date-time."""
    try:
        value = float(text)
    except ValueError:
        try:
            stamp = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        # the hospital's own clock: a UTC offset is dropped, not converted (00:30+01:00 on
        # 2 March arrived on the 2 March of units.csv's local dates, not on 1 March in UTC)
        return stamp.replace(tzinfo=None)
    if not math.isfinite(value) or not 0 <= value <= MAX_DAY:
        return None
    return value
