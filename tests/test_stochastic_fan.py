"""Fan charts of a two-stage plan (optimiser.stochastic.fan, optimiser.charts.fan,
optimiser.reporting.stochastic, `triage plan --scenarios --out --report`): the quantiles
checked by hand, the recourse and committed replays on the hand-solved hedge case of
test_stochastic, and the page rendered in headless Chromium and looked at."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from fan_screenshot import assert_fans_drawn
from scenario_support import write_set
from test_stochastic import hedge_case, run_cli

from optimiser.errors import InputError
from optimiser.reporting.build import write_report_files
from optimiser.reporting.stochastic import build_stochastic_report, chosen_areas
from optimiser.stochastic import plan_under_uncertainty
from optimiser.stochastic.fan import fan_data, fan_table, weighted_quantiles


def test_weighted_quantiles_by_hand() -> None:
    # values 5, 1, 3 with probabilities 0.2, 0.5, 0.3: sorted 1 (0.5), 3 (0.8), 5 (1.0)
    values = np.array([5.0, 1.0, 3.0])
    got = weighted_quantiles(values, np.array([0.2, 0.5, 0.3]), (0.05, 0.25, 0.5, 0.75, 0.95))
    assert got.tolist() == [1.0, 1.0, 1.0, 3.0, 5.0]
    # a cumulative probability that reaches q exactly (0.1 + 0.2 + 0.2 in floats) counts
    got = weighted_quantiles(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.1, 0.2, 0.2, 0.5]),
                             (0.5,))
    assert got.tolist() == [3.0]


def test_fan_table_by_hand() -> None:
    # 3 equally likely scenarios, 2 regions, 1 day
    need = np.array([[[4.0], [0.0]], [[0.0], [4.0]], [[1.0], [1.0]]])
    hand = np.array([[[2.0], [2.0]], [[2.0], [2.0]], [[2.0], [2.0]]])
    p = np.full(3, 1 / 3)
    table = fan_table(need, hand, p, ["A", "B"], (0.25, 0.5, 0.75)).set_index("area")
    # A: 0, 1, 4 -> q25 0, median 1, q75 4; national per scenario 4, 4, 2 -> 2, 4, 4
    assert table.loc["A", ["need_q25", "need_q50", "need_q75"]].tolist() == [0.0, 1.0, 4.0]
    assert table.loc["national", ["need_q25", "need_q50", "need_q75"]].tolist() == [2, 4, 4]
    # the national median is not the sum of the regions' medians (1 + 1)
    assert table.loc["national", "need_mean"] == pytest.approx(10 / 3)
    assert table.loc["national", ["on_hand_mean", "on_hand_min", "on_hand_max"]].tolist() == [
        pytest.approx(4.0), 4.0, 4.0]


@pytest.fixture(scope="module")
def hedge(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("fan")
    inst, scenarios = hedge_case(tmp)
    result = plan_under_uncertainty(inst, scenarios, commit_days=1)
    return tmp, inst, scenarios, result


@pytest.mark.parametrize("replay", ["recourse", "committed"])
def test_fan_of_the_hedge_case_by_hand(hedge, replay: str) -> None:
    """Both units go to A on day 0 (arriving day 1). s1 (p 1/2): 2 patients in A on days 1-2;
    s2: 1 in B. So A's need is 0 or 2 (median 0: the lower of two equally likely values), B's
    0 or 1, the national 2 or 1; A holds 2 units from day 1 in every scenario, B none, and B
    is short in s2 only (probability 1/2); nothing is left to ship after day 0."""
    _, inst, scenarios, result = hedge
    fan = fan_data(inst, scenarios, result, replay=replay)
    a, b, nat = fan.area("A"), fan.area("B"), fan.area("national")
    assert a["need_q50"].tolist() == [0, 0, 0] and a["need_q95"].tolist() == [0, 2, 2]
    assert a["need_mean"].tolist() == [0, 1, 1]
    assert b["need_q75"].tolist() == [0, 1, 1]
    assert nat["need_q05"].tolist() == [0, 1, 1] and nat["need_q95"].tolist() == [0, 2, 2]
    assert a["on_hand_mean"].tolist() == [0, 2, 2] and b["on_hand_max"].tolist() == [0, 0, 0]
    assert fan.short_days.to_dict() == {"A": 0.0, "B": 0.5, "national": 0.0}
    assert chosen_areas(fan) == ["national", "B", "A"]


def test_report_fan_charts_render_in_chromium(hedge) -> None:
    tmp, inst, scenarios, result = hedge
    fan = fan_data(inst, scenarios, result)
    report = build_stochastic_report(inst, result, fan)
    html = report.html
    assert "<h2>Demand scenarios against units on hand</h2>" in html
    assert set(report.figures) == {"fan_national", "fan_A", "fan_B"}
    for name in report.figures:
        svg = report.svgs[name]
        # the 5-95% and 25-75% bands, the median and the units on hand, drawn
        assert re.findall(r'id="(fan_band_\d+_\d+)"', svg) == ["fan_band_5_95", "fan_band_25_75"]
        assert 'id="fan_median"' in svg and 'id="fan_on_hand"' in svg
        for text in ("need, 5%–95% of scenarios", "need, 25%–75% of scenarios", "median need",
                     "units on hand (each scenario"):
            assert text in svg, (name, text)
    images = re.findall(r"""src=['"]data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)['"]""", html)
    assert len(images) == 3 and all(base64.b64decode(i).startswith(b"<svg") for i in images)
    folder = tmp / "report"
    folder.mkdir()
    write_report_files(report, folder)
    assert (folder / "charts" / "fan_national.png").stat().st_size > 5_000
    assert_fans_drawn(folder, height=2600)


