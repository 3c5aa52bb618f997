"""Shared helpers for the instance conversion scripts (stdlib + pandas only).

- locating the shared data directory (../shared/data relative to the repo root),
- deterministic CSV and TOML writing,
- a validator for the instance folder contract (docs/instances-data.md).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"

ALLOWED_TOP_LEVEL = {
    "name",
    "description",
    "source",
    "resource",
    "supply",
    "horizon_days",
    "defaults",
    "constraints",
    "assumptions",
    "provenance",
    "multiperiod",
}
REQUIRED_REGION_COLUMNS = ["region", "population", "capacity", "peak_demand"]
OPTIONAL_REGION_COLUMNS = [
    "name",
    "survival_with",
    "survival_without",
    "los_days",
    "staff_cap",
    "pressure",
    "weight",
]


# --------------------------------------------------------------------------- CLI


def parse_args(description: str, default_out: Path) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"directory holding the shared data files (default: {DEFAULT_DATA_DIR})",
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        default=default_out,
        help=f"instance folder to (re)generate (default: {default_out})",
    )
    return p.parse_args()


# ----------------------------------------------------------------------- numbers


def round_half_up(x: float) -> int:
    """Deterministic rounding (Python's round() is banker's rounding)."""
    return math.floor(x + 0.5)


def largest_remainder(total: int, weights: list[float]) -> list[int]:
    """Integers proportional to weights that sum exactly to total (ties: lower index first)."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    base = [math.floor(r) for r in raw]
    rest = total - sum(base)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - base[i]), i))
    for i in order[:rest]:
        base[i] += 1
    return base


def sha256_short(path: Path, n: int = 16) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]


def fmt_float(x: float, nd: int) -> str:
    """Plain decimal, no exponent, trailing zeros stripped (1.0 -> '1', 0.5500 -> '0.55')."""
    s = f"{x:.{nd}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


# --------------------------------------------------------------------------- I/O


def write_csv(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n")


def _toml_str(s: str) -> str:
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, (list, tuple)):
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v) and len(v) < 20:
            return "[" + ", ".join(_toml_value(x) for x in v) + "]"
        if len(v) <= 4 and all(isinstance(x, str) and len(x) < 40 for x in v):
            return "[" + ", ".join(_toml_value(x) for x in v) + "]"
        return "[\n" + "".join(f"  {_toml_value(x)},\n" for x in v) + "]"
    raise TypeError(f"unsupported TOML value {v!r}")


def dumps_toml(doc: dict[str, Any]) -> str:
    """Minimal TOML writer: scalars and lists at top level, then one level of [tables]."""
    lines: list[str] = []
    tables = []
    for k, v in doc.items():
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    for k, t in tables:
        lines.append("")
        lines.append(f"[{k}]")
        for kk, vv in t.items():
            if isinstance(vv, dict):
                raise TypeError("nested tables are not supported")
            lines.append(f"{kk} = {_toml_value(vv)}")
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # round-trip check
    return text


def write_toml(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps_toml(doc), encoding="utf-8", newline="\n")


US_CENTERS = Path(__file__).resolve().parent / "data" / "CenPop2010_Mean_ST.txt"
US_CENTERS_SOURCE = (
    "coordinates.csv: U.S. Census Bureau, 2010 Census Centers of Population by State "
    "(CenPop2010_Mean_ST.txt, public domain; scripts/data/): each state's mean center of "
    "population (latitude, longitude in degrees), used only to draw maps."
)


def us_state_coordinates(names: pd.Series, codes: pd.Series) -> pd.DataFrame:
    """region, lat, lon of US states (by name) from the Census centers of population."""
    centers = pd.read_csv(US_CENTERS, dtype={"STATEFP": str})
    by_name = centers.set_index("STNAME")
    missing = sorted(set(names) - set(by_name.index))
    if missing:
        raise SystemExit(f"no center of population for {missing}")
    return pd.DataFrame(
        {
            "region": list(codes),
            "lat": [round(float(by_name.loc[n, "LATITUDE"]), 6) for n in names],
            "lon": [round(float(by_name.loc[n, "LONGITUDE"]), 6) for n in names],
        }
    ).sort_values("region")


def clean_dir(out: Path, keep: set[str]) -> None:
    """Remove files in the instance folder that this script does not write."""
    out.mkdir(parents=True, exist_ok=True)
    for p in out.iterdir():
        if p.is_file() and p.name not in keep:
            p.unlink()


# ---------------------------------------------------------------------- validate


class InstanceError(ValueError):
    pass


def _check(cond: object, msg: str) -> None:
    if not cond:
        raise InstanceError(msg)


def _is_int_series(s: pd.Series) -> bool:
    return bool(pd.api.types.is_integer_dtype(s))


