"""Service settings (pydantic-settings): environment variables TRIAGE_*, overridden by
`triage serve` options.

Every setting is validated at start-up; a bad value stops the server with one clear message
naming the variable or option (exit code 2), never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from optimiser.errors import InputError, Problem
from optimiser.executor import default_workers

ENV_PREFIX = "TRIAGE_"


def default_data_dir() -> Path:
    """$XDG_DATA_HOME/triage, else ~/.local/share/triage."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "triage"


class Settings(BaseSettings):
    """Everything the service can be told. Field `x` is read from TRIAGE_X."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, env_ignore_empty=True,
        str_strip_whitespace=True,
    )

    host: str = Field("127.0.0.1", description="Interface to bind (loopback by default).")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0: any free port).")
    data_dir: Path = Field(default_factory=default_data_dir, description="Job store and lock.")
    database: str | None = Field(
        None, description="SQLAlchemy URL of the job store (default: SQLite under data_dir)."
    )
    dask_scheduler: str | None = Field(
        None, description="Send solves to this Dask scheduler (tcp://HOST:PORT)."
    )
    workers: int = Field(
        default_factory=default_workers, ge=1, le=256,
        description="Solver processes (with Dask: most solves in flight).",
    )
    tokens: str | None = Field(None, description="API tokens: 'name:token,name2:token2'.")
    tokens_file: Path | None = Field(None, description="File of 'name:token' lines.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body.")
    header_timeout: float = Field(
        10.0, gt=0, le=3600, description="Seconds a connection has to send a request's "
        "complete headers (408 and closed otherwise)."
    )
    body_timeout: float = Field(
        30.0, gt=0, le=3600, description="Seconds a request has to send its whole body once its "
        "headers are in (408 otherwise); no concurrency slot is held meanwhile."
    )
    default_time_limit: float = Field(10.0, gt=0, description="Solver time limit if none given.")
    max_time_limit: float = Field(60.0, gt=0, description="Cap on POST /v1/solve time limits.")
    max_job_time_limit: float = Field(600.0, gt=0, description="Cap on job time limits.")
    hard_limit_factor: float = Field(
        5.0, ge=1, description="A task still running after factor x its time limit + grace "
        "seconds is killed (the time limit is one budget for every solver run of a request; "
        "the margin covers loading, validation and work between runs)."
    )
    hard_limit_grace: float = Field(10.0, ge=0, description="See TRIAGE_HARD_LIMIT_FACTOR.")
    rate_limit: float = Field(50.0, gt=0, description="Requests per second per token.")
    rate_burst: int = Field(100, ge=1, description="Burst of requests per token.")
    max_concurrent: int = Field(16, ge=1, description="Requests in flight per token.")
    max_active_jobs: int = Field(200, ge=1, description="Queued + running jobs per token.")
    max_pending: int = Field(256, ge=1, description="Synchronous solves waiting for a worker.")
    result_cache: int = Field(
        256, ge=0, description="Identical solve requests answered from memory (0: off)."
    )
    job_attempts: int = Field(3, ge=1, description="Runs of a job before it is marked failed.")
    lease_seconds: float = Field(30.0, gt=0, description="A running job's lease (replicas).")
    max_sync_regions: int = Field(
        2000, ge=1, description="Largest instance (regions) POST /v1/solve takes; larger ones "
        "go to POST /v1/jobs."
    )
    public_docs: bool = Field(
        False, description="Serve /docs and /openapi.json without a token (trusted networks)."
    )
    access_log: bool = Field(False, description="Log every request (uvicorn access log).")
    log_level: str = Field(
        "info", pattern="^(critical|error|warning|info|debug)$",
        description="critical, error, warning, info or debug.",
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        """An IP address (v4 or v6) or a host name this machine resolves."""
        import ipaddress
        import socket

        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
        if not value or any(c in value for c in "/:@ ") or value.replace(".", "").isdigit():
            raise ValueError(f"not an IP address or host name: {value!r}")
        try:
            socket.getaddrinfo(value, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise ValueError(f"cannot resolve host name {value!r}") from None
        return value

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{(self.data_dir / 'jobs.sqlite3').resolve()}"

    @property
    def uses_local_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Read TRIAGE_* variables, then apply `overrides` (options; None values are ignored).
        InputError naming the variable or option at fault."""
        given = {name: value for name, value in overrides.items() if value is not None}
        try:
            return cls(**given)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                name = str(err["loc"][0]) if err["loc"] else "settings"
                where = ("--" + name.replace("_", "-")) if name in given else (
                    ENV_PREFIX + name.upper())
                shown = "" if name == "tokens" else f" (got {err.get('input')!r})"
                message = str(err['msg']).removeprefix('Value error, ')
                problems.append(Problem(f"{where}: {message}{shown}"))
            raise InputError(problems) from None


def describe_settings() -> list[tuple[str, str, str]]:
    """(variable, default, description) rows for the docs."""
    rows = []
    for name, field in Settings.model_fields.items():
        if name in ("data_dir", "workers"):
            default = {"data_dir": "$XDG_DATA_HOME/triage", "workers": "CPU count"}[name]
        else:
            default = repr(field.default)
        rows.append((ENV_PREFIX + name.upper(), default, field.description or ""))
    return rows
