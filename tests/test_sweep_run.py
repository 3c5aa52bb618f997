"""Running sweeps: persisted and resumable (budgeted stop, SIGINT, SIGKILL, with one and two
workers), refusing to overwrite another sweep, local processes (a killed worker is replaced,
workers die with the sweep), a Dask LocalCluster (and bad scheduler addresses), and the
`triage sweep` CLI (files follow the umask)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import optimiser
from optimiser.errors import InputError
from optimiser.sweeps import SweepIncomplete, SweepInterrupted, load_sweep, run_sweep
from optimiser.sweeps.fast import run_chunk

pytestmark = pytest.mark.slow  # fault and soak tests: killed workers, resumed sweeps, pools, Dask

REPO = Path(__file__).resolve().parents[1]
US = REPO / "instances" / "us-states-2020"
VARY = {"supply": "0:3000:250", "per_capita_floor.share": "0,0.3,0.6"}  # 39 variants


@pytest.fixture(scope="module")
def us() -> optimiser.Instance:
    return optimiser.load_instance(US)


@pytest.fixture(scope="module")
def reference(us):
    """The same sweep, uninterrupted and in memory."""
    return run_sweep(us, VARY, price_of_fairness=True, workers=1)


def same_tables(a, b) -> None:
    cols = [
        "variant",
        "supply",
        "per_capita_floor.share",
        "status",
        "lives_saved",
        "lives_optimal",
        "units_sent",
    ]
    pd.testing.assert_frame_equal(a.variants[cols], b.variants[cols], check_exact=False, rtol=2e-6)
    assert len(a.regions) == len(b.regions)
    assert a.regions["variant"].tolist() == b.regions["variant"].tolist()
    assert a.regions["region"].tolist() == b.regions["region"].tolist()
    assert np.allclose(
        a.regions["lives"].groupby(a.regions["variant"]).sum(), b.variants["lives_saved"], rtol=2e-6
    )


def test_budgeted_stop_then_resume(us, reference, tmp_path):
    out = tmp_path / "sweep"
    with pytest.raises(SweepInterrupted, match="run the same sweep again"):
        run_sweep(us, VARY, price_of_fairness=True, out=out, workers=1, chunk_size=5, max_chunks=3)
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["status"] == "running" and manifest["chunks"] == 8 and manifest["variants"] == 39
    )
    assert sorted(p.name for p in (out / "parts").iterdir()) == [
        "chunk-000000",
        "chunk-000001",
        "chunk-000002",
    ]
    assert not (out / "variants.parquet").exists()  # no final table until the sweep is complete
    # resume: a different chunk size or worker count asked for now does not change the chunks
    result = run_sweep(us, VARY, price_of_fairness=True, out=out, workers=1, chunk_size=7)
    assert result.solved == 39 - 15
    same_tables(result, reference)
    assert not (out / "parts").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["counts"] == {"optimal": 39}
    for name in ("variants.parquet", "variants.csv", "regions.parquet", "regions.csv"):
        assert (out / name).is_file()
    assert pd.read_csv(out / "variants.csv")["lives_saved"].tolist() == pytest.approx(
        reference.variants["lives_saved"].tolist()
    )
    # once complete, running it again solves nothing and returns the stored tables
    again = run_sweep(us, VARY, price_of_fairness=True, out=out)
    assert again.solved == 0
    same_tables(again, reference)
    same_tables(load_sweep(out), reference)


def test_budgeted_stop_then_resume_with_two_workers(us, reference, tmp_path):
    out = tmp_path / "sweep"
    with pytest.raises(SweepInterrupted):
        run_sweep(us, VARY, price_of_fairness=True, out=out, workers=2, chunk_size=5, max_chunks=4)
    assert len(list((out / "parts").glob("chunk-*"))) == 4
    result = run_sweep(us, VARY, price_of_fairness=True, out=out, workers=2)
    assert result.solved == 39 - 20
    same_tables(result, reference)


def test_a_folder_holding_another_sweep_is_never_overwritten(us, tmp_path):
    out = tmp_path / "sweep"
    run_sweep(us, {"supply": "100,200"}, out=out)
    before = (out / "variants.parquet").read_bytes()
    with pytest.raises(InputError, match="holds another sweep"):
        run_sweep(us, {"supply": "100,300"}, out=out)
    with pytest.raises(InputError, match="holds another sweep"):
        run_sweep(us, {"supply": "100,200"}, out=out, price_of_fairness=True)
    assert (out / "variants.parquet").read_bytes() == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty and holds no sweep"):
        run_sweep(us, {"supply": "100,200"}, out=other)
    assert (other / "notes.txt").read_text() == "mine"
    with pytest.raises(InputError, match="not a sweep output folder"):
        load_sweep(tmp_path / "missing")
    partial = tmp_path / "partial"
    with pytest.raises(SweepInterrupted):
        run_sweep(us, {"supply": "1:20:1"}, out=partial, chunk_size=5, max_chunks=1)
    with pytest.raises(InputError, match="not complete; run it again to resume"):
        load_sweep(partial)


def test_local_processes_match_in_process(us, reference):
    result = run_sweep(us, VARY, price_of_fairness=True, workers=2, chunk_size=4)
    same_tables(result, reference)


def test_dask_local_cluster_matches(us, reference):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
            protocol="tcp",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        result = run_sweep(us, VARY, price_of_fairness=True, scheduler=client, chunk_size=6)
        same_tables(result, reference)
        # the CLI, connecting to the same cluster by address
        out = Path(os.environ.get("PYTEST_TMP", "/tmp")) / f"dask-sweep-{os.getpid()}"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "optimiser",
                "sweep",
                str(US),
                "--vary",
                "supply=0:3000:250",
                "--vary",
                "per_capita_floor.share=0,0.3,0.6",
                "--price-of-fairness",
                "--dask-scheduler",
                cluster.scheduler_address,
                "--out",
                str(out),
                "--json",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert proc.returncode == 0, proc.stderr
        try:
            same_tables(load_sweep(out), reference)
        finally:
            import shutil

            shutil.rmtree(out, ignore_errors=True)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "optimiser", *args]


GATE = "TRIAGE_TEST_SWEEP_GATE"

LONG_SWEEP_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import optimiser.sweeps.run as run, test_sweep_run as helpers
run.run_chunk = helpers.gated_chunk
from optimiser.cli import main
if __name__ == "__main__":
    main(sys.argv[1:])
"""


