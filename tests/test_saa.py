"""Sample-average approximation (optimiser/stochastic/saa.py) on a discrete distribution small
enough that the true two-stage optimum is known exactly: by hand, and by the extensive form on
every scenario of the distribution. The SAA bounds must bracket it, the candidate's exact value
(computed by hand from its commit) must not exceed it, and the same seed gives the same answer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_multiperiod_support import write_instance

from optimiser.cli import main
from optimiser.errors import InputError
from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios import make_scenario_set, write_scenarios
from optimiser.scenarios.model import ScenarioSet
from optimiser.stochastic import plan_under_uncertainty
from optimiser.stochastic.replications import SaaResult, recourse_lives, saa, seeds

TOL = 0.011  # every optimum is proved within 0.005 lives of its bound


def hedge(tmp_path: Path) -> tuple[Path, MultiPeriodInstance, ScenarioSet]:
    """2 regions x 3 days, 2 units at the depot on day 0 (the commit), one day to either
    region; patients arrive on day 1 and cannot wait. s1 (p 0.4): 2 patients in A (gain 1.0);
    s2 (p 0.6): 1 patient in B (gain 0.8). Ship (a, b), a + b = 2: E = 0.4 min(a, 2) + 0.48
    min(b, 1): (2, 0) 0.8, (1, 1) 0.88, (0, 2) 0.48. The true optimum z* = 0.88."""
    folder = write_instance(
        tmp_path / "hedge",
        [
            {"region": "A", "capacity": 0, "los_days": 2},
            {"region": "B", "capacity": 0, "los_days": 2, "survival_with": 0.8},
        ],
        {"A": [0, 1, 0], "B": [0, 0.5, 0]},
        deliveries=[(0, 2, "D")],
        leads=[("D", "A", 1), ("D", "B", 1)],
        multiperiod={"transfers": False},
    )
    inst = load_multiperiod(folder)
    cube = np.array([[[0, 2, 0], [0, 0, 0]], [[0, 0, 0], [0, 1, 0]]], dtype=float)
    return folder, inst, make_scenario_set(inst, cube, ["s1", "s2"], [0.4, 0.6], sampled=False)


def exact_value(result: SaaResult) -> float:
    """The candidate's true expected lives, by hand from its commit."""
    rows = result.committed
    a = float(rows.loc[rows["to"] == "A", "units"].sum())
    b = float(rows.loc[rows["to"] == "B", "units"].sum())
    return 0.4 * min(a, 2.0) + 0.6 * 0.8 * min(b, 1.0)


def test_saa_bounds_bracket_the_exact_optimum(tmp_path: Path) -> None:
    _, inst, dist = hedge(tmp_path)
    true = plan_under_uncertainty(inst, dist, commit_days=1, price_of_fairness=False)
    assert true.expected_lives == pytest.approx(0.88, abs=1e-6)  # all scenarios enumerated
    z = true.expected_lives
    result = saa(
        inst,
        dist,
        replications=6,
        sample_size=3,
        evaluation_size=60,
        seed=7,
        commit_days=1,
        workers=1,
    )
    candidate = exact_value(result)
    assert result.upper_bound_high >= result.upper_bound >= result.lower_bound - 1.0
    assert result.lower_bound_low <= result.lower_bound and result.gap_high >= result.gap
    assert result.upper_bound_high >= z - TOL
    assert z + TOL >= candidate
    assert result.lower_bound_low <= candidate + TOL
    assert result.gap >= -TOL
    assert result.gap_high >= z - candidate - TOL
    # seed 7: the candidate ships (2, 0), exact value 0.8, true gap 0.08; both gap bounds
    # must cover it (the old estimator, with the candidate's own G ~ 0 in the mean, gave 0.1)
    assert candidate == pytest.approx(0.8) and result.gap_high_from == "crn"
    assert result.gap_high >= 0.08 - TOL and result.gap_high_from_bounds >= 0.08 - TOL
    table = result.per_replication
    others = table[table.index != result.candidate]
    assert result.gap == pytest.approx(float((others["bound"] - others["candidate_value"]).mean()))
    assert result.gap == pytest.approx(0.12, abs=TOL)
    assert (table["gap"] >= -TOL).all()  # MMW: the candidate is feasible in every SAA problem
    # the candidate scored on its own replication's sample is that replication's optimum
    own = table.loc[result.candidate]
    assert own["candidate_value"] == pytest.approx(own["value"], abs=TOL)
    assert table["selection"].max() == own["selection"]
    assert table["seed"].nunique() == 6 and table["value"].nunique() > 1  # independent draws
    # the recourse that scores a commit, over the whole distribution, is the hand value
    lives, relaxed = recourse_lives(inst, result.committed, 1, dist, [], True)
    assert float(np.dot(lives, dist.probability)) == pytest.approx(candidate, abs=TOL)
    assert relaxed == 0 and result.recourse_without_fairness == 0


