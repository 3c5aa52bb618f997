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

Signs (snapshot). Every V is proved optimal to 1e-9 lives (EXACT), so a figure within
PRICE_TOL of 0 is 0 and printed as 0. `lost_alone` is never negative: V(unrestricted) is
the largest of all. `lost_marginal` is never negative when the policy with the component is
a restriction of the policy without it (`nested`): a tie-break (the score+lottery order
implies the score's classes), or a reserve while no order family is on. It is not one, and
the marginal price can be a proven gain (negative), in two cases (docs/bedside.md, "Price of
fairness"): a reserve under a priority order (its units follow the reserve's own order, its
beneficiaries first, instead of the unreserved order) and the priority score beside a
tie-break (without the score the lottery orders everyone). A nested price below -PRICE_TOL
would be a solver failure: it is flagged (exact false), never reported as a result.

The solves, their budget and the two differences are the engine protocol's
(optimiser/engine_protocol.py, `component_optima`), as for the regional engine and the planners:
this module supplies how to solve with a set of components on (`SnapshotEngine`, the program;
`HorizonRules`, the online rule) and the bedside columns (sign rules, `nested`, notes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimiser.bedside.decide import Batch, snapshot_data
from optimiser.bedside.horizon import Stream, run_online
from optimiser.bedside.policy import Policy
from optimiser.bedside.scores import Ranking
from optimiser.bedside.snapshot import SnapshotIP
from optimiser.deadline import Deadline
from optimiser.engine_protocol import (
    ComponentOptima,
    Optimum,
    PricedEngine,
    component_optima,
    join_notes,
)
from optimiser.solver import SolverOptions, SolveStatus

PRICE_COLUMNS = ["site", "component", "value_alone", "lost_alone", "lost_marginal", "nested",
                 "exact", "note"]
PRICE_TOL = 1e-7  # lives: the programs are closed to 1e-9 (EXACT); below this a price is 0
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


@dataclass(frozen=True)
class Priced:
    """V of one set of components, as the engine protocol reads an optimum: `lives` is the
    objective (expected survivors or life-years), proved (snapshot) or the rule's exact value
    (horizon), so its bound is itself."""

    status: SolveStatus
    lives: float | None
    gap: float | None = None
    solves: int = 1

    @property
    def lives_bound(self) -> float | None:
        return self.lives


class SnapshotEngine:
    """One decision's program (models/bedside.py) with policy components switched on: the
    bedside engine as the engine protocol prices it."""

    def __init__(self, policy: Policy, ip: SnapshotIP, deadline: Deadline | None = None) -> None:
        self.policy = policy
        self.ip = ip
        self.deadline = deadline or Deadline(None)

    def solve(self, active: Sequence[str] = (), *, tie_break: bool = True,
              time_limit: float | None = None, skip_when_expired: bool = False) -> Priced:
        """V(active). `tie_break` is the protocol's (the price solves never need it: V is
        the same for every optimum)."""
        reserves, priority, tie = _split(self.policy, set(active))
        kind = _kind(priority, tie)
        if skip_when_expired and self.deadline.expired() and not self.ip.solved(reserves, kind):
            return Priced(SolveStatus.TIME_LIMIT, None, None, 0)
        out = self.ip.solve(reserves, kind, time_limit=time_limit)
        return Priced(out.status, out.objective, out.gap, out.solves)

    def known_to_meet(self, component: str, solution: Optimum) -> bool:
        """Not known without a solve: every set is solved for (each once, the program caches)."""
        return False


class HorizonRules:
    """The online rule run over the horizon with policy components on; the unrestricted rule
    gives each free unit to the candidate of highest benefit. Rules run whole (no solver, no
    budget: a rule's run is not optional work cut by the deadline), each set once."""

    def __init__(self, stream: Stream, policy: Policy, ranking: Ranking) -> None:
        self.stream, self.policy, self.ranking = stream, policy, ranking
        n = len(ranking.benefit)
        score_first = np.empty(n, dtype=np.int64)
        score_first[np.lexsort((np.arange(n), -ranking.benefit, ranking.classes))] = np.arange(n)
        self.ranks = {(False, False): benefit_rank(ranking), (True, False): score_first,
                      (False, True): ranking.lottery_rank, (True, True): ranking.rank}
        self._values: dict[frozenset[str], float] = {}

    def solve(self, active: Sequence[str] = (), *, tie_break: bool = True,
              time_limit: float | None = None, skip_when_expired: bool = False) -> Priced:
        key = frozenset(active)
        if key not in self._values:
            reserves, priority, tie = _split(self.policy, set(key))
            run = run_online(self.stream, self.policy, self.ranking, reserves=bool(reserves),
                             active=set(reserves), rank=self.ranks[priority, tie])
            self._values[key] = float(self.ranking.benefit[run.treated].sum())
        return Priced(SolveStatus.OPTIMAL, self._values[key])

    def known_to_meet(self, component: str, solution: Optimum) -> bool:
        return False


def priced_rows(site: str, engine: PricedEngine[str], names: list[str],
                nested: dict[str, bool] | None = None, *, proved: bool = True,
                deadline: Deadline | None = None) -> list[list[Any]]:
    """One PRICE_COLUMNS row per component, from the engine protocol's solves
    (`component_optima`: V(unrestricted) once, then every set it needs, under `deadline`).
    `nested[name]`: the policy with it is a restriction of the policy without it (so its
    marginal price cannot be below 0); None: no such claim (the horizon's online rules).
    `proved`: the figures are optima (not rule simulations)."""
    budget = deadline or Deadline(None)
    star = engine.solve([], tie_break=False, time_limit=budget.remaining(),
                        skip_when_expired=True)
    return _rows(site, names, component_optima(engine, names, star, budget), nested, proved)


def _status_note(chosen: frozenset[str], solved: Optimum) -> str:
    if solved.status is SolveStatus.OPTIMAL:
        return ""
    return f"{'+'.join(sorted(chosen)) or 'unrestricted'}: {solved.status}"


def _rows(site: str, names: list[str], optima: list[ComponentOptima[str]],
          nested: dict[str, bool] | None, proved: bool) -> list[list[Any]]:
    full = frozenset(names)
    rows = []
    for o in optima:
        name = o.component
        note = join_notes(_status_note(frozenset([name]), o.alone),
                          _status_note(full - {name}, o.without),
                          _status_note(full, o.everything), _status_note(frozenset(), o.star))
        lost_alone, marginal = o.lost_alone, o.lost_marginal
        is_nested = None if nested is None else nested[name]
        exact = not note
        if proved:
            lost_alone = _snap(lost_alone)
            marginal = _snap(marginal)
            if lost_alone is not None and lost_alone < 0:
                exact = False
                note = join_notes(note, "lost_alone below 0 beyond the solver's precision: "
                                        "not proved")
            if marginal is not None and marginal < 0:
                if is_nested:
                    exact = False
                    note = join_notes(note, "lost_marginal below 0 beyond the solver's "
                                            "precision: not proved")
                else:
                    note = join_notes(note, _gain_note(name, -marginal))
        rows.append([site, name, o.alone.lives, lost_alone, marginal, is_nested, exact, note])
    return rows


def _snap(price: float | None) -> float | None:
    """A price within PRICE_TOL of 0 is 0 (the solves are proved to 1e-9 lives)."""
    if price is None:
        return None
    return 0.0 if abs(price) <= PRICE_TOL else price


def _gain_note(name: str, gain: float) -> str:
    if name.startswith("reserve:"):
        why = ("its units follow the reserve's own order (its beneficiaries first) instead of "
               "the unreserved order")
    else:
        why = "without the score, the tie-break's lottery alone orders every candidate"
    return (f"a proven gain of {gain:.6g}: removing it from the policy loses lives, because "
            f"{why} (the two policies are not nested)")


def nested_components(policy: Policy, names: list[str]) -> dict[str, bool]:
    """Whether the policy with each component is a restriction of the policy without it
    (module docstring)."""
    ordered = any(not n.startswith("reserve:") for n in names)
    tie = f"tie_break:{policy.tie_break.method}" in names
    out = {}
    for name in names:
        if name.startswith("reserve:"):
            out[name] = not ordered
        elif name.startswith("priority:"):
            out[name] = not tie
        else:
            out[name] = True
    return out


def snapshot_price(policy: Policy, ranking: Ranking, flags: dict[str, np.ndarray], batch: Batch,
                   options: SolverOptions | None = None,
                   deadline: Deadline | None = None) -> pd.DataFrame:
    """The program's price of each component for one decision."""
    names = components(policy)
    large = len(batch.members) > MAX_PRIORITY_PRICE
    if large:
        names = [n for n in names if n.startswith("reserve:")]
    data = snapshot_data(policy, ranking, flags, batch, orders=not large)
    engine = SnapshotEngine(policy, SnapshotIP(data, per_patient=not large, options=options),
                            deadline)
    rows = priced_rows(batch.site, engine, names, nested_components(policy, names),
                       deadline=deadline)
    if large:
        why = (f"{len(batch.members)} candidates: above {MAX_PRIORITY_PRICE}, the "
               "respect-of-priorities program is not solved; reserves priced among reserves")
        for row in rows:
            row[-1] = join_notes(row[-1], "marginal among the reserves only")
        rows += [[batch.site, name, None, None, None, None, False, why]
                 for name in components(policy) if not name.startswith("reserve:")]
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
    engine = HorizonRules(stream, policy, ranking)
    return pd.DataFrame(priced_rows("all", engine, components(policy), proved=False),
                        columns=PRICE_COLUMNS)
