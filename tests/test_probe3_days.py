"""Probe 3 (fuzz_scenarios.py): an infinite day (`inf`, `-inf`, or `1e400`, which reads
as inf) in a multi-period table was neither "not a day number" (only NaN was) nor "outside the
horizon" (only finite days were): deliveries.csv and scenarios.csv crashed with exit 4
(OverflowError, IndexError), and demand.csv blamed a missing day instead of the row. Now each
is exit 2 naming file, line and column (optimiser/multiperiod/row_checks.day_numbers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def triage(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    return subprocess.run([sys.executable, "-m", "optimiser", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)


def tiny(folder: Path) -> Path:
    """Two regions, six days, one depot: the fuzzers' instance."""
    folder.mkdir()
    (folder / "instance.toml").write_text(
        'name = "tiny"\nsupply = 0\n\n[multiperiod]\ndays = 6\ndemand_kind = "new_patients"\n'
        'default_lead_time_days = 1\ndepots = ["D"]\n')
    (folder / "regions.csv").write_text(
        "region,population,capacity,peak_demand,los_days,survival_with,survival_without\n"
        "A,1000,2,6,3,0.6,0.1\nB,2000,1,4,2,0.5,0.1\n")
    demand = ["region,day,new_patients"] + [
        f"{r},{d},{n}" for r, series in (("A", [1, 3, 2, 0, 1, 2]), ("B", [2, 2, 1, 0, 3, 1]))
        for d, n in enumerate(series)]
    (folder / "demand.csv").write_text("\n".join(demand) + "\n")
    (folder / "deliveries.csv").write_text("day,quantity,depot\n0,2,D\n2,2,D\n")
    return folder


def refused(run: subprocess.CompletedProcess[str], *words: str) -> None:
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert "internal error" not in run.stderr and "Traceback" not in run.stderr, run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


@pytest.mark.parametrize("day", ["inf", "-inf", "1e400"])
def test_an_infinite_day_in_deliveries_or_demand_is_named(tmp_path, day):
    inst = tiny(tmp_path / "tiny")
    (inst / "deliveries.csv").write_text(f"day,quantity,depot\n0,2,D\n{day},2,D\n")
    demand = (inst / "demand.csv").read_text().replace("A,1,3", f"A,{day},3")
    (inst / "demand.csv").write_text(demand)
    run = triage("validate", inst)
    refused(run, f"deliveries.csv, line 3, column 'day': day {day} is outside the horizon",
            f"demand.csv, line 3, column 'day': day {day} is outside the horizon")


@pytest.mark.parametrize("day", ["inf", "1e400"])
def test_an_infinite_day_in_scenarios_is_named(tmp_path, day):
    inst = tiny(tmp_path / "tiny")
    rows = ["scenario,region,day,new_patients"] + [
        f"s{s},{r},{d},1" for s in (1, 2) for r in ("A", "B") for d in range(6)]
    rows[8] = f"s1,B,{day},1"  # line 9 of the file
    (tmp_path / "scenarios.csv").write_text("\n".join(rows) + "\n")
    run = triage("scenarios", "validate", inst, "--scenarios", tmp_path / "scenarios.csv")
    refused(run, f"scenarios.csv, line 9, column 'day': day {day} is outside the horizon")
