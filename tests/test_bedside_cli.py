"""`triage bedside ...` end to end in a subprocess, and compare / curve through Python."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import optimiser
from optimiser.bedside import load_inputs
from optimiser.bedside.compare import CompareSpec, compare
from optimiser.bedside.curve import curves_to_instance, pool_adjacent_violators

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "instances" / "bedside-synthetic"
REGIONAL = REPO / "instances" / "bedside-synthetic-regional"


@pytest.mark.slow
def test_allocate_writes_every_output_and_replays(run_cli, tmp_path):
    out = tmp_path / "out"
    result = run_cli("bedside", "allocate", EXAMPLE, "--out", out, "--no-price")
    assert result.returncode == 0, result.stderr
    assert "ADVISORY" in result.stdout and "approved by" in result.stdout
    for name in ("decisions.csv", "sites.csv", "protocols.csv", "price_of_fairness.csv",
                 "result.json", "decision_log.jsonl"):
        assert (out / name).is_file(), name
    decisions = pd.read_csv(out / "decisions.csv", index_col="patient")
    assert set(decisions["decision"]) == {"unit", "no_unit", "not_candidate"}
    replayed = run_cli("bedside", "replay", out / "decision_log.jsonl")
    assert replayed.returncode == 0, replayed.stderr
    assert "identical to the log" in replayed.stdout


@pytest.mark.slow
def test_allocate_json_is_one_object(run_cli, tmp_path):
    log = tmp_path / "log.jsonl"
    result = run_cli("bedside", "allocate", EXAMPLE, "--json", "--no-price", "--no-protocols",
                     "--log", log)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mode"] == "horizon" and data["policy"]["approved_by"]
    assert data["summary"]["certified"] is True
    assert log.is_file()


def test_a_log_path_that_is_not_a_regular_file_is_refused(tmp_path):
    """A device or a folder is never replaced by a log (nothing is written)."""
    from optimiser.bedside.log import check_log_path
    from optimiser.errors import InputError

    for path in (Path("/dev/null"), tmp_path):
        with pytest.raises(InputError, match="not a regular file"):
            check_log_path(path)


@pytest.mark.slow
def test_replay_of_a_log_whose_inputs_changed_exits_2(run_cli, tmp_path):
    case = tmp_path / "case"
    shutil.copytree(EXAMPLE, case)
    out = tmp_path / "out"
    assert run_cli("bedside", "allocate", case, "--out", out, "--no-price",
                   "--no-protocols").returncode == 0
    (case / "policy.toml").write_text((case / "policy.toml").read_text() + "\n# edited\n")
    result = run_cli("bedside", "replay", out / "decision_log.jsonl")
    assert result.returncode == 2
    assert "does not match its inputs" in result.stderr and "policy.toml" in result.stderr


@pytest.mark.slow
def test_validate_and_generate(run_cli, tmp_path):
    ok = run_cli("bedside", "validate", EXAMPLE)
    assert ok.returncode == 0 and ok.stdout.startswith("ok: 300 patients")
    out = tmp_path / "gen"
    made = run_cli("bedside", "generate", "--out", out, "--patients", "20", "--seed", "3")
    assert made.returncode == 0, made.stderr
    frame = pd.read_csv(out / "patients.csv")
    assert len(frame) == 20 and "survival_with" not in frame.columns
    bad = run_cli("bedside", "generate", "--out", tmp_path / "x", "--patients", "0")
    assert bad.returncode == 2 and "--patients: " in bad.stderr


def test_shipped_example_is_its_generator_output(tmp_path):
    """patients.csv is exactly what its recorded generator and seed produce."""
    from optimiser.bedside.generator import CohortSpec, generate, write_patients

    scratch = tmp_path / "patients.csv"
    write_patients(generate(CohortSpec(patients=300, days=30, seed=2020)), scratch,
                   with_survival=False)
    assert scratch.read_text() == (EXAMPLE / "patients.csv").read_text()


def test_compare_in_process_is_deterministic_and_has_groups():
    inputs = load_inputs(EXAMPLE)
    spec = CompareSpec(replications=3, seed=4, patients=120)
    first = compare(inputs, spec, workers=1, progress=False)
    again = compare(inputs, spec, workers=1, progress=False)
    pd.testing.assert_frame_equal(first.summary, again.summary)
    protocols = set(first.summary["protocol"])
    assert protocols == {"fcfs", "lottery", "ny2015_tiers", "pittsburgh_points", "rapr",
                         "max_life_years", "offline_optimum"}
    lives = first.summary[first.summary["metric"] == "lives_gained"].set_index(
        ["protocol", "reserves"])["mean"]
    assert (lives <= lives["offline_optimum", False] + 1e-9).all()
    groups = set(first.groups["group"])
    assert groups == {"age_band", "sex", "ethnicity", "deprivation_decile"}
    shares = first.groups[first.groups["metric"] == "share_of_patients"]
    total = shares.groupby(["protocol", "reserves", "group"])["mean"].sum()
    assert total.to_numpy() == pytest.approx(1.0)


@pytest.mark.slow
def test_compare_on_two_processes_equals_one(run_cli, tmp_path):
    inputs = load_inputs(EXAMPLE)
    spec = CompareSpec(replications=6, seed=9, patients=150, chunk=2)
    one = compare(inputs, spec, workers=1, progress=False)
    two = compare(inputs, spec, workers=2, progress=False)
    pd.testing.assert_frame_equal(one.summary, two.summary)
    out = tmp_path / "cmp"
    result = run_cli("bedside", "compare", EXAMPLE, "--replications", "4", "--patients", "100",
                     "--workers", "2", "--out", out, "--no-progress")
    assert result.returncode == 0, result.stderr
    html = (out / "report.html").read_text()
    assert "<svg" in html and "Outcomes by age_band" in html and "95%" in html


def test_pool_adjacent_violators():
    assert pool_adjacent_violators([3.0, 1.0, 2.0]).tolist() == [3.0, 1.5, 1.5]
    values = [1.0, 2.0, 0.5, 0.7, 0.1]
    pooled = pool_adjacent_violators(values)
    assert (pooled[:-1] >= pooled[1:] - 1e-12).all()
    assert pooled.sum() == pytest.approx(sum(values))


@pytest.mark.slow
def test_curve_changes_the_regional_allocation(tmp_path):
    """The shipped example: the flat regional model sends all 20 units to H1; with the
    bedside curves as tiers, the allocation changes and saves more lives under the curves."""
    out = tmp_path / "curves"
    curves, _ = curves_to_instance(load_inputs(EXAMPLE), REGIONAL, out)
    for curve in curves:
        assert (curve.concave[:-1] >= curve.concave[1:] - 1e-12).all()
    with_curves = optimiser.load_instance(out)
    flat = optimiser.solve(optimiser.load_instance(REGIONAL))
    bent = optimiser.solve(with_curves)
    assert flat.allocation != bent.allocation
    flat_under_curves = optimiser.evaluate(with_curves, flat.allocation).lives_saved
    assert bent.lives_saved - flat_under_curves > 1.0
    # the regional lives of x units at a site equal the bedside curve L(x) (pooled)
    for curve in curves:
        x = bent.allocation[curve.site]
        assert bent.regions.loc[curve.site, "lives"] == pytest.approx(
            float(curve.concave[:x].sum()), rel=1e-6)
