"""`triage backtest`: plans made week by week with what was known, replayed against reality.

A tiny backtest solved by hand: two regions, 14 days, long stays (no one leaves), a forecast
that is clearly wrong (it expects B's census to rise; A's rose instead) and 10 units in the
depot on day 0, one day from either region. Nothing shipped to A, A lacks 10 units on each of
days 3..13: 110 unit-days; every unit shipped to A by day 2 removes 11 of them. Hindsight
ships 10 to A and has no shortfall."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser.backtest import POLICIES, BacktestResult, backtest
from optimiser.backtest.moves import carried_out
from optimiser.errors import InputError
from optimiser.multiperiod.planner import plan
from optimiser.scenarios import evaluate, load_backtest

ROOT = Path(__file__).resolve().parents[1]
START = dt.date(2020, 4, 8)
DAYS = 14
SW, SWO = 0.5, 0.1  # survival with and without a unit
OBSERVED = {"A": [10, 10, 10] + [20] * 11, "B": [5] * 14}
FORECAST = {"A": [10] * 14, "B": [5, 5, 5] + [15] * 11}


def write_backtest(folder: Path, observed: dict[str, list[int]] = OBSERVED) -> Path:
    folder.mkdir(parents=True)
    (folder / "regions.csv").write_text(
        "region,population,capacity,peak_demand,survival_with,survival_without,los_days,"
        "staff_cap\n"
        f"A,100000,10,20,{SW},{SWO},60,100\n"
        f"B,100000,10,20,{SW},{SWO},60,100\n"
    )
    (folder / "demand.csv").write_text(
        "region,day,census\n"
        + "".join(f"{r},{d},{v}\n" for r, vs in FORECAST.items() for d, v in enumerate(vs))
    )
    (folder / "deliveries.csv").write_text("day,quantity,depot\n0,10,D\n")
    (folder / "lead_times.csv").write_text("from,to,days\nD,A,1\nD,B,1\n")
    (folder / "instance.toml").write_text(
        'name = "tiny-backtest"\nsupply = 0\n\n[multiperiod]\n'
        f'start_date = "{START}"\ndays = {DAYS}\ndemand_kind = "census"\n'
        'depots = ["D"]\ndefault_lead_time_days = 1\ntransfers = false\n'
    )
    (folder / "observed.csv").write_text(
        "region,date,census\n"
        + "".join(
            f"{r},{START + dt.timedelta(days=d)},{v}\n"
            for r, vs in observed.items()
            for d, v in enumerate(vs)
        )
    )
    (folder / "forecasts").mkdir()
    (folder / "forecasts" / "releases.csv").write_text(
        "source,release,file,quantity\nfc,2020-04-07,fc.csv,census forecast\n"
    )
    (folder / "forecasts" / "fc.csv").write_text(
        "region,day,mean\n"
        + "".join(f"{r},{d},{v}\n" for r, vs in FORECAST.items() for d, v in enumerate(vs))
    )
    return folder


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_backtest(tmp_path / "tiny")


def short_by_hand(moves: pd.DataFrame) -> float:
    """A's unmet unit-days from the moves: 20 patients on days 3..13, 10 own units plus what
    arrived by then; B never lacks a unit (5 patients, 10 units)."""
    to_a = moves[moves["to"] == "A"]
    total = 0.0
    for day in range(3, DAYS):
        arrived = float(to_a.loc[to_a["arrives"] <= day, "units"].sum())
        total += max(0.0, 20 - 10 - arrived)
    return total


FIXED = ["none", "mean", "buffer", "hindsight"]


def test_each_policy_scores_what_a_hand_count_gives(tiny: Path) -> None:
    result = backtest(tiny, policies=FIXED, commit_days=14, forecast="fc")
    t = result.table
    assert t.loc["none", "shortfall"] == pytest.approx(110.0)
    assert t.loc["none", "not_admitted"] == pytest.approx(10.0)
    assert t.loc["hindsight", "shortfall"] == pytest.approx(0.0, abs=1e-6)
    for name in FIXED:
        assert t.loc[name, "shortfall"] == pytest.approx(
            short_by_hand(result.executed[name]), abs=1e-6
        ), name
    # the forecast put the need in B: the mean plan sends nothing useful to A
    assert t.loc["mean", "shortfall"] == pytest.approx(110.0)
    # every patient of A admitted in hindsight: 10 more survivors x (SW - SWO) each
    gained = t.loc["hindsight", "survivors"] - t.loc["none", "survivors"]
    assert gained == pytest.approx(10 * (SW - SWO))
    assert t.loc["none", "lives_below_hindsight"] == pytest.approx(10 * (SW - SWO))
    assert set(result.executed["mean"]["to"]) <= {"B"}
    assert (result.table["violations"] == 0).all()


def test_no_deliveries_is_the_simulator_with_zero_shipments(tiny: Path) -> None:
    result = backtest(tiny, policies=["none"], forecast="fc")
    bt = load_backtest(tiny)
    empty = pd.DataFrame(columns=["kind", "day", "from", "to", "units", "arrives"])
    direct = evaluate(bt.instance, empty, bt.observed_scenarios()).per_scenario.iloc[0]
    for column in ("survivors", "deaths", "not_admitted", "shortfall", "supply_shortfall"):
        assert result.table.loc["none", column] == pytest.approx(float(direct[column]))
    assert len(result.executed["none"]) == 0
    own = bt.instance.own.to_numpy(dtype=float)
    assert np.allclose(
        result.on_hand["none"].to_numpy(), np.broadcast_to(own.reshape(2, -1), (2, DAYS))
    )


def test_the_first_week_executed_is_the_first_week_of_that_weeks_plan(tiny: Path) -> None:
    result = backtest(tiny, policies=["mean", "buffer"], commit_days=7, forecast="fc")
    bt = load_backtest(tiny)
    assert list(result.weeks.loc[result.weeks["policy"] == "mean", "day"]) == [0, 7]
    for name, factor in (("mean", 1.0), ("buffer", 1.1)):
        demand = bt.forecast(bt.releases[0]).mean * factor
        week0 = plan(
            bt.instance.__class__(**{**bt.instance.__dict__, "demand": demand}),
            price_of_fairness=False,
        )
        m = week0.manifest
        first = m[m["kind"].isin(["ship", "transfer"]) & (m["day"] < 7)]
        got = result.executed[name]
        got = got[got["day"] < 7]
        key = ["kind", "day", "from", "to", "units", "arrives"]
        expect = first[key].astype({"units": "int64", "day": "int64", "arrives": "int64"})
        pd.testing.assert_frame_equal(
            got[key].reset_index(drop=True),
            expect.sort_values(["day", "kind", "from", "to"]).reset_index(drop=True),
            check_dtype=False,
        )


def test_the_second_plan_knows_the_census_of_the_first_week(tiny: Path) -> None:
    """On day 7 a plan knows the census of days 0..6 and the forecast from day 7 on (as
    published, or anchored: A's census of day 6 was 20 against 10 forecast, so its forecast
    doubles; B's was 5 against 15, a third). Without the anchor the published forecast says
    A's extra patients are gone on day 7: nothing goes to A."""
    from optimiser.backtest.policies import BacktestOptions, WeekContext

    bt = load_backtest(tiny)
    fc = bt.forecast(bt.releases[0])
    moves = pd.DataFrame(columns=["kind", "day", "from", "to", "units", "arrives"])
    day7 = dt.date(2020, 4, 15)
    plain = WeekContext(bt, 7, day7, fc, moves, BacktestOptions("fc"))
    level = WeekContext(bt, 7, day7, fc, moves, BacktestOptions("fc", anchor="level"))
    a_obs = [10, 10, 10, 20, 20, 20, 20]
    assert list(plain.forecast_demand()[0]) == a_obs + [10] * 7
    assert list(plain.forecast_demand(1.1)[1]) == [5] * 7 + [15 * 1.1] * 7
    assert list(level.forecast_demand()[0]) == a_obs + [20] * 7
    assert np.allclose(level.forecast_demand()[1], [5] * 14)
    weekly = backtest(tiny, policies=["mean"], commit_days=7, forecast="fc")
    assert "A" not in set(weekly.executed["mean"]["to"])
    assert weekly.table.loc["mean", "shortfall"] == pytest.approx(110.0)


@pytest.mark.parametrize("commit", [3, 7, 14])
def test_hindsight_is_the_bound(tiny: Path, commit: int) -> None:
    result = backtest(tiny, policies=FIXED, commit_days=commit, forecast="fc")
    t = result.table
    assert (t["survivors"] <= t.loc["hindsight", "survivors"] + 1e-6).all()
    assert (t["lives_below_hindsight"] >= -1e-6).all()


def test_hindsight_is_the_bound_on_the_us_backtest() -> None:
    result = backtest(ROOT / "instances" / "backtest-us-vent-apr2020", policies=FIXED)
    t = result.table
    assert (t["survivors"] <= t.loc["hindsight", "survivors"] + 1e-6).all()
    assert t.loc["hindsight", "shortfall"] < t.loc["none", "shortfall"]
    # every re-plan of a rolling policy made on its date with the release known by then
    weeks = result.weeks[result.weeks["policy"] == "mean"]
    assert list(weeks["forecast"]) == ["ihme@2020-04-12"] * len(weeks)
    assert list(weeks["day"]) == list(range(0, 47, 7))


def test_the_result_round_trips(tiny: Path) -> None:
    result = backtest(tiny, policies=FIXED, commit_days=7, forecast="fc")
    again = BacktestResult.from_json(result.to_json())
    assert again.to_dict() == result.to_dict()
    pd.testing.assert_frame_equal(again.table, result.table)
    pd.testing.assert_frame_equal(again.weeks, result.weeks)
    pd.testing.assert_frame_equal(again.observed, result.observed)
    for name in FIXED:
        pd.testing.assert_frame_equal(again.executed[name], result.executed[name])
        pd.testing.assert_frame_equal(again.on_hand[name], result.on_hand[name])
        pd.testing.assert_frame_equal(again.shortfall[name], result.shortfall[name])
    assert json.loads(result.to_json())["policies"][0]["policy"] == "none"


def test_a_plan_stopped_short_without_a_time_limit_is_said_so(tiny: Path) -> None:
    """A plan can stop at the solver's own round or node limits with no --time-limit given
    (status iteration_limit, no budget): the text says so instead of failing on the missing
    budget (the 20-state ICU backtest with 10 scenarios ended in an internal error there)."""
    import dataclasses

    from optimiser.cli.backtest import backtest_text

    result = backtest(tiny, policies=FIXED, commit_days=7, forecast="fc")
    assert result.info["time_limit"] is None
    weeks = result.weeks.copy()
    weeks.loc[weeks["policy"] == "mean", "status"] = "iteration_limit"
    stopped = dataclasses.replace(result, status="iteration_limit", weeks=weeks)
    text = backtest_text(stopped)
    stopped_plans = int((weeks["status"] == "iteration_limit").sum())
    assert f"status: iteration_limit (no time limit reached: {stopped_plans} plans stopped at the" \
        in text
    assert "own round or node limits, not proved optimal): mean" in text


def test_a_committed_transfer_is_cut_to_what_the_donor_could_spare(tiny: Path) -> None:
    bt = load_backtest(tiny)
    reality = bt.instance.with_settings(transfers=True)
    reality = reality.__class__(**{**reality.__dict__, "demand": bt.observed.astype(float)})
    # A's 10 units hold 10 patients from day 0; B's 5 patients leave it 5 spare units
    moves = pd.DataFrame(
        [("transfer", 1, "A", "B", 4, 2), ("transfer", 1, "B", "A", 8, 2)],
        columns=["kind", "day", "from", "to", "units", "arrives"],
    )
    kept, cut = carried_out(reality, moves)
    assert cut == 4 + 3
    assert list(kept["units"]) == [5]
    assert list(kept["from"]) == ["B"]


def test_bad_requests_are_refused_with_the_option_named(tiny: Path) -> None:
    cases = [
        ({"as_of": "2020-04-01"}, "before the first forecast release"),
        ({"as_of": "2020-05-30"}, "after the window"),
        ({"as_of": "1 April"}, "must be a date"),
        ({"commit_days": 0}, "commit-days"),
        ({"commit_days": 15}, "longer than the 14 days left"),
        ({"as_of": "2020-04-15", "commit_days": 8}, "longer than the 7 days left"),
        ({"buffer": -0.1}, "buffer"),
        ({"forecast": "ihme"}, "no forecast source 'ihme'"),
        ({"policies": ["best"]}, "unknown policy 'best'"),
        ({"anchor": "trend"}, "unknown anchor 'trend'"),
        ({"stochastic": {"sigma": 1}}, "unknown option sigma"),
    ]
    for kwargs, words in cases:
        with pytest.raises(InputError) as caught:
            backtest(tiny, **kwargs)  # type: ignore[arg-type]
        assert words in str(caught.value), (kwargs, str(caught.value))


def test_observed_data_not_covering_the_window_is_refused(tmp_path: Path) -> None:
    short = {r: v[:10] for r, v in OBSERVED.items()}
    folder = write_backtest(tmp_path / "short", observed=short)
    with pytest.raises(InputError) as caught:
        backtest(folder)
    assert "observed.csv" in str(caught.value)
    assert "no row for days 10-13" in str(caught.value)


def test_anchoring_moves_the_forecast_to_the_last_observed_level() -> None:
    from optimiser.backtest.policies import anchored

    future = np.array([[10.0, 5.0], [0.0, 0.0], [0.5, 0.25]])
    out = anchored(future, np.array([20.0, 0.0, 0.5]), np.array([40.0, 3.0, 0.0]))
    assert np.allclose(out, [[20.0, 10.0], [3.0, 3.0], [0.0, 0.0]])


def test_the_policy_registry_names_every_policy() -> None:
    assert {"none", "mean", "buffer", "hindsight", "stochastic", "risk-averse"} <= set(POLICIES)
    for policy in POLICIES.values():
        assert policy.doc and policy.replay in ("manifest", "as_is")


def test_the_chart_renders_every_policy(tiny: Path, tmp_path: Path) -> None:
    from matplotlib.image import imread

    from optimiser.backtest.chart import backtest_chart
    from optimiser.charts import save

    result = backtest(tiny, policies=FIXED, commit_days=7, forecast="fc")
    fig = backtest_chart(result)
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert labels[0].startswith("observed census")
    assert [lab.split(":")[0] for lab in labels[1:]] == FIXED
    paths = save(fig, tmp_path, "backtest")
    image = imread(paths["png"])
    assert image.shape[0] > 500 and image.shape[1] > 800
    assert float(np.std(image[..., :3])) > 0.05  # not blank
    assert "observed census" in paths["svg"].read_text()


def test_cli_writes_every_output_and_refuses_bad_input(tiny: Path, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    proc = run_cli("backtest", tiny, "-f", "fc", "-p", "none", "-p", "hindsight", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "hindsight" in proc.stdout and "110.0" in proc.stdout
    names = {p.name for p in out.iterdir()}
    assert {"result.json", "policies.csv", "weeks.csv", "daily.csv", "executed"} <= names
    assert {"backtest.png", "backtest.svg"} <= names
    again = BacktestResult.from_json((out / "result.json").read_text())
    assert again.table.loc["none", "shortfall"] == pytest.approx(110.0)
    assert pd.read_csv(out / "policies.csv", index_col=0).loc["none", "shortfall"] == 110.0
    bad = tmp_path / "bad"
    proc = run_cli("backtest", tiny, "-f", "fc", "--as-of", "2020-04-06", "--out", bad)
    assert proc.returncode == 2
    assert "before the first forecast release (fc@2020-04-07)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not bad.exists()
    proc = run_cli("backtest", tiny, "-f", "fc", "--commit-days", "20", "--json")
    assert proc.returncode == 2
    assert "commit-days" in proc.stdout + proc.stderr


def test_the_two_stage_policies_commit_what_the_stochastic_planner_commits(tiny: Path) -> None:
    """Each week's moves are the two-stage plan's first stage (optimiser.stochastic), made on
    scenarios that hold the observed census before the re-planning day; the last window is
    cut to the days left (5 + 5 + 4); hindsight bounds them too."""
    from optimiser.backtest.policies import BacktestOptions, WeekContext, week_scenarios
    from optimiser.stochastic import plan_under_uncertainty

    options = {"scenarios": 3, "seed": 4}
    result = backtest(
        tiny,
        policies=[*FIXED, "stochastic", "risk-averse"],
        commit_days=5,
        forecast="fc",
        stochastic=options,
    )
    weeks = result.weeks[result.weeks["policy"] == "stochastic"]
    assert list(weeks["day"]) == [0, 5, 10]
    t = result.table
    assert (t["survivors"] <= t.loc["hindsight", "survivors"] + 1e-6).all()
    bt = load_backtest(tiny)
    empty = pd.DataFrame(columns=["kind", "day", "from", "to", "units", "arrives"])
    ctx = WeekContext(
        bt,
        0,
        START,
        bt.forecast(bt.releases[0]),
        empty,
        BacktestOptions("fc", commit_days=5, **options),
    )
    scenarios = week_scenarios(ctx)
    assert scenarios.ids == ["s001", "s002", "s003"]
    direct = plan_under_uncertainty(
        ctx.instance_with(ctx.forecast_demand()),
        scenarios,
        commit_days=5,
        mip_gap=0.01,
        price_of_fairness=False,
    )
    got = result.executed["stochastic"]
    got = got[got["day"] < 5].reset_index(drop=True)
    expect = direct.committed[["kind", "day", "from", "to", "units", "arrives"]]
    expect = expect.sort_values(["day", "kind", "from", "to"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expect, check_dtype=False)
    late = WeekContext(bt, 5, START, ctx.forecast, empty, BacktestOptions("fc", **options))
    cube = week_scenarios(late).array(bt.instance.regions)
    assert np.allclose(cube[:, :, :5], bt.observed.to_numpy(dtype=float)[None, :, :5])


def test_an_unavailable_policy_fails_loudly(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import optimiser.backtest.policies as policies

    monkeypatch.setattr(policies, "STOCHASTIC_ENTRY", ("optimiser.no_such_planner", "plan"))
    with pytest.raises(InputError) as caught:
        backtest(tiny, policies=["mean", "stochastic"], forecast="fc")
    assert "stochastic: the two-stage planner (optimiser.no_such_planner.plan) is not in" in str(
        caught.value
    )
    # the default list never had it: the four policies run
    assert list(backtest(tiny, forecast="fc").table.index) == FIXED
