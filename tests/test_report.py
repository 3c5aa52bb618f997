"""The HTML decision report: self-contained, numbers equal to the engine's, provenance for
audit; `triage report` from a solve, a sweep (grid and random sample) and a plan (the plan's
own report, checked against the instance); --out never replaces an input or a folder triage
did not write; errors leave nothing behind."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import optimiser
from optimiser.errors import InfeasibleError, InputError
from optimiser.html_report import build_report, write_report
from optimiser.solver import solver_versions
from optimiser.sweeps import run_sweep

REPO = Path(__file__).resolve().parents[1]
PUGH = REPO / "instances" / "pugh2021"
US_APR = REPO / "instances" / "us-states-apr2020"
ITALY = REPO / "instances" / "italy-2020-wave1"


@pytest.fixture(scope="module")
def report(pugh):
    return build_report(pugh, constraints=["per_capita_floor:share=0.5"], tornado_pct=10)


def test_report_numbers_are_the_engines(report, pugh):
    result = optimiser.solve(pugh, ["per_capita_floor:share=0.5"])
    html = report.html
    assert f"{result.lives_saved:,.1f}" in html and f"{result.lives_optimal:,.1f}" in html
    assert f"{result.lives_lost_total:,.1f}</b> lives" in html
    alloc = report.tables["allocation"]["units"].to_dict()
    assert alloc == result.allocation
    policies = report.tables["policies"]
    table = optimiser.compare(pugh, ["per_capita_floor:share=0.5"])
    assert policies["lives_saved"].tolist() == pytest.approx(table["lives_saved"].tolist())
    for name, lives in table["lives_saved"].items():
        assert f"{lives:,.1f}" in html, name
    price = report.tables["price_of_fairness"]
    assert price["constraint"].tolist() == ["per_capita_floor(share=0.5)"]
    assert price["lives_lost_alone"].iloc[0] == pytest.approx(
        result.lives_optimal - result.lives_saved
    )


def test_report_is_self_contained_with_every_chart(report):
    html = report.html
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(
        r"""(src|href)=['"](https?:|//|file:)""", html
    )  # nothing fetched from elsewhere
    images = re.findall(r"""src=['"]data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)['"]""", html)
    assert len(images) == len(report.figures) == 5
    for data in images:
        svg = base64.b64decode(data).decode()
        assert svg.startswith("<svg") and "</svg>" in svg
    for heading in (
        "Decision",
        "Instance",
        "Allocation",
        "Policies compared",
        "Price of fairness",
        "Efficiency-fairness frontier",
        "Sensitivity (tornado)",
        "Provenance",
    ):
        assert f"<h2>{heading}</h2>" in html
    assert set(report.figures) == {
        "allocation",
        "coverage",
        "policies",
        "frontier_per_capita_floor",
        "tornado",
    }


def test_provenance_identifies_inputs_and_versions(report, pugh):
    prov = report.provenance
    assert prov["instance"]["fingerprint"] == pugh.fingerprint()
    import hashlib

    assert (
        prov["instance"]["files_sha256"]["regions.csv"]
        == hashlib.sha256((PUGH / "regions.csv").read_bytes()).hexdigest()
    )
    assert prov["versions"]["highs"] == solver_versions()["highs"]
    assert prov["versions"]["engine"] == optimiser.__version__
    assert (
        prov["options"]["constraints"] == ["per_capita_floor(share=0.5)"]
        and prov["options"]["tornado_pct"] == 10
    )
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", prov["generated_at"])
    assert (
        prov["result"]["allocation"]
        == optimiser.solve(pugh, ["per_capita_floor:share=0.5"]).allocation
    )
    for value in (pugh.fingerprint(), prov["versions"]["highs"], prov["generated_at"]):
        assert value in report.html


