"""Probe 2: names a policy may not use as a criterion, which the guardrails let through."""

from __future__ import annotations

import pytest
from bedside_cases import policy

from optimiser.bedside import policy_from_dict
from optimiser.bedside.guardrails import words
from optimiser.errors import InputError


@pytest.mark.parametrize(("name", "rule"), [
    # docs/bedside.md: names are split at camelCase; a run of capitals was one word with the
    # lower-case word after it ('VIPStatus' -> 'vipstatus'), so these passed
    ("VIPStatus", "G2"),
    ("SOCIALValue", "G2"),
    ("AGEover65", "G4"),
    # age, disability, religion or social standing by another word
    ("children", "G4"),
    ("octogenarian", "G4"),
    ("wheelchair_user", "G4"),
    ("muslim", "G4"),
    ("homeless", "G2"),
    ("felon", "G2"),
])
def test_a_category_named_for_a_refused_criterion_is_refused(name: str, rule: str) -> None:
    with pytest.raises(InputError) as err:
        policy_from_dict(policy(categories=[name]))
    assert f"refused by guardrail {rule}" in str(err.value.problems[0])


def test_letters_and_digits_split_even_around_one_character() -> None:
    assert {"x", "1", "y"} <= words("x1y")
    assert {"age", "over", "80"} <= words("ageOver80")


@pytest.mark.parametrize("name", ["SOFA48h", "ICUBed", "COVIDPositive", "stage", "agent",
                                  "essential_health_worker", "disadvantaged_area"])
def test_clinical_and_allowed_names_still_pass(name: str) -> None:
    assert policy_from_dict(policy(categories=[name])).categories == (name,)
