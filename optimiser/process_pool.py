"""The one local process pool of the project: the service's solvers and the sweeps' workers.

N worker processes, each with its own pipe. A task goes to one idle worker, which acknowledges
it before running it, so a death is always attributed to the task that worker held (or to no
task). A task that outlives its hard time limit, is cancelled, or kills its process is handled
by killing and replacing that one process; the other workers keep working. Callers wait for a
worker by priority (lower first), then in arrival order.

Workers die with their owner, even when it is killed with SIGKILL: on Linux each worker asks
for SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG), and a warm pool's fork server does
too (optimiser._pool_guard, preloaded into it), so a chain owner -> fork server -> worker
collapses within milliseconds. multiprocessing hands every child of the fork server a copy of
the fd whose end-of-file tells the fork server that its owner is gone; workers close that copy
at once, or the fork server would wait for them while they wait for it. An idle worker also
exits on end-of-file of its pipe.

Warm pools (`warm_modules`) fork their workers from multiprocessing's fork server after it has
imported those modules, so a worker starts (or is replaced) in milliseconds; otherwise workers
are spawned. optimiser.executor wraps this pool as a concurrent.futures.Executor (the sweeps);
the service drives it from its event loop (optimiser.service.workers).

Why not a library: concurrent.futures and loky break the whole pool when one worker dies and
cannot stop one running task; pebble (5.2) kills a single task's worker, but one idle worker
that dies (the out-of-memory killer) breaks its whole pool, and its workers share one channel
behind a cross-process lock that a worker killed at the wrong moment holds for 60 s.
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
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("optimiser.process_pool")

SPAWN_TIMEOUT = 180.0
ACCEPTED = ("accepted",)  # a worker's acknowledgement: it holds the task from now on
# added to a worker's reply when a HiGHS run it abandoned at its deadline (optimiser/guarded_run.py)
# is still running: the owner replaces the worker, so the run stops burning a core (budgets2)
RETIRE = "retire"
GUARD_MODULE = "optimiser._pool_guard"


class TaskTimeout(Exception):
    """The task outlived its hard time limit and was stopped."""


class TaskCancelled(Exception):
    """The task was cancelled; its worker was killed and replaced."""


class WorkerLost(Exception):
    """The process running the task died (killed, out of memory, crashed)."""

    def __init__(self, message: str, started: bool = True) -> None:
        super().__init__(message)
        self.started = started  # False: it died before acknowledging the task

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.started))


def die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent dies (even by SIGKILL), and it drops
    the fork server's liveness fd it inherited (see the module docstring). Elsewhere: best
    effort (idle workers exit on end-of-file of their pipe)."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
    from multiprocessing import forkserver

    server: Any = forkserver._forkserver
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:  # a child of the fork server
        with contextlib.suppress(OSError):
            os.close(alive)
        server._forkserver_alive_fd = None
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def worker_main(conn: Any, initializer: Callable[[], None] | None) -> None:
    """A worker: run the initializer, then answer (function, args, kwargs) messages with
    ("ok", value) or ("error", exception) until end-of-file."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if initializer is not None:
        initializer()
    try:
        conn.send(("ready", os.getpid()))
        while True:
            try:
                function, args, kwargs = conn.recv()
            except (EOFError, OSError):
                return
            conn.send(ACCEPTED)
            try:
                reply: tuple[Any, ...] = ("ok", function(*args, **kwargs))
            except Exception as exc:
                reply = ("error", exc)
            if _abandoned_highs_runs():
                reply = (*reply, RETIRE)
            try:
                conn.send(reply)
            except (OSError, EOFError):
                raise
            except Exception as exc:  # the value or the exception does not pickle
                conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}"), *reply[2:]))
    except (BrokenPipeError, EOFError, OSError, KeyboardInterrupt):
        return


def _abandoned_highs_runs() -> int:
    """HiGHS runs of this process abandoned at their deadline and still running (none when
    guarded_run was never imported)."""
    guard = sys.modules.get("optimiser.guarded_run")
    return 0 if guard is None else int(guard.abandoned_runs())


class Slots:
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
class Worker:
    process: Any
    conn: Any
    pid: int
    started: float = field(default_factory=time.monotonic)
    dead: bool = False


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def wait_first(
    done: asyncio.Future[Any], timeout: float | None, cancel: asyncio.Event | None
) -> str:
    """'done', 'timeout' or 'cancelled', whichever comes first."""
    waits: set[asyncio.Future[Any]] = {done}
    cancel_task = None
    if cancel is not None:
        cancel_task = asyncio.ensure_future(cancel.wait())
        waits.add(cancel_task)
    try:
        finished, _ = await asyncio.wait(waits, timeout=timeout, return_when="FIRST_COMPLETED")
    finally:
        if cancel_task is not None:
            cancel_task.cancel()
    if done in finished:
        return "done"
    if cancel_task is not None and cancel_task in finished:
        return "cancelled"
    return "timeout"


