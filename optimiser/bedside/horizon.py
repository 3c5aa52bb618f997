"""Over time: patients arrive day by day, a unit comes free when a course ends
(docs/bedside.md, "Horizon").

* Online: each day, at each site, the rule decides among the day's arrivals for the units free
  that day (what a hospital can do). A unit is offered only if it stays free for the longest
  course among the day's candidates (units on hand can fall later: a plan moves them out), so
  no course is ever cut short by a planned departure. A patient who gets no unit on arrival is
  treated without it (survival_without); nobody waits. Reserves take their share of each
  day's free units, the fractions carried over from day to day so that the share holds over
  the horizon.
* Reassessment (off by default; ethically contested): NY 2015's time-limited trials. At 48 h
  and 120 h a patient on a unit is re-scored; one found "blue" gives up the unit, but only if
  a candidate waiting that day would otherwise go without (then survival_without applies).
* Offline: with hindsight, the integer program of models/bedside.py over the whole horizon:
  the most benefit any schedule can achieve, the upper bound no rule can beat. With reserves,
  each reserve's beneficiaries are served at least as often as the online rule served them.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.bedside import HorizonData, build_horizon
from optimiser.bedside.decide import Batch, BatchDecision, decide_batch
from optimiser.bedside.io import Cohort, Units
from optimiser.bedside.policy import Policy
from optimiser.bedside.reserves import allocate, categories_for
from optimiser.bedside.scores import Ranking
from optimiser.bedside.snapshot import EXACT
from optimiser.errors import InputError, Problem
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus

INTEGRAL_TOL = 1e-6
MAX_CELLS = 5_000_000  # sites x days held in memory (40 MB of counts)
MAX_PATIENT_DAYS = 20_000_000  # nonzeros of the offline program (the benchmark: 220,000)


@dataclass(frozen=True)
class Stream:
    """A cohort as arrays: what the online rule and the offline program read."""

    ids: list[str]
    sites: list[str]
    site: np.ndarray
    day: np.ndarray
    days: np.ndarray
    capacity: np.ndarray  # [site, day], covering every course's end
    flags: dict[str, np.ndarray]
    sofa: np.ndarray
    sofa_48h: np.ndarray
    sofa_120h: np.ndarray
    batches: list[tuple[int, int, np.ndarray]]  # (site, day, members) with arrivals

    @property
    def horizon(self) -> int:
        return int(self.capacity.shape[1])


def stream_from(cohort: Cohort, units: Units) -> Stream:
    p = cohort.patients
    site_names = p["site"].to_numpy(dtype=object)
    sites = list(dict.fromkeys([*units.sites, *pd.unique(site_names)]))
    index = pd.Index(sites)
    site = index.get_indexer(site_names).astype(np.int64)
    day = p["day"].to_numpy(dtype=np.int64)
    days = p["days"].to_numpy(dtype=np.int64)
    horizon = int((day + days).max(initial=0)) + 1
    used = int(np.minimum(days, horizon).sum())
    if used > MAX_PATIENT_DAYS:
        raise InputError(Problem(
            f"{used:,} patient-days of courses is above the engine's bound of "
            f"{MAX_PATIENT_DAYS:,} patient-days; split the case", file=cohort.file))
    if len(sites) * horizon > MAX_CELLS:
        raise InputError(Problem(
            f"{len(sites):,} sites x {horizon:,} days (arrivals and courses) is above the "
            f"engine's bound of {MAX_CELLS:,} site-days; split the case", file=units.source))
    capacity = units.matrix(sites, horizon)
    flags = {f: p[f].to_numpy(dtype=bool) for f in cohort.categories}
    order = np.lexsort((np.arange(len(p)), day, site))
    batches = []
    if len(order):
        keys = site[order] * (horizon + 1) + day[order]
        cuts = np.flatnonzero(np.diff(keys)) + 1
        for group in np.split(order, cuts):
            batches.append((int(site[group[0]]), int(day[group[0]]), group))
    batches.sort(key=lambda b: (b[1], b[0]))
    nan = np.full(len(p), math.nan)
    return Stream(p.index.astype(str).tolist(), sites, site, day, days, capacity, flags,
                  p["sofa"].to_numpy(dtype=float) if "sofa" in p else nan,
                  p["sofa_48h"].to_numpy(dtype=float) if "sofa_48h" in p else nan,
                  p["sofa_120h"].to_numpy(dtype=float) if "sofa_120h" in p else nan, batches)


@dataclass
class OnlineRun:
    served: np.ndarray
    category: np.ndarray  # name per patient ("" none)
    withdrawn: np.ndarray
    free_units: np.ndarray  # units free at each patient's decision
    decisions: list[BatchDecision] = field(default_factory=list)
    idle_unit_days: int = 0
    final: np.ndarray | None = None  # with overrides: who held a unit (served: recommended)

    @property
    def treated(self) -> np.ndarray:
        """Served and kept the unit to the end of the course."""
        return self.served & ~self.withdrawn

    @property
    def final_treated(self) -> np.ndarray:
        """Held a unit to the end of the course, the overrides applied (the recommendation
        when there is none)."""
        return (self.served if self.final is None else self.final) & ~self.withdrawn


def reassessment_tier(before: float, after: float, hours: int) -> str:
    """NY 2015 reassessment (from Christian et al., CMAJ 2006), completed where the table is
    silent (docs/bedside.md): at 48 h blue if SOFA > 11 or (8-11 and not decreasing), red if
    < 11 and decreasing, else yellow; at 120 h blue if SOFA > 11 or not decreasing since 48 h,
    red if < 11 and down by >= 3, yellow if down by 1-2."""
    if math.isnan(after) or math.isnan(before):
        return "unknown"
    change = after - before
    if after > 11:
        return "blue"
    if hours == 48:
        if 8 <= after <= 11 and change >= 0:
            return "blue"
        return "red" if change < 0 else "yellow"
    if change >= 0:
        return "blue"
    return "red" if change <= -3 else "yellow"


class _Occupancy:
    """Units in use per site, kept by day: starts and ends of courses, advanced day by day.

    Plain Python lists and ints: a decision touches a handful of entries, where numpy's
    per-call overhead cost more than the work (compare runs this 12 times per replication)."""

    def __init__(self, capacity: np.ndarray) -> None:
        sites, horizon = capacity.shape
        self.capacity = capacity
        self.horizon = horizon
        self.units = capacity.tolist()
        self.starts = [[0] * (horizon + 1) for _ in range(sites)]
        self.ends = [[0] * (horizon + 1) for _ in range(sites)]
        self.now = [0] * sites
        self.day = [-1] * sites
        # the days each site's units fall below the day before's
        falls = capacity[:, 1:] < capacity[:, :-1]
        self.falls = [(np.flatnonzero(row) + 1).tolist() for row in falls]

    def advance(self, s: int, t: int) -> None:
        self.now[s] -= sum(self.ends[s][self.day[s] + 1: t + 1])
        self.day[s] = t

    def free(self, s: int, t: int, window: int) -> int:
        """Units free on day t that stay free for `window` days (no new start in between)."""
        end = min(t + window, self.horizon)
        units = self.units[s]
        now = units[t] - self.now[s]
        falls = self.falls[s]
        k = bisect.bisect_right(falls, t)
        if k == len(falls) or falls[k] >= end:
            return max(now, 0)
        ends = self.ends[s]
        running = self.now[s]
        low = now
        for day in range(t + 1, end):
            running -= ends[day]
            low = min(low, units[day] - running)
        return max(low, 0)

    def start(self, s: int, t: int, days: Collection[int]) -> None:
        self.now[s] += len(days)
        self.starts[s][t] += len(days)
        ends = self.ends[s]
        for d in days:
            ends[t + d] += 1

    def withdraw(self, s: int, t: int, end: int) -> None:
        self.now[s] -= 1
        self.ends[s][end] -= 1
        self.ends[s][t] += 1  # the course ends today (already counted in `now`)

    def idle(self, last_day: int) -> int:
        starts = np.array(self.starts, dtype=np.int64).reshape(len(self.starts), -1)
        ends = np.array(self.ends, dtype=np.int64).reshape(len(self.ends), -1)
        occupied = np.cumsum(starts - ends, axis=1)[:, : self.horizon]
        spare = np.maximum(self.capacity - occupied, 0)
        return int(spare[:, : last_day + 1].sum())


def run_online(stream: Stream, policy: Policy, ranking: Ranking, *, reserves: bool = True,
               active: set[str] | None = None, rank: np.ndarray | None = None,
               record: bool = False, method: str = "rule",
               options: SolverOptions | None = None,
               deadline: float | None = None,
               rule_batches: Collection[tuple[str, int]] = (),
               forced: Mapping[int, bool] | None = None,
               ranked: list[list[int]] | None = None) -> OnlineRun:
    """Apply the rule day by day. `rank` overrides the ranking's order (price of fairness);
    `record` keeps each batch's certified decision (slower: one certificate per batch);
    `rule_batches` (site, day) are decided by the rule whatever `method` (a replay of
    decisions that fell back to the rule at a time limit).

    `forced` (patient index -> True: a unit, False: none) are the officer's overrides: each
    day's recommendation is made first (`served`), then the overrides of that day replace it
    for the patients they name (`final`), and the units held from then on are the final
    decisions': every later day is decided from the overridden state (a unit refused by an
    override is free that day for the next day's candidates; a unit given holds for the
    patient's course).

    `ranked`: ranked_candidates(stream, ranking.excluded, ranking.rank), when the caller runs
    the same ranking more than once (compare: with and without reserves)."""
    n = len(stream.ids)
    order = ranking.rank if rank is None else rank
    served = np.zeros(n, dtype=bool)
    final = np.zeros(n, dtype=bool) if forced else served
    give_by, deny_by = _forced_by_batch(stream, forced or {})
    withdrawn = np.zeros(n, dtype=bool)
    category = np.full(n, "", dtype=object)
    free_seen = np.zeros(n, dtype=np.int64)
    occupancy = _Occupancy(stream.capacity)
    specs = [r for r in policy.reserves if reserves and (active is None or r.name in active)]
    entitled = {(s, r.name): 0.0 for s in range(len(stream.sites)) for r in specs}
    active_names = {r.name for r in specs}
    if (all(r.soft for r in specs) and not record and method == "rule"
            and not policy.reassessment and not forced):
        if ranked is None or rank is not None:
            ranked = ranked_candidates(stream, ranking.excluded, order)
        return _run_soft(stream, policy, ranked, specs)
    decisions: list[BatchDecision] = []
    trials: dict[int, list[int]] = {}  # day -> patients to reassess that day
    reassess = policy.reassessment
    empty = np.zeros(0, dtype=np.int64)
    for b, (s, t, members) in enumerate(stream.batches):
        candidates = members[~ranking.excluded[members]]
        give, deny = give_by.get(b, empty), deny_by.get(b, empty)
        if len(candidates) == 0 and len(give) == 0:
            continue
        occupancy.advance(s, t)
        longest = int(stream.days[candidates].max(initial=0))
        if len(give):
            longest = max(longest, int(stream.days[give].max()))
        free = occupancy.free(s, t, longest)
        if reassess and free < len(candidates):
            free += _withdraw(stream, ranking, s, t, len(candidates) - free, final, withdrawn,
                              occupancy, trials)
        free_seen[members] = free
        if free == 0 or len(candidates) == 0:
            if len(give):  # more units than free: refused by the caller (api)
                final[give] = True
                occupancy.start(s, t, stream.days[give].tolist())
            continue
        sizes = _reserve_sizes(specs, entitled, s, free) if specs else None
        if record or method == "optimal":
            batch = Batch(stream.sites[s], t, candidates, free, sizes)
            local_policy = policy.with_changes(reserves=tuple(specs))
            left = None if deadline is None else deadline - time.perf_counter()
            # past the deadline a batch is decided by the rule at once (it was given its
            # program with 10 ms: 5,000 patients over 90 days took 2.0 s of a 0.01 s budget)
            late = left is not None and left <= 0
            here = "rule" if late or (stream.sites[s], t) in rule_batches else method
            decision = decide_batch(local_policy, _ranked(ranking, order), stream.flags, batch,
                                    stream.ids, method=here, options=options,
                                    time_limit=None if left is None else max(0.01, left),
                                    check=record)
            decisions.append(decision)
            picked = decision.served
            chosen = candidates[picked]
            labels = np.array([decision.categories[c].name for c in decision.assigned[picked]],
                              dtype=object)
        else:
            local_flags = {f: v[candidates] for f, v in stream.flags.items()}
            cats = categories_for(policy, local_flags, len(candidates), free, sizes,
                                  active_names)
            local = allocate(cats, order[candidates], policy.reserve_method).assigned
            picked = local >= 0
            chosen = candidates[picked]
            labels = np.array([cats[c].name for c in local[picked]], dtype=object)
        served[chosen] = True
        category[chosen] = labels
        if forced:
            chosen = np.union1d(np.setdiff1d(chosen, deny), give)
            final[chosen] = True
        occupancy.start(s, t, stream.days[chosen].tolist())
        if reassess:
            for delay in (2, 5):
                later = chosen[stream.days[chosen] > delay]
                if len(later):
                    trials.setdefault(t + delay, []).extend(int(i) for i in later)
    idle = occupancy.idle(int(stream.day.max(initial=0))) if n else 0
    return OnlineRun(served, category, withdrawn, free_seen, decisions, idle,
                     final if forced else None)


def _forced_by_batch(stream: Stream, forced: Mapping[int, bool]
                     ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """The overrides by batch: patients given a unit, patients refused one."""
    if not forced:
        return {}, {}
    batch_of = {(s, t): b for b, (s, t, _) in enumerate(stream.batches)}
    give: dict[int, list[int]] = {}
    deny: dict[int, list[int]] = {}
    for i, unit in sorted(forced.items()):
        b = batch_of[int(stream.site[i]), int(stream.day[i])]
        (give if unit else deny).setdefault(b, []).append(int(i))
    return ({b: np.array(v, dtype=np.int64) for b, v in give.items()},
            {b: np.array(v, dtype=np.int64) for b, v in deny.items()})


def ranked_candidates(stream: Stream, excluded: np.ndarray,
                      order: np.ndarray) -> list[list[int]]:
    """Each batch's candidates, highest priority first (one sort for the whole stream)."""
    sizes = [len(m) for _, _, m in stream.batches]
    members = np.concatenate([m for _, _, m in stream.batches]) if sizes else np.zeros(0, int)
    batch = np.repeat(np.arange(len(sizes)), sizes)
    keep = ~excluded[members]
    members, batch = members[keep], batch[keep]
    sorted_members = members[np.lexsort((order[members], batch))]
    counts = np.bincount(batch, minlength=len(sizes))
    if not sizes:
        return []
    flat = sorted_members.tolist()
    cuts = np.cumsum(counts).tolist()
    return [flat[a:b] for a, b in zip([0, *cuts[:-1]], cuts, strict=True)]


