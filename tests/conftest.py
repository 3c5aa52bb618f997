"""Shared fixtures: tiny instances from rows, instance folders on disk, the CLI in a subprocess,
and an independent lives function (the oracle every optimum is checked against)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import optimiser

REPO = Path(__file__).resolve().parents[1]
PUGH = REPO / "instances" / "pugh2021"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def make_instance() -> Callable[..., optimiser.Instance]:
    """`make_instance(rows, supply, tiers=None, **kw)`: an Instance from a list of row dicts."""

    def make(
        rows: Sequence[Mapping[str, Any]] | pd.DataFrame,
        supply: int,
        tiers: Sequence[Mapping[str, Any]] | pd.DataFrame | None = None,
        **kwargs: Any,
    ) -> optimiser.Instance:
        regions = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if tiers is not None and not isinstance(tiers, pd.DataFrame):
            tiers = pd.DataFrame(list(tiers))
        return optimiser.instance_from_frames(regions, supply, tiers=tiers, **kwargs)

    return make


@pytest.fixture(scope="session")
def pugh() -> optimiser.Instance:
    """instances/pugh2021: Table 1 of the paper, supply 1000."""
    return optimiser.load_instance(PUGH)


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    """A writable copy of instances/pugh2021 (to be edited into a bad instance)."""
    folder = tmp_path / "instance"
    shutil.copytree(PUGH, folder)
    return folder


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`run_cli(*args)`: `python -m optimiser ARGS` in a subprocess, from the repo root."""

    def run(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        env.pop("TRIAGE_DEBUG", None)
        return subprocess.run(
            [sys.executable, "-m", "optimiser", *map(str, args)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )

    return run


def _unit_blocks(instance: optimiser.Instance) -> dict[str, list[tuple[float, float]]]:
    """Per region, (units, lives per unit) blocks, best first, from the instance's raw columns."""
    regions = instance.regions
    given_los = [v for v in regions["los_days"] if not math.isnan(v)]
    if instance.horizon_days is not None:
        horizon = instance.horizon_days
    else:
        horizon = sum(given_los) / len(given_los) if given_los else 1.0
    blocks: dict[str, list[tuple[float, float]]] = {}
    for rid, row in regions.iterrows():
        excess = max(0.0, row["peak_demand"] - row["capacity"])
        los = horizon if math.isnan(row["los_days"]) else row["los_days"]
        turnover = horizon / los
        tiers = []
        if instance.tiers is not None:
            mine = instance.tiers[instance.tiers["region"] == rid]
            tiers = [
                (s * excess, sw - row["survival_without"])
                for s, sw in zip(mine["share"], mine["survival_with"], strict=True)
            ]
        if not tiers:
            tiers = [(excess, row["survival_with"] - row["survival_without"])]
        tiers.sort(key=lambda t: -t[1])
        blocks[str(rid)] = [(size, gain * turnover) for size, gain in tiers]
    return blocks


def independent_lives(
    instance: optimiser.Instance, allocation: Mapping[str, int]
) -> dict[str, float]:
    """Expected extra survivors per region: useful units min(x_r, E_r) fill the best tiers first."""
    out = {}
    for rid, blocks in _unit_blocks(instance).items():
        left = float(allocation.get(rid, 0))
        total = 0.0
        for size, value in blocks:
            used = min(left, size)
            total += used * value
            left -= used
        out[rid] = total
    return out


def unit_gains(instance: optimiser.Instance, rid: str, units: int) -> list[float]:
    """Marginal lives of the 1st, 2nd, ... `units`-th unit sent to region `rid` (non-increasing)."""
    previous, gains = 0.0, []
    for n in range(1, units + 1):
        now = independent_lives(instance, {rid: n})[rid]
        gains.append(now - previous)
        previous = now
    return gains


@pytest.fixture(scope="session")
def lives_oracle() -> Callable[[optimiser.Instance, Mapping[str, int]], float]:
    """`lives_oracle(instance, allocation)`: total expected extra survivors, computed without the
    engine (from the instance's columns and tiers, as the issue defines them)."""
    return lambda instance, allocation: sum(independent_lives(instance, allocation).values())


@pytest.fixture(scope="session")
def marginal_gains() -> Callable[[optimiser.Instance, str, int], list[float]]:
    """`marginal_gains(instance, region, n)`: lives of each of the first n units sent there."""
    return unit_gains
