"""max_share_of_supply through the service: in the generated schema (from the fairness
registry), solved and planned like any kind, the same answers as the Python API."""

from __future__ import annotations

import copy

import httpx
from test_service_api import TINY_PLAN, wait_job


def test_the_new_kind_is_in_the_schema_and_solved(server, pugh_request, tokens,
                                                  solve_in_process):
    auth = {"Authorization": f"Bearer {tokens['alice']}"}
    spec = httpx.get(server.url + "/openapi.json", headers=auth).text
    assert "max_share_of_supply" in spec
    request = {**pugh_request,
               "options": {"constraints": [{"kind": "max_share_of_supply", "share": 0.3}]}}
    with server.client() as client:
        response = client.post("/v1/solve", json=request)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["constraints"] == ["max_share_of_supply(share=0.3)"]
        assert max(body["allocation"].values()) <= 300
        assert body["allocation"] == solve_in_process(request)["allocation"]
        bad = copy.deepcopy(request)
        bad["options"]["constraints"][0]["share"] = 2
        refused = client.post("/v1/solve", json=bad)
        assert refused.status_code == 422, refused.text
        assert "share" in refused.text


def test_a_plan_job_with_the_new_kind(server):
    """TINY_PLAN delivers 9 units over the horizon (5 at day 0 in the depot, 2 more on day 0,
    2 on day 2): a share of 0.3 caps each region at floor(2.7) = 2 units received net. Free,
    A receives 4 (4.6 lives); capped, 2 and 2 (3.6 lives), as the Python API plans it."""
    import pandas as pd

    import optimiser
    from optimiser.multiperiod import multiperiod_from_frames, plan

    request = copy.deepcopy(TINY_PLAN)
    request["options"] = {"constraints": ["max_share_of_supply:share=0.3"]}
    with server.client() as client:
        job = client.post("/v1/jobs", json={"kind": "plan", "request": request})
        assert job.status_code == 202, job.text
        done = wait_job(client, job.json()["id"])
    assert done["status"] == "done", done["error"]
    assert done["result"]["constraints"] == ["max_share_of_supply(share=0.3)"]
    received = [r["net_received"] for r in done["result"]["regions"]]
    assert received == [2.0, 2.0]
    assert abs(done["result"]["lives_saved"] - 3.6) < 1e-9
    base = optimiser.instance_from_dict({k: v for k, v in TINY_PLAN.items()
                                         if k not in ("demand", "deliveries")})
    instance = multiperiod_from_frames(base, pd.DataFrame(TINY_PLAN["demand"]),
                                       pd.DataFrame(TINY_PLAN["deliveries"]))
    assert abs(plan(instance).lives_saved - 4.6) < 1e-9  # the cap binds
    reference = plan(instance, ["max_share_of_supply:share=0.3"]).to_dict()
    assert done["result"]["shipments"] == reference["shipments"]
