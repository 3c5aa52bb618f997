"""Outputs people act on: the manifest a warehouse reads (ids, names, resource, no always-empty
column), `--executed` reading that manifest back (or its dates alone) and naming the wrong file,
and the plan saying why a short region gives units away (NY and NJ on backtest-us-icu-apr2020;
us-states-apr2020's plan, the same lives, need not have such a region: it had NY before the
planner's per-row pricing cap, none after)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
US = REPO / "instances" / "us-states-apr2020"
ICU = REPO / "instances" / "backtest-us-icu-apr2020"


def triage(*args: object, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "optimiser", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def us_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("plan") / "plan"
    proc = triage("plan", US, "--no-price", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


@pytest.fixture(scope="module")
def icu_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("plan") / "plan"
    proc = triage("plan", ICU, "--no-price", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


def test_manifest_is_what_a_warehouse_reads(us_plan) -> None:
    out, _ = us_plan
    m = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert list(m.columns[:4]) == ["shipment_id", "kind", "resource", "dispatch_date"]
    assert {"from_name", "to_name", "arrival_date", "units"} <= set(m.columns)
    assert "cohort_day" not in m.columns  # always empty for shipments and transfers
    assert m["shipment_id"].is_unique and m["shipment_id"].str.match(r"^(SH|TR)-\d{3}-").all()
    assert set(m["resource"]) == {"ventilator"}
    ship = m[m["kind"] == "ship"].iloc[0]
    assert ship["from"] == "SNS" and ship["to_name"] != ship["to"]  # a state's name
    names = pd.read_csv(US / "regions.csv").set_index("region")["name"]
    moves = m[m["kind"] == "transfer"]
    assert len(moves)
    assert (moves["from_name"] == names.reindex(moves["from"]).to_numpy()).all()
    assert (moves["to_name"] == names.reindex(moves["to"]).to_numpy()).all()
    # every column is filled (nothing a warehouse would wonder about)
    assert not (m.astype(str) == "").all().any()


def test_executed_reads_the_manifest_back_and_its_dates_alone(us_plan, tmp_path: Path) -> None:
    out, _ = us_plan
    m = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    first = m[m["day"] < 2]
    first.to_csv(tmp_path / "as-written.csv", index=False)
    first.drop(columns=["day", "arrives"]).to_csv(tmp_path / "dates-only.csv", index=False)
    for name in ("as-written.csv", "dates-only.csv"):
        proc = triage("plan", US, "--no-price", "--json", "--executed", tmp_path / name)
        assert proc.returncode == 0, proc.stderr
        assert f'"executed_rows": {len(first)}' in proc.stdout


def test_a_wrong_executed_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "shipped.csv"
    bad.write_text("when,from,to,units\n2020-04-15,ME,MA,3\n")
    proc = triage("plan", US, "--executed", bad)
    assert proc.returncode == 2
    assert "shipped.csv: missing required column: day" in proc.stderr
    assert "1 problem found in" in proc.stderr and str(US) not in proc.stderr.splitlines()[-1]


def test_the_plan_says_why_short_regions_give_units_away(icu_plan) -> None:
    """Each region that sends units out while some of its patients are not admitted is named,
    with numbers read back from the plan's own tables (daily.csv, regions.csv)."""
    out, text = icu_plan
    why = " ".join(text[text.index("why short regions give units away:"):].split())
    regions = pd.read_csv(out / "regions.csv").set_index("region")
    daily = pd.read_csv(out / "daily.csv")
    donors = regions[(regions["transfers_out"] > 0) & (regions["not_admitted"] > 0.5)]
    assert len(donors)  # backtest-us-icu-apr2020 has some (NY and NJ)
    for rid, row in donors.iterrows():
        assert (f"{rid} sends {row['transfers_out']:,.0f} ICU beds out" in why
                or "more region" in why)
        sent = pd.read_csv(out / "manifest.csv")
        days = set(sent[(sent["kind"] == "transfer") & (sent["from"] == rid)]["day"])
        mine = daily[(daily["region"] == rid) & daily["day"].isin(days)]
        if mine["not_admitted"].sum() < 0.5:  # what the sentence claims
            assert f"every patient of {rid} is admitted" in why
    assert "admitted the day they need a unit or not at all" in why
