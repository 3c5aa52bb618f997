"""Running a sweep: variants in chunks, in parallel, persisted incrementally, resumable.

Output folder (docs/sweeps.md):

    manifest.json            the spec, its hash, the instance fingerprint, versions, progress
    parts/chunk-000012/      one finished chunk (variants.parquet, regions.parquet), written
                             into a temporary folder and renamed: a chunk is there whole or not
    variants.parquet/.csv    when complete: one row per variant
    regions.parquet/.csv     when complete: one row per variant and region

Running the same sweep into the same folder again resumes it: finished chunks are kept and
only the others are solved. A folder holding a different sweep is refused, never overwritten.
The folder is read and written by optimiser/sweeps/folder.py; the plan of the variants and
their chunks is made by optimiser/sweeps/variants.py. Local worker processes die with the
sweep process; one that dies during the sweep is replaced and its chunk solved again
(`_run_local`, on optimiser.executor's process pool).
"""

from __future__ import annotations

import contextlib
import platform
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.fairness import ConstraintSpec
from optimiser.arguments import check_switches
from optimiser.errors import InputError, Problem, TriageError, counted, option_problem
from optimiser.executor import WorkerLost, connect_dask, default_workers, make_executor
from optimiser.instance import Instance
from optimiser.solver import solver_versions
from optimiser.sweeps.fast import (
    SweepPlan,
    VariantOutcome,
    _record,
    empty_regions,
    run_chunk,
    variant_constraints,
    variant_frame,
)

# Re-exported (hence the noqa): MAX_CHUNK and load_sweep (callers import them from here)
from optimiser.sweeps.folder import (  # noqa: F401
    FORMAT,
    SweepFolder,
    SweepResult,
    load_sweep,
)
from optimiser.sweeps.spec import Dimension
from optimiser.sweeps.variants import (  # noqa: F401
    MAX_CHUNK,
    _order,
    build_plan,
    chunks_of,
    default_chunk_size,
)

IN_PROCESS_BELOW = 200  # smaller sweeps run in this process unless workers are asked for
WORKER_DEATHS = 2  # a chunk whose worker dies this often when run alone is recorded as failed
STATUSES = (
    "optimal", "time_limit", "iteration_limit", "infeasible", "failed", "error", "unbounded"
)


class SweepInterrupted(TriageError):
    """Stopped before the end; finished chunks are kept in the output folder."""

    exit_code = 130


class SweepIncomplete(TriageError):
    """Some chunks could not be run (a worker died); the rest is kept, run again to retry."""

    exit_code = 4


def _versions() -> dict[str, str]:
    import optimiser

    versions = solver_versions()
    return {
        "engine": getattr(optimiser, "__version__", "unknown"),
        "highs": versions["highs"],
        "highspy": versions["highspy"],
        "pyomo": versions["pyomo"],
        "python": platform.python_version(),
    }


# ---------------------------------------------------------------------------------------------
# Running


def _finish(
    plan: SweepPlan, table: pd.DataFrame, variants: list[pd.DataFrame], regions: list[pd.DataFrame]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = [v for v in variants if len(v)]
    v = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({"variant": pd.Series(dtype=np.int64)})
    )
    v = v.sort_values("variant", kind="stable").reset_index(drop=True)
    for col in ("units_sent", "unallocated"):
        if col in v:
            v[col] = v[col].astype("Int64")
    r_frames = [r for r in regions if len(r)]
    r = pd.concat(r_frames, ignore_index=True) if r_frames else empty_regions(plan)
    r["region"] = pd.Categorical(r["region"].astype(str), categories=plan.instance.region_ids)
    r = r.sort_values(["variant"], kind="stable").reset_index(drop=True)
    return v, r


def _counts(variants: pd.DataFrame) -> dict[str, int]:
    if "status" not in variants:
        return {}
    return {str(k): int(n) for k, n in variants["status"].value_counts().sort_index().items()}


