"""Overrides over a horizon: later days are decided from the overridden state (who holds the
unit, for how long), the log keeps the recommendation beside the override, and replay
reproduces it. The expected schedules are worked out by hand in each docstring."""

from __future__ import annotations

import json

import pandas as pd
from bedside_cases import POLICY_TOML, case, write_case

from optimiser.bedside import allocate, load_inputs, replay, write_log
from optimiser.bedside.api import read_overrides_frame
from optimiser.bedside.log import read_overrides

# One unit at H1. Day 0: A (gain 0.8, a 2-day course: holds days 0-1) and B (gain 0.5, a
# 1-day course: holds day 0). Day 1: C (gain 0.6, 3 days: days 1-3). Day 2: D (gain 0.4,
# 1 day). Survival without a unit: 0 (the default), so the gain is survival_with.
ROWS = [
    {"patient": "A", "site": "H1", "arrival": 0, "expected_days": 2, "survival_with": 0.8},
    {"patient": "B", "site": "H1", "arrival": 0, "expected_days": 1, "survival_with": 0.5},
    {"patient": "C", "site": "H1", "arrival": 1, "expected_days": 3, "survival_with": 0.6},
    {"patient": "D", "site": "H1", "arrival": 2, "expected_days": 1, "survival_with": 0.4},
]
OVERRIDE = [{"patient": "B", "decision": "unit", "justification": "A transferred out",
             "officer": "Dr A"},
            {"patient": "A", "decision": "no_unit", "justification": "A transferred out",
             "officer": "Dr A"}]


def _overrides(inputs, rows=OVERRIDE):
    return read_overrides_frame(rows, dict.fromkeys(inputs.cohort.patients.index))


def test_an_override_on_day_0_changes_who_gets_the_unit_on_days_1_and_2():
    """Recommended (method optimal, lives): day 0 A (0.8 > 0.5), so the unit is busy on day 1
    (C goes without) and free on day 2 (D). The officer gives day 0's unit to B instead: B's
    1-day course frees it on day 1, so C gets it (days 1-3) and D, on day 2, goes without.
    Recommended schedule A, D: 1.2 lives; followed schedule B, C: 1.1."""
    inputs = case(ROWS, 1)
    plain = allocate(inputs, price=False, protocols=False)
    assert plain.recipients == ["A", "D"]
    result = allocate(inputs, price=False, protocols=False, overrides=_overrides(inputs))
    table = result.patients
    assert table["decision"].to_dict() == {"A": "unit", "B": "no_unit", "C": "unit",
                                           "D": "no_unit"}
    assert table["final"].to_dict() == {"A": "no_unit", "B": "unit", "C": "unit",
                                        "D": "no_unit"}
    assert result.recipients == ["B", "C"]
    assert "no free unit at H1 on day 2" in table.loc["D", "reason"]
    assert abs(result.summary["lives_gained"] - 1.1) < 1e-12
    assert abs(result.horizon["online"] - 1.1) < 1e-12
    assert result.summary["treated"] == 2
    assert any("every later day was decided from the overridden state" in n
               for n in result.notes)


def test_an_override_refusing_a_unit_frees_it_for_the_next_day():
    """Only A is overridden (no_unit) and nobody else is given the unit that day: it stays
    free on day 0 (overrides move units, the engine does not re-decide the day) and C takes it
    on day 1 (3 days: busy on day 2, so D goes without)."""
    inputs = case(ROWS, 1)
    rows = [{"patient": "A", "decision": "no_unit", "justification": "declined on the ward",
             "officer": "Dr A"}]
    result = allocate(inputs, price=False, protocols=False, overrides=_overrides(inputs, rows))
    assert result.recipients == ["C"]
    assert result.patients.loc["B", "final"] == "no_unit"


