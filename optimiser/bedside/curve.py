"""From bedside to region: the survivors each extra unit gains under the policy, as tiers.csv
for the regional engine (docs/bedside.md, "From bedside to region").

For a site, L(u) is the expected survivors gained over the horizon when the site has u more
units than it has (the policy applied online, as it will be). The marginal m_u = L(u) - L(u-1)
is made non-increasing by pooling adjacent violators (the closest non-increasing sequence in
least squares; it keeps L at the end of every pooled block, so the total is exact; a pooled
block that would gain less than nothing, an extra unit that changes later decisions for the
worse, is set to 0). The curve runs to the regional supply at most (`max_units`): the
regional model can never send a region more. The
regional model's lives are sum_k g_rk t_r u_rk over tiers of E_r excess units: with
E_r = U (the units that still gain anything), tier k the units of one pooled block,
share_k = units_k / U and survival_with_k = survival_without_r + m_k / t_r, the regional
lives of x units are exactly L(min(x, U)). t_r = H / los_r is raised above the site's mean
course (los_r lowered) only if a block gains more than (1 - survival_without_r) per turnover,
so that every survival_with_k stays a probability.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from optimiser.bedside.horizon import run_online, stream_from
from optimiser.bedside.io import BedsideInputs, Units
from optimiser.bedside.scores import rank_patients
from optimiser.errors import InputError, Problem, listed


@dataclass(frozen=True)
class Curve:
    site: str
    units_now: int
    lives: np.ndarray  # L(0..U)
    marginal: np.ndarray  # m_1..m_U as simulated
    concave: np.ndarray  # pooled, non-increasing
    mean_days: float

    @property
    def useful_units(self) -> int:
        return len(self.concave)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"site": self.site, "extra_unit": np.arange(1, len(self.marginal) + 1),
                             "lives": self.lives[1:], "marginal": self.marginal,
                             "marginal_concave": self.concave})


def pool_adjacent_violators(values: np.ndarray | list[float]) -> np.ndarray:
    """The non-increasing sequence closest to `values` in least squares (block means)."""
    blocks: list[list[float]] = []  # [sum, count]
    for v in np.asarray(values, dtype=float).tolist():
        blocks.append([v, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] < blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    return np.concatenate([np.full(int(c), s / c) for s, c in blocks]) if blocks else np.zeros(0)


def site_curve(inputs: BedsideInputs, site: str, max_units: int | None = None) -> Curve:
    """L(u) for u = 0..U extra units at `site` (U: until every candidate is treated)."""
    patients = inputs.cohort.patients
    mine = patients[patients["site"] == site]
    if mine.empty:
        raise InputError(Problem(f"no patients at site {site!r}", column="site",
                                 column_word="option"))
    cohort = replace(inputs.cohort, patients=mine)
    table = inputs.units.table
    base = Units(table[table["site"] == site].reset_index(drop=True), inputs.units.source)
    policy = inputs.policy
    ranking = rank_patients(mine, policy, detail=False)
    gain = (mine["survival_with"] - mine["survival_without"]).to_numpy(dtype=float)
    candidates = int((~ranking.excluded).sum())
    limit = candidates if max_units is None else min(max_units, candidates)
    lives = []
    for extra in range(limit + 1):
        more = base.table.copy()
        more["units"] = more["units"] + extra
        stream = stream_from(cohort, Units(more, base.source))
        run = run_online(stream, policy, ranking, method=policy.method)
        lives.append(float(gain[run.treated].sum()))
        if run.treated.sum() >= candidates:
            break
    values = np.array(lives)
    marginal = np.diff(values)
    while len(marginal) and marginal[-1] <= 1e-12:  # units that gain nothing are not demand
        marginal = marginal[:-1]
    concave = np.maximum(pool_adjacent_violators(marginal), 0.0)
    while len(concave) and concave[-1] <= 1e-12:  # a pooled block that gains nothing
        concave = concave[:-1]
    marginal = marginal[: len(concave)]
    days = mine.loc[~ranking.excluded, "expected_days"].to_numpy(dtype=float)
    return Curve(site, int(base.on_day(site, int(mine["day"].min()))), values[: len(marginal) + 1],
                 marginal, concave, float(days.mean()))


def curves_to_instance(inputs: BedsideInputs, regional: str | Path, out: Path,
                       sites: list[str] | None = None,
                       max_units: int | None = None) -> tuple[list[Curve], pd.DataFrame]:
    """Copy the regional instance to `out` with each site's curve as tiers (module doc)."""
    from optimiser.instance import load_instance

    if max_units is not None and (isinstance(max_units, bool) or not isinstance(max_units, int)
                                  or max_units < 1):
        raise InputError(Problem(f"must be a whole number >= 1, got {max_units!r}",
                                 column="max-units", column_word="option"))
    instance = load_instance(regional)
    # sites given but empty (`--sites ''`, `--sites ,`) is no site, not "every site"
    chosen = (list(dict.fromkeys(sites)) if sites is not None
              else [s for s in inputs.units.sites if s in instance.region_ids])
    unknown = [s for s in chosen if s not in instance.region_ids]
    if unknown or not chosen:
        name, ids = Path(regional).name, ", ".join(instance.region_ids)
        what = (f"{listed('site', unknown, ' ')} "
                + ("is not a region" if len(unknown) == 1 else "are not regions")
                + f" of {name} (its regions: {ids})"
                if unknown else f"no site given (the regions of {name}: {ids})"
                if sites is not None else f"no site of units.csv "
                f"({', '.join(inputs.units.sites)}) is a region of {name} (its regions: {ids})")
        raise InputError(Problem(what, column="sites", column_word="option"))
    limit = instance.supply if max_units is None else max_units
    curves = [site_curve(inputs, s, limit) for s in chosen]
    regions = instance.regions.copy()
    horizon = instance.horizon
    rows = []
    for curve in curves:
        r = curve.site
        swo = float(regions.loc[r, "survival_without"])  # type: ignore[arg-type]
        capacity = float(regions.loc[r, "capacity"])  # type: ignore[arg-type]
        turnover = horizon / curve.mean_days
        if len(curve.concave):
            turnover = max(turnover, float(curve.concave.max()) / max(1.0 - swo, 1e-9))
        regions.at[r, "los_days"] = horizon / turnover
        regions.at[r, "peak_demand"] = capacity + curve.useful_units
        blocks = _blocks(curve.concave)
        if not blocks:
            regions.at[r, "peak_demand"] = capacity
            continue
        regions.at[r, "survival_with"] = min(1.0, swo + blocks[0][1] / turnover)
        for units, marginal in blocks:
            rows.append({"region": r, "share": units / curve.useful_units,
                         "survival_with": min(1.0, swo + marginal / turnover)})
    tiers = pd.DataFrame(rows, columns=["region", "share", "survival_with"])
    if instance.tiers is not None:
        kept = instance.tiers[~instance.tiers["region"].isin(chosen)]
        tiers = pd.concat([kept[["region", "share", "survival_with"]], tiers], ignore_index=True)
    _write(Path(regional), out, regions, tiers)
    provenance = {"policy": inputs.policy.describe(), "inputs": {
        "sha256": dict(inputs.hashes), "files": {k: str(v) for k, v in inputs.files.items()}},
        "sites": [c.site for c in curves], "max_units": limit}
    (out / "bedside_policy.json").write_text(
        json.dumps(provenance, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return curves, tiers


def _blocks(values: np.ndarray) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    for v in values.tolist():
        if out and math.isclose(out[-1][1], v, rel_tol=1e-12, abs_tol=1e-12):
            out[-1] = (out[-1][0] + 1, out[-1][1])
        else:
            out.append((1, v))
    return out


def _write(source: Path, out: Path, regions: pd.DataFrame, tiers: pd.DataFrame) -> None:
    """The regional instance with the new regions.csv and tiers.csv (written atomically by
    the caller's write_outputs when used from the CLI)."""
    out.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.is_file() and item.name not in ("regions.csv", "tiers.csv"):
            shutil.copy2(item, out / item.name)
    frame = regions.reset_index()
    frame.to_csv(out / "regions.csv", index=False, lineterminator="\n", float_format="%.12g")
    tiers.to_csv(out / "tiers.csv", index=False, lineterminator="\n", float_format="%.15g")
