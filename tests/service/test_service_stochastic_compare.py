"""The comparison of a stochastic plan as a service job (kind "stochastic_plan" with
`options.compare`), against a real server: the same answer as the Python API and the CLI
(one code path, optimiser/stochastic/plan_compare.py, splits the budget and orders the
candidates for all three); bad compare options are a 422 naming the field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pandas as pd
import pytest
from test_service_api import TINY_PLAN, assert_json_error, wait_job
from test_service_stochastic import scenario_payload

REQUEST: dict[str, Any] = {
    **TINY_PLAN,
    "scenarios": scenario_payload([0.5, 1.0, 2.0], [0.3, 0.4, 0.3]),
    "evaluation": scenario_payload([0.8, 1.5], [0.5, 0.5]),
    "options": {"commit_days": 2, "compare": True, "buffer": 0.2, "price_of_fairness": False},
}


def reference() -> tuple[Any, Any]:
    import optimiser
    from optimiser.multiperiod import multiperiod_from_frames
    from optimiser.scenarios import scenarios_from_dict
    from optimiser.stochastic.plan_compare import plan_and_compare

    base = optimiser.instance_from_dict({k: v for k, v in TINY_PLAN.items()
                                         if k not in ("demand", "deliveries")})
    inst = multiperiod_from_frames(base, pd.DataFrame(TINY_PLAN["demand"]),
                                   pd.DataFrame(TINY_PLAN["deliveries"]))
    return plan_and_compare(
        inst, scenarios_from_dict(REQUEST["scenarios"], inst),
        evaluation=scenarios_from_dict(REQUEST["evaluation"], inst),
        commit_days=2, buffer=0.2, price_of_fairness=False,
    )


def test_a_comparison_is_a_job_with_the_python_apis_answer(server):
    with server.client() as client:
        job = client.post("/v1/jobs", json={"kind": "stochastic_plan", "request": REQUEST})
        assert job.status_code == 202, job.text
        done = wait_job(client, job.json()["id"], timeout=180)
    assert done["status"] == "done", done["error"]
    result, comparison = reference()
    got = done["result"]
    assert got["expected_lives"] == pytest.approx(result.expected_lives, abs=1e-9)
    mine = got["comparison"]
    want = json.loads(comparison.to_json())
    assert mine["status"] == want["status"] == "complete" and mine["not_scored"] == {}
    assert not mine["in_sample"] and mine["info"]["evaluation_scenarios"] == 2
    assert mine["info"]["buffer"] == 0.2
    assert [c["candidate"] for c in mine["candidates"]] == [
        c["candidate"] for c in want["candidates"]]
    for a, b in zip(mine["candidates"], want["candidates"], strict=True):
        assert a["expected_survivors"] == pytest.approx(b["expected_survivors"], abs=1e-9)
    assert mine["vss"] == pytest.approx(want["vss"], abs=1e-9)


def test_the_job_shares_its_budget_as_the_cli_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The job hands the comparison the same deadline (from the job's start) and options as
    the CLI hands plan_and_compare."""
    import optimiser.service.stochastic_tasks as tasks
    import optimiser.stochastic.plan_compare as shared

    seen: dict[str, Any] = {}
    real = shared.plan_and_compare

    def record(instance: Any, scenarios: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return real(instance, scenarios, **kwargs)

    monkeypatch.setattr(shared, "plan_and_compare", record)
    answer = tasks.stochastic_task(copy.deepcopy(REQUEST), time_limit=60.0)
    assert answer["comparison"]["status"] == "complete"
    assert seen["compare_plans"] is True and seen["buffer"] == 0.2
    assert seen["deadline"].limit == 60.0 and seen["evaluation"] is not None


@pytest.mark.parametrize("change,field", [
    (lambda r: r["options"].update(compare="yes"), "options.compare"),
    (lambda r: r["options"].update(buffer=-1), "options.buffer"),
    (lambda r: r["options"].pop("compare"), "evaluation"),
    (lambda r: r["evaluation"]["scenarios"][0].update(probability=2.0), "evaluation"),
])
def test_bad_compare_options_are_a_422_naming_the_field(server, change, field):
    bad = copy.deepcopy(REQUEST)
    change(bad)
    with server.client() as client:
        response = client.post("/v1/jobs", json={"kind": "stochastic_plan", "request": bad})
    error = assert_json_error(response, 422, "invalid_input")
    assert any(p["field"].startswith(f"request.{field}") for p in error["problems"]), error
