"""SAA as a service job (kind "saa"), against a real server: the same answer as the Python API
(same seed), with executed moves and a risk measure; bad options, sources and executed rows
are a 422 naming the JSON path; a run past its time limit is done with status time_limit and
no bounds."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import pytest
from test_service_api import TINY_PLAN, assert_json_error, wait_job
from test_service_stochastic import scenario_payload

EXECUTED = [{"kind": "ship", "day": 0, "from": "depot", "to": "B", "units": 1, "arrives": 1}]
REQUEST: dict[str, Any] = {
    **TINY_PLAN,
    "scenarios": scenario_payload([0.5, 1.0, 2.0], [0.3, 0.4, 0.3]),
    "executed": EXECUTED,
    "options": {"replications": 2, "sample": 2, "evaluate_on": 4, "seed": 5, "commit_days": 1,
                "risk": "cvar:alpha=0.3,lambda=0.5"},
}


def instance() -> Any:
    import optimiser
    from optimiser.multiperiod import multiperiod_from_frames

    base = optimiser.instance_from_dict({k: v for k, v in TINY_PLAN.items()
                                         if k not in ("demand", "deliveries")})
    return multiperiod_from_frames(base, pd.DataFrame(TINY_PLAN["demand"]),
                                   pd.DataFrame(TINY_PLAN["deliveries"]))


def test_saa_is_a_job_with_executed_moves_and_risk(server):
    from optimiser.scenarios import scenarios_from_dict
    from optimiser.stochastic.replications import SaaResult, saa

    with server.client() as client:
        job = client.post("/v1/jobs", json={"kind": "saa", "request": REQUEST})
        assert job.status_code == 202, job.text
        done = wait_job(client, job.json()["id"], timeout=300)
    assert done["status"] == "done", done["error"]
    inst = instance()
    reference = saa(inst, scenarios_from_dict(REQUEST["scenarios"], inst), replications=2,
                    sample_size=2, evaluation_size=4, seed=5, commit_days=1,
                    risk="cvar:alpha=0.3,lambda=0.5", executed=pd.DataFrame(EXECUTED), workers=1)
    got = done["result"]
    assert got["kind"] == "saa" and got["status"] == "done"
    assert got == reference.to_dict()  # same seed, same answer, in the service too
    assert got["today"] == 1 and got["executed"][0]["to"] == "B"
    assert got["risk"] == "cvar:alpha=0.3,lambda=0.5" and "CVaR_0.3" in got["objective"]
    assert SaaResult.from_dict(got).to_dict() == got


@pytest.mark.parametrize("change,field", [
    (lambda r: r["options"].update(replications=1), "options.replications"),
    (lambda r: r["options"].update(confidence=1.5), "options.confidence"),
    (lambda r: r["options"].update(risk="cvar:alpha=2,lambda=1"), "options.risk"),
    (lambda r: r["options"].update(commit_days=9), "options.commit_days"),
    (lambda r: r["options"].update(evaluate_on=10**7), "options.evaluate_on"),
    (lambda r: r["executed"][0].update(to="Nowhere"), "executed[0].to"),
    (lambda r: r.pop("scenarios"), "scenarios"),
    (lambda r: r.update(generator={"method": "lognormal"}), "scenarios"),
    (lambda r: r["scenarios"]["scenarios"][0].update(probability=-0.3), "scenarios"),
])
def test_bad_saa_requests_are_a_422_naming_the_field(server, change, field):
    bad = copy.deepcopy(REQUEST)
    change(bad)
    with server.client() as client:
        response = client.post("/v1/jobs", json={"kind": "saa", "request": bad})
    error = assert_json_error(response, 422, "invalid_input")
    assert any((p["field"] or "").startswith(f"request.{field}") for p in error["problems"]), error


def test_saa_from_the_lognormal_generator_and_a_bad_parameter(server):
    good = {k: v for k, v in REQUEST.items() if k not in ("scenarios", "executed")}
    good["generator"] = {"method": "lognormal", "sigma0": 0.3}
    good["options"] = {"replications": 2, "sample": 2, "evaluate_on": 3, "commit_days": 2}
    bad = copy.deepcopy(good)
    bad["generator"]["sigma"] = 1
    with server.client() as client:
        response = client.post("/v1/jobs", json={"kind": "saa", "request": bad})
        error = assert_json_error(response, 422, "invalid_input")
        assert any(p["field"] == "request.generator.sigma" for p in error["problems"]), error
        job = client.post("/v1/jobs", json={"kind": "saa", "request": good})
        assert job.status_code == 202, job.text
        done = wait_job(client, job.json()["id"], timeout=300)
    assert done["status"] == "done", done["error"]
    result = done["result"]
    assert result["info"]["source"]["generator"] == "lognormal"
    assert result["upper_bound_high"] >= result["upper_bound"]
    assert result["risk"] == "neutral" and result["today"] == 0


def test_saa_past_its_time_limit_answers_time_limit_and_no_bounds(server):
    slow = copy.deepcopy(REQUEST)
    slow["options"].update(time_limit=0.001, evaluate_on=2000)
    with server.client() as client:
        job = client.post("/v1/jobs", json={"kind": "saa", "request": slow})
        assert job.status_code == 202, job.text
        done = wait_job(client, job.json()["id"], timeout=300)
    # a budget the user gave running out is an answer, never a 5xx (the schemathesis test
    # fails on any 5xx job)
    assert done["status"] == "done" and done["error"] is None, done
    result = done["result"]
    assert result["status"] == "time_limit" and result["bounds"] is None
    assert "upper_bound" not in result and "lower_bound" not in result
    assert "time limit" in result["message"]
