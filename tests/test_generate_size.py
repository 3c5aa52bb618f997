"""`triage generate` refuses sizes whose tables the loader would refuse (over the 50 MB a file
may have) or whose all-pairs lanes and distance matrix would exhaust memory, before writing
anything (probe3: --regions had no upper bound; 100,000 regions with all-pairs lanes is 10^10
lead-time rows). The limits are checked against what the generator really writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from optimiser.cli.plan import GENERATED_ROW_BYTES, generated_tables_too_big
from optimiser.multiperiod.generator import GeneratorSpec, generate
from optimiser.textfiles import MAX_FILE_BYTES


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--regions", "3000"], "9,000,000 lead-time rows"),
        (["--regions", "20000", "--neighbours", "10"], "at most 10,000 regions"),
        (["--regions", "200000", "--no-transfers"], "6,000,000 demand rows"),
    ],
)
def test_too_big_is_a_usage_error_and_writes_nothing(tmp_path: Path, args, words) -> None:
    out = tmp_path / "inst"
    run = subprocess.run(
        [sys.executable, "-m", "optimiser", "generate", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert words in run.stderr and "Traceback" not in run.stderr
    assert not out.exists()


def test_the_row_estimate_bounds_what_the_generator_writes(tmp_path: Path) -> None:
    """GENERATED_ROW_BYTES is an upper bound on the generator's rows (ids grow with the count:
    checked at 1,000 regions, 4-digit ids, all-pairs lanes and two depots)."""
    folder = generate(GeneratorSpec(regions=1000, days=40, depots=2, seed=1), tmp_path / "g")
    for name in ("demand.csv", "lead_times.csv"):
        path = folder / name
        rows = sum(1 for _ in path.open()) - 1
        assert path.stat().st_size <= rows * GENERATED_ROW_BYTES, name


def test_sizes_that_fit_pass() -> None:
    assert generated_tables_too_big(1000, 90, 3, 10, True) is None
    assert generated_tables_too_big(1800, 30, 1, None, True) is None  # 3.2M lanes
    assert generated_tables_too_big(1900, 30, 1, None, True) is not None
    assert generated_tables_too_big(100, 365, 1, None, False) is None
    limit = MAX_FILE_BYTES // GENERATED_ROW_BYTES
    assert generated_tables_too_big(limit // 10, 10, 1, None, False) is None
    assert generated_tables_too_big(limit // 10 + 1, 10, 1, None, False) is not None
