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


def _log_of(folder: Path, tmp_path: Path) -> Path:
    from optimiser.bedside import allocate, load_inputs
    from optimiser.bedside.log import write_log

    log = tmp_path / "log.jsonl"
    write_log(log, allocate(load_inputs(folder), price=False, protocols=False),
              {"time_limit": None})
    return log


def _edit_header(log: Path, edit: object) -> None:
    import json

    lines = log.read_text().splitlines()
    head = json.loads(lines[0])
    edit(head)  # type: ignore[operator]
    lines[0] = json.dumps(head, sort_keys=True, separators=(",", ":"))
    log.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(("field", "value"), [
    ("seed", 1), ("approved_by", "Dr Nobody"), ("approval_date", "2020-01-01"),
    ("objective", "life_years"),
])
def test_an_edited_log_header_is_caught(case, tmp_path, field, value):
    """The summary hash covered the decision lines only: a header claiming another seed or
    another approver replayed as 'identical'."""
    from optimiser.bedside.log import replay

    log = _log_of(case, tmp_path)
    _edit_header(log, lambda head: head.__setitem__(field, value))
    outcome = replay(log)
    assert not outcome.identical
    assert any(f"header field {field!r}" in d for d in outcome.differences), outcome.differences


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda head: head.__setitem__("inputs", []), "field 'inputs'"),
    (lambda head: head.__setitem__("rule_fallback", "all"), "field 'rule_fallback'"),
    (lambda head: head.__setitem__("overrides", 3), "field 'overrides'"),
])
def test_a_malformed_log_header_is_an_input_error(case, tmp_path, edit, expected):
    from optimiser.bedside.log import replay
    from optimiser.errors import InputError

    log = _log_of(case, tmp_path)
    _edit_header(log, edit)
    with pytest.raises(InputError, match=expected):
        replay(log)
    log.write_text("[1, 2]\n" + "\n".join(log.read_text().splitlines()[1:]) + "\n")
    with pytest.raises(InputError, match="line 1: not a JSON object"):
        replay(log)


def test_a_time_limit_fallback_says_so_and_replays_whatever_the_speed(case, tmp_path,
                                                                     monkeypatch):
    """A decision the program could not prove in time fell back to the rule, but its reason
    still claimed 'the allocation of most expected benefit', and replay re-ran it under the
    logged time limit (a faster machine proved the optimum: a different decision)."""
    import json

    import numpy as np

    from optimiser.bedside import allocate, load_inputs
    from optimiser.bedside import decide as decide_module
    from optimiser.bedside.log import replay, write_log
    from optimiser.bedside.snapshot import Outcome
    from optimiser.solver import SolveStatus

    class Stopped:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def solve(self, *args: object, **kwargs: object) -> Outcome:
            return Outcome(SolveStatus.TIME_LIMIT, None, None, None, 0.0, 1, "time-limit")

    inputs = load_inputs(case)
    proved = allocate(inputs, price=False, protocols=False)
    monkeypatch.setattr(decide_module, "SnapshotIP", Stopped)
    stopped = allocate(inputs, price=False, protocols=False, time_limit=5.0)
    assert stopped.status == "time_limit"
    assert not np.array_equal(proved.patients["decision"], stopped.patients["decision"])
    candidates = stopped.patients[stopped.patients["candidate"]]
    assert all("stopped by the time limit" in r for r in candidates["reason"])
    log = tmp_path / "log.jsonl"
    write_log(log, stopped, {"time_limit": 5.0})
    assert json.loads(log.read_text().splitlines()[0])["rule_fallback"] == [["H1", 0]]
    monkeypatch.undo()  # the replay's program proves its optimum: the log still replays
    outcome = replay(log)
    assert outcome.identical, outcome.differences


def test_one_policy_problem_is_not_one_problem_per_patient(case):
    """A policy that fails to load left every SOFA-only patient 'without a survival
    probability': 14 false problems after the one true one."""
    from optimiser.bedside import load_inputs
    from optimiser.errors import InputError

    text = (case / "policy.toml").read_text().replace('objective = "lives"', "objective = 3")
    (case / "policy.toml").write_text(text)
    with pytest.raises(InputError) as err:
        load_inputs(case)
    found = [str(p) for p in err.value.problems]
    assert len(found) == 1 and "field 'objective'" in found[0], found


def test_overrides_move_units_never_create_them(case, tmp_path):
    """A 'unit' override with no one giving a unit up recorded 5 units given where 4 are
    free, without a word."""
    from optimiser.bedside import allocate, load_inputs
    from optimiser.bedside.log import read_overrides
    from optimiser.errors import InputError

    inputs = load_inputs(case)
    known = set(inputs.cohort.patients.index)
    path = tmp_path / "overrides.csv"
    path.write_text("patient,decision,justification,officer\n"
                    "P0011,unit,shortest course,Dr Example\n")
    with pytest.raises(InputError) as err:
        allocate(inputs, price=False, protocols=False, overrides=read_overrides(path, known))
    message = str(err.value.problems[0])
    assert message.startswith("overrides.csv, line 2, column 'decision'"), message
    assert "5 units at H1 on day 0, where 4 are free" in message
    path.write_text("patient,decision,justification,officer\n"
                    "P0011,unit,shortest course,Dr Example\n"
                    "P0009,no_unit,lowest benefit of those recommended,Dr Example\n")
    result = allocate(inputs, price=False, protocols=False,
                      overrides=read_overrides(path, known))
    assert (result.patients["final"] == "unit").sum() == 4


