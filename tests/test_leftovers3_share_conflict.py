"""An infeasible regional solve with a share cap names the region(s) and the numbers that
conflict (optimiser/regional_conflict.py; track leftovers3). Before, `triage solve -c
max_coverage_gap:gap=0 -c max_share_of_supply:share=0.3` said the two "contradict each other,
whatever the supply and staff caps": no region, no number, and untrue (a larger supply, hence a
larger cap, meets both)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import optimiser
from optimiser.solver import SolveStatus

GAP, SHARE = "max_coverage_gap:gap=0", "max_share_of_supply:share=0.3"


def covered(make_instance: Callable[..., optimiser.Instance], supply: int) -> optimiser.Instance:
    """Peaks of 1,000 each; A covers 90% of its peak with its own units, C 50%, B none. With
    gap 0 every coverage must reach A's 0.9 (or all be full): B needs 900 units and C 400, by
    hand; the cap is floor(0.3 x supply)."""
    rows = [
        {"region": "A", "population": 1_000_000, "capacity": 900, "peak_demand": 1000},
        {"region": "B", "population": 1_000_000, "capacity": 0, "peak_demand": 1000},
        {"region": "C", "population": 1_000_000, "capacity": 500, "peak_demand": 1000},
    ]
    return make_instance(rows, supply)


def test_the_region_whose_coverage_needs_more_than_the_cap_is_named(
    make_instance: Callable[..., optimiser.Instance],
) -> None:
    result = optimiser.solve(covered(make_instance, 2000), [GAP, SHARE])
    assert result.status == SolveStatus.INFEASIBLE
    assert result.explanation == (
        "infeasible: max_coverage_gap(gap=0) needs at least 900 units in B, but "
        "max_share_of_supply(share=0.3) allows a region at most 600 units (0.3 of the supply of "
        "2,000)"
    )


def test_the_numbers_named_are_the_binding_ones(
    make_instance: Callable[..., optimiser.Instance],
) -> None:
    # a cap of 899 (supply 2,999) is one unit short of B's 900; a cap of 900 meets both
    short = optimiser.solve(covered(make_instance, 2999), [GAP, SHARE])
    assert short.status == SolveStatus.INFEASIBLE
    assert "at least 900 units in B, but" in str(short.explanation)
    assert "at most 899 units" in str(short.explanation)
    fits = optimiser.solve(covered(make_instance, 3000), [GAP, SHARE])
    assert fits.status == SolveStatus.OPTIMAL
    assert fits.regions.loc["B", "units"] >= 900 and fits.regions["units"].max() <= 900


def test_several_regions_are_listed_then_counted(
    make_instance: Callable[..., optimiser.Instance],
) -> None:
    rows: list[dict[str, Any]] = [
        {"region": r, "population": 100_000, "capacity": 0, "peak_demand": 10} for r in "ABCDE"
    ]
    result = optimiser.solve(
        make_instance(rows, 30), ["min_units:units=5", "max_share_of_supply:share=0.1"]
    )
    assert result.status == SolveStatus.INFEASIBLE
    assert result.explanation == (
        "infeasible: min_units(units=5) needs at least 5 units in A, 5 in B and 5 in C (and 2 "
        "more regions), but max_share_of_supply(share=0.1) allows a region at most 3 units (0.1 "
        "of the supply of 30)"
    )


def test_the_cli_names_the_region(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    folder = tmp_path / "covered"
    folder.mkdir()
    (folder / "instance.toml").write_text('name = "covered"\nsupply = 2000\n')
    (folder / "regions.csv").write_text(
        "region,population,capacity,peak_demand\n"
        "A,1000000,900,1000\nB,1000000,0,1000\nC,1000000,500,1000\n"
    )
    done = run_cli("solve", folder, "-c", GAP, "-c", SHARE)
    assert done.returncode == 3, done.stderr
    assert "max_coverage_gap(gap=0) needs at least 900 units in B" in done.stderr
    assert "allows a region at most 600 units (0.3 of the supply of 2,000)" in done.stderr


@pytest.mark.parametrize("share", [0.5, 1.0])
def test_no_cap_conflict_without_a_region_above_the_cap(
    make_instance: Callable[..., optimiser.Instance], share: float
) -> None:
    # B's 900 fit under the cap: the set is feasible (nothing to explain)
    result = optimiser.solve(
        covered(make_instance, 2000), [GAP, f"max_share_of_supply:share={share}"]
    )
    assert result.status == SolveStatus.OPTIMAL
