"""The two-stage stochastic planner's model: the extensive form, composed of per-scenario blocks.

No maths of the plan is written here: each scenario s is one block, the planner's own model
(models/multiperiod.py, `build_plan_model`) built from that scenario's numbers (its demand;
everything else is the instance's). This module stacks the blocks side by side (a
block-diagonal matrix) and adds only what couples them (docs/stochastic.md, same symbols):

Non-anticipativity (first stage). The movements dispatched in the commit window
W = [today, today + c) (c = commit days) are decided now, before the demand is known: the
same in every scenario. For each first-stage column j (a shipment x_{k,r,d} or a transfer
t_{a,d} with d in W) and each scenario s >= 1:

    v^s_j - v^0_j = 0                                                    (link rows)

(the index sets of shipments and transfers depend on deliveries and lead times only, so
column j means the same movement in every block).

Objective. L_s: the lives of block s (its `lives`, expected extra survivors), a_r the
prioritarian weights (ones without them); p_s the scenario probabilities. Deaths in scenario
s: D_s = D0_s - L_s, with D0_s = sum_g n_g (1 - survival_without_{r_g}) (deaths if nobody got a
unit). Rockafellar-Uryasev: CVaR_alpha(D) = min_eta eta + (1/alpha) sum_s p_s [D_s - eta]^+,
linearised with e_s >= 0:

    e_s + L_s + eta >= D0_s                                              (tail rows)
    K = eta + (1/alpha) sum_s p_s e_s                                    (K >= CVaR_alpha(D))

    neutral:  maximise  sum_s p_s L^a_s
    cvar:     maximise  sum_s p_s L^a_s - lambda K
    worst:    maximise  -K  (the alpha-worst scenarios only), then, K held at its optimum
              (the `cap` row K <= K*), the expected lives.

At an optimum K = CVaR_alpha of the plan's deaths (eta is then a value-at-risk).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from models.linear import INF
from models.multiperiod import PlanModel

RISK_KINDS = ("neutral", "cvar", "worst")


@dataclass(frozen=True)
class Risk:
    """How the scenarios' outcomes are combined (docs/stochastic.md, "Risk")."""

    kind: str = "neutral"  # neutral | cvar | worst
    alpha: float = 0.1  # tail share (cvar, worst)
    weight: float = 0.0  # lambda (cvar)

    @property
    def uses_tail(self) -> bool:
        return self.kind in ("cvar", "worst")

    @property
    def label(self) -> str:
        if self.kind == "neutral":
            return "neutral"
        if self.kind == "worst":
            return f"worst:alpha={self.alpha:g}"
        return f"cvar:alpha={self.alpha:g},lambda={self.weight:g}"


@dataclass(frozen=True)
class ExtensiveForm:
    """The stacked model: arrays for HiGHS and typed handles to the blocks and what links them.

    A column j of block s is column `offsets[s] + j` here; a row i of block s is
    `row_offsets[s] + i`."""

    blocks: tuple[PlanModel, ...]
    probability: np.ndarray  # p_s
    base_deaths: np.ndarray  # D0_s
    risk: Risk
    offsets: np.ndarray
    row_offsets: np.ndarray
    first_stage: np.ndarray  # columns of a block (block-local) fixed across scenarios
    link_rows: np.ndarray
    eta: int  # column of eta (-1 without a tail)
    excess: np.ndarray  # columns e_s
    tail_rows: np.ndarray
    cap_row: int  # K <= cap (worst's second stage; free when built), -1 without a tail
    matrix: sp.csc_matrix
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    integrality: np.ndarray

    @property
    def scenarios(self) -> int:
        return len(self.blocks)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.matrix.shape[0], self.matrix.shape[1])

    def columns(self, s: int, local: np.ndarray) -> np.ndarray:
        """Block s's columns `local` in the stacked numbering."""
        return np.asarray(local, dtype=np.int64) + int(self.offsets[s])

    def rows(self, s: int, local: np.ndarray) -> np.ndarray:
        return np.asarray(local, dtype=np.int64) + int(self.row_offsets[s])

    def block_values(self, values: np.ndarray, s: int) -> np.ndarray:
        """Block s's part of a solution, in its own numbering."""
        a = int(self.offsets[s])
        return values[a : a + self.blocks[s].shape[1]]

    def scenario_lives(self, values: np.ndarray) -> np.ndarray:
        """L_s of a solution, one per scenario."""
        return np.array(
            [float(b.lives @ self.block_values(values, s)) for s, b in enumerate(self.blocks)]
        )

    def expected(self, per_block: Sequence[np.ndarray]) -> np.ndarray:
        """sum_s p_s c_s as one cost vector on the stacked columns (risk columns 0)."""
        cost = np.zeros(self.shape[1])
        for s, c in enumerate(per_block):
            a = int(self.offsets[s])
            cost[a : a + len(c)] += self.probability[s] * np.asarray(c, dtype=float)
        return cost

    def tail_cost(self) -> np.ndarray:
        """The coefficients of K = eta + (1/alpha) sum_s p_s e_s."""
        cost = np.zeros(self.shape[1])
        if self.eta >= 0:
            cost[self.eta] = 1.0
            cost[self.excess] = self.probability / self.risk.alpha
        return cost

    def cost(self, weighted_lives: Sequence[np.ndarray]) -> np.ndarray:
        """The objective (maximised) of the risk kind, from each block's weighted lives."""
        r = self.risk
        if r.kind == "neutral":
            return self.expected(weighted_lives)
        if r.kind == "cvar":
            return self.expected(weighted_lives) - r.weight * self.tail_cost()
        return -self.tail_cost()


