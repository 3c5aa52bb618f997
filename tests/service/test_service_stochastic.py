"""Stochastic plans as service jobs (kind "stochastic_plan"), against a real server: the same
answer as the Python API; bad scenarios and options are a 422 naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import pytest
from test_service_api import TINY_PLAN, assert_json_error, wait_job


def scenario_payload(factors: list[float], probabilities: list[float]) -> dict[str, Any]:
    demand = pd.DataFrame(TINY_PLAN["demand"])
    series = {r: g.sort_values("day")["new_patients"].tolist() for r, g in demand.groupby("region")}
    return {
        "demand_kind": "new_patients",
        "scenarios": [
            {"id": f"s{i + 1}", "probability": p,
             "demand": {r: [v * f for v in values] for r, values in series.items()}}
            for i, (f, p) in enumerate(zip(factors, probabilities, strict=True))
        ],
    }


REQUEST = {**TINY_PLAN, "scenarios": scenario_payload([0.5, 1.0, 2.0], [0.3, 0.4, 0.3]),
           "options": {"commit_days": 2, "risk": "cvar:alpha=0.3,lambda=0.5"}}


def test_a_stochastic_plan_is_a_job(server):
    import optimiser
    from optimiser.multiperiod import multiperiod_from_frames
    from optimiser.scenarios import scenarios_from_dict
    from optimiser.stochastic import plan_under_uncertainty

    with server.client() as client:
        job = client.post("/v1/jobs", json={"kind": "stochastic_plan", "request": REQUEST})
        assert job.status_code == 202, job.text
        done = wait_job(client, job.json()["id"], timeout=120)
    assert done["status"] == "done", done["error"]
    base = optimiser.instance_from_dict({k: v for k, v in TINY_PLAN.items()
                                         if k not in ("demand", "deliveries")})
    inst = multiperiod_from_frames(base, pd.DataFrame(TINY_PLAN["demand"]),
                                   pd.DataFrame(TINY_PLAN["deliveries"]))
    reference = plan_under_uncertainty(inst, scenarios_from_dict(REQUEST["scenarios"], inst),
                                       commit_days=2, risk="cvar:alpha=0.3,lambda=0.5")
    got = done["result"]
    assert got["status"] == "optimal"
    assert got["expected_lives"] == pytest.approx(reference.expected_lives, abs=1e-9)
    assert got["committed"] == reference.to_dict()["committed"]
    assert got["risk"] == "cvar:alpha=0.3,lambda=0.5"


@pytest.mark.parametrize("change,field", [
    (lambda r: r["scenarios"]["scenarios"][0].update(probability=-0.3), "scenarios"),
    (lambda r: r["scenarios"]["scenarios"][1]["demand"].pop("B"), "scenarios"),
    (lambda r: r["options"].update(commit_days=0), "options.commit_days"),
    (lambda r: r["options"].update(risk="cvar:alpha=2,lambda=1"), "options.risk"),
    (lambda r: r.pop("scenarios"), "scenarios"),
    (lambda r: r["options"].update(method="ph"), "options.method"),
])
def test_bad_stochastic_requests_are_a_422_naming_the_field(server, change, field):
    bad = copy.deepcopy(REQUEST)
    change(bad)
    with server.client() as client:
        response = client.post("/v1/jobs", json={"kind": "stochastic_plan", "request": bad})
    error = assert_json_error(response, 422, "invalid_input")
    assert any(p["field"].startswith(f"request.{field}") for p in error["problems"]), error


def test_the_job_time_limit_counts_reading_the_request(monkeypatch):
    """The job's budget starts when the job does: the time spent reading the request and its
    scenarios is taken from the plan's (before, the plan started its own clock)."""
    import time

    import optimiser.service.stochastic_tasks as tasks
    import optimiser.stochastic.plan_compare as stochastic  # the job plans through it

    real_prepare, real_plan, seen = tasks.prepare_stochastic, stochastic.plan_under_uncertainty, {}

    def slow_prepare(request, time_limit=None):
        arguments = real_prepare(request, time_limit)
        time.sleep(0.3)  # a large request takes time to read
        return arguments

    def record(instance, scenarios, **kwargs):
        seen.update(kwargs, now=time.perf_counter())
        return real_plan(instance, scenarios, **kwargs)

    monkeypatch.setattr(tasks, "prepare_stochastic", slow_prepare)
    monkeypatch.setattr(stochastic, "plan_under_uncertainty", record)
    answer = tasks.stochastic_task(copy.deepcopy(REQUEST), time_limit=30.0)
    assert answer["expected_lives"] is not None
    deadline = seen["deadline"]
    assert deadline is not None and deadline.limit == 30.0
    assert seen["now"] - deadline.start >= 0.3


def test_the_decomposition_through_the_job_function():
    """options.method reaches the planner: the decomposition's answer, as the API's."""
    import optimiser
    from optimiser.multiperiod import multiperiod_from_frames
    from optimiser.scenarios import scenarios_from_dict
    from optimiser.service.stochastic_tasks import stochastic_task
    from optimiser.stochastic import plan_under_uncertainty

    request: dict[str, Any] = copy.deepcopy(REQUEST)
    request["options"] = {"commit_days": 2, "method": "rounding", "price_of_fairness": False}
    got = stochastic_task(request)
    tiny: dict[str, Any] = dict(TINY_PLAN)
    base = optimiser.instance_from_dict({k: v for k, v in tiny.items()
                                         if k not in ("demand", "deliveries")})
    inst = multiperiod_from_frames(base, pd.DataFrame(tiny["demand"]),
                                   pd.DataFrame(tiny["deliveries"]))
    reference = plan_under_uncertainty(inst, scenarios_from_dict(request["scenarios"], inst),
                                       commit_days=2, method="exact", price_of_fairness=False)
    assert got["solver"]["method"] == "rounding"
    assert got["status"] == "optimal" and reference.status == "optimal"
    assert got["expected_lives"] == pytest.approx(reference.expected_lives, abs=0.011)
