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


@pytest.mark.slow
def test_threshold_over_the_horizon_plan_and_check(small: Path, tmp_path: Path) -> None:
    """The paper's threshold rule over the horizon, through the CLI: planned, priced, and the
    plan replays to the same lives with the rule checked; a hand-made plan that gives one
    member everything breaks it."""
    out = triage("plan", small, "--json", "--out", tmp_path / "out", "-c", "threshold:tau=0")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["status"] == "optimal"
    price = payload["price_of_fairness"][0]
    assert price["constraint"] == "threshold(tau=0, index=rai)"
    assert price["lives_lost_alone"] >= 0
    check = triage("check-plan", small, tmp_path / "out" / "plan.csv", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    replay = json.loads(check.stdout)
    assert replay["ok"] and close(replay["expected_survivors"], payload["lives_saved"])
    assert "threshold(tau=0, index=rai)" in replay["constraints"]


@pytest.mark.parametrize(
    "args, code, message",
    [
        (("plan", "{missing}"), 2, "instance folder not found"),
        (("plan", "{bad}"), 2, "demand.csv"),
        (("plan", "{small}", "--donor-share", "3"), 2, "--donor-share: must be a share"),
        (("plan", "{small}", "--executed", "{nofile}"), 2, "file not found"),
        (("plan", "{small}", "-c", "threshold:tau=-1"), 2, "tau"),
        (("plan", "{small}", "-c", "threshold:tau=0,index=gdp"), 2, "index"),
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


# ---------------------------------------------------------------------------------------------
# Plans made with switches replay under the same switches


SWITCHES = [
    ["--max-wait", "2"],
    ["--patient-transfers", "--patient-transfer-max-lead-days", "3", "--max-wait", "1"],
    ["--no-transfers", "--batch-size", "2"],
    ["--donor-share", "0.5", "--transfer-neighbours", "2", "--max-shipments-per-day", "2"],
    [
        "--patient-transfers",
        "--patient-transfer-max-per-day",
        "1.5",
        "--max-transfer-lead-days",
        "2",
    ],
]


@pytest.mark.slow
@pytest.mark.parametrize("switches", SWITCHES, ids=" ".join)
def test_check_plan_replays_under_the_switches_the_plan_was_made_with(
    small: Path, tmp_path: Path, switches: list[str]
) -> None:
    out = tmp_path / "out"
    made = triage("plan", small, *switches, "-c", "min_units:units=1", "--json", "--out", out)
    assert made.returncode == 0, made.stderr
    claim = json.loads(made.stdout)
    replay = triage("check-plan", small, out / "plan.csv", "--json")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    check = json.loads(replay.stdout)
    assert check["ok"] and check["settings"] == claim["settings"]
    assert check["constraints"] == ["min_units(units=1)"]
    assert abs(check["expected_survivors"] - claim["lives_saved"]) <= 1e-6


@pytest.mark.slow
@pytest.mark.skipif(not US.exists(), reason="us-states-apr2020 not shipped")
def test_a_plan_with_waiting_replays_exactly_on_us(tmp_path: Path) -> None:
    """The audit's case: 654 patients_waiting violations and 12,463 survivors before."""
    out = tmp_path / "out"
    made = triage("plan", US, "--max-wait", "2", "--json", "--out", out)
    assert made.returncode == 0, made.stderr
    lives = json.loads(made.stdout)["lives_saved"]
    replay = triage("check-plan", US, out / "plan.csv", "--json")
    assert replay.returncode == 0, replay.stdout[-2000:]
    assert abs(json.loads(replay.stdout)["expected_survivors"] - lives) <= 1e-6
    # explicit options override the recorded settings, --instance-settings ignores them
    for extra in (["--max-wait", "0"], ["--instance-settings"]):
        other = triage("check-plan", US, out / "plan.csv", "--json", *extra)
        assert other.returncode == 1 and "patients_waiting" in other.stdout


# ---------------------------------------------------------------------------------------------
# Every problem listed; validate knows multi-period files; switches that do nothing said


@pytest.fixture
def broken(small: Path, tmp_path: Path) -> Path:
    """Days missing for R002 and R004, and a delivery to an unknown depot."""
    import shutil

    folder = tmp_path / "broken"
    shutil.copytree(small, folder)
    demand = (folder / "demand.csv").read_text().splitlines()
    kept = [line for line in demand if not line.startswith(("R002,3,", "R004,5,", "R004,6,"))]
    (folder / "demand.csv").write_text("\n".join(kept) + "\n")
    with (folder / "deliveries.csv").open("a") as handle:
        handle.write("2,5,NOWHERE\n")
    return folder


@pytest.mark.parametrize("command", ["plan", "validate"])
def test_every_problem_is_listed(broken: Path, command: str) -> None:
    result = triage(command, broken)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    text = "\n".join(errors)
    assert "region 'R002' has no row for day 3" in text
    assert "region 'R004' has no row for days 5-6" in text
    assert "unknown depot 'NOWHERE'" in text
    assert f"{len(errors)} problems found in {broken}" in result.stderr
    assert "more problem" not in result.stderr and "Traceback" not in result.stderr


def test_validate_accepts_a_good_multi_period_instance(small: Path) -> None:
    result = triage("validate", small)
    assert result.returncode == 0, result.stderr
    assert "ok: multi-period: 12 days (census), 2 depots" in result.stdout


@pytest.mark.slow
def test_absurd_lead_time_is_an_input_error(small: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "absurd"
    shutil.copytree(small, folder)
    text = (folder / "lead_times.csv").read_text().splitlines()
    parts = text[1].split(",")
    text[1] = ",".join([*parts[:2], "1e19"])
    (folder / "lead_times.csv").write_text("\n".join(text) + "\n")
    result = triage("plan", folder)
    assert result.returncode == 2, result.stderr
    assert "lead_times.csv, line 2, column 'days': must be at most 3,660 days" in result.stderr
    assert "internal error" not in result.stderr and "Warning" not in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(not US.exists(), reason="us-states-apr2020 not shipped")
def test_a_switch_that_changes_nothing_is_said(tmp_path: Path) -> None:
    """On US every state-to-state lead time is at least 2 days: with the default distance
    limit of 1 day, --patient-transfers moves nobody."""
    result = triage("plan", US, "--patient-transfers", "--no-price", "--json")
    assert result.returncode == 0, result.stderr
    assert "warning: patient transfers are on but no pair of regions" in result.stderr
    notes = json.loads(result.stdout)["notes"]
    assert any("patient_transfer_max_lead_days = 1" in note for note in notes)
    quiet = triage(
        "plan", US, "--patient-transfers", "--patient-transfer-max-lead-days", "2", "--no-price"
    )
    assert quiet.returncode == 0 and "warning" not in quiet.stderr