def test_saa_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    _, inst, dist = hedge(tmp_path)
    kwargs = dict(replications=3, sample_size=2, evaluation_size=8, seed=11, commit_days=1)
    first = saa(inst, dist, workers=1, **kwargs)  # type: ignore[arg-type]
    again = saa(inst, dist, workers=2, **kwargs)  # type: ignore[arg-type]  # on processes
    assert first.to_dict() == again.to_dict()
    other = saa(inst, dist, workers=1, **{**kwargs, "seed": 12})  # type: ignore[arg-type]
    assert other.per_replication["seed"].tolist() != first.per_replication["seed"].tolist()
    back = SaaResult.from_dict(json.loads(first.to_json()))
    assert back.to_dict() == first.to_dict()
    assert seeds(11, 3) == seeds(11, 3) and len(set(seeds(11, 5))) == 5


def test_saa_gap_leaves_the_candidates_replication_out(tmp_path: Path) -> None:
    """MMW's gap needs x^ independent of the samples it is scored on; x^ is one replication's
    own optimum, so that replication (G ~ 0, its MIP gap only) is left out of the gap."""
    from scipy.stats import t

    _, inst, dist = hedge(tmp_path)
    kwargs = dict(sample_size=3, evaluation_size=60, seed=7, commit_days=1, workers=1)
    result = saa(inst, dist, replications=3, **kwargs)  # type: ignore[arg-type]
    table = result.per_replication
    assert table["in_gap"].tolist() == [r != result.candidate for r in table.index]
    assert not table.loc[result.candidate, "in_gap"]
    assert "optimised on this sample" in table.loc[result.candidate, "note"]
    others = table[table.index != result.candidate]
    terms = (others["bound"] - others["candidate_value"]).to_numpy()
    assert len(terms) == 2 and terms.max() > TOL  # the two replications differ here
    assert result.gap == pytest.approx(terms.mean(), abs=1e-9)
    half = t.ppf(0.95, 1) * np.std(terms, ddof=1) / np.sqrt(2)
    assert result.gap_high == pytest.approx(terms.mean() + half, abs=1e-9)
    assert result.gap_high_from == "crn" and "other than" in result.info["gap_high"]
    # the bound from the two one-sided bounds, each at (1 + 0.95) / 2, by hand
    bounds = table["bound"].to_numpy()
    upper_high = bounds.mean() + t.ppf(0.975, 2) * np.std(bounds, ddof=1) / np.sqrt(3)
    ratio = t.ppf(0.975, 59) / t.ppf(0.95, 59)  # the lower bound's half-width at 97.5%
    lower_low = result.lower_bound - (result.lower_bound - result.lower_bound_low) * ratio
    spread = upper_high - lower_low
    assert result.gap_high_from_bounds == pytest.approx(max(0.0, spread), abs=1e-9)
    assert result.gap_high_from_bounds >= result.upper_bound_high - result.lower_bound_low
    assert exact_value(result) == pytest.approx(0.88)  # (1, 1): the true gap is 0
    assert result.gap_high >= -TOL and result.gap_high_from_bounds >= -TOL
    back = SaaResult.from_dict(json.loads(result.to_json()))
    assert back.to_dict() == result.to_dict()
    assert back.per_replication["in_gap"].tolist() == table["in_gap"].tolist()
    # M = 2: a single replication besides the candidate's, no variance: the bounds' gap
    two = saa(inst, dist, replications=2, **kwargs)  # type: ignore[arg-type]
    assert two.gap_high_from == "bounds" and two.gap_high == two.gap_high_from_bounds
    assert "no variance" in two.info["gap_high"]
    kept = two.per_replication[two.per_replication["in_gap"]]
    assert len(kept) == 1 and two.gap == pytest.approx(
        float(kept["bound"].iloc[0] - kept["candidate_value"].iloc[0]), abs=1e-9
    )


