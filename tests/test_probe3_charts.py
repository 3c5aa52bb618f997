"""Probe 3: the same report, made twice, gave different SVG bytes: matplotlib writes a
creation date into the SVG metadata and salts its element ids (clip paths) at random. Charts
now use a fixed salt and no date (optimiser/charts/common.py), so the same input gives the
same chart files and the same inline SVG in report.html."""

from __future__ import annotations

from pathlib import Path

import optimiser
from optimiser import charts

REPO = Path(__file__).resolve().parents[1]


def _figure():
    result = optimiser.solve(optimiser.load_instance(REPO / "instances" / "pugh2021"))
    return charts.allocation_chart(result.regions)


def test_the_same_chart_gives_the_same_svg_bytes(tmp_path):
    first = charts.save(_figure(), tmp_path / "a", "allocation")["svg"].read_bytes()
    second = charts.save(_figure(), tmp_path / "b", "allocation")["svg"].read_bytes()
    assert b"clip-path" in first  # ids that matplotlib salts at random unless told otherwise
    assert b"<dc:date>" not in first
    assert first == second


def test_the_inline_svg_of_a_report_is_the_same_each_time():
    assert charts.svg_text(_figure()) == charts.svg_text(_figure())