def _run_soft(stream: Stream, policy: Policy, ranked: list[list[int]],
              specs: list[Any]) -> OnlineRun:
    """run_online when the rule decides, every reserve is soft, nobody is reassessed and
    nothing is overridden (compare's runs): the same decisions as the general loop (soft
    reserves are open to all, so smart processing places exactly what sequential does), in
    plain Python over lists, a day's batch being a few dozen candidates. `ranked`: each batch's
    candidates, highest priority first."""
    n = len(stream.ids)
    days = stream.days.tolist()
    flags = {r.category: stream.flags[r.category].tolist() for r in specs}
    occupancy = _Occupancy(stream.capacity)
    entitled = {(s, r.name): 0.0 for s in range(len(stream.sites)) for r in specs}
    chosen_all: list[int] = []
    labels_all: list[str] = []
    free_by_batch: list[tuple[np.ndarray, int]] = []
    for b, (s, t, members) in enumerate(stream.batches):
        candidates = ranked[b]
        if not candidates:
            continue
        occupancy.advance(s, t)
        free = occupancy.free(s, t, max(map(days.__getitem__, candidates)))
        free_by_batch.append((members, free))
        if free == 0:
            continue
        sizes = _reserve_sizes(specs, entitled, s, free)
        chosen, labels = _sequential_soft(policy.order, specs, flags, candidates, free, sizes)
        occupancy.start(s, t, [days[i] for i in chosen])
        chosen_all += chosen
        labels_all += labels
    served = np.zeros(n, dtype=bool)
    served[chosen_all] = True
    category = np.full(n, "", dtype=object)
    category[chosen_all] = labels_all
    free_seen = np.zeros(n, dtype=np.int64)
    for members, free in free_by_batch:
        free_seen[members] = free
    idle = occupancy.idle(int(stream.day.max(initial=0))) if n else 0
    return OnlineRun(served, category, np.zeros(n, dtype=bool), free_seen, [], idle)


