"""Guardrails: policies the engine refuses, each refusal naming the rule and the principle.

From seed 000 ("The Rules of Triage"): no blanket exclusions by age or disability, no social
worth judgments (the narrow essential-health-worker category is the documented exception), no
bedside cost per QALY; and, since a blanket rule can hide in a score, no score cut-off on a
protected attribute. Reporting groups are for reporting only, never a criterion.

The checks read the policy's names and structure: a committee could defeat them by renaming a
column, so they are a safety net, not a proof; the decision log records every criterion used,
so an inquiry sees what each decision rested on. docs/bedside.md, "Guardrails", lists exactly
what is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from optimiser.errors import Problem

if TYPE_CHECKING:
    from optimiser.bedside.policy import Policy


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    principle: str


G1 = Rule("G1", "no categorical exclusion by age or disability",
          "justice: every patient is assessed individually; age or disability is not a proxy "
          "for prognosis (seed 000, 'No Blanket Exclusions')")
G2 = Rule("G2", "no social worth",
          "equal worth of every life: occupation, insurance, wealth or 'value to society' never "
          "rank patients; the only exception is the narrow essential_health_worker category "
          "(instrumental value to the response) (seed 000, 'No Social Worth Judgments')")
G3 = Rule("G3", "no bedside cost per QALY",
          "non-discrimination: quality adjustment values a life with a disability less, so "
          "cost-effectiveness stays at the macro level (seed 000, 'No Bedside Cost "
          "Calculations')")
G4 = Rule("G4", "no score cut-off on a protected attribute",
          "justice: a blanket exclusion written as a threshold or points on age, disability "
          "or another protected attribute is still a blanket exclusion (seed 000)")
G5 = Rule("G5", "reporting groups are never a criterion",
          "equal treatment: age band, sex, ethnicity or deprivation are collected only to "
          "report outcomes by group")
RULES = (G1, G2, G3, G4, G5)

ESSENTIAL_HEALTH_WORKER = "essential_health_worker"
AGE_OR_DISABILITY = {"age", "aged", "ages", "elderly", "old", "older", "birth", "dob", "born",
                     "disability", "disabilities", "disabled", "handicap", "handicapped",
                     "impairment", "impaired", "frailty", "frail", "cfs", "dementia",
                     "cognitive", "intellectual", "autism", "autistic", "mental"}
OTHER_PROTECTED = {"sex", "gender", "ethnicity", "ethnic", "race", "racial", "religion",
                   "religious", "nationality", "pregnancy", "pregnant", "orientation"}
SOCIAL_WORTH = {"occupation", "occupational", "job", "profession", "professional",
                "employment", "employed", "unemployed", "employer", "worker", "workers",
                "insurance", "insured", "uninsured", "payer", "wealth", "wealthy", "income",
                "salary", "assets", "net", "worth", "social", "society", "societal", "vip",
                "celebrity", "education", "educated", "criminal", "prisoner", "incarcerated",
                "immigration", "citizenship", "citizen", "political", "contribution",
                "productivity", "productive", "rank", "status"}
COST_PER_QALY = {"qaly", "qalys", "daly", "dalys", "icer", "cost", "costs", "price", "wtp",
                 "willingness", "monetary", "budget", "effectiveness"}
COST_OBJECTIVES = ("qaly", "qalys", "cost_per_qaly", "cost_effectiveness", "net_benefit",
                   "net_monetary_benefit", "daly")


def words(name: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", name.lower()) if w}


def classify(column: str) -> Rule | None:
    """The rule a column would break if used as a criterion, or None."""
    found = words(column)
    if column == ESSENTIAL_HEALTH_WORKER:
        return None
    if found & COST_PER_QALY:
        return G3
    if found & SOCIAL_WORTH:
        return G2
    if found & (AGE_OR_DISABILITY | OTHER_PROTECTED):
        return G4
    return None


def refusal(rule: Rule, field: str, what: str, file: str | None) -> Problem:
    return Problem(
        f"field '{field}': refused by guardrail {rule.code} ({rule.title}; principle: "
        f"{rule.principle}): {what}",
        file=file,
    )


def is_cost_objective(value: Any) -> bool:
    return isinstance(value, str) and (value.lower() in COST_OBJECTIVES
                                       or bool(words(value) & COST_PER_QALY))


def check_guardrails(data: Mapping[str, Any], policy: Policy, file: str | None) -> list[Problem]:
    """Every guardrail the policy breaks, as problems (exit 2)."""
    out: list[Problem] = []
    objective = data.get("objective")
    if is_cost_objective(objective):
        out.append(refusal(G3, "objective", f"objective {objective!r} prices patients by cost "
                           "per QALY at the bedside", file))
    for key in ("cost_effectiveness", "costs", "qaly"):
        if key in data:
            out.append(refusal(G3, key, "a cost-effectiveness table at the bedside", file))
    if "social_value" in data or "weights" in data:
        key = "social_value" if "social_value" in data else "weights"
        out.append(refusal(G2, key, "patients weighted by their value to society", file))
    reporting = set(policy.reporting_groups)
    for i, name in enumerate(policy.categories):
        out.extend(_criterion(name, f"categories[{i}]", "a category flag", reporting, file))
    for i, spec in enumerate(policy.reserves):
        if spec.category in policy.categories:
            continue  # checked as a category
        out.extend(_criterion(spec.category, f"reserves[{i}].category", "a reserve category",
                              reporting, file))
    for flag, _ in policy.tie_break.weights:
        if flag not in policy.categories:
            out.extend(_criterion(flag, f"tie_break.weights.{flag}", "a lottery weight",
                                  reporting, file))
    for key in ("exclusions", "exclude", "exclusion", "cutoffs", "priority_points"):
        if key not in data:
            continue
        items = data[key]
        rows = items if isinstance(items, list) else [items]
        if key != "exclusions" and not any(isinstance(item, Mapping) for item in rows):
            out.append(Problem(f"field '{key}': not supported (write clinical exclusions as "
                               "[[exclusions]] on sofa or exclusion)", file=file))
        for i, item in enumerate(rows):
            if not isinstance(item, Mapping):
                continue
            column = str(item.get("column", item.get("attribute", "")))
            field = f"{key}[{i}]"
            rule = classify(column)
            if column in reporting:
                rule = G5
            exclusion = key in ("exclusions", "exclude", "exclusion")
            if rule is G4 and exclusion and words(column) & AGE_OR_DISABILITY:
                rule = G1
            if rule is not None:
                verb = "excludes patients by" if exclusion else "scores patients by"
                out.append(refusal(rule, field, f"{verb} {column!r}{_threshold(item)}", file))
            elif key in ("exclude", "exclusion", "cutoffs", "priority_points"):
                out.append(Problem(f"field '{field}': not supported (write clinical exclusions "
                                   "as [[exclusions]] on sofa or exclusion)", file=file))
    return out


def _criterion(name: str, field: str, what: str, reporting: set[str],
               file: str | None) -> list[Problem]:
    if name in reporting:
        return [refusal(G5, field, f"{what} uses the reporting group {name!r}", file)]
    rule = classify(name)
    if rule is None:
        return []
    if rule is G2 and words(name) & {"worker", "workers"}:
        detail = (f"{what} {name!r} ranks patients by occupation (only "
                  f"{ESSENTIAL_HEALTH_WORKER!r}, the narrow documented exception, is allowed)")
    else:
        detail = f"{what} {name!r} is a criterion on {_kind(rule)}"
    return [refusal(rule, field, detail, file)]


def _kind(rule: Rule) -> str:
    return {"G2": "social worth", "G3": "cost per QALY", "G4": "a protected attribute"}.get(
        rule.code, "a protected attribute")


def _threshold(item: Mapping[str, Any]) -> str:
    for key in ("above", "below", "max", "min", "equals"):
        if key in item:
            return f" {key} {item[key]!r}"
    return ""
