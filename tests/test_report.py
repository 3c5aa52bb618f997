"""The HTML decision report: self-contained, numbers equal to the engine's, provenance for
audit; `triage report` from a solve, a sweep and a plan; errors leave nothing behind."""

from __future__ import annotations

import base64
import json
import re
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
    images = re.findall(r"src='data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)'", html)
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
    assert "<h2>Sweep</h2>" in rep.html and "<h2>Plan over time</h2>" in rep.html
    assert {"sweep_response_0", "sweep_frontier_1", "plan"} <= set(rep.figures)
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
        and "<h2>Plan over time</h2>" in html
    )
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["command"].startswith("triage report") and "--from-sweep" in prov["command"]
    # errors: one message, documented exit code, no output folder
    bad_plan = tmp_path / "bad.csv"
    bad_plan.write_text("region,day\nA,0\n")
    for args, code, fragment in [
        (("-c", "coverage_floor:level=0.9"), 3, "needs 4,430 units"),
        (("--from-plan", bad_plan), 2, "missing column(s) units_on_hand, demand"),
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
    frame = rep.tables["plan"]
    assert len(frame) == 4 * 8 and set(frame["region"]) == set(result.daily["region"])
    assert frame["demand"].tolist() == result.daily["need"].tolist()
    assert frame["units_on_hand"].tolist() == result.daily["units_on_hand"].tolist()
    assert "plan" in rep.figures and "<h2>Plan over time</h2>" in rep.html
