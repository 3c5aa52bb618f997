"""The service honours a request's time budget end to end (issue 9): a large generated instance
asked with `time_limit: 3` is answered 200 with status "time_limit" within max(1 s, 10%) of
the budget, and several such requests at once all get that answer (never a 504 from the
hard limit)."""

from __future__ import annotations

import concurrent.futures
import json
import time
from typing import Any

import pytest

import optimiser
from optimiser.generator import RegionalSpec, regional_frame

BUDGET = 3.0
SLACK = max(1.0, 0.1 * BUDGET)


def large_request(seed: int) -> bytes:
    """1,500 generated regions under threshold(tau=100): HiGHS finds allocations but proves
    nothing in 3 s. (Under tau=0.2, HiGHS's root node, after its first LP, can run on for
    seconds without looking at the clock when the cores are busy: BENCHMARKS.md, "Budgets at
    every entry point", not yet fixed.)"""
    frame, supply = regional_frame(RegionalSpec(regions=1500, seed=seed))
    instance = optimiser.instance_from_frames(frame, supply, horizon_days=30.0)
    request: dict[str, Any] = optimiser.instance_to_dict(instance)
    request["options"] = {
        "time_limit": BUDGET,
        "constraints": [{"kind": "threshold", "tau": 100}],
    }
    return json.dumps(request).encode()


@pytest.fixture(scope="module")
def budget_server(start_server):
    # the default hard limit (5 x limit + 10 s) is what a run past its budget used to hit
    return start_server("budgets", "--workers", "2", TRIAGE_MAX_CONCURRENT="64",
                        TRIAGE_RATE_LIMIT="1000", TRIAGE_RATE_BURST="1000")


def post(server, body: bytes) -> tuple[int, dict[str, Any], float]:
    with server.client() as client:
        started = time.perf_counter()
        response = client.post(
            "/v1/solve", content=body, headers={"Content-Type": "application/json"}
        )
        took = time.perf_counter() - started
    return response.status_code, response.json(), took


@pytest.mark.slow
def test_a_large_request_is_answered_within_its_time_limit(budget_server) -> None:
    code, body, took = post(budget_server, large_request(0))
    assert code == 200, body
    assert body["status"] == "time_limit"
    assert took < BUDGET + SLACK, took
    assert body["lives_saved"] is not None  # the best allocation found, within the supply
    assert sum(body["allocation"].values()) <= body["supply"]


@pytest.mark.slow
def test_concurrent_large_requests_all_answer_time_limit_never_504(budget_server) -> None:
    """Six different requests (no shared result) at once on two solver processes: each is
    answered 200 with status time_limit; the ones that waited for a solver wait their turn,
    each solve still ends within its budget (the worker's clock), none hits the hard limit."""
    bodies = [large_request(seed) for seed in range(1, 7)]
    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        answers = list(pool.map(lambda b: post(budget_server, b), bodies))
    for code, body, _took in answers:
        assert code == 200, body
        assert body["status"] == "time_limit"
        assert body["timings"]["total"] < BUDGET + SLACK, body["timings"]
