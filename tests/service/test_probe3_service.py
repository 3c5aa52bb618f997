"""Probe 3 (adversarial sweep of the service, branch probe3: fuzz_*.py): each test is a defect the
fuzzers found on main f62990a, against a real server.

- a bad option of a job was accepted (202) and failed when it ran (plan `mip_gap`, backtest
  `anchor`, SAA `executed` rows dispatched on or after `today`): refused at once instead;
- a non-list backtest `policies` entry, or a non-list `scenarios` of a stochastic plan, was a
  500 (TypeError) instead of a 422 naming the field;
- `constraints` that is not a list had no field and the TOML words "array of tables";
- a job's bad `options.time_limit` said `request.options.time_limit` in `field` but not at the
  start of its message (docs/service.md: every message starts with its field).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_service_api import TINY_PLAN, assert_json_error
from test_service_backtest import REQUEST as BACKTEST
from test_service_saa import REQUEST as SAA
from test_service_stochastic import REQUEST as STOCHASTIC


def submit(server: Any, kind: str, request: dict[str, Any]) -> Any:
    with server.client() as client:
        return client.post("/v1/jobs", json={"kind": kind, "request": request})


def refused_at(response: Any, field: str) -> dict[str, Any]:
    error = assert_json_error(response, 422, "invalid_input")
    assert [p["field"] for p in error["problems"]] == [field], error
    for problem in error["problems"]:
        assert problem["message"].startswith(f"{field}: "), problem
    assert error["message"].startswith(f"{field}: "), error
    return error


@pytest.mark.parametrize("gap", [-1, 1, 1.5, "abc", True, [0.1]])
def test_a_plan_jobs_bad_mip_gap_is_refused_before_it_is_accepted(server, gap):
    request = {**copy.deepcopy(TINY_PLAN), "options": {"mip_gap": gap}}
    error = refused_at(submit(server, "plan", request), "request.options.mip_gap")
    assert "must be in [0, 1)" in error["message"]


@pytest.mark.parametrize("anchor", ["sideways", None, 3, ["level"]])
def test_a_backtest_jobs_unknown_anchor_is_refused_before_it_is_accepted(server, anchor):
    request = copy.deepcopy(BACKTEST)
    request["options"]["anchor"] = anchor
    error = refused_at(submit(server, "backtest", request), "request.options.anchor")
    assert "unknown anchor" in error["message"]


@pytest.mark.parametrize("policies", [[{"a": 1}], [["mean"]], "mean", 3, ["mean", 7]])
def test_backtest_policies_that_are_not_names_are_a_422(server, policies):
    request = copy.deepcopy(BACKTEST)
    request["options"]["policies"] = policies
    refused_at(submit(server, "backtest", request), "request.options.policies")


def test_an_unknown_backtest_policy_names_the_policies_option(server):
    request = copy.deepcopy(BACKTEST)
    request["options"]["policies"] = ["mean", "oracle"]
    error = refused_at(submit(server, "backtest", request), "request.options.policies")
    assert "unknown policy 'oracle'" in error["message"]


@pytest.mark.parametrize("scenarios", [0.5, "s1", {"a": 1}])
def test_stochastic_scenarios_not_a_list_are_a_422(server, scenarios):
    request = copy.deepcopy(STOCHASTIC)
    request["scenarios"]["scenarios"] = scenarios
    error = assert_json_error(submit(server, "stochastic_plan", request), 422, "invalid_input")
    assert all((p["field"] or "").startswith("request.scenarios") for p in error["problems"]), error


def test_saa_executed_rows_on_or_after_today_are_refused_before_acceptance(server):
    request = copy.deepcopy(SAA)
    request["options"]["today"] = 0  # EXECUTED ships on day 0: not before today
    error = refused_at(submit(server, "saa", request), "request.executed[0].day")
    assert "not before today (day 0)" in error["message"]


@pytest.mark.parametrize("constraints", [5, {"kind": "min_units", "units": 1}, "min_units"])
def test_constraints_that_are_not_a_list_name_the_field(server, pugh_request, constraints):
    with server.client() as client:
        solve = client.post("/v1/solve", json={**pugh_request, "constraints": constraints})
    error = refused_at(solve, "constraints")
    assert "must be a list of constraint objects" in error["message"]
    assert "[[" not in error["message"]  # no TOML words in a JSON answer
    job = submit(server, "solve", {**pugh_request, "constraints": constraints})
    refused_at(job, "request.constraints")


@pytest.mark.parametrize("limit", [-1, 0, "5"])
def test_a_jobs_bad_time_limit_message_starts_with_its_field(server, pugh_request, limit):
    job = submit(server, "solve", {**pugh_request, "options": {"time_limit": limit}})
    refused_at(job, "request.options.time_limit")
    with server.client() as client:
        solve = client.post("/v1/solve", json={**pugh_request, "options": {"time_limit": limit}})
    refused_at(solve, "options.time_limit")


def test_made_up_http_methods_do_not_grow_the_metrics(server):
    """Any token is a method to the HTTP parser: each made-up one (`FOO1`, `FOO2`, ...) made
    new `triage_http_requests_total` and latency-histogram series, without a token
    (unbounded memory and /metrics size). They are all counted as method "other" now."""
    with server.client(token=None) as anonymous:
        for i in range(3):
            assert anonymous.request(f"PROBE{i}", "/v1/health").status_code == 405
            assert anonymous.request(f"PROBE{i}", "/nowhere").status_code == 401
    with server.client() as client:
        metrics = client.get("/metrics").text
    assert "PROBE" not in metrics
    assert 'method="other",route="/v1/health",status="405"' in metrics
    assert 'method="other",route="unmatched",status="401"' in metrics


def test_a_bad_time_limit_is_listed_with_the_requests_other_problems(server, pugh_request):
    """docs/service.md: every problem of a request is listed, the instance's and the options'
    together. A bad options.time_limit used to hide every other problem."""
    bad = copy.deepcopy(pugh_request)
    bad["regions"][1]["population"] = -5
    bad["options"] = {"time_limit": -1, "supply": -3}
    with server.client() as client:
        solve = client.post("/v1/solve", json=bad)
    fields = [p["field"] for p in assert_json_error(solve, 422, "invalid_input")["problems"]]
    assert fields[0] == "options.time_limit"
    assert "regions[1].population" in fields and "options.supply" in fields, fields
    job = submit(server, "solve", bad)
    fields = [p["field"] for p in assert_json_error(job, 422, "invalid_input")["problems"]]
    assert fields[0] == "request.options.time_limit"
    assert "request.regions[1].population" in fields, fields
    assert "request.options.supply" in fields, fields


@pytest.mark.parametrize("change,field", [
    (lambda b: b["patients"][9].update(site="H9"), "patients[9].site"),
    (lambda b: b["patients"][2].update(survival_without=0.99), "patients[2].survival_without"),
    (lambda b: b.update(patients=[]), "patients"),
    (lambda b: b["policy"].update(objective="cost_per_qaly"), "policy.objective"),
])
def test_bedside_problems_start_with_their_json_path(server, change, field):
    """POST /v1/bedside answered in the CLI's words ("patients, row 10, column 'site': ...",
    "policy: field 'objective': ..."); docs/service.md: every message starts with its field,
    in JSON words. The job's fields and messages carry the `request.` prefix."""
    from optimiser.bedside import case_to_dict

    body = case_to_dict("instances/bedside-snapshot")
    change(body)
    with server.client() as client:
        sync = client.post("/v1/bedside", json=body)
    error = refused_at(sync, field)
    assert ", row " not in error["message"] and "column '" not in error["message"], error
    refused_at(submit(server, "bedside", body), f"request.{field}")


def test_the_schema_states_the_anchors_the_engine_takes(server):
    from optimiser.backtest.policies import ANCHORS

    with server.client() as client:
        schema = client.get("/openapi.json").json()
    anchor = schema["components"]["schemas"]["BacktestOptions"]["properties"]["anchor"]
    assert tuple(anchor["enum"]) == ANCHORS


def test_json_nested_too_deeply_is_malformed_json(server):
    """docs/service.md: 400 `malformed_json` when the body is not JSON the server can read;
    a body nested 100,000 deep was a 400 with the undocumented code `bad_request`."""
    with server.client() as client:
        response = client.post("/v1/solve", content="[" * 100_000 + "]" * 100_000,
                               headers={"Content-Type": "application/json"})
    error = assert_json_error(response, 400, "malformed_json")
    assert "malformed JSON" in error["message"]
