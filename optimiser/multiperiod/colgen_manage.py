"""Column management for the column generation's restricted master (issue 12, track growth3).

HiGHS 1.15's primal simplex scans every column and row of the master at each pivot (its
hyper-sparse CHUZC is off: BENCHMARKS.md, "Planner growth 2"), so the warm rounds' pivots cost
in proportion to the master, which only grows: 20,000 entering columns a round, of which few
become basic. `retire` deletes from the master the priced-in candidates (shipments, transfers,
patient moves, patients sent) that sit at 0, nonbasic at their model bounds, with a reduced
cost clearly non-improving (below -RETIRE_TOL on the round's own pricing). A retired column is
priced again every round like any candidate outside the master and re-enters when it improves,
so the LP optimum is unchanged: the last round still proves that no candidate outside the
master improves it. Each column is retired at most once, so the rounds still end (after the
last retirement the method is plain column generation).

Deterministic: the choice depends on the round's reduced costs and values alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import highspy
import numpy as np

if TYPE_CHECKING:
    from optimiser.multiperiod.colgen import ColumnGeneration

# The planner's engine (PlanEngine) retires columns when True; other callers never do. On since
# track land3 (BENCHMARKS.md, "Column retirement with the per-row cap"): with cap2's per-row
# entering cap, whole plans interleaved under the bench lock against the same tree with it off
# (CPU s of the child, medians): 1,000 x 90 0.79x (pairs 0.73, 0.88; peak 1,245 -> 1,145 MB),
# 300 x 90 waiting + patient transfers 0.86x, threshold 300 x 90 0.84x, 300 x 90 plain 0.90x,
# 100 x 365 1.00x and 400 x 90 0.99x (no gain, no loss; no pair above 1.04x). Same statuses and
# lives (within 5e-13 relative) on 45 plans and the 36-plan seed sweep, check-plan ok on all;
# units moved can differ at equal lives (another optimal plan).
IN_PLANNER = True
RETIRE_TOL = 1e-6  # reduced cost (in the improving sense) below -RETIRE_TOL: clearly not entering


def retire(cg: ColumnGeneration, gain: np.ndarray, values: np.ndarray) -> int:
    """Delete from `cg`'s master the candidates at 0 whose `gain` (reduced cost in the
    improving sense, one per `cg.candidates`) is below -RETIRE_TOL, never retired before, at
    their model bounds with lower bound 0 (a branch's or a repair's bounds keep a column).
    `values`: the master solution of the round. Returns how many were deleted."""
    p = cg.program
    cols = cg.candidates
    pos = cg.position[cols]
    here = pos >= 0
    out = here & (gain < -RETIRE_TOL) & ~cg.retired[cols]
    if not out.any():
        return 0
    c = cols[out]
    at_zero = values[cg.position[c]] == 0.0
    free = (
        (p.col_lower[c] == 0.0) & (cg.lower[c] == p.col_lower[c]) & (cg.upper[c] == p.col_upper[c])
    )
    c = c[at_zero & free]
    if not len(c):
        return 0
    gone = np.zeros(len(cg.members), dtype=bool)
    gone[cg.position[c]] = True
    _delete_columns(cg, gone)
    cg.retired[c] = True
    return len(c)


def _delete_columns(cg: ColumnGeneration, gone: np.ndarray) -> None:
    """Delete the master columns flagged in `gone` (every one nonbasic at 0) from HiGHS and
    re-number the rest: `members`, `position`, the phase-1 slacks' positions, the held costs
    and the repair LPs' saved bases (a basis in which a deleted column is basic is dropped)."""
    cg.highs.delete_columns(np.nonzero(gone)[0])
    keep = ~gone
    cg.position[cg.members[gone]] = -1
    cg.members = cg.members[keep]
    real = cg.members >= 0
    cg.position[cg.members[real]] = np.nonzero(real)[0]
    cg.slack = np.nonzero(~real)[0]
    cg.repaired = [
        (cols, fixed, kept)
        for cols, fixed, basis in cg.repaired
        if (kept := _without(basis, gone)) is not None
    ]


def _without(basis: highspy.HighsBasis, gone: np.ndarray) -> highspy.HighsBasis | None:
    """`basis` with the deleted columns' entries removed; None when one of them is basic
    there (the rest would not be a basis)."""
    status = list(basis.col_status)
    if len(status) != len(gone):
        return None
    basic = highspy.HighsBasisStatus.kBasic
    if any(status[i] == basic for i in np.nonzero(gone)[0]):
        return None
    basis.col_status = [s for s, g in zip(status, gone, strict=True) if not g]
    return basis
