#!/usr/bin/env python3
"""Build instances/italy-2020-wave1 (multi-period) from ../shared/data.

21 Italian regions / autonomous provinces x 98 days (2020-02-24 .. 2020-05-31): daily census of
COVID-19 patients in intensive care (Protezione Civile `terapia_intensiva`), pre-COVID ICU beds
(national total 5,179 distributed per capita: an assumption, the regional pre-COVID figures are
not in the data), ventilators procured nationally and delivered in tranches to one depot "ROMA",
and lead times from great-circle distances between the regional coordinates in the DPC data.
Deterministic. Usage:

    .venv/bin/python scripts/build_italy_2020_wave1.py [--data-dir DIR] [--out-dir DIR]
"""

from __future__ import annotations

import math
import sys
from datetime import date
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from instance_utils import (
    REPO_ROOT,
    clean_dir,
    fmt_float,
    largest_remainder,
    parse_args,
    round_half_up,
    sha256_short,
    validate_instance,
    write_csv,
    write_toml,
)

NAME = "italy-2020-wave1"
SCRIPT = "scripts/build_italy_2020_wave1.py"
START = date(2020, 2, 24)  # first day of the DPC regional series
END = date(2020, 5, 31)
DAYS = (END - START).days + 1  # 98

# ---------------------------------------------------------------- assumptions
PRECOVID_ICU_BEDS = 5179  # national ICU beds before the pandemic (widely reported figure)
STAFF_FACTOR = 1.0  # extra staffable ICU beds = 1.0 x pre-COVID ICU beds
SURVIVAL_WITH = 0.51  # 865 / (865 + 836) ICU survivors, Lombardy cohort (Grasselli 2020)
SURVIVAL_WITHOUT = 0.05  # assumption, no source
LOS_WINDOW = ("2020-12-03", "2021-05-31")  # first 6 months with ICU admissions reported
DEPOT = "ROMA"
KM_PER_DAY = 400.0  # lead days = 1 + floor(km / 400)
# Tranches (date, units). Dated figures: 1,231 ventilators distributed by 2020-03-29 (Arcuri
# press conference, reported by AbruzzoWeb 2020-03-31); 3,109 new ICU ventilators sent by the State
# by mid-October 2020 (TPI, Oct 2020). Timing within March/April is an assumption.
TRANCHES_MARCH = (["2020-03-15", "2020-03-22", "2020-03-29"], 1231)
TRANCHES_APRIL = (["2020-04-05", "2020-04-12", "2020-04-19", "2020-04-26"], 3109 - 1231)

F_DAILY = "italy_regions_daily.csv"
F_POP = "italy_population_by_region_age.csv"
UPSTREAM = {
    F_DAILY: "pcm-dpc/COVID-19@fc82987b9ebda01fe8e5b59d5667e3e00721edb9:"
    "dati-regioni/dpc-covid19-ita-regioni-YYYYMMDD.csv (daily files concatenated, see SOURCES.md)",
    F_POP: "pcm-dpc/COVID-19@5035c385242bc0f409c0fb4742fbff219fd2acbd:"
    "dati-statistici-riferimento/popolazione-istat-regione-range.csv (verbatim)",
}