def run_sweep(
    instance: Instance,
    vary: Mapping[str, Any] | Sequence[str] | Sequence[Dimension],
    *,
    samples: int | None = None,
    seed: int = 0,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    default_constraints: bool = True,
    price_of_fairness: bool = False,
    tie_break: bool = False,
    time_limit: float | None = None,
    mode: str = "fast",
    design: pd.DataFrame | None = None,
    out: str | Path | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    chunk_size: int | None = None,
    progress: bool = False,
    max_chunks: int | None = None,
    greedy: bool = True,
) -> SweepResult:
    """Run a sweep (see `sweep`); returns both tables and the manifest.

    max_chunks: solve at most this many new chunks, then stop (SweepInterrupted): a budgeted
    run that a later call resumes. A Dask scheduler address is connected to before anything
    is written (an unreachable or malformed address: InputError, nothing written).
    """
    check_switches(
        default_constraints=default_constraints,
        price_of_fairness=price_of_fairness,
        tie_break=tie_break,
        progress=progress,
        greedy=greedy,
    )
    plan, table, spec = build_plan(
        instance,
        vary,
        samples=samples,
        seed=seed,
        constraints=constraints,
        default_constraints=default_constraints,
        price_of_fairness=price_of_fairness,
        tie_break=tie_break,
        time_limit=time_limit,
        mode=mode,
        design=design,
        greedy=greedy,
    )
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise InputError(option_problem("workers", f"must be a whole number >= 1, got {workers!r}"))
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise InputError(Problem(f"chunk size must be a whole number >= 1, got {chunk_size!r}"))
    client = (
        connect_dask(scheduler, note="; nothing was written")
        if isinstance(scheduler, str)
        else None
    )
    try:
        return _run(
            plan,
            table,
            spec,
            out=out,
            workers=workers,
            scheduler=client if client is not None else scheduler,
            chunk_size=chunk_size,
            progress=progress,
            max_chunks=max_chunks,
        )
    finally:
        if client is not None:
            client.close()


def _run(
    plan: SweepPlan,
    table: pd.DataFrame,
    spec: dict[str, Any],
    *,
    out: str | Path | None,
    workers: int | None,
    scheduler: Any,
    chunk_size: int | None,
    progress: bool,
    max_chunks: int | None,
) -> SweepResult:
    instance = plan.instance
    n = len(table)
    store = SweepFolder(Path(out)) if out is not None else None
    stored = store.open(spec, plan.key) if store is not None else None
    if stored is not None and stored.get("status") == "complete" and store is not None:
        final = store.read_final()
        if final is not None:
            return SweepResult(final[0], final[1], stored, store.out, 0)
    size = (
        int(stored["chunk_size"]) if stored is not None else (chunk_size or default_chunk_size(n))
    )
    chunks = chunks_of(_order(plan, table), size)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "spec_hash": plan.key,
        "spec": spec,
        "instance_path": None if instance.path is None else str(instance.path),
        "variants": n,
        "chunk_size": size,
        "chunks": len(chunks),
        "status": "running",
        "created": stored.get("created")
        if stored
        else datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
    }
    done = store.done_chunks() if store is not None else set()
    if store is not None:
        store.write_manifest(manifest)
    todo = [c for c in range(len(chunks)) if c not in done]
    todo_now = todo[:max_chunks] if max_chunks is not None else todo
    records: list[dict[str, Any]] = table.to_dict("records")  # type: ignore[assignment]
    variants_parts: list[pd.DataFrame] = []
    regions_parts: list[pd.DataFrame] = []
    failures: list[str] = []
    t0 = time.perf_counter()
    solved = 0

    def accept(chunk: int, v: pd.DataFrame, r: pd.DataFrame) -> None:
        nonlocal solved
        if store is not None:
            store.write_chunk(chunk, v, r)
        else:
            variants_parts.append(v)
            regions_parts.append(r)
        solved += len(v)

    bar = _progress(progress, n, sum(len(chunks[c]) for c in done), instance.name)
    try:
        if todo_now:
            jobs = [(c, chunks[c], [records[i] for i in chunks[c]]) for c in todo_now]
            in_process = scheduler is None and (
                workers == 1
                or (
                    workers is None
                    and (
                        sum(len(j[1]) for j in jobs) < IN_PROCESS_BELOW
                        or _all_greedy(plan, [row for j in jobs for row in j[2]])
                    )
                )
            )
            if in_process:
                for c, ids, rows in jobs:
                    _, v, r = run_chunk(plan, c, ids, rows)
                    accept(c, v, r)
                    bar.update(len(ids))
            elif scheduler is None:
                _run_local(plan, jobs, workers or default_workers(), accept, bar, failures)
            else:
                _run_dask(plan, jobs, scheduler, accept, bar, failures)
    except KeyboardInterrupt:
        bar.close()
        left = n - solved - sum(len(chunks[c]) for c in done)
        where = (
            f"; finished chunks are kept in {store.out}, run the same sweep again to resume"
            if store
            else ""
        )
        raise SweepInterrupted(f"interrupted with {left:,} of {n:,} variants left{where}") from None
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0
    if failures:
        raise SweepIncomplete(
            f"{counted(len(failures), 'chunk')} could not be run ({failures[0]})"
            + (
                f"; the others are kept in {store.out}, run the same sweep again to retry"
                if store
                else ""
            )
        )
    if len(todo_now) < len(todo):
        left = sum(len(chunks[c]) for c in todo[len(todo_now) :])
        raise SweepInterrupted(
            f"stopped after {counted(len(todo_now), 'chunk')} as asked, {left:,} of {n:,} "
            "variants left"
            + (f"; run the same sweep again into {store.out} to resume" if store else "")
        )
    if store is not None:
        variants_parts, regions_parts = store.read_chunks(range(len(chunks)))
    v, r = _finish(plan, table, variants_parts, regions_parts)
    manifest.update(
        {
            "status": "complete",
            "completed": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds_last_run": round(elapsed, 3),
            "solved_last_run": solved,
            "counts": _counts(v),
        }
    )
    if store is not None:
        store.write_final(v, r)
        store.write_manifest(manifest)
        shutil.rmtree(store.parts, ignore_errors=True)
    return SweepResult(v, r, manifest, None if store is None else store.out, solved)


