"""The hard end of a command's `--time-limit`: the `triage` program answers by its deadline.

`--time-limit S` of `solve`, `compare`, `plan`, `backtest`, `bedside allocate` and `scenarios
saa` is one budget from the start of the process (/proc/self/stat: the interpreter's start-up
and every import count) to the last byte written. The commands spend it themselves (a
`Deadline` from `command_deadline`, reserves for the work after the solves, the plan of last
resort); this watchdog is what holds it when they cannot: a budget shorter than the start-up
and loading (under load, importing pandas, Pyomo and HiGHS alone took 2 s: `triage plan
--time-limit 1` ended after 2.0-2.7 s), or a stage that overruns its share.

A daemon thread waits until the deadline. If by then the command has not begun to give its
answer (its first byte on stdout, `write_outputs` creating its folder, or the program's exit),
the watchdog answers instead: "error: no <answer> found (time_limit): raise --time-limit (...;
nothing was written)" on stderr, the words of a plan cut short with nothing to show (with
`--json` also the error object, code `time_limit`, on stdout), and exit 4 ("no answer found").
Nothing is half-written: no output folder exists before `write_outputs` begins, and once the
answer has begun the watchdog stands down (what is written then was reserved for by the
command: `output_reserve`). Worker processes die with the program (process_pool).

It is started when optimiser/cli/__init__.py imports this module, before typer and the
command modules (`triage` and `python -m optimiser` alike: `is_program`), so only the
interpreter's own start-up (about 0.1 s on a free core) comes before it: a budget shorter than
that is overrun by the rest of it. Not for `main([...])` called from Python, nor for the
Python API or the service, which cannot be ended from inside (their budgets: docs/model.md,
"Time budgets").

Firing, the thread imports nothing (the main thread may hold an import lock) and writes with
os.write (the main thread may hold a stream's lock). The stdlib only: `triage --help` stays fast.
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
import threading
import time
from collections.abc import Sequence

EXIT_NO_ANSWER = 4  # optimiser.errors.EXIT_INTERNAL: "internal error or no answer found"
LONGEST_WAIT = 86_400.0  # seconds of one wait of the watchdog (threading caps a wait near 2^63 ns)

# command path -> what its answer is called ("no plan found (time_limit)")
WATCHED: dict[tuple[str, ...], str] = {
    ("solve",): "allocation",
    ("compare",): "comparison",
    ("plan",): "plan",
    ("backtest",): "backtest",
    ("bedside", "allocate"): "decision",
    ("scenarios", "saa"): "SAA estimate",
}
GROUPS = ("bedside", "scenarios")  # command groups: their subcommand names the command

_current: Watchdog | None = None


def command_path(args: Sequence[str]) -> tuple[str, ...]:
    """The command (and subcommand of a group) named by the program's arguments; the global
    options (-v, -q, --verbose, --quiet) take no value."""
    words = [a for a in args if not a.startswith("-")]
    if not words:
        return ()
    return tuple(words[:2]) if words[0] in GROUPS else (words[0],)


def time_limit_in(args: Sequence[str]) -> float | None:
    """The value of the last `--time-limit` (as click reads it); None when absent or not a
    positive finite number (the command itself then refuses it: exit 2)."""
    value = None
    for i, arg in enumerate(args):
        if arg == "--time-limit" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--time-limit="):
            value = arg.split("=", 1)[1]
    if value is None:
        return None
    try:
        limit = float(value)
    except ValueError:
        return None
    return limit if math.isfinite(limit) and limit > 0 else None


class Watchdog:
    """Answers "no answer found (time_limit)" and ends the process at `origin + limit`
    (time.perf_counter() readings) unless `commit()` was called first."""

    def __init__(self, limit: float, origin: float, what: str, as_json: bool) -> None:
        self.limit = limit
        self.origin = origin
        self.end = origin + limit
        self.what = what
        self.as_json = as_json
        self.stage = "starting up"
        self._state = "armed"  # armed -> answering (stood down) | fired
        self._lock = threading.Lock()
        self._stand_down = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="triage-deadline", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def commit(self) -> None:
        """The command begins its answer: the watchdog stands down. If it has already fired
        (it is answering and ending the process), the caller waits for the end."""
        with self._lock:
            if self._state == "armed":
                self._state = "answering"
                self._stand_down.set()
            fired = self._state == "fired"
        if fired:
            threading.Event().wait()  # os._exit in the watchdog's thread ends this

    def _watch(self) -> None:
        # in steps a lock can wait: `--time-limit 1e10` overflowed time_t inside the wait (a
        # traceback on stderr, and no watchdog)
        while (left := self.end - time.perf_counter()) > LONGEST_WAIT:
            if self._stand_down.wait(LONGEST_WAIT):
                return
        if self._stand_down.wait(max(0.0, left)):
            return
        with self._lock:
            if self._state != "armed":
                return
            self._state = "fired"
        self._answer()

    def message(self) -> str:
        took = time.perf_counter() - self.origin
        return (
            f"no {self.what} found (time_limit): raise --time-limit (its {self.limit:g} s "
            f"ran out while {self.stage}, {took:.2f} s after the program started; nothing "
            "was written)"
        )

    def _answer(self) -> None:
        message = self.message()
        try:
            os.write(2, f"error: {message}\n".encode())
            if self.as_json:
                error = {
                    "code": "time_limit",
                    "exit_code": EXIT_NO_ANSWER,
                    "message": message,
                    "problems": [],
                }
                os.write(1, (json.dumps({"error": error}, indent=2) + "\n").encode())
        finally:
            os._exit(EXIT_NO_ANSWER)


class _CommittingStdout(io.TextIOWrapper):
    """sys.stdout that tells the watchdog the answer has begun at its first write."""

    def write(self, text: str) -> int:
        if _current is not None:
            _current.commit()
        return super().write(text)


def arm(args: Sequence[str] | None = None, origin: float | None = None) -> Watchdog | None:
    """Start the watchdog for the `triage` program's `args` (default sys.argv[1:]) when its
    command takes a whole-command --time-limit (not --help); `origin`: the process's start
    (default: /proc/self/stat's, optimiser.deadline.process_start). Once per process: called
    again, the running watchdog is kept."""
    global _current
    if _current is not None:
        return _current
    args = sys.argv[1:] if args is None else args
    what = WATCHED.get(command_path(args))
    limit = time_limit_in(args)
    if what is None or limit is None or "--help" in args:
        return None
    if origin is None:
        from optimiser.deadline import process_start  # the standard library only

        origin = process_start()
    dog = Watchdog(limit, origin, what, as_json="--json" in args)
    _current = dog
    stdout = sys.stdout
    if type(stdout) is io.TextIOWrapper and not stdout.closed:
        stdout.flush()
        sys.stdout = _CommittingStdout(
            stdout.buffer,
            encoding=stdout.encoding,
            errors=stdout.errors,
            line_buffering=stdout.line_buffering,
        )
    dog.start()
    return dog


def is_program() -> bool:
    """Is this process the `triage` program: the console script, or `python -m optimiser`
    (whose sys.argv[0] is then the path of optimiser/__main__.py)?"""
    name = sys.argv[0] if sys.argv else ""
    if os.path.basename(name) in ("triage", "triage.exe"):
        return True
    return os.path.basename(name) == "__main__.py" and (
        os.path.basename(os.path.dirname(name)) == "optimiser"
    )


def arm_if_program() -> Watchdog | None:
    """`arm()` when this process is the `triage` program (done when this module is first
    imported: optimiser/cli/__init__.py imports it before typer)."""
    return arm() if is_program() else None


def commit() -> None:
    """The answer begins (an output folder, the exit): the watchdog, if any, stands down."""
    if _current is not None:
        _current.commit()


def stage(text: str) -> None:
    """What the command is doing, for the watchdog's message ("loading the input")."""
    if _current is not None:
        _current.stage = text


arm_if_program()