def test_write_report_files(report, tmp_path):
    out = tmp_path / "report"
    path = write_report(report, out)
    assert path == out / "report.html" and path.read_text() == report.html
    names = {p.name for p in (out / "charts").iterdir()}
    assert names == {f"{n}.{ext}" for n in report.figures for ext in ("png", "svg")}
    assert (
        json.loads((out / "provenance.json").read_text())["instance"]["fingerprint"]
        == report.provenance["instance"]["fingerprint"]
    )
    alloc = pd.read_csv(out / "tables" / "allocation.csv", index_col="region")
    assert alloc["units"].to_dict() == report.tables["allocation"]["units"].to_dict()
    # writing again replaces the folder whole; nothing temporary is left beside it
    write_report(report, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_infeasible_and_mismatched_inputs(pugh, tmp_path):
    with pytest.raises(InfeasibleError, match=r"coverage_floor\(level=0\.9\) needs 4,430 units"):
        build_report(
            pugh, constraints=["coverage_floor:level=0.9"], tornado_pct=None, frontiers=False
        )
    other = run_sweep(pugh.with_supply(500), {"supply": "100,200"}, out=tmp_path / "s")
    with pytest.raises(InputError, match="run on another instance"):
        build_report(pugh, sweep=other, tornado_pct=None, frontiers=False)


def test_report_from_sweep_and_plan(pugh, tmp_path):
    sweep = run_sweep(
        pugh,
        {"supply": "500:1500:250", "per_capita_floor.share": "0:1:0.25"},
        price_of_fairness=True,
        out=tmp_path / "s",
    )
    plan = pd.DataFrame(
        {
            "region": ["A"] * 3 + ["B"] * 3,
            "day": [0, 1, 2] * 2,
            "units_on_hand": [5, 6, 7, 1, 1, 2],
            "demand": [4, 8, 3, 2, 2, 2],
        }
    )
    rep = build_report(
        pugh, sweep=sweep, plan=plan, plan_source="plan.csv", tornado_pct=None, frontiers=False
    )
    assert "<h2>Sweep</h2>" in rep.html and "<h2>Plan over time (time series only)</h2>" in rep.html
    assert "no plan result" in rep.html  # a time series is not a plan: said so
    assert {"sweep_response_0", "sweep_frontier_1", "plan_national", "plan_regions_1"} <= set(
        rep.figures
    )
    assert rep.provenance["options"]["sweep"]["spec_hash"] == sweep.manifest["spec_hash"]
    assert "25 (optimal: 25)" in rep.html


@pytest.mark.slow
def test_cli_report(tmp_path, run_cli):
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        "sweep",
        PUGH,
        "--vary",
        "per_capita_floor.share=0:1:0.5",
        "--price-of-fairness",
        "--out",
        sweep_dir,
    )
    assert proc.returncode == 0, proc.stderr
    plan = tmp_path / "plan.csv"
    pd.DataFrame(
        {"region": ["A", "A"], "day": [0, 1], "units_on_hand": [1, 2], "demand": [2, 2]}
    ).to_csv(plan, index=False)
    out = tmp_path / "report"
    proc = run_cli(
        "report",
        PUGH,
        "--from-sweep",
        sweep_dir,
        "--from-plan",
        plan,
        "-c",
        "min_units:units=100",
        "--tornado-pct",
        "10",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    html = (out / "report.html").read_text()
    assert (
        "min_units(units=100)" in html
        and "<h2>Sweep</h2>" in html
        and "<h2>Plan over time (time series only)</h2>" in html
    )
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["command"].startswith("triage report") and "--from-sweep" in prov["command"]
    # errors: one message, documented exit code, no output folder
    bad_plan = tmp_path / "bad.csv"
    bad_plan.write_text("region,day\nA,0\n")
    for args, code, fragment in [
        (("-c", "coverage_floor:level=0.9"), 3, "needs 4,430 units"),
        (("--from-plan", bad_plan), 2, "missing columns units_on_hand, demand"),
    ]:
        proc = run_cli("report", PUGH, *args, "--out", tmp_path / "nothing")
        assert proc.returncode == code, (args, proc.stderr)
        assert fragment in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "nothing").exists()


