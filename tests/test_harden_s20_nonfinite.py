"""NaN and +-inf in every result's JSON: null, never a crash and never `NaN`/`Infinity` (which
no JSON reader but Python's accepts). One encoder serves every result (optimiser.json_values).

Through the CLI: a HiGHS that stops before proving a bound (harden_nobound: what HiGHS
answers when its time limit passes before the first dual bound) must give valid JSON whose
unproven bounds are null, read back by from_dict. For every result type: non-finite values put
into its free-form tables (solver, model_size, settings, info, summary, ...) and its figures
are null in the JSON, which from_dict reads back to the same JSON."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import harden_nobound
import numpy as np
import pandas as pd
import pytest
from test_saa import hedge, run

import optimiser
from optimiser.json_values import json_number, json_ready
from optimiser.multiperiod import check_plan, plan
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.results import CheckResult, PlanResult
from optimiser.results import AllocationResult
from optimiser.scenarios import evaluate, write_scenarios
from optimiser.scenarios.evaluate import Evaluation
from optimiser.scenarios.model import ScenarioSet
from optimiser.stochastic import SaaResult, StochasticResult, plan_under_uncertainty, saa

ROOT = Path(__file__).resolve().parents[1]

# every kind of non-finite number a result can hold, nested as free-form tables nest them
PROBE: dict[str, Any] = {
    "inf": math.inf,
    "minus_inf": -math.inf,
    "nan": math.nan,
    "numpy_inf": np.float64("inf"),
    "numpy_nan": np.float32("nan"),
    "finite": np.float64(1.25),
    "count": np.int64(3),
    "nested": {"list": [math.nan, 0.5, -np.inf], "array": np.array([np.nan, 2.0]), "ok": True},
}
PROBE_JSON: dict[str, Any] = {
    "inf": None,
    "minus_inf": None,
    "nan": None,
    "numpy_inf": None,
    "numpy_nan": None,
    "finite": 1.25,
    "count": 3,
    "nested": {"list": [None, 0.5, None], "array": [None, 2.0], "ok": True},
}


def _refuse(token: str) -> None:
    raise AssertionError(f"{token} is not JSON")


def strict(text: str) -> Any:
    """JSON as any reader takes it: NaN, Infinity and -Infinity are refused."""
    return json.loads(text, parse_constant=_refuse)


def written(result: Any) -> dict[str, Any]:
    """The result's JSON (as json.dumps(allow_nan=False) writes it), read back strictly; and
    from_dict reads it back to the same JSON."""
    data = strict(json.dumps(result.to_dict(), allow_nan=False))
    assert type(result).from_dict(data).to_dict() == data
    return data


def test_json_number_and_json_ready_are_the_one_encoding() -> None:
    assert json_ready(PROBE) == PROBE_JSON
    assert json_ready({1: (np.float64(0.1234567891234), {np.nan})}) == {"1": [0.123456789, [None]]}
    assert json_number(pd.NA) is None and json_number(np.bool_(True)) is True
    assert json_number(math.inf) is None and json_number(2.5e-10) == 0.0
    assert json_number("inf") == "inf" and json_number(None) is None
    # what the user gave is kept to the last bit; non-finite is null all the same
    assert json_ready({"tau": 1 / 3, "cap": math.inf}, digits=None) == {"tau": 1 / 3, "cap": None}


# --- through the CLI, with a HiGHS that proves no bound ---------------------------------------


@pytest.fixture
def no_proven_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    harden_nobound.install(monkeypatch)


def test_cli_solve_json_with_no_proven_bound(
    no_proven_bound: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # the threshold rule makes the allocation a MIP: HiGHS stops with a plan and no bound
    code, out, err = run(
        ["solve", str(ROOT / "instances" / "pugh2021"), "-c", "threshold:tau=0.2", "--json"],
        capsys,
    )
    assert code == 0, err
    data = strict(out)
    assert data["status"] == "time_limit" and data["lives_saved"] is not None
    assert data["lives_saved_bound"] is None  # +inf: no finite bound proven
    assert AllocationResult.from_dict(data).to_dict() == data


@pytest.fixture
def hedge_dirs(tmp_path: Path) -> tuple[Path, Path, MultiPeriodInstance, ScenarioSet]:
    folder, inst, dist = hedge(tmp_path)
    (tmp_path / "dist").mkdir()
    write_scenarios(dist, tmp_path / "dist")
    return folder, tmp_path / "dist", inst, dist


def test_cli_stochastic_plan_json_with_no_proven_bound(
    no_proven_bound: None, hedge_dirs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, dist, _, _ = hedge_dirs
    args = ["plan", str(folder), "--scenarios", str(dist), "--commit-days", "1", "--json"]
    code, out, err = run(args, capsys)
    assert code == 0, err
    data = strict(out)
    assert data["status"] == "time_limit" and data["expected_lives"] is not None
    assert data["lives_bound"] is None and data["solver"]["bound"] is None
    assert StochasticResult.from_dict(data).to_dict() == data


def test_cli_saa_json_with_no_proven_bound(
    no_proven_bound: None, hedge_dirs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A replication's bound HiGHS did not prove is +inf: the upper bound and every gap bound
    are null (not proven), never a NaN read as a closed gap (max(0, NaN) was 0)."""
    folder, dist, _, _ = hedge_dirs
    args = ["scenarios", "saa", str(folder), "--scenarios", str(dist), "-M", "2", "-N", "2",
            "--evaluate-on", "4", "--commit-days", "1", "--workers", "1"]  # fmt: skip
    code, out, err = run([*args, "--json"], capsys)
    assert code == 0, err
    data = strict(out)
    for name in ("upper_bound", "upper_bound_high", "gap", "gap_high", "gap_high_from_bounds"):
        assert data[name] is None, name
    assert data["kind"] == "saa" and data["status"] == "done"
    assert data["lower_bound"] is not None  # the candidate's lives out of sample: finite
    assert all(row["bound"] is None for row in data["per_replication"])
    back = SaaResult.from_dict(data)
    assert math.isnan(back.upper_bound) and back.to_dict() == data
    code, out, err = run(args, capsys)
    assert code == 0 and "not proven" in out and "nan" not in out and "inf" not in out, out
    assert "RuntimeWarning" not in err, err


