"""The HTTP API against a real server process: numbers beyond any float, headers and sizes.
(Split from tests/service/test_service_api.py, which had grown past 600 lines.)"""

from __future__ import annotations

import copy
import json

import httpx
import pytest
from test_service_api import assert_json_error, wait_job

HUGE = 10**400


@pytest.mark.parametrize("where,field", [
    (("supply",), "supply"),
    (("regions", 0, "population"), "regions[0].population"),
    (("defaults", "los_days"), "defaults.los_days"),
    (("options", "supply"), "options.supply"),
    (("constraints",), "constraints[0].units"),
])
def test_integers_beyond_any_float_are_a_422_naming_the_field(server, pugh_request, where, field):
    body = copy.deepcopy(pugh_request)
    if where == ("constraints",):
        body["constraints"] = [{"kind": "min_units", "units": HUGE}]
    else:
        target = body
        for key in where[:-1]:
            target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
        target[where[-1]] = HUGE
    with server.client() as client:
        for response in (client.post("/v1/solve", json=body),
                         client.post("/v1/jobs", json={"kind": "solve", "request": body})):
            error = assert_json_error(response, 422, "invalid_input")
            assert any(p["field"].endswith(field) for p in error["problems"]), error
            assert str(HUGE) not in response.text  # summarised, not echoed


def test_a_time_limit_beyond_any_float_is_capped(server, pugh_request):
    body = {**pugh_request, "options": {"time_limit": HUGE}}
    with server.client() as client:
        response = client.post("/v1/solve", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["x-time-limit"] == "60"


@pytest.mark.parametrize("cursor", ["99999999999999999999", "\u0663", "-1", "1e3"])
def test_a_bad_cursor_is_a_422(server, cursor):
    with server.client() as client:
        error = assert_json_error(client.get("/v1/jobs", params={"cursor": cursor}), 422,
                                  "invalid_input")
    assert error["problems"][0]["field"] == "cursor"


def test_a_body_that_is_not_json_is_a_415(server, pugh_request):
    with server.client() as client:
        response = client.post("/v1/solve", content=json.dumps(pugh_request),
                               headers={"Content-Type": "text/plain"})
        error = assert_json_error(response, 415, "unsupported_media_type")
        assert "application/json" in error["message"]
        ok = client.post("/v1/solve", content=json.dumps(pugh_request),
                         headers={"Content-Type": "application/json; charset=utf-8"})
        assert ok.status_code == 200


def test_an_idempotency_key_must_be_printable_ascii(server, pugh_request):
    with server.client() as client:
        response = client.post("/v1/jobs", json={"kind": "solve", "request": pugh_request},
                               headers={"Idempotency-Key": "cl\u00e9".encode()})  # UTF-8
    error = assert_json_error(response, 422, "invalid_input")
    assert error["problems"][0]["field"] == "Idempotency-Key"


def test_an_instance_too_large_for_a_synchronous_solve_is_sent_to_jobs(start_server, tokens):
    small = start_server("sync-cap", "--workers", "1", TRIAGE_MAX_SYNC_REGIONS="3")
    body = {"supply": 5, "regions": [
        {"region": f"R{i}", "population": 100, "capacity": 0, "peak_demand": 3} for i in range(4)]}
    with small.client(tokens["alice"]) as client:
        error = assert_json_error(client.post("/v1/solve", json=body), 413, "too_large_for_sync")
        assert "4 regions" in error["message"] and "/v1/jobs" in error["message"]
        job = client.post("/v1/jobs", json={"kind": "solve", "request": body})
        assert job.status_code == 202
        assert wait_job(client, job.json()["id"])["status"] == "done"
        body["regions"] = body["regions"][:3]
        assert client.post("/v1/solve", json=body).status_code == 200
    small.stop()


def test_refused_requests_are_counted_against_their_route(server):
    httpx.get(server.url + "/v1/jobs")
    httpx.get(server.url + "/v1/jobs/abc")
    with server.client() as client:
        metrics = client.get("/metrics").text
    assert 'route="/v1/jobs",status="401"' in metrics
    assert 'route="/v1/jobs/{job_id}",status="401"' in metrics
