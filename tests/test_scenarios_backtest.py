"""Backtest instances: forecasts as published and what happened. Release dates are enforced,
an observed series must cover the window, and the forecast skill figures agree with a plain
pandas computation from the shipped files."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser.errors import InputError
from optimiser.scenarios import evaluate, load_backtest, resolve
from optimiser.scenarios.skill import NATIONAL, forecast_skill

ROOT = Path(__file__).resolve().parents[1]
BACKTESTS = sorted(p for p in (ROOT / "instances").iterdir() if (p / "observed.csv").is_file())
DATA = ROOT.parent / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")


def test_the_three_backtests_are_shipped() -> None:
    names = [p.name for p in BACKTESTS]
    assert names == [
        "backtest-italy-apr2020",
        "backtest-us-icu-apr2020",
        "backtest-us-vent-apr2020",
    ]


@pytest.mark.parametrize("folder", BACKTESTS, ids=lambda p: p.name)
def test_skill_agrees_with_a_plain_pandas_reading(folder: Path) -> None:
    backtest = load_backtest(folder)
    skill = forecast_skill(backtest)
    observed = pd.read_csv(folder / "observed.csv")
    national_observed = observed.groupby("date").census.sum()
    for release in backtest.releases:
        raw = pd.read_csv(folder / "forecasts" / release.file)
        window = raw[raw.date.isin(national_observed.index)]
        national = window.groupby("date")["mean"].sum()
        row = skill[(skill.release == release.name) & (skill.region == NATIONAL)].iloc[0]
        assert row.peak_ratio == pytest.approx(national.max() / national_observed.max())
        assert row.patient_days_ratio == pytest.approx(national.sum() / national_observed.sum())
        assert row.observed_peak_date == national_observed.idxmax()
        if "lower" in raw.columns:
            both = window.merge(observed, on=["region", "date"])
            inside = (both.census >= both.lower) & (both.census <= both.upper)
            assert row.interval_coverage == pytest.approx(inside.mean())
        else:
            assert np.isnan(row.interval_coverage)


def test_the_observed_series_is_a_scenario_any_plan_is_scored_against() -> None:
    backtest = load_backtest(ROOT / "instances" / "backtest-italy-apr2020")
    reality = backtest.observed_scenarios()
    assert reality.ids == ["observed"] and not reality.sampled
    nothing = pd.DataFrame(columns=["kind", "day", "from", "to", "units"])
    ev = evaluate(backtest.instance, nothing, reality)
    row = ev.per_scenario.loc["observed"]
    # shipping nothing: the supply shortfall is sum(max(0, need - own units)), by hand
    need = reality.patient_groups(backtest.instance)[0].need
    own = backtest.instance.own.to_numpy()
    staffed = own + backtest.instance.staff.to_numpy()
    assert row.supply_shortfall == pytest.approx(
        np.maximum(need - np.minimum(own, staffed), 0).sum()
    )


def copy(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / folder.name
    shutil.copytree(folder, target)
    return target


def test_observed_data_not_covering_the_window_is_refused(tmp_path: Path) -> None:
    folder = copy(ROOT / "instances" / "backtest-italy-apr2020", tmp_path)
    observed = pd.read_csv(folder / "observed.csv")
    gone = (observed.region == "LOM") & (observed.date >= "2020-05-20")
    observed[~gone & (observed.region != "VEN")].to_csv(folder / "observed.csv", index=False)
    with pytest.raises(InputError) as exc:
        load_backtest(folder)
    text = [str(p) for p in exc.value.problems]
    assert any(
        "observed.csv, region 'LOM': no row for days 42-53 (12 of 54 days): the table must "
        "cover every day of the instance's window 2020-04-08..2020-05-31" in m
        for m in text
    ), text
    assert any("region 'VEN': no rows in the window" in m for m in text), text


def test_release_dates_are_enforced() -> None:
    folder = ROOT / "instances" / "backtest-us-vent-apr2020"
    backtest = load_backtest(folder)
    with pytest.raises(InputError, match="before the first forecast release \\(ihme@2020-04-07\\)"):
        backtest.forecasts_as_of(dt.date(2020, 4, 1))
    with pytest.raises(InputError, match="after the window"):
        backtest.check_date(dt.date(2020, 6, 2))
    known = [r.name for r in backtest.forecasts_as_of(dt.date(2020, 4, 15))]
    assert known == ["ihme@2020-04-12"]  # the latest IHME; DELPHI's run is of 16 April
    assert sorted(r.name for r in backtest.forecasts_as_of(dt.date(2020, 4, 20))) == [
        "delphi@2020-04-16",
        "ihme@2020-04-12",
    ]
    inst = backtest.instance
    with pytest.raises(InputError) as exc:
        resolve(folder, inst, ["delphi", "ihme@2020-04-12"], as_of=dt.date(2020, 4, 10))
    text = " | ".join(str(p) for p in exc.value.problems)
    assert "the backtest date 2020-04-10 is before the first release of delphi (2020-04-16)" in text
    assert "forecast ihme@2020-04-12 was released on 2020-04-12, after the backtest date" in text
    (found,) = resolve(folder, inst, ["ihme"], as_of=dt.date(2020, 4, 10))
    assert found.name == "ihme@2020-04-07" and found.has_interval


def test_a_generator_request_takes_the_forecasts_it_can_use() -> None:
    from optimiser.scenarios import GeneratorRequest

    folder = ROOT / "instances" / "backtest-us-vent-apr2020"
    inst = load_backtest(folder).instance
    request = GeneratorRequest("lognormal", {"scenarios": 3}, ("ihme", "delphi"))
    with pytest.raises(InputError, match="takes one base forecast, got 2"):
        request.run(inst, folder)
    base = GeneratorRequest(
        "lognormal",
        {"scenarios": 3, "sigma0": 0.0, "sigma_growth": 0.0, "peak_shift_sd": 0.0},
        ("delphi",),
    ).run(inst, folder)
    delphi = pd.read_csv(folder / "forecasts" / "delphi_2020-04-16.csv")
    first = delphi[delphi.region == inst.regions[0]]["mean"].to_numpy()
    assert np.allclose(base.array()[0, 0], first)  # no error: the base itself


def test_releases_file_problems_are_listed(tmp_path: Path) -> None:
    folder = copy(ROOT / "instances" / "backtest-us-icu-apr2020", tmp_path)
    releases = pd.read_csv(folder / "forecasts" / "releases.csv")
    releases.loc[0, "release"] = "7 April"
    releases.loc[1, "file"] = "missing.csv"
    releases.to_csv(folder / "forecasts" / "releases.csv", index=False)
    with pytest.raises(InputError) as exc:
        load_backtest(folder)
    text = [str(p) for p in exc.value.problems]
    assert any("line 2, column 'release': not a date YYYY-MM-DD: '7 April'" in m for m in text)
    assert any("line 3, column 'file': no such file forecasts/missing.csv" in m for m in text)


@pytest.mark.slow  # starts the CLI
def test_cli_refuses_a_forecast_not_yet_published(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    folder = ROOT / "instances" / "backtest-us-vent-apr2020"
    out = tmp_path / "s"
    proc = run_cli(
        "scenarios",
        "generate",
        folder,
        "--out",
        out,
        "--method",
        "forecasts",
        "--forecast",
        "ihme",
        "--forecast",
        "delphi",
        "--as-of",
        "2020-04-15",
    )
    assert proc.returncode == 2
    assert "before the first release of delphi (2020-04-16)" in proc.stderr
    assert not out.exists()
    proc = run_cli(
        "scenarios",
        "generate",
        folder,
        "--out",
        out,
        "--method",
        "forecasts",
        "--forecast",
        "ihme",
        "--forecast",
        "delphi",
        "--as-of",
        "2020-04-16",
    )
    assert proc.returncode == 0, proc.stderr
    weights = pd.read_csv(out / "scenario_weights.csv")
    assert weights.scenario.tolist() == ["ihme@2020-04-12", "delphi@2020-04-16"]


@pytest.mark.slow  # rebuilds the three instances from the shared data
@pytest.mark.skipif(not DATA.is_dir(), reason="the shared data folder is not here")
@pytest.mark.parametrize(
    ("script", "names"),
    [
        ("build_backtest_italy_apr2020.py", ["backtest-italy-apr2020"]),
        ("build_backtest_us_apr2020.py", ["backtest-us-vent-apr2020", "backtest-us-icu-apr2020"]),
    ],
)
def test_the_scripts_rebuild_the_shipped_instances_byte_for_byte(
    tmp_path: Path, script: str, names: list[str]
) -> None:
    out = tmp_path / "out" if len(names) == 1 else tmp_path
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / script),
            "--data-dir",
            str(DATA),
            "--out-dir",
            str(out),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
        timeout=300,
    )
    for name in names:
        built = out if len(names) == 1 else out / name
        shipped = ROOT / "instances" / name
        files = sorted(p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(built) for p in built.rglob("*") if p.is_file())
        for f in files:
            assert (built / f).read_bytes() == (shipped / f).read_bytes(), f
