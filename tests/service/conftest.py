"""Service tests run a REAL server: `python -m optimiser serve` in a subprocess on a free
loopback port, with its own data dir and tokens. `server` is shared by the module tests;
`start_server(...)` starts extra ones (kill -9 and restart, tight limits, Dask)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from synthetic import threshold_instance

import optimiser

REPO = Path(__file__).resolve().parents[2]
ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef"
CAROL = "carol-token-0123456789abcdef"  # in a tokens file, stored as its SHA-256 only
START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`triage serve` in a subprocess: start, wait until ready, stop or kill -9."""

    def __init__(self, data_dir: Path, env: dict[str, str], args: list[str]) -> None:
        self.data_dir = data_dir
        self.env = env
        self.args = args
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> ServerProcess:
        self.port = free_port()
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "optimiser", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir), *self.args],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/v1/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"server not ready after {START_TIMEOUT} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def children(self) -> list[int]:
        import psutil

        assert self.proc is not None
        with contextlib.suppress(psutil.Error):
            return [c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)]
        return []

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)

    def client(self, token: str | None = ALICE, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)


def server_env(tmp: Path, **extra: str) -> dict[str, str]:
    """Environment of a test server: tokens from the variable and from a hashed tokens file."""
    import hashlib

    tokens_file = tmp / "tokens.txt"
    tokens_file.write_text(
        "# name:sha256:<hex>\ncarol:sha256:" + hashlib.sha256(CAROL.encode()).hexdigest() + "\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update({
        "TRIAGE_TOKENS": f"alice:{ALICE},bob:{BOB}",
        "TRIAGE_TOKENS_FILE": str(tokens_file),
        "TRIAGE_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def start_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., ServerProcess]]:
    """`start_server(name, *args, wait=True, **env)`: a fresh server with its own data dir."""
    started: list[ServerProcess] = []

    def start(name: str, *args: str, wait: bool = True, data_dir: Path | None = None,
              **env: str) -> ServerProcess:
        tmp = tmp_path_factory.mktemp(name)
        server = ServerProcess(data_dir or tmp / "data", server_env(tmp, **env), list(args))
        started.append(server)
        return server.start(wait=wait)

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """The shared server: 2 solver processes, generous limits, result cache on."""
    return start_server("main", "--workers", "2", TRIAGE_MAX_CONCURRENT="64",
                        TRIAGE_RATE_LIMIT="1000", TRIAGE_RATE_BURST="1000")


@pytest.fixture(scope="session")
def pugh_request() -> dict[str, Any]:
    """instances/pugh2021 as a request body (the folder format as JSON)."""
    return optimiser.instance_to_dict(optimiser.load_instance(REPO / "instances" / "pugh2021"))


@pytest.fixture(scope="session")
def states_request() -> dict[str, Any]:
    """instances/us-states-2020 as a request body (pugh2021 if it is not there yet)."""
    path = REPO / "instances" / "us-states-2020"
    if not (path / "instance.toml").exists():
        path = REPO / "instances" / "pugh2021"
    return optimiser.instance_to_dict(optimiser.load_instance(path))


def in_process(request: dict[str, Any]) -> dict[str, Any]:
    """The same request solved by the Python API, as JSON (the independent reference)."""
    body = dict(request)
    options = dict(body.pop("options", None) or {})
    policy = body.pop("policy", "optimal")
    result = optimiser.solve(
        optimiser.instance_from_dict(body),
        constraints=options.get("constraints"),
        policy=policy,
        supply=options.get("supply"),
        default_constraints=options.get("default_constraints", True),
        price_of_fairness=options.get("price_of_fairness", True),
        seed=options.get("seed", 0),
    )
    return json.loads(result.to_json())


@pytest.fixture(scope="session")
def solve_in_process() -> Callable[[dict[str, Any]], dict[str, Any]]:
    return in_process


@pytest.fixture(scope="session")
def tokens() -> dict[str, str]:
    return {"alice": ALICE, "bob": BOB, "carol": CAROL}


@pytest.fixture(scope="session")
def slow_request() -> Callable[..., dict[str, Any]]:
    return threshold_instance


class ThrowawayPostgres:
    """A PostgreSQL cluster of the machine's own binaries (initdb, pg_ctl) in a temporary
    folder, listening only on a Unix socket there; as the `postgres` user when run as root."""

    def __init__(self, folder: Path) -> None:
        import shutil

        self.folder = folder
        self.data = folder / "pgdata"
        self.initdb = shutil.which("initdb")
        self.pg_ctl = shutil.which("pg_ctl")
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            import pwd

            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no 'postgres' user") from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root without runuser")
            self.as_user = [runuser, "-u", "postgres", "--"]
        if not (self.initdb and self.pg_ctl):
            raise RuntimeError("initdb/pg_ctl not found")

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil_chown = __import__("shutil").chown
            shutil_chown(self.folder, user="postgres", group="postgres")
            for parent in self.folder.parents:  # the socket folder must be reachable
                if parent == Path("/"):
                    break
                parent.chmod(parent.stat().st_mode | 0o011)
        assert self.initdb and self.pg_ctl
        self._run(self.initdb, "-D", str(self.data), "-U", "triage", "--auth=trust", "-E", "UTF8")
        options = f"-c listen_addresses='' -k {self.folder} -c fsync=off"
        self._run(self.pg_ctl, "-D", str(self.data), "-o", options, "-w", "-l",
                  str(self.folder / "postgres.log"), "start")
        return f"postgresql+psycopg://triage@/postgres?host={self.folder}"

    def stop(self) -> None:
        assert self.pg_ctl
        with contextlib.suppress(Exception):
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop")


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a throwaway PostgreSQL (skipped where the machine has none)."""
    try:
        import psycopg  # noqa: F401

        cluster = ThrowawayPostgres(tmp_path_factory.mktemp("postgres"))
        url = cluster.start()
    except (ImportError, RuntimeError, subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"no PostgreSQL to test against: {exc}")
    yield url
    cluster.stop()