# --- every result type: its free-form tables and figures --------------------------------------


def test_allocation_result(pugh: optimiser.Instance) -> None:
    result = optimiser.solve(pugh, constraints=["min_units:units=1"])
    assert result.solver is not None
    data = written(
        dataclasses.replace(
            result,
            solver=dataclasses.replace(result.solver, gap=math.inf),
            lives_saved_bound=math.inf,
            lives_optimal_bound=math.nan,
            timings={"solve": math.nan},
        )
    )
    assert data["solver"]["gap"] is None and data["lives_saved_bound"] is None
    assert data["lives_optimal_bound"] is None and data["timings"]["solve"] is None


@pytest.fixture(scope="module")
def hedge_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[MultiPeriodInstance, ScenarioSet, PlanResult]:
    _, inst, dist = hedge(tmp_path_factory.mktemp("hedge"))
    return inst, dist, plan(inst)


def test_plan_and_check_results(hedge_results: Any) -> None:
    inst, _, result = hedge_results
    assert result.solver is not None
    data = written(
        dataclasses.replace(
            result,
            solver=dataclasses.replace(result.solver, gap=math.inf),
            objective_bound=math.inf,
            sizes={**result.sizes, "probe": PROBE},
            settings={**result.settings, "probe": PROBE},
        )
    )
    assert data["solver"]["gap"] is None and data["objective_bound"] is None
    assert data["model_size"]["probe"] == PROBE_JSON and data["settings"]["probe"] == PROBE_JSON
    check = check_plan(inst, result)
    broken = [{"rule": "probe", "day": 0, "line": None, "message": "m", "excess": math.inf}]
    data = written(dataclasses.replace(check, violations=broken, settings={"probe": PROBE}))
    assert data["violations"][0]["excess"] is None and data["settings"]["probe"] == PROBE_JSON
    assert CheckResult.from_dict(data).violations[0]["excess"] is None


