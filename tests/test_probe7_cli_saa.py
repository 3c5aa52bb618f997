"""Probe 7: `triage scenarios saa --time-limit S` counts from the program's start (as every
command's budget: docs/model.md, "Time budgets"). Failed on main 5a0a2c9: `saa` was given the
whole S from its own call, past the watchdog's deadline, so the watchdog always answered
first, and said the budget "ran out while starting up" while the replications were solving
(italy-2020-wave1, 4 scenarios, -N 2 -M 2 --evaluate-on 4 --time-limit 8: "its 8 s ran out
while starting up, 8.00 s after the program started"; now "while solving")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


class Called(Exception):
    pass


def test_saa_gets_what_is_left_of_the_budget(monkeypatch) -> None:
    import optimiser.stochastic.replications as replications
    from optimiser.cli import main

    seen: dict[str, Any] = {}

    def record(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise Called  # the command reports it (exit 4): only the arguments matter here

    monkeypatch.setattr(replications, "saa", record)
    with pytest.raises(SystemExit):
        main(["scenarios", "saa", str(REPO / "instances" / "italy-2020-wave1"), "--method",
              "lognormal", "-N", "2", "-M", "2", "--evaluate-on", "4", "--time-limit", "30"])
    assert 0 < seen["time_limit"] < 30.0  # the loading and the answer's reserve came off it