def test_an_approval_dated_in_the_future_is_refused(case):
    """'approved on 2999-01-01' was recorded in every output as if it were an approval."""
    from optimiser.bedside import load_inputs
    from optimiser.errors import InputError

    text = (case / "policy.toml").read_text().replace("date = 2024-03-01", "date = 2999-01-01")
    (case / "policy.toml").write_text(text)
    with pytest.raises(InputError, match=r"field 'approval.date': is in the future"):
        load_inputs(case)


@pytest.mark.parametrize(("option", "value"), [("patients", 100_000_000), ("days", 10**9)])
def test_a_compare_stream_too_large_for_memory_is_refused(option, value):
    """`compare --patients 100000000` was killed by the kernel (out of memory), exit 137."""
    from optimiser.bedside.compare import CompareSpec
    from optimiser.errors import InputError

    with pytest.raises(InputError, match=f"option '{option}': at most"):
        CompareSpec(replications=1, **{option: value}).check()  # type: ignore[arg-type]


@pytest.mark.slow
def test_compare_refuses_no_workers(run_cli):
    result = run_cli("bedside", "compare", EXAMPLE, "--workers", "0", "--replications", "1",
                     "--no-progress")
    assert result.returncode == 2, result.stdout[:300]
    assert "--workers: must be a whole number >= 1" in result.stderr


REGIONAL_CASE = Path(__file__).resolve().parents[1] / "instances" / "bedside-synthetic"
REGIONAL = Path(__file__).resolve().parents[1] / "instances" / "bedside-synthetic-regional"


def test_curve_refuses_no_extra_units_and_counts_a_site_once(tmp_path):
    """--max-units -1 wrote curves of no unit (exit 0); --sites H1,H1 wrote H1's tiers twice."""
    import pandas as pd

    from optimiser.bedside import load_inputs
    from optimiser.bedside.curve import curves_to_instance
    from optimiser.errors import InputError

    inputs = load_inputs(REGIONAL_CASE)
    for bad in (-1, 0):
        with pytest.raises(InputError, match="option 'max-units': must be a whole number >= 1"):
            curves_to_instance(inputs, REGIONAL, tmp_path / f"bad{bad}", None, bad)
    out = tmp_path / "once"
    out.mkdir()
    curves, _ = curves_to_instance(inputs, REGIONAL, out, ["H1", "H1"], 3)
    assert [c.site for c in curves] == ["H1"]
    tiers = pd.read_csv(out / "tiers.csv")
    assert abs(tiers.loc[tiers["region"] == "H1", "share"].sum() - 1.0) < 1e-9


@pytest.mark.slow
def test_generate_refuses_a_horizon_its_patients_file_could_not_hold(run_cli, tmp_path):
    result = run_cli("bedside", "generate", "--out", tmp_path / "gen", "--days", "100000000")
    assert result.returncode == 2 and "--days: must be >= 1 and <= 100,000" in (
        result.stderr)
    assert not (tmp_path / "gen").exists()


def test_curve_output_records_the_policy_and_its_approval(tmp_path):
    """Every output records who approved the policy: the curve's instance did not."""
    import json

    from optimiser.bedside import load_inputs
    from optimiser.bedside.curve import curves_to_instance
    from optimiser.instance import load_instance

    inputs = load_inputs(REGIONAL_CASE)
    out = tmp_path / "curves"
    out.mkdir()
    curves_to_instance(inputs, REGIONAL, out, ["H2"], 2)
    record = json.loads((out / "bedside_policy.json").read_text())
    assert record["policy"]["approved_by"] == inputs.policy.approval.approved_by
    assert record["policy"]["approval_date"] == "2024-03-01"
    assert record["inputs"]["sha256"] == inputs.hashes
    load_instance(out)  # the regional engine still reads the folder


def test_a_reason_names_who_was_served_with_less_benefit_and_why(case):
    """An inquiry asks why P0003 (benefit 0.792) went without while P0009 (0.53) was served:
    the reason only said 'lowest served 0.53'."""
    from optimiser.bedside import allocate, load_inputs

    result = allocate(load_inputs(case), price=False, protocols=False)
    reason = result.patients.loc["P0003", "reason"]
    assert result.patients.loc["P0009", "decision"] == "unit"
    assert "served with less benefit: P0009 (0.53, a beneficiary of 'health workers'" in reason
    assert "served with the same benefit: P0007 (ranked 8), P0013 (ranked 4)" in reason