def test_stochastic_saa_and_evaluation_results(hedge_results: Any) -> None:
    inst, dist, result = hedge_results
    stochastic = plan_under_uncertainty(inst, dist, commit_days=1, price_of_fairness=False)
    data = written(
        dataclasses.replace(
            stochastic,
            solver={**stochastic.solver, "bound": math.inf, "probe": PROBE},
            sizes={"probe": PROBE},
            settings={"probe": PROBE},
            scenario_info={**stochastic.scenario_info, "probe": PROBE},
        )
    )
    assert data["solver"]["bound"] is None and data["solver"]["probe"] == PROBE_JSON
    assert data["model_size"]["probe"] == data["scenario_set"]["probe"] == PROBE_JSON
    bounds = saa(inst, dist, replications=2, sample_size=2, evaluation_size=4, commit_days=1,
                 workers=1)  # fmt: skip
    table = bounds.per_replication.copy()
    table["bound"] = math.inf
    data = written(
        dataclasses.replace(
            bounds,
            upper_bound=math.inf,
            gap_high=math.nan,
            per_replication=table,
            info={**bounds.info, "probe": PROBE},
        )
    )
    assert data["upper_bound"] is None and data["gap_high"] is None
    assert data["per_replication"][0]["bound"] is None and data["info"]["probe"] == PROBE_JSON
    evaluation = evaluate(inst, result, dist)
    data = written(dataclasses.replace(evaluation, info={"probe": PROBE}))
    assert data["info"]["probe"] == PROBE_JSON
    scenarios = strict(json.dumps(dataclasses.replace(dist, info={"probe": PROBE}).to_dict(),
                                  allow_nan=False))  # fmt: skip
    assert scenarios["info"]["probe"] == PROBE_JSON
    assert isinstance(Evaluation.from_dict(data), Evaluation)


def test_backtest_result(tmp_path: Path) -> None:
    from test_backtest import write_backtest

    from optimiser.backtest import backtest

    result = backtest(write_backtest(tmp_path / "tiny"), policies=["none", "mean"],
                      commit_days=7, forecast="fc")  # fmt: skip
    data = written(dataclasses.replace(result, info={**result.info, "probe": PROBE}))
    assert data["info"]["probe"] == PROBE_JSON


def test_bedside_results() -> None:
    from optimiser.bedside import allocate, load_inputs
    from optimiser.bedside.compare import CompareResult

    result = allocate(load_inputs(ROOT / "instances" / "bedside-snapshot"), price=False,
                      protocols=False)  # fmt: skip
    data = written(
        dataclasses.replace(
            result,
            solver={**result.solver, "bound": math.inf},
            summary={**result.summary, "probe": PROBE},
            horizon={"probe": PROBE},
            inputs={**result.inputs, "probe": PROBE},
            timings={"solve": math.inf},
        )
    )
    assert data["solver"]["bound"] is None and data["summary"]["probe"] == PROBE_JSON
    assert data["horizon"]["probe"] == data["inputs"]["probe"] == PROBE_JSON
    empty = CompareResult.from_dict({})
    data = written(dataclasses.replace(empty, spec={"probe": PROBE}, timings={"x": math.nan}))
    assert data["spec"]["probe"] == PROBE_JSON and data["timings"]["x"] is None


def test_stochastic_comparison() -> None:
    from optimiser.stochastic.compare import Comparison

    empty = Comparison.from_dict(
        {"candidates": [], "in_sample": True, "alpha": 0.1, "commit_days": 1}
    )
    data = written(dataclasses.replace(empty, vss=math.inf, evpi=math.nan, info={"probe": PROBE}))
    assert data["vss"] is None and data["evpi"] is None and data["info"]["probe"] == PROBE_JSON
