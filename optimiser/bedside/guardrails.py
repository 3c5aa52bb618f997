"""Guardrails: policies the engine refuses, each refusal naming the rule and the principle.

From seed 000 ("The Rules of Triage"): no blanket exclusions by age or disability, no social
worth judgments (the narrow essential-health-worker category is the documented exception), no
bedside cost per QALY; and, since a blanket rule can hide in a score, no score cut-off on a
protected attribute. Reporting groups are for reporting only, never a criterion.

Two kinds of check. By name (`check_guardrails`, on the policy alone): whole words of a
column's name (split at punctuation, digits and camelCase), stems for the long unambiguous
roots (disab..., insur..., ethnic...; never a short root inside a word: 'stage' is not 'age')
and age cut-offs written as a number (under_65, over80, 65plus). By value (`check_values`, on
the patients): a criterion flag that is a function of a reporting group on the data (a
renamed group), or an age cut-off on age_years. Both are a safety net, not a proof (docs:
what neither can see); the decision log records every criterion used, so an inquiry sees
what each decision rested on. docs/bedside.md, "Guardrails", lists exactly what is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
                     "cognitive", "intellectual", "autism", "autistic", "mental", "young",
                     "younger", "youngest", "youth", "elder", "elders", "senior", "seniors",
                     "retired", "retiree", "pensioner", "pensioners", "geriatric", "child",
                     "children", "kid", "kids", "infant", "infants", "pediatric", "paediatric",
                     "adolescent", "adolescents", "teen", "teens", "teenager", "septuagenarian",
                     "octogenarian", "nonagenarian", "centenarian", "birthyear", "blind", "deaf",
                     "wheelchair", "paraplegic", "quadriplegic", "tetraplegic", "amputee",
                     "palsy"}
OTHER_PROTECTED = {"sex", "gender", "ethnicity", "ethnic", "race", "racial", "religion",
                   "religious", "nationality", "pregnancy", "pregnant", "orientation", "male",
                   "males", "female", "females", "men", "women", "man", "woman",
                   "transgender", "trans", "caste", "tribe", "tribal", "muslim", "christian",
                   "jewish", "hindu", "sikh", "buddhist", "catholic", "protestant", "hispanic",
                   "latino", "latina", "latinx", "caucasian", "aboriginal", "indigenous",
                   "maori", "arab"}
SOCIAL_WORTH = {"occupation", "occupational", "job", "profession", "professional",
                "employment", "employed", "unemployed", "employer", "worker", "workers",
                "insurance", "insured", "uninsured", "payer", "wealth", "wealthy", "income",
                "salary", "assets", "net", "worth", "social", "society", "societal", "vip",
                "celebrity", "education", "educated", "criminal", "prisoner", "incarcerated",
                "immigration", "citizenship", "citizen", "political", "contribution",
                "productivity", "productive", "rank", "status", "veteran", "veterans",
                "military", "soldier", "soldiers", "police", "firefighter", "firefighters",
                "teacher", "teachers", "nurse", "nurses", "doctor", "doctors", "physician",
                "physicians", "clergy", "staff", "employee", "employees", "donor", "donors",
                "famous", "dignitary", "homeless", "refugee", "refugees", "migrant",
                "migrants", "undocumented", "inmate", "inmates", "felon", "felons", "convict",
                "convicted", "rich", "poor", "taxpayer", "taxpayers", "politician", "mayor",
                "ceo", "married"}
COST_PER_QALY = {"qaly", "qalys", "daly", "dalys", "icer", "cost", "costs", "price", "wtp",
                 "willingness", "monetary", "budget", "effectiveness"}
COST_OBJECTIVES = ("qaly", "qalys", "cost_per_qaly", "cost_effectiveness", "net_benefit",
                   "net_monetary_benefit", "daly")


# Roots matched inside a word (long and unambiguous: 'nondisabled', 'uninsured', 'lowincome')
PROTECTED_STEMS = ("disab", "handicap", "impair", "frail", "dement", "cognit", "autis",
                   "geriatr", "ethnic", "racial", "relig", "gender", "pregnan", "nationalit")
SOCIAL_STEMS = ("insur", "wealth", "income", "salar", "occupation", "employ", "profession",
                "citizen", "immigra", "educat", "worth", "pension", "prisoner", "veteran")
CUTOFF_WORDS = {"under", "over", "above", "below", "older", "younger", "plus", "upto",
                "atleast", "lt", "gt"}
MIN_GROUP_EVIDENCE = 2  # patients per group value, on average, before a value check refuses
MIN_AGE_SIDE = 3  # patients on each side of an age cut-off
MIN_AGE_PATIENTS = 20


_LETTER_DIGIT = re.compile(r"(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])")


def words(name: str) -> set[str]:
    """Whole words of a name: split at punctuation, between letters and digits, and at
    camelCase ('ageOver80' -> age, over, 80). A run of capitals before lower case is read
    both ways, as an acronym then a word ('VIPStatus' -> vip, status) and as a capitalised
    word then one in lower case ('AGEover65' -> age, over, 65): either reading may name a
    criterion, and a spare word refuses nothing."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    spaced = _LETTER_DIGIT.sub(" ", spaced)
    readings = (
        spaced,
        re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced),  # VIPStatus: VIP Status
        re.sub(r"([A-Z]{2,})([a-z])", r"\1 \2", spaced),  # AGEover: AGE over
    )
    return {w for text in readings for w in re.split(r"[^a-z0-9]+", text.lower()) if w}


