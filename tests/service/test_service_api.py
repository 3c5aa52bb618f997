"""The HTTP API against a real server process: auth, errors, solve, jobs, idempotency, limits."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def wait_job(client: httpx.Client, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not finished after {timeout} s: {job}")


def assert_json_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text
    error = response.json()["error"]
    assert error["status"] == status
    assert error["code"] == code
    assert error["message"]
    return error


# ---- no token needed: health and readiness


def test_health_and_ready_need_no_token(server):
    health = httpx.get(server.url + "/v1/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = httpx.get(server.url + "/v1/ready")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert ready.json()["checks"]["store"] == "ok"


def test_openapi_and_docs_are_served_to_token_holders(server, tokens):
    auth = {"Authorization": f"Bearer {tokens['alice']}"}
    spec = httpx.get(server.url + "/openapi.json", headers=auth).json()
    for path in ("/v1/solve", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/health", "/v1/ready",
                 "/metrics"):
        assert path in spec["paths"]
    assert httpx.get(server.url + "/docs", headers=auth).status_code == 200
    for path in ("/openapi.json", "/docs"):  # every endpoint but health and readiness
        assert_json_error(httpx.get(server.url + path), 401, "unauthorized")


def test_docs_can_be_made_public_on_a_trusted_network(start_server):
    public = start_server("public-docs", "--workers", "1", TRIAGE_PUBLIC_DOCS="true")
    assert httpx.get(public.url + "/openapi.json").status_code == 200
    assert httpx.get(public.url + "/docs").status_code == 200
    assert httpx.get(public.url + "/v1/jobs").status_code == 401
    public.stop()


# ---- auth


@pytest.mark.parametrize("path,method", [("/v1/solve", "POST"), ("/v1/jobs", "GET"),
                                         ("/v1/jobs", "POST"), ("/metrics", "GET")])
def test_auth_refused_without_or_with_a_wrong_token(server, pugh_request, path, method):
    body = {"json": pugh_request} if method == "POST" else {}
    missing = httpx.request(method, server.url + path, **body)
    error = assert_json_error(missing, 401, "unauthorized")
    assert "missing API token" in error["message"]
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = httpx.request(method, server.url + path,
                          headers={"Authorization": "Bearer nope-" + "x" * 20}, **body)
    assert assert_json_error(wrong, 401, "unauthorized")["message"] == "invalid API token"
    basic = httpx.request(method, server.url + path, auth=("alice", "secret"), **body)
    error = assert_json_error(basic, 401, "unauthorized")
    assert "unsupported authorization scheme 'Basic'" in error["message"]


def test_auth_accepted_by_bearer_api_key_and_hashed_tokens_file(server, pugh_request, tokens):
    bearer = httpx.post(server.url + "/v1/solve", json=pugh_request,
                        headers={"Authorization": f"Bearer {tokens['alice']}"})
    assert bearer.status_code == 200
    api_key = httpx.post(server.url + "/v1/solve", json=pugh_request,
                         headers={"X-API-Key": tokens["bob"]})
    assert api_key.status_code == 200
    from_file = httpx.get(server.url + "/v1/jobs", headers={"X-API-Key": tokens["carol"]})
    assert from_file.status_code == 200  # carol exists only as a SHA-256 in the tokens file


def test_a_token_cannot_see_another_tokens_job(server, pugh_request, tokens):
    with server.client(tokens["alice"]) as alice, server.client(tokens["bob"]) as bob:
        job = alice.post("/v1/jobs", json={"kind": "solve", "request": pugh_request})
        assert job.status_code == 202
        job_id = job.json()["id"]
        assert_json_error(bob.get(f"/v1/jobs/{job_id}"), 404, "not_found")
        assert_json_error(bob.delete(f"/v1/jobs/{job_id}"), 404, "not_found")
        assert job_id not in [j["id"] for j in bob.get("/v1/jobs?limit=100").json()["jobs"]]
        assert wait_job(alice, job_id)["status"] == "done"
        assert job_id in [j["id"] for j in alice.get("/v1/jobs?limit=100").json()["jobs"]]


# ---- request errors


def test_oversized_body_is_refused(server):
    with server.client() as client:
        big = b'{"name": "' + b"x" * (1_048_576 + 10) + b'"}'
        error = assert_json_error(
            client.post("/v1/solve", content=big, headers={"content-type": "application/json"}),
            413, "body_too_large",
        )
        assert "1048576" in error["message"]

        def chunks():  # no Content-Length: counted as it streams
            yield b'{"name": "'
            for _ in range(12):
                yield b"y" * 100_000
            yield b'"}'

        assert_json_error(
            client.post("/v1/solve", content=chunks(),
                        headers={"content-type": "application/json"}),
            413, "body_too_large",
        )


def test_a_request_without_token_is_refused_before_its_body_is_read(server):
    big = b"x" * (2 * 1_048_576)
    response = httpx.post(server.url + "/v1/solve", content=big,
                          headers={"content-type": "application/json"})
    assert_json_error(response, 401, "unauthorized")  # not 413: nothing was parsed


@pytest.mark.parametrize("body", [b'{"supply": 10, "regions": [', b"{'a': 1}", b"nul"])
def test_malformed_json_is_a_400(server, body):
    with server.client() as client:
        response = client.post("/v1/solve", content=body,
                               headers={"content-type": "application/json"})
    assert "malformed JSON" in assert_json_error(response, 400, "malformed_json")["message"]


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42"])
def test_a_body_that_is_not_an_object_is_a_422(server, body):
    with server.client() as client:
        response = client.post("/v1/solve", content=body,
                               headers={"content-type": "application/json"})
    assert "JSON object" in assert_json_error(response, 422, "invalid_input")["message"]


def _set(request: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(request)
    node: Any = out
    keys = path.replace("]", "").replace("[", ".").split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    last = keys[-1]
    if value is KeyError:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return out


SCHEMA_ERRORS = [
    ("regions[1].population", -5, "regions[1].population", "must be > 0, got -5"),
    ("regions[0].survival_with", "abc", "regions[0].survival_with",
     "must be a number, got 'abc'"),  # JSON types: a string is not a number (the schema's)
    ("regions[2].survival_with", 1.5, "regions[2].survival_with", "must be at most 1"),
    ("regions[0].capacity", KeyError, "regions[0].capacity", "missing value"),
    ("supply", "x", "supply", "must be a whole number >= 0, got 'x'"),
    ("supply", 10.5, "supply", "must be a whole number >= 0"),
    ("bogus_key", 1, "bogus_key", "unknown key"),
    ("constraints", [{"kind": "coverage_floor", "level": 3}], "constraints[0].level",
     "constraints[0].level: must be <= 1, got 3"),  # the JSON path, not "parameter 'level'"
    ("constraints", [{"kind": "nope"}], "constraints[0]", "unknown constraint kind 'nope'"),
    ("defaults", {"weight": "x"}, "defaults.weight", "must be a number"),
    ("tiers", [{"region": "A", "share": 0.5, "survival_with": 0.5}], "tiers.share",
     "sum to 0.5, not 1"),
    ("regions", [], "regions", "non-empty list"),
    ("policy", "nope", "policy", "unknown policy 'nope'"),
    ("policy", 3, "policy", "valid string"),
    ("options.time_limit", 0, "options.time_limit", "must be a number of seconds > 0, got 0"),
    ("options.supply", -1, "options.supply", "must be >= 0, got -1"),
    ("options.constraints", [{"kind": "min_units", "units": 1}, "coverage_floor:level=2"],
     "options.constraints[1].level", "options.constraints[1].level: must be <= 1, got 2"),
    ("options.seed", "x", "options.seed", "valid integer"),
    ("options.price_of_fairness", "yes", "options.price_of_fairness", "valid boolean"),
    ("options.unknown", 1, "options.unknown", "Extra inputs are not permitted"),
]


@pytest.mark.parametrize("path,value,field,text", SCHEMA_ERRORS)
def test_schema_errors_name_the_field(server, pugh_request, path, value, field, text):
    with server.client() as client:
        response = client.post("/v1/solve", json=_set(pugh_request, path, value))
        error = assert_json_error(response, 422, "invalid_input")
        assert any(p["field"] == field and text in p["message"] for p in error["problems"]), error
        # the same request as a job is refused at submission, pointing into "request"
        job = client.post("/v1/jobs", json={"kind": "solve",
                                            "request": _set(pugh_request, path, value)})
        job_error = assert_json_error(job, 422, "invalid_input")
        assert any(p["field"] == f"request.{field}" for p in job_error["problems"]), job_error


def test_non_finite_numbers_are_refused_by_field(server, pugh_request):
    text = json.dumps(_set(pugh_request, "regions[3].peak_demand", float("inf")))
    assert "Infinity" in text  # not standard JSON, but Python's parser reads it
    with server.client() as client:
        response = client.post("/v1/solve", content=text,
                               headers={"content-type": "application/json"})
    error = assert_json_error(response, 422, "invalid_input")
    assert error["problems"][0]["field"] == "regions[3].peak_demand"
    assert "must be finite" in error["message"]


def test_validation_messages_are_the_clis(server, pugh_request, tmp_path):
    """The service and `triage validate` report the same problem in the same words."""
    folder = tmp_path / "bad"
    folder.mkdir()
    toml = (REPO / "instances" / "pugh2021" / "instance.toml").read_text()
    (folder / "instance.toml").write_text(toml)
    csv = (REPO / "instances" / "pugh2021" / "regions.csv").read_text().splitlines()
    row = csv[2].split(",")
    row[2] = "-5"  # population of region B
    csv[2] = ",".join(row)
    (folder / "regions.csv").write_text("\n".join(csv) + "\n")
    cli = subprocess.run([sys.executable, "-m", "optimiser", "validate", str(folder)],
                         capture_output=True, text=True, cwd=REPO)
    assert cli.returncode == 2
    cli_message = cli.stderr.splitlines()[0].split("column 'population': ", 1)[1]
    with server.client() as client:
        bad = _set(pugh_request, "regions[1].population", -5)
        error = client.post("/v1/solve", json=bad).json()
    # the same rule in the same words, located by a JSON path instead of file and column
    assert error["error"]["problems"][0]["message"] == \
        f"regions[1].population: {cli_message} (region 'B')"
    assert cli_message == "must be > 0, got -5"


def test_unknown_endpoint_and_method_are_json(server):
    with server.client() as client:
        assert_json_error(client.get("/v2/nothing"), 404, "not_found")
        assert_json_error(client.put("/v1/solve", json={}), 405, "method_not_allowed")


# ---- solving


def test_solve_matches_the_cli_json_and_the_python_api(server, pugh_request, solve_in_process):
    request = {**pugh_request, "options": {"constraints": ["per_capita_floor:share=0.6",
                                                           {"kind": "min_units", "units": 150}]}}
    with server.client() as client:
        response = client.post("/v1/solve", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    cli = subprocess.run(
        [sys.executable, "-m", "optimiser", "solve", "instances/pugh2021", "--json",
         "--constraint", "per_capita_floor:share=0.6", "--constraint", "min_units:units=150"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    assert set(body) == set(expected)
    for key in ("status", "policy", "allocation", "unallocated", "constraints", "lives_saved",
                "lives_optimal", "price_of_fairness", "fingerprint"):
        assert body[key] == expected[key], key
    reference = solve_in_process(request)
    assert body["allocation"] == reference["allocation"]
    assert sum(body["allocation"].values()) + body["unallocated"] == pugh_request["supply"]
    assert body["allocation"]["C"] >= 150  # the min_units floor holds


def test_same_request_same_allocation(server, states_request):
    request = {**states_request, "options": {"supply": 2000}}
    with server.client() as client:
        first = client.post("/v1/solve", json=request)
        second = client.post("/v1/solve", json=request)
        reordered = client.post("/v1/solve", content=json.dumps(
            dict(reversed(list(request.items())))), headers={"content-type": "application/json"})
    assert first.status_code == second.status_code == reordered.status_code == 200
    assert first.json()["allocation"] == second.json()["allocation"]
    assert first.json()["allocation"] == reordered.json()["allocation"]
    assert second.headers["x-triage-cache"] == "hit"  # deterministic, so answered from memory
    assert sum(first.json()["allocation"].values()) <= 2000


def test_infeasible_is_a_200_with_the_explanation(server, pugh_request):
    request = {**pugh_request, "options": {"constraints": [{"kind": "coverage_floor",
                                                            "level": 0.99}]}}
    with server.client() as client:
        response = client.post("/v1/solve", json=request)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "infeasible"
    assert "coverage_floor(level=0.99)" in body["explanation"]
    assert "5,123 units" in body["explanation"] and "supply is 1,000" in body["explanation"]
    assert body["allocation"] == {}


def test_time_limit_is_capped_by_the_server(server, pugh_request):
    with server.client() as client:
        response = client.post("/v1/solve", json={**pugh_request,
                                                  "options": {"time_limit": 1e6}})
        assert response.status_code == 200
        assert float(response.headers["x-time-limit"]) == 60.0  # TRIAGE_MAX_TIME_LIMIT
        job = client.post("/v1/jobs", json={"kind": "solve", "request": {
            **pugh_request, "options": {"time_limit": 1e6}}}).json()
        assert job["time_limit"] == 600.0  # TRIAGE_MAX_JOB_TIME_LIMIT
        assert wait_job(client, job["id"])["status"] == "done"


def test_a_solve_stopped_by_its_time_limit_returns_the_best_found_with_its_gap(
        server, slow_request):
    request = slow_request(40)
    request["options"]["time_limit"] = 0.3
    with server.client() as client:
        response = client.post("/v1/solve", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "time_limit"
    assert body["solver"]["gap"] is not None and body["solver"]["gap"] > 0
    assert sum(body["allocation"].values()) <= request["supply"]


# ---- jobs


def test_job_lifecycle_and_result(server, states_request, solve_in_process):
    request = {**states_request, "options": {"constraints": ["min_units:units=20"]}}
    with server.client() as client:
        submitted = client.post("/v1/jobs", json={"kind": "solve", "request": request})
        assert submitted.status_code == 202
        job = submitted.json()
        assert job["status"] in ("queued", "running")
        assert submitted.headers["location"] == f"/v1/jobs/{job['id']}"
        done = wait_job(client, job["id"])
    assert done["status"] == "done" and done["error"] is None and done["attempts"] == 1
    assert done["result"]["allocation"] == solve_in_process(request)["allocation"]
    assert done["started_at"] >= done["created_at"] and done["finished_at"] >= done["started_at"]


def test_jobs_are_paginated_newest_first(server, pugh_request, tokens):
    with server.client(tokens["carol"]) as client:
        ids = []
        for supply in range(100, 107):
            job = client.post("/v1/jobs", json={"kind": "solve", "request": {
                **pugh_request, "options": {"supply": supply, "price_of_fairness": False}}})
            ids.append(job.json()["id"])
        seen, cursor = [], None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/jobs", params=params)
            assert page.status_code == 200
            body = page.json()
            assert len(body["jobs"]) <= 3
            assert all("result" not in j for j in body["jobs"])
            seen += [j["id"] for j in body["jobs"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen[: len(ids)] == list(reversed(ids))
        assert len(seen) == len(set(seen))
        for job_id in ids:
            wait_job(client, job_id)
        done = client.get("/v1/jobs", params={"status": "done", "limit": 100}).json()["jobs"]
        assert set(ids) <= {j["id"] for j in done}
        assert_json_error(client.get("/v1/jobs", params={"cursor": "abc"}), 422, "invalid_input")
        assert_json_error(client.get("/v1/jobs", params={"limit": 1000}), 422, "invalid_input")


def test_idempotent_retry_same_key_same_job(server, pugh_request):
    body = {"kind": "solve", "request": {**pugh_request, "options": {"supply": 321}}}
    with server.client() as client:
        first = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "order-42"})
        again = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "order-42"})
        assert first.status_code == 202 and again.status_code == 200
        assert again.headers["idempotent-replayed"] == "true"
        assert first.json()["id"] == again.json()["id"]
        other = {"kind": "solve", "request": {**pugh_request, "options": {"supply": 322}}}
        conflict = client.post("/v1/jobs", json=other, headers={"Idempotency-Key": "order-42"})
        assert_json_error(conflict, 409, "conflict")
        assert wait_job(client, first.json()["id"])["result"]["supply"] == 321


def test_concurrent_retries_with_one_key_make_one_job(server, pugh_request):
    body = {"kind": "solve", "request": {**pugh_request, "options": {"supply": 654}}}

    def submit(_: int) -> httpx.Response:
        with server.client() as client:
            return client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "burst-1"})

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(submit, range(10)))
    assert all(r.status_code in (200, 202) for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.status_code == 202 for r in responses) == 1


def test_the_same_key_of_two_tokens_is_two_jobs(server, pugh_request, tokens):
    body = {"kind": "solve", "request": pugh_request}
    with server.client(tokens["alice"]) as alice, server.client(tokens["bob"]) as bob:
        a = alice.post("/v1/jobs", json=body, headers={"Idempotency-Key": "shared-key"})
        b = bob.post("/v1/jobs", json=body, headers={"Idempotency-Key": "shared-key"})
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"]


def test_cancel_a_running_job_and_the_server_keeps_working(server, slow_request, pugh_request):
    with server.client() as client:
        job = client.post("/v1/jobs", json={"kind": "solve", "request": slow_request(40)}).json()
        deadline = time.monotonic() + 30
        while client.get(f"/v1/jobs/{job['id']}").json()["status"] == "queued":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        cancelled = client.delete(f"/v1/jobs/{job['id']}")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        time.sleep(0.5)
        final = client.get(f"/v1/jobs/{job['id']}").json()
        assert final["status"] == "cancelled" and final["result"] is None
        assert client.delete(f"/v1/jobs/{job['id']}").status_code == 200  # idempotent
        # the killed solver process was replaced: solving still works
        assert client.post("/v1/solve", json=pugh_request).status_code == 200
        finished = client.post("/v1/jobs", json={"kind": "solve", "request": pugh_request}).json()
        wait_job(client, finished["id"])
        assert_json_error(client.delete(f"/v1/jobs/{finished['id']}"), 409, "conflict")


def test_unknown_job_kind_names_the_field(server, pugh_request):
    with server.client() as client:
        response = client.post("/v1/jobs", json={"kind": "teleport", "request": pugh_request})
    error = assert_json_error(response, 422, "invalid_input")
    assert error["problems"][0]["field"] == "kind"


# ---- metrics


def test_metrics_are_prometheus_text(server, pugh_request):
    with server.client() as client:
        client.post("/v1/solve", json={**pugh_request, "options": {"supply": 777}})
        text = client.get("/metrics").text
    assert '# TYPE triage_http_requests_total counter' in text
    assert 'triage_http_requests_total{method="POST",route="/v1/solve",status="200"}' in text
    bucket = "triage_http_request_duration_seconds_bucket"
    assert bucket + '{le="+Inf",method="POST",route="/v1/solve"}' in text
    assert 'triage_solve_seconds_count{kind="solve",outcome="ok"}' in text
    assert 'triage_queue_depth{queue="jobs"}' in text
    assert 'triage_workers{state="total"} 2.0' in text
    for line in text.splitlines():  # every sample line is "name{labels} number"
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1].replace("+Inf", "inf"))


# ---- multi-period plans as jobs

TINY_PLAN = {
    "name": "tiny-plan",
    "supply": 5,
    "regions": [
        {"region": "A", "population": 1000, "capacity": 2, "peak_demand": 6, "los_days": 3,
         "survival_with": 0.6, "survival_without": 0.1},
        {"region": "B", "population": 2000, "capacity": 1, "peak_demand": 4, "los_days": 2,
         "survival_with": 0.5, "survival_without": 0.1},
    ],
    "multiperiod": {"days": 4, "demand_kind": "new_patients", "default_lead_time_days": 1},
    "demand": [{"region": r, "day": d, "new_patients": n}
               for r, series in (("A", [1, 3, 2, 0]), ("B", [2, 2, 1, 0]))
               for d, n in enumerate(series)],
    "deliveries": [{"day": 0, "quantity": 2}, {"day": 2, "quantity": 2}],
}


def test_a_multi_period_plan_is_a_job(server):
    import pandas as pd

    import optimiser
    from optimiser.multiperiod import multiperiod_from_frames, plan

    with server.client() as client:
        job = client.post("/v1/jobs", json={"kind": "plan", "request": TINY_PLAN})
        assert job.status_code == 202, job.text
        done = wait_job(client, job.json()["id"])
    assert done["status"] == "done", done["error"]
    base = optimiser.instance_from_dict({k: v for k, v in TINY_PLAN.items()
                                         if k not in ("demand", "deliveries")})
    reference = plan(multiperiod_from_frames(base, pd.DataFrame(TINY_PLAN["demand"]),
                                             pd.DataFrame(TINY_PLAN["deliveries"]))).to_dict()
    assert done["result"]["status"] == reference["status"] == "optimal"
    assert done["result"]["lives_saved"] == reference["lives_saved"]
    assert done["result"]["shipments"] == reference["shipments"]


def test_a_bad_plan_is_refused_naming_the_row(server):
    bad = copy.deepcopy(TINY_PLAN)
    bad["demand"][5]["region"] = "Z"
    with server.client() as client:
        response = client.post("/v1/jobs", json={"kind": "plan", "request": bad})
    error = assert_json_error(response, 422, "invalid_input")
    assert any(p["field"] == "request.demand[5].region" and "unknown region 'Z'" in p["message"]
               for p in error["problems"]), error
