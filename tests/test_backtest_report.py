"""The backtest's HTML report (`triage backtest --out --report`): the observed census against
each policy's units on hand, and for the two-stage policies the fan of the demand scenarios
their first plan hedged against, drawn by the stochastic plan's fan code (one piece of code
serves), checked against the scenario set recomputed independently and rendered in headless
Chromium and looked at."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from fan_screenshot import assert_fans_drawn
from test_backtest import START, write_backtest

from optimiser.backtest import BacktestResult, backtest
from optimiser.backtest.report import build_backtest_report, observed_by_area
from optimiser.scenarios import load_backtest

OPTIONS = {"scenarios": 8, "seed": 4}
POLICIES = ["none", "mean", "stochastic", "risk-averse", "hindsight"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BacktestResult]:
    tmp = tmp_path_factory.mktemp("btreport")
    tiny = write_backtest(tmp / "tiny")
    result = backtest(tiny, policies=POLICIES, commit_days=5, forecast="fc", stochastic=OPTIONS)
    return tiny, result


def test_the_fan_is_the_first_plans_scenarios_against_the_units_on_hand(run) -> None:
    """The fan is the first week's scenario set (recomputed here with week_scenarios) replayed
    with the moves the policy executed: on day 0, before any unit arrives, the need is the
    scenarios' census, so its bands are the census's probability-weighted quantiles; the units
    on hand are the policy's in the replay against what happened (transfers are off in the
    tiny backtest: units on hand do not depend on demand). Later the need depends on the plan
    (patients on a unit live longer), hence the whole fan equals plan_fan of those moves."""
    from optimiser.backtest.policies import (
        BacktestOptions,
        WeekContext,
        empty_manifest,
        week_scenarios,
    )
    from optimiser.stochastic.fan import plan_fan, weighted_quantiles

    tiny, result = run
    assert set(result.fans) == {"stochastic", "risk-averse"}
    bt = load_backtest(tiny)
    ctx = WeekContext(bt, 0, START, bt.forecast(bt.releases[0]), empty_manifest(),
                      BacktestOptions("fc", commit_days=5, **OPTIONS))
    scenarios = week_scenarios(ctx)
    cube = scenarios.array(bt.instance.regions)  # (scenarios, regions, days)
    p = scenarios.probability.to_numpy(dtype=float)
    for policy, fan in result.fans.items():
        assert fan.scenarios == 8 and fan.replay == "manifest"
        national = fan.area("national")
        bands = weighted_quantiles(cube.sum(axis=1)[:, 0], p, fan.quantiles)
        got = [national.loc[0, f"need_q{round(q * 100):02d}"] for q in fan.quantiles]
        assert np.allclose(got, bands), (policy, got, bands)
        for r, region in enumerate(bt.instance.regions):
            rows = fan.area(region)
            assert rows.loc[0, "need_q50"] == pytest.approx(
                weighted_quantiles(cube[:, r, 0], p, (0.5,))[0])
            assert np.allclose(rows["on_hand_mean"], result.on_hand[policy].loc[region])
        direct = plan_fan(bt.instance, scenarios, result.executed[policy])
        assert np.allclose(direct.table.iloc[:, 2:].to_numpy(dtype=float),
                           fan.table.iloc[:, 2:].to_numpy(dtype=float))
    again = BacktestResult.from_json(result.to_json())
    assert set(again.fans) == set(result.fans)
    for policy, fan in result.fans.items():
        assert np.allclose(again.fans[policy].table.iloc[:, 2:].to_numpy(dtype=float),
                           fan.table.iloc[:, 2:].to_numpy(dtype=float))
        assert again.fans[policy].short_days.to_dict() == pytest.approx(fan.short_days.to_dict())


def test_the_fan_draws_the_observed_census(run) -> None:
    """The observed census is a black line over the fan: the PNG with it has hundreds of dark
    pixels more than the same chart without it."""
    from optimiser.charts.fan import fan_chart

    _, result = run
    fan = result.fans["stochastic"]
    observed = observed_by_area(result, ["A"])["A"]
    assert observed.tolist() == [10, 10, 10] + [20] * 11

    def dark(with_observed: bool) -> int:
        figure = fan_chart(fan.area("A"), "A", quantiles=fan.quantiles, resource="ventilator",
                           replay=fan.replay, observed=observed if with_observed else None)
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        pixels = np.asarray(canvas.buffer_rgba())[..., :3] / 255.0
        return int((pixels.max(axis=2) < 0.2).sum())

    assert dark(True) - dark(False) > 300


def test_the_report_renders_in_chromium(run, tmp_path: Path) -> None:
    from optimiser.reporting.build import write_report_files

    tiny, result = run
    report = build_backtest_report(result, load_backtest(tiny).instance)
    html = report.html
    assert "<h2>Each policy against what happened</h2>" in html
    assert "<h2>Observed census against units on hand</h2>" in html
    assert "stochastic: the demand scenarios of its first plan (2020-04-08)" in html
    assert "The black line is the census that was observed" in html
    fans = [n for n in report.figures if n.startswith("fan_")]
    assert set(fans) == {f"fan_{p}_{a}" for p in ("stochastic", "risk_averse")
                         for a in ("national", "A", "B")}
    for name in fans:
        svg = report.svgs[name]
        assert re.findall(r'id="(fan_band_\d+_\d+)"', svg) == ["fan_band_5_95", "fan_band_25_75"]
        assert 'id="fan_observed"' in svg and 'id="fan_on_hand"' in svg
    images = re.findall(r"""src=['"]data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)['"]""", html)
    assert len(images) == 1 + len(fans)
    assert all(base64.b64decode(i).startswith(b"<svg") for i in images)
    folder = tmp_path / "report"
    folder.mkdir()
    write_report_files(report, folder)
    assert (folder / "charts" / "fan_stochastic_national.png").stat().st_size > 5_000
    assert (folder / "tables" / "fan_stochastic.csv").exists()
    assert_fans_drawn(folder, height=3000)


def test_cli_backtest_report(run, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    tiny, _ = run
    proc = run_cli("backtest", tiny, "-f", "fc", "--report")
    assert proc.returncode == 2 and "--report needs --out" in proc.stderr
    out = tmp_path / "out"
    proc = run_cli("backtest", tiny, "-f", "fc", "--commit-days", "7", "-p", "mean", "-p",
                   "stochastic", "--scenarios", "3", "--out", out, "--report")
    assert proc.returncode == 0, proc.stderr
    html = (out / "report.html").read_text()
    assert html.count('<figure id="fig-fan_stochastic_') == 3
    assert '<figure id="fig-backtest"' in html
    assert (out / "charts" / "fan_stochastic_A.svg").exists()
    assert (out / "provenance.json").exists() and (out / "result.json").exists()
