"""Patients moved are split across lanes exactly (extract.py, `split_cohorts`).

A region-day's cohorts sent (o) and the lanes they leave on (z) are each written floored to 9
decimals, column by column, so the two sums can differ by a few 10^-9. The split matched the
floored amounts and gave the last lane the remainder: the manifest said "move 1.000000001
patients" (30 x 30, generator seed 2, waiting 1 day, patient transfers, 30 s), and on the same
instance without a time limit "move 0.333333335 patients" R022 -> R026 on day 13 (the lane
moved 1/3). Now the cohorts are matched to the lanes on the solver's amounts and each cohort's
pieces are rounded by largest remainder to the cohort as written: every row is its piece
rounded (within 10^-9), and each cohort's rows sum exactly to it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from optimiser.deadline import Deadline
from optimiser.multiperiod import (
    GeneratorSpec,
    PlanEngine,
    check_plan,
    generate,
    load_multiperiod,
    plan,
)
from optimiser.multiperiod.engine import ABS_GAP
from optimiser.multiperiod.extract import extract, split_cohorts
from optimiser.multiperiod.methods.base import clean_values
from optimiser.solver import SolverOptions

NANO = 10**9


@pytest.fixture(scope="module")
def seed2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = GeneratorSpec(
        regions=30, days=30, depots=1, seed=2, max_wait_days=1, patient_transfers=True
    )
    return generate(spec, tmp_path_factory.mktemp("seed2") / "g30x30")


def test_by_hand() -> None:
    """A cohort of 1.333333333 patients leaving on two lanes that moved 0.3333333327 and
    1.0000000003 (floored: 0.333333332 and 1): the old split matched the floored amounts and
    wrote 0.333333332 and 1.000000001; the pieces rounded are 0.333333333 and 1."""
    rows = split_cohorts(
        [(5.0, 1.333333333, 1_333_333_333)], [(1, 0.3333333327), (2, 1.0000000003)]
    )
    assert rows == [(5.0, 1, 333_333_333), (5.0, 2, 1_000_000_000)]
    # one cohort of 8 over three lanes of 5.513888..., 2.152777... and 1/3 (the seed-2 case):
    # the lanes floored sum to 7.999999998; the pieces round to the cohort's 8 exactly
    rows = split_cohorts(
        [(12.0, 8.0, 8 * NANO)],
        [(8, 5.51388888888888), (11, 2.1527777777777857), (25, 0.3333333333333339)],
    )
    assert rows == [(12.0, 8, 5_513_888_889), (12.0, 11, 2_152_777_778), (12.0, 25, 333_333_333)]
    # two cohorts sharing a lane: each sums to itself; the lane's rows are its pieces rounded
    rows = split_cohorts(
        [(3.0, 0.41666666666666785, 416_666_666), (4.0, 19.694444444444446, 19_694_444_444)],
        [(2, 0.11111111111111427), (16, 20.0)],
    )
    assert rows == [
        (3.0, 2, 111_111_111),
        (3.0, 16, 305_555_555),
        (4.0, 16, 19_694_444_444),
    ]


def test_the_rows_sum_to_each_cohort_and_round_each_lane(seed2: Path) -> None:
    """The engine's plan (unconstrained, no time limit): per cohort the rows sum exactly to the
    cohort as written; per lane they are within 10^-9 a row of what the lane moved (the old
    split: 0.333333335 for a lane of 1/3)."""
    inst = load_multiperiod(seed2)
    engine = PlanEngine(inst, (), SolverOptions(mip_abs_gap=ABS_GAP))
    out = engine.settle_patients(engine.solve(()), (), Deadline(None))
    assert out.values is not None
    p, d = engine.model, engine.data
    x = clean_values(p, out.values)
    rows = extract(engine, out.values)["movement"]
    rows = rows[rows["kind"] == "patients"]
    assert len(rows) > 50
    regions = list(d.regions)
    cohorts: dict[tuple[str, int, float], int] = defaultdict(int)
    for g, s, c in zip(p.send.group, p.send.day, p.send.cols, strict=True):
        if x[c] > 0:
            key = (regions[d.group_region[g]], int(s), float(d.group_day[g]))
            cohorts[key] += round(x[c] * NANO)
    lanes: dict[tuple[str, int, str], float] = defaultdict(float)
    for b, day, c in zip(p.ptransfer.lane, p.ptransfer.day, p.ptransfer.cols, strict=True):
        if out.values[c] > 0:
            lanes[(regions[d.pt_src[b]], int(day), regions[d.pt_dst[b]])] += out.values[c]
    written: dict[tuple[str, int, float], int] = defaultdict(int)
    per_lane: dict[tuple[str, int, str], list[float]] = defaultdict(list)
    for row in rows.itertuples():
        amount = round(row.units * NANO)
        assert abs(row.units * NANO - amount) < 1e-3, row  # 9 decimals, nothing below
        written[(row.src, int(row.day), float(row.cohort_day))] += amount
        per_lane[(row.src, int(row.day), row.dst)].append(row.units)
    assert dict(written) == dict(cohorts)
    assert set(per_lane) <= set(lanes)
    for lane, units in per_lane.items():
        assert abs(sum(units) - lanes[lane]) < len(units) / NANO, (lane, units, lanes[lane])


def test_check_plan_replays_the_split(seed2: Path) -> None:
    """The planner's answer, replayed through check-plan: no rule broken, the same survivors;
    the rows leaving each region a day sum to what the daily table says it sent."""
    inst = load_multiperiod(seed2)
    result = plan(inst, price_of_fairness=False)
    check = check_plan(inst, result)
    assert [v["message"] for v in check.violations] == []
    assert check.survivors == pytest.approx(result.lives_saved, abs=1e-6)
    moved = result.plan[result.plan["kind"] == "patients"]
    units = moved["units"].astype(float).to_numpy()
    assert len(units) and np.all(np.abs(units * NANO - np.round(units * NANO)) < 1e-3)
    sent = moved.assign(units=units).groupby(["from", "day"])["units"].sum()
    daily = result.daily.set_index(["region", "day"])["sent_out"]
    np.testing.assert_allclose(sent.to_numpy(), daily.reindex(sent.index).to_numpy(), atol=1e-9)
