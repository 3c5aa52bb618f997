"""One wall-clock budget for a whole request: load, build, every HiGHS run, extraction, output.

A `Deadline` is made where the request starts (the `triage` process, the service receiving the
request, the sweep variant) and passed down; every solve asks it how long it may run
(`remaining`) and no optional search starts once it has `expired`. Work that must still follow
the solves (extracting the result, writing it) is kept out of their time with `reserved`: the
solves get a deadline that ends that much earlier. The solver layer turns `remaining` into the
HiGHS option for each run whatever the HiGHS clock counts (solver.py, `run_time_limit`).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable

MIN_RUN_SECONDS = 0.01  # a run asked to stop at once still gets this long (HiGHS needs > 0)
# A request's own work after its solves (extraction, JSON, files) is reserved as this multiple
# of what loading or building the same data took, measured on this machine under its load: both
# grow with the instance (100,000 regions: 3.2 s to load, 3.9 s to write the JSON).
FINISH_FACTOR = 1.5

_IMPORTED = time.perf_counter()


class Deadline:
    """A budget of `limit` seconds from `start` (a time.perf_counter() reading; default now);
    None: no limit. `margin`: the deadline counts as expired this many seconds early (the
    planner starts no optional search in its last 50 ms: HiGHS's branch-and-bound on a large
    model can take longer than that to set up before it first looks at its time limit).
    `clock`: what the budget is counted on (default time.perf_counter; tests count a budget in
    work done, e.g. plans made, to check deterministically what fits in it)."""

    def __init__(
        self,
        limit: float | None,
        start: float | None = None,
        *,
        margin: float = 0.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.clock = clock
        self.limit = None if limit is None else float(limit)
        self.start = clock() if start is None else start
        self.end = None if self.limit is None else self.start + self.limit
        self.margin = margin

    @classmethod
    def of(cls, value: Deadline | float | None) -> Deadline:
        """A deadline as given, or a new one of `value` seconds from now."""
        return value if isinstance(value, Deadline) else cls(value)

    @classmethod
    def since_process_start(cls, limit: float | None) -> Deadline:
        """A budget counted from the start of this process (a command's start-up counts)."""
        return cls(limit, start=process_start())

    def reserved(self, seconds: float) -> Deadline:
        """The same budget less `seconds` kept at its end (for the work after the solves)."""
        if self.limit is None:
            return self
        return Deadline(
            self.limit - max(0.0, seconds), start=self.start, margin=self.margin, clock=self.clock
        )

    def left(self) -> float | None:
        """Seconds left (negative once past); None without a limit."""
        return None if self.end is None else self.end - self.clock()

    def remaining(self, floor: float = MIN_RUN_SECONDS) -> float | None:
        """Seconds a run may take now: what is left, at least `floor`; None without a limit."""
        left = self.left()
        return None if left is None else max(floor, left)

    def expired(self, margin: float | None = None) -> bool:
        """Past the limit (less `margin`, default the deadline's own): start no optional
        search."""
        left = self.left()
        return left is not None and left <= (self.margin if margin is None else margin)

    def elapsed(self) -> float:
        return self.clock() - self.start


def overrun_note(limit: float | None, timings: dict[str, float], name: str = "time_limit") -> str:
    """A result's words when its call ended past its budget (empty when it did not): the
    budget, what took it (the model's build and the plan of last resort, which no limit
    shortens: they are the floor), and when the answer came. Python and the service give the
    answer late and say so; the `triage` program's watchdog ends at the budget instead."""
    total = timings.get("total")
    if limit is None or total is None or total <= limit:
        return ""
    floor = [f"{word} {timings[key]:.2f} s" for key, word in
             (("build", "building the model"), ("translate", "passing it to HiGHS"),
              ("fallback", "the plan of last resort")) if timings.get(key)]
    took = f" ({', '.join(floor)}: no limit shortens them)" if floor else ""
    return (f"{name} {limit:g} s was overrun: the answer came after {total:.2f} s{took}; "
            f"an answer within the budget needs a longer {name}")


def process_start() -> float:
    """The time.perf_counter() reading at which this process started.

    On Linux the kernel's record of it (/proc/self/stat, in clock ticks since boot, against
    CLOCK_BOOTTIME): the interpreter's start and every import count. Elsewhere, or if that
    reading looks wrong, the first import of this module (which `import optimiser` makes)."""
    with contextlib.suppress(OSError, ValueError, IndexError, AttributeError):
        with open("/proc/self/stat", "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
        fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of the whole line
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - started
        now = time.perf_counter()
        if 0.0 <= age <= now - _IMPORTED + 60.0:  # not older than this import by a minute
            return now - age
    return _IMPORTED
