"""`triage plan`, `triage check-plan` and `triage generate` through a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_multiperiod_support import close, write_instance

ROOT = Path(__file__).resolve().parents[1]
US = ROOT / "instances" / "us-states-apr2020"


def triage(*args: object, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optimiser", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "small"
    out = triage("generate", folder, "--regions", 6, "--days", 12, "--depots", 2, "--seed", 5)
    assert out.returncode == 0, out.stderr
    return folder


@pytest.mark.skipif(not US.exists(), reason="us-states-apr2020 not shipped")
def test_plan_json_contract_and_check_plan_round_trip(tmp_path: Path) -> None:
    out = triage("plan", US, "--json", "--out", tmp_path / "out", "-c", "min_units:units=5")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["status"] == "optimal" and payload["lives_saved"] > 0
    ship = payload["shipments"][0]
    assert {"day", "from", "to", "units", "arrives"} <= set(ship) and ship["arrives"] >= ship["day"]
    assert len(payload["regions"]) == 50 and "expected_survivors" in payload["regions"][0]
    price = payload["price_of_fairness"]
    assert price[0]["constraint"] == "min_units(units=5)"
    assert {"lives_saved_alone", "lives_lost_alone", "lives_lost_marginal"} <= set(price[0])
    for name in (
        "manifest.csv",
        "plan.csv",
        "daily.csv",
        "regions.csv",
        "price_of_fairness.csv",
        "result.json",
    ):
        assert (tmp_path / "out" / name).is_file(), name
    check = triage("check-plan", US, tmp_path / "out" / "plan.csv", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    replay = json.loads(check.stdout)
    assert replay["ok"] and close(replay["expected_survivors"], payload["lives_saved"])


def test_text_output_rolling_horizon_and_switches(small: Path, tmp_path: Path) -> None:
    first = triage("plan", small, "--json", "--out", tmp_path / "first")
    assert first.returncode == 0, first.stderr
    manifest = (tmp_path / "first" / "manifest.csv").read_text().splitlines()
    header, rows = manifest[0], manifest[1:]
    cols = header.split(",")
    shipped = [r for r in rows if int(r.split(",")[cols.index("day")]) < 3]
    (tmp_path / "shipped.csv").write_text("\n".join([header, *shipped]) + "\n")
    again = triage(
        "plan", small, "--executed", tmp_path / "shipped.csv", "--today", 3, "--no-transfers"
    )
    assert again.returncode == 0, again.stderr
    assert "re-planned from day 3" in again.stdout and "expected extra survivors" in again.stdout


@pytest.mark.parametrize(
    "args, code, message",
    [
        (("plan", "{missing}"), 2, "instance folder not found"),
        (("plan", "{bad}"), 2, "demand.csv"),
        (("plan", "{small}", "--donor-share", "3"), 2, "donor_keep_share"),
        (("plan", "{small}", "--executed", "{nofile}"), 2, "file not found"),
        (("plan", "{small}", "-c", "threshold:tau=1"), 2, "not available over the horizon"),
        (("check-plan", "{small}", "{badplan}"), 2, "unknown kind"),
        (("check-plan", "{small}", "{brokenplan}"), 1, "depot_stock"),
        (
            ("plan", "{small}", "-c", "coverage_floor:level=1", "--no-transfers", "--no-price"),
            3,
            "infeasible: coverage_floor",
        ),
    ],
)
def test_errors_exit_codes_and_nothing_half_written(
    small: Path, tmp_path: Path, args: tuple, code: int, message: str
) -> None:
    bad = write_instance(
        tmp_path / "bad", [{"region": "A", "capacity": 1, "los_days": 2}], {"A": [1, 2]}
    )
    (bad / "demand.csv").write_text("region,day,census\nA,0,1\nA,7,2\n")
    (tmp_path / "badplan.csv").write_text("kind,day,from,to,units\nfly,0,D1,R001,1\n")
    (tmp_path / "brokenplan.csv").write_text("kind,day,from,to,units\nship,0,D1,R001,100000\n")
    names = {
        "missing": tmp_path / "nowhere",
        "bad": bad,
        "small": small,
        "nofile": tmp_path / "none.csv",
        "badplan": tmp_path / "badplan.csv",
        "brokenplan": tmp_path / "brokenplan.csv",
    }
    out_dir = tmp_path / "out"
    argv = [a.format(**names) if isinstance(a, str) else a for a in args]
    result = triage(*argv, "--out", out_dir) if argv[0] == "plan" else triage(*argv)
    assert result.returncode == code, result.stdout + result.stderr
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not out_dir.exists()
