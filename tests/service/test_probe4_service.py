"""Probe 4, against a real server. Failed on main 4dd34f7.

- A body that is not UTF-8 (a region name typed in Latin-1, as a spreadsheet exports it) was a
  400 saying "it could not be parsed (nested too deeply?)": the wrong cause, and no place. It
  now says the body is not UTF-8 and at which byte.
- A region value of the wrong JSON type was reported twice, the second time as missing:
  `regions[0].population: must be a number, got 'lots'` and `regions[0].population: missing
  value` ("and 1 more problem" for one mistake).
- A duplicate id pointed at its first occurrence in 1-based rows beside a 0-based JSON path:
  `regions[1].region: duplicate region id 'A' (first on row 1)`, and the same for bedside
  patients (`patients[3].patient: ... (first on row 3)`): the first is regions[0] (patients[2]).
"""

from __future__ import annotations

import json

from test_service_api import assert_json_error

REGION = {"region": "A", "population": 100, "capacity": 1, "peak_demand": 5}


def _post(server, content: bytes):
    with server.client() as client:
        return client.post("/v1/solve", content=content,
                           headers={"Content-Type": "application/json"})


def test_a_body_that_is_not_utf8_says_so_and_where(server):
    text = json.dumps({"supply": 10, "regions": [{**REGION, "name": "Sé"}]}, ensure_ascii=False)
    body = text.encode("latin-1")
    error = assert_json_error(_post(server, body), 400, "malformed_json")
    assert "UTF-8" in error["message"], error
    at = body.index("é".encode("latin-1"))
    assert f"byte 0xe9 at position {at}" in error["message"], error
    assert "nested too deeply" not in error["message"], error


def test_utf8_and_utf16_bodies_are_still_read(server):
    text = json.dumps({"supply": 10, "regions": [{**REGION, "name": "Sé"}]}, ensure_ascii=False)
    for body in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8"),
                 text.encode("utf-16")):
        response = _post(server, body)
        assert response.status_code == 200, response.text
        assert response.json()["regions"][0]["name"] == "Sé"


def test_a_value_of_the_wrong_type_is_one_problem_not_also_missing(server):
    body = {"supply": 10, "regions": [{**REGION, "population": "lots"}]}
    error = assert_json_error(_post(server, json.dumps(body).encode()), 422, "invalid_input")
    assert [p["field"] for p in error["problems"]] == ["regions[0].population"], error
    assert "missing value" not in json.dumps(error), error
    assert "more problem" not in error["message"], error


def test_a_duplicate_region_points_at_the_first_by_its_json_path(server):
    body = {"supply": 10, "regions": [REGION, {**REGION, "population": 200}]}
    error = assert_json_error(_post(server, json.dumps(body).encode()), 422, "invalid_input")
    assert error["problems"][0]["message"] == (
        "regions[1].region: duplicate region id 'A' (first at regions[0])"), error


def test_a_duplicate_patient_points_at_the_first_by_its_json_path(server):
    from optimiser import bedside

    body = bedside.case_to_dict("instances/bedside-snapshot")
    body["patients"][3]["patient"] = body["patients"][2]["patient"]
    with server.client() as client:
        response = client.post("/v1/bedside", json=body)
    error = assert_json_error(response, 422, "invalid_input")
    first = body["patients"][2]["patient"]
    assert error["problems"][0]["message"] == (
        f"patients[3].patient: duplicate patient id '{first}' (first at patients[2])"), error
