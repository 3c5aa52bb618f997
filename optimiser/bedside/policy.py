"""The committee's policy (policy.toml): objective, priority score, tie-break, reserves,
reassessment and who approved it. Every field is checked; unknown fields are refused with the
list of known ones; guardrails (guardrails.py) run on the parsed policy. docs/bedside.md,
"policy.toml", documents each field and its published default.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from optimiser.bedside.patients import blank
from optimiser.errors import InputError, Problem

OBJECTIVES = ("lives", "life_years")
PRIORITIES = ("rapr", "ny2015_tiers", "pittsburgh_points")
METHODS = ("optimal", "rule")
TIE_BREAKS = ("lottery", "weighted_lottery")
RESERVE_METHODS = ("sequential", "smart")
RESERVE_KINDS = ("soft", "hard")
UNRESERVED = "unreserved"
MAX_CATEGORIES = 10  # the smart reserve counts over subsets of categories (2^C)

# Published parameters (docs/bedside.md cites each).
NY2015_RED_MAX_SOFA = 7  # red: SOFA <= 7 or single organ failure (NY 2015, Table 1)
NY2015_BLUE_MIN_SOFA = 12  # blue: SOFA > 11 or an exclusion criterion
PITTSBURGH_SOFA_BANDS = ((0, 5, 1), (6, 8, 2), (9, 11, 3), (12, 24, 4))  # SOFA <6,6-8,9-11,>=12
PITTSBURGH_COMORBIDITY = {"none": 0, "major": 2, "severe": 4}
PITTSBURGH_AGE_GROUPS = (40, 60, 75)  # life-cycle tie-break: 12-40, 41-60, 61-75, >75


@dataclass(frozen=True)
class Approval:
    approved_by: str
    date: str
    reference: str = ""


@dataclass(frozen=True)
class NY2015:
    red_max_sofa: int = NY2015_RED_MAX_SOFA
    blue_min_sofa: int = NY2015_BLUE_MIN_SOFA
    exclude_blue: bool = True


@dataclass(frozen=True)
class Pittsburgh:
    sofa_bands: tuple[tuple[int, int, int], ...] = PITTSBURGH_SOFA_BANDS
    comorbidity_points: tuple[tuple[str, int], ...] = tuple(PITTSBURGH_COMORBIDITY.items())
    life_cycle_tiebreak: bool = True
    age_groups: tuple[int, ...] = PITTSBURGH_AGE_GROUPS
    essential_worker_tiebreak: bool = True


@dataclass(frozen=True)
class TieBreak:
    method: str = "lottery"
    seed: int = 0
    weights: tuple[tuple[str, float], ...] = ()  # weighted lottery: flag column -> weight


@dataclass(frozen=True)
class ReserveSpec:
    """A reserve category: units for the patients flagged in `category`."""

    name: str
    category: str
    share: float | None = None
    units: int | None = None
    soft: bool = True

    def size(self, free_units: int) -> int:
        """Units of this reserve when `free_units` come free at once (floor of the share)."""
        if self.units is not None:
            return min(self.units, free_units)
        assert self.share is not None
        return math.floor(self.share * free_units + 1e-9)


@dataclass(frozen=True)
class Exclusion:
    """A clinical exclusion written in the policy (column above/below a value)."""

    column: str
    above: float | None = None
    below: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Policy:
    name: str
    approval: Approval
    objective: str = "lives"
    priority: str = "rapr"
    method: str = "optimal"
    categories: tuple[str, ...] = ()
    reporting_groups: tuple[str, ...] = ()
    rapr_mean_days: float | None = None
    ny2015: NY2015 = field(default_factory=NY2015)
    pittsburgh: Pittsburgh = field(default_factory=Pittsburgh)
    sofa_survival: tuple[tuple[int, float], ...] = ()
    sofa_survival_source: str = ""
    tie_break: TieBreak = field(default_factory=TieBreak)
    reserves: tuple[ReserveSpec, ...] = ()
    processing_order: tuple[str, ...] = ()
    reserve_method: str = "sequential"
    reassessment: bool = False
    exclusions: tuple[Exclusion, ...] = ()
    text_sha256: str = ""

    def with_changes(self, **changes: Any) -> Policy:
        return replace(self, **changes)

    @property
    def order(self) -> tuple[str, ...]:
        """Processing order of the categories (reserve names and 'unreserved'). Default: the
        unreserved units first, then the reserves, so that a reserve's units come over and
        above what its beneficiaries win in open competition (Pathak et al. 2024, the
        order that favours beneficiaries most)."""
        if self.processing_order:
            return self.processing_order
        return (UNRESERVED, *(r.name for r in self.reserves))

    def survival_from_sofa(self, sofa: int) -> float | None:
        for score, survival in self.sofa_survival:
            if score == sofa:
                return survival
        return None

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary, written into every output."""
        return {
            "name": self.name,
            "approved_by": self.approval.approved_by,
            "approval_date": self.approval.date,
            "approval_reference": self.approval.reference,
            "objective": self.objective,
            "priority": self.priority,
            "method": self.method,
            "tie_break": self.tie_break.method,
            "seed": self.tie_break.seed,
            "reserves": [
                {"name": r.name, "category": r.category, "share": r.share, "units": r.units,
                 "kind": "soft" if r.soft else "hard"}
                for r in self.reserves
            ],
            "processing_order": list(self.order),
            "reserve_method": self.reserve_method,
            "reassessment": self.reassessment,
            "policy_sha256": self.text_sha256,
        }


