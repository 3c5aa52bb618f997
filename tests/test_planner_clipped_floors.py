"""The planner says when it holds a floor below what the rule asks (probe6's defect 3:
`triage plan -c min_units:units=60` gave a region 34 units, not its floor of 42, silently;
`triage solve` lists its clipped floors). The expected clipping is computed here from
regions.csv alone: f_r = ceil(min(units, P_r - c_r)) against the staff cap."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pandas as pd
import pytest

from optimiser.multiperiod import check_plan, load_multiperiod, plan

Run = Callable[..., CompletedProcess[str]]


@pytest.fixture(scope="module")
def instance_dir(tmp_path_factory: pytest.TempPathFactory, run_cli: Run) -> Path:
    folder = tmp_path_factory.mktemp("clip") / "g"
    done = run_cli("generate", folder, "--regions", 5, "--days", 8, "--depots", 2, "--seed", 3)
    assert done.returncode == 0, done.stderr
    return folder


def staff_clipped(folder: Path, units: float) -> dict[str, tuple[int, int]]:
    regions = pd.read_csv(folder / "regions.csv")
    out = {}
    for row in regions.itertuples():
        excess = max(0.0, row.peak_demand - row.capacity)
        asked = math.ceil(min(units, excess)) if excess > 0 else 0
        if asked > row.staff_cap:
            out[row.region] = (asked, int(row.staff_cap))
    return out


def test_a_floor_above_the_staff_cap_is_said(instance_dir: Path, run_cli: Run) -> None:
    expected = staff_clipped(instance_dir, 60)
    assert expected, "the case needs a floor above a staff cap"
    result = plan(load_multiperiod(instance_dir), ["min_units:units=60"], price_of_fairness=False)
    notes = [n for n in result.notes if n.startswith("min_units(units=60)")]
    assert len(notes) == 1, result.notes
    for region, (asked, cap) in expected.items():
        assert f"{region} {asked} -> {cap} (staff cap)" in notes[0]
    assert notes[0].count("(staff cap)") == len(expected)
    # the plan meets the held floors: the independent replay finds no fairness violation
    assert check_plan(load_multiperiod(instance_dir), result).ok
    done = run_cli("plan", instance_dir, "-c", "min_units:units=60")
    assert done.returncode == 0, done.stderr
    assert "warning: min_units(units=60): " in done.stderr


def test_no_note_when_every_floor_is_held(instance_dir: Path) -> None:
    assert not staff_clipped(instance_dir, 1)
    result = plan(load_multiperiod(instance_dir), ["min_units:units=1"], price_of_fairness=False)
    assert not [n for n in result.notes if "held at what the region can use" in n], result.notes