def worker_context(warm_modules: Sequence[str] = ()) -> Any:
    """The multiprocessing context of a pool: with `warm_modules`, the fork server (Linux),
    preloaded with the guard and those modules, so workers start warm in milliseconds;
    otherwise (or where there is no fork server) spawn."""
    if warm_modules and "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([GUARD_MODULE, *warm_modules])
        return context
    return multiprocessing.get_context("spawn")


def start_fork_server(warm_modules: Sequence[str]) -> None:
    """Start the warm fork server now, from this thread (it imports `warm_modules` while this
    process goes on). Call it from the main thread: the fork server dies with the thread that
    started it. Harmless where there is no fork server."""
    context = worker_context(warm_modules)
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


class ProcessPool:
    """`size` worker processes on this machine, driven from one asyncio event loop.

    warm_modules: imported once by a fork server the workers are forked from (see
    worker_context). initializer: run by each worker before its first task (a picklable
    module-level function)."""

    kind = "processes"

    def __init__(
        self,
        size: int,
        *,
        warm_modules: Sequence[str] = (),
        initializer: Callable[[], None] | None = None,
        name: str = "triage-worker",
    ) -> None:
        self.size = size
        self.warm_modules = tuple(warm_modules)
        self.initializer = initializer
        self.name = name
        self.ready = False
        self.restarts = 0
        self._slots = Slots()
        self._workers: set[Worker] = set()
        self._context = worker_context(self.warm_modules)
        self._closing = False
        self._spawning: set[asyncio.Task[None]] = set()

    @property
    def busy(self) -> int:
        return len(self._workers) - self._slots.free

    @property
    def waiting(self) -> int:
        return self._slots.waiting

    @property
    def pids(self) -> list[int]:
        return sorted(w.pid for w in self._workers)

    def closing(self) -> None:
        """The owner is stopping: workers killed from now on are not replaced."""
        self._closing = True

    async def start(self) -> None:
        if self._context.get_start_method() == "forkserver":
            start_fork_server(self.warm_modules)  # from the loop's thread (see there)
        await asyncio.gather(*(self._spawn() for _ in range(self.size)))
        self.ready = len(self._workers) > 0

    async def _spawn(self) -> None:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=worker_main, args=(child, self.initializer), name=self.name, daemon=True
        )
        # a fork server still importing blocks start(): keep the event loop free meanwhile
        await asyncio.to_thread(process.start)
        child.close()
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()
        loop.add_reader(parent.fileno(), _wake, readable)
        try:
            await asyncio.wait_for(readable, SPAWN_TIMEOUT)
            message = parent.recv()
        except (TimeoutError, EOFError, OSError) as exc:
            log.error("a worker process failed to start: %r", exc)
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
        worker = Worker(process, parent, int(message[1]))
        self._workers.add(worker)
        self.ready = True
        self._slots.put(worker)

    def _replace(self, worker: Worker) -> None:
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
    async def slot(self, priority: int = 0) -> AsyncIterator[Worker]:
        """An idle worker, held until the block ends."""
        while True:
            worker: Worker = await self._slots.get(priority)
            if worker.process.is_alive():
                break
            log.warning("worker process %d died while idle; replacing it", worker.pid)
            self._replace(worker)  # died while idle: do not give it a task
        try:
            yield worker
        finally:
            if not worker.dead and not self._closing:
                self._slots.put(worker)

    async def run(
        self,
        worker: Worker,
        function: Callable[..., Any],
        *args: Any,
        hard_timeout: float | None = None,
        cancel: asyncio.Event | None = None,
        **kwargs: Any,
    ) -> Any:
        """function(*args, **kwargs) on `worker`; its value, or the exception it raised.
        Raises TaskTimeout, TaskCancelled or WorkerLost (the worker is then replaced)."""
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        fd = worker.conn.fileno()
        loop.add_reader(fd, readable.set)
        deadline = None if hard_timeout is None else loop.time() + hard_timeout
        accepted = False  # the worker acknowledged the task: a loss from now counts as a run
        outcome = "lost"
        try:
            try:
                worker.conn.send((function, args, kwargs))
            except (BrokenPipeError, OSError) as exc:
                raise WorkerLost(f"worker process {worker.pid} died before taking the task "
                                 f"({exc})", started=False) from None
            while True:
                readable.clear()
                # poll before recv: a wake-up can be stale (the reader callback may run once
                # more after a message was read), and recv on an empty pipe would block the loop
                if not worker.conn.poll():
                    waiter = asyncio.ensure_future(readable.wait())
                    left = None if deadline is None else max(0.0, deadline - loop.time())
                    try:
                        waited = await wait_first(waiter, left, cancel)
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
                        f"worker process {worker.pid} died (exit code {code})", started=accepted
                    ) from None
                if message == ACCEPTED:
                    accepted = True
                    continue
                outcome = "done"
                status, value, *retire = message
                if retire:  # a HiGHS run it abandoned still runs: killed with its process
                    log.info("worker process %d replaced: an abandoned HiGHS run was still "
                             "running after its answer", worker.pid)
                    self._replace(worker)
                if status == "error":
                    raise value
                return value
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
