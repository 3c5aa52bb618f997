"""Probe 7: `POST /v1/solve` holds a 1 s budget against a real server.

On main 5a0a2c9, 1,500 generated regions under threshold(tau=100) with `time_limit: 1` took
1.21-1.25 s in the solver process (Server-Timing `solver`) at load 4, 1.21-1.38 s of app time
at load 5 and 1.04-1.29 s at load 3.5: a guarded HiGHS run waited its limit plus 0.2 s, and
nothing of the budget was kept for the answer. tests/test_probe7_budgets.py checks both causes
without a clock (and fails on main); this test is the end-to-end guard: after the fix 0.69-0.93 s
at load 3.5 and 0.94-1.08 s at load 7-7.7 (one request in ten at 1.49 s there), so the median of
three (after one that warms the solver process) is held to the budget + 0.08 s. Main fails it
at load 4-5 (medians 1.18-1.22 s) but not always below (1.04-1.08 s at load 3.5). The price:
HiGHS gets less of the second; under load the first request of a fresh server may find no
allocation at all in it."""

from __future__ import annotations

import json
import re
import statistics
import time

import pytest

import optimiser
from optimiser.generator import RegionalSpec, regional_frame

BUDGET = 1.0
MARGIN = 0.08  # the way out of the server; main's medians were 1.09 s and more at any load


def request_body(regions: int = 1500, seed: int = 0) -> bytes:
    frame, supply = regional_frame(RegionalSpec(regions=regions, seed=seed))
    instance = optimiser.instance_from_frames(frame, supply, horizon_days=30.0)
    request = optimiser.instance_to_dict(instance)
    request["options"] = {"time_limit": BUDGET,
                          "constraints": [{"kind": "threshold", "tau": 100}]}
    return json.dumps(request).encode()


def app_seconds(response) -> float:
    timing = response.headers["server-timing"]
    found = re.search(r"app;dur=([0-9.]+)", timing)
    assert found, timing
    return float(found.group(1)) / 1000


@pytest.fixture(scope="module")
def uncached_server(start_server):
    return start_server("probe7", "--workers", "1", TRIAGE_RESULT_CACHE="0",
                        TRIAGE_MAX_CONCURRENT="64", TRIAGE_RATE_LIMIT="1000",
                        TRIAGE_RATE_BURST="1000")


@pytest.mark.slow
def test_a_one_second_solve_answers_within_its_budget(uncached_server) -> None:
    body = request_body()
    took: list[float] = []
    with uncached_server.client() as client:
        for _ in range(4):  # the first warms the solver process (its instance cache)
            started = time.perf_counter()
            response = client.post("/v1/solve", content=body,
                                   headers={"Content-Type": "application/json"})
            wall = time.perf_counter() - started
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["status"] == "time_limit"  # nothing is proved in 1 s: never optimal
            lives, bound = answer["lives_saved"], answer["lives_saved_bound"]
            # under load the first may find nothing at all in its second: no figure then
            assert bound is None or (lives is not None and bound >= lives - 1e-6)
            assert app_seconds(response) <= wall
            took.append(app_seconds(response))
    assert statistics.median(took[1:]) <= BUDGET + MARGIN, took
