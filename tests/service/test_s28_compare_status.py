"""A bedside_compare job cut short by its budget says so (`status` `time_limit`, as a backtest
job's), with the replications that finished; one that finishes is `done` (session 28)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from optimiser.bedside import case_to_dict
from optimiser.service import bedside_tasks

REPO = Path(__file__).resolve().parents[2]


def _body(replications: int) -> dict[str, Any]:
    body = case_to_dict(REPO / "instances" / "bedside-synthetic")
    body["options"] = {"replications": replications, "patients": 40, "seed": 1}
    return body


def test_a_compare_job_that_finishes_is_done() -> None:
    answer = bedside_tasks.compare_task(_body(2), None, 60.0)
    assert answer["status"] == "done"
    assert answer["spec"]["completed"] == answer["spec"]["replications"] == 2


def test_a_compare_job_cut_short_is_time_limit(monkeypatch) -> None:
    compare = importlib.import_module("optimiser.bedside.compare")  # the name is a function too
    real = compare.compare

    def no_time(*args: Any, **kwargs: Any) -> Any:
        kwargs["time_limit"] = 0.0  # the budget spent before the first replication
        return real(*args, **kwargs)

    monkeypatch.setattr(compare, "compare", no_time)
    answer = bedside_tasks.compare_task(_body(3), None, 60.0)
    assert answer["spec"]["completed"] < 3
    assert answer["status"] == "time_limit"
    assert any("replications finished" in note for note in answer["notes"])
