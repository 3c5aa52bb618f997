"""Reserve systems (Pathak, Sönmez, Ünver and Yenmez, "Fair allocation of vaccines, ventilators
and antiviral treatments: leaving no ethical value behind in health care rationing",
Management Science 70(6), 2024; arXiv 2008.00374).

Units are split into categories: each reserve has r_c units for its beneficiaries (a flag
column), the unreserved category has the rest. Each category has its own priority order: a
reserve ranks its beneficiaries first, then (a soft reserve) everyone else, each group by the
policy's baseline order; a hard reserve serves only its beneficiaries.

* `sequential`: Pathak et al.'s sequential reserve matching: categories in the processing
  order, each filled with its highest-priority eligible patients not yet served.
* `smart`: the same sweep, but a patient is placed in a category only if every unit can
  still go to someone afterwards (maximum cardinality, counted exactly for the remaining
  patients and units). It meets eligibility compliance, non-wastefulness, respect of
  priorities and maximum cardinality together, the four axioms of Sun (2025, arXiv
  2502.06082) and Aziz and Brandl (JAIR 2024). Proof sketch (docs/bedside.md): a patient
  skipped in favour of a lower-priority one would, if left unserved, contradict the test
  that skipped them; the maximum stays reachable because a category's leftover units are
  never needed by any maximum extension.

How much can still be matched is counted from eligibility signatures: patients eligible for
the same set of categories are interchangeable, and by max-flow/min-cut
M = min over sets K of categories of [sum_{c in K} r_c + #patients eligible outside K].
The certifier (certify.py) checks every property with its own code (a max-flow in scipy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.bedside import Category
from optimiser.bedside.policy import UNRESERVED, Policy

NONE = -1  # assigned category of a patient without a unit


def categories_for(policy: Policy, flags: dict[str, np.ndarray], size: int, free_units: int,
                   reserve_units: dict[str, int] | None = None,
                   active: set[str] | None = None) -> list[Category]:
    """The categories of one decision, in processing order. `reserve_units` overrides the
    reserves' sizes (the horizon carries fractional shares from day to day); `active` keeps
    only these reserves (the others' units go to the unreserved category). `size`: the
    number of candidates (flags hold one entry per candidate)."""
    n = size
    specs = {r.name: r for r in policy.reserves if active is None or r.name in active}
    sizes = {}
    left = free_units
    for name in policy.order:
        if name in specs:
            size = (reserve_units or {}).get(name, specs[name].size(free_units))
            sizes[name] = min(max(size, 0), left)
            left -= sizes[name]
    out = []
    for name in policy.order:
        if name == UNRESERVED:
            out.append(Category(UNRESERVED, left, np.ones(n, dtype=bool), np.zeros(n, dtype=bool)))
        elif name in specs:
            spec = specs[name]
            ben = np.asarray(flags[spec.category], dtype=bool)
            eligible = np.ones(n, dtype=bool) if spec.soft else ben.copy()
            out.append(Category(name, sizes[name], eligible, ben, reserve=True, soft=spec.soft))
    return out


def category_order(category: Category, rank: np.ndarray) -> np.ndarray:
    """Eligible patients of a category, highest priority first (beneficiaries first in a
    reserve, then the baseline `rank`)."""
    eligible = np.flatnonzero(category.eligible)
    first = ~category.beneficiary[eligible] if category.reserve else np.zeros(len(eligible))
    return eligible[np.lexsort((rank[eligible], first))]


@dataclass(frozen=True)
class Allocation:
    """assigned[i]: index of the category patient i's unit comes from, or NONE."""

    assigned: np.ndarray
    method: str

    @property
    def served(self) -> np.ndarray:
        return self.assigned != NONE


def sequential(categories: Sequence[Category], rank: np.ndarray) -> Allocation:
    """Sequential reserve matching in the categories' order."""
    assigned = np.full(len(rank), NONE, dtype=np.int64)
    for c, category in enumerate(categories):
        if category.units <= 0:
            continue
        order = category_order(category, rank)
        free = order[assigned[order] == NONE][: category.units]
        assigned[free] = c
    return Allocation(assigned, "sequential")


class Matchable:
    """How many of the remaining patients the remaining units can serve, by signature."""

    def __init__(self, categories: Sequence[Category]) -> None:
        self.size = len(categories)
        if self.size > 16:
            raise ValueError("too many categories for the exact count")
        masks = np.zeros(len(categories[0].eligible) if categories else 0, dtype=np.int64)
        for c, category in enumerate(categories):
            masks |= category.eligible.astype(np.int64) << c
        self.masks = masks
        self.caps = np.array([c.units for c in categories], dtype=np.int64)
        signatures, counts = np.unique(masks, return_counts=True)
        self.count = dict(zip(signatures.tolist(), counts.tolist(), strict=True))
        subsets = np.arange(1 << self.size, dtype=np.int64)
        self.subsets = subsets
        bits = (subsets[:, None] >> np.arange(self.size)) & 1
        self.bits = bits.astype(np.int64)

    def maximum(self) -> int:
        """min over K of (sum_{c in K} cap_c + #patients with a category outside K)."""
        cut = self.bits @ self.caps
        for mask, n in self.count.items():
            if n and mask:
                cut = cut + n * ((mask & ~self.subsets) != 0)
        return int(cut.min()) if len(cut) else 0

    def place(self, patient: int, c: int) -> None:
        self.count[int(self.masks[patient])] -= 1
        self.caps[c] -= 1

    def unplace(self, patient: int, c: int) -> None:
        self.count[int(self.masks[patient])] += 1
        self.caps[c] += 1

    def close(self, c: int) -> None:
        self.caps[c] = 0


def maximum_cardinality(categories: Sequence[Category]) -> int:
    """The most patients the categories can serve at once."""
    if not categories:
        return 0
    return Matchable(categories).maximum()


def smart(categories: Sequence[Category], rank: np.ndarray) -> Allocation:
    """Sequential processing that keeps the maximum cardinality reachable (module doc)."""
    assigned = np.full(len(rank), NONE, dtype=np.int64)
    if not categories or len(rank) == 0:
        return Allocation(assigned, "smart")
    state = Matchable(categories)
    target = state.maximum()
    served = 0
    universal = all(bool(c.eligible.all()) for c in categories)
    for c, category in enumerate(categories):
        for i in category_order(category, rank):
            if state.caps[c] <= 0:
                break
            if assigned[i] != NONE:
                continue
            state.place(int(i), c)
            if universal or served + 1 + state.maximum() >= target:
                assigned[i] = c
                served += 1
            else:
                state.unplace(int(i), c)
        state.close(c)
    return Allocation(assigned, "smart")


def allocate(categories: Sequence[Category], rank: np.ndarray, method: str) -> Allocation:
    """The policy's reserve rule. When every category is open to everyone (soft reserves),
    any non-wasteful allocation is of maximum cardinality and smart processing accepts
    exactly what sequential processing does, so the cheaper sweep is run."""
    if method == "smart" and not all(bool(c.eligible.all()) for c in categories):
        return smart(categories, rank)
    return Allocation(sequential(categories, rank).assigned, method)
