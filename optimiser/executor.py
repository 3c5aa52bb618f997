"""One executor path for parallel work (sweeps, service jobs): local processes or Dask.

`make_executor()` yields a concurrent.futures.Executor: on this machine a LocalExecutor over
optimiser.process_pool.ProcessPool (the pool the service's solvers use: a worker that dies
fails only the task it held, with WorkerLost, and is replaced; workers die with this process
even on kill -9), or, given a scheduler address, a Dask cluster's executor
(distributed.Client's `get_executor()`), so callers submit work the same way either way.
`connect_dask()` is the one way to reach a scheduler (sweeps and `triage serve`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from optimiser.errors import InputError, Problem
from optimiser.process_pool import ProcessPool, WorkerLost

__all__ = [
    "LocalExecutor",
    "SchedulerProblem",
    "WorkerLost",
    "connect_dask",
    "default_workers",
    "make_executor",
    "scheduler_problem",
]

DASK_TIMEOUT = 10.0  # seconds to reach a --dask-scheduler and hear it answer as one


def default_workers() -> int:
    return max(
        1,
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
    )


class LocalExecutor(Executor):
    """concurrent.futures.Executor over a ProcessPool whose event loop runs in a thread.

    A task whose worker dies ends with WorkerLost (`started` False if the worker died before
    taking it); the other tasks go on. shutdown(cancel_futures=True) cancels the tasks not
    started; with wait=True the running ones finish first; then the workers are stopped."""

    def __init__(self, workers: int, initializer: Callable[[], None] | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="triage-pool-loop", daemon=True
        )
        self._thread.start()
        self._pool = ProcessPool(workers, initializer=initializer)
        self._futures: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._shutdown = False
        try:
            self._call(self._pool.start())
        except BaseException:
            self.shutdown(wait=False)
            raise
        if not self._pool.ready:
            self.shutdown(wait=False)
            raise WorkerLost("no worker process could start", started=False)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    @property
    def pids(self) -> list[int]:
        return self._pool.pids

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._futures.add(future)
        future.add_done_callback(self._forget)
        asyncio.run_coroutine_threadsafe(self._run(future, fn, args, kwargs), self._loop)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._futures.discard(future)

    async def _run(self, future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> None:
        if future.cancelled():
            return
        try:
            async with self._pool.slot() as worker:
                if not future.set_running_or_notify_cancel():
                    return
                try:
                    result = await self._pool.run(worker, fn, *args, **kwargs)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
        except asyncio.CancelledError:  # the pool is closing
            if not future.done():
                if future.running():
                    future.set_exception(WorkerLost("stopped with the pool", started=False))
                else:
                    future.cancel()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            futures = list(self._futures)
        if cancel_futures:
            for future in futures:
                future.cancel()  # only those not running yet
        if wait:
            for future in futures:
                if not future.cancelled():
                    with contextlib.suppress(BaseException):  # cancelled meanwhile
                        future.exception()
        if self._loop.is_running():
            try:
                self._call(self._close())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join()
        if not self._loop.is_closed() and not self._loop.is_running():
            self._loop.close()

    async def _close(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        await self._pool.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextmanager
def make_executor(
    scheduler: Any = None,
    workers: int | None = None,
    initializer: Callable[[], None] | None = None,
) -> Iterator[Executor]:
    """Yield an executor; closes it (and any Dask client it opened) on exit.

    scheduler: None for local processes, or a Dask scheduler address ("tcp://HOST:PORT"),
    or an existing distributed.Client / LocalCluster object."""
    if scheduler is None:
        pool = LocalExecutor(workers or default_workers(), initializer)
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    from distributed import Client

    client: Any
    own = False
    if isinstance(scheduler, str):
        client = connect_dask(scheduler)
        own = True
    elif hasattr(scheduler, "get_executor"):
        client = scheduler
    else:  # a LocalCluster or similar
        client = Client(scheduler, set_as_default=False)
        own = True
    try:
        yield client.get_executor(pure=False)
    finally:
        if own:
            client.close()


@dataclass(frozen=True)
class SchedulerProblem:
    """Why an address is not a Dask scheduler we can use now. `fatal`: it never will be (a
    malformed address, another program answering); otherwise it may not be up yet."""

    reason: str
    fatal: bool


def scheduler_problem(address: str, timeout: float | None = None) -> SchedulerProblem | None:
    """None if a Dask scheduler answers at `address` within `timeout` seconds.

    A Dask scheduler writes its handshake as soon as a connection opens: the message's length
    and its frame count (8 bytes each, little-endian), then the frames' lengths. Anything else
    listening there (a web server, a database) says nothing or something else, which Dask's
    own client would read as lengths (one such read asked for 3 EiB of memory)."""
    timeout = DASK_TIMEOUT if timeout is None else timeout
    try:
        from distributed.comm.addressing import parse_address, parse_host_port

        scheme, location = parse_address(address)
        if scheme == "inproc":
            return None
        host, port = parse_host_port(location)
    except (TypeError, ValueError) as exc:
        return SchedulerProblem(
            f"not a scheduler address ({exc}); expected tcp://HOST:PORT", fatal=True)
    if scheme != "tcp":
        return None  # tls (encrypted handshake), ucx...: Dask's client checks those itself
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            data = b""
            while len(data) < 16:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(16 - len(data))
                if not chunk:
                    return SchedulerProblem(
                        "the connection was closed without a Dask handshake (not a Dask "
                        "scheduler)", fatal=True)
                data += chunk
    except TimeoutError:
        return SchedulerProblem(
            f"nothing answered as a Dask scheduler within {timeout:g} s", fatal=False)
    except OSError as exc:
        return SchedulerProblem(f"cannot connect ({exc.strerror or exc})", fatal=False)
    length, frames = struct.unpack("<QQ", data)
    if not (1 <= frames <= 1024 and 8 + 8 * frames <= length <= 1 << 30):
        return SchedulerProblem("something else listens there (not a Dask scheduler)",
                                fatal=True)
    return None


def connect_dask(
    address: str, timeout: float | None = None, what: str = "--dask-scheduler", note: str = ""
) -> Any:
    """A distributed.Client connected to `address` (tcp://HOST:PORT) within `timeout` seconds
    (default DASK_TIMEOUT); InputError when the address is malformed, nothing answers there,
    or what answers is not a Dask scheduler (`note` ends the message). Never a traceback."""
    timeout = DASK_TIMEOUT if timeout is None else timeout
    try:
        from distributed import Client
    except ImportError as exc:
        raise InputError(Problem(f"{what} needs the 'distributed' package ({exc})")) from None
    started = time.monotonic()
    problem = scheduler_problem(address, timeout)
    if problem is not None:
        raise InputError(Problem(f"{what} {address}: {problem.reason}{note}"))
    left = max(1.0, timeout - (time.monotonic() - started))
    try:
        return Client(address, set_as_default=False, timeout=f"{left:g}s")
    except Exception as exc:  # OSError, TimeoutError, a protocol error: all one message
        raise InputError(
            Problem(f"{what} {address}: cannot connect ({type(exc).__name__}: {exc}){note}")
        ) from None
