"""Load test of the solver service: POST /v1/solve latency and throughput, against in-process.

Starts `python -m optimiser serve` (unless --url is given), then for each instance and each
concurrency level sends requests from a small asyncio + httpx client and records latency
percentiles, throughput, and the server's own solver time (Server-Timing header). The same
request is also solved in this process (optimiser.solve on instance_from_dict(body)) to show the
service's overhead. Two modes: the result cache off (every request is a real solve: the honest
overhead) and on (identical requests answered from memory, as deployed by default).

    .venv/bin/python benchmarks/service_load.py [--requests 120] [--cached-requests 400]
                                                [--paired-runs 60] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

import optimiser

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-0123456789abcdef"
INSTANCES = ("pugh2021", "us-states-2020")
CONCURRENCY = (1, 8, 32)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(cache: bool, workers: int, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update({
        "TRIAGE_TOKENS": f"bench:{TOKEN}", "TRIAGE_RATE_LIMIT": "100000",
        "TRIAGE_RATE_BURST": "100000", "TRIAGE_MAX_CONCURRENT": "1000",
        "TRIAGE_MAX_PENDING": "1000", "TRIAGE_RESULT_CACHE": "256" if cache else "0",
        "TRIAGE_LOG_LEVEL": "warning",
    })
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimiser", "serve", "--port", str(port), "--data-dir",
         str(data_dir), "--workers", str(workers)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/v1/ready", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server not ready in 120 s")


def solve_in_process(body: dict[str, Any]) -> float:
    """Seconds for optimiser.solve(instance_from_dict(body)) -> JSON, in this process."""
    t0 = time.perf_counter()
    result = optimiser.solve(optimiser.instance_from_dict(body))
    json.dumps(result.to_dict())
    return time.perf_counter() - t0


def paired(url: str, body: dict[str, Any], runs: int, server_pid: int) -> dict[str, Any]:
    """Concurrency 1, interleaved: one in-process solve, then the same request to the service,
    so that both see the same machine load (the machine is shared). Overhead = service latency
    minus the in-process time of the same request, and minus the solver process's own time
    (Server-Timing) of that very request."""
    payload = json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    local, remote, own = [], [], []
    with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
        for _ in range(3):
            solve_in_process(body)
            client.post("/v1/solve", content=payload)
        cpu_before = _cpu_seconds(server_pid)
        for _ in range(runs):
            local.append(solve_in_process(body))
            t0 = time.perf_counter()
            response = client.post("/v1/solve", content=payload)
            remote.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.text
            timing = server_timing(response.headers.get("server-timing", ""))
            own.append(remote[-1] - timing["solver"] / 1e3)
        cpu_after = _cpu_seconds(server_pid)
    ms = 1e3
    return {
        "runs": runs,
        "in_process_p50_ms": ms * statistics.median(local),
        "service_p50_ms": ms * statistics.median(remote),
        "service_p99_ms": ms * percentile(remote, 99),
        "overhead_vs_in_process_p50_ms": ms * statistics.median(
            [r - x for r, x in zip(remote, local, strict=True)]),
        "overhead_vs_solver_time_p50_ms": ms * statistics.median(own),
        "server_cpu_ms_per_request": ms * ((cpu_after or 0) - (cpu_before or 0)) / runs,
    }


async def load(url: str, body: dict[str, Any], concurrency: int, requests: int,
               server_pid: int | None = None) -> dict[str, Any]:
    latencies: list[float] = []
    overheads: list[float] = []
    statuses: dict[int, int] = {}
    payload = json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300, limits=limits) as c:
        await c.post("/v1/solve", content=payload)  # open a connection, warm the caches

        async def client() -> None:
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                response = await c.post("/v1/solve", content=payload)
                elapsed = time.perf_counter() - t0
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                latencies.append(elapsed)
                timing = server_timing(response.headers.get("server-timing", ""))
                if concurrency == 1 and "solver" in timing:
                    overheads.append(elapsed - timing["solver"] / 1e3)

        cpu_before = _cpu_seconds(server_pid)
        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        wall = time.perf_counter() - start
        cpu_after = _cpu_seconds(server_pid)
    out = {
        "concurrency": concurrency,
        "requests": requests,
        "statuses": statuses,
        "p50_ms": 1e3 * statistics.median(latencies),
        "p99_ms": 1e3 * percentile(latencies, 99),
        "throughput_rps": requests / wall,
    }
    if overheads:
        out["overhead_vs_server_timing_p50_ms"] = 1e3 * statistics.median(overheads)
    if cpu_before is not None and cpu_after is not None:
        out["server_cpu_ms_per_request"] = 1e3 * (cpu_after - cpu_before) / requests
    return out


def server_timing(header: str) -> dict[str, float]:
    """{"solver": ms, "app": ms} from a Server-Timing header."""
    out = {}
    for item in header.split(","):
        name, _, duration = item.strip().partition(";dur=")
        if duration:
            out[name] = float(duration)
    return out


def _cpu_seconds(pid: int | None) -> float | None:
    """CPU time of the server's own process (the event loop), not of its solver processes."""
    if pid is None:
        return None
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=120,
                        help="Requests per level, result cache off (x2 at concurrency 32).")
    parser.add_argument("--cached-requests", type=int, default=400,
                        help="Requests per level, result cache on (x2 at concurrency 32).")
    parser.add_argument("--paired-runs", type=int, default=60,
                        help="Interleaved in-process / service solves at concurrency 1.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="Also write the numbers as JSON.")
    args = parser.parse_args()

    bodies = {}
    for name in INSTANCES:
        path = REPO / "instances" / name
        if (path / "instance.toml").exists():
            bodies[name] = optimiser.instance_to_dict(optimiser.load_instance(path))
        else:
            print(f"note: instances/{name} is missing; skipped", file=sys.stderr)
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_avg_start": os.getloadavg()},
        "versions": {"optimiser": optimiser.__version__,
                     **{m: __import__(m).__version__ for m in ("fastapi", "uvicorn", "httpx")}},
        "workers": args.workers,
        "in_process": {},
        "service": {},
    }
    for cache in (False, True):
        mode = "cache_on" if cache else "cache_off"
        with tempfile.TemporaryDirectory() as tmp:
            proc, url = start_server(cache, args.workers, Path(tmp) / "data")
            try:
                for name, body in bodies.items():
                    if not cache:
                        row = paired(url, body, args.paired_runs, proc.pid)
                        report["in_process"][name] = row
                        print(f"paired {name}: {row}", flush=True)
                    for concurrency in CONCURRENCY:
                        base = args.cached_requests if cache else args.requests
                        n = base * (2 if concurrency == 32 else 1)
                        row = asyncio.run(load(url, body, concurrency, n, proc.pid))
                        report["service"].setdefault(mode, {}).setdefault(name, []).append(row)
                        print(f"{mode} {name} c={concurrency}: {row}", flush=True)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    report["machine"]["load_avg_end"] = os.getloadavg()
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2))
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| instance | in-process p50 ms | service p50 ms | service p99 ms | overhead vs "
        "in-process p50 ms | overhead vs solver time p50 ms | server CPU ms/req |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in report["in_process"].items():
        lines.append(
            f"| {name} | {row['in_process_p50_ms']:.1f} | {row['service_p50_ms']:.1f} | "
            f"{row['service_p99_ms']:.1f} | {row['overhead_vs_in_process_p50_ms']:+.1f} | "
            f"{row['overhead_vs_solver_time_p50_ms']:.1f} | "
            f"{row['server_cpu_ms_per_request']:.2f} |"
        )
    lines += ["", "| result cache | instance | concurrency | p50 ms | p99 ms | throughput req/s | "
              "server CPU ms/req |", "|---|---|---|---|---|---|---|"]
    for mode, by_instance in report["service"].items():
        for name, rows in by_instance.items():
            for row in rows:
                cpu = row.get("server_cpu_ms_per_request")
                lines.append(
                    f"| {mode.removeprefix('cache_')} | {name} | {row['concurrency']} | "
                    f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['throughput_rps']:.1f} | "
                    f"{'' if cpu is None else f'{cpu:.2f}'} |"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
