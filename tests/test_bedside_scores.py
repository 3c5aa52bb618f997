"""Priority scores against their published definitions, and the known answers of the seeds."""

from __future__ import annotations

import numpy as np
import pytest
from bedside_cases import case

from optimiser.bedside import allocate
from optimiser.bedside.scores import lottery_draws, rank_patients


def test_rapr_example_of_the_regional_paper():
    """Seed 002, p. 6: 60% survival, 10 days against a 5-day mean: RAPR 30%."""
    inputs = case([{"patient": "p", "survival_with": 0.6, "expected_days": 10}],
                  rapr={"mean_days": 5.0})
    ranking = rank_patients(inputs.cohort.patients, inputs.policy)
    assert ranking.score[0] == pytest.approx(0.30)
    assert ranking.components[0]["rapr"] == pytest.approx(0.30)


def test_rapr_uses_the_survival_gain_when_survival_without_is_positive():
    """Seed 002, note 8: the gain replaces the probability of survival."""
    inputs = case([{"patient": "p", "survival_with": 0.6, "survival_without": 0.2,
                    "expected_days": 10}], rapr={"mean_days": 5.0})
    assert rank_patients(inputs.cohort.patients, inputs.policy).score[0] == pytest.approx(0.2)


def test_seed_85_against_40_percent_lives_and_life_years():
    """Seed 000: saving the most lives gives the unit to the 85% patient; saving the most
    life-years may give it to the younger 40% patient with more years ahead."""
    rows = [{"patient": "older", "survival_with": 0.85, "life_expectancy_years": 8},
            {"patient": "younger", "survival_with": 0.40, "life_expectancy_years": 50}]
    lives = allocate(case(rows, 1), price=False, protocols=False)
    assert lives.recipients == ["older"]
    years = allocate(case(rows, 1, objective="life_years"), price=False, protocols=False)
    assert years.recipients == ["younger"]  # 0.40 x 50 = 20 > 0.85 x 8 = 6.8 life-years
    assert lives.summary["lives_gained"] == pytest.approx(0.85)
    assert years.summary["life_years_gained"] == pytest.approx(20.0)


@pytest.mark.parametrize(("sofa", "exclusion", "single", "tier"), [
    (0, False, False, "red"), (7, False, False, "red"), (8, False, False, "yellow"),
    (11, False, False, "yellow"), (12, False, False, "blue"), (3, True, False, "blue"),
    (10, False, True, "red"),
])
def test_ny2015_tiers(sofa, exclusion, single, tier):
    """NY 2015: blue SOFA > 11 or an exclusion criterion; red SOFA <= 7 or single organ
    failure; yellow 8-11."""
    inputs = case([{"patient": "p", "survival_with": 0.5, "sofa": sofa, "exclusion": exclusion,
                    "single_organ_failure": single}], priority="ny2015_tiers")
    ranking = rank_patients(inputs.cohort.patients, inputs.policy)
    assert ranking.components[0]["tier"] == tier
    assert bool(ranking.excluded[0]) == (tier == "blue")  # exclude_blue by default


@pytest.mark.parametrize(("sofa", "comorbidity", "points"), [
    (5, "none", 1), (6, "none", 2), (8, "major", 4), (9, "none", 3), (11, "severe", 7),
    (12, "none", 4), (20, "severe", 8),
])
def test_pittsburgh_points(sofa, comorbidity, points):
    """Pittsburgh model policy: SOFA <6 1, 6-8 2, 9-11 3, >=12 4; major +2, severe +4."""
    inputs = case([{"patient": "p", "survival_with": 0.5, "sofa": sofa,
                    "comorbidity": comorbidity, "age_years": 50}], priority="pittsburgh_points")
    ranking = rank_patients(inputs.cohort.patients, inputs.policy)
    assert ranking.score[0] == points


def test_pittsburgh_tie_breakers_life_cycle_then_essential_worker():
    rows = [
        {"patient": "old", "sofa": 5, "age_years": 70, "survival_with": 0.5},
        {"patient": "young", "sofa": 5, "age_years": 30, "survival_with": 0.5},
        {"patient": "worker", "sofa": 5, "age_years": 72, "survival_with": 0.5,
         "essential_health_worker": True},
        {"patient": "sicker", "sofa": 9, "age_years": 20, "survival_with": 0.5},
    ]
    inputs = case(rows, priority="pittsburgh_points", categories=["essential_health_worker"])
    ranking = rank_patients(inputs.cohort.patients, inputs.policy)
    order = [inputs.cohort.patients.index[i] for i in np.argsort(ranking.rank)]
    assert order == ["young", "worker", "old", "sicker"]


def test_lottery_draws_depend_on_seed_and_id_only():
    a = lottery_draws(["x", "y", "z"], 7)
    b = lottery_draws(["z", "x", "y"], 7)
    assert a[0] == b[1] and a[1] == b[2] and a[2] == b[0]
    assert not np.allclose(a, lottery_draws(["x", "y", "z"], 8))
    assert ((a > 0) & (a < 1)).all()


def test_dni_patients_are_never_candidates():
    inputs = case([{"patient": "a", "survival_with": 0.9, "dni": True},
                   {"patient": "b", "survival_with": 0.1}], 2)
    result = allocate(inputs, price=False, protocols=False)
    assert result.recipients == ["b"]
    row = result.patients.loc["a"]
    assert row["decision"] == "not_candidate" and "DNI" in row["reason"]


def test_survival_from_sofa_table_of_the_policy():
    table = {"source": "test table", "sofa": [3, 9], "survival_with": [0.8, 0.4]}
    inputs = case([{"patient": "a", "sofa": 3}, {"patient": "b", "sofa": 9}],
                  survival_from_sofa=table)
    sw = inputs.cohort.patients["survival_with"]
    assert sw["a"] == 0.8 and sw["b"] == 0.4
