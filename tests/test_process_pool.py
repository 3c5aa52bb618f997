"""The one process pool (optimiser.process_pool) through its Executor face (optimiser.executor),
and the one way to reach a Dask scheduler (a wrong address: exit 2 within ~10 s, no traceback).
The service's side of the pool is tested against a real server in tests/service/."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netfakes import banner_server, http_server

from optimiser.errors import InputError
from optimiser.executor import LocalExecutor, WorkerLost, connect_dask

REPO = Path(__file__).resolve().parents[1]


def square(x: int) -> int:
    return x * x


def die(_: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return 0


def fail(_: int) -> int:
    raise ValueError("bad value 7")


def test_a_dead_worker_fails_only_its_task_and_is_replaced():
    executor = LocalExecutor(2)
    try:
        before = set(executor.pids)
        assert executor.submit(square, 3).result(60) == 9
        lost = executor.submit(die, 0)
        with pytest.raises(WorkerLost) as info:
            lost.result(60)
        assert info.value.started  # it had taken the task
        with pytest.raises(ValueError, match="bad value 7"):  # an exception is the task's
            executor.submit(fail, 0).result(60)
        assert [f.result(60) for f in [executor.submit(square, i) for i in range(6)]] == [
            0, 1, 4, 9, 16, 25]
        deadline = time.monotonic() + 60
        while len(executor.pids) < 2:  # the replacement is spawned in the background
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert len(set(executor.pids) - before) == 1
    finally:
        executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit(square, 1)


OWNER = """
import sys, time
sys.path.insert(0, {tests!r})
from optimiser.executor import LocalExecutor
import test_process_pool as helpers
if __name__ == "__main__":
    executor = LocalExecutor(2)
    futures = [executor.submit(helpers.spin, 60) for _ in range(2)]
    print(*executor.pids, flush=True)
    time.sleep(120)
"""


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and PDEATHSIG")
def test_busy_workers_die_within_two_seconds_of_a_kill_9_of_their_owner():
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER.format(tests=str(Path(__file__).parent))],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert owner.stdout is not None
        pids = [int(p) for p in owner.stdout.readline().split()]
        assert len(pids) == 2
        owner.kill()
        owner.wait(10)
        killed = time.monotonic()
        while [p for p in pids if _alive(p)] and time.monotonic() - killed < 2:
            time.sleep(0.01)
        left = [p for p in pids if _alive(p)]
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        assert not left, f"workers {left} outlived their owner"
    finally:
        if owner.poll() is None:
            owner.kill()


# ---------------------------------------------------------------------------------------------
# Dask scheduler addresses where something else listens


def test_a_web_server_is_not_a_dask_scheduler():
    with http_server() as address:
        started = time.monotonic()
        with pytest.raises(InputError, match="nothing answered as a Dask scheduler within 1 s"):
            connect_dask(address, timeout=1.0)
        assert time.monotonic() - started < 5


def test_a_server_speaking_another_protocol_is_refused_at_once(run_cli, tmp_path):
    with banner_server() as address:
        with pytest.raises(InputError, match="not a Dask scheduler"):
            connect_dask(address, timeout=5.0)
        started = time.monotonic()
        out = tmp_path / "s"
        proc = run_cli("sweep", REPO / "instances" / "pugh2021", "--vary", "supply=1,2",
                       "--dask-scheduler", address, "--out", out)
        assert proc.returncode == 2, proc.stderr
        assert "not a Dask scheduler" in proc.stderr and "Traceback" not in proc.stderr
        assert time.monotonic() - started < 30  # the CLI's own start-up included
        assert not out.exists()


@pytest.mark.slow
def test_sweep_to_a_web_server_exits_2_within_about_10_s(run_cli, tmp_path):
    with http_server() as address:
        started = time.monotonic()
        proc = run_cli("sweep", REPO / "instances" / "pugh2021", "--vary", "supply=1,2",
                       "--dask-scheduler", address, "--out", tmp_path / "s")
        elapsed = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    assert "nothing answered as a Dask scheduler within 10 s" in proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert elapsed < 25  # 10 s to wait for the handshake + the CLI's start-up under load
