"""Probe 4, against a real server. Failed on main 4dd34f7.

- A body that is not UTF-8 (a region name typed in Latin-1, as a spreadsheet exports it) was a
  400 saying "it could not be parsed (nested too deeply?)": the wrong cause, and no place. It
  now says the body is not UTF-8 and at which byte.
- A region value of the wrong JSON type was reported twice, the second time as missing:
  `regions[0].population: must be a number, got 'lots'` and `regions[0].population: missing
  value` ("and 1 more problem" for one mistake).
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
