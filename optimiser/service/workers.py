"""Where solves run: a warm pool of local solver processes, or a Dask cluster.

Local: optimiser.process_pool.ProcessPool (the project's one process pool, shared with the
sweeps), warm: its workers are forked from a fork server that has imported the engine and
solved a tiny instance once (optimiser.service.prewarm), so no request, and no replacement
process, pays for imports or warm-up. A task that outlives its hard time limit, is cancelled,
or kills its process is handled by killing and replacing that one process; the others keep
working. Waiting callers are served by priority (synchronous solves before jobs), then in
arrival order. Solver processes die with the server, even on kill -9.

Dask: `--dask-scheduler` sends tasks through optimiser.executor (the same path as the sweeps);
a hard time limit or cancel cancels the Dask future.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any

from optimiser.process_pool import (
    ProcessPool,
    Slots,
    TaskCancelled,
    TaskTimeout,
    WorkerLost,
    start_fork_server,
    wait_first,
)

__all__ = [
    "JOB_PRIORITY",
    "SYNC_PRIORITY",
    "DaskRunner",
    "ProcessRunner",
    "Runner",
    "TaskCancelled",
    "TaskTimeout",
    "WorkerLost",
    "start_solver_fork_server",
]

log = logging.getLogger("optimiser.service.workers")

SYNC_PRIORITY, JOB_PRIORITY = 0, 1
WARM_MODULES = ("optimiser.service.prewarm",)


def _warm_solver() -> None:
    """Each solver's initializer: one tiny solve (instant when forked warm)."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s solver[%(process)d] %(message)s")
    from optimiser.service.tasks import warm_up

    warm_up()


def start_solver_fork_server() -> None:
    """Start the solvers' warm fork server now (from the main thread: it imports the engine
    while the rest of the server loads)."""
    start_fork_server(WARM_MODULES)


class Runner:
    """What the service needs from an executor."""

    size: int
    ready: bool = False
    kind: str = "runner"
    restarts: int = 0

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


class ProcessRunner(Runner):
    """N warm solver processes on this machine (optimiser.process_pool)."""

    kind = "processes"

    def __init__(self, size: int) -> None:
        self.size = size
        self.pool = ProcessPool(size, warm_modules=WARM_MODULES, initializer=_warm_solver,
                                name="triage-solver")

    @property
    def ready(self) -> bool:  # type: ignore[override]
        return self.pool.ready

    @property
    def restarts(self) -> int:  # type: ignore[override]
        return self.pool.restarts

    @property
    def busy(self) -> int:
        return self.pool.busy

    @property
    def waiting(self) -> int:
        return self.pool.waiting

    async def start(self) -> None:
        await self.pool.start()

    def closing(self) -> None:
        self.pool.closing()

    async def close(self) -> None:
        await self.pool.close()

    def slot(self, priority: int) -> Any:
        return self.pool.slot(priority)

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

        reply: dict[str, Any] = await self.pool.run(
            slot, run_task, kind, request, key, time_limit, hard_timeout=hard_timeout,
            cancel=cancel,
        )
        return reply


class DaskRunner(Runner):
    """Tasks on a Dask cluster through optimiser.executor.make_executor."""

    kind = "dask"

    def __init__(self, scheduler: Any, size: int) -> None:
        self.scheduler = scheduler
        self.size = size
        self._slots = Slots()
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
            outcome = await wait_first(wrapped, hard_timeout, cancel)
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