def _reserve_sizes(specs: Sequence[Any], entitled: dict[tuple[int, str], float], site: int,
                   free: int) -> dict[str, int]:
    """Each reserve's units in a batch of `free` units at `site`: a share reserve accrues its
    share of every batch and takes the whole units accrued (the fraction carries over to the
    site's next batch, in `entitled`); a fixed reserve takes its size of the batch."""
    sizes = {}
    for spec in specs:
        if spec.share is not None:
            entitled[site, spec.name] += spec.share * free
            sizes[spec.name] = math.floor(entitled[site, spec.name] + 1e-9)
            entitled[site, spec.name] -= sizes[spec.name]
        else:
            sizes[spec.name] = spec.size(free)
    return sizes


def _sequential_soft(order: Sequence[str], specs: Sequence[Any],
                     flags: Mapping[str, Sequence[bool]], ranked: Sequence[int], free: int,
                     sizes: Mapping[str, int]) -> tuple[list[int], list[str]]:
    """Sequential reserve processing when every reserve is soft (reserves.sequential with
    categories_for, specialised: the same choice, without building the categories).
    `ranked`: the candidates, highest priority first; `flags[category][i]`: patient i is a
    beneficiary. Returns the chosen, in that order, and their categories."""
    if not specs:
        chosen = list(ranked[:free])
        return chosen, ["unreserved"] * len(chosen)
    by_name = {r.name: r for r in specs}
    caps: dict[str, int] = {}
    left = free
    for name in order:
        if name in by_name:
            caps[name] = min(max(sizes.get(name, 0), 0), left)
            left -= caps[name]
    label: list[str | None] = [None] * len(ranked)
    for name in order:
        if name in by_name:
            cap = caps[name]
            if cap <= 0:
                continue
            ben = flags[by_name[name].category]
            for want in (True, False):
                for k, i in enumerate(ranked):
                    if cap <= 0:
                        break
                    if label[k] is None and bool(ben[i]) is want:
                        label[k] = name
                        cap -= 1
        elif name == "unreserved":
            cap = left
            for k in range(len(label)):
                if cap <= 0:
                    break
                if label[k] is None:
                    label[k] = name
                    cap -= 1
    picked = [k for k, x in enumerate(label) if x is not None]
    return [ranked[k] for k in picked], [str(label[k]) for k in picked]


