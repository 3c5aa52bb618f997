"""Probe 6: reports on odd instances. Failed on main e279bf2:

- `triage report DIR` of an instance whose region id holds a comma (a quoted field of
  regions.csv, e.g. "Île-de-France, nord") failed with exit 2 and an error about an option
  nobody typed (`--vary 'peak_demand*=0.8,1.0,1.2@Île-de-France, nord': unknown region(s)
  Île-de-France ...`): the tornado spelled each region's dimension in --vary's `@A,B` grammar.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import optimiser
from optimiser.sweeps.analysis import tornado

REGION = "Île-de-France, nord ✓"


def _instance() -> optimiser.Instance:
    regions = pd.DataFrame(
        {
            "region": [REGION, "B"],
            "population": [12_000_000, 5_000_000],
            "capacity": [100, 50],
            "peak_demand": [300, 120],
            "survival_with": [0.6, 0.5],
            "survival_without": [0.1, 0.1],
        }
    )
    return optimiser.instance_from_frames(regions, supply=150)


def test_a_tornado_varies_a_region_whose_id_holds_a_comma() -> None:
    t = tornado(_instance(), pct=20)
    row = t.rows[t.rows["dimension"] == f"peak_demand*@{REGION}"]
    assert len(row) == 1
    assert row.iloc[0]["input"] == f"peak_demand, {REGION}"
    # 200 short there at the peak, 150 units: 20% less demand leaves fewer patients to treat
    assert row.iloc[0]["lives_low"] < t.base
    assert row.iloc[0]["note"] == ""


def test_report_of_an_instance_with_a_comma_in_a_region_id(tmp_path: Path, run_cli) -> None:
    folder = tmp_path / "inst"
    folder.mkdir()
    (folder / "instance.toml").write_text('name = "comma"\nsupply = 150\n', encoding="utf-8")
    (folder / "regions.csv").write_text(
        "region,name,population,capacity,peak_demand\n"
        f'"{REGION}",Paris,12000000,100,300\nB,b,5000000,50,120\n',
        encoding="utf-8",
    )
    run = run_cli("report", folder, "--out", tmp_path / "rep")
    assert run.returncode == 0, run.stderr
    assert "--vary" not in run.stderr
    assert REGION in (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")


def test_a_number_too_long_to_read_in_a_result_json_is_named(tmp_path: Path, run_cli) -> None:
    """Probe 6: `triage evaluate DIR result.json` with a whole number of more than 4,300 digits
    said "Exceeds the limit (4300 digits) for integer string conversion ...; use
    sys.set_int_max_str_digits() to increase the limit": a Python setting, to a CLI user."""
    import json
    import sys

    pugh = Path(__file__).resolve().parents[1] / "instances" / "pugh2021"
    result = json.loads(optimiser.solve(optimiser.load_instance(pugh)).to_json())
    result["supply"] = 1
    text = json.dumps(result).replace('"supply": 1', '"supply": 1' + "0" * 5000, 1)
    (tmp_path / "result.json").write_text(text, encoding="utf-8")
    run = run_cli("evaluate", pugh, tmp_path / "result.json")
    assert run.returncode == 2
    assert (f"error: result.json: malformed JSON: a whole number has more than "
            f"{sys.get_int_max_str_digits():,} digits") in run.stderr
    assert "sys.set_int_max_str_digits" not in run.stderr
