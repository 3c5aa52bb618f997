"""--dask-scheduler: the same requests, solved on a Dask cluster (a LocalCluster here, its
worker a separate process, as on a real cluster)."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.slow  # a Dask cluster

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, protocol="tcp://",
        host="127.0.0.1", dashboard_address=None,
    ) as local:
        yield local


def test_solves_and_jobs_run_on_a_dask_cluster(start_server, cluster, pugh_request,
                                               states_request, solve_in_process):
    server = start_server("dask", "--dask-scheduler", cluster.scheduler_address,
                          "--workers", "2", TRIAGE_RESULT_CACHE="0")
    with server.client() as client:
        ready = client.get("/v1/ready").json()
        assert ready["checks"]["solvers"].startswith("ok (dask")
        request = {**pugh_request, "options": {"constraints": ["min_units:units=100"]}}
        response = client.post("/v1/solve", json=request)
        assert response.status_code == 200, response.text
        assert response.json()["allocation"] == solve_in_process(request)["allocation"]
        bad = client.post("/v1/solve", json={**pugh_request, "supply": -1})
        assert bad.status_code == 422
        assert bad.json()["error"]["problems"][0]["field"] == "supply"
        job = client.post("/v1/jobs", json={"kind": "solve", "request": states_request}).json()
        deadline = time.monotonic() + 60
        while (state := client.get(f"/v1/jobs/{job['id']}").json())["status"] != "done":
            assert state["status"] in ("queued", "running"), state
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert state["result"]["allocation"] == solve_in_process(states_request)["allocation"]
    with distributed.Client(cluster.scheduler_address) as dask_client:
        # the tasks ran on the cluster's worker, not in the server process
        assert any("run_task" in str(key) for key in dask_client.run_on_scheduler(
            lambda dask_scheduler: list(dask_scheduler.task_prefixes)))
    server.stop()
