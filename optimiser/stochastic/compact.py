"""The extensive form with its link rows substituted out: one column per first-stage movement.

The extensive form (models/stochastic.py) keeps a copy v^s_j of every first-stage movement j in
each scenario block s and the link rows v^s_j - v^0_j = 0. Substituting v^s_j = v^0_j gives the
same problem with S - 1 fewer copies of each first-stage column and no link rows: column j of
block 0 then carries its coefficients in every block's rows (a column of sum_s A^s_j). Its cost
is sum_s c^s_j (the scenario weights are already in the costs). The two have the same
solutions (`expand` maps a compact solution back, column by column) and the same optimum, LP
or integer.

Why: column generation prices a first-stage movement once for all scenarios (its reduced cost
is the sum over the blocks), and the restricted master has no equality rows that hold a
movement at zero until its S copies are all priced in (optimiser/stochastic/decomp.py).

`CompactForm` has the attributes `optimiser.multiperiod.colgen.ColumnGeneration` reads from a
PlanModel (the movement handles in compact numbering, bounds, matrix, rows, the fairness
families' rows), so the planner's own column generation solves its LP relaxation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from models.fairness import HorizonFamily
from models.stochastic import ExtensiveForm

EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Handles:
    """Column handles in the compact numbering (the `.cols` a ColumnGeneration reads)."""

    cols: np.ndarray


@dataclass(frozen=True)
class StackedFamily:
    """One fairness family over every block: its rows and cut rows in the stacked numbering."""

    rows: np.ndarray
    cut_rows: np.ndarray


@dataclass(frozen=True)
class CompactForm:
    """The extensive form without link rows. `column_of[j]` is the compact column of the
    extensive form's column j (several map to one: a first-stage movement's copies)."""

    form: ExtensiveForm
    column_of: np.ndarray
    matrix: sp.csc_matrix
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    integrality: np.ndarray
    ship: Handles
    transfer: Handles
    ptransfer: Handles
    send: Handles  # patients sent (waiting switch): continuous, priced in like patient moves
    uses: np.ndarray  # empty: the shipment limit's binaries stay in the master (a shared
    # first-stage shipment has one per block, so none can be priced in as its partner)
    fairness: dict[str, StackedFamily]
    first_stage: np.ndarray  # compact columns of the first-stage movements (block 0's)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.matrix.shape[0], self.matrix.shape[1])

    @property
    def movements(self) -> np.ndarray:
        """Compact columns of the unit movements: shipments, then transfers."""
        return np.concatenate([self.ship.cols, self.transfer.cols])

    def cost(self, full_cost: np.ndarray) -> np.ndarray:
        """A cost on the extensive form's columns as a cost on the compact columns (summed)."""
        return np.bincount(self.column_of, weights=full_cost, minlength=self.shape[1])

    def expand(self, values: np.ndarray) -> np.ndarray:
        """A compact solution on the extensive form's columns (every copy equal)."""
        return np.asarray(values, dtype=float)[self.column_of]

    def compact(self, full: np.ndarray) -> np.ndarray:
        """The compact values of an extensive-form solution (block 0's copy of each
        first-stage column: all copies are equal in a solution of the extensive form)."""
        out = np.zeros(self.shape[1])
        out[self.column_of[::-1]] = np.asarray(full, dtype=float)[::-1]  # first writer wins
        return out


def build_compact(form: ExtensiveForm) -> CompactForm:
    """Substitute the link rows out of `form`. ValueError when a first-stage column's bounds
    or integrality differ between blocks (they cannot: same movements, same deliveries)."""
    S = form.scenarios
    n_full = form.shape[1]
    first = form.first_stage
    # drop block s >= 1's copies of the first-stage columns
    dropped = np.zeros(n_full, dtype=bool)
    for s in range(1, S):
        dropped[form.columns(s, first)] = True
    kept = np.flatnonzero(~dropped)
    column_of = np.full(n_full, -1, dtype=np.int64)
    column_of[kept] = np.arange(len(kept))
    base = column_of[form.columns(0, first)]
    for s in range(1, S):
        cols = form.columns(s, first)
        same = (
            np.array_equal(form.col_lower[cols], form.col_lower[form.columns(0, first)])
            and np.array_equal(form.col_upper[cols], form.col_upper[form.columns(0, first)])
            and np.array_equal(form.integrality[cols], form.integrality[form.columns(0, first)])
        )
        if not same:
            raise ValueError(f"scenario block {s}: first-stage columns differ from block 0's")
        column_of[cols] = base
    rows = np.ones(form.shape[0], dtype=bool)
    rows[form.link_rows] = False
    keep_rows = np.flatnonzero(rows)
    row_position = np.full(form.shape[0], -1, dtype=np.int64)
    row_position[keep_rows] = np.arange(len(keep_rows))
    # entries moved to their compact row and column (a copy's entries onto block 0's column;
    # the link rows' entries dropped); no two copies share a row, so nothing is summed
    entries = form.matrix.tocoo()
    inside = row_position[entries.row] >= 0
    matrix = sp.csc_matrix(
        (
            entries.data[inside],
            (row_position[entries.row[inside]], column_of[entries.col[inside]]),
        ),
        shape=(len(keep_rows), len(kept)),
    )

    def handles(attribute: str) -> Handles:
        """The compact columns of a movement family, sorted, each once (a mask: np.unique
        took 3.5 s of 5 on US 50 x 47 x 20)."""
        seen = np.zeros(len(kept), dtype=bool)
        for s, b in enumerate(form.blocks):
            seen[column_of[form.columns(s, getattr(b, attribute).cols)]] = True
        return Handles(np.flatnonzero(seen).astype(np.int64))

    families: dict[str, StackedFamily] = {}
    for label in form.blocks[0].fairness:
        parts: list[HorizonFamily] = [b.fairness[label] for b in form.blocks]
        families[label] = StackedFamily(
            rows=np.concatenate([row_position[form.rows(s, f.rows)] for s, f in enumerate(parts)]),
            cut_rows=np.concatenate(
                [row_position[form.rows(s, f.cut_rows)] for s, f in enumerate(parts)]
            ),
        )
    return CompactForm(
        form=form,
        column_of=column_of,
        matrix=matrix,
        col_lower=form.col_lower[kept],
        col_upper=form.col_upper[kept],
        row_lower=form.row_lower[keep_rows],
        row_upper=form.row_upper[keep_rows],
        integrality=form.integrality[kept],
        ship=handles("ship"),
        transfer=handles("transfer"),
        ptransfer=handles("ptransfer"),
        send=handles("send"),
        uses=EMPTY,
        fairness=families,
        first_stage=base,
    )