TOP_KEYS = {
    "name", "objective", "priority", "method", "categories", "reporting_groups", "approval",
    "rapr", "ny2015", "pittsburgh", "survival_from_sofa", "tie_break", "reserves",
    "reserve_processing", "reassessment", "exclusions", "description",
}
# Keys recognised only so that guardrails can refuse them by name (guardrails.py).
GUARDED_KEYS = {"cutoffs", "priority_points", "cost_effectiveness", "costs", "qaly", "weights",
                "social_value", "exclude", "exclusion"}


class _Reader:
    """Typed access to a TOML table, collecting problems as `field 'a.b[0].c'` messages."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def fail(self, key: str, message: str) -> None:
        self.problems.append(Problem(f"field '{key}': {message}", file=self.file))

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key.rsplit(".", 1)[-1], {})
        if not isinstance(value, Mapping):
            self.fail(key, "must be a table")
            return {}
        return value

    def unknown(self, data: Mapping[str, Any], prefix: str, known: set[str]) -> None:
        for key in data:
            if key not in known:
                self.fail(f"{prefix}{key}", f"unknown field (known: {', '.join(sorted(known))})")

    def string(self, data: Mapping[str, Any], key: str, path: str, default: str | None = None,
               choices: tuple[str, ...] | None = None) -> str:
        value = data.get(key, default)
        if value is None:
            self.fail(path, "missing")
            return default or ""
        if not isinstance(value, str) or blank(value):
            self.fail(path, f"must be a non-empty string, got {value!r}")
            return default or ""
        if choices is not None and value not in choices:
            self.fail(path, f"must be one of {', '.join(choices)}, got {value!r}")
            return default or choices[0]
        return value

    def number(self, data: Mapping[str, Any], key: str, path: str, default: float | None,
               low: float | None = None, high: float | None = None,
               integer: bool = False) -> float | None:
        value = data.get(key, default)
        if value is None:
            return None
        bad = isinstance(value, bool) or not isinstance(value, int | float)
        if not bad and isinstance(value, float) and not math.isfinite(value):
            bad = True
        if not bad and integer and value != int(value):
            bad = True
        if bad:
            kind = "a whole number" if integer else "a finite number"
            self.fail(path, f"must be {kind}, got {value!r}")
            return default
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"[{low:g}, {high:g}]" if low is not None and high is not None else (
                f">= {low:g}" if low is not None else f"<= {high:g}")
            self.fail(path, f"must be {span}, got {value!r}")
            return default
        return float(value)

    def boolean(self, data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {value!r}")
            return default
        return value

    def names(self, data: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and not blank(v)
                                                  for v in value):
            self.fail(path, "must be a list of column names")
            return ()
        seen = list(value)
        dup = sorted({v for v in seen if seen.count(v) > 1})
        if dup:
            self.fail(path, f"names a column twice: {', '.join(dup)}")
        return tuple(dict.fromkeys(seen))


def load_policy(path: str | Path) -> Policy:
    """Read and check a policy.toml; raises InputError listing every problem (guardrails
    included, each naming the rule and the principle it protects)."""
    file = Path(path)
    if not file.is_file():
        raise InputError(Problem("file not found" if not file.exists() else "not a file",
                                 file=file.name))
    try:
        raw = file.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(f"cannot read as UTF-8 text: {exc}", file=file.name)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(Problem(f"malformed TOML: {exc}", file=file.name)) from None
    return policy_from_dict(data, file=file.name, text=text)


def policy_from_dict(data: Mapping[str, Any], *, file: str | None = "policy.toml",
                     text: str | None = None) -> Policy:
    """A policy from its TOML (or JSON) mapping, with policy.toml's rules."""
    from optimiser.bedside.guardrails import check_guardrails, is_cost_objective

    if not isinstance(data, Mapping):
        raise InputError(Problem("the policy must be a table (a JSON object)", file=file))
    r = _Reader(file)
    for key in data:
        if key not in TOP_KEYS and key not in GUARDED_KEYS:
            r.fail(key, f"unknown field (known: {', '.join(sorted(TOP_KEYS))})")
    name = r.string(data, "name", "name")
    if "description" in data and not isinstance(data["description"], str):
        r.fail("description", "must be a string")
    approval_table = r.table(data, "approval")
    r.unknown(approval_table, "approval.", {"approved_by", "date", "reference"})
    if "approval" not in data:
        r.fail("approval", "missing: who approved the policy and when (approved_by, date)")
    approved_by = r.string(approval_table, "approved_by", "approval.approved_by", None)
    date = _date(r, approval_table.get("date"), "approval.date")
    reference = approval_table.get("reference", "")
    if not isinstance(reference, str):
        r.fail("approval.reference", "must be a string")
        reference = ""
    policy = Policy(
        name=name,
        approval=Approval(approved_by, date, reference),
        objective="lives" if is_cost_objective(data.get("objective"))  # refused by G3
        else r.string(data, "objective", "objective", "lives", OBJECTIVES),
        priority=r.string(data, "priority", "priority", "rapr", PRIORITIES),
        method=r.string(data, "method", "method", "optimal", METHODS),
        categories=r.names(data, "categories", "categories"),
        reporting_groups=r.names(data, "reporting_groups", "reporting_groups"),
        rapr_mean_days=_rapr(r, data),
        ny2015=_ny2015(r, data),
        pittsburgh=_pittsburgh(r, data),
        tie_break=_tie_break(r, data),
        reassessment=_reassessment(r, data),
        text_sha256=hashlib.sha256((text if text is not None else repr(data)).encode())
        .hexdigest(),
    )
    sofa_table, sofa_source = _sofa_survival(r, data)
    reserves, order, method = _reserves(r, data)
    policy = replace(policy, sofa_survival=sofa_table, sofa_survival_source=sofa_source,
                     reserves=reserves, processing_order=order, reserve_method=method,
                     exclusions=_exclusions(r, data))
    r.problems.extend(check_guardrails(data, policy, file))
    _cross_checks(r, policy)
    if r.problems:
        raise InputError(r.problems)
    return policy


