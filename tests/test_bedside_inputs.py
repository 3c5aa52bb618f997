"""Bad input never crashes: one message per problem naming the file, line and column, exit 2,
nothing half written (issue 14, "Bad input")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from optimiser.bedside import load_inputs
from optimiser.errors import InputError

EXAMPLE = Path(__file__).resolve().parents[1] / "instances" / "bedside-synthetic"


@pytest.fixture
def case(tmp_path: Path) -> Path:
    folder = tmp_path / "case"
    shutil.copytree(EXAMPLE, folder)
    return folder


def edit_patients(folder: Path, line: int, column: str, value: str) -> None:
    """Set one cell of patients.csv (line 2 is the first patient)."""
    frame = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
    frame.loc[line - 2, column] = value
    frame.to_csv(folder / "patients.csv", index=False)


def problems(folder: Path, **kwargs: object) -> list[str]:
    with pytest.raises(InputError) as err:
        load_inputs(folder, **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in err.value.problems]


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("patient", "P0001", "duplicate patient id 'P0001' (first on line 2)"),
    ("survival_without", "1.2", "is a probability: must be in [0, 1]"),
    ("survival_without", "-0.1", "is a probability: must be in [0, 1]"),
    ("survival_without", "0.99", "survival_without (0.99) is greater than survival_with"),
    ("expected_days", "-3", "must be > 0"),
    ("expected_days", "0", "must be > 0"),
    ("expected_days", "nan", "must be finite"),
    ("expected_days", "abc", "not a number"),
    ("site", "H9", "unknown site 'H9'"),
    ("arrival", "yesterday", "must be a day number >= 0 or an ISO date-time"),
    ("arrival", "-1", "must be a day number >= 0"),
    ("sofa", "30", "must be >= 0 and <= 24"),
    ("sofa", "7.5", "must be a whole number"),
    ("dni", "maybe", "must be true or false"),
    ("comorbidity", "bad", "must be one of none, major, severe"),
    ("essential_health_worker", "2", "must be true or false"),
])
def test_bad_cells_are_named_by_file_line_and_column(case, column, value, expected):
    edit_patients(case, 3, column, value)
    found = problems(case)
    match = [p for p in found if expected in p]
    assert match, found
    assert match[0].startswith("patients.csv, line 3") and f"column '{column}'" in match[0]


def test_every_problem_is_listed_at_once(case):
    edit_patients(case, 3, "expected_days", "-1")
    edit_patients(case, 7, "site", "nowhere")
    (case / "units.csv").write_text("site,day,units\nH1,0,40\nH2,0,-3\nH3,0,15\n")
    found = problems(case)
    assert any("line 3" in p and "expected_days" in p for p in found)
    assert any("units.csv, line 3" in p and "'units'" in p for p in found)
    assert any("line 7" in p and "unknown site 'nowhere'" in p for p in found)


def test_policy_naming_unknown_columns(case):
    text = (case / "policy.toml").read_text().replace(
        'categories = ["essential_health_worker", "disadvantaged_area"]',
        'categories = ["essential_health_worker", "disadvantaged_area", "on_waiting_list"]')
    (case / "policy.toml").write_text(text)
    found = problems(case)
    assert any("policy.toml" in p and "'on_waiting_list'" in p and "does not have" in p
               for p in found)


def test_patients_column_the_policy_does_not_name(case):
    frame = pd.read_csv(case / "patients.csv", dtype=str, keep_default_na=False)
    frame["income_band"] = "3"
    frame.to_csv(case / "patients.csv", index=False)
    found = problems(case)
    assert any("unknown column: income_band" in p for p in found)


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("patients.csv", None, "patients.csv: file not found"),
    ("patients.csv", "", "patients.csv: empty file"),
    ("units.csv", b"\xff\xfe\x00bad", "units.csv: binary file"),
    ("policy.toml", "name = [", "policy.toml: malformed TOML"),
    ("units.csv", "site,day\nH1,0\n", "missing required column: units"),
    ("units.csv", "site,day,units\nH1,0,4\nH1,0,5\n", "listed twice"),
    ("patients.csv", "patient,site,arrival\nA,H1,0\n", "missing required column: "
     "expected_days"),
])
def test_bad_files(case, name, content, expected):
    path = case / name
    if content is None:
        path.unlink()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert any(expected in p for p in problems(case)), problems(case)


def test_dates_and_day_numbers_are_not_mixed(case):
    frame = pd.read_csv(case / "patients.csv", dtype=str, keep_default_na=False)
    frame["arrival"] = "2020-04-01T08:00"
    frame.to_csv(case / "patients.csv", index=False)
    assert any("arrival uses dates but the units use day numbers" in p
               for p in problems(case))
    (case / "units.csv").write_text(
        "site,day,units\nH1,2020-04-01,40\nH2,2020-04-01,30\nH3,2020-03-30,15\n")
    inputs = load_inputs(case)
    assert inputs.cohort.start_date == "2020-03-30"
    assert set(inputs.cohort.patients["day"]) == {2}
    assert inputs.units.on_day("H3", 0) == 15


@pytest.mark.slow
def test_cli_bad_input_exit_2_nothing_written(run_cli, case, tmp_path):
    edit_patients(case, 4, "survival_without", "1.5")
    out = tmp_path / "out"
    result = run_cli("bedside", "allocate", case, "--out", out)
    assert result.returncode == 2
    assert "patients.csv, line 4, column 'survival_without'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert not list(tmp_path.glob("*.jsonl")) and not (Path.cwd() / "decision_log.jsonl").exists()
    validate = run_cli("bedside", "validate", case)
    assert validate.returncode == 2 and "2 problems found" in validate.stderr


@pytest.mark.slow
def test_overrides_naming_unknown_patients(run_cli, case, tmp_path):
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("patient,decision,justification,officer\n"
                         "P0001,no_unit,consented to palliative care,Dr A\n"
                         "NOBODY,unit,typo,Dr A\n"
                         "P0002,unit,,Dr A\n")
    out = tmp_path / "out"
    result = run_cli("bedside", "allocate", case, "--overrides", overrides, "--out", out)
    assert result.returncode == 2
    assert "overrides.csv, line 3, column 'patient': unknown patient 'NOBODY'" in result.stderr
    assert "overrides.csv, line 4, column 'justification'" in result.stderr
    assert not out.exists()


@pytest.mark.slow
def test_override_cannot_give_a_unit_to_a_dni_patient(run_cli, case, tmp_path):
    patients = pd.read_csv(case / "patients.csv")
    dni = str(patients.loc[patients["dni"], "patient"].iloc[0])
    overrides = tmp_path / "overrides.csv"
    overrides.write_text(f"patient,decision,justification,officer\n{dni},unit,family asks,Dr B\n")
    result = run_cli("bedside", "allocate", case, "--overrides", overrides, "--out",
                     tmp_path / "out")
    assert result.returncode == 2 and "DNI" in result.stderr


def test_a_policy_that_needs_a_column_the_patients_lack(case):
    text = (case / "policy.toml").read_text().replace('objective = "lives"',
                                                      'objective = "life_years"')
    (case / "policy.toml").write_text(text)
    frame = pd.read_csv(case / "patients.csv", dtype=str, keep_default_na=False)
    frame.loc[5, "life_expectancy_years"] = ""
    frame.to_csv(case / "patients.csv", index=False)
    found = problems(case)
    assert any("line 7" in p and "life_expectancy_years" in p and "life_years" in p
               for p in found)
