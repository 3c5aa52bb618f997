"""numpy's memory advice for the `triage` program's planning commands (track pyrest2)."""

from __future__ import annotations

import os


def no_huge_pages() -> None:
    """numpy asks the kernel for transparent huge pages for its arrays of 4 MiB and more
    (madvise); where the kernel then compacts memory on the spot (THP defrag "madvise", this
    machine's), the planner's builds pay for it in system time: 0.3 CPU-s of a 1,000 x 90
    `triage plan` (BENCHMARKS.md, "pyrest2"). The `triage` program turns the advice off for its
    process (what NUMPY_MADVISE_HUGEPAGE=0 does at numpy's import; a value of the user's own is
    kept); Python callers of main([...]) keep theirs. Memory advice only: no result changes."""
    from optimiser.cli import common

    if common._origin is None or "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        return
    advise = getattr(multiarray, "_set_madvise_hugepage", None)
    if advise is not None:
        advise(False)
