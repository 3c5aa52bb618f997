"""Where solves run: a warm pool of local solver processes, or a Dask cluster.

Local pool: N solver processes forked from a fork server that has imported the engine and
solved a tiny instance once (so no request, and no replacement process, pays for imports or
warm-up), each serving tasks over a pipe. A task that outlives its
hard time limit, is cancelled, or kills its process is handled by killing and replacing that
one process; the others keep working. Waiting callers are served by priority (synchronous
solves before jobs), then in arrival order.

Dask: `--dask-scheduler` sends tasks through optimiser.executor.make_executor (the same path
as the sweeps); a hard time limit or cancel cancels the Dask future.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("optimiser.service.workers")

SPAWN_TIMEOUT = 180.0
SYNC_PRIORITY, JOB_PRIORITY = 0, 1
ACCEPTED = ("accepted",)  # a solver's acknowledgement: it holds the task from now on


class TaskTimeout(Exception):
    """The task outlived its hard time limit and was stopped."""


class TaskCancelled(Exception):
    """The task was cancelled (DELETE /v1/jobs/{id})."""


class WorkerLost(Exception):
    """The process running the task died (killed, out of memory, crashed)."""

    def __init__(self, message: str, started: bool = True) -> None:
        super().__init__(message)
        self.started = started  # False: it died before acknowledging the task


def _set_parent_death_signal() -> None:
    """Linux: die with the server even if it is killed with SIGKILL."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # best effort, other systems rely on the pipe's EOF
        pass


def worker_main(conn: Any) -> None:
    """A solver process: warm up, then answer (kind, request, key, time_limit) messages until
    EOF (the request is JSON text or a dict; see optimiser.service.tasks.run_task)."""
    _set_parent_death_signal()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s solver[%(process)d] %(message)s")
    from optimiser.service.tasks import run_task, warm_up

    warm_up()  # instant when forked from the warm fork server
    try:
        conn.send(("ready", os.getpid()))
        while True:
            try:
                kind, request, key, time_limit = conn.recv()
            except (EOFError, OSError):
                return
            conn.send(ACCEPTED)
            reply = run_task(kind, request, key, time_limit)
            conn.send(reply)
    except (BrokenPipeError, EOFError, OSError, KeyboardInterrupt):
        return