def test_an_override_given_to_a_long_course_holds_the_unit_for_its_course():
    """One unit. Day 0: X (gain 0.5, 1 day) and Y (gain 0.4, 3 days: days 0-2); day 1: Z
    (0.3, 1 day); day 2: W (0.3, 1 day). Recommended: X, then Z, then W (1.1 lives). The
    officer gives day 0's unit to Y: Y holds it through day 2, so Z and W are recommended
    nothing (no free unit), and the schedule followed gains 0.4."""
    rows = [{"patient": "X", "arrival": 0, "expected_days": 1, "survival_with": 0.5},
            {"patient": "Y", "arrival": 0, "expected_days": 3, "survival_with": 0.4},
            {"patient": "Z", "arrival": 1, "expected_days": 1, "survival_with": 0.3},
            {"patient": "W", "arrival": 2, "expected_days": 1, "survival_with": 0.3}]
    inputs = case(rows, 1)
    assert allocate(inputs, price=False, protocols=False).recipients == ["X", "Z", "W"]
    given = [{"patient": "Y", "decision": "unit", "justification": "expected to recover",
              "officer": "Dr B"},
             {"patient": "X", "decision": "no_unit", "justification": "expected to recover",
              "officer": "Dr B"}]
    result = allocate(inputs, price=False, protocols=False,
                      overrides=_overrides(inputs, given))
    assert result.recipients == ["Y"]
    assert result.patients["decision"].to_dict() == {"X": "unit", "Y": "no_unit",
                                                     "Z": "no_unit", "W": "no_unit"}
    for pid, day in (("Z", 1), ("W", 2)):
        assert f"no free unit at H1 on day {day}" in result.patients.loc[pid, "reason"]
    assert abs(result.summary["lives_gained"] - 0.4) < 1e-12


def test_overrides_over_a_horizon_through_the_cli_log_and_replay(run_cli, tmp_path):
    """The same case from files: the log keeps the recommendation and the override for each
    patient; replay reproduces every line; a changed overrides file is refused."""
    folder = write_case(tmp_path / "case", ROWS, "site,day,units\nH1,0,1\n", POLICY_TOML)
    overrides = tmp_path / "overrides.csv"
    pd.DataFrame(OVERRIDE).to_csv(overrides, index=False)
    out = tmp_path / "out"
    done = run_cli("bedside", "allocate", folder, "--overrides", overrides, "--out", out,
                   "--no-price")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in (out / "decision_log.jsonl").read_text().splitlines()]
    by_patient = {x["patient"]: x for x in lines if "patient" in x}
    assert by_patient["C"]["decision"] == "unit" and by_patient["C"]["override"] is None
    assert by_patient["A"]["decision"] == "unit"
    assert by_patient["A"]["override"]["final"] == "no_unit"
    assert "Dr A" in by_patient["A"]["override"]["text"]
    assert by_patient["D"]["decision"] == "no_unit"
    again = run_cli("bedside", "replay", out / "decision_log.jsonl")
    assert again.returncode == 0, again.stdout + again.stderr
    assert replay(out / "decision_log.jsonl").identical


def test_replay_of_a_horizon_override_catches_an_edited_later_day(tmp_path):
    """The re-simulated later day is part of the record: flipping C's logged decision (the
    day after the override) is caught by replay."""
    folder = write_case(tmp_path / "case", ROWS, "site,day,units\nH1,0,1\n", POLICY_TOML)
    inputs = load_inputs(folder)
    path = tmp_path / "overrides.csv"
    pd.DataFrame(OVERRIDE).to_csv(path, index=False)
    table = read_overrides(path, set(inputs.cohort.patients.index))
    result = allocate(inputs, price=False, protocols=False, overrides=table)
    log = tmp_path / "log.jsonl"
    write_log(log, result, {}, str(path))
    assert replay(log).identical
    text = log.read_text().splitlines()
    k = next(i for i, x in enumerate(text) if json.loads(x).get("patient") == "C")
    record = json.loads(text[k])
    record["decision"] = "no_unit"
    text[k] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    log.write_text("\n".join(text) + "\n")
    assert not replay(log).identical


def test_the_service_re_simulates_a_horizon_override_too():
    """POST /v1/bedside runs the same function: the body's overrides re-simulate day 1."""
    from bedside_cases import policy

    from optimiser.service.bedside_tasks import bedside_task

    body = {"patients": ROWS, "units": [{"site": "H1", "day": 0, "units": 1}],
            "policy": policy(), "overrides": OVERRIDE,
            "options": {"price_of_fairness": False, "protocols": False}}
    out = bedside_task(body)
    final = {p["patient"]: p["final"] for p in out["patients"]}
    assert final == {"A": "no_unit", "B": "unit", "C": "unit", "D": "no_unit"}
    decisions = {p["patient"]: p["decision"] for p in out["patients"]}
    assert decisions["C"] == "unit" and decisions["A"] == "unit"
    logged = {x["patient"]: x for x in out["decision_log"][1:]}
    assert logged["B"]["override"]["final"] == "unit"
    # the log's header records that overrides were given, and which (their rows' hash)
    head = out["decision_log"][0]
    assert head["overrides"]["file"] == "request:overrides"
    assert len(head["overrides"]["sha256"]) == 64
    changed = bedside_task({**body, "overrides": [{**OVERRIDE[0], "justification": "other"},
                                                  OVERRIDE[1]]})
    assert changed["decision_log"][0]["overrides"]["sha256"] != head["overrides"]["sha256"]
