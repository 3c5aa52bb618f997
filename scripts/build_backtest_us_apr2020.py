#!/usr/bin/env python3
"""Build instances/backtest-us-vent-apr2020 and instances/backtest-us-icu-apr2020 (backtest
instances) from ../shared/data.

United States, 15 April - 31 May 2020 (47 days), the window of us-states-apr2020. Forecasts as
published (IHME 7 April with its 95% interval, IHME 12 April means, COVIDAnalytics' DELPHI run
of 16 April) against what the COVID Tracking Project then recorded:

* backtest-us-vent-apr2020: patients on ventilators (`onVentilatorCurrently`), for the states
  that report it on every day of the window, against forecasts of invasive ventilators needed
  (IHME InvVen, DELPHI Active.Ventilated);
* backtest-us-icu-apr2020: patients in ICU (`inIcuCurrently`), the second reading, for the
  (more) states that report it on every day, against IHME's ICU beds needed (DELPHI has no ICU
  series).

demand.csv holds IHME's 12 April mean (the forecast a team would have planned on, as in
us-states-apr2020); regions, capacity, lead times and the SNS tranches follow that instance's
rules (build_us_states_2020.py and build_us_states_apr2020.py are reused).

us_state_demand_ihme_20200409.csv is not a release of its own: it is IHME's 7 April release
rounded, as COVIDAnalytics processed it on 9 April (its src/ihme_predictions.R at commit
5ff0ad2 reads raw_data/ihme-2020_04_07.csv); `check_9_april_is_7_april` verifies this on every
build, and the instances carry the 7 April release only. Deterministic.
Usage (OUT is the folder that receives both instances, default instances/):

    .venv/bin/python scripts/build_backtest_us_apr2020.py [--data-dir DIR] [--out-dir OUT]
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_us_states_2020 as us
import build_us_states_apr2020 as apr
from backtest_utils import check_backtest, clean_forecasts, forecast_frame, write_releases
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

SCRIPT = "scripts/build_backtest_us_apr2020.py"
START = apr.START
DAYS = apr.DAYS
DATES = [date.fromordinal(START.toordinal() + d).isoformat() for d in range(DAYS)]
F_CTP = "us_states_daily_covidtracking_hospital.csv"
F_IHME07 = "ihme_hospitalization_projections_20200407_us_it_de_es.csv"
F_IHME09 = "us_state_demand_ihme_20200409.csv"
F_DELPHI = "us_state_demand_delphi_ode_apr15_may31.csv"
STUDENT_REPO = "RWashburnProjects/CAP5610_SP2022@a6ea7b49f4860005063344c612d37987da936714"
CA = us.CA_REPO
UPSTREAM = {
    **us.UPSTREAM,
    apr.F_DIST: us.UPSTREAM.get(apr.F_DIST, f"{CA}:processed/state_distances.csv (verbatim)"),
    F_CTP: "info-201a-sp21/project-DaeunLee123@aa48f3af2a93e1e0ae8c710e7760d04388ff264f:"
    "data/all-states-history.csv (COVID Tracking Project final state history; derived: ISO "
    "dates, hospital columns only, see SOURCES.md)",
    F_IHME07: f"{CA}:raw_data/ihme-2020_04_07.csv (verbatim)",
    F_IHME09: f"{CA}:processed/predicted_ihme/AllStates_2020_04_09.csv (verbatim; checked equal "
    "to the 7 April release rounded, not shipped)",
    F_DELPHI: f"{CA}:processed/predicted_ode/AllStates.csv (verbatim; added in commit 07b78b2 "
    "'April 16 run')",
}
SURVIVAL_ICU = 0.58  # 1 - 41.6 % ICU mortality of COVID-19 (Armstrong, Kane, Cook 2020)
CITATIONS = (
    " Forecasts: IHME COVID-19 health service utilization forecasting team, projections "
    f"released 2020-04-07 (github.com/{CA} raw_data/ihme-2020_04_07.csv, mean and 95% "
    "uncertainty interval) and 2020-04-12 (processed/predicted_ihme/AllStates.csv, means "
    "rounded); DELPHI epidemic model of MIT's "
    "COVIDAnalytics (Li ML, Tazi Bouardi H, Skali Lami O, et al., Forecasting COVID-19 and "
    "analyzing the effect of government interventions, Operations Research 2022), run of "
    f"2020-04-16 (processed/predicted_ode/AllStates.csv, same repository). Observed: The COVID "
    "Tracking Project at The Atlantic, state history (CC-BY-4.0), onVentilatorCurrently and "
    "inIcuCurrently."
)

KINDS = {
    "vent": {
        "name": "backtest-us-vent-apr2020",
        "observed": "onVentilatorCurrently",
        "ihme": "Ventilators",  # = InvVen_mean in the 9 and 12 April files
        "ihme07": "InvVen",
        "delphi": True,
        "resource": "ventilator",
        "what": "patients on invasive ventilators",
    },
    "icu": {
        "name": "backtest-us-icu-apr2020",
        "observed": "inIcuCurrently",
        "ihme": "ICU",  # = ICUbed_mean
        "ihme07": "ICUbed",
        "delphi": False,
        "resource": "ICU bed",
        "what": "patients in intensive care",
    },
}


def reporting_states(ctp: pd.DataFrame, column: str) -> list[str]:
    """States with a value of `column` on every day of the window (50 states only)."""
    w = ctp[ctp.date.isin(DATES)]
    counts = w.dropna(subset=[column]).groupby("state").date.nunique()
    return sorted(s for s, c in counts.items() if c == DAYS)


def mean_file(path: Path, column: str, codes: dict[str, str], states: list[str]) -> pd.DataFrame:
    f = pd.read_csv(path)
    f = f[f.Day.isin(DATES)].copy()
    f["region"] = f.State.map(codes)
    f = f[f.region.isin(states)]
    assert len(f) == len(states) * DAYS, f"{path.name}: unexpected rows"
    return forecast_frame(f.region, f.Day, f[column], digits=4)


def check_9_april_is_7_april(nine: pd.DataFrame, seven: pd.DataFrame) -> None:
    """The '9 April' file equals IHME's 7 April means rounded to whole patients."""
    both = nine.merge(seven, on=["region", "date"], suffixes=("_9", "_7"))
    assert len(both) == len(nine) == len(seven), "the two files cover different days"
    rounded = [round_half_up(v) for v in both["mean_7"]]
    differ = int((both["mean_9"].to_numpy() != rounded).sum())
    assert differ == 0, f"the 9 April file differs from the 7 April release on {differ} rows"