def test_saa_refuses_one_replication_and_bad_arguments(tmp_path: Path) -> None:
    _, inst, dist = hedge(tmp_path)
    with pytest.raises(InputError, match="at least two independent replications"):
        saa(inst, dist, replications=1, sample_size=3, evaluation_size=10, commit_days=1)
    with pytest.raises(InputError) as info:
        saa(inst, dist, replications=2, sample_size=0, evaluation_size=1, confidence=1.5)
    text = " ".join(str(p) for p in info.value.problems)
    assert "sample" in text and "evaluate-on" in text and "confidence" in text


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_saa(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder, _, dist = hedge(tmp_path)
    (tmp_path / "dist").mkdir()
    write_scenarios(dist, tmp_path / "dist")
    args = [
        "scenarios",
        "saa",
        str(folder),
        "--scenarios",
        str(tmp_path / "dist"),
        "--replications",
        "3",
        "--sample",
        "2",
        "--evaluate-on",
        "6",
        "--seed",
        "5",
        "--commit-days",
        "1",
        "--workers",
        "1",
    ]
    code, out, err = run([*args, "--json"], capsys)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["replications"] == 3 and payload["evaluation_size"] == 6
    assert payload["gap_high_from"] == "crn" and payload["gap_high_from_bounds"] >= 0
    assert [r["in_gap"] for r in payload["per_replication"]].count(False) == 1
    assert SaaResult.from_dict(payload).to_dict() == payload
    code, out, err = run(args, capsys)
    assert code == 0 and "upper bound" in out, err
    code, _, err = run([*args[:6], "1", *args[7:]], capsys)
    assert code == 2 and "at least two" in err
    code, out, err = run([*args[:6], "2", *args[7:]], capsys)  # the explained fallback
    assert code == 0 and "from the two bounds" in out and "no variance estimate" in out, err
    code, out, err = run([*args[:6], "2", *args[7:], "--json"], capsys)
    assert code == 0 and json.loads(out)["gap_high_from"] == "bounds", err
    code, out, err = run([*args, "--confidence", "2"], capsys)
    assert code == 2 and "confidence" in err and not out
    assert run(["scenarios", "saa", str(tmp_path / "nowhere"), "--sample", "2"], capsys)[0] == 2
    code, _, err = run([*args, "--method", "lognormal"], capsys)
    assert code == 2 and "not both" in err
    code, _, err = run([*args[:3], "--sample", "2", "--commit-days", "1"], capsys)
    assert code == 2 and "[uncertainty]" in err  # no source: the instance has no table
    out = tmp_path / "saa-out"
    code, _, err = run([*args, "--out", str(out)], capsys)
    assert code == 0, err
    saved = SaaResult.from_dict(json.loads((out / "saa.json").read_text()))
    assert saved.to_dict() == payload  # same seed, same answer, through the CLI too
    assert len(pd.read_csv(out / "replications.csv")) == 3
    committed = pd.read_csv(out / "committed.csv")
    assert committed["units"].tolist() == [r["units"] for r in payload["committed"]]
    assert set(committed["to"]) <= {"A", "B"} and (committed["day"] == 0).all()


@pytest.mark.slow  # starts a Dask cluster
def test_saa_on_a_dask_cluster_gives_the_same_answer(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    _, inst, dist = hedge(tmp_path)
    kwargs = dict(replications=2, sample_size=2, evaluation_size=6, seed=3, commit_days=1)
    alone = saa(inst, dist, workers=1, **kwargs)  # type: ignore[arg-type]
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        remote = saa(inst, dist, scheduler=client, **kwargs)  # type: ignore[arg-type]
    assert remote.to_dict() == alone.to_dict()


def test_cli_saa_infeasible_replication_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from optimiser.multiperiod import GeneratorSpec, generate

    folder = generate(GeneratorSpec(regions=3, days=10, seed=3), tmp_path / "small")
    args = [
        "scenarios",
        "saa",
        str(folder),
        "--method",
        "lognormal",
        "-M",
        "2",
        "-N",
        "2",
        "--evaluate-on",
        "4",
        "--commit-days",
        "3",
        "--workers",
        "1",
    ]
    code, out, err = run(
        [*args, "-c", "min_units:units=100000", "--out", str(tmp_path / "o")], capsys
    )
    assert code == 3 and "min_units" in err and "infeasible" in err and not out
    assert not (tmp_path / "o").exists()
