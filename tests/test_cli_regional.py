"""`triage solve | compare | validate | evaluate` through real subprocesses (`python -m optimiser`).

Independent commands run two at a time in one module fixture; each test then checks one run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tolerances import approx_lives, lives_tol

import optimiser
from optimiser.cli.common import OUTPUT_MARKER, write_outputs
from optimiser.errors import EXIT_INFEASIBLE, EXIT_INPUT, InputError

PUGH = "instances/pugh2021"
FAIR = ["-c", "per_capita_floor:share=0.6", "-c", "min_units:units=150"]
GAP = ["-c", "max_coverage_gap:gap=0.2"]


def run(
    repo: Path, args: list[str], exe: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    return subprocess.run(
        [*(exe or [sys.executable, "-m", "optimiser"]), *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cli")
    previous = base / "previous"  # an earlier output that a failing run must leave alone
    previous.mkdir()
    (previous / OUTPUT_MARKER).write_text("")
    (previous / "allocation.csv").write_text("region,units\nA,1\n")
    foreign = base / "foreign"  # a folder of the user's own files: never replaced
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    return base


@pytest.fixture(scope="module")
def runs(repo: Path, work: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    triage = Path(sys.executable).with_name("triage")
    commands: dict[str, tuple[list[str], list[str] | None]] = {
        "solve_text": (["solve", PUGH, *FAIR], None),
        "solve_json": (["solve", PUGH, "--json", *FAIR], None),
        "solve_out": (["solve", PUGH, "--json", "--out", str(work / "result"), *GAP], None),
        "solve_infeasible": (
            ["solve", PUGH, "-c", "coverage_floor:level=0.5", "--out", str(work / "never")],
            None,
        ),
        "solve_infeasible_json": (
            [
                "solve",
                PUGH,
                "--json",
                "-c",
                "coverage_floor:level=0.5",
                "--out",
                str(work / "previous"),
            ],
            None,
        ),
        "solve_bad_out": (["solve", PUGH, "--out", str(work / "foreign")], None),
        "solve_bad_input": (["solve", "instances/no-such", "--out", str(work / "never2")], None),
        "compare_json": (["compare", PUGH, "--json"], None),
        "compare_text": (["compare", PUGH, "-c", "min_units:units=150"], None),
        "compare_us": (["compare", "instances/us-states-2020", "--json"], None),
        "script_help": (["--help"], [str(triage)]),
        "usage_error": (["solve", PUGH, "--supply", "10.5"], None),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            name: pool.submit(run, repo, args, exe) for name, (args, exe) in commands.items()
        }
        return {name: f.result() for name, f in futures.items()}


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def test_solve_readable(runs) -> None:
    r = runs["solve_text"]
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "status optimal" in out
    assert "Expected extra survivors: 1,000.0" in out
    assert "national reserve" not in out  # said only when units are kept back
    assert out.index("Why: ") < out.index("\nA ")  # the explanation comes before the table
    assert "Price of fairness" in out and "min_units(units=150)" in out
    for region in "ABCD":
        assert f"\n{region} " in out
    no_traceback(r)


def test_solve_json_contract(runs, pugh: optimiser.Instance) -> None:
    r = runs["solve_json"]
    assert r.returncode == 0, r.stderr
    payload = json.loads(r.stdout)
    assert payload["status"] == "optimal"
    assert payload["policy"] == "optimal"
    assert isinstance(payload["lives_saved"], float)
    assert set(payload["allocation"]) == {"A", "B", "C", "D"}
    assert all(isinstance(v, int) for v in payload["allocation"].values())
    assert isinstance(payload["unallocated"], int)
    assert payload["unallocated"] == 1000 - sum(payload["allocation"].values())
    assert payload["constraints"] == ["per_capita_floor(share=0.6)", "min_units(units=150)"]
    assert [p["constraint"] for p in payload["price_of_fairness"]] == payload["constraints"]
    for entry in payload["price_of_fairness"]:
        for key in ("lives_saved_alone", "lives_lost_alone", "lives_lost_marginal"):
            assert isinstance(entry[key], float)
    solver = payload["solver"]
    assert solver["name"] == "highs"
    assert isinstance(solver["version"], str) and solver["version"]
    assert solver["gap"] is not None and 0 <= solver["gap"] <= optimiser.SolverOptions().mip_rel_gap
    assert isinstance(solver["seconds"], float) and solver["seconds"] >= 0
    # the CLI and the Python API give the same answer
    api = optimiser.solve(pugh, constraints=FAIR[1::2])
    assert payload["allocation"] == api.allocation
    assert payload["lives_saved"] == approx_lives(api.lives_saved)
    # floors respected: per capita 60% of 1000 (A 168, B 196, C 103, D 131) and 150 each
    floors = {"A": 168, "B": 196, "C": 150, "D": 150}
    assert all(payload["allocation"][r] >= f for r, f in floors.items())


def test_infeasible_exits_3_with_the_conflict_on_stderr(runs, work: Path) -> None:
    r = runs["solve_infeasible"]
    assert r.returncode == EXIT_INFEASIBLE
    message = r.stderr.strip().splitlines()[-1]
    assert message.startswith("error: infeasible: coverage_floor(level=0.5)")
    assert "1,350" in message and "1,000" in message
    no_traceback(r)
    assert not (work / "never").exists()  # --out: nothing written
    assert not [p for p in work.iterdir() if p.name.startswith(".never")]


def test_infeasible_json_keeps_a_previous_output(runs, work: Path) -> None:
    r = runs["solve_infeasible_json"]
    assert r.returncode == EXIT_INFEASIBLE
    payload = json.loads(r.stdout)
    assert payload["status"] == "infeasible"
    assert payload["allocation"] == {} and payload["lives_saved"] is None
    assert "1,350" in payload["explanation"]
    assert "1,350" in r.stderr
    # the earlier output folder is untouched
    assert (work / "previous" / "allocation.csv").read_text() == "region,units\nA,1\n"
    assert not [p for p in work.iterdir() if p.name.startswith(".previous")]


def test_out_never_replaces_a_folder_of_other_files(runs, work: Path) -> None:
    r = runs["solve_bad_out"]
    assert r.returncode == EXIT_INPUT
    assert "--out" in r.stderr and "foreign" in r.stderr
    assert sorted(p.name for p in (work / "foreign").iterdir()) == ["notes.txt"]
    no_traceback(r)


def test_bad_input_leaves_no_output(runs, work: Path) -> None:
    r = runs["solve_bad_input"]
    assert r.returncode == EXIT_INPUT
    assert "instance folder not found" in r.stderr
    assert not (work / "never2").exists()


def test_compare_json(runs) -> None:
    r = runs["compare_json"]
    assert r.returncode == 0, r.stderr
    payload = json.loads(r.stdout)
    policies = {p["policy"]: p for p in payload["policies"]}
    assert {"per_capita", "excess", "excess_per_capita", "rai", "lottery", "optimal"} <= set(
        policies
    )
    assert policies["per_capita"]["allocation"] == {"A": 281, "B": 328, "C": 172, "D": 219}
    best = policies["optimal"]["lives_saved"]
    for p in policies.values():
        assert p["lives_saved"] <= best + lives_tol(best)
        assert sum(p["allocation"].values()) + p["unallocated"] == 1000


def test_compare_readable_lists_rules_and_constrained_optimum(runs) -> None:
    r = runs["compare_text"]
    assert r.returncode == 0, r.stderr
    for name in (
        "per_capita",
        "excess_per_capita",
        "rai",
        "lottery",
        "optimal+min_units(units=150)",
    ):
        assert name in r.stdout


def test_compare_on_us_states_shows_the_papers_argument(runs) -> None:
    r = runs["compare_us"]
    assert r.returncode == 0, r.stderr
    policies = {p["policy"]: p for p in json.loads(r.stdout)["policies"]}
    best = policies["optimal"]["lives_saved"]
    assert best > 0
    # with survival and staffing data the rules cost lives; per capita wastes most
    assert policies["per_capita"]["lives_saved"] < policies["excess"]["lives_saved"]
    assert policies["excess"]["lives_saved"] <= best + lives_tol(best)
    assert policies["optimal"]["status"] == "optimal"


def test_entry_points(runs) -> None:
    # the `triage` console script; every other run here is `python -m optimiser`
    r = runs["script_help"]
    assert r.returncode == 0, r.stderr
    for command in ("solve", "compare", "validate", "evaluate"):
        assert command in r.stdout


def test_usage_error_in_a_real_process_exits_2(runs) -> None:
    r = runs["usage_error"]
    assert r.returncode == EXIT_INPUT, r.stderr
    assert r.stderr.startswith("error: ") and "'--supply'" in r.stderr
    no_traceback(r)


# ---- argument errors: the same typer app and error mapping, called in-process


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from optimiser.cli import main

    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["solve", PUGH, "-c", "coverage_floor:level=2"], "parameter 'level' must be <= 1"),
        (["solve", PUGH, "-c", "fair_share:level=1"], "unknown constraint kind 'fair_share'"),
        (["solve", PUGH, "-c", "min_units:units=3,cap=2"], "unknown parameter 'cap'"),
        (["solve", PUGH, "--supply", "-5"], "--supply: must be >= 0"),
        (["compare", PUGH, "--supply", "-1"], "--supply: must be >= 0"),
        (["solve", PUGH, "--policy", "first_come"], "unknown policy 'first_come'"),
        (["solve", PUGH, "--time-limit", "0"], "--time-limit: must be"),
        (["evaluate", PUGH, "no-such.csv"], "no-such.csv: file not found"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], fragment: str, capsys) -> None:
    code, out, err = cli(args, capsys)
    assert code == EXIT_INPUT, err
    assert err.startswith("error: ") and fragment in err
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["solve", PUGH, "--supply", "10.5"], "'--supply'"),
        (["solve", PUGH, "--time-limit", "soon"], "'--time-limit'"),
        (["solve"], "Missing argument"),
        (["allocate", PUGH], "No such command 'allocate'"),
    ],
    ids=["non-integer supply", "non-numeric time limit", "missing argument", "unknown command"],
)
def test_usage_errors_exit_2(args: list[str], fragment: str, capsys) -> None:
    code, _, err = cli(args, capsys)
    assert "Traceback" not in err
    assert "internal error" not in err, err
    assert code == EXIT_INPUT, err
    assert err.startswith("error: ") and fragment in err


def test_solve_a_rule_and_evaluate_a_result_json(capsys, work: Path) -> None:
    code, out, _ = cli(
        ["solve", PUGH, "--policy", "excess_per_capita", "--supply", "100", "--json"], capsys
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["status"] == "rule" and payload["policy"] == "excess_per_capita"
    assert payload["allocation"] == {"A": 16, "B": 25, "C": 49, "D": 10}  # Table 3
    saved = work / "rule.json"
    saved.write_text(out)
    code, out, _ = cli(["evaluate", PUGH, str(saved), "--json"], capsys)
    assert code == 0
    assert json.loads(out)["allocation"] == payload["allocation"]


def test_out_then_evaluate_round_trip(runs, repo: Path, work: Path) -> None:
    solved = runs["solve_out"]
    assert solved.returncode == 0, solved.stderr
    payload = json.loads(solved.stdout)
    out = work / "result"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [OUTPUT_MARKER, "allocation.csv", "price_of_fairness.csv", "regions.csv", "result.json"]
    )
    assert json.loads((out / "result.json").read_text())["allocation"] == payload["allocation"]
    scored = run(repo, ["evaluate", PUGH, str(out / "allocation.csv"), "--json", *GAP])
    assert scored.returncode == 0, scored.stderr
    again = json.loads(scored.stdout)
    assert again["allocation"] == payload["allocation"]
    assert again["lives_saved"] == approx_lives(payload["lives_saved"])
    assert again["violations"] == []
    assert not [p for p in work.iterdir() if p.name.startswith(".result")]


def test_evaluate_reports_every_bad_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "alloc.csv"
    bad.write_text("region,units\nA,12\nZ,3\nB,1.5\nC,-2\nD,lots\n")
    code, _, err = cli(["evaluate", PUGH, str(bad)], capsys)
    assert code == EXIT_INPUT
    lines = err.splitlines()
    for expected in (
        "alloc.csv, line 3, column 'region': unknown region 'Z'",
        "alloc.csv, line 4, column 'units'",
        "alloc.csv, line 5, column 'units'",
        "alloc.csv, line 6, column 'units': not a number: 'lots'",
    ):
        assert any(expected in line for line in lines), (expected, lines)
    assert "Traceback" not in err
    binary = tmp_path / "alloc.bin"
    binary.write_bytes(b"\x00\x01")
    code, _, err = cli(["evaluate", PUGH, str(binary)], capsys)
    assert code == EXIT_INPUT and "binary" in err


def test_evaluate_flags_broken_constraints_and_over_supply(tmp_path: Path, capsys) -> None:
    alloc = tmp_path / "hand.csv"
    alloc.write_text("region,units\nA,1000\nB,1000\nC,0\nD,0\n")
    code, out, err = cli(
        ["evaluate", PUGH, str(alloc), "--json", "-c", "min_units:units=10"], capsys
    )
    assert code == 1, err  # scored, and breaks rules (as check-plan)
    payload = json.loads(out)
    assert payload["lives_saved"] == approx_lives(2000)
    assert any("supply" in v for v in payload["violations"])
    assert any("min_units(units=10)" in v for v in payload["violations"])


# ---- atomic output folders (in-process: failures are injected)


def test_write_outputs_failure_leaves_nothing_and_keeps_the_previous(tmp_path: Path) -> None:
    out = tmp_path / "out"

    def good(folder: Path) -> None:
        (folder / "a.txt").write_text("first")

    def broken(folder: Path) -> None:
        (folder / "a.txt").write_text("half")
        raise RuntimeError("disk on fire")

    write_outputs(out, good)
    assert (out / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError):
        write_outputs(out, broken)
    assert (out / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError):
        write_outputs(tmp_path / "fresh", broken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_outputs_respects_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_outputs(tmp_path / "out", lambda folder: (folder / "x").write_text("x"))
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755


def test_write_outputs_refuses_a_file_or_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        write_outputs(tmp_path / "file", lambda folder: None)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    with pytest.raises(InputError, match="not written by triage"):
        write_outputs(tmp_path / "mine", lambda folder: None)
    assert (tmp_path / "mine" / "thesis.tex").exists()
    (tmp_path / "empty").mkdir()
    write_outputs(tmp_path / "empty", lambda folder: (folder / "x").write_text("x"))
    assert (tmp_path / "empty" / "x").exists()


def test_compare_text_with_an_infeasible_constrained_optimum(capsys) -> None:
    code, out, err = cli(["compare", PUGH, "-c", "coverage_floor:level=0.5"], capsys)
    assert code == 0, err
    assert "infeasible" in out
    assert "NaN" not in out and "nan" not in out and "-%" not in out
    assert "per_capita: coverage_floor(level=0.5)" in out  # rules that break it are named
    assert "281  328  172  219" in out  # whole units


def test_a_result_json_round_trips_with_its_constraints_and_supply(
    tmp_path: Path, capsys
) -> None:
    """solve --out, then evaluate result.json: scored under the constraints and the supply it
    was solved with (not the instance's), with the same lives and no violation; the JSON
    reads back into an equal AllocationResult."""
    states = "instances/us-states-2020"
    code, out, err = cli(
        ["solve", states, "--supply", "1500", "-c", "per_capita_floor:share=0.4", "--json",
         "--out", str(tmp_path / "r")], capsys)
    assert code == 0, err
    solved = json.loads(out)
    from optimiser.results import AllocationResult

    again = AllocationResult.from_json(out)
    assert again.to_dict() == solved
    code, out, err = cli(["evaluate", states, str(tmp_path / "r" / "result.json"), "--json"],
                         capsys)
    assert code == 0, err
    scored = json.loads(out)
    assert scored["supply"] == 1500 and scored["constraints"] == solved["constraints"]
    assert scored["lives_saved"] == approx_lives(solved["lives_saved"])
    assert scored["violations"] == []
    # the same allocation is short of a stricter floor: the labels are live constraints
    code, out, err = cli(["evaluate", states, str(tmp_path / "r" / "result.json"), "--json",
                          "-c", "per_capita_floor(share=0.9)"], capsys)
    assert code == 1, err  # scored, and breaks a rule
    assert json.loads(out)["violations"] == ["per_capita_floor(share=0.9)"]


def test_every_constraint_label_parses_back_to_the_same_constraint() -> None:
    from optimiser.constraints import parse_constraint

    for spec in [
        optimiser.constraint("per_capita_floor", share=0.123456789),
        optimiser.constraint("threshold", tau=2.5, index="excess_per_100k"),
        optimiser.constraint("prioritarian", weights={"A": 2, "B": 0.5}),
        optimiser.constraint("max_coverage_gap", gap=1e-7),
    ]:
        assert parse_constraint(spec.label) == spec, spec.label


def test_no_price_says_it_was_not_computed(capsys) -> None:
    code, out, _ = cli(["solve", PUGH, "-c", "min_units:units=10", "--no-price"], capsys)
    assert code == 0
    assert "not computed (--no-price)" in out and "no fairness constraint active" not in out
    code, out, _ = cli(["solve", PUGH, "-c", "min_units:units=10", "--no-price", "--json"], capsys)
    assert json.loads(out)["price_of_fairness_skipped"] is True


def test_no_allocation_found_is_an_error_not_a_success(capsys, monkeypatch) -> None:
    """A solver failure or a time limit with no allocation: exit 4 and a message, no output."""
    import optimiser.engine as engine  # the command imports solve from here when it runs

    real = engine.solve

    def nothing_found(*args, **kwargs):
        result = real(*args, **kwargs)
        from dataclasses import replace

        return replace(result, status="time_limit", lives_saved=None,
                       regions=result.regions.drop(columns=["units"]))

    monkeypatch.setattr(engine, "solve", nothing_found)
    code, _, err = cli(["solve", PUGH], capsys)
    assert code == 4 and "no allocation found (time_limit): raise --time-limit" in err