SOURCE_IT = (
    "ICU census, ICU admissions and regional coordinates: Dipartimento della Protezione Civile, "
    "github.com/pcm-dpc/COVID-19 commit fc82987b9ebda01fe8e5b59d5667e3e00721edb9, "
    "dati-regioni/dpc-covid19-ita-regioni-YYYYMMDD.csv (CC-BY-4.0). Population: ISTAT 1 Jan 2020 "
    "via github.com/pcm-dpc/COVID-19 commit 5035c385242bc0f409c0fb4742fbff219fd2acbd "
    "dati-statistici-riferimento/popolazione-istat-regione-range.csv (CC-BY-4.0). "
    "Pre-COVID ICU beds (5,179): figure reported by TPI (tpi.it, October 2020), consistent with "
    "'5,200' given by Commissioner D. Arcuri to Parliament (28-29 April 2020, reported by "
    "Sputnik Italia) and ~5,300 in a Bank of Italy note (Aimone Gigio et al. 2020, reported by "
    "FIRSTonline). Ventilator deliveries: 1,231 distributed by 29 March 2020 (Arcuri press "
    "conference, AbruzzoWeb 2020-03-31); 3,109 new ICU ventilators sent to the regions by October "
    "2020 (TPI). Survival: Grasselli G et al., Risk factors associated with mortality among "
    "patients with COVID-19 in intensive care units in Lombardy, Italy, JAMA Internal Medicine "
    "2020. ICU surge: Lefrant JY et al., Anaesth Crit Care Pain Med 2020;39(6):709-715."
)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def lead_days(km: float) -> int:
    return 1 + int(km // KM_PER_DAY)


def build_region_table(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(regions with every intermediate quantity, the DPC daily rows of the window, all DPC
    daily rows): shared with scripts/build_backtest_italy_apr2020.py."""
    paths = {f: data_dir / f for f in UPSTREAM}
    for p in paths.values():
        if not p.is_file():
            raise SystemExit(f"missing input file {p}")

    pop = pd.read_csv(paths[F_POP])
    regions = (
        pop.groupby(["codice_regione", "sigla_regione"], as_index=False)[["totale_generale"]]
        .sum()
        .rename(columns={"sigla_regione": "region", "totale_generale": "population"})
        .sort_values("codice_regione")
        .reset_index(drop=True)
    )
    assert len(regions) == 21 and regions.region.is_unique

    cols = ["data", "codice_regione", "denominazione_regione", "lat", "long"]
    cols += ["terapia_intensiva", "ingressi_terapia_intensiva"]
    daily = pd.read_csv(paths[F_DAILY], usecols=cols)
    daily["date"] = daily.data.str[:10]
    w = daily[(daily.date >= START.isoformat()) & (daily.date <= END.isoformat())].copy()
    assert w.groupby("codice_regione").size().eq(DAYS).all() and w.codice_regione.nunique() == 21
    assert not w.duplicated(["codice_regione", "date"]).any()

    info = w.groupby("codice_regione").agg(
        name=("denominazione_regione", "first"), lat=("lat", "first"), lon=("long", "first")
    )
    regions = regions.join(info, on="codice_regione")
    code_to_id = dict(zip(regions.codice_regione, regions.region, strict=True))

    # demand.csv: ICU census per region and day
    w["region"] = w.codice_regione.map(code_to_id)
    w["day"] = [(date.fromisoformat(d) - START).days for d in w.date]
    dem = w.rename(columns={"terapia_intensiva": "census"})[["region", "day", "census"]]
    dem["census"] = dem.census.astype(int)
    dem = dem.sort_values(["region", "day"]).reset_index(drop=True)
    peak = dem.groupby("region").census.max()
    by_peak = dem.sort_values(["region", "census", "day"], ascending=[True, False, True])
    peak_day = by_peak.groupby("region").day.first()

    # LOS via Little's law on the first six months with ICU admissions reported
    lw = daily[(daily.date >= LOS_WINDOW[0]) & (daily.date <= LOS_WINDOW[1])]
    assert lw.ingressi_terapia_intensiva.notna().all()
    g = lw.groupby("codice_regione")
    los = g.terapia_intensiva.sum() / g.ingressi_terapia_intensiva.sum()

    regions["capacity"] = largest_remainder(PRECOVID_ICU_BEDS, list(regions.population))
    regions["peak_demand"] = regions.region.map(peak).astype(int)
    regions["peak_date"] = [(START.toordinal() + int(peak_day[r])) for r in regions.region]
    regions["peak_date"] = [date.fromordinal(x).isoformat() for x in regions.peak_date]
    regions["excess"] = (regions.peak_demand - regions.capacity).clip(lower=0)
    regions["staff_cap"] = [round_half_up(STAFF_FACTOR * c) for c in regions.capacity]
    regions["los_days"] = regions.codice_regione.map(los)
    regions["pressure"] = [
        1.0 if d <= 0 else max(1e-4, min(1.0, c / d))
        for c, d in zip(regions.capacity, regions.peak_demand, strict=True)
    ]
    regions = regions.sort_values("region").reset_index(drop=True)
    return regions, dem, daily


def regions_csv_frame(regions: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region": regions.region,
            "name": regions.name,
            "population": regions.population.astype(int),
            "capacity": regions.capacity.astype(int),
            "peak_demand": regions.peak_demand,
            "survival_with": fmt_float(SURVIVAL_WITH, 4),
            "survival_without": fmt_float(SURVIVAL_WITHOUT, 4),
            "los_days": [fmt_float(x, 2) for x in regions.los_days],
            "staff_cap": regions.staff_cap,
            "pressure": [fmt_float(x, 4) for x in regions.pressure],
        }
    )


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], REPO_ROOT / "instances" / NAME)
    data_dir: Path = args.data_dir.resolve()
    out: Path = args.out_dir
    paths = {f: data_dir / f for f in UPSTREAM}
    regions, dem, _ = build_region_table(data_dir)
    reg_csv = regions_csv_frame(regions)

    # deliveries.csv
    drows = []
    for dates, total in (TRANCHES_MARCH, TRANCHES_APRIL):
        for d, q in zip(dates, largest_remainder(total, [1.0] * len(dates)), strict=True):
            drows.append(((date.fromisoformat(d) - START).days, q, DEPOT))
    deliveries = pd.DataFrame(drows, columns=["day", "quantity", "depot"])

    # lead_times.csv: ROMA -> every region, every ordered region pair (haversine, 400 km/day)
    coords = {
        r: (float(la), float(lo))
        for r, la, lo in zip(regions.region, regions.lat, regions.lon, strict=True)
    }
    depot_xy = coords["LAZ"]  # Rome
    rows = [(DEPOT, r, lead_days(haversine_km(*depot_xy, *coords[r]))) for r in coords]
    rows = sorted(rows)
    rows += sorted(
        (a, b, lead_days(haversine_km(*coords[a], *coords[b])))
        for a in coords
        for b in coords
        if a != b
    )
    lead = pd.DataFrame(rows, columns=["from", "to", "days"])

    clean_dir(
        out, {"instance.toml", "regions.csv", "demand.csv", "deliveries.csv", "lead_times.csv"}
    )
    write_csv(reg_csv, out / "regions.csv")
    write_csv(dem, out / "demand.csv")
    write_csv(deliveries, out / "deliveries.csv")
    write_csv(lead, out / "lead_times.csv")

    total_excess = int(regions.excess.sum())
    n_short = int((regions.excess > 0).sum())
    tr = ", ".join(f"day {d}: {q}" for d, q, _ in drows)
    assumptions = {
        "window": (
            f"window {START} to {END} ({DAYS} days): from the first day of the DPC regional series "
            "to the end of May 2020, when the first-wave ICU census had fallen to about a tenth of "
            "its peak (national peak 4,068 on 2020-04-03)."
        ),
        "demand": (
            "demand.csv census = terapia_intensiva, COVID-19 positive patients in intensive care "
            "per region and day as published (later revisions not applied); taken as the number "
            "needing a ventilator-equipped ICU bed, although a minority of ICU patients were not "
            "invasively ventilated (87.3% received invasive ventilation in the Lombardy cohort of "
            "Grasselli et al., JAMA Intern Med 2020). peak_demand = maximum census in the window."
        ),
        "capacity": (
            f"capacity = the national pre-COVID total of {PRECOVID_ICU_BEDS} ICU beds (reported by "
            "TPI, Oct 2020; 'about 5,200' per Commissioner Arcuri, April 2020) distributed in "
            "proportion to ISTAT population (largest-remainder rounding; about 8.7 per 100,000). "
            "Regional pre-COVID bed counts are not in the data (SOURCES.md); the Bank of Italy "
            "reported about 7-10 per 100,000 across regions (Liguria 12, Trentino-Alto Adige 6.7), "
            "so per-region capacity may be off by roughly +-30%."
        ),
        "capacity_all_beds": (
            "capacity counts all pre-COVID ICU beds as available to COVID-19 patients (elective "
            "surgery was suspended), with no deduction for non-COVID ICU patients because no "
            "Italian ICU occupancy figure is in the data; unlike us-states-2020, it is therefore "
            "an "
            "upper bound and shortages are understated."
        ),
        "survival_with": (
            f"survival_with = {SURVIVAL_WITH} for every region: ICU survival in the first 1,715 "
            "patients with complete follow-up in the Lombardy ICU cohort, 865 discharged alive vs "
            "836 died in ICU (Grasselli et al., JAMA Intern Med 2020); hospital survival is lower."
        ),
        "survival_without": (
            f"survival_without = {SURVIVAL_WITHOUT}: an assumption without a direct source; "
            "patients who need ICU ventilation and do not get it are assumed to die in almost all "
            "cases."
        ),
        "los_days": (
            "los_days per region = sum of daily ICU census / sum of daily new ICU admissions "
            f"(Little's law) over {LOS_WINDOW[0]}..{LOS_WINDOW[1]}, the first six months in which "
            "DPC published ingressi_terapia_intensiva; second/third-wave data, so first-wave LOS "
            "may "
            "differ; patients who test negative while still in ICU leave the census, which biases "
            "it "
            "down."
        ),
        "staff_cap": (
            f"staff_cap = round({STAFF_FACTOR} x capacity): at most as many extra ICU patients as "
            "pre-COVID ICU beds, i.e. ICU capacity can at most double; Italy went from ~5,200 to "
            "~9,000 ICU beds by late April 2020 (+73%, Arcuri) and France +95% (Lefrant et al. "
            "2020)."
        ),
        "pressure": "pressure = min(1, capacity / peak_demand).",
        "supply": (
            "supply = 0: the depot is empty on day 0 (2020-02-24); all units arrive through "
            "deliveries.csv."
        ),
        "deliveries": (
            f"deliveries.csv: {sum(q for _, q, _ in drows)} ventilators at depot {DEPOT} = the "
            "3,109 "
            "new ICU ventilators the State had sent to the regions by October 2020 (TPI), of which "
            "1,231 by 29 March 2020 (number of ventilators distributed by that date, Arcuri press "
            "conference via AbruzzoWeb); split into weekly tranches ("
            + tr
            + "). Tranche dates and "
            "sizes are an assumption, and sending all 3,109 by the end of April probably makes "
            "supply arrive too early."
        ),
        "lead_times": (
            f"lead_times.csv: all pairs, {DEPOT}->region (21 rows) and region->region (420 rows); "
            f"days = 1 + floor(km / {KM_PER_DAY:.0f}) with km the great-circle distance between "
            f"the regional coordinates in the DPC file ({DEPOT} = Lazio's point, Rome); islands "
            "use the same rule."
        ),
        "population": "population = sum of totale_generale over age bands (ISTAT, 1 January 2020).",
        "ids": (
            "region ids are the DPC/ISTAT sigla (e.g. LOM); codice_regione 21 = BOL (P.A. "
            "Bolzano), "
            "22 = TRE (P.A. Trento); there is no 04 Trentino-Alto Adige row."
        ),
    }
    meta = {
        "name": NAME,
        "description": (
            f"Italy, COVID-19 first wave ({START} to {END}), multi-period: daily ICU census of the "
            "21 regions and autonomous provinces (Protezione Civile) against pre-COVID ICU beds "
            f"distributed per capita, with {sum(q for _, q, _ in drows)} nationally procured "
            f"ventilators arriving in weekly tranches at depot {DEPOT}. {n_short} regions have "
            f"peak census above capacity (total excess {total_excess})."
        ),
        "source": SOURCE_IT,
        "resource": "ventilator",
        "supply": 0,
        "horizon_days": DAYS,
        "multiperiod": {
            "start_date": START.isoformat(),
            "days": DAYS,
            "demand_kind": "census",
            "default_lead_time_days": 2,
            "depots": [DEPOT],
            "total_delivered": int(sum(q for _, q, _ in drows)),
            "lead_times_coverage": "all pairs: ROMA->region (21 rows) and region->region (420 "
            "rows)",
            "supply_note": "supply = 0; every unit arrives through deliveries.csv",
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

    s = validate_instance(out)
    print(f"wrote {out}: {s}")
    show = regions[
        [
            "region",
            "population",
            "capacity",
            "peak_demand",
            "peak_date",
            "excess",
            "staff_cap",
            "los_days",
            "pressure",
        ]
    ]
    print(show.to_string(index=False))


if __name__ == "__main__":
    main()