def _date(r: _Reader, value: Any, path: str) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    r.fail(path, f"must be a date (YYYY-MM-DD), got {value!r}")
    return ""


def _rapr(r: _Reader, data: Mapping[str, Any]) -> float | None:
    table = r.table(data, "rapr")
    r.unknown(table, "rapr.", {"mean_days"})
    return r.number(table, "mean_days", "rapr.mean_days", None, low=1e-3, high=1e5)


def _ny2015(r: _Reader, data: Mapping[str, Any]) -> NY2015:
    table = r.table(data, "ny2015")
    r.unknown(table, "ny2015.", {"red_max_sofa", "blue_min_sofa", "exclude_blue"})
    red = r.number(table, "red_max_sofa", "ny2015.red_max_sofa", NY2015_RED_MAX_SOFA, 0, 24, True)
    blue = r.number(table, "blue_min_sofa", "ny2015.blue_min_sofa", NY2015_BLUE_MIN_SOFA, 1, 25,
                    True)
    red_i, blue_i = int(red or NY2015_RED_MAX_SOFA), int(blue or NY2015_BLUE_MIN_SOFA)
    if red_i >= blue_i:
        r.fail("ny2015.red_max_sofa", f"must be below blue_min_sofa ({blue_i}), got {red_i}")
    return NY2015(red_i, blue_i, r.boolean(table, "exclude_blue", "ny2015.exclude_blue", True))


