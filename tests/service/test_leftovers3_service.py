"""Repeated names in a request are refused, naming where (track leftovers3). Before, a JSON
object naming a key twice was read with its last value (`{"supply": 10, "supply": 5000}` solved
for 5,000 units) and a query parameter given twice was read once (`?limit=1&limit=50` listed
50 jobs): the client's mistake passed silently. Now: 422 invalid_input, each problem's field
the JSON path of the repeated key or the parameter's name."""

from __future__ import annotations

import json

from test_service_api import assert_json_error


def test_a_repeated_top_level_key_is_refused(server, pugh_request):
    text = json.dumps(pugh_request)
    body = text[:-1] + ', "supply": 5000}'
    assert json.loads(body)["supply"] == 5000  # what a last-wins reader would solve
    with server.client() as client:
        response = client.post(
            "/v1/solve", content=body, headers={"Content-Type": "application/json"}
        )
    error = assert_json_error(response, 422, "invalid_input")
    assert error["problems"] == [
        {
            "field": "supply",
            "message": "supply: the key is given 2 times in one object (JSON names each key "
            "once: only the last value would be read)",
        }
    ]
    assert error["message"] == error["problems"][0]["message"]


def test_repeated_keys_are_named_by_their_json_path(server, pugh_request):
    rows = [dict(r) for r in pugh_request["regions"]]
    text = json.dumps({**pugh_request, "regions": rows})
    # regions[1] names capacity twice; a job's request names options twice
    second = json.dumps(rows[1])
    text = text.replace(second, second[:-1] + ', "capacity": 0}', 1)
    job = '{"kind": "solve", "request": ' + text[:-1] + ', "options": {}, "options": {}}}'
    with server.client() as client:
        solve = client.post("/v1/solve", content=text, headers={"Content-Type": "application/json"})
        submitted = client.post(
            "/v1/jobs", content=job, headers={"Content-Type": "application/json"}
        )
    error = assert_json_error(solve, 422, "invalid_input")
    assert [p["field"] for p in error["problems"]] == ["regions[1].capacity"]
    error = assert_json_error(submitted, 422, "invalid_input")
    # an object's own repeated keys first, then those inside it
    assert [p["field"] for p in error["problems"]] == [
        "request.options",
        "request.regions[1].capacity",
    ]
    assert error["message"].endswith("(and 1 more problem)")


def test_a_repeated_query_parameter_is_refused(server):
    with server.client() as client:
        once = client.get("/v1/jobs?limit=1")
        twice = client.get("/v1/jobs?limit=1&limit=50")
        thrice = client.get("/v1/jobs?status=queued&limit=2&status=done&status=done")
    assert once.status_code == 200, once.text
    error = assert_json_error(twice, 422, "invalid_input")
    assert error["problems"] == [
        {"field": "limit", "message": "limit: given 2 times in the query string; give it once"}
    ]
    error = assert_json_error(thrice, 422, "invalid_input")
    assert error["problems"] == [
        {"field": "status", "message": "status: given 3 times in the query string; give it once"}
    ]


def test_the_same_key_in_different_objects_is_fine(server, pugh_request):
    # every region row names "region": one key per object is all JSON asks
    with server.client() as client:
        response = client.post("/v1/solve", json=pugh_request)
    assert response.status_code == 200, response.text
