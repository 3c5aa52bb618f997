"""The scenario format: loading, every problem listed with file, line and column, round trips,
the [uncertainty] table, and the CLI's exit 2 with nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scenario_support import load, long_frame, scaled, small_instance, write_set

from optimiser.errors import InputError
from optimiser.scenarios import (
    LognormalSpec,
    ScenarioSet,
    instance_scenarios,
    load_scenarios,
    lognormal_scenarios,
    scenarios_from_frames,
    write_scenarios,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_instance(tmp_path_factory.mktemp("scen") / "inst")


def messages(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_a_valid_set_loads_with_its_probabilities(folder: Path, tmp_path: Path) -> None:
    inst = load(folder)
    cube = scaled(inst, [0.5, 1.0, 2.0])
    write_set(tmp_path / "s", inst, cube, weights=[0.25, 0.5, 0.25])
    scenarios = load_scenarios(tmp_path / "s", inst)
    assert scenarios.ids == ["s1", "s2", "s3"]
    assert scenarios.probability.tolist() == [0.25, 0.5, 0.25]
    assert np.array_equal(scenarios.array(inst.regions), cube)
    assert not scenarios.sampled
    # the expected demand is the probability-weighted mean, computed here by hand
    expected = 0.25 * cube[0] + 0.5 * cube[1] + 0.25 * cube[2]
    assert np.allclose(scenarios.expected_demand().to_numpy(), expected)
    # the CSV file itself (weights beside it) loads the same
    same = load_scenarios(tmp_path / "s" / "scenarios.csv", inst)
    assert np.array_equal(same.array(), scenarios.array())


def test_without_weights_scenarios_are_equally_likely(folder: Path, tmp_path: Path) -> None:
    inst = load(folder)
    write_set(tmp_path / "s", inst, scaled(inst, [1.0, 1.5, 2.0, 3.0]))
    scenarios = load_scenarios(tmp_path / "s", inst)
    assert scenarios.probability.tolist() == [0.25] * 4


def test_scenario_instances_and_groups_are_what_the_planner_runs_on(
    folder: Path, tmp_path: Path
) -> None:
    from optimiser.multiperiod.demand import length_of_stay, patient_groups

    inst = load(folder)
    cube = scaled(inst, [0.5, 2.0])
    scenarios = load_scenarios(write_set(tmp_path / "s", inst, cube), inst)
    second = scenarios.instance_for(inst, "s2")
    assert np.array_equal(second.demand.to_numpy(), cube[1])
    assert second.deliveries.equals(inst.deliveries) and second.settings == inst.settings
    groups = scenarios.patient_groups(inst)
    direct = patient_groups(inst.demand_kind, cube[1], length_of_stay(inst))
    assert np.array_equal(groups[1].size, direct.size)
    assert np.array_equal(groups[1].need, direct.need)


def test_round_trips_are_exact(folder: Path, tmp_path: Path) -> None:
    inst = load(folder)
    scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=25, seed=3, peak_shift_sd=2))
    write_scenarios(scenarios, tmp_path)
    back = load_scenarios(tmp_path, inst)
    assert np.array_equal(back.array(), scenarios.array())
    assert back.ids == scenarios.ids and back.sampled and back.info == scenarios.info
    again = ScenarioSet.from_dict(scenarios.to_dict(), inst)
    assert np.array_equal(again.array(), scenarios.array())
    assert np.allclose(again.probability, scenarios.probability)
    assert again.sampled and again.info == scenarios.info


def test_every_problem_is_listed_with_its_line(folder: Path, tmp_path: Path) -> None:
    inst = load(folder)
    frame = long_frame(inst, scaled(inst, [1.0, 2.0, 3.0]))
    regions = inst.regions
    frame = frame[~((frame.scenario == "s2") & (frame.region == regions[1]))]  # a whole region
    frame = frame[
        ~((frame.scenario == "s3") & (frame.region == regions[0]) & frame.day.isin([3, 4]))
    ]
    frame = pd.concat([frame, frame.iloc[[0]]])  # a duplicate row at the end
    frame.to_csv(tmp_path / "scenarios.csv", index=False)
    with pytest.raises(InputError) as exc:
        load_scenarios(tmp_path, inst)
    text = messages(exc)
    assert any("duplicate row for scenario 's1'" in m and "line" in m for m in text), text
    frame = frame.iloc[:-1]
    frame.to_csv(tmp_path / "scenarios.csv", index=False)
    with pytest.raises(InputError) as exc:
        load_scenarios(tmp_path, inst)
    text = messages(exc)
    assert any(f"scenario 's2' has no rows for region {regions[1]}" in m for m in text), text
    assert any(
        f"region '{regions[0]}'" in m and "scenario 's3' has no row for days 3-4" in m
        for m in text
    ), text


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([0.5, 0.4, 0.05], "probabilities sum to 0.95, not 1 (tolerance 1e-06)"),
        ([0.6, 0.6, -0.2], "line 4, column 'probability': must be >= 0, got -0.2"),
        ([1.5, 0.0, -0.5], "a probability is at most 1, got 1.5"),
    ],
)
def test_bad_probabilities(
    folder: Path, tmp_path: Path, weights: list[float], expected: str
) -> None:
    inst = load(folder)
    write_set(tmp_path, inst, scaled(inst, [1.0, 2.0, 3.0]), weights=weights)
    with pytest.raises(InputError) as exc:
        load_scenarios(tmp_path, inst)
    assert any(expected in m for m in messages(exc)), messages(exc)


def test_weights_name_unknown_and_missing_scenarios(folder: Path, tmp_path: Path) -> None:
    inst = load(folder)
    write_set(tmp_path, inst, scaled(inst, [1.0, 2.0, 3.0]))
    pd.DataFrame({"scenario": ["s1", "s2", "zz"], "probability": [0.3, 0.3, 0.4]}).to_csv(
        tmp_path / "scenario_weights.csv", index=False
    )
    with pytest.raises(InputError) as exc:
        load_scenarios(tmp_path, inst)
    text = messages(exc)
    assert any("line 4, column 'scenario': unknown scenario id 'zz'" in m for m in text), text
    assert any("no probability for scenario s3" in m for m in text), text


def test_cells_and_columns_are_checked(folder: Path, tmp_path: Path) -> None:
    inst = load(folder)
    frame = long_frame(inst, scaled(inst, [1.0]))
    frame = frame.astype({"census": object, "day": object})
    frame.loc[0, "region"] = "NOWHERE"
    frame.loc[1, "day"] = 99
    frame.loc[2, "census"] = -1
    frame.loc[3, "census"] = 2e9
    frame.loc[4, "census"] = "many"
    frame.to_csv(tmp_path / "scenarios.csv", index=False)
    with pytest.raises(InputError) as exc:
        load_scenarios(tmp_path, inst)
    text = messages(exc)
    expected = [
        "scenarios.csv, line 2, column 'region': unknown region 'NOWHERE'",
        "line 3, column 'day': day 99 is outside the horizon (days 0..9)",
        "line 4, column 'census': must be >= 0",
        "line 5, column 'census': must be at most 1,000,000,000 patients",
        "line 6, column 'census': not a number: 'many'",
    ]
    for e in expected:
        assert any(e in m for m in text), (e, text)


def test_other_demand_kind_and_unknown_columns(folder: Path, tmp_path: Path) -> None:
    inst = load(folder)
    frame = long_frame(inst, scaled(inst, [1.0])).rename(columns={"census": "new_patients"})
    frame["note"] = ""
    frame.to_csv(tmp_path / "scenarios.csv", index=False)
    with pytest.raises(InputError) as exc:
        load_scenarios(tmp_path, inst)
    text = messages(exc)
    assert any("has a 'new_patients' column but the instance's demand" in m for m in text)
    assert any("unknown column: note" in m for m in text)


def test_frames_given_in_python_name_rows(folder: Path) -> None:
    inst = load(folder)
    frame = long_frame(inst, scaled(inst, [1.0, 2.0]))
    frame.loc[5, "census"] = -3.0
    with pytest.raises(InputError) as exc:
        scenarios_from_frames(inst, frame)
    assert any("row 6, column 'census'" in m for m in messages(exc)), messages(exc)


def test_a_large_file_goes_through_the_fast_reader_with_the_same_messages(
    folder: Path, tmp_path: Path
) -> None:
    inst = load(folder)
    big = lognormal_scenarios(inst, LognormalSpec(scenarios=2000, seed=1))
    write_scenarios(big, tmp_path)
    assert (tmp_path / "scenarios.csv").stat().st_size > 1024**2  # the pandas path
    assert np.array_equal(load_scenarios(tmp_path, inst).array(), big.array())
    frame = pd.read_csv(tmp_path / "scenarios.csv")
    frame.loc[10, "census"] = -1.0
    frame.loc[20, "day"] = 1000
    frame.to_csv(tmp_path / "scenarios.csv", index=False)
    with pytest.raises(InputError) as exc:
        load_scenarios(tmp_path, inst)
    text = messages(exc)
    assert any("line 12, column 'census': must be >= 0" in m for m in text), text
    assert any("line 22, column 'day': day 1000 is outside the horizon" in m for m in text), text


def test_uncertainty_table_generates_the_same_set_as_the_api(folder: Path, tmp_path: Path) -> None:
    inst_dir = tmp_path / "inst"
    shutil.copytree(folder, inst_dir)
    toml = inst_dir / "instance.toml"
    toml.write_text(
        toml.read_text()
        + '\n[uncertainty]\nmethod = "lognormal"\nscenarios = 12\nseed = 9\n'
        + "sigma_growth = 0.05\npeak_shift_sd = 1.5\n"
    )
    inst = load(inst_dir)
    from_table = instance_scenarios(inst)
    direct = lognormal_scenarios(
        inst, LognormalSpec(scenarios=12, seed=9, sigma_growth=0.05, peak_shift_sd=1.5)
    )
    assert np.array_equal(from_table.array(), direct.array())
    write_set(inst_dir, inst, scaled(inst, [1.0]))  # now a scenarios.csv as well
    with pytest.raises(InputError, match=r"has both scenarios\.csv and an \[uncertainty\] table"):
        instance_scenarios(inst)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('method = "guess"', "field 'uncertainty.method': must be one of"),
        ('method = "lognormal"\nsigma = 1', "field 'uncertainty.sigma': not a parameter"),
        ('method = "lognormal"\nscenarios = 0', "field 'uncertainty.scenarios': must be a whole"),
        ('method = "lognormal"\ncorrelation = 1.5', "uncertainty.correlation': must be a rank"),
    ],
)
def test_bad_uncertainty_tables(folder: Path, tmp_path: Path, table: str, expected: str) -> None:
    inst_dir = tmp_path / "inst"
    shutil.copytree(folder, inst_dir)
    toml = inst_dir / "instance.toml"
    toml.write_text(toml.read_text() + f"\n[uncertainty]\n{table}\n")
    with pytest.raises(InputError) as exc:
        instance_scenarios(load(inst_dir))
    assert any(expected in m for m in messages(exc)), messages(exc)


@pytest.mark.slow  # starts the CLI twice (a few seconds each under load)
def test_cli_validate_lists_every_problem_and_exits_2(
    folder: Path, tmp_path: Path, run_cli
) -> None:
    inst = load(folder)
    write_set(tmp_path / "bad", inst, scaled(inst, [1.0, 2.0]), weights=[0.7, 0.7])
    (tmp_path / "bad" / "scenarios.csv").write_text(
        (tmp_path / "bad" / "scenarios.csv").read_text() + "s1,R001,0,5\n"
    )
    proc = run_cli("scenarios", "validate", folder, "--scenarios", tmp_path / "bad")
    assert proc.returncode == 2, proc.stderr
    assert "duplicate row for scenario 's1', region 'R001', day 0" in proc.stderr
    assert "Traceback" not in proc.stderr
    good = write_set(tmp_path / "good", inst, scaled(inst, [1.0, 2.0]))
    proc = run_cli("scenarios", "validate", folder, "--scenarios", good)
    assert proc.returncode == 0, proc.stderr
    assert "scenarios: 2 (weighted)" in proc.stdout


@pytest.mark.slow  # starts the CLI three times
def test_cli_generate_refuses_bad_options_and_writes_nothing(
    folder: Path, tmp_path: Path, run_cli
) -> None:
    out = tmp_path / "out"
    proc = run_cli(
        "scenarios",
        "generate",
        folder,
        "--out",
        out,
        "--method",
        "lognormal",
        "--scenarios",
        "0",
        "--correlation",
        "2",
    )
    assert proc.returncode == 2, proc.stderr
    assert "--scenarios: must be a whole number in 1..100,000" in proc.stderr
    assert "--correlation: must be a rank correlation in [0, 1]" in proc.stderr
    assert not out.exists()
    proc = run_cli(
        "scenarios",
        "generate",
        folder,
        "--out",
        out,
        "--method",
        "intervals",
        "--sigma0",
        "0.1",
    )
    assert proc.returncode == 2 and "--sigma0 is not a parameter of the intervals" in proc.stderr
    assert not out.exists()
    proc = run_cli(
        "scenarios",
        "generate",
        folder,
        "--out",
        out,
        "--method",
        "lognormal",
        "--scenarios",
        "5",
        "--seed",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    inst = load(folder)
    again = lognormal_scenarios(inst, LognormalSpec(scenarios=5, seed=2))
    assert np.array_equal(load_scenarios(out, inst).array(), again.array())
