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

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.bedside import HorizonData, build_horizon
from optimiser.bedside.decide import Batch, BatchDecision, decide_batch
from optimiser.bedside.io import Cohort, Units
from optimiser.bedside.policy import Policy
from optimiser.bedside.reserves import allocate, categories_for
from optimiser.bedside.scores import Ranking
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus

INTEGRAL_TOL = 1e-6


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
    sites = list(dict.fromkeys([*units.sites, *p["site"]]))
    index = {s: i for i, s in enumerate(sites)}
    site = np.array([index[s] for s in p["site"]], dtype=np.int64)
    day = p["day"].to_numpy(dtype=np.int64)
    days = p["days"].to_numpy(dtype=np.int64)
    horizon = int((day + days).max(initial=0)) + 1
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
    return Stream([str(i) for i in p.index], sites, site, day, days, capacity, flags,
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

    @property
    def treated(self) -> np.ndarray:
        """Served and kept the unit to the end of the course."""
        return self.served & ~self.withdrawn


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


def run_online(stream: Stream, policy: Policy, ranking: Ranking, *, reserves: bool = True,
               active: set[str] | None = None, rank: np.ndarray | None = None,
               record: bool = False, method: str = "rule",
               options: SolverOptions | None = None,
               deadline: float | None = None) -> OnlineRun:
    """Apply the rule day by day. `rank` overrides the ranking's order (price of fairness);
    `record` keeps each batch's certified decision (slower: one certificate per batch)."""
    n = len(stream.ids)
    order = ranking.rank if rank is None else rank
    served = np.zeros(n, dtype=bool)
    withdrawn = np.zeros(n, dtype=bool)
    category = np.full(n, "", dtype=object)
    free_seen = np.zeros(n, dtype=np.int64)
    running = np.zeros_like(stream.capacity)
    reserve_specs = [r for r in policy.reserves
                     if reserves and (active is None or r.name in active)]
    entitled = {(s, r.name): 0.0 for s in range(len(stream.sites)) for r in reserve_specs}
    active_names = {r.name for r in reserve_specs}
    decisions: list[BatchDecision] = []
    trials: dict[int, list[int]] = {}  # day -> patients to reassess that day
    reassess = policy.reassessment
    for s, t, members in stream.batches:
        candidates = members[~ranking.excluded[members]]
        if len(candidates) == 0:
            continue
        window = int(stream.days[candidates].max())
        end = min(t + window, stream.horizon)
        free = int((stream.capacity[s, t:end] - running[s, t:end]).min())
        free = max(free, 0)
        if reassess and free < len(candidates):
            free += _withdraw(stream, ranking, s, t, len(candidates) - free, served, withdrawn,
                              running, trials)
        free_seen[members] = free
        if free == 0:
            continue
        sizes = None
        if reserve_specs and free > 0:
            sizes = {}
            for spec in reserve_specs:
                if spec.share is not None:
                    entitled[s, spec.name] += spec.share * free
                    sizes[spec.name] = math.floor(entitled[s, spec.name] + 1e-9)
                    entitled[s, spec.name] -= sizes[spec.name]
                else:
                    sizes[spec.name] = spec.size(free)
        if free >= len(candidates) and not reserve_specs and not record:
            chosen = candidates
            labels = np.full(len(chosen), "unreserved", dtype=object)
        elif record or method == "optimal":
            batch = Batch(stream.sites[s], t, candidates, free, sizes)
            local_policy = policy.with_changes(reserves=tuple(reserve_specs))
            left = None if deadline is None else max(0.01, deadline - time.perf_counter())
            decision = decide_batch(local_policy, _ranked(ranking, order), stream.flags, batch,
                                    stream.ids, method=method, options=options, time_limit=left)
            decisions.append(decision)
            picked = decision.served
            chosen = candidates[picked]
            labels = np.array([decision.categories[c].name for c in decision.assigned[picked]],
                              dtype=object)
        else:
            local_flags = {f: v[candidates] for f, v in stream.flags.items()}
            cats = categories_for(policy, local_flags, free, sizes, active_names)
            local = allocate(cats, order[candidates], policy.reserve_method).assigned
            picked = local >= 0
            chosen = candidates[picked]
            labels = np.array([cats[c].name for c in local[picked]], dtype=object)
        served[chosen] = True
        category[chosen] = labels
        for i in chosen:
            running[s, t:t + stream.days[i]] += 1
            if reassess:
                for _hours, delay in ((48, 2), (120, 5)):
                    if stream.days[i] > delay:
                        trials.setdefault(t + delay, []).append(int(i))
    idle = int(np.maximum(stream.capacity - running, 0)[:, : int(stream.day.max(initial=0)) + 1]
               .sum()) if n else 0
    return OnlineRun(served, category, withdrawn, free_seen, decisions, idle)


def _ranked(ranking: Ranking, order: np.ndarray) -> Ranking:
    from dataclasses import replace

    return ranking if order is ranking.rank else replace(ranking, rank=order)


def _withdraw(stream: Stream, ranking: Ranking, s: int, t: int, shortage: int,
              served: np.ndarray, withdrawn: np.ndarray, running: np.ndarray,
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
        running[s, t:stream.day[i] + stream.days[i]] -= 1
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
                    time_limit: float | None = None) -> Bound:
    """Most benefit any schedule achieves with hindsight (models/bedside.py, horizon)."""
    keep = np.flatnonzero(~excluded)
    data = HorizonData(benefit[keep], stream.day[keep], stream.site[keep], stream.days[keep],
                       stream.capacity, [(n, m[keep], f) for n, m, f in floors or []])
    program = build_horizon(data)
    h = MatrixHighsModel(program.col_lower, program.col_upper, program.matrix,
                         program.row_lower, program.row_upper,
                         np.zeros_like(program.integrality), options)
    h.set_option("presolve", "off")
    h.set_cost(program.objective, maximize=True)
    run = h.solve(time_limit)
    seconds, proof = run.seconds, "lp-integral"
    x = program.cols["x"]
    if run.values is not None and run.status is SolveStatus.OPTIMAL:
        frac = np.abs(run.values[x] - np.round(run.values[x]))
        if float(frac.max(initial=0.0)) > INTEGRAL_TOL:
            h.set_integrality(x, True)
            h.set_option("presolve", "on")
            lp_bound = run.objective
            run = h.solve(time_limit)
            seconds += run.seconds
            proof = "branch-and-bound" if run.status is SolveStatus.OPTIMAL else str(run.status)
            if run.bound is None:
                run = type(run)(run.status, run.objective, lp_bound, run.gap, run.seconds,
                                run.values)
    else:
        proof = str(run.status)
    served = None
    value = None
    if run.values is not None:
        served = np.zeros(len(benefit), dtype=bool)
        served[keep] = run.values[x] > 0.5
        value = float(benefit[served].sum())
    return Bound(run.status, value, run.bound, served, proof, seconds)


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
