"""Where SAA's work runs (optimiser.stochastic.replications): one executor for a whole run
(`_Runner`: in this process, local processes or Dask, results in order whatever ran where), a
lost worker said in words (`_lost`), and a sample cut into chunks for the workers (`_chunks`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from typing import Any

from optimiser.errors import TriageError
from optimiser.scenarios.model import ScenarioSet


class _Runner:
    """One executor for a whole SAA run: every batch of tasks comes back in order, run in this
    process (workers=1) or on optimiser.executor (local processes, or a Dask scheduler). The
    results do not depend on where they ran. A progress bar on a terminal (`progress`)."""

    def __init__(self, workers: int | None, scheduler: Any, progress: bool) -> None:
        self.workers = workers
        self.scheduler = scheduler
        self.progress = progress
        self._stack = contextlib.ExitStack()
        self.pool: Any = None

    def __enter__(self) -> _Runner:
        if self.scheduler is not None or self.workers != 1:
            from optimiser.executor import WorkerLost, default_workers, make_executor

            self.count = self.workers or default_workers()
            try:
                self.pool = self._stack.enter_context(make_executor(self.scheduler, self.count))
            except WorkerLost as exc:
                raise _lost(exc) from None
        else:
            self.count = 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def run(
        self,
        tasks: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]],
        what: str,
        size: Callable[[Any], int] = lambda _: 1,
        total: int | None = None,
    ) -> list[Any]:
        from concurrent.futures import BrokenExecutor, as_completed

        from tqdm.auto import tqdm

        from optimiser.executor import WorkerLost

        bar = tqdm(
            total=total or len(tasks),
            desc=what,
            disable=None if self.progress else True,
            dynamic_ncols=True,
        )
        try:
            if self.pool is None:
                out = []
                for fn, args in tasks:
                    out.append(fn(*args))
                    bar.update(size(out[-1]))
                return out
            futures = [self.pool.submit(fn, *args) for fn, args in tasks]
            for future in as_completed(futures):
                bar.update(size(future.result()))
            return [f.result() for f in futures]
        except (BrokenExecutor, WorkerLost) as exc:
            raise _lost(exc) from None
        finally:
            bar.close()


def _lost(exc: BaseException) -> TriageError:
    return TriageError(
        f"a worker process died or could not start during SAA ({exc}); a script that "
        "starts workers needs an `if __name__ == '__main__':` guard"
    )


def _chunks(sample: ScenarioSet, parts: int) -> list[ScenarioSet]:
    """The scenarios in about `parts` consecutive chunks (about four per worker: a slow chunk
    does not hold the others back, as in optimiser.scenarios.evaluate)."""
    ids = sample.ids
    size = max(1, math.ceil(len(ids) / parts))
    return [sample.subset(ids[a : a + size]) for a in range(0, len(ids), size)]