def _progress(enabled: bool, total: int, initial: int, name: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="variant",
        desc=f"sweep {name}",
        disable=None if enabled else True,  # None: shown on a terminal only
        dynamic_ncols=True,
        smoothing=0.1,
    )


Job = tuple[int, list[int], list[dict[str, Any]]]  # chunk, variant ids, their values
Accept = Callable[[int, pd.DataFrame, pd.DataFrame], None]


def _all_greedy(plan: SweepPlan, rows: list[dict[str, Any]]) -> bool:
    """Does the exact greedy solve every variant? Then this process is faster than a pool
    (about 0.5 ms a variant against the pool's start-up: 0.12 s against 2.4 s for 286
    lives-only variants of us-states-2020), and a script needs no `__main__` guard."""
    return all(
        plan.uses_greedy(variant_constraints(plan.constraints, plan.dims, row)) for row in rows
    )


def _died_rows(plan: SweepPlan, job: Job, deaths: int) -> pd.DataFrame:
    """Failed rows for every variant of a chunk whose worker process keeps dying."""
    c, ids, rows = job
    reason = (
        f"the worker process solving chunk {c} died {deaths} times while solving it "
        "(killed, or crashed: e.g. out of memory); recorded as failed"
    )
    records = [
        _record(plan, vid, values, VariantOutcome("failed", reason=reason, path=plan.mode))
        for vid, values in zip(ids, rows, strict=True)
    ]
    return variant_frame(records)


