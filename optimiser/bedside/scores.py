"""Priority scores and the order they induce, for the committee's policy and for every
protocol `compare` runs. Each score cites its published source (docs/bedside.md, "Scores"):

* RAPR (Savulescu, Vergano, Craxi and Wilkinson, BJA 2020; seed 002, p. 6): benefit divided by
  the relative expected duration, RAPR_i = b_i / (d_i / mean d). b_i is the survival gain
  (survival_with - survival_without: "the relevant probability of survival is the difference",
  seed 002 note 8), or the life-years gain when the objective is life_years. The paper's
  example: 60% survival, 10 days against a 5-day mean gives 30%.
* NY 2015 tiers (New York State Task Force on Life and the Law, Ventilator Allocation
  Guidelines, 2015, clinical protocol for adults): blue (an exclusion criterion or SOFA > 11:
  no ventilator), red (SOFA <= 7 or single organ failure: highest priority), yellow (SOFA 8-11:
  intermediate); a lottery within a tier.
* Pittsburgh points (White and Halpern, University of Pittsburgh model hospital policy, 2020;
  table as reported by Piscitello et al., PMC7243750, Table 1): SOFA < 6: 1, 6-8: 2, 9-11: 3,
  >= 12: 4; major comorbidity +2, severely life-limiting +4; lower is higher priority;
  tie-breakers: life-cycle (ages 12-40, 41-60, 61-75, > 75, younger first), then essential
  health workers, then a lottery.
* fcfs (arrival time), lottery, max_life_years (gain x remaining life expectancy, seed 000).

The lottery draw of a patient is a hash of (seed, patient id): the same patient gets the same
draw whatever the file order, and no other column (reporting groups included) enters it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimiser.bedside.policy import Policy

PROTOCOLS = ("fcfs", "lottery", "ny2015_tiers", "pittsburgh_points", "rapr", "max_life_years")
NEEDS = {
    "ny2015_tiers": ("sofa",),
    "pittsburgh_points": ("sofa",),
    "max_life_years": ("life_expectancy_years",),
}


def lottery_draws(ids: Any, seed: int) -> np.ndarray:
    """u_i in (0, 1): the first 8 bytes of sha256("seed|patient id"), as a fraction."""
    out = np.empty(len(ids))
    for i, pid in enumerate(ids):
        digest = hashlib.sha256(f"{seed}|{pid}".encode()).digest()
        out[i] = (int.from_bytes(digest[:8], "big") + 0.5) / 2.0**64
    return out


def benefit(patients: pd.DataFrame, objective: str) -> np.ndarray:
    """b_i: survival gain (lives) or survival gain x life expectancy (life_years)."""
    gain = (patients["survival_with"] - patients["survival_without"]).to_numpy(dtype=float)
    if objective == "life_years":
        return gain * patients["life_expectancy_years"].to_numpy(dtype=float)
    return gain


@dataclass(frozen=True)
class Ranking:
    """A protocol's order over patients (arrays in the patients' order).

    `classes`: 0 is the highest priority class of the score (ties share a class);
    `rank`: the strict order 0..n-1 after the score's own tie-breakers and the lottery;
    `excluded`: not a candidate under this protocol (`reason` says why)."""

    protocol: str
    benefit: np.ndarray
    score: np.ndarray
    classes: np.ndarray
    rank: np.ndarray
    lottery_rank: np.ndarray
    draw: np.ndarray
    weight: np.ndarray
    excluded: np.ndarray
    reason: list[str]
    components: list[dict[str, Any]]


def rank_patients(patients: pd.DataFrame, policy: Policy, protocol: str | None = None,
                  mean_days: float | None = None) -> Ranking:
    """Score and order `patients` under `protocol` (default: the policy's priority).

    DNI patients and the policy's clinical exclusions are never candidates."""
    protocol = protocol or policy.priority
    n = len(patients)
    ids = [str(p) for p in patients.index]
    b = benefit(patients, policy.objective)
    gain = (patients["survival_with"] - patients["survival_without"]).to_numpy(dtype=float)
    draw = lottery_draws(ids, policy.tie_break.seed)
    weight = np.ones(n)
    for flag, w in policy.tie_break.weights:
        weight = np.where(patients[flag].to_numpy(dtype=bool), weight * w, weight)
    lottery_key = -np.log(draw) / weight  # Efraimidis-Spirakis: lowest key wins
    excluded = patients["dni"].to_numpy(dtype=bool).copy()
    reason = ["declined the treatment (DNI): not a candidate" if d else "" for d in excluded]
    for rule in policy.exclusions:
        values = patients[rule.column].to_numpy(dtype=float)
        hit = np.zeros(n, dtype=bool)
        if rule.above is not None:
            hit |= values > rule.above
        if rule.below is not None:
            hit |= values < rule.below
        for j in np.flatnonzero(hit & ~excluded).tolist():
            bound = f"above {rule.above:g}" if rule.above is not None else f"below {rule.below:g}"
            reason[j] = f"policy exclusion: {rule.column} {values[j]:g} {bound}" + (
                f" ({rule.reason})" if rule.reason else "")
        excluded |= hit
    components: list[dict[str, Any]] = [{"benefit": round(float(x), 9)} for x in b]
    ties: list[np.ndarray] = []
    if protocol == "rapr":
        days = patients["expected_days"].to_numpy(dtype=float)
        mean = float(mean_days) if mean_days else _mean_days(policy, days, excluded)
        score = b / (days / mean)
        for i, c in enumerate(components):
            c.update(expected_days=float(days[i]), mean_days=round(mean, 9),
                     rapr=round(float(score[i]), 9))
        key = -score
    elif protocol == "ny2015_tiers":
        score, tiers = ny2015_tiers(patients, policy)
        for i, c in enumerate(components):
            c.update(sofa=_num(patients["sofa"].iloc[i]), tier=tiers[i])
            if tiers[i] == "blue" and policy.ny2015.exclude_blue and not excluded[i]:
                excluded[i] = True
                reason[i] = ("NY 2015 blue (exclusion criterion or SOFA > "
                             f"{policy.ny2015.blue_min_sofa - 1}): no unit; medical management "
                             "and palliative care")
        key = score.astype(float)
    elif protocol == "pittsburgh_points":
        score, parts = pittsburgh_points(patients, policy)
        for c, extra in zip(components, parts, strict=True):
            c.update(extra)
        key = score.astype(float)
        if policy.pittsburgh.life_cycle_tiebreak:
            ties.append(np.array([p.get("life_cycle_group", 0) for p in parts], dtype=float))
        if policy.pittsburgh.essential_worker_tiebreak and "essential_health_worker" in patients:
            ties.append(~patients["essential_health_worker"].to_numpy(dtype=bool) * 1.0)
    elif protocol == "fcfs":
        score = patients["arrival"].to_numpy(dtype=float)
        key = score
        for i, c in enumerate(components):
            c.update(arrival=float(score[i]))
    elif protocol == "lottery":
        score = np.zeros(n)
        key = score
    elif protocol == "max_life_years":
        score = gain * patients["life_expectancy_years"].to_numpy(dtype=float)
        for i, c in enumerate(components):
            c.update(life_years_gain=round(float(score[i]), 9))
        key = -score
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    classes = _dense(np.column_stack([key, *ties]) if ties else key[:, None])
    order = np.lexsort((lottery_key, classes))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    lottery_rank = np.empty(n, dtype=np.int64)
    lottery_rank[np.argsort(lottery_key, kind="stable")] = np.arange(n)
    for i, c in enumerate(components):
        c["lottery_draw"] = round(float(draw[i]), 12)
        if weight[i] != 1.0:
            c["lottery_weight"] = float(weight[i])
    return Ranking(protocol, b, np.asarray(score, dtype=float), classes, rank, lottery_rank,
                   draw, weight, excluded, reason, components)


def _mean_days(policy: Policy, days: np.ndarray, excluded: np.ndarray) -> float:
    """The mean duration RAPR divides by: the policy's, else the candidates' mean."""
    if policy.rapr_mean_days:
        return float(policy.rapr_mean_days)
    kept = days[~excluded]
    return float(kept.mean()) if len(kept) else 1.0


def _dense(keys: np.ndarray) -> np.ndarray:
    """Class 0 for the smallest key row; rows equal to 12 decimals share a class."""
    rounded = np.round(np.asarray(keys, dtype=float), 12)
    _, inverse = np.unique(rounded, axis=0, return_inverse=True)
    return np.asarray(inverse, dtype=np.int64).ravel()


def _num(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(
        value)


TIER_RANK = {"red": 0, "yellow": 1, "blue": 2}


def ny2015_tier(sofa: float, exclusion: bool, single_organ: bool, red_max: int,
                blue_min: int) -> str:
    if exclusion or sofa >= blue_min:
        return "blue"
    if sofa <= red_max or single_organ:
        return "red"
    return "yellow"


def ny2015_tiers(patients: pd.DataFrame, policy: Policy) -> tuple[np.ndarray, list[str]]:
    p = policy.ny2015
    tiers = [
        "blue" if dni else ny2015_tier(float(sofa), bool(exc), bool(single), p.red_max_sofa,
                                       p.blue_min_sofa)
        for sofa, exc, single, dni in zip(patients["sofa"].fillna(24), patients["exclusion"],
                                          patients["single_organ_failure"], patients["dni"],
                                          strict=True)
    ]
    return np.array([TIER_RANK[t] for t in tiers]), tiers


def sofa_points(sofa: float, bands: tuple[tuple[int, int, int], ...]) -> int:
    for low, high, points in bands:
        if low <= sofa <= high:
            return points
    return bands[-1][2]


def life_cycle_group(age: float, groups: tuple[int, ...]) -> int:
    """1 for ages up to the first bound (40), 2 up to the second (60), ... (younger first)."""
    for i, bound in enumerate(groups):
        if age <= bound:
            return i + 1
    return len(groups) + 1


def pittsburgh_points(patients: pd.DataFrame, policy: Policy) -> tuple[np.ndarray,
                                                                       list[dict[str, Any]]]:
    p = policy.pittsburgh
    table = dict(p.comorbidity_points)
    totals, parts = [], []
    for sofa, comorbidity, age in zip(patients["sofa"].fillna(24), patients["comorbidity"],
                                      patients["age_years"], strict=True):
        points = sofa_points(float(sofa), p.sofa_bands)
        extra = table.get(str(comorbidity or "none"), 0)
        part: dict[str, Any] = {"sofa": float(sofa), "sofa_points": points,
                                "comorbidity": str(comorbidity or "none"),
                                "comorbidity_points": extra, "points": points + extra}
        if p.life_cycle_tiebreak and not (isinstance(age, float) and math.isnan(age)):
            part["life_cycle_group"] = life_cycle_group(float(age), p.age_groups)
        totals.append(points + extra)
        parts.append(part)
    return np.array(totals), parts


def available(patients: pd.DataFrame, protocol: str, policy: Policy) -> str | None:
    """Why `protocol` cannot run on these patients (a column it needs is blank), or None."""
    candidates = patients[~patients["dni"]]
    needs = list(NEEDS.get(protocol, ()))
    if protocol == "pittsburgh_points" and policy.pittsburgh.life_cycle_tiebreak:
        needs.append("age_years")
    if policy.objective == "life_years":
        needs.append("life_expectancy_years")
    for column in needs:
        if column not in candidates or candidates[column].isna().any():
            return f"{protocol} needs {column} for every candidate"
    return None