def build_extensive_form(
    blocks: Sequence[PlanModel],
    probability: np.ndarray,
    base_deaths: np.ndarray,
    commit_end: int,
    risk: Risk | None = None,
) -> ExtensiveForm:
    """Stack the scenario blocks and add the link rows (movements dispatched before
    `commit_end`) and, for a risk kind with a tail, eta, e_s, the tail rows and the cap row.
    ValueError when the blocks do not share the movement columns (they must: same
    deliveries, lead times and settings)."""
    risk = risk or Risk()
    if risk.kind not in RISK_KINDS:
        raise ValueError(f"unknown risk kind {risk.kind!r} (kinds: {', '.join(RISK_KINDS)})")
    first = blocks[0]
    for s, b in enumerate(blocks[1:], start=1):
        same = (
            np.array_equal(b.ship.cols, first.ship.cols)
            and np.array_equal(b.ship.day, first.ship.day)
            and np.array_equal(b.transfer.cols, first.transfer.cols)
            and np.array_equal(b.transfer.day, first.transfer.day)
        )
        if not same:
            raise ValueError(f"scenario block {s} does not share block 0's movement columns")
    first_stage = np.concatenate(
        [
            first.ship.cols[first.ship.day < commit_end],
            first.transfer.cols[first.transfer.day < commit_end],
        ]
    )
    S = len(blocks)
    sizes = np.array([b.shape[1] for b in blocks], dtype=np.int64)
    row_sizes = np.array([b.shape[0] for b in blocks], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    row_offsets = np.concatenate([[0], np.cumsum(row_sizes)[:-1]]).astype(np.int64)
    n_plan, m_plan = int(sizes.sum()), int(row_sizes.sum())
    tail = risk.uses_tail
    n_risk = 1 + S if tail else 0
    n_cols = n_plan + n_risk
    # link rows: block s's first-stage column minus block 0's
    F = len(first_stage)
    n_link = F * (S - 1)
    link_rows = m_plan + np.arange(n_link, dtype=np.int64)
    r_idx: list[np.ndarray] = [np.repeat(link_rows, 2)]
    c_idx: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    vals: list[np.ndarray] = [np.zeros(0)]
    for s in range(1, S):  # row (s - 1) F + j: v^s_j - v^0_j
        pairs = np.stack([offsets[s] + first_stage, offsets[0] + first_stage], axis=1)
        c_idx.append(pairs.ravel())
        vals.append(np.tile([1.0, -1.0], F))
    eta, cap_row = -1, -1
    excess = tail_rows = np.zeros(0, dtype=np.int64)
    extra_lower: list[np.ndarray] = [np.zeros(n_link)]
    extra_upper: list[np.ndarray] = [np.zeros(n_link)]
    n_rows = m_plan + n_link
    if tail:
        eta = n_plan
        excess = n_plan + 1 + np.arange(S, dtype=np.int64)
        tail_rows = n_rows + np.arange(S, dtype=np.int64)
        for s, b in enumerate(blocks):
            nz = np.flatnonzero(b.lives)
            r_idx.append(np.full(len(nz) + 2, tail_rows[s]))
            c_idx.append(np.concatenate([offsets[s] + nz, [eta, excess[s]]]))
            vals.append(np.concatenate([b.lives[nz], [1.0, 1.0]]))
        extra_lower.append(np.asarray(base_deaths, dtype=float))
        extra_upper.append(np.full(S, INF))
        cap_row = n_rows + S
        r_idx.append(np.full(S + 1, cap_row))
        c_idx.append(np.concatenate([[eta], excess]))
        vals.append(np.concatenate([[1.0], probability / risk.alpha]))
        extra_lower.append(np.array([-INF]))
        extra_upper.append(np.array([INF]))
        n_rows = cap_row + 1
    coupling = sp.csc_matrix(
        (
            np.concatenate(vals),
            (np.concatenate(r_idx) - m_plan, np.concatenate(c_idx)),
        ),
        shape=(n_rows - m_plan, n_cols),
    )
    diagonal = sp.block_diag([b.matrix for b in blocks], format="csc")
    if n_risk:
        diagonal = sp.hstack([diagonal, sp.csc_matrix((m_plan, n_risk))], format="csc")
    matrix = sp.vstack([diagonal, coupling], format="csc")
    risk_lower = np.concatenate([[-INF], np.zeros(S)]) if tail else np.zeros(0)
    risk_upper = np.full(n_risk, INF)
    return ExtensiveForm(
        blocks=tuple(blocks),
        probability=np.asarray(probability, dtype=float),
        base_deaths=np.asarray(base_deaths, dtype=float),
        risk=risk,
        offsets=offsets,
        row_offsets=row_offsets,
        first_stage=first_stage,
        link_rows=link_rows,
        eta=eta,
        excess=excess,
        tail_rows=tail_rows,
        cap_row=cap_row,
        matrix=matrix,
        col_lower=np.concatenate([*(b.col_lower for b in blocks), risk_lower]),
        col_upper=np.concatenate([*(b.col_upper for b in blocks), risk_upper]),
        row_lower=np.concatenate([*(b.row_lower for b in blocks), *extra_lower]),
        row_upper=np.concatenate([*(b.row_upper for b in blocks), *extra_upper]),
        integrality=np.concatenate(
            [*(b.integrality for b in blocks), np.zeros(n_risk, dtype=np.int8)]
        ),
    )
