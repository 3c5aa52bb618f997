"""Leftovers 2: options named as typed and checked whatever else is asked, and the count line
naming the file that holds the problems.

* `triage plan --method foo` said "column 'method': method must be ..." (the engine's word for
  a table column) after loading the instance: now `--method: must be one of auto, exact,
  rounding, got 'foo'` before it, and `option 'method': ...` in Python.
* `triage backtest --scenarios -1`, `--risk foo`, `--seed -1` ran to the end unless a two-stage
  policy was asked for (which read them): now refused whatever the policies.
* "N problems found in DIR" named the --scenarios folder (or the instance folder) for a
  problem of its scenarios.csv: now the file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_leftovers_tables import run_main

from optimiser.errors import InputError

REPO = Path(__file__).resolve().parents[1]
APR = REPO / "instances" / "us-states-apr2020"
VENT = REPO / "instances" / "backtest-us-vent-apr2020"
METHODS = "must be one of auto, exact, rounding, got 'foo'"


# ---- 1. --method


@pytest.mark.parametrize("extra", [[], ["--scenarios", "instance"]], ids=["plan", "two-stage"])
def test_a_wrong_method_is_the_option_as_typed(
    extra: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import optimiser.multiperiod.instance as loading

    def no_load(*_: object, **__: object) -> None:
        raise AssertionError("the instance was loaded for a wrong option")

    monkeypatch.setattr(loading, "load_multiperiod", no_load)  # refused before loading
    code, out, err = run_main(["plan", APR, "--method", "foo", *extra], capsys)
    assert code == 2
    assert err.splitlines() == [f"error: --method: {METHODS}"], err
    code, out, err = run_main(["plan", APR, "--method", "foo", "--json", *extra], capsys)
    error = json.loads(out)["error"]
    assert error["message"] == f"--method: {METHODS}"
    assert error["problems"] == [{"message": METHODS, "column": "method", "option": "--method"}]


def test_python_names_the_argument() -> None:
    from optimiser.multiperiod import load_multiperiod, plan

    with pytest.raises(InputError) as caught:
        plan(load_multiperiod(APR), method="foo")
    assert str(caught.value) == f"option 'method': {METHODS}"
    assert caught.value.problems[0].for_command_line() == f"--method: {METHODS}"


# ---- 2. backtest: the two-stage options whatever the policies


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--scenarios", "-1", "must be a whole number in 1..100,000, got -1"),
        ("--scenarios", "0", "must be a whole number in 1..100,000, got 0"),
        ("--seed", "-1", "must be a whole number >= 0, got -1"),
        ("--risk", "foo", "unknown risk kind 'foo'"),
        ("--risk", "cvar:alpha=2,lambda=1", "alpha must be a tail share in (0, 1], got 2"),
    ],
)
@pytest.mark.parametrize("policies", [[], ["--policy", "none"]], ids=["default", "none"])
def test_backtest_options_are_checked_whatever_the_policies(
    option: str,
    value: str,
    message: str,
    policies: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_main(["backtest", VENT, option, value, *policies, "--no-progress"], capsys)
    assert code == 2, err
    lines = err.splitlines()
    assert lines[0].startswith(f"error: {option}: {message}"), err
    assert lines[-1] == "1 problem found in the command line"
    assert out == ""


def test_backtest_lists_every_wrong_option_before_any_plan() -> None:
    from optimiser.backtest import backtest

    stochastic = {
        "scenarios": 10**6,
        "seed": -1,
        "risk": "worst:beta=1",
        "two_stage_gap": 1.5,
        "two_stage_time_limit": 0,
        "sigma0": -0.1,
    }
    with pytest.raises(InputError) as caught:
        backtest(VENT, policies=["none"], commit_days=0, stochastic=stochastic)
    named = [(p.column, p.column_word) for p in caught.value.problems]
    assert [c for c, _ in named] == [
        "commit-days",
        "scenarios",
        "seed",
        "sigma0",
        "risk",
        "two_stage_gap",
        "two_stage_time_limit",
    ]
    assert {w for _, w in named} == {"option"}
    assert str(caught.value.problems[4]) == "option 'risk': worst takes alpha, not beta"


def test_backtest_scenarios_are_sized_for_the_instance_when_drawn() -> None:
    """A count the generator allows but the instance's region-days do not (check_size): refused
    when a two-stage policy would draw them, not when none runs (the size is the memory of
    drawing them)."""
    from optimiser.backtest import backtest
    from optimiser.backtest.policies import BacktestOptions, check_two_stage
    from optimiser.scenarios.backtest import load_backtest

    with pytest.raises(InputError) as caught:
        backtest(VENT, policies=["stochastic"], stochastic={"scenarios": 100_000})
    assert [p.column for p in caught.value.problems] == ["scenarios"]
    assert "at most" in caught.value.problems[0].message
    options = BacktestOptions("", scenarios=100_000)
    assert check_two_stage(options) == []
    [problem] = check_two_stage(options, load_backtest(VENT, read_forecasts=False).instance)
    assert problem.column == "scenarios" and "at most" in problem.message


# ---- 3. the count line names the file that holds the problems


@pytest.fixture(scope="module")
def good_scenarios(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from optimiser.multiperiod import load_multiperiod
    from optimiser.scenarios.generators import LognormalSpec, lognormal_scenarios
    from optimiser.scenarios.io import write_scenarios

    folder = tmp_path_factory.mktemp("leftovers2") / "good"
    folder.mkdir()
    write_scenarios(lognormal_scenarios(load_multiperiod(APR), LognormalSpec(scenarios=2)), folder)
    return folder


@pytest.fixture
def bad_scenarios(good_scenarios: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "bad"
    shutil.copytree(good_scenarios, folder)
    lines = (folder / "scenarios.csv").read_text().splitlines()
    lines[1] = ",".join([*lines[1].split(",")[:-1], "abc"])  # the first row's census
    (folder / "scenarios.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.parametrize(
    "command",
    [
        ["plan", APR, "--scenarios"],
        ["scenarios", "validate", APR, "--scenarios"],
        ["scenarios", "saa", APR, "--scenarios"],
    ],
    ids=["plan", "validate", "saa"],
)
@pytest.mark.parametrize("as_file", [False, True], ids=["folder", "csv"])
def test_the_count_line_names_the_scenarios_file(
    command: list[object],
    as_file: bool,
    bad_scenarios: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    given = bad_scenarios / "scenarios.csv" if as_file else bad_scenarios
    code, _, err = run_main([*command, given], capsys)
    assert code == 2, err
    assert "not a number: 'abc'" in err
    assert err.splitlines()[-1] == f"1 problem found in {bad_scenarios / 'scenarios.csv'}"


def test_a_problem_of_the_weights_names_the_weights_file(
    bad_scenarios: Path, good_scenarios: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(good_scenarios / "scenarios.csv", bad_scenarios / "scenarios.csv")
    weights = bad_scenarios / "scenario_weights.csv"
    weights.write_text(weights.read_text().replace(",0.5", ",2", 1))
    code, _, err = run_main(["plan", APR, "--scenarios", bad_scenarios / "scenarios.csv"], capsys)
    assert code == 2 and "scenario_weights.csv, line 2" in err, err
    assert err.splitlines()[-1].endswith(f" found in {weights}")


def test_held_out_scenarios_are_named_not_the_planning_ones(
    bad_scenarios: Path, good_scenarios: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(
        ["plan", APR, "--scenarios", good_scenarios, "--compare", "--evaluate", bad_scenarios],
        capsys,
    )
    assert code == 2, err
    assert err.splitlines()[-1] == f"1 problem found in {bad_scenarios / 'scenarios.csv'}"


def test_problems_in_several_places_are_counted_by_place(
    bad_scenarios: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(
        [
            "scenarios",
            "validate",
            APR,
            "--scenarios",
            bad_scenarios,
            "--as-of",
            "2020-04-01",
            "--json",
        ],
        capsys,
    )
    assert code == 2
    expected = f"2 problems found: 1 in the command line, 1 in {bad_scenarios / 'scenarios.csv'}"
    assert err.splitlines()[-1] == expected
    assert json.loads(out)["error"]["message"] == expected


def test_an_instance_problem_still_names_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "apr"
    shutil.copytree(APR, folder)
    (folder / "deliveries.csv").write_text("day,quantity,depot\n0,-5,SNS\n")
    code, _, err = run_main(["plan", folder], capsys)
    assert code == 2
    assert err.splitlines()[-1].endswith(f"found in {folder}"), err


def test_an_executed_file_is_named_beside_scenarios(
    good_scenarios: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`plan --scenarios S --executed E`: E's problems were counted "in S"."""
    executed = tmp_path / "shipped.csv"
    executed.write_text("when,from,to,units\n1,ME,MA,3\n")
    code, _, err = run_main(
        ["plan", APR, "--scenarios", good_scenarios, "--executed", executed], capsys
    )
    assert code == 2 and "shipped.csv: missing required column: day" in err, err
    assert err.splitlines()[-1] == f"1 problem found in {executed}"
