"""Probe 6: how a relative MIP gap was printed. `triage solve instances/us-states-2020 -c
threshold:tau=0.3 --time-limit 4` (a loaded machine: HiGHS stopped at once) printed, on main
e279bf2, "Solver: HiGHS 1.15.1, 1 HiGHS run, 0.020 s, gap 2,366.501074" (a ratio with no unit,
read as lives; the planner prints "gap 0.0000%") and, in the price-of-fairness note, "alone:
time limit, gap 2366.5010738310093" (sixteen digits of a figure proved to none of them). Both
now give the gap as a percentage, as the planner does.
"""

from __future__ import annotations

from types import SimpleNamespace

import optimiser
import optimiser.engine_protocol as protocol
from optimiser.constraints import to_specs
from optimiser.report import allocation_text
from optimiser.solver import SolveStatus


def test_the_solver_line_gives_the_gap_as_a_percentage(pugh) -> None:
    data = optimiser.solve(pugh, constraints=["coverage_floor:level=0.3"]).to_dict()
    data["status"] = "time_limit"
    data["solver"] = {**data["solver"], "gap": 23.665010738310093, "solves": 1}
    text = allocation_text(optimiser.AllocationResult.from_dict(data))
    assert ", gap 2,366.5011%" in text
    assert "23.665011" not in text and "2,366.501074" not in text
    optimal = allocation_text(optimiser.solve(pugh, constraints=["coverage_floor:level=0.3"]))
    assert "gap 0.0000%" in optimal


def test_a_time_limited_price_note_gives_the_gap_as_a_percentage(monkeypatch) -> None:
    spec = to_specs(["min_units:units=1"])[0]
    stopped = SimpleNamespace(status=SolveStatus.TIME_LIMIT, gap=23.665010738310093,
                              lives=10.0, lives_bound=30.0, solves=1)
    done = SimpleNamespace(status=SolveStatus.OPTIMAL, gap=0.0, lives=40.0, lives_bound=40.0,
                           solves=1)
    component = SimpleNamespace(component=spec, alone=stopped, without=done, everything=done,
                                lost_alone=30.0, lost_marginal=0.0)
    monkeypatch.setattr(protocol, "component_optima", lambda *a, **k: [component])
    table = protocol.price_table(None, [spec], done)  # type: ignore[arg-type]
    note = table.loc[0, "note"]
    assert "alone: time limit, gap 2,366.5011%" in note, note
    assert "2366.5010738310093" not in note