def test_report_of_a_multiperiod_plan(tmp_path):
    """A multi-period PlanResult goes into the report as is (its daily table)."""
    mp = pytest.importorskip("optimiser.multiperiod")
    folder = mp.generate(mp.GeneratorSpec(regions=4, days=8, seed=2), tmp_path / "inst")
    result = mp.plan(mp.load_multiperiod(folder), price_of_fairness=False, time_limit=60)
    rep = build_report(
        optimiser.load_instance(folder), plan=result, tornado_pct=None, frontiers=False
    )
    frame = rep.tables["plan_daily"]
    assert len(frame) == 4 * 8 and set(frame["region"]) == set(result.daily["region"])
    assert frame["demand"].tolist() == result.daily["need"].tolist()
    assert frame["units_on_hand"].tolist() == result.daily["units_on_hand"].tolist()
    assert {"plan_national", "plan_regions_1"} <= set(rep.figures)
    assert (
        "<h2>Plan over time</h2>" in rep.html
        and "<h2>Decision (plan over the horizon)</h2>" in (rep.html)
    )


# ---------------------------------------------------------------------------------------------
# Writing: never over an input or a folder triage did not write


def test_write_report_refuses_a_folder_it_did_not_write(report, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="holds files not written by triage"):
        write_report(report, mine)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert (mine / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # nothing left beside it


def test_report_files_follow_the_umask(report, tmp_path):
    old = os.umask(0o022)
    try:
        write_report(report, tmp_path / "r")
    finally:
        os.umask(old)
    assert (tmp_path / "r").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "r" / "charts").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "r" / "report.html").stat().st_mode & 0o777 == 0o644


