"""Probe 3 (fuzz_files.py): a damaged output folder read back by `triage report` was an
internal error (exit 4, no file named):

- `--from-sweep` with a truncated or overwritten variants/regions.parquet (pyarrow's
  ArrowInvalid escaped; the same read serves a sweep's resume, optimiser/sweeps/folder.py);
- `--from-plan` with a truncated manifest.csv (KeyError 'kind', "cannot convert float NaN to
  integer", "min() arg is an empty sequence" while drawing the page).

Now exit 2 naming the file, and nothing written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from optimiser.errors import InputError

REPO = Path(__file__).resolve().parents[1]
PUGH = REPO / "instances" / "pugh2021"


def triage(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    return subprocess.run([sys.executable, "-m", "optimiser", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)


def refused(run: subprocess.CompletedProcess[str], *words: str) -> None:
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert "internal error" not in run.stderr and "Traceback" not in run.stderr, run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


@pytest.mark.parametrize("cut", [0, 100])
def test_a_damaged_parquet_file_is_an_input_error_naming_it(tmp_path, cut):
    import pandas as pd

    from optimiser.sweeps.folder import read_parquet

    path = tmp_path / "variants.parquet"
    pd.DataFrame({"a": range(50)}).to_parquet(path)
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(InputError, match=r"variants\.parquet: not a readable Parquet file"):
        read_parquet(path)


def test_report_from_a_sweep_with_a_damaged_parquet_is_exit_2(tmp_path):
    sweep = tmp_path / "sweep"
    run = triage("sweep", PUGH, "--vary", "supply=500:1000:250", "--no-progress",
                 "--out", sweep)
    assert run.returncode == 0, run.stderr
    regions = sweep / "regions.parquet"
    regions.write_bytes(regions.read_bytes()[:200])
    out = tmp_path / "report"
    refused(triage("report", PUGH, "--from-sweep", sweep, "--out", out),
            "regions.parquet: not a readable Parquet file")
    assert not out.exists()


@pytest.fixture(scope="module")
def plan_folder(tmp_path_factory) -> Path:
    """instances/italy-2020-wave1's plan: ships and transfers in manifest.csv."""
    folder = tmp_path_factory.mktemp("plan") / "plan"
    run = triage("plan", REPO / "instances" / "italy-2020-wave1", "--out", folder)
    assert run.returncode == 0, run.stderr
    return folder


@pytest.mark.parametrize("damage", ["truncated", "a row dropped", "a column dropped"])
def test_report_from_a_plan_with_a_changed_manifest_is_exit_2(plan_folder, tmp_path, damage):
    import pandas as pd

    folder = tmp_path / "plan"
    shutil.copytree(plan_folder, folder)
    manifest = folder / "manifest.csv"
    text = manifest.read_text()
    if damage == "truncated":
        manifest.write_text(text[: len(text) * 2 // 3])
    elif damage == "a row dropped":
        pd.read_csv(manifest).iloc[1:].to_csv(manifest, index=False)
    else:
        pd.read_csv(manifest).drop(columns=["arrives"]).to_csv(manifest, index=False)
    out = tmp_path / "report"
    refused(triage("report", REPO / "instances" / "italy-2020-wave1", "--from-plan", folder,
                   "--out", out), "manifest.csv does not match result.json")
    assert not out.exists()


def test_report_from_the_plan_as_written_is_accepted(plan_folder, tmp_path):
    out = tmp_path / "report"
    run = triage("report", REPO / "instances" / "italy-2020-wave1", "--from-plan", plan_folder,
                 "--out", out)
    assert run.returncode == 0, run.stderr
    assert (out / "report.html").is_file()
