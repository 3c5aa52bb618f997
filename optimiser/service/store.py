"""The job store: SQLAlchemy Core over SQLite (WAL, fsync on commit) or any SQLAlchemy URL.

A job is committed before its id is returned, so an accepted job survives kill -9. Running
jobs hold a lease that their server renews; a job whose lease has expired (its server died) is
re-queued, or marked failed once it has used all its attempts: never left "running" forever.
Every database error leaves here as StoreUnavailable (a 503 for clients), and a store that is
damaged, missing or swapped is refused at start-up (optimiser.service.store_guard).
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from optimiser.errors import counted
from optimiser.service.store_guard import (
    SqliteIdentity,
    StoreUnavailable,
    check_sqlite_file,
    describe_error,
    read_marker,
    write_marker,
)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)

metadata = MetaData()
jobs = Table(
    "jobs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("owner", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("request", Text, nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("idempotency_key", String(200), nullable=True),
    Column("time_limit", Float, nullable=False),
    Column("result", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("note", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("runner", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    UniqueConstraint("owner", "idempotency_key", name="uq_jobs_owner_idempotency_key"),
    Index("ix_jobs_owner_seq", "owner", "seq"),
    Index("ix_jobs_status_seq", "status", "seq"),
)

store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", Text, nullable=False),
)

SUMMARY_COLUMNS = [c for c in jobs.c if c.name not in ("request", "result")]
F = TypeVar("F", bound=Callable[..., Any])


def _guarded(method: F) -> F:
    """Database errors (other than a key already used) become StoreUnavailable."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except IntegrityError:
            raise
        except (DBAPIError, SQLAlchemyError, OSError) as exc:
            reason, damaged = describe_error(exc)
            raise StoreUnavailable(reason, damaged) from exc

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class Job:
    """One row of the store (request/result as JSON text, or None when not loaded)."""

    seq: int
    id: str
    owner: str
    kind: str
    status: str
    request_hash: str
    idempotency_key: str | None
    time_limit: float
    error: str | None
    note: str | None
    attempts: int
    runner: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    request: str | None = None
    result: str | None = None

    @classmethod
    def of(cls, row: Any) -> Job:
        m = row._mapping
        names = cls.__dataclass_fields__
        return cls(**{k: m[k] for k in m if k in names})

    def request_json(self) -> dict[str, Any]:
        return json.loads(self.request or "{}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # fsync each commit: accepted means on disk
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class JobStore:
    """All reads and writes of jobs. Methods are blocking: call them off the event loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.path: Path | None = None
        self.identity: SqliteIdentity | None = None
        if self.is_sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                self.path = Path(path)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                problem = check_sqlite_file(self.path)
                if problem:
                    raise StoreUnavailable(problem, damaged=True)
            self.engine: Engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 10}
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        metadata.create_all(self.engine)
        self.store_id, created_at = self._meta()
        if self.path is not None:
            if read_marker(self.path) is None:
                write_marker(self.path, self.store_id, created_at)
            self.identity = SqliteIdentity(self.path)

    def _meta(self) -> tuple[str, float]:
        """This store's id and creation time (made on first use)."""
        with self.engine.begin() as conn:
            rows = dict(conn.execute(select(store_meta.c.key, store_meta.c.value)).all())
            if "store_id" not in rows:
                rows = {"store_id": uuid.uuid4().hex, "created_at": repr(time.time())}
                try:
                    conn.execute(store_meta.insert(), [
                        {"key": k, "value": v} for k, v in rows.items()])
                except IntegrityError:  # another replica made it first
                    rows = dict(conn.execute(select(store_meta.c.key, store_meta.c.value)).all())
        return str(rows["store_id"]), float(rows.get("created_at", "0") or 0)

    def close(self) -> None:
        if self.identity is not None:
            self.identity.close()
        self.engine.dispose()

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(select(1))
        return True

    def problem(self) -> str | None:
        """Why the store cannot durably record a job now, or None (readiness and every new
        job): the same file as at start, readable, and a write commits."""
        if self.identity is not None:
            found = self.identity.problem()
            if found:
                return found
        try:
            with self.engine.begin() as conn:
                stored = conn.execute(
                    select(store_meta.c.value).where(store_meta.c.key == "store_id")
                ).scalar()
                if stored != self.store_id:
                    return (f"the job store was replaced while the server was running (store "
                            f"{stored}, not {self.store_id}): new jobs are refused; restart")
                written = conn.execute(
                    update(store_meta).where(store_meta.c.key == "store_id")
                    .values(value=self.store_id)
                ).rowcount
            if written != 1:
                return "the job store did not record a test write"
        except (DBAPIError, SQLAlchemyError, OSError) as exc:
            return describe_error(exc)[0]
        return None

    def _check_file(self) -> None:
        if self.identity is not None:
            found = self.identity.problem()
            if found:
                raise StoreUnavailable(found)

    def check(self) -> None:
        """Raise StoreUnavailable when problem() finds one."""
        found = self.problem()
        if found:
            raise StoreUnavailable(found)

    # ---- writing
    @_guarded
    def create(
        self,
        owner: str,
        kind: str,
        request: str,
        request_hash: str,
        time_limit: float,
        idempotency_key: str | None,
    ) -> tuple[Job, bool]:
        """Insert a queued job; with an Idempotency-Key already used by `owner`, return that job
        instead. Returns (job, created)."""
        self._check_file()
        job_id = uuid.uuid4().hex
        row = {
            "id": job_id,
            "owner": owner,
            "kind": kind,
            "status": QUEUED,
            "request": request,
            "request_hash": request_hash,
            "idempotency_key": idempotency_key,
            "time_limit": time_limit,
            "attempts": 0,
            "created_at": time.time(),
        }
        if idempotency_key is not None:
            existing = self.by_idempotency_key(owner, idempotency_key)
            if existing is not None:
                return existing, False
        try:
            with self.engine.begin() as conn:
                conn.execute(jobs.insert().values(**row))
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = self.by_idempotency_key(owner, idempotency_key)
            if existing is None:
                raise
            return existing, False
        job = self.get(job_id, owner)
        assert job is not None
        return job, True

    @_guarded
    def claim_next(self, runner: str, lease_seconds: float) -> Job | None:
        """Mark the oldest queued job running for `runner`; None when the queue is empty."""
        self._check_file()  # a result must not go into a file that was deleted
        for _ in range(20):
            with self.engine.begin() as conn:
                found = conn.execute(
                    select(jobs.c.id).where(jobs.c.status == QUEUED).order_by(jobs.c.seq).limit(1)
                ).first()
                if found is None:
                    return None
                now = time.time()
                claimed = conn.execute(
                    update(jobs)
                    .where(and_(jobs.c.id == found.id, jobs.c.status == QUEUED))
                    .values(
                        status=RUNNING,
                        runner=runner,
                        lease_until=now + lease_seconds,
                        started_at=now,
                        attempts=jobs.c.attempts + 1,
                    )
                ).rowcount
            if claimed == 1:
                return self._get_by_id(found.id)
        return None

    @_guarded
    def finish(
        self, job_id: str, runner: str, status: str, result: str | None, error: str | None
    ) -> bool:
        """Record the end of a run, unless the job was cancelled or taken over meanwhile."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(jobs)
                .where(and_(jobs.c.id == job_id, jobs.c.status == RUNNING, jobs.c.runner == runner))
                .values(
                    status=status,
                    result=result,
                    error=error,
                    finished_at=time.time(),
                    lease_until=None,
                )
            ).rowcount
        return changed == 1

    @_guarded
    def requeue(self, job_id: str, runner: str, note: str, count_attempt: bool = True) -> bool:
        """Put a running job back in the queue (a worker crashed, or this server stops)."""
        values: dict[str, Any] = {"status": QUEUED, "runner": None, "lease_until": None,
                                  "started_at": None, "note": note}
        if not count_attempt:
            values["attempts"] = jobs.c.attempts - 1
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(jobs)
                .where(and_(jobs.c.id == job_id, jobs.c.status == RUNNING, jobs.c.runner == runner))
                .values(**values)
            ).rowcount
        return changed == 1

    @_guarded
    def cancel(self, job_id: str, owner: str) -> Job | None:
        """Cancel a queued or running job (a finished one is returned unchanged)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(jobs)
                .where(
                    and_(
                        jobs.c.id == job_id,
                        jobs.c.owner == owner,
                        jobs.c.status.in_([QUEUED, RUNNING]),
                    )
                )
                .values(status=CANCELLED, finished_at=time.time(), lease_until=None,
                        note="cancelled by the client")
            )
        return self.get(job_id, owner, with_result=False)

    @_guarded
    def heartbeat(self, runner: str, lease_seconds: float) -> int:
        with self.engine.begin() as conn:
            return conn.execute(
                update(jobs)
                .where(and_(jobs.c.runner == runner, jobs.c.status == RUNNING))
                .values(lease_until=time.time() + lease_seconds)
            ).rowcount

    @_guarded
    def recover(self, max_attempts: int, everything: bool = False) -> tuple[int, int]:
        """Running jobs whose server is gone (lease expired, or `everything` when this server
        owns the store alone): re-queue them, or fail those out of attempts.
        Returns (re-queued, failed)."""
        now = time.time()
        stale = jobs.c.status == RUNNING
        if not everything:
            stale = and_(stale, jobs.c.lease_until < now)
        with self.engine.begin() as conn:
            failed = conn.execute(
                update(jobs)
                .where(and_(stale, jobs.c.attempts >= max_attempts))
                .values(
                    status=FAILED,
                    finished_at=now,
                    lease_until=None,
                    error=json.dumps(
                        {
                            "status": 500,
                            "code": "server_lost",
                            "message": f"the server stopped while this job was running, "
                            f"{counted(max_attempts, 'time')}; it is not retried again",
                        }
                    ),
                )
            ).rowcount
            requeued = conn.execute(
                update(jobs)
                .where(stale)
                .values(
                    status=QUEUED,
                    runner=None,
                    lease_until=None,
                    started_at=None,
                    note="re-queued: the server stopped while it was running",
                )
            ).rowcount
        return requeued, failed

    @_guarded
    def release_runner(self, runner: str) -> int:
        """On a clean shutdown: this server's running jobs go back to the queue, unpenalised."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(jobs)
                .where(and_(jobs.c.runner == runner, jobs.c.status == RUNNING))
                .values(
                    status=QUEUED,
                    runner=None,
                    lease_until=None,
                    started_at=None,
                    attempts=jobs.c.attempts - 1,
                    note="re-queued: the server was shut down while it was running",
                )
            ).rowcount

    # ---- reading
    @_guarded
    def _get_by_id(self, job_id: str) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return None if row is None else Job.of(row)

    @_guarded
    def get(self, job_id: str, owner: str, with_result: bool = True) -> Job | None:
        columns = list(jobs.c) if with_result else SUMMARY_COLUMNS
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*columns).where(and_(jobs.c.id == job_id, jobs.c.owner == owner))
            ).first()
        return None if row is None else Job.of(row)

    @_guarded
    def status_of(self, job_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(jobs.c.status).where(jobs.c.id == job_id)).scalar()

    @_guarded
    def by_idempotency_key(self, owner: str, key: str) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*SUMMARY_COLUMNS).where(
                    and_(jobs.c.owner == owner, jobs.c.idempotency_key == key)
                )
            ).first()
        return None if row is None else Job.of(row)

    @_guarded
    def list(
        self, owner: str, limit: int, before_seq: int | None = None, status: str | None = None
    ) -> list[Job]:
        query = select(*SUMMARY_COLUMNS).where(jobs.c.owner == owner)
        if before_seq is not None:
            query = query.where(jobs.c.seq < before_seq)
        if status is not None:
            query = query.where(jobs.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(jobs.c.seq.desc()).limit(limit)).all()
        return [Job.of(r) for r in rows]

    @_guarded
    def count_active(self, owner: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(jobs)
                    .where(and_(jobs.c.owner == owner, jobs.c.status.in_([QUEUED, RUNNING])))
                ).scalar_one()
            )

    @_guarded
    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all()
        return {str(status): int(n) for status, n in rows}
