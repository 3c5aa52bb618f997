"""Price of fairness of each policy component, alone and at the margin (docs/bedside.md).

The components are each reserve (`reserve:<name>`), the priority score
(`priority:<score>`: respect of its classes) and the tie-break rule (`tie_break:<rule>`: the
lottery's order). As in the regional engine:

    lost_alone(f)    = V(unrestricted) - V({f})
    lost_marginal(f) = V(all - {f}) - V(all)

* Snapshot: V is the integer program's optimum with those families switched on
  (models/bedside.py, per-patient holders): what the component costs when everything else is
  done as well as possible.
* Horizon: V is the online rule run with those components over the whole horizon; the
  unrestricted rule gives each free unit to the candidate of highest benefit. (The offline
  optimum is reported beside it: the gap is the price of not knowing the future, not of
  fairness.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from optimiser.bedside.decide import Batch, snapshot_data
from optimiser.bedside.horizon import Stream, run_online
from optimiser.bedside.policy import Policy
from optimiser.bedside.scores import Ranking
from optimiser.bedside.snapshot import SnapshotIP
from optimiser.solver import SolverOptions, SolveStatus

PRICE_COLUMNS = ["site", "component", "value_alone", "lost_alone", "lost_marginal", "note"]
# Above this many candidates in one decision the respect-of-priorities program (per patient)
# takes minutes (2,000 candidates: 71 s); the reserves are still priced exactly, by the grouped
# program, and the priority and tie-break rows say why they are not.
MAX_PRIORITY_PRICE = 400


def components(policy: Policy) -> list[str]:
    return ([f"reserve:{r.name}" for r in policy.reserves]
            + [f"priority:{policy.priority}", f"tie_break:{policy.tie_break.method}"])


def _split(policy: Policy, chosen: set[str]) -> tuple[list[str], bool, bool]:
    reserves = [r.name for r in policy.reserves if f"reserve:{r.name}" in chosen]
    return (reserves, f"priority:{policy.priority}" in chosen,
            f"tie_break:{policy.tie_break.method}" in chosen)


def _kind(priority: bool, tie: bool) -> str | None:
    if priority and tie:
        return "score+lottery"
    if priority:
        return "score"
    return "lottery" if tie else None


def _rows(site: str, names: list[str], value: dict[frozenset[str], float | None],
          notes: dict[frozenset[str], str]) -> list[list[Any]]:
    full = frozenset(names)
    free = value.get(frozenset())
    every = value.get(full)
    rows = []
    for name in names:
        alone = value.get(frozenset([name]))
        without = value.get(full - {name})
        note = "; ".join(n for key in (frozenset([name]), full - {name}, full, frozenset())
                         if (n := notes.get(key)))
        rows.append([
            site, name, alone,
            None if alone is None or free is None else free - alone,
            None if without is None or every is None else without - every,
            note,
        ])
    return rows


def snapshot_price(policy: Policy, ranking: Ranking, flags: dict[str, np.ndarray], batch: Batch,
                   options: SolverOptions | None = None,
                   time_limit: float | None = None) -> pd.DataFrame:
    """The program's price of each component for one decision."""
    names = components(policy)
    large = len(batch.members) > MAX_PRIORITY_PRICE
    if large:
        names = [n for n in names if n.startswith("reserve:")]
    data = snapshot_data(policy, ranking, flags, batch, orders=not large)
    ip = SnapshotIP(data, per_patient=not large, options=options)
    value: dict[frozenset[str], float | None] = {}
    notes: dict[frozenset[str], str] = {}
    full = frozenset(names)
    sets = {frozenset(), full, *(frozenset([n]) for n in names), *(full - {n} for n in names)}
    for chosen in sets:
        reserves, priority, tie = _split(policy, set(chosen))
        out = ip.solve(reserves, _kind(priority, tie), time_limit=time_limit)
        value[chosen] = out.objective
        if out.status is not SolveStatus.OPTIMAL:
            notes[chosen] = f"{'+'.join(sorted(chosen)) or 'unrestricted'}: {out.status}"
    rows = _rows(batch.site, names, value, notes)
    if large:
        why = (f"{len(batch.members)} candidates: above {MAX_PRIORITY_PRICE}, the "
               "respect-of-priorities program is not solved; reserves priced among reserves")
        for row in rows:
            row[-1] = "; ".join(n for n in (row[-1], "marginal among the reserves only") if n)
        rows += [[batch.site, name, None, None, None, why] for name in components(policy)
                 if not name.startswith("reserve:")]
    return pd.DataFrame(rows, columns=PRICE_COLUMNS)


def benefit_rank(ranking: Ranking) -> np.ndarray:
    """The unrestricted rule's order: highest benefit first, then file order."""
    n = len(ranking.benefit)
    order = np.lexsort((np.arange(n), -ranking.benefit))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank


def horizon_price(stream: Stream, policy: Policy, ranking: Ranking) -> pd.DataFrame:
    """The online rule's price of each component over the horizon."""
    names = components(policy)
    n = len(ranking.benefit)
    by_benefit = benefit_rank(ranking)
    score_first = np.empty(n, dtype=np.int64)
    score_first[np.lexsort((np.arange(n), -ranking.benefit, ranking.classes))] = np.arange(n)
    ranks = {(False, False): by_benefit, (True, False): score_first,
             (False, True): ranking.lottery_rank, (True, True): ranking.rank}
    value: dict[frozenset[str], float | None] = {}
    full = frozenset(names)
    sets = {frozenset(), full, *(frozenset([n]) for n in names), *(full - {n} for n in names)}
    for chosen in sets:
        reserves, priority, tie = _split(policy, set(chosen))
        run = run_online(stream, policy, ranking, reserves=bool(reserves), active=set(reserves),
                         rank=ranks[priority, tie])
        value[chosen] = float(ranking.benefit[run.treated].sum())
    return pd.DataFrame(_rows("all", names, value, {}), columns=PRICE_COLUMNS)