def _ranked(ranking: Ranking, order: np.ndarray) -> Ranking:
    from dataclasses import replace

    return ranking if order is ranking.rank else replace(ranking, rank=order)


def _withdraw(stream: Stream, ranking: Ranking, s: int, t: int, shortage: int,
              served: np.ndarray, withdrawn: np.ndarray, occupancy: _Occupancy,
              trials: dict[int, list[int]]) -> int:
    """Withdraw up to `shortage` units from patients found blue at their 48 h or 120 h trial
    today (lowest priority first); returns the units freed."""
    due = [i for i in trials.get(t, []) if stream.site[i] == s and served[i] and not withdrawn[i]]
    blue = []
    for i in due:
        hours = 48 if t - stream.day[i] == 2 else 120
        before = stream.sofa[i] if hours == 48 else stream.sofa_48h[i]
        after = stream.sofa_48h[i] if hours == 48 else stream.sofa_120h[i]
        if reassessment_tier(before, after, hours) == "blue":
            blue.append(i)
    blue.sort(key=lambda i: -ranking.rank[i])
    freed = 0
    for i in blue[:shortage]:
        withdrawn[i] = True
        occupancy.withdraw(s, t, int(stream.day[i] + stream.days[i]))
        freed += 1
    return freed


@dataclass(frozen=True)
class Bound:
    """The offline optimum (or its proven bound when stopped early)."""

    status: SolveStatus
    value: float | None
    bound: float | None
    served: np.ndarray | None
    proof: str
    seconds: float


