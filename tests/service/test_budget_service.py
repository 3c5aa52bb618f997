"""A job's `options.time_limit` holds: it counts from the moment a solver process takes the job
up (reading the request included; the time queued is `started_at - created_at`, apart), and
the job is done by then with an honest status, against a real server.

The job's run (`finished_at - started_at`) also holds the hand-over to the solver process and
the storing of the result, and the planner has a floor it cannot cut short once started: the
model's build, the plan of last resort and its extraction (here 0.9-1.4 s of a 1 s budget at
load 6.5-6.9 on 2 cores: the job ran 1.36-1.64 s). SLACK covers them; a gross overrun fails.
Not held (open, BENCHMARKS.md "budget"): 250 regions x 60 days with all-pairs lanes builds in
2.2-3.3 s, and the job took 4.4-7.7 s of 0.5."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from test_service_api import wait_job

BUDGET = 1.0
SLACK = 1.5


def big_plan_request(regions: int = 100, days: int = 60, seed: int = 3) -> dict[str, Any]:
    """A plan no method finishes in BUDGET: 100 regions x 60 days, all-pairs lanes, under
    threshold(tau=0) (its model built in 0.15-0.25 s)."""
    rng = np.random.default_rng(seed)
    names = [f"R{i:03d}" for i in range(regions)]
    return {
        "name": "budget-big",
        "supply": 200,
        "regions": [
            {"region": n, "population": int(rng.integers(10_000, 500_000)),
             "capacity": int(rng.integers(2, 40)), "peak_demand": int(rng.integers(20, 200)),
             "los_days": int(rng.integers(3, 12)),
             "survival_with": round(float(rng.uniform(0.4, 0.8)), 3),
             "survival_without": round(float(rng.uniform(0.0, 0.2)), 3)}
            for n in names
        ],
        "multiperiod": {"days": days, "demand_kind": "new_patients",
                        "default_lead_time_days": 1},
        "demand": [{"region": n, "day": d, "new_patients": int(rng.poisson(4))}
                   for n in names for d in range(days)],
        "deliveries": [{"day": d, "quantity": 60} for d in range(0, days, 3)],
        "options": {"time_limit": BUDGET, "constraints": ["threshold:tau=0"]},
    }


def seconds(job: dict[str, Any], start: str, end: str) -> float:
    return (datetime.fromisoformat(job[end]) - datetime.fromisoformat(job[start])).total_seconds()


def test_a_plan_job_with_a_tiny_budget_holds_it(server) -> None:
    with server.client() as client:
        submitted = client.post("/v1/jobs", json={"kind": "plan",
                                                  "request": big_plan_request()})
        assert submitted.status_code == 202, submitted.text
        job = wait_job(client, submitted.json()["id"], timeout=120)
    assert job["status"] == "done", job["error"]
    assert job["time_limit"] == BUDGET
    ran = seconds(job, "started_at", "finished_at")
    assert ran <= BUDGET + SLACK, ran
    result = job["result"]
    assert result["status"] == "time_limit"  # never optimal: nothing was proved in 1 s
    assert result["lives_saved"] is not None  # the best plan found (or the last resort)
    # the planner's own clock, started after the job's (measured 1.11-1.38 s under load)
    assert result["timings"]["total"] <= BUDGET + 1.0, result["timings"]


def test_a_plan_jobs_budget_counts_reading_the_request(monkeypatch) -> None:
    """Before, a plan job's budget started at the planner's call: the time spent reading a
    large request was not counted (a solve or stochastic job's was)."""
    import time

    import optimiser.multiperiod as multiperiod
    import optimiser.service.tasks as tasks

    real_prepare, real_plan, seen = tasks.prepare_plan, multiperiod.plan, {}

    def slow_prepare(request, time_limit=None):
        arguments = real_prepare(request, time_limit)
        time.sleep(0.3)  # a large request takes time to read
        return arguments

    def record(instance, *args, **kwargs):
        seen.update(kwargs, now=time.perf_counter())
        return real_plan(instance, *args, **kwargs)

    monkeypatch.setattr(tasks, "prepare_plan", slow_prepare)
    monkeypatch.setattr(multiperiod, "plan", record)
    request = big_plan_request(regions=3, days=5)
    request["options"] = {"time_limit": 30.0}
    answer = tasks.plan_task(request)
    assert answer["lives_saved"] is not None
    deadline = seen["deadline"]
    assert deadline is not None and deadline.limit == 30.0
    assert seen["now"] - deadline.start >= 0.3
