"""The seeded generator of synthetic national instances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimiser.multiperiod import GeneratorSpec, generate, load_multiperiod, model_data

FILES = ("instance.toml", "regions.csv", "demand.csv", "deliveries.csv", "lead_times.csv")


def test_same_seed_same_files(tmp_path: Path) -> None:
    spec = GeneratorSpec(regions=12, days=20, depots=2, neighbours=3, seed=7)
    a, b = generate(spec, tmp_path / "a"), generate(spec, tmp_path / "b")
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    c = generate(GeneratorSpec(regions=12, days=20, depots=2, neighbours=3, seed=8), tmp_path / "c")
    assert (a / "demand.csv").read_bytes() != (c / "demand.csv").read_bytes()


@pytest.mark.parametrize("regions, days, neighbours", [(1, 2, None), (9, 15, 4), (25, 30, None)])
def test_sizes_and_lanes(tmp_path: Path, regions: int, days: int, neighbours: int | None) -> None:
    spec = GeneratorSpec(regions=regions, days=days, depots=2, neighbours=neighbours, seed=1)
    inst = load_multiperiod(generate(spec, tmp_path / "g"))
    assert len(inst.regions) == regions and inst.days == days and inst.depots == ("D1", "D2")
    data = model_data(inst)
    lanes = regions - 1 if neighbours is None else min(neighbours, regions - 1)
    assert len(data.arc_src) == regions * lanes
    assert np.all(np.bincount(data.arc_dst, minlength=regions) == lanes)
    assert data.supply == int(inst.info["total_delivered"])


def test_epidemic_peaks_move_and_bite(tmp_path: Path) -> None:
    inst = load_multiperiod(generate(GeneratorSpec(regions=40, days=60, seed=3), tmp_path / "g"))
    demand = inst.demand.to_numpy()
    peaks = demand.argmax(axis=1)
    assert peaks.max() - peaks.min() >= 15  # the wave moves across the country
    capacity = inst.own.to_numpy()[:, 0]
    assert 0 < int((demand.max(axis=1) > capacity).sum()) < 40  # some regions short, not all


def test_without_transfers(tmp_path: Path) -> None:
    inst = load_multiperiod(
        generate(GeneratorSpec(regions=5, days=6, transfers=False), tmp_path / "g")
    )
    assert inst.settings.transfers is False
    assert not model_data(inst).transfers


def test_lane_limits(tmp_path: Path) -> None:
    inst = load_multiperiod(generate(GeneratorSpec(regions=8, days=5, seed=2), tmp_path / "g"))
    data = model_data(inst.with_settings(transfer_neighbours=2))
    assert np.all(np.bincount(data.arc_dst, minlength=8) == 2)
    lead = inst.region_lead.to_numpy()
    for q, r in zip(data.arc_src, data.arc_dst, strict=True):  # the 2 nearest donors
        others = np.delete(lead[:, r], [r])
        assert lead[q, r] <= np.sort(others)[1]
    short = model_data(inst.with_settings(max_transfer_lead_days=1))
    assert np.all(short.arc_lead <= 1)
    assert not model_data(inst.with_settings(transfers=False)).transfers
