"""Probe 5, against a real server. Failed on main 98e5f6b: a blank `resource` was accepted
and every answer read "1,000 s for 4 regions", "one  that reaches a patient" (the schema took
any string; instance.toml too); a constraint with no `kind` was "unknown constraint kind None".
"""

from __future__ import annotations

from test_service_api import assert_json_error

REGION = {"region": "A", "population": 100, "capacity": 1, "peak_demand": 5}


def test_a_blank_resource_is_a_422_naming_it(server):
    with server.client() as client:
        response = client.post("/v1/solve", json={"supply": 10, "resource": " ",
                                                  "regions": [REGION]})
    error = assert_json_error(response, 422, "invalid_input")
    assert [p["field"] for p in error["problems"]] == ["resource"], error
    assert "must be a non-empty string" in error["message"], error


def test_the_schema_says_resource_is_not_blank(server):
    with server.client() as client:
        schema = client.get("/openapi.json").json()
    models = schema["components"]["schemas"]
    for name in ("SolveRequest", "PlanRequest"):
        assert "pattern" in models[name]["properties"]["resource"], models[name]


def test_a_constraint_without_kind_says_so(server):
    with server.client() as client:
        response = client.post("/v1/solve", json={"supply": 10, "regions": [REGION],
                                                  "constraints": [{"level": 0.5}]})
    error = assert_json_error(response, 422, "invalid_input")
    assert error["problems"][0]["field"] == "constraints[0]", error
    assert error["problems"][0]["message"].startswith("constraints[0]: no 'kind' (known: "), error
    assert "None" not in error["message"], error
