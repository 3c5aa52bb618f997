"""budgets2: a solver process whose guarded HiGHS run was abandoned at its deadline is replaced
once its answer is sent, so that run burns no core after the answer.

Found before: at load 5-7 (three CPU hogs), `POST /v1/solve`'s task on 1,500 regions under
threshold(tau=0.2) with a 2 s budget answered in 1.85-1.94 s and its HiGHS thread ran on for
2.0-2.9 s more (HiGHS 1.15.1's MIP root LP checks neither its clock nor any callback:
interrupting it through highspy's interrupt callbacks or cancelSolve ended it no sooner,
2.1-2.6 s, measured). A thread cannot be stopped from outside; its process can: the worker
says so in its reply (process_pool.RETIRE) and the pool kills and replaces it (a warm fork:
milliseconds)."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from optimiser import process_pool
from optimiser.process_pool import ProcessPool

GRACE = 5.0  # seconds for a killed process to be reaped (SIGKILL, then join)


def abandon_a_run() -> int:
    """What a guarded solve leaves when HiGHS runs on past the answer: a "highs-run" thread
    in guarded_run's list of abandoned runs."""
    from optimiser import guarded_run

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, args=(600.0,), name="highs-run", daemon=True)
    thread.start()
    with guarded_run._lock:
        guarded_run._abandoned.append(thread)
    return os.getpid()


def answer() -> int:
    return os.getpid()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie is not running
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"


async def _run() -> tuple[int, int, int, int, list[int]]:
    pool = ProcessPool(1, name="budgets2-test")
    await pool.start()
    try:
        async with pool.slot() as worker:
            first = await pool.run(worker, answer)
        async with pool.slot() as worker:
            same = await pool.run(worker, answer)  # nothing abandoned: the worker stays
        async with pool.slot() as worker:
            left = await pool.run(worker, abandon_a_run)
        restarts = pool.restarts
        async with pool.slot() as worker:  # its replacement answers
            after = await pool.run(worker, answer)
        return first, same, left, after, [restarts, pool.restarts]
    finally:
        pool.closing()
        await pool.close()


def test_a_worker_with_an_abandoned_highs_run_is_replaced_after_its_answer() -> None:
    first, same, left, after, restarts = asyncio.run(_run())
    assert first == same == left  # the answer itself came back from that worker
    assert restarts == [1, 1]
    assert after != left
    end = time.monotonic() + GRACE
    while alive(left) and time.monotonic() < end:
        time.sleep(0.01)
    assert not alive(left)  # with it the abandoned run (before: it ran on)


def test_the_reply_says_retire_only_with_a_run_still_running() -> None:
    from optimiser import guarded_run

    assert process_pool._abandoned_highs_runs() == guarded_run.abandoned_runs() == 0
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="highs-run", daemon=True)
    thread.start()
    with guarded_run._lock:
        guarded_run._abandoned.append(thread)
    try:
        assert process_pool._abandoned_highs_runs() == 1
    finally:
        stop.set()
        thread.join()
    assert process_pool._abandoned_highs_runs() == 0


def abandon_and_answer_what_does_not_pickle() -> object:
    abandon_a_run()
    return lambda: None  # the reply cannot be sent: an error goes back instead


async def _run_unpicklable() -> tuple[str, int]:
    pool = ProcessPool(1, name="budgets2-test-pickle")
    await pool.start()
    try:
        async with pool.slot() as worker:
            try:
                await pool.run(worker, abandon_and_answer_what_does_not_pickle)
                raised = ""
            except Exception as exc:  # the worker's error, whatever its type
                raised = str(exc)
        return raised, pool.restarts
    finally:
        pool.closing()
        await pool.close()


def test_a_worker_whose_reply_does_not_pickle_is_still_replaced() -> None:
    raised, restarts = asyncio.run(_run_unpicklable())
    assert raised  # the caller hears of it
    assert restarts == 1  # and the worker with the abandoned run is gone (before: kept)