def test_cli_plan_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst, scenarios = hedge_case(tmp_path)
    sets = write_set(tmp_path / "sets", inst, scenarios.array(inst.regions), [0.5, 0.5])
    base = ["plan", str(tmp_path / "hedge"), "--scenarios", str(sets), "--commit-days", "1"]
    code, _, err = run_cli([*base, "--report"], capsys)
    assert code == 2 and "--report needs --out" in err
    code, _, err = run_cli(["plan", str(tmp_path / "hedge"), "--report"], capsys)
    assert code == 2 and "--scenarios" in err
    out = tmp_path / "out"
    code, _, err = run_cli([*base, "--out", str(out), "--report"], capsys)
    assert code == 0, err
    html = (out / "report.html").read_text()
    assert html.count('<figure id="fig-fan_') == 3
    assert (out / "committed.csv").exists() and (out / "tables" / "fan.csv").exists()
    assert (out / "charts" / "fan_B.svg").exists()


def split_plan(folder: Path) -> Path:
    """One unit to each region on day 0 (arriving day 1): the plan the mean forecast makes."""
    path = folder / "split.csv"
    path.write_text("kind,day,from,to,units,arrives\nship,0,D,A,1,1\nship,0,D,B,1,1\n")
    return path


def test_fan_of_an_evaluated_plan_by_hand(hedge) -> None:
    """The split plan holds 1 unit in A and 1 in B from day 1 in every scenario: A (need 2 in
    s1) is short with probability 1/2, B (need 1 in s2) never, the nation (2 units for a need
    of 2 or 1) never."""
    from optimiser.stochastic.fan import plan_fan

    tmp, inst, scenarios, _ = hedge
    fan = plan_fan(inst, scenarios, split_plan(tmp))
    assert fan.replay == "manifest"
    assert fan.area("A")["on_hand_mean"].tolist() == [0, 1, 1]
    assert fan.area("B")["on_hand_max"].tolist() == [0, 1, 1]
    assert fan.area("A")["need_q95"].tolist() == [0, 2, 2]
    assert fan.short_days.to_dict() == {"A": 0.5, "B": 0.0, "national": 0.0}
    with pytest.raises(InputError, match="policy"):
        plan_fan(inst, scenarios, split_plan(tmp), policy="bogus")


def test_cli_scenarios_evaluate_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst, scenarios = hedge_case(tmp_path)
    sets = write_set(tmp_path / "sets", inst, scenarios.array(inst.regions), [0.5, 0.5])
    base = ["scenarios", "evaluate", str(tmp_path / "hedge"), str(split_plan(tmp_path)),
            "--scenarios", str(sets), "--no-progress"]
    code, _, err = run_cli([*base, "--report"], capsys)
    assert code == 2 and "--report needs --out" in err
    out = tmp_path / "eval"
    code, _, err = run_cli([*base, "--out", str(out), "--report"], capsys)
    assert code == 0, err
    html = (out / "report.html").read_text()
    assert html.count('<figure id="fig-fan_') == 3 and "as written" in html
    assert (out / "evaluation.json").exists() and (out / "charts" / "fan_A.svg").exists()