def validate_instance(folder: Path) -> dict[str, Any]:
    """Check an instance folder against the contract; return a dict of summary numbers."""
    toml_path = folder / "instance.toml"
    _check(toml_path.is_file(), f"{toml_path} missing")
    meta = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    unknown = set(meta) - ALLOWED_TOP_LEVEL
    _check(not unknown, f"unknown top-level keys {sorted(unknown)}")
    for k in ("name", "description", "source", "resource", "supply"):
        _check(k in meta, f"instance.toml lacks {k}")
    _check(isinstance(meta["supply"], int) and meta["supply"] >= 0, "supply must be int >= 0")
    if "horizon_days" in meta:
        _check(meta["horizon_days"] > 0, "horizon_days must be > 0")
    for k in ("assumptions", "provenance", "defaults", "multiperiod"):
        if k in meta:
            _check(isinstance(meta[k], dict), f"[{k}] must be a table")
    if "assumptions" in meta:
        _check(
            all(isinstance(v, str) for v in meta["assumptions"].values()), "assumptions: strings"
        )

    rpath = folder / "regions.csv"
    _check(rpath.is_file(), "regions.csv missing")
    r = pd.read_csv(rpath, keep_default_na=False, na_values=[""])
    for c in REQUIRED_REGION_COLUMNS:
        _check(c in r.columns, f"regions.csv lacks {c}")
    extra = set(r.columns) - set(REQUIRED_REGION_COLUMNS) - set(OPTIONAL_REGION_COLUMNS)
    _check(not extra, f"regions.csv has unknown columns {sorted(extra)}")
    non_blank = [c for c in r.columns if c != "staff_cap"]
    _check(not r[non_blank].isna().any().any(), "regions.csv has blank/NaN values")
    _check(r.region.is_unique, "region ids not unique")
    _check(
        all(str(x).isascii() and " " not in str(x) for x in r.region), "region ids must be ASCII"
    )
    _check(_is_int_series(r.population) and (r.population > 0).all(), "population int > 0")
    _check(_is_int_series(r.capacity) and (r.capacity >= 0).all(), "capacity int >= 0")
    _check((r.peak_demand >= 0).all(), "peak_demand >= 0")
    if "survival_with" in r:
        _check(r.survival_with.between(0, 1).all(), "survival_with in [0,1]")
    if "survival_without" in r:
        _check(r.survival_without.between(0, 1).all(), "survival_without in [0,1]")
        sw = r.survival_with if "survival_with" in r else 1.0
        _check((r.survival_without <= sw).all(), "survival_without <= survival_with")
    if "los_days" in r:
        _check((r.los_days > 0).all(), "los_days > 0")
    if "staff_cap" in r:
        sc = r.staff_cap.dropna()
        _check(((sc >= 0) & (sc == sc.round())).all(), "staff_cap integer >= 0")
    if "pressure" in r:
        _check(((r.pressure > 0) & (r.pressure <= 1)).all(), "pressure in (0,1]")
    if "weight" in r:
        _check((r.weight > 0).all(), "weight > 0")

    cpath = folder / "coordinates.csv"
    if cpath.is_file():
        c = pd.read_csv(cpath, dtype={"region": str})
        _check(list(c.columns) == ["region", "lat", "lon"], "coordinates.csv: region, lat, lon")
        _check(set(c.region) == set(r.region.astype(str)), "coordinates.csv regions differ")
        _check(c.lat.between(-90, 90).all() and c.lon.between(-180, 180).all(), "bad degrees")

    excess = (r.peak_demand - r.capacity).clip(lower=0)
    summary: dict[str, Any] = {
        "regions": len(r),
        "supply": meta["supply"],
        "total_peak_demand": float(r.peak_demand.sum()),
        "total_capacity": int(r.capacity.sum()),
        "total_excess": float(excess.sum()),
        "regions_in_shortage": int((excess > 0).sum()),
    }

    mp = meta.get("multiperiod")
    if mp is not None:
        for k in ("start_date", "days", "demand_kind", "default_lead_time_days", "depots"):
            _check(k in mp, f"[multiperiod] lacks {k}")
        D = mp["days"]
        _check(isinstance(D, int) and D > 0, "days int > 0")
        _check(mp["demand_kind"] in ("census", "new_patients"), "demand_kind")
        depots = list(mp["depots"])
        _check(not set(depots) & set(r.region), "depot ids clash with region ids")
        d = pd.read_csv(folder / "demand.csv")
        col = mp["demand_kind"]
        _check(list(d.columns) == ["region", "day", col], f"demand.csv columns {list(d.columns)}")
        _check(not d.isna().any().any(), "demand.csv has NaN")
        _check(_is_int_series(d.day) and d.day.between(0, D - 1).all(), "demand day range")
        _check((d[col] >= 0).all(), "demand >= 0")
        _check(not d.duplicated(["region", "day"]).any(), "demand.csv duplicate region/day")
        _check(len(d) == len(r) * D, f"demand.csv has {len(d)} rows, expected {len(r) * D}")
        _check(set(d.region) == set(r.region), "demand.csv regions differ from regions.csv")
        if col == "census":
            pk = d.groupby("region")[col].max()
            _check(
                (pk.reindex(r.region).to_numpy() == r.peak_demand.to_numpy()).all(),
                "peak_demand != max census",
            )
        dl = pd.read_csv(folder / "deliveries.csv")
        _check({"day", "quantity"} <= set(dl.columns), "deliveries.csv columns")
        _check(not dl.isna().any().any(), "deliveries.csv NaN")
        _check(dl.day.between(0, D - 1).all(), "delivery day range")
        _check(_is_int_series(dl.quantity) and (dl.quantity >= 0).all(), "delivery quantity")
        if "depot" in dl:
            _check(set(dl.depot) <= set(depots), "delivery depot unknown")
        summary["total_delivered"] = int(dl.quantity.sum())
        lt_path = folder / "lead_times.csv"
        if lt_path.is_file():
            lt = pd.read_csv(lt_path)
            _check(list(lt.columns) == ["from", "to", "days"], "lead_times.csv columns")
            _check(not lt.isna().any().any(), "lead_times NaN")
            _check(set(lt["from"]) <= set(r.region) | set(depots), "lead_times from unknown")
            _check(set(lt["to"]) <= set(r.region), "lead_times to unknown")
            _check(_is_int_series(lt.days) and (lt.days >= 0).all(), "lead days int >= 0")
            _check(not lt.duplicated(["from", "to"]).any(), "lead_times duplicates")
            summary["lead_time_rows"] = len(lt)
        summary["peak_total_census"] = float(d.groupby("day")[col].sum().max())
    for f in folder.iterdir():
        if f.suffix == ".csv":
            _check(f.stat().st_size < 1_000_000, f"{f.name} is not well under 1 MB")
    return summary