def _run_local(
    plan: SweepPlan,
    jobs: list[Job],
    workers: int,
    accept: Accept,
    bar: Any,
    failures: list[str],
) -> None:
    """Chunks on local worker processes (optimiser.executor: the project's one process pool),
    at most one chunk per worker at a time.

    A worker that dies fails only the chunk it was solving (WorkerLost); it is replaced and
    the chunk is run again; a chunk whose worker dies WORKER_DEATHS times is recorded as
    failed and the sweep goes on. If no chunk has finished at all by then, the workers
    themselves are broken (they die whatever they run): the sweep stops there (failures),
    nothing is recorded as failed and a rerun retries. On an interrupt, the chunks running
    are finished and kept; the others are not started.
    """
    queue: deque[Job] = deque(jobs)
    deaths: dict[int, int] = {}
    running: dict[Future[Any], Job] = {}
    finished_any = False
    with make_executor(None, workers) as executor:

        def fill() -> None:
            while queue and len(running) < workers:
                job = queue.popleft()
                running[executor.submit(run_chunk, plan, *job)] = job

        def collect(future: Future[Any], job: Job) -> bool:
            """Record a finished chunk; False when it must run again."""
            nonlocal finished_any
            c, ids, _ = job
            try:
                _, v, r = future.result()
            except WorkerLost as exc:
                if not exc.started:  # died before taking it: not this chunk's doing
                    queue.appendleft(job)
                    return False
                deaths[c] = deaths.get(c, 0) + 1
                if deaths[c] < WORKER_DEATHS:
                    queue.appendleft(job)
                    return False
                if not finished_any:  # no worker has finished anything: not this chunk's fault
                    raise _WorkersBroken(
                        f"chunk {c}: the worker processes died {deaths[c]} times before "
                        "finishing any chunk"
                    ) from None
                accept(c, _died_rows(plan, job, deaths[c]), empty_regions(plan))
            except Exception as exc:
                failures.append(f"chunk {c}: {type(exc).__name__}: {exc}")
            else:
                accept(c, v, r)
                finished_any = True
            bar.update(len(ids))
            return True

        try:
            fill()
            while running:
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    collect(future, running.pop(future))
                fill()
        except _WorkersBroken as exc:
            failures.append(str(exc))
            executor.shutdown(wait=False, cancel_futures=True)
        except BaseException:
            executor.shutdown(wait=True, cancel_futures=True)  # chunks already running finish
            for future, job in running.items():  # keep those that finished
                if future.done() and not future.cancelled():
                    with contextlib.suppress(Exception):  # keeping results is best effort
                        collect(future, job)
            raise


class _WorkersBroken(Exception):
    """Worker processes die whatever they run."""


def _run_dask(
    plan: SweepPlan,
    jobs: list[Job],
    scheduler: Any,
    accept: Accept,
    bar: Any,
    failures: list[str],
) -> None:
    """Chunks on a Dask cluster (it retries tasks whose worker died by itself)."""
    with make_executor(scheduler) as executor:
        _run_all(executor, plan, jobs, accept, bar, failures)


def _run_all(
    executor: Executor,
    plan: SweepPlan,
    jobs: list[Job],
    accept: Accept,
    bar: Any,
    failures: list[str],
) -> None:
    pending: dict[Future[Any], Job] = {}
    for job in jobs:
        pending[executor.submit(run_chunk, plan, *job)] = job

    def collect(future: Future[Any]) -> None:
        c, ids, _ = pending.pop(future)
        try:
            _, v, r = future.result()
        except Exception as exc:
            failures.append(f"chunk {c}: {type(exc).__name__}: {exc}")
        else:
            accept(c, v, r)
        bar.update(len(ids))

    try:
        while pending:
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in finished:
                collect(future)
    except BaseException:
        for future in list(pending):
            if future.done() and not future.cancelled():  # finished meanwhile: keep it
                with contextlib.suppress(Exception):  # keeping results is best effort
                    collect(future)
            else:
                future.cancel()
        raise


def sweep(
    instance: Instance,
    vary: Mapping[str, Any] | Sequence[str],
    samples: int | None = None,
    seed: int = 0,
    price_of_fairness: bool = False,
    **options: Any,
) -> pd.DataFrame:
    """Solve the instance for every variant of `vary`; one row per variant.

        optimiser.sweep(inst, vary={"supply": "500:3000:100", "per_capita_floor.share": "0:1:0.1"})

    vary: {input: values} or a list of `--vary` texts (docs/sweeps.md): supply, horizon_days,
    KIND.PARAM (a constraint parameter; the constraint becomes active), COLUMN* (a regions.csv
    column scaled by a factor; `COLUMN*@A,B` only those regions) or COLUMN (set to a value).
    samples/seed: a seeded uniform random sample of the ranges instead of the full grid.
    price_of_fairness: also solve without fairness constraints (lives_optimal, price columns).
    Other options (run_sweep): constraints, default_constraints, tie_break, time_limit, mode
    ('fast' | 'rebuild'), greedy (False: HiGHS even where the exact greedy applies), out (a
    folder: persisted, resumable), workers, scheduler (a Dask address or Client), chunk_size,
    progress.
    The per-region table: `run_sweep(...).regions`.
    """
    return run_sweep(
        instance, vary, samples=samples, seed=seed, price_of_fairness=price_of_fairness, **options
    ).variants
