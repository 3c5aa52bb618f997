#!/usr/bin/env python3
"""Build instances/backtest-italy-apr2020 (a backtest instance) from ../shared/data.

21 Italian regions / autonomous provinces x 54 days (2020-04-08 .. 2020-05-31), the day after
IHME's release of 7 April 2020 to the end of May. Like with like: IHME's forecast of ICU beds
needed (ICUbed mean, 95% uncertainty interval) against the ICU census that followed
(Protezione Civile `terapia_intensiva`). demand.csv holds IHME's mean, rounded to whole
patients: the forecast a team would have planned on; observed.csv what happened; forecasts/
the release with its date and interval. Regions, capacity, lengths of stay, lead times and
the ventilator tranches follow instances/italy-2020-wave1 (its script's functions are reused).
Deterministic. Usage:

    .venv/bin/python scripts/build_backtest_italy_apr2020.py [--data-dir DIR] [--out-dir DIR]
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_italy_2020_wave1 as wave1
from backtest_utils import (
    census_from,
    check_backtest,
    clean_forecasts,
    forecast_frame,
    write_releases,
)
from instance_utils import (
    REPO_ROOT,
    clean_dir,
    fmt_float,
    largest_remainder,
    parse_args,
    sha256_short,
    validate_instance,
    write_csv,
    write_toml,
)

NAME = "backtest-italy-apr2020"
SCRIPT = "scripts/build_backtest_italy_apr2020.py"
RELEASE = date(2020, 4, 7)
START = date(2020, 4, 8)  # the first day a plan made on the release date could act on
END = date(2020, 5, 31)
DAYS = (END - START).days + 1  # 54
F_IHME = "ihme_hospitalization_projections_20200407_us_it_de_es.csv"
CA_REPO = "COVIDAnalytics/ventilator-allocation@aa49fd1c6509c737756f76a24a402a44e462f1cd"
UPSTREAM = {
    **wave1.UPSTREAM,
    F_IHME: f"{CA_REPO}:raw_data/ihme-2020_04_07.csv (verbatim)",
}
# IHME location names that differ from the DPC's denominazione_regione
IHME_NAMES = {
    "Friuli-Venezia Giulia": "Friuli Venezia Giulia",
    "Provincia autonoma di Bolzano": "P.A. Bolzano",
    "Provincia autonoma di Trento": "P.A. Trento",
}
IHME_CITATION = (
    "IHME COVID-19 health service utilization forecasting team, projections released "
    "2020-04-07 (ICUbed mean/lower/upper: ICU beds needed, 95% uncertainty interval), as "
    f"committed in github.com/{CA_REPO} raw_data/ihme-2020_04_07.csv."
)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], REPO_ROOT / "instances" / NAME)
    data_dir: Path = args.data_dir.resolve()
    out: Path = args.out_dir
    paths = {f: data_dir / f for f in UPSTREAM}
    for p in paths.values():
        if not p.is_file():
            raise SystemExit(f"missing input file {p}")

    regions, _, daily = wave1.build_region_table(data_dir)
    name_to_id = dict(zip(regions.name, regions.region, strict=True))
    dates = [(START + timedelta(days=d)).isoformat() for d in range(DAYS)]

    # forecasts/ihme_2020-04-07.csv: ICUbed over the window, as published
    ihme = pd.read_csv(paths[F_IHME])
    ihme["dpc_name"] = ihme.location_name.replace(IHME_NAMES)
    it = ihme[ihme.dpc_name.isin(set(regions.name)) & ihme.date.isin(dates)].copy()
    it["region"] = it.dpc_name.map(name_to_id)
    assert it.region.nunique() == 21 and len(it) == 21 * DAYS, "unexpected IHME Italian rows"
    forecast = forecast_frame(it.region, it.date, it.ICUbed_mean, it.ICUbed_lower, it.ICUbed_upper)

    # observed.csv: the DPC ICU census over the window
    w = daily[daily.date.isin(dates)].copy()
    code_to_id = dict(zip(regions.codice_regione, regions.region, strict=True))
    w["region"] = w.codice_regione.map(code_to_id)
    assert len(w) == 21 * DAYS and not w.duplicated(["region", "date"]).any()
    observed = pd.DataFrame(
        {"region": w.region, "date": w.date, "census": w.terapia_intensiva.astype(int)}
    ).sort_values(["region", "date"])

    # demand.csv: the planning forecast (IHME mean) in whole patients, by day number
    demand = pd.DataFrame(
        {
            "region": forecast.region,
            "day": [(date.fromisoformat(d) - START).days for d in forecast.date],
            "census": census_from(forecast["mean"]),
        }
    )
    peak = demand.groupby("region").census.max()
    reg = wave1.regions_csv_frame(regions)
    reg["peak_demand"] = reg.region.map(peak).astype(int)
    reg["pressure"] = [
        fmt_float(1.0 if d <= 0 else max(1e-4, min(1.0, c / d)), 4)
        for c, d in zip(reg.capacity, reg.peak_demand, strict=True)
    ]

    # deliveries.csv: wave1's tranches from the window on; those before it are depot stock
    tranches = []
    for dates_, total in (wave1.TRANCHES_MARCH, wave1.TRANCHES_APRIL):
        for d, q in zip(dates_, largest_remainder(total, [1.0] * len(dates_)), strict=True):
            tranches.append((date.fromisoformat(d), q))
    stock = sum(q for d, q in tranches if d < START)
    later = [((d - START).days, q) for d, q in tranches if d >= START]
    deliveries = pd.DataFrame(
        [(d, q, wave1.DEPOT) for d, q in later], columns=["day", "quantity", "depot"]
    )

    # lead_times.csv: as italy-2020-wave1
    coords = {
        r: (float(la), float(lo))
        for r, la, lo in zip(regions.region, regions.lat, regions.lon, strict=True)
    }
    rows = sorted(
        (wave1.DEPOT, r, wave1.lead_days(wave1.haversine_km(*coords["LAZ"], *coords[r])))
        for r in coords
    )
    rows += sorted(
        (a, b, wave1.lead_days(wave1.haversine_km(*coords[a], *coords[b])))
        for a in coords
        for b in coords
        if a != b
    )
    lead = pd.DataFrame(rows, columns=["from", "to", "days"])

    files = {
        "instance.toml",
        "regions.csv",
        "demand.csv",
        "deliveries.csv",
        "lead_times.csv",
        "observed.csv",
    }
    clean_dir(out, files)
    folder = clean_forecasts(out, {"releases.csv", "ihme_2020-04-07.csv"})
    write_csv(reg, out / "regions.csv")
    write_csv(demand, out / "demand.csv")
    write_csv(deliveries, out / "deliveries.csv")
    write_csv(lead, out / "lead_times.csv")
    write_csv(observed, out / "observed.csv")
    write_csv(forecast, folder / "ihme_2020-04-07.csv")
    write_releases(
        folder,
        [
            {
                "source": "ihme",
                "release": RELEASE.isoformat(),
                "file": "ihme_2020-04-07.csv",
                "quantity": "ICUbed: ICU beds needed (IHME); observed.csv is the ICU census",
                "interval_level": 0.95,
                "note": "IHME COVID-19 projections of 2020-04-07 (95% uncertainty interval)",
            }
        ],
    )

    assumptions = {
        "backtest": (
            f"window {START}..{END} ({DAYS} days): from the day after IHME's release of {RELEASE} "
            "(the first day a plan made with it could act on) to the end of May 2020. A plan "
            "made on a date may use only the forecasts in forecasts/releases.csv released by "
            "then; observed.csv is what happened, used only to score plans."
        ),
        "comparison": (
            "like with like: IHME's forecast of ICU beds needed (ICUbed) against the ICU census "
            "(terapia_intensiva: COVID-19 positive patients in intensive care, as published, "
            "later revisions not applied). For ventilators, IHME's own ratio of invasive "
            "ventilators to ICU beds at the peak is about 0.85 (InvVen / ICUbed, SOURCES.md)."
        ),
        "demand_csv": (
            "demand.csv census = IHME's ICUbed mean of the 2020-04-07 release, rounded half up "
            "to whole patients: the forecast a team would have planned on; peak_demand = its "
            "maximum in the window; forecasts/ihme_2020-04-07.csv keeps the published values "
            "(4 decimals) with the 95% interval."
        ),
        "observed_csv": (
            "observed.csv census = DPC terapia_intensiva per region and date over the window "
            "(every region reports every day)."
        ),
        "regions": (
            "population, capacity (5,179 pre-COVID ICU beds per capita), staff_cap, los_days, "
            "survival and lead times exactly as instances/italy-2020-wave1 (its [assumptions] "
            "state the sources and caveats); pressure = min(1, capacity / peak_demand) on this "
            "instance's peak_demand."
        ),
        "supply": (
            f"supply = {stock}: the ventilators delivered before {START} in italy-2020-wave1's "
            "tranches (1,231 by 29 March and 470 on 5 April) taken as national stock still to "
            "be allocated on the first day (a counterfactual: in reality most were already "
            "distributed, chiefly to Lombardy); the later tranches arrive at ROMA on days "
            f"{[d for d, _ in later]} ({', '.join(str(q) for _, q in later)} units)."
        ),
    }
    meta = {
        "name": NAME,
        "description": (
            f"Italy, {START} to {END}: a backtest of IHME's forecast of 7 April 2020 (ICU beds "
            "needed, mean and 95% interval, for the 21 regions and autonomous provinces) against "
            "the Protezione Civile ICU census that followed; regions, capacity and logistics as "
            "italy-2020-wave1."
        ),
        "source": wave1.SOURCE_IT + " Forecast: " + IHME_CITATION,
        "resource": "ICU bed",
        "supply": stock,
        "horizon_days": DAYS,
        "multiperiod": {
            "start_date": START.isoformat(),
            "days": DAYS,
            "demand_kind": "census",
            "default_lead_time_days": 2,
            "depots": [wave1.DEPOT],
            "total_delivered": int(sum(q for _, q in later)),
            "tranche_days": [d for d, _ in later],
            "lead_times_coverage": "all pairs: ROMA->region (21 rows) and region->region (420 "
            "rows)",
            "supply_note": f"supply = {stock} ventilators in the depot on day 0",
        },
        "assumptions": assumptions,
        "provenance": {
            "script": SCRIPT,
            "command": f".venv/bin/python {SCRIPT} --data-dir ../shared/data",
            "data_dir": "../shared/data (relative to the repo root); file origins in SOURCES.md "
            "there",
            "inputs": [
                f"{f} <- github.com/{UPSTREAM[f]}; sha256[:16]={sha256_short(paths[f])}"
                for f in UPSTREAM
            ],
        },
    }
    write_toml(meta, out / "instance.toml")
    print(f"wrote {out}: {validate_instance(out)}")
    print(check_backtest(out))


if __name__ == "__main__":
    main()
