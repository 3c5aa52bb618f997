"""Fault injection against a real `triage serve` on loopback; prints what it found.

Scenarios (each on its own server and data dir, all stopped at the end):

  kill9        kill -9 of the server while two solver processes are mid-solve: how long any
               process under it (fork server, solvers, resource tracker) outlives it; then a
               restart on the same data dir: every accepted job finishes.
  deleted      the store (jobs.sqlite3, -wal, -shm) deleted under a running server:
               readiness, a new job, then a restart (refused: the marker says a store existed).
  damaged      a middle page of the store overwritten while the server is stopped: the
               restart is refused with what is damaged and how to recover.
  full-disk    the data dir on a small tmpfs (`mount -t tmpfs`, needs root), filled up: a new
               job is refused with 503 + Retry-After; once space is freed it is accepted.
               Without mount rights it reports "skipped".
  slow-client  200 connections holding a partial header, and one body trickled at 1 byte/s
               with the token's one concurrency slot: what is cut off, when, and whether
               another request of that token is served meanwhile.

    .venv/bin/python benchmarks/fault_injection.py [--only kill9,deleted,...]

Traffic goes only to 127.0.0.1. The last run is recorded in docs/service.md (Reliability).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from synthetic import threshold_instance  # noqa: E402

TOKEN = "fault-injection-token-0123456789"
TINY = {"name": "tiny", "supply": 3, "regions": [
    {"region": "a", "population": 100, "capacity": 1, "peak_demand": 3},
    {"region": "b", "population": 200, "capacity": 0, "peak_demand": 2},
]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, data: Path, **env: str) -> None:
        self.data = data
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
        self.env.update({"TRIAGE_TOKENS": f"fault:{TOKEN}", "TRIAGE_LOG_LEVEL": "warning",
                         **env})
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data.parent / f"{data.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> Server:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "optimiser", "serve", "--port", str(self.port),
                 "--data-dir", str(self.data), "--workers", "2"],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        if wait:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited {self.proc.returncode}: "
                                       f"{self.log.read_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(self.url + "/v1/ready", timeout=2).status_code == 200:
                        return self
                time.sleep(0.1)
            raise RuntimeError("server not ready after 120 s")
        return self

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=60)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def wait_for(predicate: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("state not reached")


def serve_once(data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env["TRIAGE_TOKENS"] = f"fault:{TOKEN}"
    return subprocess.run([sys.executable, "-m", "optimiser", "serve", "--port", "0",
                           "--data-dir", str(data)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


# ---- scenarios


def kill9(root: Path) -> dict[str, Any]:
    server = Server(root / "kill9").start()
    try:
        with server.client() as client:
            ids = []
            for seed in (1, 2, 3, 4):
                body = threshold_instance(24, seed=seed)
                body["options"]["time_limit"] = 60
                ids.append(client.post("/v1/jobs", json={"kind": "solve", "request": body},
                                       headers={"Idempotency-Key": f"k{seed}"}).json()["id"])
            assert server.proc is not None
            parent = psutil.Process(server.proc.pid)
            solvers = wait_for(lambda: [p for p in parent.children(recursive=True)
                                        if p.parent() and p.parent().pid != parent.pid])
            busy = {p.pid: sum(p.cpu_times()[:2]) for p in solvers}
            wait_for(lambda: any(sum(p.cpu_times()[:2]) - busy[p.pid] > 0.2 for p in solvers))
            descendants = parent.children(recursive=True)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        killed = time.monotonic()

        def alive() -> list[int]:
            out = []
            for process in descendants:
                with contextlib.suppress(psutil.Error):
                    if process.status() != psutil.STATUS_ZOMBIE:
                        out.append(process.pid)
            return out

        while alive() and time.monotonic() - killed < 30:
            time.sleep(0.005)
        outlived = time.monotonic() - killed
        left = alive()
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        server.start()
        with server.client() as client:
            def finished() -> list[dict[str, Any]] | None:
                jobs = [client.get(f"/v1/jobs/{i}").json() for i in ids]
                return jobs if all(j["status"] == "done" for j in jobs) else None
            jobs = wait_for(finished, 300)
        return {
            "processes under the server": len(descendants),
            "all gone after (s)": round(outlived, 3),
            "left after 30 s": left,
            "jobs accepted / done after restart": f"{len(ids)} / {len(jobs)}",
            "re-run after the crash": sum(1 for j in jobs if j["attempts"] > 1),
            "ok": not left and outlived < 2.0,
        }
    finally:
        server.stop()


def deleted(root: Path) -> dict[str, Any]:
    server = Server(root / "deleted").start()
    store = server.data / "jobs.sqlite3"
    try:
        with server.client() as client:
            job = client.post("/v1/jobs", json={"kind": "solve", "request": TINY}).json()
            wait_for(lambda: client.get(f"/v1/jobs/{job['id']}").json()["status"] == "done")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{store}{suffix}").unlink(missing_ok=True)
            ready = client.get("/v1/ready")
            refused = client.post("/v1/jobs", json={"kind": "solve", "request": TINY})
    finally:
        server.stop()
    again = serve_once(server.data)
    return {
        "/v1/ready": f"{ready.status_code} {ready.json()['checks']['store'][:90]}",
        "new job": f"{refused.status_code} Retry-After={refused.headers.get('retry-after')}",
        "restart": f"exit {again.returncode}: {again.stderr.strip()[:160]}",
        "store recreated": store.exists(),
        "ok": ready.status_code == 503 and refused.status_code == 503
        and again.returncode == 2 and not store.exists(),
    }


def damaged(root: Path) -> dict[str, Any]:
    server = Server(root / "damaged").start()
    try:
        with server.client() as client:
            for i in range(60):
                client.post("/v1/jobs", json={"kind": "solve", "request": TINY},
                            headers={"Idempotency-Key": f"d{i}"})
    finally:
        server.stop()
    store = server.data / "jobs.sqlite3"
    with contextlib.closing(sqlite3.connect(store)) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    with open(store, "r+b") as handle:
        handle.seek(page * (pages // 2))
        handle.write(os.urandom(page))
    again = serve_once(server.data)
    return {
        "pages / overwritten": f"{pages} / page {pages // 2 + 1}",
        "restart": f"exit {again.returncode}: {again.stderr.strip()[:220]}",
        "ok": again.returncode == 2 and "damaged" in again.stderr,
    }


def full_disk(root: Path) -> dict[str, Any]:
    mount = root / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
            capture_output=True).returncode != 0:
        return {"skipped": "cannot mount a tmpfs (needs root and mount rights)", "ok": True}
    server = Server(mount / "data")
    try:
        server.start()
        with server.client() as client:
            first = client.post("/v1/jobs", json={"kind": "solve", "request": TINY})
            fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * 65536)
            os.close(fd)
            big = {**TINY, "description": "x" * 200_000}
            refused = client.post("/v1/jobs", json={"kind": "solve", "request": big})
            ready = client.get("/v1/ready")
            (mount / "filler").unlink()
            accepted = wait_for(lambda: (r := client.post(
                "/v1/jobs", json={"kind": "solve", "request": big})).status_code == 202 and r)
        return {
            "method": "data dir on an 8 MiB tmpfs, filled with a file until ENOSPC",
            "before": first.status_code,
            "disk full: new job": f"{refused.status_code} Retry-After="
            f"{refused.headers.get('retry-after')}: {refused.json()['error']['message'][:90]}",
            "disk full: /v1/ready": f"{ready.status_code} {ready.json()['checks']['store'][:60]}",
            "space freed: new job": accepted.status_code,
            "ok": refused.status_code == 503 and accepted.status_code == 202,
        }
    finally:
        server.stop()
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def slow_client(root: Path) -> dict[str, Any]:
    server = Server(root / "slow", TRIAGE_HEADER_TIMEOUT="2", TRIAGE_BODY_TIMEOUT="5",
                    TRIAGE_MAX_CONCURRENT="1").start()
    try:
        sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(200)]
        for sock in sockets:
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Partial: ")
        started = time.monotonic()
        cut = 0
        for sock in sockets:
            sock.settimeout(30)
            with contextlib.suppress(OSError):
                if sock.recv(64).startswith(b"HTTP/1.1 408"):
                    cut += 1
            sock.close()
        headers_closed = time.monotonic() - started
        body = json.dumps({"kind": "solve", "request": TINY}).encode()
        trickle = socket.create_connection(("127.0.0.1", server.port))
        trickle.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                        + TOKEN.encode() + b"\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(body))
        started = time.monotonic()
        trickle.settimeout(1.0)
        answer = b""
        served_meanwhile = None
        for byte in body:
            with contextlib.suppress(OSError):
                trickle.sendall(bytes([byte]))
            if served_meanwhile is None:
                with server.client() as client:
                    served_meanwhile = client.get("/v1/jobs").status_code
            with contextlib.suppress(TimeoutError):
                answer = trickle.recv(4096)
            if answer or time.monotonic() - started > 30:
                break
        trickle.close()
        status = answer.split(b"\r\n")[0].decode() or "no answer"
        return {
            "partial headers cut off (408)": f"{cut} / {len(sockets)} within "
            f"{headers_closed:.1f} s (TRIAGE_HEADER_TIMEOUT=2)",
            "body at 1 byte/s": f"{status} after "
            f"{time.monotonic() - started:.1f} s (TRIAGE_BODY_TIMEOUT=5)",
            "same token served meanwhile (1 slot)": served_meanwhile,
            "ok": cut == len(sockets) and answer.startswith(b"HTTP/1.1 408")
            and served_meanwhile == 200,
        }
    finally:
        server.stop()


SCENARIOS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "kill9": kill9, "deleted": deleted, "damaged": damaged, "full-disk": full_disk,
    "slow-client": slow_client,
}


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="triage-faults-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(SCENARIOS)
    failed = 0
    with workspace() as root:
        for name in names:
            started = time.monotonic()
            try:
                found = SCENARIOS[name](root)
            except Exception as exc:  # a scenario that breaks is a finding too
                found = {"error": f"{type(exc).__name__}: {exc}", "ok": False}
            ok = found.pop("ok")
            failed += not ok
            print(f"## {name}: {'ok' if ok else 'FAILED'} ({time.monotonic() - started:.0f} s)")
            for key, value in found.items():
                print(f"- {key}: {value}")
            print()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
