"""The report's data is gathered apart from its rendering (read here without any HTML), and the
page a person reads: human labels, options as a table, words and numbers never broken inside,
why the optimum concentrates units, maps, dates on plan charts, a small page for a big plan."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

import optimiser
from optimiser.reporting import build_report, read_plan_input
from optimiser.reporting import labels as human

REPO = Path(__file__).resolve().parents[1]
US = REPO / "instances" / "us-states-2020"
US_APR = REPO / "instances" / "us-states-apr2020"
ITALY = REPO / "instances" / "italy-2020-wave1"


@pytest.fixture(scope="module")
def us_report():
    return build_report(optimiser.load_instance(US), constraints=["per_capita_floor:share=0.3"],
                        tornado_pct=10)


def body_of(html: str) -> str:
    """The page without its provenance (which keeps the raw identifiers on purpose)."""
    return html.split("<h2>Provenance</h2>", 1)[0]


def test_sections_are_data_not_html(us_report) -> None:
    result = optimiser.solve(optimiser.load_instance(US), ["per_capita_floor:share=0.3"])
    decision = us_report.section("decision").data
    assert decision["lives_saved"] == pytest.approx(result.lives_saved)
    assert decision["constraints"] == ["per-capita floor (share 0.3)"]
    table = us_report.section("allocation").data["table"]
    rows = {r["__index__"]: r for r in table.rows}
    assert rows["NY"]["units"] == result.allocation["NY"]
    assert {c.key for c in table.columns} >= {"units", "lives_per_unit", "coverage_after"}
    for section in us_report.sections:  # plain values: nothing pre-rendered
        for value in section.data.values():
            assert not (isinstance(value, str) and "<" in value and ">" in value), section


def test_why_the_optimum_concentrates_units(us_report) -> None:
    why = us_report.section("why").data
    first = why["table"].rows[0]
    assert first["__index__"] == "NY"
    assert first["lives_per_unit"] == pytest.approx(
        first["gain"] * first["turnover"], rel=1e-9)  # lives per unit = gain x patients per unit
    assert "highest first" in why["text"]
    assert "<h2>Why the units go where they go</h2>" in us_report.html


def test_human_labels_and_options_as_a_table(us_report) -> None:
    body = re.sub(r"""(id="fig-|charts/)\w+""", "", body_of(us_report.html))  # file names
    for raw in ("per_capita_floor", "los_days", "survival_with", "excess_per_capita",
                "lives_lost_vs_optimal", "coverage_after"):
        assert raw not in body, raw
    assert "per-capita floor (share 0.3)" in body
    tornado = [t.get_text() for t in us_report.figures["tornado"].axes[0].get_yticklabels()]
    assert "length of stay (days) (all regions)" in tornado  # charts too
    provenance = us_report.html.split("<h2>Provenance</h2>", 1)[1]
    options = provenance.split("<th>Options</th>", 1)[1].split("</table>", 1)[0]
    assert "{" not in options  # not raw JSON
    assert "Tornado: each input moved by ± (%)" in options
    assert human.varied("peak_demand*@NY,NJ") == "peak demand (factor) in NY, NJ"
    assert human.policy("optimal+per_capita_floor(share=0.3)") == (
        "optimum with per-capita floor (share 0.3)")


def test_tables_never_break_words_or_numbers() -> None:
    css = (resources.files("optimiser.reporting") / "report.css").read_text()
    assert "anywhere" not in css and "break-all" not in css
    assert re.search(r"td\.num\{[^}]*white-space:nowrap", css)
    templates = resources.files("optimiser.reporting") / "templates"
    assert (templates / "report.html.j2").is_file()  # package data, not code
    assert (templates / "sections" / "allocation.html.j2").is_file()


def test_maps_tile_grid_for_us_states_point_map_elsewhere(us_report, tmp_path) -> None:
    assert {"map_units", "map_coverage", "map_shortage"} <= set(us_report.figures)
    tiles = us_report.figures["map_units"].axes[0]
    assert {t.get_text() for t in tiles.texts} >= {"NY", "MA", "AK", "HI"}  # a tile grid
    pugh = build_report(optimiser.load_instance(REPO / "instances" / "pugh2021"),
                        tornado_pct=None, frontiers=False)
    assert not [n for n in pugh.figures if n.startswith("map_")]  # no coordinates: no map
    # a point map where the instance gives coordinates (Italy: coordinates.csv)
    italy = optimiser.load_instance(ITALY).with_supply(200)
    report = build_report(italy, tornado_pct=None, frontiers=False)
    points = report.figures["map_units"].axes[0]
    assert len(points.collections[0].get_offsets()) == 21
    assert "latitude" in points.get_ylabel()


def test_bad_coordinates_are_refused_naming_file_and_line(tmp_path) -> None:
    import shutil

    folder = tmp_path / "us"
    shutil.copytree(US, folder)
    (folder / "coordinates.csv").write_text("region,lat,lon\nNY,95,-74\nZZ,1,1\n")
    with pytest.raises(optimiser.InputError) as err:
        build_report(optimiser.load_instance(folder), tornado_pct=None, frontiers=False)
    text = "\n".join(map(str, err.value.problems))
    assert "coordinates.csv, line 2, column 'lat'" in text
    assert "coordinates.csv, line 3, column 'region': unknown region 'ZZ'" in text


@pytest.fixture(scope="module")
def plan_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan") / "plan"
    proc = subprocess.run([sys.executable, "-m", "optimiser", "plan", str(US_APR), "--no-price",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return build_report(optimiser.load_instance(US_APR), plan=read_plan_input(out))


@pytest.mark.slow
def test_plan_report_dates_arrivals_and_short_donors(plan_report) -> None:
    national = plan_report.figures["plan_national"]
    assert national.axes[-1].get_xlabel() == "date"
    ticks = " ".join(t.get_text() for t in national.axes[-1].get_xticklabels())
    assert "May" in ticks
    assert len(national.axes) == 2  # depot arrivals on their own scale
    donors = plan_report.section("short_donors").data["items"]
    assert donors and all(" ventilators out (" in item for item in donors)
    manifest = plan_report.tables["plan_manifest"]
    assert {"shipment_id", "from_name", "to_name", "resource"} <= set(manifest.columns)


@pytest.mark.slow
def test_a_300_region_plan_report_stays_small(tmp_path) -> None:
    def triage(*args: object) -> None:
        proc = subprocess.run([sys.executable, "-m", "optimiser", *map(str, args)],
                              capture_output=True, text=True, timeout=900, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr

    triage("generate", "g300", "--regions", 300, "--days", 90, "--depots", 3, "--neighbours",
           10, "--seed", 1)
    triage("-q", "plan", "g300", "--no-price", "--out", "plan")
    triage("report", "g300", "--from-plan", "plan", "--out", "report")
    html = (tmp_path / "report" / "report.html").read_text()
    assert len(html.encode()) < 1_500_000  # was 4.4 MB: only strained regions drawn
    assert "regions are not drawn" in html or "most strained" in html
    table_rows = body_of(html).count("<tr>")
    assert table_rows < 900  # manifest capped in the page; tables/*.csv hold every row