def build(kind: str, out: Path, data_dir: Path) -> None:
    spec = KINDS[kind]
    paths = {f: data_dir / f for f in UPSTREAM}
    table = us.build_state_table(data_dir)
    codes = dict(zip(table.name, table.region, strict=True))
    ctp = pd.read_csv(paths[F_CTP])
    states = [s for s in reporting_states(ctp, spec["observed"]) if s in set(table.region)]
    t = table[table.region.isin(states)].reset_index(drop=True)

    forecasts = {
        "ihme_2020-04-12.csv": mean_file(paths[us.F_DEMAND], spec["ihme"], codes, states),
    }
    if spec["delphi"]:
        forecasts["delphi_2020-04-16.csv"] = mean_file(
            paths[F_DELPHI], "Ventilators", codes, states
        )
    i7 = pd.read_csv(paths[F_IHME07])
    i7 = i7[i7.date.isin(DATES)].copy()
    i7["region"] = i7.location_name.map(codes)
    i7 = i7[i7.region.isin(states)]
    assert len(i7) == len(states) * DAYS, "unexpected IHME 7 April rows"
    c = spec["ihme07"]
    forecasts["ihme_2020-04-07.csv"] = forecast_frame(
        i7.region, i7.date, i7[f"{c}_mean"], i7[f"{c}_lower"], i7[f"{c}_upper"]
    )
    check_9_april_is_7_april(
        mean_file(paths[F_IHME09], spec["ihme"], codes, states), forecasts["ihme_2020-04-07.csv"]
    )

    plan_on = forecasts["ihme_2020-04-12.csv"]
    demand = pd.DataFrame(
        {
            "region": plan_on.region,
            "day": [(date.fromisoformat(d) - START).days for d in plan_on.date],
            "census": plan_on["mean"].round().astype(int),  # whole numbers in the source
        }
    )
    peak = demand.groupby("region").census.max()
    t["peak_demand"] = t.region.map(peak).astype(int)
    if kind == "icu":
        t["capacity"] = [
            round_half_up(b * (1.0 - o)) for b, o in zip(t.icu_beds, t.icu_occupancy, strict=True)
        ]
    t["excess"] = (t.peak_demand - t.capacity).clip(lower=0).astype(int)
    t["pressure"] = [
        1.0 if d <= 0 else max(1e-4, min(1.0, cap / d))
        for cap, d in zip(t.capacity, t.peak_demand, strict=True)
    ]
    regions = us.regions_csv_frame(t)
    if kind == "icu":
        regions["survival_with"] = fmt_float(SURVIVAL_ICU, 4)

    observed = ctp[ctp.date.isin(DATES) & ctp.state.isin(states)]
    observed = pd.DataFrame(
        {
            "region": observed.state,
            "date": observed.date,
            "census": observed[spec["observed"]].astype(int),
        }
    ).sort_values(["region", "date"])

    total_excess = int(t.excess.sum())
    units = us.supply_for(total_excess)
    qty = largest_remainder(units, [1.0] * len(apr.TRANCHE_DAYS))
    deliveries = pd.DataFrame({"day": apr.TRANCHE_DAYS, "quantity": qty, "depot": apr.DEPOT})
    dist = pd.read_csv(paths[apr.F_DIST], index_col=0)
    rows = [(apr.DEPOT, s, apr.DEPOT_LEAD_DAYS) for s in states]
    rows += sorted(
        (codes[a], codes[b], apr.state_lead_days(dist.loc[a, b]))
        for a in dist.index
        for b in dist.columns
        if a != b and codes[a] in states and codes[b] in states
    )
    lead = pd.DataFrame(rows, columns=["from", "to", "days"])

    files = {"instance.toml", "regions.csv", "demand.csv", "deliveries.csv", "lead_times.csv"}
    clean_dir(out, files | {"observed.csv"})
    folder = clean_forecasts(out, {"releases.csv", *forecasts})
    write_csv(regions, out / "regions.csv")
    write_csv(demand, out / "demand.csv")
    write_csv(deliveries, out / "deliveries.csv")
    write_csv(lead, out / "lead_times.csv")
    write_csv(observed, out / "observed.csv")
    for name, frame in forecasts.items():
        write_csv(frame, folder / name)
    what = "invasive ventilators needed" if kind == "vent" else "ICU beds needed"
    releases = [
        {
            "source": "ihme",
            "release": "2020-04-07",
            "file": "ihme_2020-04-07.csv",
            "quantity": f"{c}: {what} (IHME)",
            "interval_level": 0.95,
            "note": "IHME projections of 2020-04-07 with the 95% uncertainty interval",
        },
        {
            "source": "ihme",
            "release": "2020-04-12",
            "file": "ihme_2020-04-12.csv",
            "quantity": f"{spec['ihme']}: {what} (IHME mean)",
            "interval_level": "",
            "note": "IHME projections of 2020-04-12 as processed by COVIDAnalytics (mean only)",
        },
    ]
    if spec["delphi"]:
        releases.append(
            {
                "source": "delphi",
                "release": "2020-04-16",
                "file": "delphi_2020-04-16.csv",
                "quantity": "Active.Ventilated: patients on ventilators (DELPHI)",
                "interval_level": "",
                "note": "COVIDAnalytics DELPHI run dated by its commit message 'April 16 run' "
                "(07b78b2, committed 2020-05-13); starts 2020-04-15",
            }
        )
    write_releases(folder, releases)

    assumptions = us.us_assumptions(t, units)
    assumptions.pop("supply", None)
    assumptions.update(
        {
            "backtest": (
                f"window {START}..{DATES[-1]} ({DAYS} days), as us-states-apr2020. A plan made on "
                "a date may use only the forecasts in forecasts/releases.csv released by then "
                "(DELPHI's run of 16 April is not known on 15 April); observed.csv is what "
                "happened, used only to score plans."
            ),
            "scope": (
                f"{len(states)} states: those reporting {spec['observed']} to the COVID "
                f"Tracking Project on every day of the window ({', '.join(states)})."
            ),
            "observed_csv": (
                f"observed.csv census = COVID Tracking Project {spec['observed']} ({spec['what']}"
                ", census) per state and date; state definitions vary (CTP notes), some states "
                "report suspected as well as confirmed patients."
            ),
            "demand_csv": (
                f"demand.csv census = IHME {spec['ihme']} of the 2020-04-12 release (whole "
                "numbers in the source): the forecast a team would have planned on; peak_demand "
                "= its maximum in the window; the other releases are in forecasts/."
            ),
            "supply": (
                f"deliveries: {units} counterfactual SNS units (us-states-2020's rule: 50% of "
                f"these states' total excess peak demand {total_excess} under the 12 April "
                f"forecast, rounded to 100) in {len(apr.TRANCHE_DAYS)} weekly tranches on days "
                f"{apr.TRANCHE_DAYS} ({', '.join(map(str, qty))}) at depot {apr.DEPOT}."
            ),
            "lead_times": (
                f"lead_times.csv: {apr.DEPOT} -> state {apr.DEPOT_LEAD_DAYS} days; state -> state "
                "1 + ceil(degrees / 10), as us-states-apr2020."
            ),
        }
    )
    if kind == "icu":
        assumptions["capacity"] = (
            "capacity = round(HGHI Total ICU Beds x (1 - ICU Bed Occupancy Rate)): pre-COVID "
            "ICU beds not used by non-COVID patients (Harvard Global Health Institute, March "
            "2020)."
        )
        assumptions.pop("capacity_excludes", None)
        assumptions["survival_with"] = (
            f"survival_with = {SURVIVAL_ICU} = 1 - 0.416, the pooled ICU mortality of COVID-19 "
            "patients (Armstrong RA, Kane AD, Cook TM, Outcomes from intensive care in patients "
            "with COVID-19: a systematic review and meta-analysis of observational studies, "
            "Anaesthesia 2020;75(10):1340-1349)."
        )
        assumptions["survival_without"] = (
            "survival_without = 0.05: an assumption without a direct source (as the other US "
            "instances), harsher for ICU patients than for ventilated ones."
        )
    meta = {
        "name": spec["name"],
        "description": (
            f"United States, {START} to {DATES[-1]}: a backtest of IHME (7 and 12 April 2020)"
            + (" and DELPHI (16 April)" if spec["delphi"] else "")
            + f" forecasts against the COVID Tracking Project's {spec['observed']} for the "
            f"{len(states)} states that report it on every day; capacity and logistics as "
            "us-states-apr2020."
        ),
        "source": us.SOURCE_US + CITATIONS,
        "resource": spec["resource"],
        "supply": 0,
        "horizon_days": DAYS,
        "multiperiod": {
            "start_date": START.isoformat(),
            "days": DAYS,
            "demand_kind": "census",
            "default_lead_time_days": apr.DEPOT_LEAD_DAYS,
            "depots": [apr.DEPOT],
            "total_delivered": int(sum(qty)),
            "tranche_days": [d for d, q in zip(apr.TRANCHE_DAYS, qty, strict=True) if q > 0],
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
    print(f"wrote {out}: {validate_instance(out)}")
    print(check_backtest(out))


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], REPO_ROOT / "instances")
    data_dir: Path = args.data_dir.resolve()
    for kind, spec in KINDS.items():
        build(kind, args.out_dir / str(spec["name"]), data_dir)


if __name__ == "__main__":
    main()