def test_a_result_json_with_bad_allocations_is_named_not_a_crash(tmp_path):
    """{"allocation": {"H1": "x"}} with --existing-capacity was an internal error (exit 4);
    existing capacity at a site the result does not allocate was added as a new site, and a
    site listed twice was summed."""
    import json

    from optimiser.bedside.io import load_units
    from optimiser.errors import InputError

    result = tmp_path / "result.json"
    existing = tmp_path / "existing.csv"
    existing.write_text("site,units\nH1,40\nH2,20\nH3,15\n")
    result.write_text(json.dumps({"allocation": {"H1": "x", "H2": -1, "H3": 10**30}}))
    with pytest.raises(InputError) as err:
        load_units(result, existing)
    found = [str(p) for p in err.value.problems]
    assert [f.split(":")[0] for f in found] == [
        "result.json, field 'allocation.H1'", "result.json, field 'allocation.H2'",
        "result.json, field 'allocation.H3'"], found
    result.write_text(json.dumps({"allocation": {"H1": 20, "H2": 0, "H3": 0}}))
    existing.write_text("site,units\nH1,40\nH9,3\nH1,2\n")
    with pytest.raises(InputError) as err:
        load_units(result, existing)
    found = [str(p) for p in err.value.problems]
    assert any("line 3, column 'site': site 'H9' is not a region" in f for f in found), found
    assert any("line 4, column 'site': site 'H1' listed twice" in f for f in found), found
    existing.write_text("site,units\nH1,40\nH2,20\n")
    units = load_units(result, existing)
    assert units.on_day("H1", 0) == 60 and units.on_day("H3", 0) == 0


def test_a_case_where_everyone_declined_reads_plainly(case):
    """Every patient DNI: the officer was shown 'Empty DataFrame / Columns: [...]'."""
    import pandas as pd

    from optimiser.bedside import allocate, load_inputs
    from optimiser.bedside.report import allocation_text

    frame = pd.read_csv(case / "patients.csv", dtype=str, keep_default_na=False)
    frame["dni"] = "true"
    frame.to_csv(case / "patients.csv", index=False)
    text = allocation_text(allocate(load_inputs(case), price=False, protocols=False))
    assert "Empty DataFrame" not in text
    assert "Decisions:\n  none" in text and "Not candidates: 14" in text


def test_service_overrides_are_located_by_their_own_json_index():
    """The first override (overrides[0]) was reported as overrides[1] ('line 2', the CSV
    convention); the messages are in the JSON path's words."""
    from optimiser.bedside import case_to_dict
    from optimiser.service.bedside_tasks import prepare_bedside
    from optimiser.service.errors import ApiError

    body = case_to_dict(EXAMPLE)
    body["overrides"] = [
        {"patient": "NOPE", "decision": "unit", "justification": "x", "officer": "Dr A"},
        {"patient": "P0002", "decision": "maybe", "justification": "x", "officer": "Dr A"}]
    with pytest.raises(ApiError) as err:
        prepare_bedside(body)
    text = str(err.value.__dict__)
    assert "overrides[0].patient" in text and "overrides[1].decision" in text, text
    # JSON words from the path, not the CSV convention's rows (probe3)
    assert "overrides[2]" not in text and "row " not in text


def test_an_infinite_time_limit_is_an_input_error(case):
    """--time-limit inf was an internal error (exit 4) when the log was written."""
    from optimiser.bedside import allocate, load_inputs
    from optimiser.errors import InputError

    with pytest.raises(InputError, match="option 'time_limit': must be a number of seconds"):
        allocate(load_inputs(case), price=False, protocols=False, time_limit=float("inf"))


def test_an_arrival_with_a_utc_offset_is_on_the_hospitals_local_date(case):
    """00:30+01:00 on 2 March was converted to 23:30 UTC on 1 March: the patient competed
    for 1 March's units of units.csv, whose dates are the hospital's."""
    import pandas as pd

    from optimiser.bedside import load_inputs

    frame = pd.read_csv(case / "patients.csv", dtype=str, keep_default_na=False)
    frame["arrival"] = "2024-03-01T10:00:00+01:00"
    frame.loc[3, "arrival"] = "2024-03-02T00:30:00+01:00"
    frame.to_csv(case / "patients.csv", index=False)
    (case / "units.csv").write_text("site,day,units\nH1,2024-03-01,4\nH1,2024-03-02,5\n")
    patients = load_inputs(case).cohort.patients
    assert patients.loc["P0004", "day"] == 1
    assert set(patients.drop(index="P0004")["day"]) == {0}


def test_an_override_in_a_horizon_says_later_days_were_decided_from_it(tmp_path):
    """Over a horizon, an override changes who holds units later: the later days are decided
    from the overridden state (tests/test_bedside_overrides.py), and the result says so."""
    from optimiser.bedside import allocate, load_inputs
    from optimiser.bedside.log import read_overrides

    inputs = load_inputs(REGIONAL_CASE)
    first = allocate(inputs, price=False, protocols=False)
    pid = first.recipients[0]
    path = tmp_path / "overrides.csv"
    path.write_text(f"patient,decision,justification,officer\n{pid},no_unit,transferred,Dr A\n")
    result = allocate(inputs, price=False, protocols=False,
                      overrides=read_overrides(path, set(inputs.cohort.patients.index)))
    day = int(result.patients.loc[pid, "day"])
    assert any(f"overrides change decisions from day {day}" in n
               and "decided from the overridden state" in n for n in result.notes)