@pytest.mark.slow
def test_cli_out_never_replaces_an_input(tmp_path, run_cli):
    sweep_dir = tmp_path / "sweep"
    assert run_cli("sweep", PUGH, "--vary", "supply=500,1000", "--out", sweep_dir).returncode == 0
    before = {p.name: p.read_bytes() for p in sweep_dir.iterdir() if p.is_file()}
    for out, fragment in [
        (sweep_dir, "is the --from-sweep folder"),
        (sweep_dir / "report", "is inside the --from-sweep folder"),
        (tmp_path, "contains the --from-sweep folder"),
    ]:
        proc = run_cli(
            "report", PUGH, "--from-sweep", sweep_dir, "--tornado-pct", "0", "--out", out
        )
        assert proc.returncode == 2, proc.stderr
        assert fragment in proc.stderr and "Traceback" not in proc.stderr
        assert {p.name: p.read_bytes() for p in sweep_dir.iterdir() if p.is_file()} == before
        assert not (sweep_dir / "report").exists()
    # a folder of other files: refused, untouched
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    proc = run_cli("report", PUGH, "--tornado-pct", "0", "--no-frontier", "--out", other)
    assert proc.returncode == 2 and "not written by triage" in proc.stderr
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    # --out . : refused, nothing left behind (no ..old.xxxx folder)
    work = tmp_path / "work"
    work.mkdir()
    args = ["report", str(PUGH), "--tornado-pct", "0", "--no-frontier", "--out", "."]
    proc = subprocess.run(
        [sys.executable, "-m", "optimiser", *args],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 2, proc.stderr
    assert "is the current folder" in proc.stderr
    assert list(work.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == [
        "other",
        "sweep",
        "work",
    ]


# ---------------------------------------------------------------------------------------------
# Sweeps in the report: random samples and grids


def test_report_charts_of_a_sampled_sweep(pugh, tmp_path):
    sweep = run_sweep(
        pugh,
        ["supply=0:2000", "per_capita_floor.share=0:1"],
        samples=120,
        seed=3,
        price_of_fairness=True,
        out=tmp_path / "s",
    )
    rep = build_report(pugh, sweep=sweep, tornado_pct=None, frontiers=False)
    names = [n for n in rep.figures if n.startswith("sweep_")]
    assert names == ["sweep_response_0", "sweep_response_1"]  # no frontier of one point
    for name in names:
        ax = rep.figures[name].axes[0]
        assert max(len(c.get_offsets()) for c in ax.collections) == 120  # every variant a point
        assert all(len(line.get_xdata()) <= 12 for line in ax.lines)  # binned medians, no zig-zag
        assert "Each point is one sampled variant" in rep.captions[name]
        assert "median over" not in rep.captions[name]
    assert "random sample of 120, seed 3" in rep.html


@pytest.mark.slow
def test_report_grid_frontier_states_what_is_held_fixed(pugh, tmp_path):
    def frontier_caption(factors: str) -> tuple[str, str]:
        sweep = run_sweep(
            pugh,
            [
                "supply=500,1000,1500",
                "per_capita_floor.share=0:1:0.25",
                f"survival_with*={factors}",
            ],
            price_of_fairness=True,
            out=tmp_path / factors,
        )
        rep = build_report(pugh, sweep=sweep, tornado_pct=None, frontiers=False)
        fig = rep.figures["sweep_frontier_1"]
        return rep.captions["sweep_frontier_1"], fig.axes[0].get_title()

    caption, title = frontier_caption("0.9,1,1.1")  # the base case (factor 1) is on the grid
    assert "one line per value of supply" in caption
    # human labels, not identifiers (survival_with*)
    assert "Held fixed: survival with the resource (factor) = 1 (factor 1: the instance's own " \
        "values)" in caption
    assert "held fixed: survival with the resource (factor) = 1" in title
    caption, title = frontier_caption("0.8,0.9")
    assert (
        "survival with the resource (factor) = 0.8 (the first grid value: the base case is "
        "not on the grid)" in caption
    )


# ---------------------------------------------------------------------------------------------
# Plans: the plan's own report


@pytest.fixture(scope="module")
def us_plan(tmp_path_factory):
    """`triage plan instances/us-states-apr2020 --out DIR` (supply 0: all via deliveries.csv)."""
    mp = pytest.importorskip("optimiser.multiperiod")
    from optimiser.cli.plan import write_plan_outputs

    result = mp.plan(mp.load_multiperiod(US_APR), time_limit=120)
    out = tmp_path_factory.mktemp("plan") / "us-plan"
    write_plan_outputs(result, out)
    return result, out


@pytest.fixture(scope="module")
def plan_report(us_plan):
    from optimiser.html_report import read_plan_input

    _, folder = us_plan
    return build_report(optimiser.load_instance(US_APR), plan=read_plan_input(folder))


def test_plan_report_decision_section_reports_the_plan(us_plan, plan_report):
    result, _ = us_plan
    html = plan_report.html
    assert plan_report.title.startswith("Plan over 47 days from 2020-04-15")
    assert "Allocation of 0" not in html and "<h2>Allocation</h2>" not in html
    decision = html.split("<h2>Decision (plan over the horizon)</h2>", 1)[1].split("</section>")[0]
    assert f"<b>{result.lives_saved:,.1f}</b> extra lives" in decision
    units = pd.to_numeric(result.manifest["units"])
    ships, transfers = result.manifest["kind"] == "ship", result.manifest["kind"] == "transfer"
    assert f"{ships.sum():,} shipments, <b>{units[ships].sum():,.0f}</b>" in decision
    assert f"{transfers.sum():,} transfers, <b>{units[transfers].sum():,.0f}</b>" in decision
    assert f"<b>{result.shortfall:,.1f}</b> ventilator-days of unmet need" in decision
    not_admitted = result.regions["not_admitted"].sum()
    assert f"<b>{not_admitted:,.1f}</b> of {result.regions['patients'].sum():,.1f}" in decision
    assert f"{result.reserve_left:,.0f}" in decision
    # the single-period sections would be about 0 units: left out, and said so
    assert "<h2>Single-period analysis: not applicable</h2>" in html
    for heading in ("Policies compared", "Efficiency-fairness frontier", "Sensitivity (tornado)"):
        assert heading not in html
    assert (
        "<h2>Per-region totals</h2>" in html
        and "<h2>Price of fairness over the horizon</h2>" in (html)
    )
    regions = plan_report.tables["plan_regions"]
    assert regions["expected_survivors"].sum() == pytest.approx(result.lives_saved, rel=1e-6)
    # the national chart, the regions where something happens (of 50: most are flat lines,
    # left out and said so) and the three maps
    over_time = plan_report.section("plan_over_time").data
    assert over_time["busy"] < 50 and over_time["quiet"] == 50 - over_time["busy"]
    pages = -(-over_time["drawn"] // 20)
    assert set(plan_report.figures) == {
        "plan_national",
        *(f"plan_regions_{k}" for k in range(1, pages + 1)),
        "map_plan_units",
        "map_plan_not_admitted",
        "map_plan_shortfall",
    }
    assert "are not drawn: they are never short" in html


def test_plan_report_provenance_hashes_every_input(us_plan, plan_report):
    import hashlib

    _, folder = us_plan
    files = plan_report.provenance["instance"]["files_sha256"]
    for name in ("instance.toml", "regions.csv", "demand.csv", "deliveries.csv", "lead_times.csv"):
        assert files[name] == hashlib.sha256((US_APR / name).read_bytes()).hexdigest(), name
    plan = plan_report.provenance["options"]["plan"]
    for name in ("result.json", "daily.csv", "manifest.csv", "regions.csv"):
        assert (
            plan["files_sha256"][name] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
        )
    assert plan_report.provenance["plan_result"]["fingerprint"] == us_plan[0].fingerprint
    assert "Plan input (SHA-256)" in plan_report.html
    import html as html_lib

    assert optimiser.load_instance(US_APR).source in html_lib.unescape(plan_report.html)  # whole


def test_plan_report_with_a_supply_on_hand_labels_the_single_period_view(us_plan):
    from optimiser.html_report import read_plan_input

    _, folder = us_plan
    rep = build_report(
        optimiser.load_instance(US_APR),
        plan=read_plan_input(folder / "result.json"),
        supply=500,
        tornado_pct=None,
        frontiers=False,
    )
    assert "<h2>Single-period view: Allocation</h2>" in rep.html
    assert "they ignore the plan's deliveries" in rep.html
    assert "<h2>Decision (plan over the horizon)</h2>" in rep.html


def test_plan_from_its_json_alone(us_plan, tmp_path):
    from optimiser.html_report import read_plan_input

    _, folder = us_plan
    (tmp_path / "result.json").write_bytes((folder / "result.json").read_bytes())
    rep = build_report(
        optimiser.load_instance(US_APR), plan=read_plan_input(tmp_path / "result.json")
    )
    assert "No daily.csv beside the plan" in rep.html
    assert not [n for n in rep.figures if n.startswith("plan_")]  # no chart over time (maps
    # need no daily table)
    assert "<h2>Per-region totals</h2>" in rep.html


def test_a_plan_for_another_instance_is_refused(us_plan, tmp_path):
    mp = pytest.importorskip("optimiser.multiperiod")
    from optimiser.html_report import read_plan_input

    _, folder = us_plan
    with pytest.raises(InputError, match="the plan is not for instance italy-2020-wave1"):
        build_report(optimiser.load_instance(ITALY), plan=read_plan_input(folder))
    # same regions, other data: the fingerprint under the plan's settings differs
    changed = tmp_path / "us-changed"
    shutil.copytree(US_APR, changed)
    demand = pd.read_csv(changed / "demand.csv")
    demand.loc[0, "census"] += 5
    demand.to_csv(changed / "demand.csv", index=False)
    with pytest.raises(InputError, match="the plan was made for other data"):
        build_report(optimiser.load_instance(changed), plan=read_plan_input(folder))
    # other settings are not other data: a --no-transfers plan belongs to the instance
    no_transfers = mp.plan(
        mp.load_multiperiod(US_APR).with_settings(transfers=False), price_of_fairness=False
    )
    rep = build_report(optimiser.load_instance(US_APR), plan=no_transfers)
    assert "<h2>Decision (plan over the horizon)</h2>" in rep.html


@pytest.mark.slow
def test_cli_plan_report(us_plan, tmp_path, run_cli):
    _, folder = us_plan
    out = tmp_path / "report"
    proc = run_cli("report", US_APR, "--from-plan", folder, "--out", out)
    assert proc.returncode == 0, proc.stderr
    html = (out / "report.html").read_text()
    assert "<h2>Decision (plan over the horizon)</h2>" in html
    assert {p.name for p in (out / "charts").glob("*.svg")} >= {"plan_national.svg"}
    # another instance's plan: exit 2, one message, nothing written
    proc = run_cli("report", ITALY, "--from-plan", folder, "--out", tmp_path / "bad")
    assert proc.returncode == 2 and "not for instance italy-2020-wave1" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "bad").exists()
    # the plan folder is an input: --out onto it is refused and it stays whole
    before = sorted(p.name for p in folder.iterdir())
    proc = run_cli("report", US_APR, "--from-plan", folder, "--out", folder)
    assert proc.returncode == 2 and "is the --from-plan folder" in proc.stderr
    assert sorted(p.name for p in folder.iterdir()) == before
