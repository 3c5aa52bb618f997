"""The rounding method with no whole plan at the end (track probe; fixed: on a model of at
most POLISH_INTEGER_LIMIT integer columns the last resort polishes the whole model, and its
"infeasible" is reported as such).

Before:
When neither the rounded-and-repaired LP solutions nor the neighbourhood search give a whole
plan, RoundingMethod.solve (methods/rounding.py) runs polish.polish: branch-and-bound on the
*restricted master*, i.e. only the movement columns column generation priced in for the LP.
On these tiny instances the plans need columns the LP never priced (18 of 38 and 24 of 53
movement columns were in the master), so that MIP is infeasible, `best` stays None and the
method returns status 'error' with no plan and no explanation, although the exact method
proves an optimum (with every candidate column included, cg.include(cg.candidates), the same
polish finds it: 60.08 and 462.85 lives). On an infeasible instance it says 'error', not
'infeasible' (no explanation either).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.generator import GeneratorSpec, generate
from optimiser.multiperiod.planner import plan
from optimiser.solver import SolveStatus

CASES = {
    # 2 regions x 11 days, waiting 1 day, every coverage equal
    "coverage-gap-0": (
        GeneratorSpec(regions=2, days=11, depots=1, seed=592, max_wait_days=1, supply_share=0.2),
        {},
        "max_coverage_gap:gap=0.0",
    ),
    # 5 regions x 4 days, one shipment a day from the depot, neighbour lanes only
    "one-shipment-a-day": (
        GeneratorSpec(
            regions=5, days=4, depots=1, neighbours=1, seed=212, supply_share=0.6, staff_caps=False
        ),
        {"max_shipments_per_day": 1},
        "per_capita_floor:share=0.6",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_rounding_method_finds_a_plan_where_one_exists(tmp_path: Path, case: str) -> None:
    spec, settings, rule = CASES[case]
    inst = load_multiperiod(generate(spec, tmp_path / "g")).with_settings(**settings)
    exact = plan(inst, [rule], method="exact", price_of_fairness=False)
    assert exact.status is SolveStatus.OPTIMAL and exact.lives_saved is not None
    rounded = plan(inst, [rule], method="rounding", price_of_fairness=False)
    assert rounded.status is not SolveStatus.ERROR, rounded.explanation
    assert rounded.lives_saved is not None
    assert rounded.lives_saved <= exact.objective_bound + 1e-6


def test_the_rounding_method_says_infeasible_with_its_explanation(tmp_path: Path) -> None:
    """Batches of 3, donors keep all their units: the capacity floor cannot be met in whole
    batches (the exact method proves it); the LP relaxation is feasible."""
    spec = GeneratorSpec(
        regions=6,
        days=8,
        depots=2,
        neighbours=2,
        seed=386,
        patient_transfers=True,
        supply_share=1.0,
        staff_caps=False,
    )
    settings = {
        "donor_keep_share": 1.0,
        "batch_size": 3,
        "max_shipments_per_day": 2,
        "transfer_neighbours": 1,
    }
    inst = load_multiperiod(generate(spec, tmp_path / "g")).with_settings(**settings)
    rule = "capacity_per_capita_floor:beds_per_100k=20"
    exact = plan(inst, [rule], method="exact", price_of_fairness=False)
    assert exact.status is SolveStatus.INFEASIBLE
    rounded = plan(inst, [rule], method="rounding", price_of_fairness=False)
    assert rounded.status is not SolveStatus.ERROR
    assert rounded.explanation
