"""Guardrails: every refused policy is refused with exit 2, naming the rule and the principle;
the allowed exceptions pass."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bedside_cases import policy

from optimiser.bedside import policy_from_dict
from optimiser.errors import InputError

EXAMPLE = Path(__file__).resolve().parents[1] / "instances" / "bedside-synthetic"


def refusal(**changes: object) -> str:
    with pytest.raises(InputError) as err:
        policy_from_dict(policy(**changes))
    return str(err.value.problems[0])


@pytest.mark.parametrize(("changes", "rule", "words"), [
    ({"exclusions": [{"column": "age_years", "above": 85}]}, "G1", "age_years"),
    ({"exclusions": [{"column": "disability", "above": 0}]}, "G1", "disability"),
    ({"categories": ["occupation"]}, "G2", "occupation"),
    ({"categories": ["insured"]}, "G2", "insured"),
    ({"categories": ["essential_worker"]}, "G2", "essential_health_worker"),
    ({"categories": ["wealth_decile"]}, "G2", "wealth_decile"),
    ({"social_value": {"ceo": 2}}, "G2", "value to society"),
    ({"objective": "cost_per_qaly"}, "G3", "QALY"),
    ({"objective": "qaly"}, "G3", "QALY"),
    ({"cost_effectiveness": {"threshold": 30000}}, "G3", "cost-effectiveness"),
    ({"categories": ["qaly_weight"]}, "G3", "qaly_weight"),
    ({"cutoffs": [{"column": "frailty_score", "above": 5}]}, "G4", "frailty_score"),
    ({"priority_points": [{"column": "age_years", "above": 75, "points": 2}]}, "G4",
     "age_years"),
    ({"categories": ["ethnicity"], "reporting_groups": ["ethnicity"]}, "G5", "reporting group"),
    ({"exclusions": [{"column": "sex", "above": 0}], "reporting_groups": ["sex"]}, "G5", "sex"),
])
def test_each_guardrail_refuses_with_rule_and_principle(changes, rule, words):
    message = refusal(**changes)
    assert f"refused by guardrail {rule}" in message
    assert "principle:" in message
    assert words in message


def test_allowed_exceptions_and_clinical_exclusions_pass():
    parsed = policy_from_dict(policy(
        categories=["essential_health_worker", "disadvantaged_area"],
        reporting_groups=["age_band", "sex"],
        exclusions=[{"column": "sofa", "above": 11, "reason": "NY 2015 blue"}],
        reserves=[{"name": "hcw", "category": "essential_health_worker", "share": 0.1}],
        objective="life_years",
    ))
    assert parsed.categories == ("essential_health_worker", "disadvantaged_area")
    assert parsed.exclusions[0].column == "sofa"


@pytest.mark.slow
def test_cli_refuses_a_guardrail_policy_with_exit_2(run_cli, tmp_path):
    case = tmp_path / "case"
    shutil.copytree(EXAMPLE, case)
    text = (case / "policy.toml").read_text()
    (case / "policy.toml").write_text(
        text.replace('objective = "lives"', 'objective = "cost_per_qaly"'))
    out = tmp_path / "out"
    result = run_cli("bedside", "allocate", case, "--out", out)
    assert result.returncode == 2, result.stderr
    assert "policy.toml" in result.stderr and "G3" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(("changes", "message"), [
    ({"reserves": [{"name": "a", "category": "essential_health_worker", "share": 0.7},
                   {"name": "b", "category": "disadvantaged_area", "share": 0.5}],
      "categories": ["essential_health_worker", "disadvantaged_area"]}, "more than 100%"),
    ({"reserves": [{"name": "a", "category": "nurse_flag", "share": 0.1}]}, "not listed"),
    ({"tie_break": {"method": "weighted_lottery", "weights": {"unknown_flag": 2.0}}},
     "not listed"),
    ({"priority": "sickest_first"}, "must be one of"),
    ({"approval": {"approved_by": "x"}}, "approval.date"),
    ({"reserve_processing": {"order": ["unreserved"]},
      "reserves": [{"name": "a", "category": "essential_health_worker", "units": 1}],
      "categories": ["essential_health_worker"]}, "missing a"),
    ({"exclusions": [{"column": "blood_group", "above": 1}]}, "unknown column"),
    ({"unknown_key": 1}, "unknown field"),
])
def test_policy_problems_are_named(changes, message):
    with pytest.raises(InputError) as err:
        policy_from_dict(policy(**changes))
    assert message in str(err.value)
