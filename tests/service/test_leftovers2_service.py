"""Leftovers 2 against a real server: the 404 of an unknown job id quotes a long id cut short
(it repeated the whole path segment: a 10,000-character id gave a 10,000-character message);
the documentation tables' values and a plan's method are refused naming their JSON path."""

from __future__ import annotations

import copy

import pytest
from test_service_api import assert_json_error
from test_service_stochastic import REQUEST as STOCHASTIC


@pytest.mark.parametrize("verb", ["GET", "DELETE"])
def test_an_unknown_job_id_is_quoted_short(server, verb):
    huge = "a" * 10_000
    with server.client() as client:
        short = client.request(verb, "/v1/jobs/nope")
        long = client.request(verb, f"/v1/jobs/{huge}")
        odd = client.request(verb, "/v1/jobs/line%0Abreak")
    assert assert_json_error(short, 404, "not_found")["message"] == "no job 'nope' for this token"
    message = assert_json_error(long, 404, "not_found")["message"]
    assert message == f"no job {'a' * 64!r}... (10,000 characters) for this token"
    # a control character is escaped, not written into the message (or a log line) as is
    assert assert_json_error(odd, 404, "not_found")["message"] == (
        "no job 'line\\nbreak' for this token"
    )


def test_a_job_id_of_64_characters_is_quoted_whole(server):
    given = "b" * 64
    with server.client() as client:
        response = client.get(f"/v1/jobs/{given}")
    assert assert_json_error(response, 404, "not_found")["message"] == (
        f"no job {given!r} for this token"
    )


@pytest.mark.parametrize(
    ("table", "value", "message"),
    [
        ("assumptions", {"beds": 3}, "must be text (a documentation table), got 3"),
        ("provenance", {"inputs": ["a.csv", 1]}, "must be text or a list of texts"),
    ],
)
def test_documentation_tables_hold_text(server, pugh_request, table, value, message):
    body = {**copy.deepcopy(pugh_request), table: value}
    key = next(iter(value))
    with server.client() as client:
        response = client.post("/v1/solve", json=body)
        job = client.post("/v1/jobs", json={"kind": "solve", "request": body})
        fine = client.post("/v1/solve", json={**pugh_request, table: {key: "in words"}})
    error = assert_json_error(response, 422, "invalid_input")
    assert [p["field"] for p in error["problems"]] == [f"{table}.{key}"]
    assert message in error["problems"][0]["message"]
    job_error = assert_json_error(job, 422, "invalid_input")
    assert [p["field"] for p in job_error["problems"]] == [f"request.{table}.{key}"]
    assert fine.status_code == 200, fine.text


def test_a_wrong_method_names_its_path_and_the_methods(server):
    body = copy.deepcopy(STOCHASTIC)
    body["options"] = {**body["options"], "method": "foo"}  # type: ignore[dict-item]
    with server.client() as client:
        response = client.post("/v1/jobs", json={"kind": "stochastic_plan", "request": body})
    error = assert_json_error(response, 422, "invalid_input")
    [problem] = error["problems"]
    assert problem["field"] == "request.options.method"
    assert problem["message"].endswith(": must be one of auto, exact, rounding, got 'foo'")
