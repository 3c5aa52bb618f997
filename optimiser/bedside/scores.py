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
    prefix = hashlib.sha256(f"{seed}|".encode())
    heads = bytearray()
    for pid in ids:
        digest = prefix.copy()
        digest.update(str(pid).encode())
        heads += digest.digest()[:8]
    # uint64 -> float64 rounds to nearest as int -> float does; then + 0.5 and / 2^64 as before
    top = np.frombuffer(bytes(heads), dtype=">u8").astype(np.float64)
    return (top + 0.5) / 2.0**64


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
                  mean_days: float | None = None, *, detail: bool = True,
                  draws: np.ndarray | None = None) -> Ranking:
    """Score and order `patients` under `protocol` (default: the policy's priority).

    DNI patients and the policy's clinical exclusions are never candidates. `detail`: the
    per-patient score components and reasons of the decision log (compare skips them);
    `draws`: the lottery draws, when already computed for these patients and seed."""
    protocol = protocol or policy.priority
    n = len(patients)
    b = benefit(patients, policy.objective)
    gain = (patients["survival_with"] - patients["survival_without"]).to_numpy(dtype=float)
    draw = draws if draws is not None else lottery_draws(
        [str(p) for p in patients.index], policy.tie_break.seed)
    weight = np.ones(n)
    for flag, w in policy.tie_break.weights:
        weight = np.where(patients[flag].to_numpy(dtype=bool), weight * w, weight)
    lottery_key = -np.log(draw) / weight  # Efraimidis-Spirakis: lowest key wins
    excluded = patients["dni"].to_numpy(dtype=bool).copy()
    reason = [""] * n
    if detail:
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
    extra: dict[str, np.ndarray] = {}
    ties: list[np.ndarray] = []
    if protocol == "rapr":
        days = patients["expected_days"].to_numpy(dtype=float)
        mean = float(mean_days) if mean_days else _mean_days(policy, days, excluded)
        score = b / (days / mean)
        extra = {"expected_days": days, "mean_days": np.full(n, mean), "rapr": score}
        key = -score
    elif protocol == "ny2015_tiers":
        score, tiers = ny2015_tiers(patients, policy)
        blue = (tiers == "blue") & ~excluded
        if policy.ny2015.exclude_blue:
            for j in np.flatnonzero(blue).tolist():
                reason[j] = ("NY 2015 blue (exclusion criterion or SOFA > "
                             f"{policy.ny2015.blue_min_sofa - 1}): no unit; medical management "
                             "and palliative care")
            excluded |= blue
        extra = {"sofa": patients["sofa"].to_numpy(dtype=float), "tier": tiers}
        key = score.astype(float)
    elif protocol == "pittsburgh_points":
        score, extra = pittsburgh_points(patients, policy)
        key = score.astype(float)
        if policy.pittsburgh.life_cycle_tiebreak:
            ties.append(extra["life_cycle_group"])
        if policy.pittsburgh.essential_worker_tiebreak and "essential_health_worker" in patients:
            ties.append(~patients["essential_health_worker"].to_numpy(dtype=bool) * 1.0)
    elif protocol == "fcfs":
        score = patients["arrival"].to_numpy(dtype=float)
        extra = {"arrival": score}
        key = score
    elif protocol == "lottery":
        score = np.zeros(n)
        key = score
    elif protocol == "max_life_years":
        score = gain * patients["life_expectancy_years"].to_numpy(dtype=float)
        extra = {"life_years_gain": score}
        key = -score
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    classes = _dense(np.column_stack([key, *ties]) if ties else key)
    order = np.lexsort((lottery_key, classes))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    lottery_rank = np.empty(n, dtype=np.int64)
    lottery_rank[np.argsort(lottery_key, kind="stable")] = np.arange(n)
    components: list[dict[str, Any]] = []
    if detail:
        components = _components(b, extra, draw, weight)
    return Ranking(protocol, b, np.asarray(score, dtype=float), classes, rank, lottery_rank,
                   draw, weight, excluded, reason, components)


def _components(b: np.ndarray, extra: dict[str, np.ndarray], draw: np.ndarray,
                weight: np.ndarray) -> list[dict[str, Any]]:
    """Per patient, what the decision log records of its score."""
    out = []
    columns = {k: v.tolist() for k, v in extra.items()}
    for i in range(len(b)):
        record: dict[str, Any] = {"benefit": round(float(b[i]), 9)}
        for key, values in columns.items():
            value = values[i]
            if isinstance(value, float):
                value = None if math.isnan(value) else round(value, 9)
            record[key] = value
        record["lottery_draw"] = round(float(draw[i]), 12)
        if weight[i] != 1.0:
            record["lottery_weight"] = float(weight[i])
        out.append(record)
    return out


def _mean_days(policy: Policy, days: np.ndarray, excluded: np.ndarray) -> float:
    """The mean duration RAPR divides by: the policy's, else the candidates' mean."""
    if policy.rapr_mean_days:
        return float(policy.rapr_mean_days)
    kept = days[~excluded]
    return float(kept.mean()) if len(kept) else 1.0


def _dense(keys: np.ndarray) -> np.ndarray:
    """Class 0 for the smallest key (row); keys equal to 12 decimals share a class."""
    rounded = np.round(np.asarray(keys, dtype=float), 12)
    if rounded.ndim == 1:
        _, inverse = np.unique(rounded, return_inverse=True)
    else:
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


def ny2015_tiers(patients: pd.DataFrame, policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """Tier rank (red 0, yellow 1, blue 2) and tier name per patient (DNI: blue)."""
    p = policy.ny2015
    sofa = patients["sofa"].fillna(24).to_numpy(dtype=float)
    blue = (patients["exclusion"].to_numpy(dtype=bool) | (sofa >= p.blue_min_sofa)
            | patients["dni"].to_numpy(dtype=bool))
    red = ~blue & ((sofa <= p.red_max_sofa) | patients["single_organ_failure"].to_numpy(
        dtype=bool))
    rank = np.where(blue, 2, np.where(red, 0, 1))
    return rank, np.array(["red", "yellow", "blue"], dtype=object)[rank]


def pittsburgh_points(patients: pd.DataFrame, policy: Policy) -> tuple[
        np.ndarray, dict[str, np.ndarray]]:
    """Points (lower is higher priority) and their parts per patient."""
    p = policy.pittsburgh
    sofa = patients["sofa"].fillna(24).to_numpy(dtype=float)
    points = np.full(len(sofa), p.sofa_bands[-1][2])
    for low, high, value in reversed(p.sofa_bands):
        points = np.where((sofa >= low) & (sofa <= high), value, points)
    table = dict(p.comorbidity_points)
    disease = patients["comorbidity"].replace("", "none").fillna("none").to_numpy(dtype=object)
    extra = np.array([table.get(str(d), 0) for d in disease])
    parts: dict[str, np.ndarray] = {"sofa": sofa, "sofa_points": points.astype(float),
                                    "comorbidity": disease,
                                    "comorbidity_points": extra.astype(float),
                                    "points": (points + extra).astype(float)}
    if p.life_cycle_tiebreak:
        age = patients["age_years"].to_numpy(dtype=float)
        groups = np.searchsorted(np.array(p.age_groups, dtype=float), age, side="left") + 1.0
        parts["life_cycle_group"] = np.where(np.isnan(age), len(p.age_groups) + 2.0, groups)
    return points + extra, parts


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