def _pittsburgh(r: _Reader, data: Mapping[str, Any]) -> Pittsburgh:
    table = r.table(data, "pittsburgh")
    known = {"comorbidity_points", "life_cycle_tiebreak", "essential_worker_tiebreak"}
    r.unknown(table, "pittsburgh.", known)
    points = dict(PITTSBURGH_COMORBIDITY)
    given = table.get("comorbidity_points")
    if given is not None:
        if not isinstance(given, Mapping) or set(given) != set(points):
            r.fail("pittsburgh.comorbidity_points",
                   "must be a table with exactly none, major and severe")
        else:
            for key, _value in given.items():
                number = r.number(given, key, f"pittsburgh.comorbidity_points.{key}", 0, 0, 24,
                                  True)
                points[key] = int(number or 0)
    return Pittsburgh(
        comorbidity_points=tuple(points.items()),
        life_cycle_tiebreak=r.boolean(table, "life_cycle_tiebreak",
                                      "pittsburgh.life_cycle_tiebreak", True),
        essential_worker_tiebreak=r.boolean(table, "essential_worker_tiebreak",
                                            "pittsburgh.essential_worker_tiebreak", True),
    )


def _sofa_survival(r: _Reader, data: Mapping[str, Any]) -> tuple[tuple[tuple[int, float], ...],
                                                                  str]:
    if "survival_from_sofa" not in data:
        return (), ""
    table = r.table(data, "survival_from_sofa")
    r.unknown(table, "survival_from_sofa.", {"sofa", "survival_with", "source"})
    sofa, survival = table.get("sofa"), table.get("survival_with")
    source = table.get("source", "")
    if not isinstance(source, str) or blank(source):
        r.fail("survival_from_sofa.source", "cite where the mapping comes from")
    if not isinstance(sofa, list) or not isinstance(survival, list) or len(sofa) != len(survival):
        r.fail("survival_from_sofa", "needs lists sofa and survival_with of the same length")
        return (), str(source)
    rows = []
    for i, (s, p) in enumerate(zip(sofa, survival, strict=True)):
        score = r.number({"v": s}, "v", f"survival_from_sofa.sofa[{i}]", None, 0, 24, True)
        prob = r.number({"v": p}, "v", f"survival_from_sofa.survival_with[{i}]", None, 0, 1)
        if score is not None and prob is not None:
            rows.append((int(score), prob))
    scores = [s for s, _ in rows]
    if len(set(scores)) != len(scores):
        r.fail("survival_from_sofa.sofa", "lists a score twice")
    return tuple(sorted(rows)), str(source)


def _tie_break(r: _Reader, data: Mapping[str, Any]) -> TieBreak:
    table = r.table(data, "tie_break")
    r.unknown(table, "tie_break.", {"method", "seed", "weights"})
    method = r.string(table, "method", "tie_break.method", "lottery", TIE_BREAKS)
    seed = r.number(table, "seed", "tie_break.seed", 0, 0, 2**32 - 1, True)
    weights: list[tuple[str, float]] = []
    given = table.get("weights", {})
    if not isinstance(given, Mapping):
        r.fail("tie_break.weights", "must be a table: flag column -> weight")
    else:
        for key, _value in given.items():
            w = r.number(given, key, f"tie_break.weights.{key}", None, 1e-3, 1e3)
            if w is not None:
                weights.append((str(key), w))
    if method == "weighted_lottery" and not weights:
        r.fail("tie_break.weights", "a weighted lottery needs weights (flag column -> weight)")
    if method == "lottery" and weights:
        r.fail("tie_break.weights", "weights apply only to method = 'weighted_lottery'")
    return TieBreak(method, int(seed or 0), tuple(weights))


def _reassessment(r: _Reader, data: Mapping[str, Any]) -> bool:
    table = r.table(data, "reassessment")
    r.unknown(table, "reassessment.", {"enabled", "rule"})
    if "rule" in table and table["rule"] != "ny2015":
        r.fail("reassessment.rule", f"must be 'ny2015' (48 h and 120 h), got {table['rule']!r}")
    return r.boolean(table, "enabled", "reassessment.enabled", False)


