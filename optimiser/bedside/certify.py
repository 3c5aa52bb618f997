"""An independent certifier of reserve allocations (Pathak et al. 2024; Sun 2025).

Given the categories, the baseline order and an allocation, it checks, with code that shares
nothing with the allocation algorithms of reserves.py (its own priority orders, a max-flow in
scipy for the maximum):

1. eligibility compliance: every unit goes to a candidate eligible for its category, no
   category gives more units than it has, no one gets two;
2. non-wastefulness: no unit of a category is idle while a candidate eligible for it waits;
3. respect of priorities: no one holds a unit of a category while a candidate eligible for it
   with higher priority under that category's order goes without;
4. maximum cardinality (when the method promises it): as many candidates served as any
   allocation could serve.

Every violation is named with the patients and the category involved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from models.bedside import Category
from optimiser.errors import counted

PROPERTIES = ("eligibility", "non_wastefulness", "respect_of_priorities", "maximum_cardinality")


@dataclass(frozen=True)
class Certificate:
    """Which properties hold; `violations` names each breach."""

    holds: dict[str, bool | None]
    violations: tuple[str, ...] = ()
    served: int = 0
    maximum: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {"holds": dict(self.holds), "violations": list(self.violations),
                "served": self.served, "maximum": self.maximum, "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Certificate:
        holds = data["holds"]
        return cls(
            holds={str(k): None if v is None else bool(v) for k, v in holds.items()},
            violations=tuple(str(v) for v in data.get("violations") or ()),
            served=int(data.get("served") or 0),
            maximum=int(data.get("maximum") or 0),
            notes=tuple(str(n) for n in data.get("notes") or ()),
        )


def priority_key(category: Category, rank: np.ndarray) -> np.ndarray:
    """Lower is better: (not a beneficiary of this reserve, baseline rank)."""
    if category.reserve:
        return np.where(category.beneficiary, 0, 1) * (len(rank) + 1) + rank
    return rank.astype(np.int64)


def max_served(categories: Sequence[Category]) -> int:
    """Maximum number of candidates the categories can serve: a max-flow source -> candidate
    (1) -> category (1 per eligible pair) -> sink (its units)."""
    if not categories:
        return 0
    n = len(categories[0].eligible)
    source, sink = n + len(categories), n + len(categories) + 1
    rows, cols, caps = [], [], []
    rows += [source] * n
    cols += list(range(n))
    caps += [1] * n
    for c, category in enumerate(categories):
        members = np.flatnonzero(category.eligible)
        rows += members.tolist()
        cols += [n + c] * len(members)
        caps += [1] * len(members)
        rows.append(n + c)
        cols.append(sink)
        caps.append(int(category.units))
    graph = sp.csr_matrix((np.array(caps, dtype=np.int32), (rows, cols)),
                          shape=(sink + 1, sink + 1))
    return int(maximum_flow(graph, source, sink).flow_value)


def certify(categories: Sequence[Category], rank: np.ndarray, assigned: np.ndarray,
            ids: Sequence[str], promise_maximum: bool) -> Certificate:
    """Check an allocation (assigned[i] = category index, or -1)."""
    violations: list[str] = []
    holds: dict[str, bool | None] = dict.fromkeys(PROPERTIES, True)
    rank = np.asarray(rank)
    assigned = np.asarray(assigned)
    served = assigned >= 0
    for i in np.flatnonzero(served).tolist():
        c = int(assigned[i])
        if c >= len(categories) or not categories[c].eligible[i]:
            name = categories[c].name if c < len(categories) else f"#{c}"
            violations.append(f"eligibility: {ids[i]} holds a unit of {name!r} but is not "
                              "eligible for it")
            holds["eligibility"] = False
    for c, category in enumerate(categories):
        used = int((assigned == c).sum())
        if used > category.units:
            violations.append(f"eligibility: {category.name!r} gives "
                              f"{counted(used, 'unit')} but has {category.units}")
            holds["eligibility"] = False
        waiting = np.flatnonzero(category.eligible & ~served)
        if used < category.units and len(waiting):
            violations.append(f"non_wastefulness: {counted(category.units - used, 'unit')} of "
                              f"{category.name!r} idle while {ids[waiting[0]]} (eligible) "
                              "has none")
            holds["non_wastefulness"] = False
        holders = np.flatnonzero(assigned == c)
        if len(holders) and len(waiting):
            key = priority_key(category, rank)
            worst = holders[np.argmax(key[holders])]
            best = waiting[np.argmin(key[waiting])]
            if key[best] < key[worst]:
                violations.append(f"respect_of_priorities: {ids[worst]} holds a unit of "
                                  f"{category.name!r} while {ids[best]}, higher in its order, "
                                  "has none")
                holds["respect_of_priorities"] = False
    best_count = max_served(categories)
    count = int(served.sum())
    if count < best_count:
        holds["maximum_cardinality"] = False
        if promise_maximum:
            violations.append(f"maximum_cardinality: {count} served, {best_count} could be")
    if not promise_maximum and count >= best_count:
        holds["maximum_cardinality"] = True
    return Certificate(holds, tuple(violations), count, best_count)
