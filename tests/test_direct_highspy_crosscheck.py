"""The engine's optima against the same model built independently, directly in highspy.

benchmarks/direct_highspy.py reads the instance itself (tomllib + pandas), computes E_r, H, t_r,
g_r and the floors from the formulas of docs/model.md, assembles the matrix in numpy and solves
with HiGHS: no code shared with optimiser/ or models/. Both sides solve to a relative MIP gap of
1e-6, so their optimal lives agree to that tolerance.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import optimiser

ROOT = Path(__file__).resolve().parents[1]
REL_TOL = 2e-6  # two MIP solves each within 1e-6 of the optimum
ABS_TOL = 1e-6


def _load_direct():
    spec = importlib.util.spec_from_file_location(
        "direct_highspy", ROOT / "benchmarks" / "direct_highspy.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("direct_highspy", module)
    spec.loader.exec_module(module)
    return module


direct = _load_direct()


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= ABS_TOL + REL_TOL * max(abs(a), abs(b))


CASES = [
    (
        "us-states-2020",
        None,
        ["per_capita_floor:share=0.3", "coverage_floor:level=0.6", "max_coverage_gap:gap=0.5"],
    ),
    ("us-states-2020", 1200, ["coverage_floor:level=0.7", "min_units:units=40"]),
    ("us-states-2020", 3000, ["excess_per_capita_floor:share=0.5", "max_coverage_gap:gap=0.3"]),
    (
        "pugh2021",
        None,
        ["per_capita_floor:share=0.5", "capacity_per_capita_floor:beds_per_100k=20"],
    ),
    ("pugh2021", 400, ["max_coverage_gap:gap=0.2"]),
]


@pytest.mark.parametrize(("name", "supply", "constraints"), CASES)
def test_price_of_fairness_matches_direct_highspy(
    name: str, supply: int | None, constraints: list[str]
) -> None:
    folder = ROOT / "instances" / name
    result = optimiser.solve(
        optimiser.load_instance(folder),
        constraints=constraints,
        supply=supply,
        default_constraints=False,
        tie_break=False,
    )
    floor = direct.DirectModel(direct.read_instance(folder, supply), constraints)
    reference = floor.price_of_fairness()
    assert _close(result.lives_optimal, reference["lives_optimal"])
    if reference["lives_all"] is None:
        assert str(result.status) == "infeasible"
    else:
        assert str(result.status) == "optimal"
        assert _close(result.lives_saved, reference["lives_all"])
    rows = result.price_of_fairness.to_dict("records")
    assert [r["constraint"] for r in rows] == [r["constraint"] for r in reference["table"]]
    for row, ref in zip(rows, reference["table"], strict=True):
        for column in ("lives_saved_alone", "lives_lost_alone", "lives_lost_marginal"):
            got = row[column]
            got = None if got is None or got != got else float(got)  # NaN -> None
            assert _close(got, ref[column]), (row["constraint"], column, got, ref[column])


def test_tie_break_keeps_the_direct_optimum_and_the_allocation_scores_it() -> None:
    """The tie-broken allocation saves the lives of the plain optimum, scored independently."""
    folder = ROOT / "instances" / "us-states-2020"
    constraints = list(direct.DEFAULT_CONSTRAINTS)
    result = optimiser.solve(
        optimiser.load_instance(folder), constraints=constraints, default_constraints=False
    )
    data = direct.read_instance(folder)
    model = direct.DirectModel(data, constraints)
    best = model.solve(model.labels)
    units = [result.allocation[r] for r in data.regions]
    assert _close(data.lives(units), best.objective)
    assert sum(units) <= data.supply
    assert all(u <= cap for u, cap in zip(units, data.staff_cap, strict=True))