def _reserves(r: _Reader, data: Mapping[str, Any]) -> tuple[tuple[ReserveSpec, ...],
                                                             tuple[str, ...], str]:
    items = data.get("reserves", [])
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        r.fail("reserves", "must be an array of tables ([[reserves]])")
        items = []
    specs: list[ReserveSpec] = []
    for i, item in enumerate(items):
        path = f"reserves[{i}]"
        r.unknown(item, f"{path}.", {"name", "category", "share", "units", "kind"})
        name = r.string(item, "name", f"{path}.name")
        category = r.string(item, "category", f"{path}.category")
        share = r.number(item, "share", f"{path}.share", None, 0, 1)
        units = r.number(item, "units", f"{path}.units", None, 0, 1e6, True)
        if (share is None) == (units is None):
            r.fail(path, "give exactly one of share (0-1 of the free units) or units")
        kind = r.string(item, "kind", f"{path}.kind", "soft", RESERVE_KINDS)
        specs.append(ReserveSpec(name, category, share, None if units is None else int(units),
                                 kind == "soft"))
    names = [s.name for s in specs]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        r.fail("reserves", f"two reserves are named {dup!r}")
    if UNRESERVED in names:
        r.fail("reserves", f"{UNRESERVED!r} is the name of the open category; rename the reserve")
    total = sum(s.share for s in specs if s.share is not None)
    if total > 1 + 1e-9:
        r.fail("reserves", f"reserve shares sum to {total:.4g}, more than 100% of the units")
    if len(specs) + 1 > MAX_CATEGORIES:
        r.fail("reserves", f"at most {MAX_CATEGORIES - 1} reserves, got {len(specs)}")
    table = r.table(data, "reserve_processing")
    r.unknown(table, "reserve_processing.", {"order", "method"})
    method = r.string(table, "method", "reserve_processing.method", "sequential",
                      RESERVE_METHODS)
    order: tuple[str, ...] = ()
    if "order" in table:
        order = r.names(table, "order", "reserve_processing.order")
        expected = {*names, UNRESERVED}
        if set(order) != expected:
            missing = sorted(expected - set(order))
            extra = sorted(set(order) - expected)
            detail = "; ".join(
                part for part in (f"missing {', '.join(missing)}" if missing else "",
                                  f"unknown {', '.join(extra)}" if extra else "") if part)
            r.fail("reserve_processing.order",
                   f"must list every reserve and '{UNRESERVED}' once ({detail})")
    return tuple(specs), order, method


def _exclusions(r: _Reader, data: Mapping[str, Any]) -> tuple[Exclusion, ...]:
    items = data.get("exclusions", [])
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        r.fail("exclusions", "must be an array of tables ([[exclusions]])")
        return ()
    out = []
    for i, item in enumerate(items):
        path = f"exclusions[{i}]"
        r.unknown(item, f"{path}.", {"column", "above", "below", "reason"})
        column = r.string(item, "column", f"{path}.column")
        above = r.number(item, "above", f"{path}.above", None)
        below = r.number(item, "below", f"{path}.below", None)
        if above is None and below is None:
            r.fail(path, "give above or below (a threshold on the column)")
        reason = item.get("reason", "")
        if not isinstance(reason, str):
            r.fail(f"{path}.reason", f"must be a string, got {reason!r}")
            reason = ""
        out.append(Exclusion(column, above, below, reason))
    return tuple(out)


CLINICAL_EXCLUSION_COLUMNS = ("sofa", "exclusion")


def _cross_checks(r: _Reader, policy: Policy) -> None:
    from optimiser.bedside.guardrails import classify

    declared = set(policy.categories)
    for group in policy.reporting_groups:
        if group in declared:
            r.fail("reporting_groups", f"{group!r} is also a category: a reporting group is "
                   "never a criterion")
    for i, spec in enumerate(policy.reserves):
        if spec.category not in declared and classify(spec.category) is None:
            r.fail(f"reserves[{i}].category", f"names {spec.category!r}, which is not listed in "
                   f"categories ({', '.join(policy.categories) or 'none'})")
    for flag, _ in policy.tie_break.weights:
        if flag not in declared and classify(flag) is None:
            r.fail(f"tie_break.weights.{flag}", f"names {flag!r}, which is not listed in "
                   f"categories ({', '.join(policy.categories) or 'none'})")
    for i, rule in enumerate(policy.exclusions):
        guarded = classify(rule.column) is not None or rule.column in policy.reporting_groups
        if rule.column not in CLINICAL_EXCLUSION_COLUMNS and not guarded:
            r.fail(f"exclusions[{i}].column", f"unknown column {rule.column!r} (clinical "
                   f"exclusions may use: {', '.join(CLINICAL_EXCLUSION_COLUMNS)})")
