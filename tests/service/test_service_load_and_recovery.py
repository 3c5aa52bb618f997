"""Many clients at once, and kill -9 of the server while jobs run: nothing lost, all correct."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx
import psutil
import pytest

pytestmark = pytest.mark.slow  # soak and fault: load, kill -9, restart


def variants(pugh: dict[str, Any], states: dict[str, Any]) -> list[dict[str, Any]]:
    """25 different requests: supplies, constraints and policies on two instances."""
    out = []
    for i in range(13):
        constraints = ["per_capita_floor:share=0.3"] if i % 2 else []
        out.append({**pugh, "options": {"supply": 200 + 75 * i, "constraints": constraints}})
    for i in range(12):
        options: dict[str, Any] = {"supply": 600 + 150 * i, "price_of_fairness": i % 3 == 0}
        if i % 4 == 1:
            options["constraints"] = [{"kind": "min_units", "units": 10}]
        out.append({**states, "policy": "rai" if i == 5 else "optimal", "options": options})
    return out


async def _submit_and_collect(url: str, token: str, requests: list[dict[str, Any]]) -> list[dict]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120,
                                 limits=httpx.Limits(max_connections=64)) as client:
        submitted = await asyncio.gather(*(
            client.post("/v1/jobs", json={"kind": "solve", "request": r}) for r in requests
        ))
        assert all(s.status_code == 202 for s in submitted), [s.text for s in submitted][:3]
        ids = [s.json()["id"] for s in submitted]

        async def wait(job_id: str) -> dict[str, Any]:
            while True:
                job = (await client.get(f"/v1/jobs/{job_id}")).json()
                if job["status"] in ("done", "failed", "cancelled"):
                    return job
                await asyncio.sleep(0.1)

        return await asyncio.wait_for(asyncio.gather(*(wait(i) for i in ids)), 150)


def test_fifty_concurrent_submissions_all_complete_correctly(
        server, pugh_request, states_request, solve_in_process, tokens):
    distinct = variants(pugh_request, states_request)
    requests = distinct + distinct  # 50 submissions; each request twice
    jobs = asyncio.run(_submit_and_collect(server.url, tokens["bob"], requests))
    assert len(jobs) == 50 and len({j["id"] for j in jobs}) == 50
    assert all(j["status"] == "done" for j in jobs), [j["error"] for j in jobs if j["error"]][:3]
    expected = [solve_in_process(r) for r in distinct]
    for i, job in enumerate(jobs):
        reference = expected[i % len(distinct)]
        assert job["result"]["allocation"] == reference["allocation"], i
        assert job["result"]["lives_saved"] == reference["lives_saved"]
        assert job["result"]["status"] == reference["status"]


def test_sync_solves_from_many_clients_at_once(server, pugh_request, states_request,
                                               solve_in_process, tokens):
    distinct = variants(pugh_request, states_request)[::3]

    async def run() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {tokens['alice']}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=120) as c:
            return await asyncio.gather(*(c.post("/v1/solve", json=r) for r in distinct * 2))

    responses = asyncio.run(run())
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses][:2]
    for i, response in enumerate(responses):
        assert response.json()["allocation"] == solve_in_process(
            distinct[i % len(distinct)])["allocation"]


@pytest.mark.slow
def test_kill_9_while_jobs_run_then_restart_loses_nothing(
        start_server, slow_request, pugh_request, solve_in_process, tokens):
    server = start_server("crash", "--workers", "2")
    slow = [slow_request(20, seed=s) for s in (1, 2)]
    requests = [slow[0], slow[1], pugh_request, slow[0], slow[1], slow[0]]
    with server.client(tokens["alice"]) as client:
        ids = []
        for i, request in enumerate(requests):
            response = client.post("/v1/jobs", json={"kind": "solve", "request": request},
                                   headers={"Idempotency-Key": f"crash-{i}"})
            assert response.status_code == 202
            ids.append(response.json()["id"])
        deadline = time.monotonic() + 30
        while not any(client.get(f"/v1/jobs/{i}").json()["status"] == "running" for i in ids):
            assert time.monotonic() < deadline, "no job started"
            time.sleep(0.02)
        statuses = {i: client.get(f"/v1/jobs/{i}").json()["status"] for i in ids}
    assert "running" in statuses.values()
    wait_until_solving(server)
    # the fork server, the solvers (mid-solve) and the resource tracker die with the server
    assert_no_descendant_outlives(server, 2.0)

    server.start()  # same data dir: the store survived kill -9
    with server.client(tokens["alice"]) as client:
        listed = {j["id"] for j in client.get("/v1/jobs?limit=100").json()["jobs"]}
        assert set(ids) <= listed  # every accepted job is still there
        finished = {}
        deadline = time.monotonic() + 90
        while len(finished) < len(ids):
            assert time.monotonic() < deadline, finished
            for job_id in ids:
                job = client.get(f"/v1/jobs/{job_id}").json()
                assert job["status"] in ("queued", "running", "done"), job
                if job["status"] == "done":
                    finished[job_id] = job
            time.sleep(0.2)
        # a retry after the crash with the same Idempotency-Key finds the same job
        again = client.post("/v1/jobs", json={"kind": "solve", "request": requests[0]},
                            headers={"Idempotency-Key": "crash-0"})
        assert again.status_code == 200 and again.json()["id"] == ids[0]
    rerun = [finished[i] for i, r in zip(ids, requests, strict=True)
             if statuses[i] == "running" and r is not pugh_request]  # slow: still running
    assert rerun and all(j["attempts"] == 2 and "re-queued" in j["note"] for j in rerun)
    expected = {id(r): solve_in_process(r)["allocation"] for r in (slow[0], slow[1], pugh_request)}
    for job_id, request in zip(ids, requests, strict=True):
        assert finished[job_id]["result"]["allocation"] == expected[id(request)]
    server.stop()


def wait_until_solving(server, timeout: float = 30) -> None:
    """Until a solver process (a grandchild of the server) is using the CPU."""
    solvers = [p for p in psutil.Process(server.proc.pid).children(recursive=True)
               if p.parent() is not None and p.parent().pid != server.proc.pid]
    assert solvers, "no solver processes found"
    idle = {p.pid: sum(p.cpu_times()[:2]) for p in solvers}
    deadline = time.monotonic() + timeout
    while not any(sum(p.cpu_times()[:2]) - idle[p.pid] > 0.1 for p in solvers):
        assert time.monotonic() < deadline, "no solver picked the job up"
        time.sleep(0.02)


def assert_no_descendant_outlives(server, seconds: float) -> None:
    """kill -9 the server; every process under it (fork server, solvers, resource tracker)
    is gone within `seconds` (zombies waiting for init to reap them count as gone)."""
    descendants = [psutil.Process(pid) for pid in server.children()]
    assert len(descendants) >= 3, descendants  # at least the fork server and two solvers
    server.kill9()
    killed = time.monotonic()

    def alive(process: psutil.Process) -> bool:
        try:
            return process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    while left := [p.pid for p in descendants if alive(p)]:
        if time.monotonic() - killed > seconds:
            for process in descendants:  # leave nothing behind, then fail
                with contextlib.suppress(psutil.Error):
                    process.kill()
            raise AssertionError(f"processes {left} outlived the server by {seconds} s")
        time.sleep(0.01)


def test_a_solver_process_killed_under_a_job_is_replaced_and_the_job_rerun(
        server, slow_request, solve_in_process, tokens):
    request = slow_request(20, seed=3)
    with server.client(tokens["carol"]) as client:
        job = client.post("/v1/jobs", json={"kind": "solve", "request": request}).json()
        deadline = time.monotonic() + 30
        while client.get(f"/v1/jobs/{job['id']}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # "running" is recorded before the task reaches a solver: wait until one is solving
        wait_until_solving(server)
        solvers = [p for p in psutil.Process(server.proc.pid).children(recursive=True)
                   if p.parent() is not None and p.parent().pid != server.proc.pid]
        # stop them all first, so that the re-run cannot reach a solver about to be killed
        for process in solvers:
            process.suspend()
        for process in solvers:  # out-of-memory killer, segfault...: SIGKILL
            process.kill()
        deadline = time.monotonic() + 60
        while (state := client.get(f"/v1/jobs/{job['id']}").json())["status"] != "done":
            assert state["status"] in ("queued", "running"), state
            assert time.monotonic() < deadline
            time.sleep(0.1)
        metrics = client.get("/metrics").text
    assert state["attempts"] == 2 and "died" in state["note"]
    assert state["result"]["allocation"] == solve_in_process(request)["allocation"]
    assert 'triage_worker_restarts_total{reason="lost"}' in metrics
