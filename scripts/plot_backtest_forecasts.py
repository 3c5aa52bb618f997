#!/usr/bin/env python3
"""Draw docs/img/backtest-forecasts.png: each backtest instance's forecasts against what
happened (docs/scenarios.md, "What happened: the forecasts of spring 2020").

Top row: the national total (sum over the instance's regions) of each forecast's mean and of
the observed census, with the sum of IHME's regional 95% bounds shaded (a comonotone band: the
regions' bounds added, not an interval of the total). Bottom row: each region's forecast peak
over its observed peak (log scale), one column of dots per release. The numbers come from
optimiser.scenarios.skill.forecast_skill, as `triage scenarios skill` prints them. Usage:

    .venv/bin/python scripts/plot_backtest_forecasts.py [--out docs/img/backtest-forecasts.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np
import pandas as pd

from optimiser.scenarios.backtest import load_backtest
from optimiser.scenarios.skill import NATIONAL, forecast_skill

REPO_ROOT = Path(__file__).resolve().parents[1]

INSTANCES = [
    ("backtest-italy-apr2020", "Italy, 21 regions: ICU census"),
    ("backtest-us-vent-apr2020", "US, 15 states: patients on ventilators"),
    ("backtest-us-icu-apr2020", "US, 20 states: patients in ICU"),
]
COLOURS = {
    "ihme@2020-04-07": "#1f77b4",
    "ihme@2020-04-12": "#ff7f0e",
    "delphi@2020-04-16": "#2ca02c",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "docs" / "img" / "backtest-forecasts.png"
    )
    args = parser.parse_args()
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), gridspec_kw={"height_ratios": [3, 2]})
    for col, (name, title) in enumerate(INSTANCES):
        backtest = load_backtest(REPO_ROOT / "instances" / name)
        inst = backtest.instance
        dates = pd.to_datetime([inst.date(d) for d in range(inst.days)])
        top, bottom = axes[0, col], axes[1, col]
        observed = backtest.observed.to_numpy().sum(axis=0)
        for release in backtest.releases:
            forecast = backtest.forecast(release)
            colour = COLOURS.get(release.name, "grey")
            top.plot(
                dates,
                forecast.mean.to_numpy().sum(axis=0),
                color=colour,
                lw=2,
                label=f"{release.name} mean",
            )
            if forecast.lower is not None and forecast.upper is not None:
                top.fill_between(
                    dates,
                    forecast.lower.to_numpy().sum(axis=0),
                    forecast.upper.to_numpy().sum(axis=0),
                    color=colour,
                    alpha=0.15,
                    label=f"{release.name}: sum of regional 95% bounds",
                )
        top.plot(dates, observed, color="black", lw=2.5, label="observed")
        top.set_title(title)
        top.set_ylabel("patients (sum over regions)")
        top.set_ylim(bottom=0)
        top.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO, interval=2))
        top.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
        top.grid(alpha=0.3)
        top.legend(fontsize=8, loc="upper right")

        skill = forecast_skill(backtest)
        regional = skill[skill.region != NATIONAL]
        releases = list(dict.fromkeys(regional.release))
        rng = np.random.default_rng(0)  # jitter only
        for i, release in enumerate(releases):
            ratios = regional[regional.release == release].peak_ratio.to_numpy()
            x = i + rng.uniform(-0.15, 0.15, len(ratios))
            bottom.scatter(x, ratios, s=18, color=COLOURS.get(release, "grey"), alpha=0.8)
            bottom.hlines(np.median(ratios), i - 0.3, i + 0.3, color="black", lw=1.5)
        bottom.axhline(1.0, color="grey", lw=1, ls="--")
        bottom.set_yscale("log")
        ticks = [0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5]
        low, high = regional.peak_ratio.min(), regional.peak_ratio.max()
        bottom.set_yticks([t for t in ticks if low / 1.6 <= t <= high * 1.6])
        bottom.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        bottom.yaxis.set_minor_formatter(ticker.NullFormatter())
        bottom.set_xticks(range(len(releases)), releases, fontsize=8)
        bottom.set_xlim(-0.6, len(releases) - 0.4)
        bottom.set_ylabel("forecast peak / observed peak\n(one dot per region; bar: median)")
        bottom.grid(alpha=0.3, which="both", axis="y")
    fig.suptitle(
        "Spring 2020 forecasts against what happened (backtest instances; window from the day "
        "after release or 15 April to 31 May)",
        fontsize=12,
    )
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