class _Slots:
    """Items (workers or permits) handed out by priority, then first come first served."""

    def __init__(self) -> None:
        self._free: list[Any] = []
        self._waiters: list[tuple[int, int, asyncio.Future[Any]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(1 for _, _, f in self._waiters if not f.done())

    @property
    def free(self) -> int:
        return len(self._free)

    def put(self, item: Any) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(item)
                return
        self._free.append(item)

    def discard(self, item: Any) -> None:
        if item in self._free:
            self._free.remove(item)

    async def get(self, priority: int) -> Any:
        if self._free and not self.waiting:
            return self._free.pop()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.put(future.result())
            raise


@dataclass(eq=False)
class _Worker:
    process: Any
    conn: Any
    pid: int
    started: float = field(default_factory=time.monotonic)
    dead: bool = False


class Runner:
    """What the service needs from an executor."""

    size: int
    ready: bool = False
    kind: str = "runner"

    async def start(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def closing(self) -> None:
        """The server is stopping: do not replace solvers any more."""

    async def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def slot(self, priority: int) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    async def run(
        self,
        slot: Any,
        kind: str,
        request: Any,
        key: str | None,
        time_limit: float | None,
        hard_timeout: float,
        cancel: asyncio.Event | None = None,
    ) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def busy(self) -> int:  # pragma: no cover - interface
        return 0

    @property
    def waiting(self) -> int:  # pragma: no cover - interface
        return 0


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _wait_for(
    done: asyncio.Future[Any], hard_timeout: float, cancel: asyncio.Event | None
) -> str:
    """'done', 'timeout' or 'cancelled', whichever comes first."""
    waits: set[asyncio.Future[Any]] = {done}
    cancel_task = None
    if cancel is not None:
        cancel_task = asyncio.ensure_future(cancel.wait())
        waits.add(cancel_task)
    try:
        finished, _ = await asyncio.wait(waits, timeout=hard_timeout, return_when="FIRST_COMPLETED")
    finally:
        if cancel_task is not None:
            cancel_task.cancel()
    if done in finished:
        return "done"
    if cancel_task is not None and cancel_task in finished:
        return "cancelled"
    return "timeout"


def start_fork_server() -> None:
    """Start the warm fork server now (it imports the engine in parallel with whatever this
    process does next); harmless where there is no fork server."""
    context = _solver_context()
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _solver_context() -> Any:
    """Fork server where available (Linux): solver processes are forked from a process that
    has imported the engine and solved once (optimiser.service.prewarm), so starting or
    replacing one takes milliseconds. Elsewhere: spawn (each process imports and warms up)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["optimiser.service.prewarm"])
        return context
    return multiprocessing.get_context("spawn")


class ProcessPool(Runner):
    """N warm solver processes on this machine."""

    kind = "processes"

    def __init__(self, size: int) -> None:
        self.size = size
        self._slots = _Slots()
        self._workers: set[_Worker] = set()
        self._context = _solver_context()
        self._closing = False
        self._spawning: set[asyncio.Task[None]] = set()
        self.restarts = 0

    @property
    def busy(self) -> int:
        return len(self._workers) - self._slots.free

    def closing(self) -> None:
        self._closing = True

    @property
    def waiting(self) -> int:
        return self._slots.waiting

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn() for _ in range(self.size)))
        self.ready = len(self._workers) > 0

    async def _spawn(self) -> None:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=worker_main, args=(child,), name="triage-solver", daemon=True
        )
        await asyncio.to_thread(process.start)
        child.close()
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()
        loop.add_reader(parent.fileno(), _wake, readable)
        try:
            await asyncio.wait_for(readable, SPAWN_TIMEOUT)
            message = parent.recv()
        except (TimeoutError, EOFError, OSError) as exc:
            log.error("a solver process failed to start: %r", exc)
            process.kill()
            parent.close()
            return
        finally:
            with contextlib.suppress(Exception):
                loop.remove_reader(parent.fileno())
        if self._closing or message[0] != "ready":
            process.kill()
            parent.close()
            return
        worker = _Worker(process, parent, int(message[1]))
        self._workers.add(worker)
        self.ready = True
        self._slots.put(worker)

    def _replace(self, worker: _Worker) -> None:
        """Kill a worker (its task is abandoned) and start another in its place."""
        worker.dead = True
        self._workers.discard(worker)
        self._slots.discard(worker)
        with contextlib.suppress(Exception):
            worker.process.kill()
            worker.process.join(timeout=5)
        with contextlib.suppress(Exception):
            worker.conn.close()
        if not self._closing:
            self.restarts += 1
            task = asyncio.get_running_loop().create_task(self._spawn())
            self._spawning.add(task)
            task.add_done_callback(self._spawning.discard)

    @asynccontextmanager
    async def slot(self, priority: int) -> AsyncIterator[_Worker]:
        while True:
            worker: _Worker = await self._slots.get(priority)
            if worker.process.is_alive():
                break
            log.warning("solver process %d died while idle; replacing it", worker.pid)
            self._replace(worker)  # died while idle: do not give it a task
        try:
            yield worker
        finally:
            if not worker.dead and not self._closing:
                self._slots.put(worker)

    async def run(
        self,
        slot: _Worker,
        kind: str,
        request: Any,
        key: str | None,
        time_limit: float | None,
        hard_timeout: float,
        cancel: asyncio.Event | None = None,
    ) -> dict[str, Any]:
        worker = slot
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        fd = worker.conn.fileno()
        loop.add_reader(fd, readable.set)
        deadline = loop.time() + hard_timeout
        accepted = False  # the solver acknowledged the task: a loss from now counts as a run
        outcome = "lost"
        try:
            try:
                worker.conn.send((kind, request, key, time_limit))
            except (BrokenPipeError, OSError) as exc:
                raise WorkerLost(f"solver process {worker.pid} died before taking the task "
                                 f"({exc})", started=False) from None
            while True:
                readable.clear()
                # poll before recv: a wake-up can be stale (the reader callback may run once
                # more after a message was read), and recv on an empty pipe would block the loop
                if not worker.conn.poll():
                    waiter = asyncio.ensure_future(readable.wait())
                    try:
                        waited = await _wait_for(waiter, max(0.0, deadline - loop.time()), cancel)
                    finally:
                        waiter.cancel()
                    if waited == "cancelled":
                        outcome = waited
                        raise TaskCancelled()
                    if waited == "timeout":
                        outcome = waited
                        raise TaskTimeout(
                            f"stopped after its hard time limit of {hard_timeout:g} s")
                    continue
                try:
                    message: Any = worker.conn.recv()
                except (EOFError, OSError):
                    code = worker.process.exitcode
                    raise WorkerLost(
                        f"solver process {worker.pid} died (exit code {code})", started=accepted
                    ) from None
                if message == ACCEPTED:
                    accepted = True
                    continue
                outcome = "done"
                reply: dict[str, Any] = message
                return reply
        finally:
            with contextlib.suppress(Exception):
                loop.remove_reader(fd)
            if outcome != "done":  # cancelled, timed out, lost, or we were cancelled ourselves
                self._replace(worker)

    async def close(self) -> None:
        self._closing = True
        for task in list(self._spawning):
            task.cancel()
        for worker in list(self._workers):
            with contextlib.suppress(Exception):
                worker.conn.close()
            with contextlib.suppress(Exception):
                worker.process.kill()
        for worker in list(self._workers):
            with contextlib.suppress(Exception):
                await asyncio.to_thread(worker.process.join, 5)
        self._workers.clear()
        self.ready = False


class DaskRunner(Runner):
    """Tasks on a Dask cluster through optimiser.executor.make_executor."""

    kind = "dask"

    def __init__(self, scheduler: Any, size: int) -> None:
        self.scheduler = scheduler
        self.size = size
        self._slots = _Slots()
        self._manager: AbstractContextManager[Any] | None = None
        self._executor: Any = None
        self._busy = 0

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def waiting(self) -> int:
        return self._slots.waiting

    async def start(self) -> None:
        from optimiser.executor import make_executor

        manager = make_executor(self.scheduler)
        self._executor = await asyncio.to_thread(manager.__enter__)
        self._manager = manager
        for i in range(self.size):
            self._slots.put(i)
        self.ready = True

    @asynccontextmanager
    async def slot(self, priority: int) -> AsyncIterator[int]:
        permit = await self._slots.get(priority)
        self._busy += 1
        try:
            yield permit
        finally:
            self._busy -= 1
            self._slots.put(permit)

    async def run(
        self,
        slot: Any,
        kind: str,
        request: Any,
        key: str | None,
        time_limit: float | None,
        hard_timeout: float,
        cancel: asyncio.Event | None = None,
    ) -> dict[str, Any]:
        from optimiser.service.tasks import run_task

        if self._executor is None:
            raise WorkerLost("the Dask cluster is not connected")
        future = self._executor.submit(run_task, kind, request, key, time_limit)
        wrapped = asyncio.wrap_future(future)
        try:
            outcome = await _wait_for(wrapped, hard_timeout, cancel)
        except asyncio.CancelledError:
            future.cancel()
            raise
        if outcome == "done":
            try:
                return wrapped.result()
            except Exception as exc:  # a lost Dask worker, a cancelled future
                raise WorkerLost(f"the Dask task failed: {type(exc).__name__}: {exc}") from None
        future.cancel()
        if outcome == "cancelled":
            raise TaskCancelled()
        raise TaskTimeout(f"stopped after its hard time limit of {hard_timeout:g} s")

    async def close(self) -> None:
        self.ready = False
        if self._manager is not None:
            manager, self._manager = self._manager, None
            with contextlib.suppress(Exception):
                await asyncio.to_thread(manager.__exit__, None, None, None)
