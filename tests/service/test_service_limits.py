"""Limits on a server configured tight: rate, concurrency, active jobs, hard time limit."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

pytestmark = pytest.mark.slow  # fault tests: hard time limits kill solvers; rate limits wait

TOKENS = {name: f"{name}-token-0123456789abcdef" for name in ("rita", "carl", "hank", "jobe")}


@pytest.fixture(scope="module")
def tight(start_server):
    return start_server(
        "tight", "--workers", "1",
        TRIAGE_TOKENS=",".join(f"{n}:{t}" for n, t in TOKENS.items()),
        TRIAGE_RATE_LIMIT="1", TRIAGE_RATE_BURST="3", TRIAGE_MAX_CONCURRENT="1",
        TRIAGE_MAX_ACTIVE_JOBS="2", TRIAGE_HARD_LIMIT_FACTOR="1", TRIAGE_HARD_LIMIT_GRACE="0",
        TRIAGE_RESULT_CACHE="0",
    )


def test_rate_limit_is_a_429_with_retry_after(tight):
    with tight.client(TOKENS["rita"]) as client:
        codes = [client.get("/v1/jobs").status_code for _ in range(3)]
        assert codes == [200, 200, 200]  # the burst
        refused = client.get("/v1/jobs")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 2
        time.sleep(wait)
        assert client.get("/v1/jobs").status_code == 200
    with tight.client(TOKENS["carl"]) as other:  # limits are per token
        assert other.get("/v1/jobs").status_code == 200


def test_concurrency_limit_is_a_429_with_retry_after(tight, slow_request):
    request = slow_request(20)
    request["options"]["time_limit"] = 0.8  # hard limit = 0.8 s here: a 504 or a 200
    outcome: dict[str, int] = {}

    def long_solve() -> None:
        with tight.client(TOKENS["carl"]) as client:
            outcome["status"] = client.post("/v1/solve", json=request).status_code

    thread = threading.Thread(target=long_solve)
    thread.start()
    time.sleep(0.3)
    with tight.client(TOKENS["carl"]) as client:
        refused = client.get("/v1/jobs")
    thread.join()
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "too_many_concurrent"
    assert refused.headers["retry-after"] == "1"
    assert outcome["status"] in (200, 504)


def test_hard_time_limit_kills_the_solve_and_the_pool_recovers(tight, slow_request,
                                                               pugh_request):
    # hard limit 1 x 0.05 s + 0 s grace. A guarded solve now answers within its own limit
    # (HiGHS told to stop early: session 28), so the request is one whose reading and build
    # alone outlast 0.05 s (2,000 regions), not one whose solve would (40 regions answered
    # with time_limit in 0.04 s)
    request = slow_request(2000)
    request["options"]["time_limit"] = 0.05
    with tight.client(TOKENS["hank"]) as client:
        response = client.post("/v1/solve", json=request)
        assert response.status_code == 504, response.text
        assert response.json()["error"]["code"] == "solve_timeout"
        time.sleep(1.1)  # rate limit of this server: 1 request/s
        after = client.post("/v1/solve", json=pugh_request)  # waits for the replacement worker
        assert after.status_code == 200, after.text
        time.sleep(1.1)
        metrics = client.get("/metrics").text
    assert 'triage_worker_restarts_total{reason="timeout"} ' in metrics


def polite(client: httpx.Client, method: str, url: str, **kwargs) -> httpx.Response:
    """One request, repeated while this tight server answers rate_limited (it says when to
    come back: Retry-After), so the test waits for the server's state, not for a fixed time."""
    while True:
        response = client.request(method, url, **kwargs)
        if response.status_code != 429 or response.json()["error"]["code"] != "rate_limited":
            return response
        time.sleep(float(response.headers["retry-after"]))


def finished(client: httpx.Client, job_id: str, within: float = 120) -> dict:
    """The job once it has left queued/running (polled as fast as the rate limit allows)."""
    deadline = time.monotonic() + within
    while True:
        job = polite(client, "GET", f"/v1/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, job


def test_active_jobs_limit(tight, slow_request):
    # Two jobs that stay active (a 30 s time limit on a MIP of 200 regions, one solver) until
    # this test cancels them: the third is refused whatever the machine's load, since the
    # first two are still queued or running when it arrives.
    slow = slow_request(200)
    slow["options"]["time_limit"] = 30
    with tight.client(TOKENS["jobe"]) as client:
        first = polite(client, "POST", "/v1/jobs", json={"kind": "solve", "request": slow})
        second = polite(client, "POST", "/v1/jobs", json={"kind": "solve", "request": slow})
        assert first.status_code == second.status_code == 202
        third = polite(client, "POST", "/v1/jobs", json={"kind": "solve", "request": slow})
        assert third.status_code == 429, third.text
        assert third.json()["error"]["code"] == "too_many_jobs"
        assert int(third.headers["retry-after"]) >= 1
        for job in (first.json(), second.json()):
            assert job["status"] in ("queued", "running")
            cancelled = polite(client, "DELETE", f"/v1/jobs/{job['id']}")
            assert cancelled.status_code == 200, cancelled.text
            assert finished(client, job["id"])["status"] == "cancelled"


def test_a_job_over_its_hard_limit_fails(tight, slow_request):
    slow = slow_request(40)
    slow["options"]["time_limit"] = 0.05  # hard limit 1 x 0.05 s + 0 s grace
    with tight.client(TOKENS["jobe"]) as client:
        submitted = polite(client, "POST", "/v1/jobs", json={"kind": "solve", "request": slow})
        assert submitted.status_code == 202, submitted.text
        job = finished(client, submitted.json()["id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "solve_timeout"
    assert "hard time limit" in job["error"]["message"]


def test_health_is_never_rate_limited(tight):
    codes = {httpx.get(tight.url + "/v1/health").status_code for _ in range(10)}
    assert codes == {200}
