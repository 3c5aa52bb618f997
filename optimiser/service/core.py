"""The service's state and behaviour, apart from HTTP: solving, jobs, recovery, limits.

One `Service` per server process. Synchronous solves and jobs share the same runner (warm
process pool or Dask); synchronous solves are served first. Jobs live in the store: the
dispatcher claims the oldest queued job whenever a solver is free, renews its lease while it
runs, and records the result; a job whose server died is re-queued (or failed once it has used
its attempts) by the next server that starts or notices the expired lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from optimiser.deadline import MIN_RUN_SECONDS
from optimiser.errors import InputError, Problem, counted
from optimiser.service.auth import TokenRegistry
from optimiser.service.errors import ApiError, no_job, summary_of
from optimiser.service.limits import Limiter
from optimiser.service.metrics import Metrics
from optimiser.service.settings import Settings
from optimiser.service.store import (
    CANCELLED,
    DONE,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    Job,
    JobStore,
)
from optimiser.service.store_guard import RETRY_AFTER, StoreUnavailable
from optimiser.service.tasks import KINDS, canonical, check_time_limit, sha256
from optimiser.service.workers import (
    JOB_PRIORITY,
    SYNC_PRIORITY,
    DaskRunner,
    ProcessRunner,
    Runner,
    TaskCancelled,
    TaskTimeout,
    WorkerLost,
)

log = logging.getLogger("optimiser.service")
T = TypeVar("T")
CACHEABLE_STATUSES = ("optimal", "infeasible", "rule")
MAX_IDEMPOTENCY_KEY = 200


@dataclass(frozen=True)
class SolveOutcome:
    """A finished synchronous solve: the JSON body and where the time went."""

    body: bytes
    solver_seconds: float
    time_limit: float
    result_status: str | None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _prefixed(error: ApiError, prefix: str) -> ApiError:
    """The error of a nested request (a job's `request`): JSON paths from the body's root."""
    problems = []
    for item in error.problems:
        field = item.get("field")
        item = dict(item)
        item["field"] = prefix if not field else f"{prefix}.{field}"
        message = str(item.get("message", ""))
        if field and message.startswith(f"{field}: "):
            item["message"] = f"{item['field']}: {message[len(field) + 2:]}"
        problems.append(item)
    message = error.message
    first = error.problems[0].get("field") if error.problems else None
    if first and message.startswith(f"{first}: "):
        message = f"{prefix}.{message}"
    return ApiError(error.status, error.code, message, problems=problems,
                    headers=error.headers)


class Service:
    """Settings, tokens, limits, metrics, store and runner of one server process."""

    def __init__(self, settings: Settings, runner: Runner | None = None) -> None:
        self.settings = settings
        self.tokens = TokenRegistry.load(settings.tokens, settings.tokens_file)
        self.metrics = Metrics()
        self.limiter = Limiter(settings.rate_limit, settings.rate_burst, settings.max_concurrent)
        self.runner_id = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.started_at = time.time()
        self._lock_handle: Any = None
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                Problem(f"--data-dir {settings.data_dir}: cannot create it ({exc})")
            ) from None
        if settings.uses_local_sqlite:
            self._lock_store()
        try:
            self.store = JobStore(settings.database_url)
        except StoreUnavailable as exc:  # damaged, missing where it existed, or swapped
            self._unlock_store()
            where = "--database" if settings.database else f"--data-dir {settings.data_dir}"
            raise InputError(Problem(f"{where}: {exc}")) from None
        except Exception as exc:  # a bad URL or unreachable database
            self._unlock_store()
            raise InputError(
                Problem(f"--database: cannot open the job store ({type(exc).__name__}: {exc})")
            ) from None
        # Alone on a local SQLite store, every job still marked running was ours: recover now.
        requeued, failed = self.store.recover(
            settings.job_attempts, everything=settings.uses_local_sqlite
        )
        self.recovered = {"requeued": requeued, "failed": failed}
        if requeued or failed:
            log.warning("recovered jobs of a previous run: %d re-queued, %d failed",
                        requeued, failed)
        if runner is None:
            runner = (
                DaskRunner(settings.dask_scheduler, settings.workers)
                if settings.dask_scheduler
                else ProcessRunner(settings.workers)
            )
        self.runner = runner
        self._db = ThreadPoolExecutor(
            max_workers=1 if self.store.is_sqlite else 4, thread_name_prefix="triage-db"
        )
        self._cache: OrderedDict[str, SolveOutcome] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[SolveOutcome]] = {}
        self._running: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._work: asyncio.Event | None = None
        self._stopping = False
        self._runner_error: str | None = None
        self._job_counts: dict[str, int] = {}
        self._register_gauges()

    # ---- lifecycle
    def _lock_store(self) -> None:
        import fcntl

        path = Path(self.settings.data_dir) / "server.lock"
        handle = open(path, "a+")  # noqa: SIM115 - held for the server's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise InputError(
                Problem(
                    f"--data-dir {self.settings.data_dir}: another triage server is using it "
                    "(one server per SQLite store; use --database postgresql://... for replicas)"
                )
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_handle = handle

    def _unlock_store(self) -> None:
        if self._lock_handle is not None:
            with contextlib.suppress(Exception):
                self._lock_handle.close()
            self._lock_handle = None

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def start(self) -> None:
        self._work = asyncio.Event()
        self._spawn(self._start_runner())
        self._spawn(self._dispatch_loop())
        self._spawn(self._heartbeat_loop())

    async def _start_runner(self) -> None:
        """Start the solvers; a Dask cluster that cannot be reached is retried every 5 s
        (the server stays up, /v1/ready says why it is not ready)."""
        while not self._stopping:
            try:
                await self.runner.start()
            except Exception as exc:  # reported by /v1/ready, not a crash
                self._runner_error = f"{type(exc).__name__}: {exc}"
            else:
                if self.runner.ready:
                    self._runner_error = None
                    return
                self._runner_error = "no solver process could start (see the server log)"
            log.error("the solvers failed to start: %s", self._runner_error)
            if not isinstance(self.runner, DaskRunner):
                return
            await asyncio.sleep(5)

    async def stop(self) -> None:
        self._stopping = True
        self.runner.closing()  # solvers killed from now on are not replaced
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            released = await self.db(self.store.release_runner, self.runner_id)
            if released:
                log.warning("%s put back in the queue for the next start",
                            counted(released, "running job"))
        await self.runner.close()
        self._db.shutdown(wait=True)
        self.store.close()
        self._unlock_store()

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking store call on the store's thread; a store that cannot serve it is a
        503 with Retry-After (the request changed nothing)."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._db, lambda: fn(*args, **kwargs))
        except StoreUnavailable as exc:
            self.metrics.store_errors.labels(getattr(fn, "__name__", "store")).inc()
            log.error("job store: %s", exc)
            raise ApiError(503, "store_unavailable", f"{exc}; retry later",
                           headers={"Retry-After": RETRY_AFTER}) from None

    # ---- metrics
    def _register_gauges(self) -> None:
        m = self.metrics
        m.gauge("triage_queue_depth", "Work waiting: queued jobs in the store, synchronous "
                "solves waiting for a solver.",
                lambda: {("jobs",): self._job_counts.get(QUEUED, 0),
                         ("solve",): self.runner.waiting}, ("queue",))
        m.gauge("triage_jobs", "Jobs in the store by status.",
                lambda: {(s,): n for s, n in self._job_counts.items()}, ("status",))
        m.gauge("triage_workers", "Solver slots: total and busy.",
                lambda: {("total",): self.runner.size, ("busy",): self.runner.busy}, ("state",))
        m.gauge("triage_up_seconds", "Seconds since this server started.",
                lambda: {(): time.time() - self.started_at})

    async def render_metrics(self) -> str:
        with contextlib.suppress(Exception):
            self._job_counts = await self.db(self.store.counts)
        return self.metrics.render()

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:  # the same file as at start, readable, and a write commits
            problem = await asyncio.wait_for(self.db(self.store.problem), 5)
            checks["store"] = "ok" if problem is None else f"failed: {problem}"
        except Exception as exc:
            checks["store"] = f"unavailable: {getattr(exc, 'message', type(exc).__name__)}"
        if self.runner.ready:
            checks["solvers"] = f"ok ({self.runner.kind}, {self.runner.size})"
        elif self._runner_error:
            checks["solvers"] = f"failed: {self._runner_error}"
        else:
            checks["solvers"] = "starting"
        return checks

    # ---- time limits
    def time_limit(self, requested: Any, cap: float, field: str) -> float:
        """The solver time limit to use: the request's (validated), else the default; capped."""
        try:
            value = check_time_limit(requested)
        except ApiError as exc:
            for item in exc.problems:  # the path and the message's lead say the same field
                old = str(item.get("field") or "")
                message = str(item.get("message", ""))
                if old and message.startswith(f"{old}: "):
                    item["message"] = f"{field}: {message[len(old) + 2:]}"
                item["field"] = field
            if exc.problems:
                exc.message = summary_of(exc.problems)
            raise
        return min(cap, self.settings.default_time_limit if value is None else value)

    async def _every_problem(
        self, error: ApiError, kind: str, request: Any, prefix: str = ""
    ) -> ApiError:
        """A bad options.time_limit and the request's other problems in one answer (the rest
        of the request is checked without it: docs/service.md, every problem is listed)."""
        task = KINDS.get(kind)
        try:
            body = json.loads(request) if isinstance(request, bytes) else request
            options = body.get("options")
            rest = {**body, "options": {k: v for k, v in options.items() if k != "time_limit"}}
            await asyncio.to_thread(task.validate, rest, None)  # type: ignore[union-attr]
        except ApiError as other:
            more = (_prefixed(other, prefix) if prefix else other).problems
            problems = [*error.problems, *more]
            return ApiError(error.status, error.code, summary_of(problems), problems=problems,
                            headers=error.headers)
        except Exception:  # a body whose rest cannot be checked: the time limit alone
            return error
        return error

    def hard_timeout(self, time_limit: float) -> float:
        s = self.settings
        return time_limit * s.hard_limit_factor + s.hard_limit_grace

    # ---- synchronous solves
    async def solve(
        self, body: bytes, requested_limit: Any, regions: int = 0, kind: str = "solve",
        received: float | None = None,
    ) -> tuple[SolveOutcome, str]:
        """Solve the request `body` (JSON already checked by the router; `regions` of them)
        now; returns the outcome and how it was served: "miss", "hit" (result cache),
        "shared" (an identical request in flight) or "off" (no cache).

        The worker parses the body; repeated bodies are recognised by their SHA-256, so they
        skip parsing and validation there, and, with the result cache, the solve itself.

        The time limit is the request's budget from `received` (a time.perf_counter() reading
        taken when the request arrived; default now): the solver gets what is left of it
        when its turn comes (waiting for a free solver counts)."""
        received = time.perf_counter() if received is None else received
        if regions > self.settings.max_sync_regions:
            self.metrics.rejected.labels("too_large_for_sync").inc()
            message = (f"{regions:,} regions: synchronous solves take at most "
                       f"{self.settings.max_sync_regions:,}; submit it as a job (POST /v1/jobs)")
            raise ApiError(413, "too_large_for_sync", message,
                           problems=[{"field": "regions", "message": message}])
        try:
            limit = self.time_limit(requested_limit, self.settings.max_time_limit,
                                    "options.time_limit")
        except ApiError as exc:
            raise await self._every_problem(exc, kind, body) from None
        key = sha256_bytes(body)
        if not self.settings.result_cache:
            return await self._solve_now(body, key, limit, kind, received), "off"
        cache_key = f"{kind}|{key}|{limit!r}"
        hit = self._cache.get(cache_key)
        if hit is not None:
            self._cache.move_to_end(cache_key)
            self.metrics.cache.labels("hit").inc()
            return hit, "hit"
        pending = self._inflight.get(cache_key)
        if pending is not None:
            self.metrics.cache.labels("shared").inc()
            return await asyncio.shield(pending), "shared"
        self.metrics.cache.labels("miss").inc()
        future: asyncio.Future[SolveOutcome] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._inflight[cache_key] = future
        try:
            outcome = await self._solve_now(body, key, limit, kind, received)
        except ApiError as exc:
            future.set_exception(exc)
            raise
        except BaseException:
            future.set_exception(
                ApiError(503, "unavailable", "the shared solve was interrupted; retry",
                         headers={"Retry-After": "1"})
            )
            raise
        finally:
            self._inflight.pop(cache_key, None)
        future.set_result(outcome)
        if outcome.result_status in CACHEABLE_STATUSES:
            self._cache[cache_key] = outcome
            while len(self._cache) > self.settings.result_cache:
                self._cache.popitem(last=False)
        return outcome, "miss"

    async def _solve_now(
        self, body: bytes, key: str, limit: float, kind: str = "solve",
        received: float | None = None,
    ) -> SolveOutcome:
        received = time.perf_counter() if received is None else received
        if not self.runner.ready:
            detail = self._runner_error or "starting"
            raise ApiError(503, "unavailable", f"the solvers are not ready ({detail}); retry",
                           headers={"Retry-After": "2"})
        if self.runner.waiting >= self.settings.max_pending:
            self.metrics.rejected.labels("queue_full").inc()
            raise ApiError(503, "busy", f"server busy: {self.runner.waiting} solves waiting",
                           headers={"Retry-After": "1"})
        hard = self.hard_timeout(limit)
        for attempt in (1, 2):
            async with self.runner.slot(SYNC_PRIORITY) as slot:
                left = max(MIN_RUN_SECONDS, limit - (time.perf_counter() - received))
                try:
                    reply = await self.runner.run(slot, kind, body, key, left, hard)
                    break
                except TaskTimeout as exc:
                    self.metrics.worker_restarts.labels("timeout").inc()
                    self.metrics.solve_seconds.labels(kind, "timeout").observe(hard)
                    raise ApiError(504, "solve_timeout", f"the solve was {exc}") from None
                except WorkerLost as exc:
                    self.metrics.worker_restarts.labels("lost").inc()
                    if exc.started or attempt == 2:  # it died solving this: do not insist
                        raise ApiError(500, "worker_lost",
                                       f"{exc} while solving; retry or report it") from None
        ok = bool(reply["ok"])
        self.metrics.solve_seconds.labels(kind, "ok" if ok else "error").observe(
            float(reply["seconds"]))
        if not ok:
            error = reply["error"]
            raise ApiError(int(error["status"]), str(error["code"]), str(error["message"]),
                           problems=error.get("problems"))
        return SolveOutcome(reply["body"].encode(), float(reply["seconds"]), limit,
                            reply.get("result_status"))

    # ---- jobs
    async def submit(
        self, owner: str, kind: str, request: dict[str, Any], idempotency_key: str | None
    ) -> tuple[Job, bool]:
        """Validate and store a job; returns (job, created). An Idempotency-Key already used
        by this owner returns that job (409 if the request differs)."""
        task = KINDS.get(kind)
        if task is None:
            raise ApiError(422, "invalid_input", f"unknown job kind {kind!r} (known: "
                           f"{', '.join(KINDS)})", problems=[{"field": "kind", "message":
                           f"unknown job kind {kind!r} (known: {', '.join(KINDS)})"}])
        options = dict(request.get("options") or {})
        try:
            options["time_limit"] = self.time_limit(
                options.get("time_limit"), self.settings.max_job_time_limit,
                "request.options.time_limit",
            )
        except ApiError as exc:
            raise await self._every_problem(exc, kind, request, "request") from None
        request = {**request, "options": options}
        text = canonical(request)
        request_hash = sha256(kind + "\n" + text)
        if idempotency_key is not None:
            if not (0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY
                    and idempotency_key.isascii() and idempotency_key.isprintable()):
                message = (f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII "
                           "characters")
                raise ApiError(422, "invalid_input", message,
                               problems=[{"field": "Idempotency-Key", "message": message}])
            existing = await self.db(self.store.by_idempotency_key, owner, idempotency_key)
            if existing is not None:
                return self._same_request(existing, request_hash), False
        if await self.db(self.store.count_active, owner) >= self.settings.max_active_jobs:
            self.metrics.rejected.labels("active_jobs").inc()
            raise ApiError(429, "too_many_jobs", f"at most {self.settings.max_active_jobs} "
                           "queued or running jobs per token", headers={"Retry-After": "5"})
        try:
            await asyncio.to_thread(task.validate, request, options["time_limit"])
        except ApiError as exc:
            raise _prefixed(exc, "request") from None
        try:
            job, created = await self.db(
                self.store.create, owner, kind, text, request_hash, options["time_limit"],
                idempotency_key,
            )
        except ApiError as exc:
            if exc.code == "store_unavailable":
                exc.message = ("the job could not be recorded durably, so it was not accepted: "
                               + exc.message)
            raise
        if not created:
            return self._same_request(job, request_hash), False
        assert self._work is not None
        self._work.set()
        return job, True

    @staticmethod
    def _same_request(job: Job, request_hash: str) -> Job:
        if job.request_hash != request_hash:
            raise ApiError(409, "conflict", "this Idempotency-Key was already used for a "
                           f"different request (job {job.id})")
        return job

    async def cancel(self, owner: str, job_id: str) -> Job:
        job = await self.db(self.store.get, job_id, owner, False)
        if job is None:
            raise no_job(job_id)
        if job.status in FINISHED:
            if job.status == CANCELLED:
                return job
            raise ApiError(409, "conflict", f"job {job_id} is already {job.status}")
        cancelled = await self.db(self.store.cancel, job_id, owner)
        assert cancelled is not None
        if cancelled.status == CANCELLED and job.status in (QUEUED, RUNNING):
            self.metrics.jobs_finished.labels(job.kind, CANCELLED).inc()
        event = self._running.get(job_id)
        if event is not None:
            event.set()
        return cancelled

    async def _dispatch_loop(self) -> None:
        assert self._work is not None
        while not self._stopping:
            stack = AsyncExitStack()
            slot = await stack.enter_async_context(self.runner.slot(JOB_PRIORITY))
            job = None
            try:
                job = await self.db(self.store.claim_next, self.runner_id,
                                    self.settings.lease_seconds)
            except Exception as exc:  # the store is down: retry shortly
                log.error("cannot claim jobs: %s", exc)
            if job is None:
                await stack.aclose()
                self._work.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._work.wait(), 1.0)
                continue
            self._running[job.id] = asyncio.Event()
            self._spawn(self._run_job(job, slot, stack))

    async def _run_job(self, job: Job, slot: Any, stack: AsyncExitStack) -> None:
        cancel = self._running[job.id]
        status, result, error = FAILED, None, None
        try:
            try:
                reply = await self.runner.run(
                    slot, job.kind, job.request or "{}", job.request_hash, job.time_limit,
                    self.hard_timeout(job.time_limit), cancel,
                )
            except TaskCancelled:
                if self.runner.kind == "processes":  # its solver process was replaced
                    self.metrics.worker_restarts.labels("cancelled").inc()
                return
            except TaskTimeout as exc:
                self.metrics.worker_restarts.labels("timeout").inc()
                error = {"status": 504, "code": "solve_timeout", "message": f"the job was {exc}"}
            except WorkerLost as exc:
                self.metrics.worker_restarts.labels("lost").inc()
                if not exc.started or job.attempts < self.settings.job_attempts:
                    await self.db(self.store.requeue, job.id, self.runner_id,
                                  f"re-queued: {exc}", exc.started)
                    return
                error = {"status": 500, "code": "worker_lost",
                         "message": f"{exc}; tried {counted(job.attempts, 'time')}"}
            else:
                self.metrics.solve_seconds.labels(
                    job.kind, "ok" if reply["ok"] else "error").observe(float(reply["seconds"]))
                if reply["ok"]:
                    status, result = DONE, reply["body"]
                else:
                    error = reply["error"]
            finished = await self.db(
                self.store.finish, job.id, self.runner_id, status, result,
                None if error is None else json.dumps(error),
            )
            if finished:
                self.metrics.jobs_finished.labels(job.kind, status).inc()
        except asyncio.CancelledError:
            raise
        except Exception:  # never lose the dispatcher to one job
            log.exception("job %s: unexpected error", job.id)
        finally:
            self._running.pop(job.id, None)
            await stack.aclose()
            if self._work is not None:
                self._work.set()

    async def _heartbeat_loop(self) -> None:
        period = max(0.5, min(10.0, self.settings.lease_seconds / 3))
        while not self._stopping:
            await asyncio.sleep(period)
            try:
                if self._running:
                    await self.db(self.store.heartbeat, self.runner_id,
                                  self.settings.lease_seconds)
                    for job_id, event in list(self._running.items()):
                        if await self.db(self.store.status_of, job_id) == CANCELLED:
                            event.set()
                requeued, failed = await self.db(self.store.recover, self.settings.job_attempts)
                if requeued or failed:
                    log.warning("jobs of a lost server: %d re-queued, %d failed", requeued, failed)
                    assert self._work is not None
                    self._work.set()
            except Exception as exc:  # the store is down: try again next beat
                log.error("heartbeat: %s", exc)