def offline_optimum(stream: Stream, benefit: np.ndarray, excluded: np.ndarray,
                    floors: list[tuple[str, np.ndarray, int]] | None = None,
                    options: SolverOptions | None = None,
                    time_limit: float | None = None, exact: bool = True) -> Bound:
    """Most benefit any schedule achieves with hindsight (models/bedside.py, horizon).

    The LP relaxation first (exact without reserve floors: the rows are an interval matrix).
    If it is fractional: `exact` runs branch and bound; otherwise the few fractional patients
    are decided by a small integer program with everyone else fixed, and the LP value stays
    as the proven bound (the gap is reported)."""
    keep = np.flatnonzero(~excluded)
    if len(keep) == 0:  # nobody to schedule: nothing to solve
        return Bound(SolveStatus.OPTIMAL, 0.0, 0.0, np.zeros(len(benefit), dtype=bool),
                     "no candidate", 0.0)
    data = HorizonData(benefit[keep], stream.day[keep], stream.site[keep], stream.days[keep],
                       stream.capacity, [(n, m[keep], f) for n, m, f in floors or []])
    program = build_horizon(data)
    h = MatrixHighsModel(program.col_lower, program.col_upper, program.matrix,
                         program.row_lower, program.row_upper,
                         np.zeros_like(program.integrality), options or EXACT)
    h.set_option("presolve", "off")
    h.set_cost(program.objective, maximize=True)
    run = h.solve(time_limit)
    seconds = run.seconds
    x = program.cols["x"]
    if run.values is None or run.status is not SolveStatus.OPTIMAL:
        return Bound(run.status, None, run.bound, None, str(run.status), seconds)
    values, bound, proof = run.values[x], run.objective, "lp-integral"
    frac = np.abs(values - np.round(values)) > INTEGRAL_TOL
    if frac.any():
        values, status, seconds, proof = _round(program, h, values, frac, exact, options,
                                                time_limit, seconds)
        if values is None:
            return Bound(status, None, bound, None, proof, seconds)
    served = np.zeros(len(benefit), dtype=bool)
    served[keep] = values > 0.5
    value = float(benefit[served].sum())
    if proof == "rounded" and bound is not None and bound - value <= 1e-7 * max(1.0, bound):
        proof = "rounded-optimal"
    # "rounded": the LP bound stands, not closed by branch-and-bound (a choice, not time)
    status = SolveStatus.OPTIMAL if proof != "rounded" else SolveStatus.ITERATION_LIMIT
    return Bound(status, value, bound, served, proof, seconds)


