"""Backtests as service jobs (kind "backtest"), against a real server: the tiny backtest of
tests/test_backtest.py sent inline as JSON tables gives the same hand-counted shortfalls;
bad tables and options are a 422 naming the JSON path."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from test_service_api import assert_json_error, wait_job

START = dt.date(2020, 4, 8)
OBSERVED = {"A": [10, 10, 10] + [20] * 11, "B": [5] * 14}
FORECAST = {"A": [10] * 14, "B": [5, 5, 5] + [15] * 11}


def rows(series: dict[str, list[int]], key: str, dated: bool = False) -> list[dict[str, Any]]:
    return [
        {"region": r, **({"date": str(START + dt.timedelta(days=d))} if dated else {"day": d}),
         key: v}
        for r, values in series.items() for d, v in enumerate(values)
    ]


REQUEST: dict[str, Any] = {
    "name": "tiny-backtest",
    "supply": 0,
    "regions": [{"region": r, "population": 100000, "capacity": 10, "peak_demand": 20,
                 "survival_with": 0.5, "survival_without": 0.1, "los_days": 60,
                 "staff_cap": 100} for r in ("A", "B")],
    "multiperiod": {"start_date": str(START), "days": 14, "demand_kind": "census",
                    "depots": ["D"], "default_lead_time_days": 1, "transfers": False},
    "demand": rows(FORECAST, "census"),
    "deliveries": [{"day": 0, "quantity": 10, "depot": "D"}],
    "lead_times": [{"from": "D", "to": "A", "days": 1}, {"from": "D", "to": "B", "days": 1}],
    "observed": rows(OBSERVED, "census", dated=True),
    "releases": [{"source": "fc", "release": "2020-04-07", "quantity": "census forecast",
                  "forecast": rows(FORECAST, "mean")}],
    "options": {"policies": ["none", "mean", "hindsight"], "commit_days": 14, "forecast": "fc"},
}


def test_a_backtest_is_a_job(server):
    """The hand count of tests/test_backtest.py: A needs 20 units on days 3..13 and holds 10,
    so doing nothing (and the mean plan, which sends the units to B) leaves 110 unit-days
    short; hindsight none."""
    with server.client() as client:
        job = client.post("/v1/jobs", json={"kind": "backtest", "request": REQUEST})
        assert job.status_code == 202, job.text
        done = wait_job(client, job.json()["id"], timeout=120)
    assert done["status"] == "done", done["error"]
    table = {p["policy"]: p for p in done["result"]["policies"]}
    assert table["none"]["shortfall"] == pytest.approx(110.0)
    assert table["mean"]["shortfall"] == pytest.approx(110.0)
    assert table["hindsight"]["shortfall"] == pytest.approx(0.0, abs=1e-6)
    assert done["result"]["info"]["releases"] == ["fc@2020-04-07"]


@pytest.mark.parametrize("change,field", [
    (lambda r: r["observed"][3].update(census="many"), "observed[3].census"),
    (lambda r: r["observed"].pop(0), "observed"),  # day 0 of A missing: said so
    (lambda r: r.pop("releases"), "releases"),
    (lambda r: r["releases"][0].update(release="April"), "releases[0].release"),
    (lambda r: r["releases"][0]["forecast"][2].update(mean="x"), "releases[0].forecast[2].mean"),
    (lambda r: r["releases"][0].update(colour=1), "releases[0].colour"),
    (lambda r: r["options"].update(forecast="nobody"), "options.forecast"),
    (lambda r: r["options"].update(as_of="2020-04-30"), "options.as_of"),
    (lambda r: r["multiperiod"].pop("start_date"), "multiperiod.start_date"),
])
def test_bad_backtest_requests_are_a_422_naming_the_field(server, change, field):
    bad = copy.deepcopy(REQUEST)
    change(bad)
    with server.client() as client:
        response = client.post("/v1/jobs", json={"kind": "backtest", "request": bad})
    error = assert_json_error(response, 422, "invalid_input")
    assert any((p["field"] or "").startswith(f"request.{field}") for p in error["problems"]), error


def test_the_job_time_limit_bounds_the_whole_backtest(server):
    """options.time_limit is the whole backtest's budget (as `triage backtest --time-limit`),
    not each weekly plan's: the result says which budget it ran under and its status."""
    request = copy.deepcopy(REQUEST)
    request["options"]["time_limit"] = 30
    with server.client() as client:
        job = client.post("/v1/jobs", json={"kind": "backtest", "request": request})
        assert job.status_code == 202, job.text
        done = wait_job(client, job.json()["id"], timeout=120)
    assert done["status"] == "done", done["error"]
    result = done["result"]
    assert result["info"]["time_limit"] == 30
    assert result["status"] == "optimal" and result["incomplete"] == {}
    assert 0 < result["info"]["seconds"] <= 30
    shares = [w["time_limit"] for w in result["weeks"] if w["policy"] != "none"]
    assert shares and all(0 < s <= 30 for s in shares)
