"""One executor path for parallel work (sweeps, service jobs): local processes or Dask.

`make_executor()` returns a concurrent.futures.Executor: a ProcessPoolExecutor on this machine
by default, or, given a scheduler address, a Dask cluster's executor (distributed.Client's
`get_executor()`), so callers submit work the same way either way.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any


def default_workers() -> int:
    return max(
        1,
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
    )


@contextmanager
def make_executor(scheduler: str | None = None, workers: int | None = None) -> Iterator[Executor]:
    """Yield an executor; closes it (and any Dask client) on exit.

    scheduler: None for local processes, or a Dask scheduler address ("tcp://HOST:PORT"),
    or an existing distributed.Client / LocalCluster object.
    """
    if scheduler is None:
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=workers or default_workers(), mp_context=context)
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    from distributed import Client

    client: Any
    own = False
    if isinstance(scheduler, str):
        client = Client(scheduler, set_as_default=False, timeout="10s")
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
