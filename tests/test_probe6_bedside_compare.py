"""Probe 6: `triage bedside compare --replications 1` printed every figure with a "95% interval"
of zero width, `1.9 [1.9, 1.9]`: a t-interval from one replication does not exist (the quantile
was set to 0 for n = 1), so a single draw was shown as if known exactly. Failed on main e279bf2.
The interval is now missing (NaN; null in result.json; `[-]` in the text and the report, with a
note saying why).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from optimiser.bedside import load_inputs
from optimiser.bedside.compare import CompareResult, CompareSpec, compare, summarise
from optimiser.bedside.report import compare_page, compare_text

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "instances" / "bedside-snapshot"


def test_one_replication_has_no_interval() -> None:
    raw = pd.DataFrame({"protocol": ["a", "b", "b"], "reserves": [False] * 3,
                        "lives": [1.5, 2.0, 4.0]})
    stats = summarise(raw, ["protocol", "reserves"], ("lives",)).set_index("protocol")
    assert stats.loc["a", "n"] == 1 and stats.loc["a", "mean"] == 1.5
    assert math.isnan(stats.loc["a", "ci_low"]) and math.isnan(stats.loc["a", "ci_high"])
    # two replications: mean 3, sd sqrt(2), t(0.975, 1) = 12.706: half-width 12.706
    assert abs(stats.loc["b", "ci_high"] - (3.0 + 12.7062047)) < 1e-6


def test_compare_of_one_replication_says_so_and_round_trips() -> None:
    result = compare(load_inputs(SNAPSHOT), CompareSpec(replications=1, seed=0, patients=3),
                     workers=1, progress=False)
    assert result.summary["ci_low"].isna().all() and result.summary["ci_high"].isna().all()
    text = compare_text(result)
    assert "[-]" in text and "no interval from 1 replication" in text
    assert not any(f"{v:,.1f} [{v:,.1f}, {v:,.1f}]" in text for v in result.summary["mean"])
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert all(row["ci_low"] is None for row in data["summary"])
    back = CompareResult.from_dict(data)
    assert back.summary["ci_low"].isna().all()
    assert compare_text(back) == text
    page = compare_page(back)  # the report's tables and charts draw without an interval
    assert all("[-]" in row["lives_gained"] for row in page["rows"])