def gated_chunk(plan, chunk, ids, rows):
    """Chunks 0 and 1 run at once; later chunks wait until the test opens the gate (a file), so
    a signal always finds the sweep in the middle however fast the machine is; opened, or after
    60 s, every chunk runs as usual."""
    gate = Path(os.environ[GATE])
    if chunk >= 2:
        end = time.monotonic() + 60
        while not gate.exists() and time.monotonic() < end:
            time.sleep(0.01)
    return run_chunk(plan, chunk, ids, rows)


def _start_long_sweep(out: Path, workers: int = 1) -> subprocess.Popen[str]:
    """`triage sweep` of 800 variants whose chunks after the second wait for `_open_gate`."""
    script = LONG_SWEEP_SCRIPT.format(tests=str(Path(__file__).parent))
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            script,
            "sweep",
            str(US),
            "--vary",
            "supply=1:800:1",
            "--no-greedy",
            "--out",
            str(out),
            "--workers",
            str(workers),
            "--no-progress",
        ],
        cwd=REPO,
        env={**os.environ, GATE: str(out.parent / "gate")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _open_gate(out: Path) -> None:
    (out.parent / "gate").write_text("")


def _wait_for_chunks(
    out: Path, proc: subprocess.Popen[str], count: int, timeout: float = 60
) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        parts = out / "parts"
        if parts.is_dir() and len(list(parts.glob("chunk-*"))) >= count:
            return
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended early: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.02)
    pytest.fail("no chunk was written in time")


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_killed_sweep_resumes_where_it_stopped(us, tmp_path, how, workers):
    out = tmp_path / "sweep"
    proc = _start_long_sweep(out, workers)
    _wait_for_chunks(out, proc, 2)
    proc.send_signal(getattr(signal, how))
    _open_gate(out)
    _, stderr = proc.communicate(timeout=60)
    if how == "SIGINT":
        assert proc.returncode == 130
        assert "interrupted with" in stderr and "run the same sweep again to resume" in stderr
        assert "Traceback" not in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    done_before = {p.name for p in (out / "parts").glob("chunk-*")}
    assert done_before and not (out / "variants.parquet").exists()
    for chunk in done_before:  # every stored chunk is whole
        assert (
            len(pd.read_parquet(out / "parts" / chunk / "variants.parquet")) == 13
        )  # ceil(800 / 64)
    resumed = subprocess.run(
        _cli(
            "sweep",
            str(US),
            "--vary",
            "supply=1:800:1",
            "--no-greedy",
            "--out",
            str(out),
            "--workers",
            str(workers),
            "--json",
        ),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads(resumed.stdout)
    assert manifest["status"] == "complete" and manifest["variants"] == 800
    assert 0 < manifest["solved_last_run"] <= 800 - 13 * len(done_before)
    result = load_sweep(out)
    v = result.variants
    assert v["variant"].tolist() == list(range(800)) and v["supply"].tolist() == list(range(1, 801))
    assert (v["status"] == "optimal").all()
    assert (np.diff(v["lives_saved"]) >= -1e-6).all()  # more supply never saves fewer lives
    check = run_sweep(us, {"supply": ",".join(str(s) for s in (1, 400, 777, 800))}).variants
    assert v.set_index("supply").loc[[1, 400, 777, 800], "lives_saved"].tolist() == pytest.approx(
        check["lives_saved"].tolist(), rel=2e-6
    )
    assert len(result.regions) == 800 * 50


def test_cli_sweep_outputs_and_errors(tmp_path, run_cli):
    out = tmp_path / "res"
    proc = run_cli(
        "sweep",
        US,
        "--vary",
        "supply=1000,2400",
        "--vary",
        "survival_with*=0.9,2@NY",
        "--vary",
        "per_capita_floor.share=0,0.5",
        "--price-of-fairness",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    assert "8 variants" in proc.stdout and "failed 4" in proc.stdout and "optimal 4" in proc.stdout
    assert "survival_with is a probability" in proc.stdout
    v = pd.read_parquet(out / "variants.parquet")
    r = pd.read_parquet(out / "regions.parquet")
    assert list(v.columns[:4]) == [
        "variant",
        "supply",
        "survival_with*@NY",
        "per_capita_floor.share",
    ]
    assert {"status", "lives_saved", "lives_optimal", "price_of_fairness", "reason"} <= set(
        v.columns
    )
    assert list(r.columns) == ["variant", "region", "units", "lives", "coverage_before", "coverage"]
    assert len(r) == 4 * 50 and set(r["variant"]) == set(v.loc[v["status"] == "optimal", "variant"])
    assert pd.read_csv(out / "regions.csv").shape == r.shape
    for args, fragment in [  # (every bad spec is covered in tests/test_sweep_spec.py)
        (("--vary", "per_capita_floor.share=0:3:1"), "must be <= 1"),
        ((), "give at least one --vary"),
    ]:
        bad = run_cli("sweep", US, *args, "--out", tmp_path / "bad")
        assert bad.returncode == 2, (args, bad.stderr)
        assert fragment in bad.stderr and "Traceback" not in bad.stderr
        assert not (tmp_path / "bad").exists()
    clash = run_cli("sweep", US, "--vary", "supply=1000,2000", "--out", out)
    assert clash.returncode == 2 and "holds another sweep" in clash.stderr


# ---------------------------------------------------------------------------------------------
# Worker processes: replaced when killed, and killed with the sweep

KILL_MARKER = "TRIAGE_TEST_KILL_MARKER"


def chunk_killed_once(plan, chunk, ids, rows):
    """Chunk 1's worker is killed the first time (as by an OOM killer or kill -9)."""
    marker = Path(os.environ[KILL_MARKER])
    if chunk == 1 and not marker.exists():
        marker.write_text("killed")
        os.kill(os.getpid(), signal.SIGKILL)
    return run_chunk(plan, chunk, ids, rows)


def chunk_always_killed(plan, chunk, ids, rows):
    """Chunk 1 kills its worker every time."""
    if chunk == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return run_chunk(plan, chunk, ids, rows)


def every_chunk_killed(plan, chunk, ids, rows):
    os.kill(os.getpid(), signal.SIGKILL)


def slow_chunk(plan, chunk, ids, rows):
    """Announce the start (a file per chunk), then take a while."""
    Path(os.environ[KILL_MARKER], f"started-{chunk}").write_text("")
    time.sleep(2.0)
    return run_chunk(plan, chunk, ids, rows)


def test_a_killed_worker_is_replaced_and_its_chunks_rerun(us, reference, tmp_path, monkeypatch):
    import optimiser.sweeps.run as run

    monkeypatch.setenv(KILL_MARKER, str(tmp_path / "killed"))
    monkeypatch.setattr(run, "run_chunk", chunk_killed_once)
    result = run_sweep(
        us, VARY, price_of_fairness=True, workers=2, chunk_size=4, out=tmp_path / "s"
    )
    assert (tmp_path / "killed").exists()  # a worker did die
    assert result.manifest["status"] == "complete"
    same_tables(result, reference)  # and nothing was lost


def test_a_chunk_that_keeps_killing_its_worker_is_recorded_as_failed(us, tmp_path, monkeypatch):
    import optimiser.sweeps.run as run

    monkeypatch.setattr(run, "run_chunk", chunk_always_killed)
    result = run_sweep(us, VARY, workers=2, chunk_size=4, out=tmp_path / "s")
    v = result.variants
    failed = v[v["status"] == "failed"]
    assert len(failed) == 4 and (v["status"] != "failed").sum() == 35  # the rest is solved
    assert failed["reason"].str.contains("died 2 times while solving it").all()
    assert failed["units_sent"].isna().all()
    assert result.manifest["counts"] == {"failed": 4, "optimal": 35}


def test_workers_that_die_whatever_they_run_stop_the_sweep(us, tmp_path, monkeypatch):
    """Nothing is recorded as failed: a rerun (with working workers) retries everything."""
    import optimiser.sweeps.run as run

    monkeypatch.setattr(run, "run_chunk", every_chunk_killed)
    with pytest.raises(SweepIncomplete, match="died 2 times before finishing any chunk"):
        run_sweep(us, VARY, workers=2, chunk_size=4, out=tmp_path / "s")
    assert not list((tmp_path / "s").glob("parts/chunk-*"))


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited (nobody reaped it yet)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and PDEATHSIG")
def test_workers_die_with_the_sweep_process(tmp_path):
    out = tmp_path / "sweep"
    proc = _start_long_sweep(out, workers=2)
    _wait_for_chunks(out, proc, 1)
    children = _children(proc.pid)  # two workers and multiprocessing's resource tracker
    assert len(children) >= 2
    proc.kill()
    _open_gate(out)
    proc.communicate(timeout=60)
    end = time.monotonic() + 20
    while time.monotonic() < end and any(_alive(c) for c in children):
        time.sleep(0.1)
    assert not [c for c in children if _alive(c)]


SIGINT_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import optimiser, optimiser.sweeps.run as run, test_sweep_run as helpers
from optimiser.sweeps import SweepInterrupted
run.run_chunk = helpers.slow_chunk
if __name__ == "__main__":
    try:
        run.run_sweep(optimiser.load_instance({us!r}), {{"supply": "1:40:1"}}, workers=2,
                      chunk_size=5, out={out!r})
    except SweepInterrupted as exc:
        print(exc)
        sys.exit(130)
"""


def test_sigint_keeps_the_chunks_finished_in_flight(tmp_path):
    """SIGINT to the sweep process only: the chunks its workers were solving still finish, and
    are kept (not thrown away with the pool)."""
    markers = tmp_path / "markers"
    markers.mkdir()
    out = tmp_path / "sweep"
    script = SIGINT_SCRIPT.format(tests=str(Path(__file__).parent), us=str(US), out=str(out))
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, KILL_MARKER: str(markers)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    end = time.monotonic() + 120
    while time.monotonic() < end and len(list(markers.glob("started-*"))) < 2:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    started = sorted(int(p.name.split("-")[1]) for p in markers.glob("started-*"))
    proc.send_signal(signal.SIGINT)  # the parent only: its workers carry on
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted with" in stdout
    kept = sorted(int(p.name.split("-")[1]) for p in (out / "parts").glob("chunk-*"))
    assert set(started) <= set(kept)  # both chunks in flight at the signal were kept


def test_bad_dask_scheduler_is_an_input_error_and_writes_nothing(
    us, tmp_path, run_cli, monkeypatch
):
    pytest.importorskip("distributed")
    import optimiser.executor as executor

    monkeypatch.setattr(executor, "DASK_TIMEOUT", 1.0)
    out = tmp_path / "s"
    with pytest.raises(InputError, match="cannot connect"):
        run_sweep(us, {"supply": "1,2"}, scheduler="tcp://127.0.0.1:1", out=out)
    assert not out.exists()
    for address in ("notaurl", "tcp://host-without-port"):
        proc = run_cli(
            "sweep", US, "--vary", "supply=1,2", "--dask-scheduler", address, "--out", out
        )
        assert proc.returncode == 2, proc.stderr
        assert "not a scheduler address" in proc.stderr and "Traceback" not in proc.stderr
        assert not out.exists()


def test_output_files_follow_the_umask(tmp_path):
    out = tmp_path / "s"
    proc = subprocess.run(
        _cli("sweep", str(US), "--vary", "supply=1,2", "--out", str(out), "--no-progress"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("manifest.json", "variants.parquet", "variants.csv", "regions.csv"):
        assert (out / name).stat().st_mode & 0o777 == 0o644, name
    assert out.stat().st_mode & 0o777 == 0o755
