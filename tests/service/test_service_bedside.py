"""POST /v1/bedside and the bedside jobs against a real server: the same answer as the Python
API, refusals as 422 naming the field, jobs that finish."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from optimiser.bedside import allocate, case_to_dict, inputs_from_dict

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "instances" / "bedside-synthetic"


@pytest.fixture(scope="module")
def body() -> dict[str, Any]:
    return case_to_dict(EXAMPLE)


def wait(client: httpx.Client, job_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not finished: {job}")


def test_bedside_answers_as_the_python_api(server, body):
    request = {**body, "options": {"price_of_fairness": False, "time_limit": 30}}
    with server.client() as client:
        response = client.post("/v1/bedside", json=request, timeout=120)
    assert response.status_code == 200, response.text
    data = response.json()
    expected = allocate(inputs_from_dict(body), price=False)
    got = {p["patient"]: p["final"] for p in data["patients"]}
    assert got == expected.decisions
    assert data["policy"]["approved_by"] == expected.policy["approved_by"]
    assert data["decision_log"][0]["type"] == "header"
    assert len(data["decision_log"]) == len(body["patients"]) + 1
    assert data["summary"]["certified"] is True


def test_guardrail_refusal_is_a_422_naming_the_field(server, body):
    request = copy.deepcopy(body)
    request["policy"]["objective"] = "cost_per_qaly"
    with server.client() as client:
        response = client.post("/v1/bedside", json=request)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["problems"][0]["field"] == "policy.objective"
    assert "G3" in error["problems"][0]["message"]


def test_bad_patient_row_names_its_json_path(server, body):
    request = copy.deepcopy(body)
    request["patients"][4]["survival_without"] = 1.4
    request["patients"][9]["site"] = "H9"
    with server.client() as client:
        response = client.post("/v1/bedside", json=request)
    assert response.status_code == 422
    fields = {p["field"] for p in response.json()["error"]["problems"]}
    assert {"patients[4].survival_without", "patients[9].site"} <= fields


def test_bedside_and_compare_jobs(server, body):
    small = {**body, "patients": body["patients"][:60]}
    with server.client() as client:
        job = client.post("/v1/jobs", json={"kind": "bedside", "request": {
            **small, "options": {"price_of_fairness": True}}}).json()
        compare = client.post("/v1/jobs", json={"kind": "bedside_compare", "request": {
            **small, "options": {"replications": 2, "patients": 40, "seed": 1}}}).json()
        done = wait(client, job["id"])
        assert done["status"] == "done", done
        assert done["result"]["price_of_fairness"]
        finished = wait(client, compare["id"])
        assert finished["status"] == "done", finished
        protocols = {row["protocol"] for row in finished["result"]["summary"]}
        assert "offline_optimum" in protocols and "rapr" in protocols
        refused = client.post("/v1/jobs", json={"kind": "bedside_compare", "request": {
            **small, "options": {"replications": 10_000, "patients": 50_000}}})
        assert refused.status_code == 422
        assert refused.json()["error"]["problems"][0]["field"] == \
            "request.options.replications"
