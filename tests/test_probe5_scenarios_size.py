"""Probe 5: a scenario set too large to draw. Failed on main 98e5f6b: `triage scenarios
generate instances/us-states-apr2020 --scenarios 100000` (the documented most) drew 235
million values: 20 GB of memory after two minutes on a 24 GB machine, still running (and a
set past about 25,000 scenarios of that instance writes a scenarios.csv every reader refuses
as too large). `triage scenarios saa --evaluate-on 100000` drew the same. Now refused at once,
naming the option and how many scenarios fit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimiser.errors import InputError
from optimiser.multiperiod import load_multiperiod
from optimiser.scenarios import LognormalSpec, lognormal_scenarios
from optimiser.scenarios.generators import MAX_VALUES, check_size

REPO = Path(__file__).resolve().parents[1]
APRIL = REPO / "instances" / "us-states-apr2020"
TOO_MANY = ("100,000 scenarios x 50 regions x 47 days = 235,000,000 values, more than "
            "20,000,000 (about 100 bytes of memory each while drawing): at most 8,510 "
            "scenarios here")


def test_generate_refuses_a_set_too_large_to_draw(tmp_path, run_cli):
    out = tmp_path / "scenarios"
    run = run_cli("scenarios", "generate", APRIL, "--method", "lognormal", "--scenarios",
                  "100000", "--out", out, timeout=60)
    assert run.returncode == 2, run.stderr
    assert f"error: --scenarios: {TOO_MANY}" in run.stderr, run.stderr
    assert not out.exists()


def test_saa_names_the_sample_that_is_too_large(run_cli):
    run = run_cli("scenarios", "saa", APRIL, "--method", "lognormal", "-M", "2", "-N", "5",
                  "--evaluate-on", "100000", "--workers", "1", "--no-progress", timeout=60)
    assert run.returncode == 2, run.stderr
    assert f"error: --evaluate-on: {TOO_MANY}" in run.stderr, run.stderr


def test_the_bound_is_the_values_drawn():
    instance = load_multiperiod(APRIL)
    fits = MAX_VALUES // (50 * 47)
    check_size(instance, fits)  # the largest set that fits is drawn
    with pytest.raises(InputError, match=f"at most {fits:,} scenarios here"):
        check_size(instance, fits + 1)
    with pytest.raises(InputError, match="more than 20,000,000"):
        lognormal_scenarios(instance, LognormalSpec(scenarios=fits + 1, seed=1))
