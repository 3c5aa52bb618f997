"""Helpers shared by the backtest conversion scripts (scripts/build_backtest_*.py).

A backtest instance (docs/scenarios.md, "Backtest instances") is a multi-period instance plus
observed.csv (what happened) and forecasts/ (releases.csv and one CSV per forecast release).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from instance_utils import REPO_ROOT, round_half_up, write_csv

RELEASE_COLUMNS = ["source", "release", "file", "quantity", "interval_level", "note"]


def clean_forecasts(out: Path, keep: set[str]) -> Path:
    """The instance's forecasts/ folder, with files this script does not write removed."""
    folder = out / "forecasts"
    folder.mkdir(parents=True, exist_ok=True)
    for p in folder.iterdir():
        if p.is_file() and p.name not in keep:
            p.unlink()
    return folder


def forecast_frame(
    region: pd.Series,
    date: pd.Series,
    mean: pd.Series,
    lower: pd.Series | None = None,
    upper: pd.Series | None = None,
    digits: int = 4,
) -> pd.DataFrame:
    """region, date, mean[, lower, upper], sorted, values rounded to `digits` decimals."""
    out = pd.DataFrame({"region": region.to_numpy(), "date": date.to_numpy()})
    out["mean"] = mean.to_numpy(dtype=float).round(digits)
    if lower is not None and upper is not None:
        out["lower"] = lower.to_numpy(dtype=float).round(digits)
        out["upper"] = upper.to_numpy(dtype=float).round(digits)
    return out.sort_values(["region", "date"]).reset_index(drop=True)


def census_from(values: pd.Series) -> list[int]:
    """Whole patients (half up): demand.csv of a backtest holds the planning forecast rounded."""
    return [round_half_up(float(v)) for v in values]


def check_backtest(out: Path) -> str:
    """Load the folder with the product's own loader (every file, every forecast over the
    window): the scripts never ship a backtest instance the tool would refuse."""
    sys.path.insert(0, str(REPO_ROOT))
    from optimiser.scenarios.backtest import load_backtest

    backtest = load_backtest(out)
    first, last = backtest.window
    return (
        f"backtest {backtest.instance.name}: {len(backtest.instance.regions)} regions, "
        f"{first}..{last}, observed total {backtest.observed.to_numpy().sum():,.0f} "
        f"patient-days, releases {', '.join(r.name for r in backtest.releases)}"
    )


def write_releases(folder: Path, rows: list[dict[str, object]]) -> None:
    write_csv(pd.DataFrame(rows, columns=RELEASE_COLUMNS), folder / "releases.csv")