def _stem(found: set[str], stems: tuple[str, ...]) -> bool:
    return any(stem in word for word in found for stem in stems)


def is_age_cutoff(found: set[str]) -> bool:
    """A threshold written as a number of years: under_65, over80, 65plus, age_75."""
    numbers = [int(w) for w in found if w.isdigit() and 0 < int(w) <= 120]
    return bool(numbers) and bool(found & CUTOFF_WORDS)


def classify(column: str) -> Rule | None:
    """The rule a column would break if used as a criterion, or None."""
    found = words(column)
    if column == ESSENTIAL_HEALTH_WORKER:
        return None
    if found & COST_PER_QALY:
        return G3
    if found & SOCIAL_WORTH or _stem(found, SOCIAL_STEMS):
        return G2
    if (found & (AGE_OR_DISABILITY | OTHER_PROTECTED) or _stem(found, PROTECTED_STEMS)
            or is_age_cutoff(found)):
        return G4
    return None


PROTECTED_VALUES = {"m", "f", "male", "female", "man", "woman", "men", "women", "white",
                    "black", "asian", "hispanic", "latino", "latina", "latinx", "caucasian",
                    "african", "indigenous", "aboriginal", "maori", "arab", "jewish", "muslim",
                    "christian", "hindu", "sikh", "buddhist", "catholic", "protestant",
                    "disabled", "insured", "uninsured", "medicaid", "medicare"}


def protected_group(group: str, values: Sequence[str]) -> bool:
    """A reporting group on a protected attribute: by its name (classify), or by its values
    (sex, ethnicity, religion or insurance labels)."""
    if classify(group) is not None:
        return True
    labels = {v.strip().lower() for v in values if v.strip()}
    return bool(labels) and any(words(v) & PROTECTED_VALUES for v in labels)


def criteria(policy: Policy) -> list[tuple[str, str, str]]:
    """The flag columns the policy uses as criteria: (column, field, what)."""
    out = [(name, f"categories[{i}]", "the category flag")
           for i, name in enumerate(policy.categories)]
    out += [(spec.category, f"reserves[{i}].category", "the reserve category")
            for i, spec in enumerate(policy.reserves) if spec.category not in policy.categories]
    out += [(flag, f"tie_break.weights.{flag}", "the lottery weight")
            for flag, _ in policy.tie_break.weights if flag not in policy.categories]
    return out


def check_values(policy: Policy, columns: Mapping[str, Sequence[Any]],
                 file: str | None) -> list[Problem]:
    """Guardrails on the data: every criterion flag the policy uses that is

    * a function of a protected reporting group on these patients (every value of the group
      maps to one flag value, the flag takes both values, and there are at least
      MIN_GROUP_EVIDENCE patients per group value: below that a match is too likely a
      coincidence), G5: a renamed reporting group. A group is protected when its name breaks
      a rule (age_band, sex, ethnicity, insurance...) or its values are sex or ethnicity
      labels (PROTECTED_VALUES); deprivation_decile -> disadvantaged_area is allowed, the
      disadvantage reserve being the documented exception;
    * an age cut-off: with age_years given, every flagged patient older than every other, or
      younger (at least MIN_AGE_SIDE patients on each side, MIN_AGE_PATIENTS in all), G4.

    The policy file names the field; the message names the evidence."""
    out: list[Problem] = []
    ages = [a for a in columns.get("age_years", []) if isinstance(a, float) and a == a]
    n_ages = len(ages) if len(ages) == len(columns.get("age_years", [])) else 0
    for column, field, what in criteria(policy):
        flag = [bool(v) for v in columns.get(column, [])]
        if len(set(flag)) < 2:
            continue
        for group in policy.reporting_groups:
            values = [str(v) for v in columns.get(group, [])]
            if len(values) != len(flag) or not protected_group(group, values):
                continue
            mapping: dict[str, set[bool]] = {}
            for v, f in zip(values, flag, strict=True):
                mapping.setdefault(v, set()).add(f)
            if (all(len(m) == 1 for m in mapping.values())
                    and len(flag) >= MIN_GROUP_EVIDENCE * len(mapping)):
                shown = ", ".join(f"{v}={'true' if next(iter(m)) else 'false'}"
                                  for v, m in sorted(mapping.items())[:6])
                out.append(refusal(G5, field, f"{what} {column!r} is the reporting group "
                                   f"{group!r} by another name: on these patients it is "
                                   f"determined by it ({shown})", file))
                break
        else:
            if n_ages >= MIN_AGE_PATIENTS:
                yes = [a for a, f in zip(ages, flag, strict=True) if f]
                no = [a for a, f in zip(ages, flag, strict=True) if not f]
                if min(len(yes), len(no)) >= MIN_AGE_SIDE and (
                        max(yes) < min(no) or max(no) < min(yes)):
                    side = "under" if max(yes) < min(no) else "over"
                    cut = min(no) if side == "under" else max(no)
                    out.append(refusal(G4, field, f"{what} {column!r} is an age cut-off: on "
                                       f"these patients it flags exactly those {side} "
                                       f"{cut:g} years (age_years)", file))
    return out


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
    elif rule is G4 and is_age_cutoff(words(name)) and not words(name) & AGE_OR_DISABILITY:
        detail = (f"{what} {name!r} reads as an age cut-off (a number of years with "
                  f"{'/'.join(sorted(words(name) & CUTOFF_WORDS))}); a clinical threshold "
                  "belongs in [[exclusions]] on sofa, or name the flag after what it measures")
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
