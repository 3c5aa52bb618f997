"""`triage serve`: the solver service over HTTP; `triage token`: make an API token."""

from __future__ import annotations

import hashlib
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from optimiser.cli import app
from optimiser.errors import InputError, Problem, counted

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _check_port_free(host: str, port: int) -> None:
    """Fail early, with a clear message, if the address cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:  # also an address of no interface of this machine
            raise InputError(
                Problem(f"--host/--port: cannot listen on {host}:{port} ({exc.strerror or exc})")
            ) from None


def _check_dask(address: str) -> None:
    """A --dask-scheduler that is malformed, or where something other than a Dask scheduler
    answers, stops the server now (exit 2). One that does not answer yet is retried by the
    server (/v1/ready says why it is not ready)."""
    from optimiser.executor import scheduler_problem

    problem = scheduler_problem(address)
    if problem is not None and problem.fatal:
        raise InputError(Problem(f"--dask-scheduler {address}: {problem.reason}"))


HostOpt = Annotated[str | None, typer.Option(help="Interface to bind; default 127.0.0.1.")]
PortOpt = Annotated[int | None, typer.Option(help="TCP port; default 8000.")]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Job store folder; default ~/.local/share/triage."),
]
DaskOpt = Annotated[
    str | None,
    typer.Option("--dask-scheduler", help="Run solves on this Dask cluster (tcp://HOST:PORT)."),
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option(help="SQLAlchemy URL of the job store, e.g. postgresql://..."
                 "; default SQLite in --data-dir."),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(help="Solver processes (with Dask: solves in flight); default CPU count."),
]


def require_service_extra() -> None:
    """A clear error when the service's packages (the `service` extra) are not installed."""
    import importlib.util

    def installed(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            return False

    missing = [m for m in ("fastapi", "uvicorn", "sqlalchemy", "fastapi_offline",
                           "pydantic_settings", "prometheus_client") if not installed(m)]
    if missing:
        raise InputError(Problem(
            f"triage serve needs the service extra ({', '.join(missing)} not installed): "
            "pip install 'regional-triage[service]'"
        ))


@app.command("serve")
def serve_command(
    host: HostOpt = None,
    port: PortOpt = None,
    data_dir: DataDirOpt = None,
    dask_scheduler: DaskOpt = None,
    database: DatabaseOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Serve the engine over HTTP (docs/service.md). Tokens: TRIAGE_TOKENS or TRIAGE_TOKENS_FILE."""
    require_service_extra()
    from optimiser.service.settings import Settings
    from optimiser.service.workers import start_solver_fork_server

    settings = Settings.from_env(
        host=host, port=port, data_dir=data_dir, dask_scheduler=dask_scheduler,
        database=database, workers=workers,
    )
    _check_port_free(settings.host, settings.port)
    if settings.dask_scheduler:
        _check_dask(settings.dask_scheduler)
    else:
        start_solver_fork_server()  # warms up while the rest of the server loads
    import uvicorn

    from optimiser.service.app import create_app

    application = create_app(settings)
    if settings.host not in LOOPBACK:
        typer.echo(
            f"warning: listening on {settings.host}, not loopback: put TLS in front of it",
            err=True,
        )
    service = application.state.service
    solvers = (
        f"Dask at {settings.dask_scheduler}"
        if settings.dask_scheduler
        else f"{settings.workers} solver process{'es' * (settings.workers > 1)}"
    )
    typer.echo(
        f"triage service on http://{settings.host}:{settings.port} (docs at /docs); "
        f"store {service.store.url.split('@')[-1]}; {solvers}; "
        f"{counted(len(service.tokens), 'token')}; recovered jobs: {service.recovered}",
        err=True,
    )
    from optimiser.service.http_protocol import protocol_with

    config = uvicorn.Config(
        application,
        http=protocol_with(settings.header_timeout),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(4)


@app.command("token")
def token_command(
    name: Annotated[str, typer.Argument(help="Who the token is for (owner of its jobs).")],
) -> None:
    """Make a new API token: prints the token and the line for a tokens file (hash only)."""
    from optimiser.service.auth import _NAME, new_token

    if not _NAME.match(name):
        raise InputError(Problem(f"NAME {name!r}: use 1-64 of A-Z a-z 0-9 _ . @ -"))
    token = new_token()
    hexdigest = hashlib.sha256(token.encode()).hexdigest()
    typer.echo(f"token (give it to the client; it is not stored): {token}")
    typer.echo(f"tokens file line (TRIAGE_TOKENS_FILE):        {name}:sha256:{hexdigest}")
    typer.echo(f"or in TRIAGE_TOKENS:                          {name}:{token}")
