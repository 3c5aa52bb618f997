"""Guardrails that a renamed column does not pass: names read by whole words, stems and age
cut-offs (under_65), and values: a criterion flag that is a protected reporting group by
another name, or an age cut-off on age_years, is refused with exit 2 naming the rule, the
principle and the evidence. The limits (docs/bedside.md, "Guardrails") are tested too."""

from __future__ import annotations

import copy

import pytest
from bedside_cases import POLICY_TOML, policy, write_case

from optimiser.bedside import inputs_from_dict, policy_from_dict
from optimiser.bedside.guardrails import words
from optimiser.errors import InputError


@pytest.mark.parametrize(("name", "rule"), [
    ("under_65", "G4"), ("age_over_80", "G4"), ("ageOver80", "G4"), ("over80", "G4"),
    ("65plus", "G4"), ("nondisabled", "G4"), ("religious_minority", "G4"),
    ("uninsured", "G2"), ("net_worth", "G2"), ("networth", "G2"), ("lowincome", "G2"),
    ("income_band", "G2"), ("wealthy", "G2"),
])
def test_renamed_protected_names_are_refused(name, rule):
    with pytest.raises(InputError) as err:
        policy_from_dict(policy(categories=[name]))
    message = str(err.value.problems[0])
    assert f"refused by guardrail {rule}" in message and "principle:" in message
    assert name in message


@pytest.mark.parametrize("name", ["stage", "stage_3", "agent", "disadvantaged_area",
                                  "sussex_resident", "heritage", "trace_flag", "o2_support",
                                  "essential_health_worker"])
def test_words_inside_other_words_pass(name):
    policy_from_dict(policy(categories=[name]))


def test_words_split_camel_case_and_digits():
    assert words("ageOver80") == {"age", "over", "80"}
    assert words("stage3") == {"stage", "3"}


def _rows(n: int, flag, group) -> list[dict]:
    return [{"patient": f"P{i:02d}", "site": "H1", "arrival": 0, "expected_days": 5,
             "survival_with": 0.5 + 0.01 * i, "cohort_a": flag(i), "sex": group(i)}
            for i in range(n)]


def _body(rows: list[dict], **changes) -> dict:
    return {"patients": rows, "units": [{"site": "H1", "day": 0, "units": 2}],
            "policy": policy(categories=["cohort_a"], reporting_groups=["sex"], **changes)}


def test_a_flag_that_is_sex_by_another_name_is_refused():
    """cohort_a is true for exactly the women: the reporting group sex renamed."""
    body = _body(_rows(8, lambda i: i % 2 == 0, lambda i: "F" if i % 2 == 0 else "M"))
    with pytest.raises(InputError) as err:
        inputs_from_dict(body)
    message = str(err.value.problems[0])
    assert "refused by guardrail G5" in message and "principle:" in message
    assert "'cohort_a' is the reporting group 'sex' by another name" in message
    assert "F=true, M=false" in message
    assert "categories[0]" in message


def test_a_group_with_a_neutral_name_but_sex_labels_is_protected():
    rows = _rows(8, lambda i: i < 4, lambda i: "female" if i < 4 else "male")
    for row in rows:
        row["label"] = row.pop("sex")
    body = {"patients": rows, "units": [{"site": "H1", "day": 0, "units": 2}],
            "policy": policy(categories=["cohort_a"], reporting_groups=["label"])}
    with pytest.raises(InputError) as err:
        inputs_from_dict(body)
    assert "reporting group 'label' by another name" in str(err.value.problems[0])


def test_a_flag_independent_of_the_group_passes():
    """Women and men in both flag values: not determined."""
    inputs_from_dict(_body(_rows(8, lambda i: i < 4, lambda i: "F" if i % 2 else "M")))


def test_too_few_patients_per_group_value_is_not_evidence():
    """Three patients, two groups: fewer than 2 per group value; a match this small is too
    likely a coincidence (the documented limit)."""
    inputs_from_dict(_body(_rows(3, lambda i: i == 0, lambda i: "F" if i == 0 else "M")))


def test_a_flag_determined_by_a_non_protected_group_passes():
    """deprivation_decile -> disadvantaged_area is the documented exception."""
    rows = [{"patient": f"P{i:02d}", "site": "H1", "arrival": 0, "expected_days": 5,
             "survival_with": 0.6, "disadvantaged_area": i >= 6,
             "deprivation_decile": str(1 + i)} for i in range(10)]
    rows += copy.deepcopy(rows[:10])
    for k, r in enumerate(rows[10:]):
        r["patient"] = f"Q{k:02d}"
    inputs_from_dict({"patients": rows, "units": [{"site": "H1", "day": 0, "units": 2}],
                      "policy": policy(categories=["disadvantaged_area"],
                                       reporting_groups=["deprivation_decile"])})


def _aged(n: int, flag) -> list[dict]:
    return [{"patient": f"P{i:02d}", "site": "H1", "arrival": 0, "expected_days": 5,
             "survival_with": 0.6, "age_years": 30 + 2 * i, "cohort_b": flag(30 + 2 * i)}
            for i in range(n)]


def test_a_flag_that_is_an_age_cut_off_on_age_years_is_refused():
    body = {"patients": _aged(24, lambda age: age < 65),
            "units": [{"site": "H1", "day": 0, "units": 2}],
            "policy": policy(categories=["cohort_b"])}
    with pytest.raises(InputError) as err:
        inputs_from_dict(body)
    message = str(err.value.problems[0])
    assert "refused by guardrail G4" in message
    assert "'cohort_b' is an age cut-off" in message and "under 66 years" in message


def test_a_flag_mixed_across_ages_passes():
    inputs_from_dict({"patients": _aged(24, lambda age: age % 4 == 0),
                      "units": [{"site": "H1", "day": 0, "units": 2}],
                      "policy": policy(categories=["cohort_b"])})


def test_value_refusal_through_the_cli_exit_2(run_cli, tmp_path):
    rows = _rows(8, lambda i: i % 2 == 0, lambda i: "F" if i % 2 == 0 else "M")
    text = POLICY_TOML + ""
    text = text.replace('name = "test policy"\n',
                        'name = "test policy"\ncategories = ["cohort_a"]\n'
                        'reporting_groups = ["sex"]\n')
    folder = write_case(tmp_path / "case", rows, "site,day,units\nH1,0,2\n", text)
    out = tmp_path / "out"
    result = run_cli("bedside", "allocate", folder, "--out", out)
    assert result.returncode == 2, result.stderr
    assert "policy.toml" in result.stderr and "G5" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_value_refusal_names_the_json_path_in_the_service():
    from optimiser.service.bedside_tasks import prepare_bedside
    from optimiser.service.errors import ApiError

    body = _body(_rows(8, lambda i: i % 2 == 0, lambda i: "F" if i % 2 == 0 else "M"))
    with pytest.raises(ApiError) as err:
        prepare_bedside(body)
    problems = err.value.__dict__.get("problems") or []
    assert any(p["field"] == "policy.categories[0]" for p in problems), err.value.__dict__
