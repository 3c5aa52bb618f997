"""One decision: the candidates at a site now and the units free there (docs/bedside.md).

`decide_batch` is the one function the snapshot, the online horizon and the service call: it
builds the categories of the policy's reserves for these free units, then chooses either by
the integer program (method "optimal": most benefit under the reserves, ties to the highest
priority) or by the policy's ranking through its reserves (method "rule": sequential or smart
reserve processing), and certifies the result with certify.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.bedside import Category, SnapshotData
from optimiser.bedside.certify import PROPERTIES, Certificate, certify
from optimiser.bedside.policy import Policy
from optimiser.bedside.reserves import NONE, allocate, categories_for
from optimiser.bedside.scores import Ranking
from optimiser.bedside.snapshot import Outcome, SnapshotIP
from optimiser.solver import SolverOptions, SolveStatus


@dataclass(frozen=True)
class Batch:
    """Candidates (positions in the cohort) deciding together for `free` units."""

    site: str
    day: int
    members: np.ndarray
    free: int
    reserve_units: dict[str, int] | None = None


@dataclass(frozen=True)
class BatchDecision:
    batch: Batch
    categories: tuple[Category, ...]
    assigned: np.ndarray  # category index per member, -1 none
    certificate: Certificate
    outcome: Outcome | None  # the integer program's solve (method optimal)
    method: str

    @property
    def served(self) -> np.ndarray:
        return self.assigned != NONE


def batch_flags(flags: dict[str, np.ndarray], members: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[members] for name, values in flags.items()}


def snapshot_data(policy: Policy, ranking: Ranking, flags: dict[str, np.ndarray],
                  batch: Batch, orders: bool = False) -> SnapshotData:
    """The program's numbers for a batch (its candidates only: excluded patients never enter).

    `orders`: also the class arrays of the priority families (for the price table)."""
    members = batch.members
    cats = categories_for(policy, batch_flags(flags, members), len(members), batch.free,
                          batch.reserve_units)
    data_orders: dict[str, np.ndarray] = {}
    if orders:
        local_rank = _local(ranking.rank[members])
        data_orders = {
            "score": _local(ranking.classes[members]),
            "score+lottery": local_rank,
            "lottery": _local(ranking.lottery_rank[members]),
        }
    return SnapshotData(ranking.benefit[members], batch.free, tuple(cats), data_orders)


def _local(values: np.ndarray) -> np.ndarray:
    """Dense ranks 0.. of `values` (equal values share a rank)."""
    _, inverse = np.unique(values, return_inverse=True)
    return np.asarray(inverse, dtype=np.int64).ravel()


def decide_batch(policy: Policy, ranking: Ranking, flags: dict[str, np.ndarray], batch: Batch,
                 ids: list[str], *, method: str | None = None,
                 options: SolverOptions | None = None, time_limit: float | None = None,
                 check: bool = True) -> BatchDecision:
    """Choose who of `batch` receives the free units, and (`check`) certify the choice."""
    method = method or policy.method
    members = batch.members
    data = snapshot_data(policy, ranking, flags, batch)
    rank = _local(ranking.rank[members])
    outcome = None
    assigned = None
    everyone = batch.free >= len(members) and all(c.soft for c in data.categories if c.reserve)
    if method == "optimal" and len(members) and batch.free > 0 and not everyone:
        ip = SnapshotIP(data, options=options)
        active = [c.name for c in data.categories if c.reserve]
        outcome = ip.solve(active, rank=rank, time_limit=time_limit)
        assigned = outcome.assigned
    if assigned is None:  # the rule, or the program stopped without an answer (time limit);
        # with units for everyone (all reserves soft) the optimum serves everyone too
        if method == "optimal" and outcome is not None:
            method = "rule"
        assigned = allocate(data.categories, rank, policy.reserve_method).assigned
    promise = method == "optimal" or policy.reserve_method == "smart"
    if not check:
        unchecked = Certificate(dict.fromkeys(PROPERTIES), (), int((assigned >= 0).sum()))
        return BatchDecision(batch, tuple(data.categories), assigned, unchecked, outcome, method)
    cert = certify(data.categories, rank, assigned, [ids[i] for i in members], promise)
    if method == "optimal":  # the program promises eligibility and maximum cardinality only
        cert = _optimal_scope(cert)
    return BatchDecision(batch, tuple(data.categories), assigned, cert, outcome, method)


def _optimal_scope(cert: Certificate) -> Certificate:
    """The optimum is certified for eligibility, non-wastefulness and maximum cardinality;
    respect of priorities is reported (it holds when lives and priority agree) but is not
    what the optimum promises."""
    from dataclasses import replace

    kept = tuple(v for v in cert.violations if not v.startswith("respect_of_priorities"))
    notes = tuple(v for v in cert.violations if v.startswith("respect_of_priorities"))
    return replace(cert, violations=kept, notes=notes)


def is_optimal(outcome: Outcome | None) -> bool:
    return outcome is not None and outcome.status is SolveStatus.OPTIMAL
