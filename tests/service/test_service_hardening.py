"""Issue 10 against a real server: hostile input, a store lost, damaged or full, slow clients,
the OpenAPI document and the engine agreeing, bad start-up options. Each test fails on the
server as it was before (500s, silent store loss, connections held for ever, exit 3...)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from netfakes import banner_server

REPO = Path(__file__).resolve().parents[2]
ALICE = "alice-token-0123456789abcdef"  # the test servers' tokens (tests/service/conftest.py)
BOB = "bob-token-0123456789abcdef"
TINY = {"name": "tiny", "supply": 3, "regions": [
    {"region": "a", "population": 100, "capacity": 1, "peak_demand": 3},
    {"region": "b", "population": 200, "capacity": 0, "peak_demand": 2},
]}


def wait_for(predicate: Any, timeout: float = 30.0, what: str = "state") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# ---- hostile JSON


@pytest.mark.parametrize("path,body,field", [
    ("/v1/solve", {**TINY, "regions": [{**TINY["regions"][0], "region": "\ud800"},
                                      TINY["regions"][1]]}, "regions[0].region"),
    ("/v1/solve", {**TINY, "name": "\udfff"}, "name"),
    ("/v1/jobs", {"kind": "solve", "request": {**TINY, "description": "x\ud800y"}},
     "request.description"),
])
def test_a_lone_surrogate_is_a_422_naming_the_field(server, path, body, field):
    raw = json.dumps(body).encode()  # ASCII, the surrogate escaped as \ud800
    with server.client() as client:
        response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, response.text
        problems = response.json()["error"]["problems"]
        assert [p["field"] for p in problems] == [field]
        assert "surrogate" in problems[0]["message"]
        # the keep-alive connection survived: the next request on it is answered
        assert client.get("/v1/health").status_code == 200


def test_json_errors_speak_in_json_paths(server):
    body = {**TINY, "regions": [{**TINY["regions"][0], "regionz": 1},
                                {**TINY["regions"][1], "population": -5}],
            "options": {"constraints": ["coverage_floor:level=2", {"kind": "coverage_floor"}]}}
    with server.client() as client:
        problems = client.post("/v1/solve", json=body).json()["error"]["problems"]
        unknown_top = client.post("/v1/solve", json={**TINY, "regionz": 1}).json()
        plan = client.post("/v1/jobs", json={"kind": "plan", "request": {
            **TINY, "multiperiod": {"days": 3},
            "demand": [{"region": "zz", "day": 0, "new_patients": 1}],
            "deliveries": [{"day": 0, "quantity": -1}]}}).json()
    fields = [p["field"] for p in problems]
    assert "regions[0].regionz" in fields and "regions[1].population" in fields
    assert unknown_top["error"]["problems"][0]["field"] == "regionz"
    assert unknown_top["error"]["message"].startswith("regionz: unknown key")
    plan_fields = [p["field"] for p in plan["error"]["problems"]]
    assert "request.demand[0].region" in plan_fields
    assert "request.deliveries[0].quantity" in plan_fields
    for item in problems + plan["error"]["problems"]:
        message = item["message"]
        assert message.startswith(f"{item['field']}: ") or item["field"] is None, item
        for file_word in (".csv", "line ", "--constraint", "column '", "instance.toml"):
            assert file_word not in message, item
    constraint_fields = [f for f in fields if f and f.startswith("options.constraints")]
    assert constraint_fields == ["options.constraints[0].level", "options.constraints[1]"]


def test_tiers_empty_is_no_tiers_and_null_is_refused(server, solve_in_process):
    with server.client() as client:
        empty = client.post("/v1/solve", json={**TINY, "tiers": []})
        null = client.post("/v1/solve", json={**TINY, "tiers": None})
    assert empty.status_code == 200
    assert empty.json()["allocation"] == solve_in_process(TINY)["allocation"]
    assert null.status_code == 422 and null.json()["error"]["problems"][0]["field"] == "tiers"


def test_numbers_and_ids_follow_the_schema_types(server):
    row = TINY["regions"][0]
    with server.client() as client:
        as_text = client.post("/v1/solve", json={**TINY, "regions": [
            {**row, "population": "100"}, TINY["regions"][1]]})
        half_person = client.post("/v1/solve", json={**TINY, "regions": [
            {**row, "population": 0.5}, TINY["regions"][1]]})
    assert as_text.status_code == 422
    assert as_text.json()["error"]["problems"][0]["field"] == "regions[0].population"
    assert half_person.status_code == 422  # the schema says minimum 1, as the engine


def test_method_not_allowed_names_every_method_and_head_works(server):
    with server.client() as client:
        put = client.put("/v1/jobs/abc", json={})
        head = client.head("/v1/health")
        ready = client.head("/v1/ready")
    assert put.status_code == 405
    assert put.headers["allow"] == "DELETE, GET, HEAD"
    assert head.status_code == 200 and head.content == b""
    assert ready.status_code == 200


def test_a_cursor_is_refused_by_the_schema_rule(server):
    with server.client() as client:
        response = client.get("/v1/jobs", params={"cursor": "0" * 20})
        fine = client.get("/v1/jobs", params={"cursor": "0" * 18})
    assert response.status_code == 422 and response.json()["error"]["problems"][0]["field"] == \
        "cursor"
    assert fine.status_code == 200


def test_the_openapi_document_carries_the_engine_rules(server):
    with server.client() as client:
        spec = client.get("/openapi.json").json()
    row = spec["components"]["schemas"]["SolveRequest"]["properties"]["regions"]["items"]
    assert row["properties"]["population"]["minimum"] == 1  # population >= 1, as the engine
    assert row["properties"]["survival_with"]["type"] == ["number", "null"]
    cursor = next(p for p in spec["paths"]["/v1/jobs"]["get"]["parameters"]
                  if p["name"] == "cursor")
    assert cursor["schema"]["anyOf"][0]["pattern"] == "^[0-9]{1,18}$"
    kinds = spec["components"]["schemas"]["SolveRequest"]["properties"]["constraints"]["items"]
    floor = next(k for k in kinds["oneOf"] if k["properties"]["kind"]["const"] == "coverage_floor")
    assert floor["required"] == ["kind", "level"]
    assert floor["properties"]["level"]["maximum"] == 1
    # a plan's stays are bounded as the planner bounds them (the regional bound is wider)
    for kind in ("PlanRequest", "BacktestRequest"):
        rows = spec["components"]["schemas"][kind]["properties"]["regions"]["items"]
        assert rows["properties"]["los_days"]["maximum"] == 3660, kind


# ---- slow clients


@pytest.fixture(scope="module")
def impatient(start_server):
    """Short header and body timeouts, one request in flight per token."""
    return start_server("impatient", "--workers", "1", TRIAGE_HEADER_TIMEOUT="1",
                        TRIAGE_BODY_TIMEOUT="2", TRIAGE_MAX_CONCURRENT="1")


def _read_until_closed(sock: socket.socket, limit: float) -> bytes:
    sock.settimeout(limit)
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(4096):
            data += chunk
    return data


def test_partial_headers_are_cut_off(impatient):
    sockets = [socket.create_connection(("127.0.0.1", impatient.port)) for _ in range(20)]
    try:
        for sock in sockets[::2]:
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        started = time.monotonic()
        answers = [_read_until_closed(sock, 30) for sock in sockets]
        elapsed = time.monotonic() - started
    finally:
        for sock in sockets:
            sock.close()
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers[:2]
    assert all(b"header_timeout" in a for a in answers)
    assert elapsed < 20  # closed after about 1 s each, not held open


def test_a_trickled_body_times_out_and_holds_no_slot(impatient):
    body = b'{"kind": "solve", "request": {"supply": 1}}'
    sock = socket.create_connection(("127.0.0.1", impatient.port))
    try:
        sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                     ALICE.encode() + b"\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body[:3])
        # meanwhile the same token (one request in flight allowed) is served
        with impatient.client(ALICE) as client:
            assert client.get("/v1/jobs").status_code == 200
        answer = _read_until_closed(sock, 30)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"body_timeout" in answer


# ---- the job store


def _job(client: httpx.Client, key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/v1/jobs", json={"kind": "solve", "request": TINY}, headers=headers)


def _serve(tmp: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`triage serve` expected to stop at start-up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env["TRIAGE_TOKENS"] = f"alice:{ALICE}"
    return subprocess.run(
        [sys.executable, "-m", "optimiser", "serve", "--port", "0", "--data-dir", str(data),
         *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_a_store_deleted_under_the_server_is_noticed_and_not_recreated(start_server,
                                                                      tmp_path):
    server = start_server("deleted", "--workers", "1")
    store = server.data_dir / "jobs.sqlite3"
    with server.client(BOB) as client:
        job = _job(client).json()
        wait_for(lambda: client.get(f"/v1/jobs/{job['id']}").json()["status"] == "done")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)
        ready = client.get("/v1/ready")
        refused = _job(client)
    assert ready.status_code == 503 and "deleted" in ready.json()["checks"]["store"]
    assert refused.status_code == 503 and refused.headers["retry-after"]
    assert refused.json()["error"]["code"] == "store_unavailable"
    assert "not accepted" in refused.json()["error"]["message"]
    server.stop()
    again = _serve(tmp_path, server.data_dir)
    assert again.returncode == 2, again.stderr
    assert "is missing" in again.stderr and "jobs.sqlite3.marker" in again.stderr
    assert "Traceback" not in again.stderr and not store.exists()


def test_a_damaged_store_refuses_to_start_and_says_how_to_recover(start_server, tmp_path):
    server = start_server("damaged", "--workers", "1")
    with server.client(BOB) as client:
        for i in range(60):  # enough rows for several pages
            assert _job(client, f"k{i}").status_code == 202
    server.stop()
    store = server.data_dir / "jobs.sqlite3"
    with sqlite3.connect(store) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    assert pages >= 4
    with open(store, "r+b") as handle:  # a middle page overwritten
        handle.seek(page * (pages // 2))
        handle.write(os.urandom(page))
    again = _serve(tmp_path, server.data_dir)
    assert again.returncode == 2, again.stderr
    assert "is damaged" in again.stderr and ".recover" in again.stderr
    assert "Traceback" not in again.stderr


def _tmpfs(mount: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True)
    return done.returncode == 0


@pytest.mark.slow
def test_a_full_disk_refuses_jobs_with_503_then_recovers(start_server, tmp_path):
    """A real full file system: the data dir on a small tmpfs, then filled up."""
    mount = tmp_path / "small-disk"
    if not _tmpfs(mount, "8m"):
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    try:
        server = start_server("full", "--workers", "1", data_dir=mount / "data")
        with server.client(BOB) as client:
            assert _job(client).status_code == 202
            filler = mount / "filler"
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
            with contextlib.suppress(OSError):  # until the file system is full
                while True:
                    os.write(fd, b"\0" * 65536)
            os.close(fd)
            big = {**TINY, "description": "x" * 200_000}  # needs new pages
            refused = client.post("/v1/jobs", json={"kind": "solve", "request": big})
            ready = client.get("/v1/ready")
            filler.unlink()
            accepted = wait_for(lambda: (r := client.post(
                "/v1/jobs", json={"kind": "solve", "request": big})).status_code == 202 and r,
                what="a job accepted once there is room again")
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] and "full" in refused.json()["error"]["message"]
        assert ready.status_code == 503 and "full" in ready.json()["checks"]["store"]
        assert accepted.status_code == 202
        server.stop()
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


# ---- start-up options


def test_serve_with_an_impossible_host_exits_2_before_the_banner(tmp_path):
    run = _serve(tmp_path, tmp_path / "data", "--host", "256.1.1.1")
    assert run.returncode == 2, run.stderr
    assert "--host" in run.stderr and "not an IP address or host name" in run.stderr
    assert "triage service on" not in run.stderr and "Traceback" not in run.stderr


def test_serve_with_something_else_at_the_dask_address_exits_2(tmp_path):
    with banner_server() as address:
        started = time.monotonic()
        run = _serve(tmp_path, tmp_path / "data", "--dask-scheduler", address)
    assert run.returncode == 2, run.stderr
    assert "not a Dask scheduler" in run.stderr and "Traceback" not in run.stderr
    assert time.monotonic() - started < 60
