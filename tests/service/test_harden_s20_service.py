"""Against a real server: a timed-out saa job's payload reads back through SaaResult.from_dict;
an SAA commit window ending on the horizon's last day is a 422 naming options.commit_days;
and with a HiGHS that proves no bound (harden_nobound, installed in the server's processes by
a sitecustomize.py on their PYTHONPATH) a solve, a stochastic plan and an SAA job answer valid
JSON (no NaN or Infinity) whose unproven bounds are null, read back by from_dict."""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harden_nobound import SITECUSTOMIZE
from test_harden_s20_nonfinite import strict
from test_service_api import assert_json_error, wait_job
from test_service_saa import REQUEST as SAA_REQUEST
from test_service_stochastic import REQUEST as STOCHASTIC_REQUEST

from optimiser.results import AllocationResult
from optimiser.stochastic import SaaResult, StochasticResult

TESTS = Path(__file__).resolve().parents[1]


def job_result(server: Any, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    """The job's result as the server sent it, read as any JSON reader reads it."""
    with server.client() as client:
        job = client.post("/v1/jobs", json={"kind": kind, "request": request})
        assert job.status_code == 202, job.text
        done = wait_job(client, job.json()["id"], timeout=300)
        assert done["status"] == "done", done["error"]
        text = client.get(f"/v1/jobs/{job.json()['id']}").text
    result: dict[str, Any] = strict(text)["result"]
    return result


def test_a_timed_out_saa_job_reads_back(server: Any) -> None:
    slow = copy.deepcopy(SAA_REQUEST)
    slow["options"].update(time_limit=0.001, evaluate_on=2000)
    result = job_result(server, "saa", slow)
    assert result["status"] == "time_limit" and result["bounds"] is None
    assert result["replications"] == 2 and result["sample_size"] == 2
    assert result["commit_days"] == 1 and result["today"] == 1  # from the executed rows
    assert result["risk"] == "cvar:alpha=0.3,lambda=0.5" and "time limit" in result["message"]
    back = SaaResult.from_dict(result)  # a KeyError before
    assert back.status == "time_limit" and not back.has_bounds and math.isnan(back.gap_high)
    assert back.to_dict() == result


def test_an_saa_commit_window_ending_on_the_last_day_is_a_422(server: Any) -> None:
    bad = copy.deepcopy(SAA_REQUEST)  # 4 days (0..3), today 1 from the executed rows
    bad["options"]["commit_days"] = 3
    with server.client() as client:
        response = client.post("/v1/jobs", json={"kind": "saa", "request": bad})
    error = assert_json_error(response, 422, "invalid_input")
    (problem,) = error["problems"]
    assert problem["field"] == "request.options.commit_days", problem
    assert "commit window days 1..3" in problem["message"] and "days 0..3" in problem["message"]


@pytest.fixture(scope="module")
def nobound_server(
    start_server: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> Any:
    hooks = tmp_path_factory.mktemp("nobound-hooks")
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(hooks), str(TESTS), os.environ.get("PYTHONPATH"))
                           if p)  # fmt: skip
    return start_server("nobound", "--workers", "1", PYTHONPATH=path)


def test_no_proven_bound_is_null_in_every_answer(
    nobound_server: Any, pugh_request: dict[str, Any]
) -> None:
    request = {**pugh_request, "options": {"constraints": ["threshold:tau=0.2"]}}
    with nobound_server.client() as client:
        response = client.post("/v1/solve", json=request)
    assert response.status_code == 200, response.text
    solved = strict(response.text)
    assert solved["status"] == "time_limit" and solved["lives_saved_bound"] is None
    assert AllocationResult.from_dict(solved).to_dict() == solved

    stochastic = job_result(nobound_server, "stochastic_plan", STOCHASTIC_REQUEST)
    assert stochastic["status"] == "time_limit" and stochastic["solver"]["bound"] is None
    assert stochastic["expected_lives"] is not None  # the plan HiGHS found is reported
    assert StochasticResult.from_dict(stochastic).to_dict() == stochastic

    saa = job_result(nobound_server, "saa", SAA_REQUEST)
    assert saa["status"] == "done" and saa["upper_bound"] is None
    assert saa["gap_high_from_bounds"] is None  # not proven: never 0
    assert SaaResult.from_dict(saa).to_dict() == saa
