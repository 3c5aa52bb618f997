"""Replicas of the service sharing one PostgreSQL job store (`--database postgresql://...`):
replica A accepts jobs and is killed with SIGKILL while running one; replica B, started on the
same store, sees every job, answers A's Idempotency-Keys with A's jobs, takes over the job A
was running once its lease expires, and finishes them all with the right allocations."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.slow  # a throwaway PostgreSQL cluster and a replica takeover


@pytest.mark.slow
def test_a_replica_takes_over_the_jobs_of_a_killed_one(
    start_server, postgres_url, slow_request, pugh_request, solve_in_process, tokens
) -> None:
    env = {"TRIAGE_DATABASE": postgres_url, "TRIAGE_LEASE_SECONDS": "2"}
    first = start_server("replica-a", "--workers", "1", **env)
    requests = [slow_request(40, seed=s) for s in (11, 12)] + [pugh_request]
    with first.client(tokens["alice"]) as a:
        ids = []
        for i, request in enumerate(requests):
            response = a.post("/v1/jobs", json={"kind": "solve", "request": request},
                              headers={"Idempotency-Key": f"replicas-{i}"})
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        deadline = time.monotonic() + 60
        while (status := a.get(f"/v1/jobs/{ids[0]}").json()["status"]) != "running":
            assert status == "queued" and time.monotonic() < deadline, status
            time.sleep(0.02)
    first.kill9()
    second = start_server("replica-b", "--workers", "1", **env)
    with second.client(tokens["alice"]) as b:
        assert {j["id"] for j in b.get("/v1/jobs?limit=100").json()["jobs"]} >= set(ids)
        again = b.post("/v1/jobs", json={"kind": "solve", "request": requests[0]},
                       headers={"Idempotency-Key": "replicas-0"})
        assert again.status_code == 200 and again.json()["id"] == ids[0]
        finished = {}
        deadline = time.monotonic() + 120
        while len(finished) < len(ids):
            assert time.monotonic() < deadline, {i: b.get(f"/v1/jobs/{i}").json() for i in ids}
            for job_id in ids:
                job = b.get(f"/v1/jobs/{job_id}").json()
                assert job["status"] in ("queued", "running", "done"), job
                if job["status"] == "done":
                    finished[job_id] = job
            time.sleep(0.2)
    taken_over = finished[ids[0]]
    assert taken_over["attempts"] == 2 and "re-queued" in taken_over["note"], taken_over
    for job_id, request in zip(ids, requests, strict=True):
        assert finished[job_id]["result"]["allocation"] == solve_in_process(request)["allocation"]
    second.stop()
