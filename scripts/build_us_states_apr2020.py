#!/usr/bin/env python3
"""Build instances/us-states-apr2020 (multi-period) from ../shared/data.

50 US states x 47 days (2020-04-15 .. 2020-05-31): IHME (12 Apr 2020) daily census of invasive
ventilators needed, the same regions.csv conventions and capacity rule as us-states-2020
(imported from build_us_states_2020.py so both instances always agree), a counterfactual SNS
stockpile delivered in weekly tranches to one depot "SNS", and lead times from the distance
matrix between state centres (in degrees). Deterministic. Usage:

    .venv/bin/python scripts/build_us_states_apr2020.py [--data-dir DIR] [--out-dir DIR]
"""

from __future__ import annotations

import math
import sys
from datetime import date
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_us_states_2020 as us
from instance_utils import (
    REPO_ROOT,
    US_CENTERS_SOURCE,
    clean_dir,
    largest_remainder,
    parse_args,
    us_state_coordinates,
    validate_instance,
    write_csv,
    write_toml,
)

NAME = "us-states-apr2020"
SCRIPT = "scripts/build_us_states_apr2020.py"
START = date(2020, 4, 15)
DAYS = 47
DEPOT = "SNS"
TRANCHE_DAYS = [0, 7, 14, 21]  # weekly tranches over the first three weeks
DEPOT_LEAD_DAYS = 2  # SNS depot -> any state
DEG_PER_DAY = 10.0  # state -> state: days = 1 + ceil(degrees / 10)
F_DIST = "us_state_center_distances_degrees.csv"
us.UPSTREAM[F_DIST] = f"{us.CA_REPO}:processed/state_distances.csv (verbatim)"


def state_lead_days(deg: float) -> int:
    return 1 + math.ceil(deg / DEG_PER_DAY)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], REPO_ROOT / "instances" / NAME)
    data_dir: Path = args.data_dir.resolve()
    out: Path = args.out_dir

    t = us.build_state_table(data_dir)
    total_excess = int(t.excess.sum())
    total_units = us.supply_for(total_excess)
    name_to_code = dict(zip(t.name, t.region, strict=True))

    # demand.csv: daily census = IHME InvVen_mean (rounded in the source file)
    dem = pd.read_csv(data_dir / us.F_DEMAND)
    dem = dem[(dem.Day >= us.WINDOW[0]) & (dem.Day <= us.WINDOW[1])].copy()
    dem["region"] = dem.State.map(name_to_code)
    dem["day"] = [(date.fromisoformat(d) - START).days for d in dem.Day]
    dem = dem.rename(columns={"Ventilators": "census"})[["region", "day", "census"]]
    dem["census"] = dem.census.astype(int)
    dem = dem.sort_values(["region", "day"]).reset_index(drop=True)

    # deliveries.csv: counterfactual SNS tranches, same total as us-states-2020's supply
    qty = largest_remainder(total_units, [1.0] * len(TRANCHE_DAYS))
    deliveries = pd.DataFrame({"day": TRANCHE_DAYS, "quantity": qty, "depot": DEPOT})

    # lead_times.csv: depot -> every state, and every ordered state pair
    dist = pd.read_csv(data_dir / F_DIST, index_col=0)
    assert (dist.index == dist.columns).all() and len(dist) == 50, "unexpected distance matrix"
    rows = [(DEPOT, c, DEPOT_LEAD_DAYS) for c in sorted(t.region)]
    pairs = []
    for a in dist.index:
        for b in dist.columns:
            if a != b:
                pairs.append((name_to_code[a], name_to_code[b], state_lead_days(dist.loc[a, b])))
    rows += sorted(pairs)
    lead = pd.DataFrame(rows, columns=["from", "to", "days"])

    clean_dir(
        out,
        {"instance.toml", "regions.csv", "demand.csv", "deliveries.csv", "lead_times.csv",
         "coordinates.csv"},
    )
    write_csv(us.regions_csv_frame(t), out / "regions.csv")
    write_csv(us_state_coordinates(t.name, t.region), out / "coordinates.csv")
    write_csv(dem, out / "demand.csv")
    write_csv(deliveries, out / "deliveries.csv")
    write_csv(lead, out / "lead_times.csv")

    assumptions = us.us_assumptions(t, total_units)
    assumptions["supply"] = (
        "supply = 0: nothing is in the depot before the first delivery; all "
        f"{total_units} counterfactual SNS ventilators (the us-states-2020 supply: 50% of the "
        f"total excess peak demand {total_excess}, rounded to 100) arrive through deliveries.csv, "
        "so a model must not add supply and deliveries twice."
    )
    assumptions["deliveries"] = (
        f"deliveries: {len(TRANCHE_DAYS)} equal weekly tranches on days {TRANCHE_DAYS} "
        f"({', '.join(map(str, qty))} ventilators) at depot {DEPOT}; the schedule is an assumption "
        "(HHS reported >4,200 new ventilators delivered to the SNS by 6 May 2020 under Defense "
        "Production Act contracts, Becker's Hospital Review citing the Wall Street Journal)."
    )
    assumptions["coordinates"] = US_CENTERS_SOURCE
    assumptions["demand_csv"] = (
        "demand.csv census = IHME InvVen_mean per state and day (release 2020-04-12), i.e. "
        "patients needing an invasive ventilator at once; peak_demand in regions.csv = its "
        "maximum; capacity is constant over time (no capacity.csv)."
    )
    assumptions["lead_times"] = (
        f"lead_times.csv: {DEPOT} -> every state {DEPOT_LEAD_DAYS} days (assumption: SNS warehouse "
        "locations are not public, so one uniform value); state -> state for all 2,450 ordered "
        "pairs, days = 1 + ceil(d / 10) with d the Euclidean distance in degrees between R "
        "state.center points (10 degrees is about 850-1,100 km, about one day of ground "
        "transport), a relative proxy only; Alaska and Hawaii use the same rule although real "
        "transfers would be by air."
    )

    meta = {
        "name": NAME,
        "description": (
            "US states, 15 April - 31 May 2020, multi-period: daily IHME (12 Apr 2020) census of "
            "invasive ventilators needed per state against the part of the 2019 ventilator stock "
            "not used by non-COVID patients (same rule as us-states-2020), with a counterfactual "
            f"Strategic National Stockpile of {total_units} ventilators arriving in "
            f"{len(TRANCHE_DAYS)} weekly tranches at depot {DEPOT} and distance-based lead times."
        ),
        "source": us.SOURCE_US
        + f" State distances: {us.CA_REPO} processed/state_distances.csv (R state.center). "
        "SNS deliveries context: Becker's Hospital Review 2020-05-06 (citing the Wall Street "
        "Journal).",
        "resource": "ventilator",
        "supply": 0,
        "horizon_days": DAYS,
        "multiperiod": {
            "start_date": START.isoformat(),
            "days": DAYS,
            "demand_kind": "census",
            "default_lead_time_days": DEPOT_LEAD_DAYS,
            "depots": [DEPOT],
            "total_delivered": int(sum(qty)),
            "tranche_days": TRANCHE_DAYS,
            "lead_times_coverage": "all pairs: SNS->state (50 rows) and state->state (2450 rows)",
            "supply_note": "supply = 0; every unit arrives through deliveries.csv (incl. day 0)",
        },
        "assumptions": assumptions,
        "provenance": us.provenance(data_dir, SCRIPT, list(us.UPSTREAM)),
    }
    write_toml(meta, out / "instance.toml")

    s = validate_instance(out)
    print(f"wrote {out}: {s}")


if __name__ == "__main__":
    main()
