"""Units from a units.csv, a plan's daily units on hand, or a regional result.json plus the
existing capacity; the weighted lottery; a resampled compare stream; compare on Dask."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bedside_cases import case

from optimiser.bedside import allocate, load_inputs
from optimiser.bedside.compare import CompareSpec, compare
from optimiser.bedside.scores import rank_patients

EXAMPLE = Path(__file__).resolve().parents[1] / "instances" / "bedside-synthetic"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "case"
    shutil.copytree(EXAMPLE, out)
    return out


def test_units_from_a_plan_daily_table(folder, tmp_path):
    plan = tmp_path / "plan"
    plan.mkdir()
    rows = [{"region": s, "day": d, "units_on_hand": u + 0.0000001, "demand": 1}
            for s, u in (("H1", 40), ("H2", 30), ("H3", 15)) for d in range(3)]
    pd.DataFrame(rows).to_csv(plan / "daily.csv", index=False)
    inputs = load_inputs(folder, units=plan)
    assert inputs.units.on_day("H2", 2) == 30
    reference = load_inputs(folder)
    a = allocate(inputs, price=False, protocols=False)
    b = allocate(reference, price=False, protocols=False)
    assert a.horizon["online"] <= b.horizon["online"] + 1e-9  # H3 lacks its day-14 delivery


def test_units_from_a_regional_result_and_existing_capacity(folder, tmp_path):
    result = tmp_path / "result.json"
    result.write_text(json.dumps({"allocation": {"H1": 4, "H2": 3, "H3": 2}}))
    existing = tmp_path / "existing.csv"
    existing.write_text("site,units\nH1,36\nH2,27\nH3,13\n")
    inputs = load_inputs(folder, units=result, existing=existing)
    assert [inputs.units.on_day(s, 0) for s in ("H1", "H2", "H3")] == [40, 30, 15]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"allocation": {"H1": -1}}))
    with pytest.raises(Exception, match="not a whole number"):
        load_inputs(folder, units=bad)


def test_weighted_lottery_favours_the_weighted_group():
    rows = [{"patient": f"p{i}", "survival_with": 0.5, "sofa": 9,
             "disadvantaged_area": i % 2 == 0} for i in range(400)]
    inputs = case(rows, 1, priority="ny2015_tiers", categories=["disadvantaged_area"],
                  tie_break={"method": "weighted_lottery", "seed": 3,
                             "weights": {"disadvantaged_area": 3.0}})
    ranking = rank_patients(inputs.cohort.patients, inputs.policy)
    top = np.argsort(ranking.rank)[:100]
    weighted = inputs.cohort.patients["disadvantaged_area"].to_numpy()[top].mean()
    assert weighted > 0.65  # 3:1 weights: about 3/4 of the first places
    assert ranking.components[0]["lottery_weight"] == 3.0


def test_compare_on_a_resampled_stream():
    inputs = load_inputs(EXAMPLE)
    result = compare(inputs, CompareSpec(replications=2, stream="resample", patients=80),
                     workers=1, progress=False)
    assert set(result.summary["n"]) == {2}
    assert "offline_optimum" in set(result.summary["protocol"])


@pytest.mark.slow
def test_compare_on_a_dask_cluster_equals_local_processes():
    distributed = pytest.importorskip("distributed")
    inputs = load_inputs(EXAMPLE)
    spec = CompareSpec(replications=4, seed=2, patients=60, chunk=1)
    local = compare(inputs, spec, workers=1, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        on_dask = compare(inputs, spec, scheduler=cluster, progress=False)
    pd.testing.assert_frame_equal(local.summary, on_dask.summary)
