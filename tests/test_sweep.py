"""Sweeps: every fast-path variant equals a from-scratch optimiser.solve of the same modified
instance (built here independently, from DataFrames); the greedy path equals HiGHS and an
independent greedy, and is used only where exact; failed and infeasible variants (NA units);
the rebuild fallback; resuming; parallel and Dask."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tolerances import lives_tol

import optimiser
from models.fairness import REGISTRY, FairnessKind, ParamSpec
from optimiser.errors import InputError
from optimiser.sweeps import run_sweep, sweep

US = Path(__file__).resolve().parents[1] / "instances" / "us-states-2020"


@pytest.fixture(scope="module")
def us() -> optimiser.Instance:
    return optimiser.load_instance(US)


@pytest.fixture(scope="module")
def tiered(make_instance) -> optimiser.Instance:
    """Six regions: tiers, staff caps, a region without los_days, unequal weights and pressure."""
    rows = [
        {
            "region": "A",
            "population": 900_000,
            "capacity": 40,
            "peak_demand": 160,
            "survival_with": 0.6,
            "survival_without": 0.1,
            "los_days": 8,
            "staff_cap": 70,
            "pressure": 0.4,
            "weight": 1.5,
        },
        {
            "region": "B",
            "population": 2_000_000,
            "capacity": 90,
            "peak_demand": 210,
            "survival_with": 0.5,
            "los_days": 12,
            "pressure": 0.6,
        },
        {
            "region": "C",
            "population": 400_000,
            "capacity": 30,
            "peak_demand": 95,
            "survival_with": 0.7,
            "staff_cap": 25,
            "pressure": 0.5,
            "weight": 2,
        },
        {
            "region": "D",
            "population": 1_300_000,
            "capacity": 120,
            "peak_demand": 100,
            "survival_with": 0.55,
            "los_days": 6,
        },
        {
            "region": "E",
            "population": 700_000,
            "capacity": 10,
            "peak_demand": 75.5,
            "survival_with": 0.45,
            "los_days": 10,
            "staff_cap": 60,
            "pressure": 0.3,
        },
        {
            "region": "F",
            "population": 1_100_000,
            "capacity": 60,
            "peak_demand": 140,
            "survival_with": 0.65,
            "los_days": 9,
            "pressure": 0.7,
            "weight": 0.5,
        },
    ]
    tiers = [
        {"region": "A", "share": 0.3, "survival_with": 0.9},
        {"region": "A", "share": 0.7, "survival_with": 0.5},
        {"region": "F", "share": 0.5, "survival_with": 0.4},
        {"region": "F", "share": 0.5, "survival_with": 0.8},
    ]
    return make_instance(rows, 220, tiers=tiers, name="tiered")


# ---------------------------------------------------------------------------------------------
# The reference: the modified instance built from DataFrames, solved from scratch


def reference_instance(
    instance: optimiser.Instance, values: dict[str, float]
) -> optimiser.Instance:
    regions = instance.regions.copy()
    tiers = (
        None
        if instance.tiers is None
        else instance.tiers[["region", "share", "survival_with"]].copy()
    )
    supply, horizon = instance.supply, instance.horizon_days
    for name, value in values.items():
        if name == "supply":
            supply = int(value)
        elif name == "horizon_days":
            horizon = float(value)
        elif "." not in name:
            column, _, named = name.partition("@")
            scale = column.endswith("*")
            column = column.rstrip("*")
            rows = named.split(",") if named else list(regions.index)
            new = regions.loc[rows, column] * value if scale else pd.Series(value, index=rows)
            if column == "staff_cap":
                new = np.floor(new + 1e-9)
            regions.loc[rows, column] = new
            if column == "survival_with" and tiers is not None:
                mask = tiers["region"].isin(rows)
                tiers.loc[mask, "survival_with"] = (
                    tiers.loc[mask, "survival_with"] * value if scale else value
                )
    return optimiser.instance_from_frames(
        regions.reset_index(), supply, tiers=tiers, horizon_days=horizon, name=instance.name
    )


def reference_constraints(
    base: list[str], values: dict[str, float]
) -> list[optimiser.ConstraintSpec]:
    specs = [optimiser.parse_constraint(c) for c in base]
    for name, value in values.items():
        if "." in name and "*" not in name:
            kind, param = name.split(".")
            index = next((i for i, s in enumerate(specs) if s.kind == kind), None)
            params = dict(specs[index].params) if index is not None else {}
            params[param] = value
            spec = optimiser.constraint(kind, **params)
            if index is None:
                specs.append(spec)
            else:
                specs[index] = spec
    return specs


def check_against_reference(
    instance, base, design, *, tie_break=False, price=True, expect_path="fast", greedy=True
):
    texts = []
    for column in design.columns:
        name, at, regions = column.partition("@")
        values = ",".join(repr(float(v)) for v in sorted(design[column].unique()))
        texts.append(f"{name}={values}" + (f"@{regions}" if at else ""))
    result = run_sweep(
        instance,
        texts,
        design=design,
        constraints=base,
        default_constraints=False,
        price_of_fairness=price,
        tie_break=tie_break,
        greedy=greedy,
    )
    v = result.variants
    assert len(v) == len(design)
    for i, values in enumerate(design.to_dict("records")):
        row = v.loc[i]
        ref_instance = reference_instance(instance, values)
        specs = reference_constraints(base, values)
        ref = optimiser.solve(
            ref_instance,
            constraints=specs,
            default_constraints=False,
            price_of_fairness=False,
            tie_break=tie_break,
        )
        assert row["status"] == str(ref.status), (values, row["reason"], ref.explanation)
        assert row["path"] == expect_path
        if ref.lives_saved is None:
            assert math.isnan(row["lives_saved"])
            assert "infeasible" in row["reason"] and "units" in row["reason"]
            continue
        assert abs(row["lives_saved"] - ref.lives_saved) <= lives_tol(ref.lives_saved), values
        if price:
            assert abs(row["lives_optimal"] - ref.lives_optimal) <= lives_tol(ref.lives_optimal), (
                values
            )
            assert row["price_of_fairness"] == pytest.approx(
                max(0.0, row["lives_optimal"] - row["lives_saved"])
            )
            assert row["price_of_fairness"] >= 0
        units = result.regions[result.regions["variant"] == i].set_index("region")["units"]
        assert int(units.sum()) <= ref_instance.supply
        assert int(units.sum()) == row["units_sent"]
        caps = ref_instance.staff_cap.reindex(units.index)
        assert (units <= caps).all()
        # the allocation the sweep reports saves the lives it reports (independent lives function)
        assert sum(
            optimiser.evaluate(
                ref_instance, units.to_dict(), specs, default_constraints=False
            ).regions["lives"]
        ) == pytest.approx(row["lives_saved"], rel=1e-9, abs=1e-9)
        if tie_break:  # canonical allocations: the very same units
            assert units.to_dict() == ref.allocation, values
    return result


def random_design(
    rng: np.random.Generator, n: int, columns: dict[str, tuple[float, float]], integer=("supply",)
) -> pd.DataFrame:
    data = {}
    for name, (lo, hi) in columns.items():
        if name in integer:
            data[name] = rng.integers(int(lo), int(hi) + 1, size=n)
        else:
            data[name] = np.round(rng.uniform(lo, hi, size=n), 3)
    return pd.DataFrame(data)


@pytest.mark.parametrize("greedy", [True, False], ids=["greedy", "highs"])
@pytest.mark.parametrize("seed", [1, 2])
def test_fast_path_equals_rebuild_us_states_floors_and_columns(us, seed, greedy):
    """Floors only, lives only: the exact greedy (or, with greedy off, HiGHS in place)."""
    rng = np.random.default_rng(seed)
    design = random_design(
        rng,
        8,
        {
            "supply": (0, 6000),
            "survival_with*": (0.6, 1.5),
            "peak_demand*@NY,NJ,MA": (0.6, 1.4),
            "capacity*": (0.8, 1.2),
            "staff_cap*": (0.2, 1.2),
            "los_days*@NY,CT": (0.7, 1.3),
            "per_capita_floor.share": (0.0, 0.6),
            "coverage_floor.level": (0.0, 0.6),
        },
    )
    check_against_reference(
        us, ["min_units:units=3"], design, greedy=greedy, expect_path="greedy" if greedy else "fast"
    )


def test_fast_path_equals_rebuild_with_coverage_gap_rows(us):
    rng = np.random.default_rng(5)
    design = random_design(
        rng,
        5,
        {
            "supply": (1000, 8000),
            "peak_demand*": (0.8, 1.2),
            "survival_with*": (0.8, 1.2),
            "min_units.units": (0, 30),
        },
    )
    check_against_reference(us, ["max_coverage_gap:gap=0.4"], design)


@pytest.mark.parametrize("seed", [3, 4])
def test_fast_path_equals_rebuild_tiers_threshold_prioritarian(tiered, seed):
    rng = np.random.default_rng(seed)
    design = random_design(
        rng,
        10,
        {
            "supply": (0, 500),
            "survival_with*": (0.8, 1.1),
            "los_days*@B,E": (0.6, 1.4),
            "horizon_days": (5, 20),
            "excess_per_capita_floor.share": (0.0, 0.5),
            "capacity_per_capita_floor.beds_per_100k": (0.0, 8.0),
            "threshold.tau": (0.0, 60.0),
        },
    )
    check_against_reference(
        tiered, ["prioritarian:weights=excess_per_capita", "threshold:tau=20"], design
    )


def test_fast_path_equals_rebuild_coverage_gap_on_tiers(tiered):
    rng = np.random.default_rng(11)
    design = random_design(
        rng,
        6,
        {
            "supply": (50, 600),
            "staff_cap*": (0.5, 1.5),
            "peak_demand*@A,C": (0.7, 1.3),
            "max_coverage_gap.gap": (0.1, 0.6),
        },
    )
    check_against_reference(tiered, ["prioritarian:weights=column"], design)


def test_tie_break_sweep_gives_canonical_units(tiered, pugh):
    rng = np.random.default_rng(9)
    design = random_design(
        rng,
        5,
        {"supply": (0, 500), "survival_with*": (0.9, 1.1), "per_capita_floor.share": (0, 0.5)},
    )
    check_against_reference(tiered, ["max_coverage_gap:gap=0.5"], design, tie_break=True)
    # Table 1 ties everywhere (no survival data): the tie-break decides every unit
    design = pd.DataFrame(
        {"supply": [0, 1, 999, 1000, 3500], "min_units.units": [0, 1, 100, 250, 10]}
    )
    check_against_reference(pugh, [], design, tie_break=True, price=False)


def test_unconstrained_supply_sweep_equals_exact_greedy(us):
    """Lives are separable and concave: the optimum fills the best marginal units first."""
    table = sweep(us, {"supply": "0:6000:250"}, default_constraints=False)
    r = us.regions
    value = (r["survival_with"] - r["survival_without"]) * us.turnover
    excess = us.excess_demand
    cap = us.staff_cap
    blocks = []  # (lives per unit, units)
    for rid in r.index:
        usable = min(excess[rid], cap[rid])
        whole = math.floor(usable)
        blocks.append((value[rid], whole))
        if usable > whole:
            blocks.append((value[rid] * (usable - whole), 1))
    blocks.sort(key=lambda b: -b[0])
    for supply, lives in zip(table["supply"], table["lives_saved"], strict=True):
        left, best = supply, 0.0
        for per_unit, count in blocks:
            take = min(left, count)
            best += take * per_unit
            left -= take
        assert abs(lives - best) <= lives_tol(best), supply
    assert (table["status"] == "optimal").all() and (table["path"] == "greedy").all()


# ---------------------------------------------------------------------------------------------
# The greedy path: exact, cross-checked against HiGHS, used only where it is valid


def random_instance(rng: np.random.Generator, make_instance, n: int) -> optimiser.Instance:
    """Fractional demands and capacities, staff caps, missing los_days, tiers, zero gains."""
    rows, tiers = [], []
    for i in range(n):
        sw = float(rng.choice([0.3, 0.5, 0.7, 0.9]))
        swo = float(rng.choice([0.0, 0.1, sw]))  # sw == swo: a region nobody is saved in
        rows.append(
            {
                "region": f"R{i}",
                "population": int(rng.integers(1_000, 2_000_000)),
                "capacity": round(float(rng.uniform(0, 40)), 2),
                "peak_demand": round(float(rng.uniform(0, 90)), 2),
                "survival_with": sw,
                "survival_without": swo,
                "los_days": None if rng.random() < 0.3 else int(rng.integers(3, 15)),
                "staff_cap": None if rng.random() < 0.5 else int(rng.integers(0, 40)),
            }
        )
        if rng.random() < 0.4:
            share = round(float(rng.uniform(0.1, 0.9)), 3)
            for part, survival in ((share, 0.95), (1 - share, swo)):
                tiers.append({"region": f"R{i}", "share": part, "survival_with": survival})
    return make_instance(rows, 100, tiers=tiers or None, horizon_days=None)


FLOOR_KINDS = [
    "per_capita_floor.share",
    "excess_per_capita_floor.share",
    "coverage_floor.level",
    "capacity_per_capita_floor.beds_per_100k",
    "min_units.units",
]


@pytest.mark.parametrize("seed", range(6))
def test_greedy_equals_highs_on_random_instances(make_instance, seed):
    """Every floor family, tiers, caps, fractional demands, infeasible floors: the greedy gives
    the same status, lives (to HiGHS's gap; it is never worse) and L* as HiGHS in place."""
    rng = np.random.default_rng(100 + seed)
    inst = random_instance(rng, make_instance, int(rng.integers(3, 9)))
    floor = FLOOR_KINDS[seed % len(FLOOR_KINDS)]
    top = {"capacity_per_capita_floor.beds_per_100k": 8.0, "min_units.units": 20.0}.get(floor, 1.0)
    vary = [
        "supply=0:400",
        f"{floor}=0:{top}",
        "survival_with*=1:1.05",
        "peak_demand*=0.5:1.5@R0,R1",
        "staff_cap*=0.5:1.5",
    ]
    kw = {"samples": 60, "seed": seed, "default_constraints": False, "price_of_fairness": True}
    greedy = run_sweep(inst, vary, **kw)
    highs = run_sweep(inst, vary, greedy=False, **kw)
    g, h = greedy.variants, highs.variants
    assert set(g["path"]) <= {"greedy"} and set(h["path"]) <= {"fast", "rebuild"}
    assert g["status"].tolist() == h["status"].tolist()
    assert (g["status"] != "failed").all()
    assert {"optimal", "infeasible"} >= set(g["status"])
    for a, b in zip(g.to_dict("records"), h.to_dict("records"), strict=True):
        if a["status"] == "infeasible":
            assert a["reason"] == b["reason"]
            continue
        for col in ("lives_saved", "lives_optimal"):
            assert a[col] >= b[col] - lives_tol(b[col]), (col, a)  # exact: never below HiGHS
            assert abs(a[col] - b[col]) <= lives_tol(b[col]), (col, a)
        assert a["units_sent"] <= a["supply"]
    # the units reported save the lives reported, and respect floors and caps
    for vid, units in greedy.regions.groupby("variant")["units"]:
        assert units.sum() == g.loc[vid, "units_sent"]


def test_greedy_is_used_only_where_it_is_exact(us, tiered):
    floors = sweep(us, {"supply": "500,3000", "per_capita_floor.share": "0,0.5"})
    assert (floors["path"] == "greedy").all()
    rows = sweep(us, {"supply": "500,3000", "max_coverage_gap.gap": "0.3,0.6"})
    assert (rows["path"] == "fast").all()  # a family built as rows: HiGHS
    weights = sweep(tiered, {"supply": "50,150"}, constraints=["prioritarian:weights=column"])
    assert (weights["path"] == "fast").all()  # objective weights: HiGHS
    tie = sweep(us, {"supply": "500,3000"}, tie_break=True)
    assert (tie["path"] == "fast").all()  # canonical units need the tie-break stages
    off = sweep(us, {"supply": "500,3000"}, greedy=False)
    assert (off["path"] == "fast").all()
    assert np.allclose(off["lives_saved"], floors.loc[[0, 2], "lives_saved"], rtol=2e-6)


def test_missing_units_are_na_never_minus_one(pugh, tmp_path):
    from optimiser.sweeps.fast import VariantOutcome, _record

    result = run_sweep(
        pugh,
        {"coverage_floor.level": "0.4,0.9", "survival_with*": "1,1.5"},
        out=tmp_path / "s",
    )
    v = result.variants
    assert str(v["units_sent"].dtype) == "Int64" and str(v["unallocated"].dtype) == "Int64"
    missing = v["status"] != "optimal"
    assert missing.sum() == 3 and v.loc[missing, ["units_sent", "unallocated"]].isna().all().all()
    assert (v.loc[~missing, "units_sent"] >= 0).all()
    csv = pd.read_csv(tmp_path / "s" / "variants.csv")
    assert (
        csv.loc[missing.to_numpy(), "units_sent"].isna().all() and (csv["units_sent"] != -1).all()
    )
    parquet = pd.read_parquet(tmp_path / "s" / "variants.parquet")
    assert parquet["units_sent"].isna().sum() == 3 and (parquet["units_sent"] != -1).all()
    # a time-limited solve without any allocation says so
    plan = optimiser.sweeps.build_plan(pugh, {"supply": "1,2"})[0]
    row = _record(plan, 0, {"supply": 1}, VariantOutcome("time_limit"))
    assert row["reason"] == "time limit reached before HiGHS found any allocation"
    assert row["units_sent"] is pd.NA and row["unallocated"] is pd.NA


def test_price_of_fairness_columns(pugh):
    table = sweep(pugh, {"per_capita_floor.share": "0:1:0.25"}, price_of_fairness=True)
    star = optimiser.solve(pugh, price_of_fairness=False).lives_saved
    assert table["lives_optimal"].tolist() == pytest.approx([star] * 5)
    assert table["price_of_fairness"].iloc[0] == pytest.approx(0.0, abs=1e-6)
    assert (
        table["price_of_fairness"].diff().dropna() >= -1e-6
    ).all()  # a stronger floor never costs less
    assert table["price_of_fairness_pct"].iloc[-1] == pytest.approx(
        100 * table["price_of_fairness"].iloc[-1] / star
    )
    assert (table["constraints"].str.startswith("per_capita_floor(share=")).all()
    no_price = sweep(pugh, {"per_capita_floor.share": "0,1"})
    assert no_price["lives_optimal"].isna().all() and no_price["price_of_fairness"].isna().all()


def test_failed_variant_is_recorded_and_the_sweep_goes_on(pugh):
    result = run_sweep(pugh, {"survival_with*": "0.5,0.9,1.1", "supply": "500,1000"})
    v = result.variants
    bad = v[v["survival_with*"] == 1.1]
    assert (bad["status"] == "failed").all()
    assert (
        bad["reason"]
        .str.contains("region 'A': survival_with is a probability: must be in \\[0, 1\\], got 1.1")
        .all()
    )
    assert bad["lives_saved"].isna().all()
    good = v[v["survival_with*"] != 1.1]
    assert (good["status"] == "optimal").all() and (good["reason"] == "").all()
    assert set(result.regions["variant"]) == set(good["variant"])  # no region rows for failed ones
    assert len(result.regions) == 4 * len(good)


def test_infeasible_variant_names_the_numbers(pugh):
    v = sweep(pugh, {"coverage_floor.level": "0.4,0.9"})
    assert v["status"].tolist() == ["optimal", "infeasible"]
    assert (
        v.loc[1, "reason"] == "infeasible: coverage_floor(level=0.9) needs 4,430 units "
        "(C: 1,680, B: 1,550, A: 800, D: 400), but supply is 1,000"
    )
    # the same words as the engine's own explanation
    assert v.loc[1, "reason"] == optimiser.solve(pugh, ["coverage_floor:level=0.9"]).explanation


def test_unknown_row_family_falls_back_to_rebuilding(pugh, monkeypatch):
    """A constraint kind the fast path does not know is solved by rebuilding, correctly."""

    def add_pair_cap(m, data, params):
        row = m.add_rows(1, -np.inf, float(params["units"]))
        m.add(row, m.x[[data.regions.index("A"), data.regions.index("B")]], 1.0)

    kind = FairnessKind(
        name="pair_cap",
        doc="x_A + x_B <= units",
        params=(ParamSpec("units", (int, float), "units", minimum=0.0),),
        role="constraint",
        add=add_pair_cap,
    )
    monkeypatch.setitem(REGISTRY, "pair_cap", kind)
    v = sweep(
        pugh, {"pair_cap.units": "0,300,2000", "supply": "1000,3000"}, default_constraints=False
    )
    assert (v["path"] == "rebuild").all()
    for row in v.to_dict("records"):
        spec = optimiser.constraint("pair_cap", units=row["pair_cap.units"])
        ref = optimiser.solve(
            pugh.with_supply(int(row["supply"])), [spec], price_of_fairness=False, tie_break=False
        )
        assert row["lives_saved"] == pytest.approx(ref.lives_saved, rel=2e-6)
    assert v["lives_saved"].nunique() > 3  # the cap binds differently across variants


def test_rebuild_mode_matches_fast_mode(us):
    vary = {"supply": "800,2400", "per_capita_floor.share": "0,0.4", "survival_with*@NY": "0.8,1.2"}
    fast = sweep(us, vary, price_of_fairness=True)
    slow = sweep(us, vary, price_of_fairness=True, mode="rebuild")
    assert (slow["path"] == "rebuild").all() and (fast["path"] == "greedy").all()
    assert np.allclose(fast["lives_saved"], slow["lives_saved"], rtol=2e-6)
    assert np.allclose(fast["lives_optimal"], slow["lives_optimal"], rtol=2e-6)


def test_bad_arguments(pugh):
    with pytest.raises(InputError, match="nothing to vary"):
        sweep(pugh, {})
    with pytest.raises(InputError, match="workers"):
        sweep(pugh, {"supply": "1,2"}, workers=0)
    with pytest.raises(InputError, match="samples"):
        sweep(pugh, {"supply": "1:2"}, samples=0)
    with pytest.raises(InputError, match="mode"):
        sweep(pugh, {"supply": "1,2"}, mode="quick")
