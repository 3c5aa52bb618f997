"""The record: reporting groups never change a decision, the decision log replays bit for bit,
overrides are kept with their justification, results round-trip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser.bedside import BedsideResult, allocate, load_inputs
from optimiser.bedside.log import decision_lines, read_overrides, replay, write_log

EXAMPLE = Path(__file__).resolve().parents[1] / "instances" / "bedside-synthetic"
GROUPS = ["age_band", "sex", "ethnicity", "deprivation_decile"]


@pytest.fixture(scope="module")
def example_result() -> BedsideResult:
    return allocate(load_inputs(EXAMPLE), price=False, protocols=False)


@pytest.fixture
def case(tmp_path: Path) -> Path:
    folder = tmp_path / "case"
    shutil.copytree(EXAMPLE, folder)
    return folder


def decisions(folder: Path) -> pd.DataFrame:
    result = allocate(load_inputs(folder), price=False, protocols=False)
    return result.patients[["decision", "category", "final", "withdrawn"]].sort_index()


@pytest.mark.parametrize("seed", [1, 2])
def test_permuting_reporting_groups_never_changes_a_decision(case, example_result, seed):
    """Shuffle every reporting group column across patients (and relabel its values): the
    decisions, categories and reasons are identical."""
    frame = pd.read_csv(case / "patients.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    for column in GROUPS:
        frame[column] = rng.permutation(frame[column].to_numpy())
        frame[column] = "relabelled-" + frame[column]
    frame.to_csv(case / "patients.csv", index=False)
    before = example_result.patients[["decision", "category", "final", "reason"]].sort_index()
    after = allocate(load_inputs(case), price=False, protocols=False).patients
    pd.testing.assert_frame_equal(before, after[["decision", "category", "final", "reason"]]
                                  .sort_index())


def test_row_order_never_changes_a_decision(case, example_result):
    frame = pd.read_csv(case / "patients.csv", dtype=str, keep_default_na=False)
    frame = frame.sample(frac=1.0, random_state=5)
    frame.to_csv(case / "patients.csv", index=False)
    after = decisions(case)
    before = example_result.patients[["decision", "category", "final", "withdrawn"]].sort_index()
    pd.testing.assert_frame_equal(before, after)


def test_log_replays_bit_for_bit(example_result, tmp_path):
    log = tmp_path / "decision_log.jsonl"
    write_log(log, example_result, {"price": False, "protocols": False, "time_limit": None})
    lines = log.read_text().splitlines()
    head = json.loads(lines[0])
    assert head["approved_by"] and head["approval_date"] == "2024-03-01"
    assert set(head["inputs"]["sha256"]) == {"patients", "units", "policy"}
    record = json.loads(lines[1])
    assert {"score", "rank", "category", "lottery_draw", "decision", "reason"} <= set(record)
    outcome = replay(log)
    assert outcome.identical, outcome.differences
    assert outcome.decisions == len(example_result.patients)


def test_replay_refuses_inputs_that_changed(case, tmp_path):
    result = allocate(load_inputs(case), price=False, protocols=False)
    log = tmp_path / "log.jsonl"
    write_log(log, result, {"time_limit": None})
    text = (case / "units.csv").read_text().replace("H1,0,40", "H1,0,39")
    (case / "units.csv").write_text(text)
    from optimiser.errors import InputError

    with pytest.raises(InputError) as err:
        replay(log)
    assert "the log does not match its inputs" in str(err.value)
    assert "units.csv" in str(err.value)


def test_an_edited_log_is_caught(example_result, tmp_path):
    log = tmp_path / "log.jsonl"
    write_log(log, example_result, {"time_limit": None})
    lines = log.read_text().splitlines()
    record = json.loads(lines[1])
    record["decision"] = "no_unit" if record["decision"] == "unit" else "unit"
    lines[1] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    log.write_text("\n".join(lines) + "\n")
    outcome = replay(log)
    assert not outcome.identical
    assert any("line 2" in d for d in outcome.differences)


def test_overrides_are_logged_with_their_justification(case, tmp_path):
    inputs = load_inputs(case)
    first = allocate(inputs, price=False, protocols=False)
    pid = first.recipients[0]
    path = tmp_path / "overrides.csv"
    path.write_text("patient,decision,justification,officer\n"
                    f"{pid},no_unit,transferred to another hospital,Dr Officer\n")
    table = read_overrides(path, set(inputs.cohort.patients.index))
    result = allocate(inputs, price=False, protocols=False, overrides=table)
    row = result.patients.loc[pid]
    assert row["decision"] == "unit" and row["final"] == "no_unit"
    assert "transferred to another hospital" in row["override"] and "Dr Officer" in row["override"]
    log = tmp_path / "log.jsonl"
    write_log(log, result, {"time_limit": None}, str(path))
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    logged = next(x for x in lines if x.get("patient") == pid)
    assert logged["override"]["final"] == "no_unit"
    assert lines[-1]["overrides"] == 1
    assert replay(log).identical


def test_result_round_trip(example_result):
    again = BedsideResult.from_json(example_result.to_json())
    assert again.to_dict() == json.loads(example_result.to_json())
    assert again.recipients == example_result.recipients


def test_decision_lines_are_canonical(example_result):
    lines = decision_lines(example_result)
    assert all(json.dumps(json.loads(x), sort_keys=True, separators=(",", ":")) == x
               for x in lines[:20])
