"""Track pyrest2's Python fast paths of `triage plan` (BENCHMARKS.md, "pyrest2"), each checked
against the code it replaces:

- csv_text.table_csv writes plan.csv, daily.csv, regions.csv, manifest.csv: byte for byte
  pandas's `to_csv` on random frames of the dtypes it handles, on frames it hands to pandas,
  and on a planned instance's own tables;
- report.short_donors finds each donor's rows once: the same answer as the per-donor masks;
- whole._lane_day_order skips lexsort when the columns are in lane-day order already;
- result.json's regions from row tuples: iterrows' answer.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import pandas as pd
import pytest

from optimiser.multiperiod import GeneratorSpec, generate, load_multiperiod, plan
from optimiser.multiperiod.csv_text import table_csv
from optimiser.multiperiod.methods.whole import _cumulative_round, _lane_day_order
from optimiser.multiperiod.report import short_donors, warehouse_manifest

POOL = np.array(
    [0.0, -0.0, 1.0, 2.0, 0.1, 1e-05, 1e-7, 123456789.0, 1e15, 1e16, 1e20, 2.5, -4.75, np.inf,
     -np.inf, 7.0, 0.30000000000000004, 109.19999999999999, -3.0, np.nan]
)


def pandas_text(frame: pd.DataFrame, index: bool) -> str:
    return frame.to_csv(index=index, lineterminator="\n")


def random_frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, 60))
    columns: dict[str, Any] = {}
    for j in range(int(rng.integers(1, 8))):
        kind = rng.integers(0, 4)
        if kind == 0:
            columns[f"f{j}"] = rng.choice(POOL, size=rows)
        elif kind == 1:
            columns[f"i{j}"] = rng.integers(-10**12, 10**12, size=rows) // rng.choice([1, 10**11])
        elif kind == 2:
            words = np.array(["R0001", "D1", "ship", "a b", " x", "ünï", ""], dtype=object)
            cells = rng.choice(words, size=rows)
            dtype = "str" if seed % 2 else pd.StringDtype("python")
            series = pd.Series(cells, dtype=dtype)
            series[rng.random(rows) < 0.2] = None  # missing strings: empty cells
            columns[f"s{j}"] = series
        else:
            columns[f"w{j}"] = rng.integers(0, 5, size=rows).astype(np.float64)
    index = pd.Index([f"R{i:04d}" for i in range(rows)], name=None if seed % 3 else "region")
    return pd.DataFrame({k: np.asarray(v) if not isinstance(v, pd.Series) else v.to_numpy()
                         for k, v in columns.items()}, index=index).astype(
        {k: v.dtype for k, v in columns.items() if isinstance(v, pd.Series)})


@pytest.mark.parametrize("seed", range(24))
@pytest.mark.parametrize("index", [False, True])
def test_table_csv_is_pandas_text_on_random_frames(seed: int, index: bool) -> None:
    frame = random_frame(seed)
    assert table_csv(frame, index=index) == pandas_text(frame, index)


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"a": ["x,y", "z"], "b": [1.0, 2.0]}),  # a cell the writer quotes
        pd.DataFrame({"a": ['say "hi"', "z"], "b": [1.0, 2.0]}),
        pd.DataFrame({"a": ["two\nlines", "z"], "b": [1.0, 2.0]}),
        pd.DataFrame({"a,b": [1.0, 2.0], "c": [1.0, 2.0]}),  # a label the writer quotes
        pd.DataFrame({"a": [True, False], "b": [1.0, 2.0]}),  # bool
        pd.DataFrame({"a": [1, "x"], "b": [1.0, 2.0]}, dtype=object),  # object
        pd.DataFrame({"a": np.array([1, 2], dtype=np.int32), "b": [1.0, 2.0]}),
        pd.DataFrame({"a": [1.0, 2.0]}),  # one column: an empty cell alone is quoted
        pd.DataFrame({"a": [], "b": []}),  # no row
        pd.DataFrame({0: [1.0, 2.0], 1: [3.0, 4.0]}),  # labels not strings
        pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]},
                     index=pd.MultiIndex.from_tuples([("x", "1"), ("y", "2")])),
    ],
)
@pytest.mark.parametrize("index", [False, True])
def test_frames_it_does_not_handle_are_pandas_text(frame: pd.DataFrame, index: bool) -> None:
    assert table_csv(frame, index=index) == pandas_text(frame, index)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = generate(GeneratorSpec(regions=14, days=20, seed=3),
                      tmp_path_factory.mktemp("pyrest2") / "inst")
    return plan(load_multiperiod(folder), [], price_of_fairness=False)


def test_a_plans_tables_are_pandas_text(planned: Any) -> None:
    tables = [(planned.plan, False), (planned.daily, False), (planned.regions, True),
              (warehouse_manifest(planned), False), (planned.price_of_fairness, False)]
    assert len(planned.daily) == 14 * 20 and len(planned.plan)
    for frame, index in tables:
        assert table_csv(frame, index=index) == pandas_text(frame, index)


# ---- short_donors against the per-donor masks it replaces
def short_donors_masks(result: Any) -> list[dict[str, Any]]:
    regions, daily, m = result.regions, result.daily, result.manifest
    out = []
    wait = int((result.settings or {}).get("max_wait_days") or 0)
    donors = regions[(regions["transfers_out"] > 0) & (regions["not_admitted"] > 0.5)]
    for rid, row in donors.sort_values("not_admitted", ascending=False).iterrows():
        sent = m[(m["kind"] == "transfer") & (m["from"].astype(str) == str(rid))]
        mine = daily[daily["region"].astype(str) == str(rid)].set_index("day")
        send_days = sorted({int(d) for d in sent["day"]})
        lost_days = sorted(int(d) for d in mine.index[mine["not_admitted"] > 0.5])
        on_send = mine.index.isin(send_days)
        spare = mine.loc[on_send, "spare_units"]
        out.append({
            "region": str(rid), "name": str(row.get("name", rid)),
            "units_out": float(row["transfers_out"]), "not_admitted": float(row["not_admitted"]),
            "send_days": send_days, "lost_days": lost_days,
            "lost_on_send_days": float(mine.loc[on_send, "not_admitted"].sum()),
            "spare_min": float(spare.min()) if len(spare) else None,
            "spare_max": float(spare.max()) if len(spare) else None,
            "max_wait_days": wait,
            "dates": mine["date"].astype(str).to_dict() if "date" in mine else {},
        })
    return out


@pytest.mark.parametrize("seed", range(6))
def test_short_donors_is_the_per_donor_masks_answer(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, T = 12, 9
    ids = [f"R{i:02d}" for i in range(n)]
    regions = pd.DataFrame({
        "name": [f"Region {i}" for i in range(n)],
        "transfers_out": rng.choice([0.0, 3.0, 5.0], size=n),
        "not_admitted": rng.choice([0.0, 0.2, 4.0, 9.0], size=n),
    }, index=pd.Index(ids, name="region"))
    daily = pd.DataFrame({
        "region": np.repeat(ids, T), "day": np.tile(np.arange(T), n),
        "not_admitted": rng.choice([0.0, 1.0], size=n * T),
        "spare_units": rng.integers(0, 4, size=n * T).astype(float),
    })
    if seed % 2:
        daily["date"] = [f"2020-04-{d + 1:02d}" for d in daily["day"]]
        daily = daily.sample(frac=1.0, random_state=seed)  # rows in any order
    k = 30
    manifest = pd.DataFrame({
        "kind": rng.choice(["ship", "transfer"], size=k), "day": rng.integers(0, T, size=k),
        "from": rng.choice([*ids, "D1"], size=k), "to": rng.choice(ids, size=k),
    })
    result = types.SimpleNamespace(regions=regions, daily=daily, manifest=manifest,
                                   settings={"max_wait_days": seed % 3})
    expected = short_donors_masks(result)
    assert expected  # donors to explain
    assert short_donors(result) == expected  # type: ignore[arg-type]


# ---- the rounding's lane-day order
@pytest.mark.parametrize("seed", range(8))
def test_lane_day_order_is_lexsort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 300))
    lane = rng.integers(0, 9, size=size)
    day = rng.integers(0, 12, size=size)
    if seed % 2:  # the model's own order: sorted by lane, then day (ties kept)
        order = np.lexsort((day, lane))
        lane, day = lane[order], day[order]
    assert np.array_equal(_lane_day_order(lane, day), np.lexsort((day, lane)))
    values = rng.random(size) * 3
    rounded = _cumulative_round(values, lane, day)
    assert np.all(rounded >= 0) and np.all(rounded == np.floor(rounded))


# ---- result.json's regions: row tuples in place of iterrows
def test_region_rows_are_the_iterrows_answer(planned: Any) -> None:
    from optimiser.json_values import json_number

    def iterrows(regions: pd.DataFrame) -> list[dict[str, Any]]:
        return [{"region": str(rid), **{str(k): json_number(v) for k, v in row.items()}}
                for rid, row in regions.iterrows()]

    mixed = pd.DataFrame(
        {"name": pd.Series(["a", None, "c"], dtype="str"), "units": [1, 2, 3],
         "share": [0.1, np.inf, np.nan], "ok": [True, False, True], "big": [1e20, -0.0, 2.5]},
        index=pd.Index(["R1", "R2", "R3"], name="region"),
    )
    for regions in (planned.regions, mixed, mixed[["units", "big"]], mixed.iloc[:0]):
        result = types.SimpleNamespace(regions=regions)
        assert type(planned)._region_rows(result) == iterrows(regions)
