"""Hostile use: outputs that would replace an input, values JSON should never carry, edited
log headers. Every refusal is exit 2 (422) with a message, nothing written or lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "instances" / "bedside-snapshot"


@pytest.fixture
def case(tmp_path: Path) -> Path:
    folder = tmp_path / "case"
    shutil.copytree(EXAMPLE, folder)
    return folder


@pytest.mark.slow
def test_a_log_over_an_input_is_refused_and_the_input_kept(run_cli, case, tmp_path):
    """--log naming patients.csv replaced the patients with the log."""
    before = (case / "patients.csv").read_bytes()
    for target in (case / "patients.csv", case / "today.jsonl"):
        result = run_cli("bedside", "allocate", case, "--log", target, "--no-price",
                         "--no-protocols")
        assert result.returncode == 2, result.stdout
        assert "--log" in result.stderr and "Traceback" not in result.stderr
    policy = tmp_path / "policy.toml"
    shutil.copy(case / "policy.toml", policy)
    result = run_cli("bedside", "allocate", case, "--policy", policy, "--log", policy,
                     "--no-price", "--no-protocols")
    assert result.returncode == 2 and "is the policy file" in result.stderr
    assert (case / "patients.csv").read_bytes() == before
    assert not (case / "today.jsonl").exists()
    assert policy.read_bytes() == (case / "policy.toml").read_bytes()


@pytest.mark.slow
def test_an_out_folder_holding_the_overrides_is_refused(run_cli, case, tmp_path):
    """The officer writes overrides.csv into yesterday's output folder and re-runs into it:
    replacing the folder would delete the overrides."""
    out = tmp_path / "today"
    first = run_cli("bedside", "allocate", case, "--out", out, "--no-price", "--no-protocols")
    assert first.returncode == 0, first.stderr
    overrides = out / "overrides.csv"
    overrides.write_text("patient,decision,justification,officer\n"
                         "P0011,unit,shortest course,Dr Example\n")
    again = run_cli("bedside", "allocate", case, "--overrides", overrides, "--out", out,
                    "--no-price", "--no-protocols")
    assert again.returncode == 2, again.stdout
    assert "contains the overrides file" in again.stderr
    assert overrides.is_file()


@pytest.mark.parametrize("column", ["survival_without", "survival_with", "expected_days",
                                    "life_expectancy_years", "sofa", "age_years", "arrival",
                                    "deprivation_decile"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_json_nan_and_infinity_are_refused_not_read_as_blank(column, value):
    """Python's JSON reads NaN and Infinity: NaN in survival_without was taken as a blank
    cell (0, the RAPR default) and answered 200; NaN in expected_days crashed the solver."""
    from optimiser.bedside import case_to_dict, inputs_from_dict
    from optimiser.errors import InputError

    body = case_to_dict(EXAMPLE)
    body["patients"][3][column] = value
    with pytest.raises(InputError) as err:
        inputs_from_dict(body)
    fields = [(p.line, p.column) for p in err.value.problems]
    assert (4, column) in fields, [str(p) for p in err.value.problems]
    assert "finite" in str(err.value.problems[0])
