#!/usr/bin/env python3
"""Build instances/us-states-2020 (single period) from ../shared/data.

50 US states (IHME has no DC). Peak ventilators needed 15 Apr - 31 May 2020 (IHME release of
12 Apr 2020) against the share of the 2019 ventilator stock that is free of non-COVID patients.

Every number and assumption is documented in docs/instances-data.md and in the generated
instance.toml ([assumptions], [provenance]). Deterministic: re-running rewrites the folder
byte-for-byte. Usage:

    .venv/bin/python scripts/build_us_states_2020.py [--data-dir DIR] [--out-dir DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from instance_utils import (
    REPO_ROOT,
    US_CENTERS_SOURCE,
    clean_dir,
    fmt_float,
    parse_args,
    round_half_up,
    sha256_short,
    us_state_coordinates,
    validate_instance,
    write_csv,
    write_toml,
)

NAME = "us-states-2020"
SCRIPT = "scripts/build_us_states_2020.py"

# ---------------------------------------------------------------- assumptions
SURVIVAL_WITH = 0.55  # 1 - 45 % pooled reported CFR of IMV patients (Lim et al. 2021)
SURVIVAL_WITHOUT = 0.05  # assumption, no source: almost all die without invasive ventilation
STAFF_FACTOR = 1.0  # extra staffable ventilated beds = 1.0 x pre-COVID ICU beds (ICU doubles)
SUPPLY_FRACTION = 0.5  # supply = 50 % of total excess peak demand ...
SUPPLY_ROUND_TO = 100  # ... rounded to the nearest 100 ventilators
WINDOW = ("2020-04-15", "2020-05-31")

# ---------------------------------------------------------------- input files
F_DEMAND = "us_state_demand_ihme_20200412_apr15_may31.csv"
F_VENTS = "us_state_ventilators_2019_popadjusted.csv"
F_HGHI = "us_state_capacity_hghi_60pct_scenario.csv"
F_CCM = "us_state_capacity_covidcaremap.csv"
F_IHME_SUMMARY = "ihme_20200407_location_summary_derived.csv"

CA_REPO = "COVIDAnalytics/ventilator-allocation@aa49fd1c6509c737756f76a24a402a44e462f1cd"
CCM_REPO = "covidcaremap/covid19-healthsystemcapacity@26ba89bf99d295f6befc6e6cbd83f4a706ee5660"
UPSTREAM = {
    F_DEMAND: f"{CA_REPO}:processed/predicted_ihme/AllStates.csv (verbatim)",
    F_VENTS: f"{CA_REPO}:processed/ventilator_table_calculated.csv (verbatim)",
    F_HGHI: f"{CCM_REPO}:data/external/HGHI - Hospital Capacity by State.csv (verbatim)",
    F_CCM: f"{CCM_REPO}:data/published/us_healthcare_capacity-state-CovidCareMap.csv (verbatim; "
    "used only for the state-name -> 2-letter-code map)",
    F_IHME_SUMMARY: f"{CA_REPO}:raw_data/ihme-2020_04_07.csv (derived per-location summary, "
    "see SOURCES.md)",
}

SOURCE_US = (
    "Demand: IHME COVID-19 health service utilization forecasting team, projections released "
    "2020-04-12 (InvVen_mean, invasive ventilators needed), as processed in "
    f"github.com/{CA_REPO} processed/predicted_ihme/AllStates.csv; ICU length of stay implied by "
    f"the IHME release of 2020-04-07 ({CA_REPO} raw_data/ihme-2020_04_07.csv). "
    "Ventilator stock: Rubinson L et al., Mechanical ventilators in US acute care hospitals, "
    "Disaster Med Public Health Prep 2010;4(3):199-206, population-adjusted to 2019 with US Census "
    f"POPESTIMATE2019 in {CA_REPO} processed/ventilator_table_calculated.csv. "
    "ICU beds and pre-COVID ICU occupancy: Harvard Global Health Institute (HGHI) hospital "
    "capacity "
    "by state, March 2020 (globalepidemics.org/2020/03/17/caring-for-covid-19-patients/), as "
    f"committed in github.com/{CCM_REPO} data/external/HGHI - Hospital Capacity by State.csv. "
    "State codes: CovidCareMap us_healthcare_capacity-state-CovidCareMap.csv (same commit). "
    "Survival: Lim ZJ et al., Case fatality rates for patients with COVID-19 requiring invasive "
    "mechanical ventilation: a meta-analysis, Am J Respir Crit Care Med 2021;203(1):54-66. "
    "Surge staffing: Lefrant JY et al., Anaesth Crit Care Pain Med 2020;39(6):709-715; "
    "Rubinson L et al., Chest 2008;133(5 Suppl):18S-31S. "
    "SNS context: Center for Public Integrity via DOTmed 2020-03-26; HHS document released by the "
    "House Oversight Committee 2020-04-08 (reported by USA Today Network/Florida Today 2020-04-10 "
    "and MedCity News)."
)


def _paths(data_dir: Path) -> dict[str, Path]:
    paths = {f: data_dir / f for f in UPSTREAM}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise SystemExit(f"missing input files: {missing}")
    return paths


def provenance(data_dir: Path, script: str, files: list[str]) -> dict[str, object]:
    paths = _paths(data_dir)
    return {
        "script": script,
        "command": f".venv/bin/python {script} --data-dir ../shared/data",
        "data_dir": "../shared/data (relative to the repo root); file origins in SOURCES.md there",
        "inputs": [
            f"{f} <- github.com/{UPSTREAM[f]}; sha256[:16]={sha256_short(paths[f])}" for f in files
        ],
    }


def build_state_table(data_dir: Path) -> pd.DataFrame:
    """One row per state with every intermediate quantity (used by both US instances)."""
    p = _paths(data_dir)
    dem = pd.read_csv(p[F_DEMAND])
    dem = dem[(dem.Day >= WINDOW[0]) & (dem.Day <= WINDOW[1])]
    assert dem.State.nunique() == 50 and dem.Day.nunique() == 47, "unexpected IHME shape"
    peak = dem.groupby("State").Ventilators.max().rename("peak_demand")
    by_peak = dem.sort_values(["State", "Ventilators", "Day"], ascending=[True, False, True])
    peak_day = by_peak.groupby("State").Day.first().rename("peak_date")

    vents = pd.read_csv(p[F_VENTS]).set_index("STNAME")
    ccm = pd.read_csv(p[F_CCM]).set_index("State Name")["State"].rename("code")
    hghi = pd.read_csv(p[F_HGHI], thousands=",").set_index("State")
    hghi = hghi[["Total ICU Beds", "ICU Bed Occupancy Rate"]].rename(
        columns={"Total ICU Beds": "icu_beds", "ICU Bed Occupancy Rate": "icu_occupancy"}
    )
    los = pd.read_csv(p[F_IHME_SUMMARY]).set_index("location_name")["implied_mean_ICU_LOS_days"]

    t = pd.DataFrame({"peak_demand": peak, "peak_date": peak_day})
    t = t.join(vents[["POPESTIMATE2019", "VentCalc_2019"]], how="left")
    t = t.join(ccm, how="left").join(los.rename("los_days"), how="left")
    t = t.reset_index(names="name").merge(hghi, left_on="code", right_index=True, how="left")
    if t.isna().any().any():
        raise SystemExit(f"unmatched states:\n{t[t.isna().any(axis=1)]}")

    t["capacity"] = [
        round_half_up(s * (1.0 - o)) for s, o in zip(t.VentCalc_2019, t.icu_occupancy, strict=True)
    ]
    t["excess"] = (t.peak_demand - t.capacity).clip(lower=0).astype(int)
    t["staff_cap"] = [round_half_up(STAFF_FACTOR * b) for b in t.icu_beds]
    t["pressure"] = [
        1.0 if d <= 0 else max(1e-4, min(1.0, c / d))
        for c, d in zip(t.capacity, t.peak_demand, strict=True)
    ]
    t = t.rename(columns={"code": "region", "POPESTIMATE2019": "population"})
    t["population"] = t.population.astype(int)
    t["icu_beds"] = t.icu_beds.astype(int)
    t["peak_demand"] = t.peak_demand.astype(int)
    return t.sort_values("region").reset_index(drop=True)


def regions_csv_frame(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region": t.region,
            "name": t.name,
            "population": t.population,
            "capacity": t.capacity,
            "peak_demand": t.peak_demand,
            "survival_with": fmt_float(SURVIVAL_WITH, 4),
            "survival_without": fmt_float(SURVIVAL_WITHOUT, 4),
            "los_days": [fmt_float(x, 2) for x in t.los_days],
            "staff_cap": t.staff_cap,
            "pressure": [fmt_float(x, 4) for x in t.pressure],
        }
    )


def supply_for(total_excess: int) -> int:
    return SUPPLY_ROUND_TO * round_half_up(SUPPLY_FRACTION * total_excess / SUPPLY_ROUND_TO)


def us_assumptions(t: pd.DataFrame, supply: int) -> dict[str, str]:
    total_excess = int(t.excess.sum())
    return {
        "demand": (
            "peak_demand = the maximum over 2020-04-15..2020-05-31 of IHME's mean projection of "
            "invasive ventilators needed (InvVen_mean, release 2020-04-12) per state; IHME's early "
            "projections overestimated US demand, and states already past their peak by 15 April "
            "(e.g. NY, NJ) have their peak on the first day of the window."
        ),
        "capacity": (
            "capacity = round(VentCalc_2019 x (1 - ICU occupancy)): the 2019 full-feature "
            "ventilator "
            "stock (Rubinson 2010 survey, population-adjusted) times the share not used by "
            "non-COVID "
            "patients, proxied by the state's typical pre-COVID ICU bed occupancy rate from HGHI "
            "(March 2020). CovidCareMap's occupancy column was not used because for about 30 "
            "states "
            "it was overwritten with COVID-era (Nov 2020) dashboard values."
        ),
        "capacity_excludes": (
            "capacity counts only the full-feature mechanical ventilators of acute-care hospitals "
            "in "
            "the 2009 survey: no converted anaesthesia machines, transport or non-invasive "
            "devices, "
            "and not the ~7,920 SNS ventilators already shipped to states by 8 April 2020, so the "
            "excess demand is probably overstated."
        ),
        "survival_with": (
            f"survival_with = {SURVIVAL_WITH} for every state = 1 - 0.45, the pooled reported case "
            "fatality rate of COVID-19 patients receiving invasive mechanical ventilation (Lim et "
            "al., "
            "Am J Respir Crit Care Med 2021;203(1):54-66; 95% CI 39-52%); no state-level source, "
            "so no "
            "per-state variation."
        ),
        "survival_without": (
            f"survival_without = {SURVIVAL_WITHOUT}: an assumption without a direct source; "
            "patients "
            "who need invasive ventilation and do not get it are assumed to die in almost all "
            "cases."
        ),
        "los_days": (
            "los_days = IHME's implied mean ICU length of stay per state (sum of ICU bed-days / "
            "sum "
            "of new ICU admissions, IHME release 2020-04-07): an IHME model assumption (~7-8 "
            "days), "
            "not an observation, and probably shorter than real COVID-19 ventilation episodes."
        ),
        "staff_cap": (
            f"staff_cap = round({STAFF_FACTOR} x pre-COVID ICU beds (HGHI Total ICU Beds)): a "
            "state "
            "can staff at most as many extra ventilated patients as it had ICU beds, i.e. critical "
            "care can at most double. France achieved +95% ICU beds in spring 2020 (Lefrant et al. "
            "2020); Task Force for Mass Critical Care guidance (Rubinson et al., Chest 2008) plans "
            "for up to 3x usual ICU capacity, so this is a moderate crisis-staffing limit."
        ),
        "pressure": (
            "pressure = min(1, capacity / peak_demand): share of the peak need met by existing "
            "capacity (1 where capacity covers the peak); all capacities are > 0."
        ),
        "supply": (
            f"supply = {supply} ventilators = {SUPPLY_FRACTION:.0%} of the total excess peak "
            "demand "
            f"({total_excess}), rounded to the nearest {SUPPLY_ROUND_TO}. Counterfactual: the SNS "
            "held ~16,600 ventilators in March 2020 (CPI via DOTmed, 2020-03-26), had shipped "
            "7,920 "
            "by 8 April (HHS document released by the House Oversight Committee) and still had "
            "about "
            "9,000 in reserve (Vice President Pence, reported by MedCity News). That reserve would "
            "cover all excess here, so the instance uses a smaller delivery that forces a choice."
        ),
        "population": "population = US Census Bureau POPESTIMATE2019 (in the ventilator table).",
        "scope": (
            "50 states; DC, Puerto Rico and territories are excluded because the IHME demand file "
            "has no rows for them."
        ),
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], REPO_ROOT / "instances" / NAME)
    data_dir: Path = args.data_dir.resolve()
    out: Path = args.out_dir

    t = build_state_table(data_dir)
    total_excess = int(t.excess.sum())
    supply = supply_for(total_excess)
    short = t[t.excess > 0]

    clean_dir(out, {"instance.toml", "regions.csv", "coordinates.csv"})
    write_csv(regions_csv_frame(t), out / "regions.csv")
    write_csv(us_state_coordinates(t.name, t.region), out / "coordinates.csv")
    meta = {
        "name": NAME,
        "description": (
            "US states, COVID-19 first wave: IHME (12 Apr 2020) projected peak of invasive "
            "ventilators needed between 15 April and 31 May 2020 against the part of each state's "
            "2019 ventilator stock that is not used by non-COVID patients, with a counterfactual "
            f"federal Strategic National Stockpile delivery of {supply} ventilators to allocate "
            "now. "
            f"{len(short)} of 50 states have excess demand (total {total_excess})."
        ),
        "source": SOURCE_US,
        "resource": "ventilator",
        "supply": supply,
        "horizon_days": 47,
        "assumptions": us_assumptions(t, supply) | {"coordinates": US_CENTERS_SOURCE},
        "provenance": provenance(data_dir, SCRIPT, list(UPSTREAM)),
    }
    write_toml(meta, out / "instance.toml")

    s = validate_instance(out)
    print(f"wrote {out}: {s}")
    print(
        "states in shortage:",
        ", ".join(f"{r}={e}" for r, e in zip(short.region, short.excess, strict=True)),
    )


if __name__ == "__main__":
    main()
