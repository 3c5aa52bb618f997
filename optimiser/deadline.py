"""One wall-clock budget for a whole request: load, build, every HiGHS run, extraction.

A `Deadline` is made where the request starts (the CLI command, the service task, the sweep
variant) and passed down; every solve asks it how long it may run (`remaining`) and no
optional search starts once it has `expired`. The solver layer turns `remaining` into the
HiGHS option for each run whatever the HiGHS clock counts (solver.py, `run_time_limit`).
"""

from __future__ import annotations

import time

MIN_RUN_SECONDS = 0.01  # a run asked to stop at once still gets this long (HiGHS needs > 0)


class Deadline:
    """A budget of `limit` seconds from `start` (default: now); None: no limit. `margin`: the
    deadline counts as expired this many seconds early (the planner starts no optional search
    in its last 50 ms: HiGHS's branch-and-bound on a large model can take longer than that to
    set up before it first looks at its time limit)."""

    def __init__(
        self, limit: float | None, start: float | None = None, *, margin: float = 0.0
    ) -> None:
        self.limit = None if limit is None else float(limit)
        self.start = time.perf_counter() if start is None else start
        self.end = None if self.limit is None else self.start + self.limit
        self.margin = margin

    @classmethod
    def of(cls, value: Deadline | float | None) -> Deadline:
        """A deadline as given, or a new one of `value` seconds from now."""
        return value if isinstance(value, Deadline) else cls(value)

    def left(self) -> float | None:
        """Seconds left (negative once past); None without a limit."""
        return None if self.end is None else self.end - time.perf_counter()

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
        return time.perf_counter() - self.start