def _round(program: Any, h: MatrixHighsModel, values: np.ndarray, frac: np.ndarray,
           exact: bool, options: SolverOptions | None, time_limit: float | None,
           seconds: float) -> tuple[np.ndarray | None, SolveStatus, float, str]:
    """Integer values from a fractional LP optimum (offline_optimum's doc)."""
    x = program.cols["x"]
    if not exact:
        fixed = np.where(frac, 0.0, np.round(values))
        used = program.matrix @ fixed
        sub = MatrixHighsModel(np.zeros(int(frac.sum())), np.ones(int(frac.sum())),
                               program.matrix[:, x[frac]], program.row_lower - used,
                               program.row_upper - used, np.ones(int(frac.sum()),
                                                                 dtype=np.int8), options)
        sub.set_cost(program.objective[x[frac]], maximize=True)
        small = sub.solve(time_limit)
        seconds += small.seconds
        if small.values is not None and small.status is SolveStatus.OPTIMAL:
            fixed[frac] = np.round(small.values)
            return fixed, SolveStatus.OPTIMAL, seconds, "rounded"
    h.set_integrality(x, True)
    h.set_option("presolve", "off")  # HiGHS's presolve is slower than the solve here
    run = h.solve(time_limit)
    seconds += run.seconds
    if run.values is None:
        return None, run.status, seconds, str(run.status)
    proof = "branch-and-bound" if run.status is SolveStatus.OPTIMAL else str(run.status)
    return run.values[x], run.status, seconds, proof


def outcomes(stream: Stream, patients: pd.DataFrame, treated: np.ndarray) -> dict[str, float]:
    """Expected survivors, survivors gained, life-years gained of a set of treated patients."""
    sw = patients["survival_with"].to_numpy(dtype=float)
    swo = patients["survival_without"].to_numpy(dtype=float)
    gain = sw - swo
    survivors = float(np.where(treated, sw, swo).sum())
    out = {"expected_survivors": survivors, "lives_gained": float(gain[treated].sum()),
           "treated": int(treated.sum())}
    if "life_expectancy_years" in patients and patients["life_expectancy_years"].notna().all():
        le = patients["life_expectancy_years"].to_numpy(dtype=float)
        out["life_years_gained"] = float((gain * le)[treated].sum())
    return out
