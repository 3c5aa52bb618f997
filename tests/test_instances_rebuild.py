"""The shipped instances are what scripts/ build from the public data (../shared/data, where
the checkout has it, or $TRIAGE_SHARED_DATA; CI has a copy beside the clone), coordinates
included."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRIAGE_SHARED_DATA", REPO.parent / "shared" / "data"))
BUILDERS = {
    "us-states-2020": "build_us_states_2020.py",
    "us-states-apr2020": "build_us_states_apr2020.py",
    "italy-2020-wave1": "build_italy_2020_wave1.py",
}


@pytest.mark.skipif(not DATA.is_dir(), reason=f"no public data at {DATA}")
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_an_instance_rebuilds_byte_for_byte(name: str, tmp_path: Path) -> None:
    out = tmp_path / name
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / BUILDERS[name]), "--data-dir", str(DATA),
         "--out-dir", str(out)], capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    shipped = REPO / "instances" / name
    files = sorted(p.name for p in shipped.iterdir())
    assert files == sorted(p.name for p in out.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(shipped, out, files, shallow=False)
    assert not mismatch and not errors, (mismatch, errors)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_shipped_coordinates_are_every_region_in_degrees(name: str) -> None:
    folder = REPO / "instances" / name
    coords = pd.read_csv(folder / "coordinates.csv", dtype={"region": str})
    regions = pd.read_csv(folder / "regions.csv", dtype={"region": str})
    assert list(coords.columns) == ["region", "lat", "lon"]
    assert set(coords["region"]) == set(regions["region"])
    assert "coordinates" in (folder / "instance.toml").read_text()  # the source is cited
    # plausible places: the US between Hawaii and Maine, Italy inside its bounding box
    lat, lon = coords["lat"], coords["lon"]
    if name.startswith("us-"):
        assert lat.between(18, 72).all() and lon.between(-170, -65).all()
        ny = coords.set_index("region").loc["NY"]
        assert 40 < ny["lat"] < 43 and -76 < ny["lon"] < -73
    else:
        assert lat.between(36, 47.5).all() and lon.between(6.5, 18.6).all()
