"""Against a real server whose solver processes have tiny work limits (tests/status_limits.py,
installed by a sitecustomize.py on their PYTHONPATH): a stochastic plan stopped at its own
column-generation round limit, inside a job time limit far from reached, is done with status
`iteration_limit` and the limit named in `explanation`, read back by from_dict; a spent time
limit still says `time_limit`."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from status_limits import SITECUSTOMIZE
from test_service_api import wait_job
from test_service_stochastic import REQUEST

from optimiser.solver import SolveStatus
from optimiser.stochastic import StochasticResult

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def limited_server(
    start_server: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> Any:
    hooks = tmp_path_factory.mktemp("status-hooks")
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(hooks), str(TESTS), os.environ.get("PYTHONPATH"))
                           if p)  # fmt: skip
    return start_server("status", "--workers", "1", PYTHONPATH=path)


def job_result(server: Any, request: dict[str, Any]) -> dict[str, Any]:
    with server.client() as client:
        job = client.post("/v1/jobs", json={"kind": "stochastic_plan", "request": request})
        assert job.status_code == 202, job.text
        done = wait_job(client, job.json()["id"], timeout=300)
    assert done["status"] == "done", done["error"]
    result: dict[str, Any] = done["result"]
    return result


def test_a_job_stopped_at_its_round_limit_says_iteration_limit(limited_server: Any) -> None:
    request: dict[str, Any] = copy.deepcopy(REQUEST)
    request["options"].update(method="rounding", time_limit=120)
    result = job_result(limited_server, request)
    assert result["status"] == "iteration_limit"
    explanation = result["explanation"]
    assert explanation.startswith("iteration limit: no time limit stopped this plan")
    assert "column generation's round limit (1 round)" in explanation
    assert result["expected_lives"] is not None and result["committed"] is not None
    back = StochasticResult.from_dict(result)
    assert back.status is SolveStatus.ITERATION_LIMIT and back.explanation == explanation


def test_a_spent_time_limit_still_says_time_limit(limited_server: Any) -> None:
    request: dict[str, Any] = copy.deepcopy(REQUEST)
    request["options"].update(method="rounding", time_limit=0.001)
    result = job_result(limited_server, request)
    assert result["status"] == "time_limit" and result["explanation"] is None
