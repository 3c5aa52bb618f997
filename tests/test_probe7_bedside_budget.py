"""Probe 7: a bedside budget holds. Failed on main 5a0a2c9, on 5,000 SYNTHETIC patients over 90
days (`triage bedside generate --patients 5000 --days 90` in the bedside-synthetic case):

- `allocate(..., time_limit=0.01)` took 2.0 s (the whole run takes 2.2 s): a batch past the
  deadline still got its integer program with 10 ms, and most solved in it. Now a batch past
  the deadline is decided by the policy's rule at once (and counted as such);
- the decisions used the whole budget: the offline bound, the protocols and the price came
  after it (0.57-0.65 s there). Now they are left AFTER_DECISIONS_SECONDS_PER_PATIENT a patient
  (at most a quarter of the budget);
- `triage bedside allocate --time-limit 8` took 10.6 s (exit 0) and `--time-limit 6` ended with
  no decision (exit 4): `allocate` got the whole budget from its own start (start-up and
  loading not counted) and nothing was kept for writing the answer (2.2 s there). Now the
  budget counts from the program's start and keeps OUTPUT_SECONDS_PER_PATIENT a patient
  (6 s: 6.25 s, answered, 163 decisions by the rule; 8 s: 7.6 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from optimiser.bedside import allocate, load_inputs

REPO = Path(__file__).resolve().parents[1]
CASE = REPO / "instances" / "bedside-synthetic"


def test_a_batch_past_the_deadline_is_decided_by_the_rule_at_once() -> None:
    """Budget spent before the first batch: every decision is the rule's, and said so (on
    main the example's batches each got their program and the answer said "optimal")."""
    inputs = load_inputs(CASE)
    result = allocate(inputs, time_limit=1e-9, price=False, protocols=False)
    assert result.status == "time_limit"
    assert any("fell back to the policy's rule" in note for note in result.notes), result.notes
    free = allocate(inputs, price=False, protocols=False)
    assert free.status == "optimal"


def test_the_decisions_leave_time_for_the_work_after_them(monkeypatch) -> None:
    import time

    import optimiser.bedside.api as api

    seen: dict[str, Any] = {}
    real = api.run_online

    def record(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("record"):  # the decisions' run (the protocols' runs have no deadline)
            seen.update(deadline=kwargs["deadline"], now=time.perf_counter())
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "run_online", record)
    monkeypatch.setattr(api, "AFTER_DECISIONS_SECONDS_PER_PATIENT", 0.01)  # 3 s: clear of noise
    inputs = load_inputs(CASE)
    api.allocate(inputs, time_limit=30.0)
    after = 0.01 * len(inputs.cohort.patients)
    assert 1.0 < after < 0.25 * 30.0
    assert seen["deadline"] <= seen["now"] + 30.0 - after  # the call began before `now`
    seen.clear()
    started = time.perf_counter()
    api.allocate(inputs, time_limit=30.0, price=False, protocols=False)  # nothing after
    assert seen["deadline"] >= started + 30.0 - 1e-3


@pytest.mark.parametrize("budget", [30.0, 1e6])
def test_the_command_gives_allocate_what_is_left_less_the_answer(monkeypatch, tmp_path,
                                                                 budget) -> None:
    import optimiser.bedside.api as api
    from optimiser.cli import bedside as command
    from optimiser.cli import main

    seen: dict[str, Any] = {}
    real = api.allocate

    def record(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "allocate", record)
    patients = len(load_inputs(CASE).cohort.patients)
    with pytest.raises(SystemExit) as stop:
        main(["bedside", "allocate", str(CASE), "--json", "--no-price", "--no-protocols",
              "--time-limit", str(budget), "--log", str(tmp_path / "log.jsonl")])
    assert stop.value.code in (0, None)
    assert seen["time_limit"] <= budget - command.OUTPUT_SECONDS_PER_PATIENT * patients
