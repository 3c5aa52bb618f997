"""A report's fan charts as a browser draws them (imported as a module: the tests folder is on
sys.path): headless Chromium screenshots report.html, and the pale-red fan bands and the blue
units-on-hand lines must cover enough pixels. Skips the calling test without Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from matplotlib.image import imread


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def assert_fans_drawn(folder: Path, height: int) -> None:
    """Screenshot folder/report.html at 1200 x `height` pixels and check the fans are on it."""
    browser = chromium()
    if browser is None:
        pytest.skip("headless Chromium is not installed")
    shot = folder / "shot.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size=1200,{height}", f"--screenshot={shot}", (folder / "report.html").as_uri()],
        check=True, capture_output=True, timeout=180,
    )
    pixels = imread(shot)[..., :3]
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    band = (red > 0.8) & (red - green > 0.15) & (red - blue > 0.15)  # the fan's pale reds
    on_hand = (blue - red > 0.3) & (blue > 0.5)  # the units-on-hand lines
    assert band.sum() > 20_000, band.sum()
    assert on_hand.sum() > 500, on_hand.sum()
