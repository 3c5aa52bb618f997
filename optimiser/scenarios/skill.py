"""How far each forecast of a backtest instance was from what happened (docs/scenarios.md,
"What happened: the forecasts of spring 2020").

Per release and region, and for the national total (the sum over regions, region "ALL"):
peaks (size, date, ratio forecast / observed), the date each series first falls below half its
peak after it, patient-days over the window, the census on the window's last day, and, for a
release with intervals, the share of region-days whose observation fell inside the interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from optimiser.scenarios.backtest import Backtest
from optimiser.scenarios.forecasts import Release

NATIONAL = "ALL"
SKILL_COLUMNS = [
    "release",
    "region",
    "forecast_peak",
    "observed_peak",
    "peak_ratio",
    "forecast_peak_date",
    "observed_peak_date",
    "peak_shift_days",
    "forecast_half_date",
    "observed_half_date",
    "forecast_patient_days",
    "observed_patient_days",
    "patient_days_ratio",
    "last_day_ratio",
    "interval_coverage",
]


def _half_day(series: np.ndarray) -> int | None:
    """First day after the peak on which the series is below half its peak (None: never)."""
    peak = int(np.argmax(series))
    below = np.nonzero(series[peak:] < 0.5 * series[peak])[0]
    return None if not len(below) else peak + int(below[0])


def _ratio(a: float, b: float) -> float:
    return float("nan") if b <= 0 else a / b


def forecast_skill(backtest: Backtest, releases: Sequence[Release] | None = None) -> pd.DataFrame:
    """One row per release and region (then the national row), SKILL_COLUMNS."""
    inst = backtest.instance
    observed = backtest.observed.reindex(inst.regions).to_numpy(dtype=float)
    rows = []
    for release in releases if releases is not None else backtest.releases:
        forecast = backtest.forecast(release)
        mean = forecast.mean.reindex(inst.regions).to_numpy(dtype=float)
        inside = None
        if forecast.lower is not None and forecast.upper is not None:
            lo = forecast.lower.reindex(inst.regions).to_numpy(dtype=float)
            hi = forecast.upper.reindex(inst.regions).to_numpy(dtype=float)
            inside = (observed >= lo) & (observed <= hi)
        names = [*inst.regions, NATIONAL]
        for i, region in enumerate(names):
            if region == NATIONAL:
                f, o = mean.sum(axis=0), observed.sum(axis=0)
                cover = None if inside is None else float(inside.mean())
            else:
                f, o = mean[i], observed[i]
                cover = None if inside is None else float(inside[i].mean())
            f_peak, o_peak = int(np.argmax(f)), int(np.argmax(o))
            f_half, o_half = _half_day(f), _half_day(o)
            rows.append(
                {
                    "release": release.name,
                    "region": region,
                    "forecast_peak": float(f.max()),
                    "observed_peak": float(o.max()),
                    "peak_ratio": _ratio(float(f.max()), float(o.max())),
                    "forecast_peak_date": inst.date(f_peak),
                    "observed_peak_date": inst.date(o_peak),
                    "peak_shift_days": f_peak - o_peak,
                    "forecast_half_date": "" if f_half is None else inst.date(f_half),
                    "observed_half_date": "" if o_half is None else inst.date(o_half),
                    "forecast_patient_days": float(f.sum()),
                    "observed_patient_days": float(o.sum()),
                    "patient_days_ratio": _ratio(float(f.sum()), float(o.sum())),
                    "last_day_ratio": _ratio(float(f[-1]), float(o[-1])),
                    "interval_coverage": np.nan if cover is None else cover,
                }
            )
    return pd.DataFrame(rows, columns=SKILL_COLUMNS)


def skill_summary(skill: pd.DataFrame) -> pd.DataFrame:
    """Per release: the national row, with the median and range of the regional peak ratios."""
    out = []
    for release, part in skill.groupby("release", sort=False):
        national = part[part.region == NATIONAL].iloc[0]
        regional = part[part.region != NATIONAL]
        ratios = regional["peak_ratio"].dropna()
        out.append(
            {
                "release": release,
                "national_peak_ratio": national["peak_ratio"],
                "national_patient_days_ratio": national["patient_days_ratio"],
                "national_last_day_ratio": national["last_day_ratio"],
                "forecast_half_date": national["forecast_half_date"],
                "observed_half_date": national["observed_half_date"],
                "regional_peak_ratio_median": float(ratios.median()),
                "regional_peak_ratio_min": float(ratios.min()),
                "regional_peak_ratio_max": float(ratios.max()),
                "regions_peak_within_25pct": int(((ratios >= 0.8) & (ratios <= 1.25)).sum()),
                "regions": len(regional),
                "interval_coverage": national["interval_coverage"],
            }
        )
    return pd.DataFrame(out)


def log_errors(
    backtest: Backtest, release: Release, *, min_patients: float = 5.0, every: int = 7
) -> pd.DataFrame:
    """ln(observed / forecast mean) across regions, by lead time (days since the release),
    every `every` days: mean, standard deviation, and the number of regions where both the
    observation and the forecast are at least `min_patients` (below, a ratio says little).
    The spread the log-normal generator's sigma0 and sigma_growth describe, measured."""
    inst = backtest.instance
    observed = backtest.observed.reindex(inst.regions).to_numpy(dtype=float)
    mean = backtest.forecast(release).mean.reindex(inst.regions).to_numpy(dtype=float)
    start = inst.start_date
    assert start is not None
    offset = (start - release.release).days
    rows = []
    for d in range(0, inst.days, every):
        ok = (observed[:, d] >= min_patients) & (mean[:, d] >= min_patients)
        e = np.log(observed[ok, d] / mean[ok, d])
        rows.append(
            {
                "release": release.name,
                "date": inst.date(d),
                "lead_days": offset + d,
                "regions": int(ok.sum()),
                "mean": float(e.mean()) if len(e) else np.nan,
                "sd": float(e.std(ddof=1)) if len(e) > 1 else np.nan,
            }
        )
    return pd.DataFrame(rows)


__all__ = ["NATIONAL", "SKILL_COLUMNS", "forecast_skill", "log_errors", "skill_summary"]
