"""Probe 7: every job's budget counts from the moment its solver process takes it up, reading
the request included (docs/model.md, "Time budgets"; a plan's, a stochastic plan's, a
backtest's and a solve's did). Failed on main 5a0a2c9: an "saa" job's budget started at
`saa`'s call, a "bedside" job's (and `POST /v1/bedside`'s) at `allocate`'s and a
"bedside_compare" job's at `compare`'s, so the time spent
reading a large request (a scenario set, a patient table) came on top of the budget. The
slow reading is simulated (a 0.3 s sleep), as tests/service/test_budget_service.py does for
plans."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from test_service_saa import REQUEST as SAA_REQUEST

from optimiser.bedside import case_to_dict
from optimiser.service import bedside_tasks, saa_tasks

REPO = Path(__file__).resolve().parents[2]
READING = 0.3
BUDGET = 30.0


def slowly(real: Any) -> Any:
    def prepare(*args: Any, **kwargs: Any) -> Any:
        prepared = real(*args, **kwargs)
        time.sleep(READING)  # a large request takes time to read
        return prepared

    return prepare


def test_an_saa_jobs_budget_counts_reading_the_request(monkeypatch) -> None:
    import optimiser.stochastic.replications as replications

    seen: dict[str, Any] = {}
    real_saa = replications.saa

    def record(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return real_saa(*args, **kwargs)

    monkeypatch.setattr(saa_tasks, "prepare_saa", slowly(saa_tasks.prepare_saa))
    monkeypatch.setattr(replications, "saa", record)
    answer = saa_tasks.saa_task(SAA_REQUEST, None, BUDGET)
    assert answer["status"] != "time_limit"
    assert seen["time_limit"] <= BUDGET - READING


def test_an_saa_job_whose_reading_spends_its_budget_is_time_limit(monkeypatch) -> None:
    monkeypatch.setattr(saa_tasks, "prepare_saa", slowly(saa_tasks.prepare_saa))
    answer = saa_tasks.saa_task(SAA_REQUEST, None, READING / 2)
    assert answer["status"] == "time_limit"
    assert answer["bounds"] is None
    assert answer["time_limit"] == READING / 2  # the job's budget, as asked


@pytest.mark.parametrize("limit", [BUDGET, READING / 2])
def test_a_bedside_jobs_budget_counts_reading_the_request(monkeypatch, limit) -> None:
    import optimiser.bedside.api as api

    seen: dict[str, Any] = {}
    real_allocate = api.allocate

    def record(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return real_allocate(*args, **kwargs)

    monkeypatch.setattr(bedside_tasks, "prepare_bedside", slowly(bedside_tasks.prepare_bedside))
    monkeypatch.setattr(api, "allocate", record)
    body = case_to_dict(REPO / "instances" / "bedside-synthetic")
    answer = bedside_tasks.bedside_task(body, None, limit)
    assert seen["time_limit"] <= max(0.01, limit - READING)
    assert answer["decision_log"][0]["options"]["time_limit"] == limit  # the budget asked


def test_a_bedside_compare_jobs_budget_counts_reading_the_request(monkeypatch) -> None:
    import importlib

    compare = importlib.import_module("optimiser.bedside.compare")  # the name is a function too
    seen: dict[str, Any] = {}
    real_compare = compare.compare

    def record(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return real_compare(*args, **kwargs)

    monkeypatch.setattr(bedside_tasks, "_prepare_compare", slowly(bedside_tasks._prepare_compare))
    monkeypatch.setattr(compare, "compare", record)
    body = case_to_dict(REPO / "instances" / "bedside-synthetic")
    body["options"] = {"replications": 2}
    answer = bedside_tasks.compare_task(body, None, BUDGET)
    assert answer["status"] == "done"
    assert seen["time_limit"] <= BUDGET - READING
