"""Which priced columns enter a column-generation round (issue 12, planner growth; BENCHMARKS.md
"Planner growth 2", "Per-row cap after the cliff fix"): in a round with more improving columns
than it takes, at most MAX_ENTERING_PER_ROW per receiving row (the units-on-hand row of
the region and day a movement arrives in), the most improving first, then `max_entering`.
Checked against the model's own handles and a plain-Python selection, and the LP optimum
against the whole model's LP solved directly (every lane a column, no pricing).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from optimiser.multiperiod import GeneratorSpec, generate, load_multiperiod
from optimiser.multiperiod.colgen import MAX_ENTERING_PER_ROW, ColumnGeneration, receiving_rows
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.methods.base import CLEANUP_COST
from optimiser.solver import MatrixHighsModel, SolveStatus


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> PlanEngine:
    spec = GeneratorSpec(regions=14, days=24, depots=2, neighbours=4, seed=12)
    inst = load_multiperiod(generate(spec, tmp_path_factory.mktemp("g") / "g"))
    inst = inst.with_settings(max_wait_days=2, patient_transfers=True)
    return PlanEngine(inst, [], method="rounding")


def test_receiving_rows_are_the_arrival_rows(engine: PlanEngine) -> None:
    """A shipment's receiving row is its region's units-on-hand row on the arrival day, a
    transfer's its destination's; a patient move's one of its own rows with coefficient -1."""
    p, d, cg = engine.model, engine.data, engine.colgen
    assert cg is not None
    got = dict(zip(cg.candidates.tolist(), cg.receiving.tolist(), strict=True))
    s = p.ship
    arrival = s.day + d.ship_lead[s.depot, s.region]
    for col, region, day in zip(s.cols, s.region, arrival, strict=True):
        assert got[int(col)] == p.hand_rows[region, day]
    t = p.transfer
    assert len(t.cols)
    for col, lane, day in zip(t.cols, t.lane, t.day, strict=True):
        assert got[int(col)] == p.hand_rows[d.arc_dst[lane], day + d.arc_lead[lane]]
    assert len(p.ptransfer.cols)
    for col in p.ptransfer.cols:
        assert p.matrix[got[int(col)], col] == -1.0


def test_receiving_rows_break_ties_at_the_first_row_and_mark_empty_columns() -> None:
    priced = sp.csr_matrix(
        np.array([[0.0, -1.0, -1.0, 2.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0, 0, -5]])
    )
    assert receiving_rows(priced).tolist() == [1, -1, 3]


def test_entering_keeps_the_most_improving_per_row_then_the_cap(engine: PlanEngine) -> None:
    cg = engine.colgen
    # the planner takes no cap with patient transfers (engine.py); the rule itself is tested
    assert cg is not None and cg.max_per_row is None
    cg.max_per_row = MAX_ENTERING_PER_ROW
    rng = np.random.default_rng(3)
    improving = np.arange(len(cg.candidates))
    gain = rng.integers(1, 40, size=len(improving)).astype(float)  # ties on purpose
    assert np.bincount(cg.receiving[improving] + 1).max() > MAX_ENTERING_PER_ROW  # cap binds
    # every improving column fits in the round: all enter, the cap per row does not act
    cg.max_entering = len(improving)
    assert cg.entering(improving, gain).tolist() == improving.tolist()
    for cap in (len(improving) - 1, 50):
        cg.max_entering = cap
        got = cg.entering(improving, gain)
        # plain Python: most improving first (ties: lower index), at most k per row, then cap
        order = sorted(range(len(improving)), key=lambda i: (-gain[i], improving[i]))
        per_row: dict[int, int] = {}
        kept = []
        for i in order:
            row = int(cg.receiving[improving[i]])
            if per_row.get(row, 0) < MAX_ENTERING_PER_ROW:
                per_row[row] = per_row.get(row, 0) + 1
                kept.append(int(improving[i]))
        assert got.tolist() == sorted(kept[:cap])
    cg.max_entering = 20_000


def test_lp_by_capped_pricing_is_the_full_lps_optimum(engine: PlanEngine) -> None:
    """Rounds with the per-row cap still end at the whole model's LP optimum (both objectives),
    with more than one round (the cap defers columns, it never drops them). Rounds of at most
    300 columns, so the cap acts (it only chooses within a round that must be cut)."""
    p, cg = engine.model, engine.colgen
    assert isinstance(cg, ColumnGeneration)
    lives = engine.objective([])
    rounds = []
    cut: list[bool] = []  # a round cut with the cap holding back columns of a row
    entering = cg.entering

    def spy(improving: np.ndarray, gain: np.ndarray) -> np.ndarray:
        rows = np.bincount(cg.receiving[improving] + 1)
        cut.append(len(improving) > cg.max_entering and rows.max() > MAX_ENTERING_PER_ROW)
        return entering(improving, gain)

    cg.entering = spy  # type: ignore[method-assign]
    cg.max_entering = 300
    cg.max_per_row = MAX_ENTERING_PER_ROW
    for cost in (lives - CLEANUP_COST * p.logistics, lives):
        lp = cg.solve_lp(cost, True, None)
        rounds.append(lp.rounds)
        full = MatrixHighsModel(
            p.col_lower, p.col_upper, p.matrix, p.row_lower, p.row_upper,
            np.zeros(p.shape[1], dtype=np.int8),
        )  # fmt: skip
        full.set_cost(cost, maximize=True)
        run = full.solve()
        assert lp.status is SolveStatus.OPTIMAL and run.status is SolveStatus.OPTIMAL
        assert lp.objective is not None and run.objective is not None
        assert abs(lp.objective - run.objective) <= 1e-6 * max(1.0, abs(run.objective))
    cg.max_entering = 20_000
    del cg.entering
    assert rounds[0] >= 2 and any(cut)


def test_without_a_row_cap_the_most_improving_enter(engine: PlanEngine) -> None:
    """The stochastic decomposition's masters keep the plain policy (no cap per row)."""
    cg = ColumnGeneration(engine.model, engine.data, engine.options)
    assert cg.max_per_row is None
    cg.max_entering = 40
    improving = np.arange(0, len(cg.candidates), 2)
    gain = (improving % 7).astype(float) + 1.0
    order = sorted(range(len(improving)), key=lambda i: (-gain[i], improving[i]))
    assert cg.entering(improving, gain).tolist() == sorted(int(improving[i]) for i in order[:40])
