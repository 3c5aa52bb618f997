"""Probe 6, against a real server. Failed on main e279bf2: a body with a whole number of more
than 4,300 digits (Python's limit for converting one) was answered "malformed JSON in the
request body: it could not be parsed (nested too deeply?)", a wrong cause for a flat body.
"""

from __future__ import annotations

import sys


def _post(server, content: str):
    with server.client() as client:
        return client.post("/v1/solve", content=content,
                           headers={"Content-Type": "application/json"})


def test_a_number_too_long_to_convert_is_named_not_nesting(server):
    digits = sys.get_int_max_str_digits() + 1
    body = ('{"supply": 1, "regions": [{"region": "A", "population": 1' + "0" * (digits - 1)
            + ', "capacity": 1, "peak_demand": 2}]}')
    response = _post(server, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "malformed_json"
    assert error["message"] == ("malformed JSON in the request body: a whole number has more "
                                f"than {sys.get_int_max_str_digits():,} digits")


def test_a_body_nested_too_deeply_still_says_so(server):
    response = _post(server, "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == (
        "malformed JSON in the request body: it is nested too deeply")
