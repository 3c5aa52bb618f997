"""`bedside replay` judges the decisions, not the reasons' wording.

Failed on main + probe4: probe4 reworded the reason of a tie the seeded lottery decided, so a
log written before (main 4dd34f7) failed `triage bedside replay` with exit 4 although every
decision was the same. Now replay compares every field of every decision line but the reason
(who receives a unit, the ranks, the scores, the lottery draws, the categories, the
overrides); a reason worded differently is a notice naming the version that wrote the log
(the header's `engine`), exit 0. A changed decision still fails (exit 4).

`_as_main_wrote_it` turns a log of this version into the one main 4dd34f7 writes for the same
case: the decision lines without probe4's lottery clause, the summary hash of those lines
(checked byte for byte against a log written by main's code when this test was made).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from optimiser.bedside import allocate, load_inputs, replay, write_log

REPO = Path(__file__).resolve().parents[1]
LOTTERY = re.compile(r"; the same priority as [^:]*: the seeded lottery ordered them$")
EARLIER = "regional-triage 0.0.9"


def _identical_patients(tmp_path: Path) -> Path:
    """Six identical patients, four free units: two go without, ordered by the lottery."""
    case = tmp_path / "case"
    shutil.copytree(REPO / "instances" / "bedside-snapshot", case)
    header, *rows = (case / "patients.csv").read_text().splitlines()
    row = next(r for r in rows if r.startswith("P0005,"))
    lines = [header] + [row.replace("P0005", f"T{k:02d}", 1) for k in range(1, 7)]
    (case / "patients.csv").write_text("\n".join(lines) + "\n")
    return case


def _rewrite(log: Path, edit: object) -> None:
    """Apply edit(record) to every decision line, then reseal the log as a writer would (the
    summary's hash of the decision lines), and mark it as written by an earlier version."""
    head, *lines, summary = [json.loads(x) for x in log.read_text().splitlines()]
    for record in lines:
        edit(record)  # type: ignore[operator]
    text = [json.dumps(x, sort_keys=True, separators=(",", ":")) for x in lines]
    summary["decisions_sha256"] = hashlib.sha256("\n".join(text).encode()).hexdigest()
    head["engine"] = EARLIER
    log.write_text("\n".join(json.dumps(x, sort_keys=True, separators=(",", ":"))
                             for x in (head, *lines, summary)) + "\n")


def _as_main_wrote_it(record: dict) -> None:
    record["reason"] = LOTTERY.sub("", record["reason"])


def _old_log(tmp_path: Path) -> Path:
    log = tmp_path / "decision_log.jsonl"
    write_log(log, allocate(load_inputs(_identical_patients(tmp_path)), price=False,
                            protocols=False), {"price": False, "protocols": False,
                                               "time_limit": None})
    _rewrite(log, _as_main_wrote_it)
    return log


def _replay_cli(log: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "optimiser", "bedside", "replay", str(log),
                           *args], cwd=log.parent, capture_output=True, text=True,
                          timeout=300, env=env)


def test_same_decisions_in_other_words_replay_with_a_notice(tmp_path):
    log = _old_log(tmp_path)
    outcome = replay(log)
    assert outcome.identical, outcome.differences
    assert outcome.differences == ()
    assert [pid for _, pid, _, _ in outcome.reworded] == ["T03", "T06"]  # the two without
    for _, _, logged, replayed in outcome.reworded:
        assert not LOTTERY.search(logged) and LOTTERY.search(replayed)
    assert EARLIER in outcome.notices[0] and "2 decisions" in outcome.notices[0]
    run = _replay_cli(log)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "the same decisions as the log" in run.stdout
    assert f"notice: the reasons of 2 decisions are worded differently from the log, which " \
           f"was written by {EARLIER}" in run.stdout
    data = json.loads(_replay_cli(log, "--json").stdout)
    assert data["identical"] is True and data["logged_by"] == EARLIER
    assert [x["patient"] for x in data["reasons_reworded"]] == ["T03", "T06"]


def test_a_log_of_this_version_replays_identical_without_notice(tmp_path):
    log = tmp_path / "decision_log.jsonl"
    write_log(log, allocate(load_inputs(_identical_patients(tmp_path)), price=False,
                            protocols=False), {})
    outcome = replay(log)
    assert outcome.identical and outcome.reworded == () and outcome.notices == ()
    assert "identical to the log" in _replay_cli(log).stdout


def _swap_a_unit(record: dict) -> None:
    """Give the lottery's loser T03 the unit T01 received (reasons worded as before)."""
    _as_main_wrote_it(record)
    swap = {"T01": "no_unit", "T03": "unit"}
    if record["patient"] in swap:
        record["decision"] = record["final"] = swap[record["patient"]]


def test_a_changed_decision_still_fails(tmp_path):
    log = tmp_path / "decision_log.jsonl"
    write_log(log, allocate(load_inputs(_identical_patients(tmp_path)), price=False,
                            protocols=False), {})
    _rewrite(log, _swap_a_unit)
    outcome = replay(log)
    assert not outcome.identical
    assert any("patient \"T03\"" in d and "decision logged \"unit\", replayed \"no_unit\"" in d
               for d in outcome.differences), outcome.differences
    run = _replay_cli(log)
    assert run.returncode == 4 and "differs: line" in run.stderr


def test_a_changed_lottery_draw_or_rank_still_fails(tmp_path):
    for field, value in (("lottery_draw", 0.5), ("batch_rank", 99)):
        folder = tmp_path / field
        folder.mkdir()
        log = folder / "decision_log.jsonl"
        write_log(log, allocate(load_inputs(_identical_patients(folder)), price=False,
                                protocols=False), {})

        def edit(record: dict, field: str = field, value: object = value) -> None:
            _as_main_wrote_it(record)
            if record["patient"] == "T02":
                record[field] = value

        _rewrite(log, edit)
        outcome = replay(log)
        assert not outcome.identical
        assert [d for d in outcome.differences if field in d and "T02" in d], outcome.differences
