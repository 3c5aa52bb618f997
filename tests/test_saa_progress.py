"""Progress bars on long stochastic work: SAA's three stages and the scoring of the candidates
of `plan --scenarios --compare` each drive a tqdm bar to its total when asked (shown on a
terminal only: tqdm's disable=None), and none when not asked (the service, tests, --json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_saa import hedge

from optimiser.stochastic.compare import compare
from optimiser.stochastic.replications import saa


class Bars:
    """A stand-in for tqdm that records each bar's description, total, count and disable."""

    def __init__(self) -> None:
        self.made: list[dict[str, Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        record = {"desc": kwargs.get("desc"), "total": kwargs.get("total"), "n": 0,
                  "disable": kwargs.get("disable"), "closed": False}  # fmt: skip
        self.made.append(record)

        class Bar:
            def update(self, n: int = 1) -> None:
                record["n"] += n

            def set_postfix_str(self, text: str) -> None:
                pass

            def close(self) -> None:
                record["closed"] = True

        return Bar()


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> Bars:
    import tqdm.auto

    fake = Bars()
    monkeypatch.setattr(tqdm.auto, "tqdm", fake)
    return fake


def test_saa_bars_reach_their_totals(tmp_path: Path, bars: Bars) -> None:
    _, inst, dist = hedge(tmp_path)
    saa(inst, dist, replications=2, sample_size=2, evaluation_size=5, commit_days=1, workers=1,
        progress=True)  # fmt: skip
    assert [b["desc"].split(" (")[0] for b in bars.made] == [
        "SAA replications", "choose the candidate", "score the candidate",
    ]  # fmt: skip
    assert [b["total"] for b in bars.made] == [2, 2, 2 * 2 + 5]
    assert all(b["n"] == b["total"] and b["closed"] and b["disable"] is None for b in bars.made)
    bars.made.clear()
    saa(inst, dist, replications=2, sample_size=2, evaluation_size=5, commit_days=1, workers=1)
    assert bars.made and all(b["disable"] is True for b in bars.made)  # off unless asked


def test_compare_bar_counts_every_re_plan(tmp_path: Path, bars: Bars) -> None:
    _, inst, dist = hedge(tmp_path)
    compare(inst, dist, commit_days=1, progress=True)
    (bar,) = [b for b in bars.made if b["desc"] == "score the candidates"]
    assert all(b["disable"] is True for b in bars.made if b is not bar)  # evaluate()'s
    # stochastic, mean, buffer, worst_case, then hindsight: one re-plan per scenario each
    assert bar["total"] == 5 * len(dist) and bar["n"] == bar["total"] and bar["closed"]
    assert bar["disable"] is None
