"""A synthetic cohort of patients needing a ventilator, for examples and `compare`.

SYNTHETIC: no real patient is described. Every distribution is documented here and in
docs/bedside.md ("Synthetic cohort"), cited where a source exists, labelled an assumption
where none does:

* age: ICU admissions by age group of the first US COVID-19 cases (CDC, MMWR 69(12):343-346,
  2020, lower estimates: cases x % admitted to ICU): 20-44 11.6%, 45-54 19.0%, 55-64 16.6%,
  65-74 27.2%, 75-84 18.1%, 85+ 7.5%; uniform within a group (85+: 85-94).
* chronic disease (none / major / severe) by age, and SOFA at intubation given age and
  disease: the fitted models of the Bhavani-Parker ventilator allocation simulator
  (github.com/08wparker/ventilator_allocation; Bhavani et al., 2020): multinomial logit
  z_major = -2.226575 + 0.0232133 age, z_severe = -5.306193 + 0.0366836 age; SOFA ~ normal
  (6.915957 + 0.0084102 age + 0.4131818 [major] or 0.7917162 [severe], sd 2.959331),
  truncated to [3, 20] and rounded.
* survival with the ventilator: 1 - in-hospital mortality by SOFA of Raith et al. (JAMA
  317(3):290-300, 2017), the table the policy example ships as `survival_from_sofa`;
  survival without: 0.05 (assumption, as docs/instances-data.md: almost all die).
* days on the ventilator: gamma, mean 10 d (between IHME's 7.2-8.6 d and the 15.9 d of the
  Italian census, docs/instances-data.md), shape 2 (assumption).
* remaining life expectancy: US period life table 2017 (Arias and Xu, NVSR 68(7), 2019),
  rounded, interpolated by age; halved for a major chronic disease, at most 1 year for a
  severe one (assumptions; "death likely within one year" is the Pittsburgh definition).
* flags and groups (assumptions): essential_health_worker 6% of ages 20-64; DNI 6% of ages
  >= 75, 1% below; NY exclusion criteria 2%; sex 68% male (ICNARC reports about 70% men among
  COVID-19 ICU admissions, 2020); ethnicity four synthetic labels g1-g4 (60/15/15/10%);
  deprivation decile skewed by site; disadvantaged_area = decile >= 8.
* reassessment trajectories (assumption): a patient is a responder with probability
  survival_with; SOFA moves by normal(-2 if responder else +1, sd 2) to 48 h and again to
  120 h, rounded and clipped to [0, 24].
* arrivals: a wave over `days` days (Gaussian in time, peak at 40% of the horizon, width a
  quarter of it), split between sites in proportion to `site_weights`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

AGE_GROUPS = ((20, 44, 0.116), (45, 54, 0.190), (55, 64, 0.166), (65, 74, 0.272),
              (75, 84, 0.181), (85, 94, 0.075))
AGE_BANDS = ("20-44", "45-54", "55-64", "65-74", "75-84", "85+")
# Raith et al. 2017 (via the Bhavani-Parker simulator's SOFA.csv): in-hospital death %, SOFA 0..20+
RAITH_DEATH_PCT = (4.7, 4.7, 6.5, 8.4, 10.2, 12.1, 15.8, 19.5, 24.2, 29.3, 35.3, 42.0, 50.2, 57.2,
                   63.6, 72.1, 77.2, 80.0, 82.3, 87.0, 87.0)
LIFE_TABLE = ((20, 59.5), (30, 50.0), (40, 40.7), (50, 31.6), (60, 23.1), (70, 15.4), (80, 8.9),
              (90, 4.5), (100, 2.3))


def survival_from_sofa(sofa: np.ndarray) -> np.ndarray:
    table = 1.0 - np.array(RAITH_DEATH_PCT) / 100.0
    return table[np.clip(np.asarray(sofa, dtype=int), 0, 20)]


@dataclass(frozen=True)
class CohortSpec:
    """What to generate: patients, days, sites and their weights, seed."""

    patients: int = 300
    days: int = 30
    sites: tuple[str, ...] = ("H1", "H2", "H3")
    site_weights: tuple[float, ...] = (0.45, 0.35, 0.20)
    deprivation_skew: tuple[float, ...] = (1.0, 0.0, -1.0)  # per site: >0 deprived, <0 affluent
    seed: int = 2020
    mean_days: float = 10.0
    extra: dict[str, float] = field(default_factory=dict)


def generate(spec: CohortSpec) -> pd.DataFrame:
    """Patients as patients.csv columns (one row each), ids P0001... in arrival order."""
    rng = np.random.default_rng(spec.seed)
    n = spec.patients
    weights = np.array(spec.site_weights, dtype=float)
    site_index = rng.choice(len(spec.sites), size=n, p=weights / weights.sum())
    t = np.arange(spec.days)
    wave = np.exp(-(((t - 0.4 * spec.days) / max(spec.days / 4, 1.0)) ** 2))
    day = rng.choice(spec.days, size=n, p=wave / wave.sum())
    arrival = day + np.round(rng.random(n) * 24) / 24
    arrival = np.minimum(arrival, day + 23 / 24)
    group = rng.choice(len(AGE_GROUPS), size=n, p=[g[2] for g in AGE_GROUPS])
    low = np.array([g[0] for g in AGE_GROUPS])[group]
    high = np.array([g[1] for g in AGE_GROUPS])[group]
    age = np.floor(low + rng.random(n) * (high - low + 1))
    z_major = -2.226575 + 0.0232133 * age
    z_severe = -5.306193 + 0.0366836 * age
    denom = 1 + np.exp(z_major) + np.exp(z_severe)
    u = rng.random(n)
    p_major, p_severe = np.exp(z_major) / denom, np.exp(z_severe) / denom
    disease = np.where(u < p_severe, "severe", np.where(u < p_severe + p_major, "major", "none"))
    mu = 6.915957 + 0.0084102 * age + np.where(disease == "major", 0.4131818, 0.0) + np.where(
        disease == "severe", 0.7917162, 0.0)
    sofa = rng.normal(mu, 2.959331)
    bad = (sofa < 3) | (sofa > 20)
    while bad.any():  # truncated normal by rejection: [3, 20]
        sofa[bad] = rng.normal(mu[bad], 2.959331)
        bad = (sofa < 3) | (sofa > 20)
    sofa = np.round(sofa)
    survival = survival_from_sofa(sofa)
    days_used = np.maximum(rng.gamma(2.0, spec.mean_days / 2.0, size=n), 0.5)
    ages, years = zip(*LIFE_TABLE, strict=True)
    expectancy = np.interp(age, ages, years)
    expectancy = np.where(disease == "major", expectancy / 2, expectancy)
    expectancy = np.where(disease == "severe", np.minimum(expectancy, 1.0), expectancy)
    worker = (age >= 20) & (age <= 64) & (rng.random(n) < 0.06)
    dni = rng.random(n) < np.where(age >= 75, 0.06, 0.01)
    exclusion = rng.random(n) < 0.02
    male = rng.random(n) < 0.68
    ethnicity = rng.choice(["g1", "g2", "g3", "g4"], size=n, p=[0.6, 0.15, 0.15, 0.1])
    skew = np.array(spec.deprivation_skew, dtype=float)[site_index]
    weights = 1.0 + skew[:, None] * (np.arange(1, 11)[None, :] - 5.5) / 5.5
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    decile = 1 + (rng.random(n)[:, None] > cumulative).sum(axis=1)
    responder = rng.random(n) < survival
    step = np.where(responder, -2.0, 1.0)
    sofa48 = np.clip(np.round(sofa + rng.normal(step, 2.0)), 0, 24)
    sofa120 = np.clip(np.round(sofa48 + rng.normal(step, 2.0)), 0, 24)
    order = np.lexsort((site_index, arrival))
    frame = pd.DataFrame({
        "patient": [f"P{k + 1:04d}" for k in range(n)],
        "site": np.array(spec.sites)[site_index][order],
        "arrival": np.round(arrival[order], 4),
        "sofa": sofa[order].astype(int),
        "survival_with": np.round(survival[order], 3),
        "survival_without": 0.05,
        "expected_days": np.round(days_used[order], 1),
        "dni": dni[order],
        "comorbidity": disease[order],
        "age_years": age[order].astype(int),
        "life_expectancy_years": np.round(expectancy[order], 1),
        "exclusion": exclusion[order],
        "single_organ_failure": False,
        "sofa_48h": sofa48[order].astype(int),
        "sofa_120h": sofa120[order].astype(int),
        "essential_health_worker": worker[order],
        "disadvantaged_area": decile[order] >= 8,
        "age_band": np.array(AGE_BANDS)[group][order],
        "sex": np.where(male[order], "male", "female"),
        "ethnicity": ethnicity[order],
        "deprivation_decile": decile[order],
    })
    frame["survival_without"] = np.minimum(frame["survival_without"], frame["survival_with"])
    return frame


def write_patients(frame: pd.DataFrame, path: Path, with_survival: bool = True) -> None:
    """patients.csv as text (booleans true/false). Without survival: SOFA and the policy's
    survival_from_sofa table give it."""
    out = frame.copy()
    if not with_survival:
        out = out.drop(columns=["survival_with"])
    for column in out.columns:
        if out[column].dtype == bool:
            out[column] = np.where(out[column], "true", "false")
    out.to_csv(path, index=False, lineterminator="\n")
