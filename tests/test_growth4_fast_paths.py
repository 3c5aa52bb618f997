"""Track growth4's two fast paths on the large-plan path (BENCHMARKS.md, "growth4"):

- csv_text.frame_csv writes a frame's CSV text from its non-empty cells (the instance
  fingerprint's n x n lead-time table): checked byte for byte against pandas's own `to_csv` on
  many frames, and the fingerprint against the one pandas's text gives;
- ColumnGeneration.restore_basis puts a basis back through HiGHS's own size check, and a repair
  saves the LP's basis after the plan's columns enter: checked against the statuses the old
  path (read into Python, padded with nonbasic entries) gives, and by the LP re-solved from it
  in no simplex iteration.
"""

from __future__ import annotations

import hashlib

import highspy
import numpy as np
import pandas as pd
import pytest

from optimiser.multiperiod import GeneratorSpec, generate, load_multiperiod
from optimiser.multiperiod.colgen import ColumnGeneration
from optimiser.multiperiod.csv_text import frame_csv, simple
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.methods.whole import round_movements
from optimiser.solver import SolverOptions, SolveStatus


def pandas_csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(lineterminator="\n")


def labelled(values: np.ndarray, name: str | None = "from") -> pd.DataFrame:
    rows = [f"R{i:03d}" for i in range(values.shape[0])]
    cols = [f"C{j:03d}" for j in range(values.shape[1])]
    frame = pd.DataFrame(values, index=pd.Index(rows, name=name), columns=cols)
    frame.columns.name = "to"
    return frame


# ---- frame_csv against pandas
@pytest.mark.parametrize("seed", range(12))
def test_frame_csv_is_pandas_text_on_random_sparse_and_dense_frames(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 40)), int(rng.integers(1, 40)))
    pool = np.array(
        [0.0, -0.0, 1.0, 2.0, 3.0, 0.1, 1e-05, 1e-7, 123456789.0, 1e20, 2.5, -4.75, np.inf, 7.0]
    )
    values = rng.choice(pool, size=shape)
    density = [0.0, 0.05, 0.5, 1.0][seed % 4]
    values[rng.random(shape) >= density] = np.nan
    if seed % 3 == 0:
        values[0, :] = np.nan  # a row with no cell
    frame = labelled(values, name=None if seed % 5 == 0 else "from")
    assert simple(frame)
    assert frame_csv(frame) == pandas_csv(frame)


def test_frame_csv_matches_on_a_lead_time_table() -> None:
    # the shape it is for: n x n, a few lanes each, lead days as floats
    n = 60
    values = np.full((n, n), np.nan)
    for i in range(n):
        for k in range(1, 4):
            values[i, (i + k) % n] = float(k)
    frame = labelled(values)
    assert frame_csv(frame) == pandas_csv(frame)


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"a,b": [1.0, np.nan]}, index=["x", "y"]),  # a label the writer quotes
        pd.DataFrame({"a": [1.0, 2.0]}, index=['x"', "y"]),
        pd.DataFrame({"a": [1.0, 2.0]}, index=["", "y"]),  # an empty label
        pd.DataFrame({0: [1.0, 2.0], 1: [np.nan, 3.0]}, index=["x", "y"]),  # int columns
        pd.DataFrame({"a": [1, 2]}, index=["x", "y"]),  # int dtype
        pd.DataFrame({"a": ["p", "q"]}, index=["x", "y"]),  # strings
        pd.DataFrame({"a": [1.0, 2.0]}, index=pd.MultiIndex.from_tuples([("x", "1"), ("y", "2")])),
        pd.DataFrame(index=["x"]),  # no column
    ],
)
def test_frames_it_does_not_handle_go_to_pandas(frame: pd.DataFrame) -> None:
    assert not simple(frame)
    assert frame_csv(frame) == pandas_csv(frame)


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> MultiPeriodInstance:
    spec = GeneratorSpec(regions=14, days=24, depots=2, neighbours=4, seed=12)
    return load_multiperiod(generate(spec, tmp_path_factory.mktemp("g4") / "g"))


def test_the_fingerprint_is_the_one_pandas_text_gives(instance: MultiPeriodInstance) -> None:
    """The fingerprint's formula with pandas's `to_csv` (as before growth4), written out here:
    the same 16 hex digits, so plans saved before still match their instance."""
    h = hashlib.sha256(instance.base.fingerprint().encode())
    for frame in (
        instance.demand,
        instance.deliveries,
        instance.ship_lead,
        instance.region_lead,
        instance.own,
        instance.staff,
    ):
        h.update(frame.to_csv(lineterminator="\n").encode())
    h.update(repr(instance.settings).encode())
    assert instance.fingerprint() == h.hexdigest()[:16]
    assert simple(instance.region_lead)  # the n x n table takes the fast path


# ---- restore_basis through HiGHS's size check
def statuses(basis: highspy.HighsBasis) -> tuple[list[int], list[int]]:
    return [int(s) for s in basis.col_status], [int(s) for s in basis.row_status]


def test_a_repair_puts_back_the_lps_basis_padded_as_before(instance: MultiPeriodInstance) -> None:
    """After a repair (the rounded plan's columns enter, every movement fixed, then freed),
    HiGHS holds the LP's optimal basis (any column added nonbasic at its lower bound): exactly
    what the old path built in Python; and the LP re-solved from it takes no iteration."""
    engine = PlanEngine(instance, (), SolverOptions(), method="rounding")
    p, d = engine.model, engine.data
    lives = engine.objective([])
    cg = ColumnGeneration(p, d, SolverOptions())
    lp = cg.solve_lp(lives, True, None)
    assert lp.values is not None and lp.status is SolveStatus.OPTIMAL
    before = cg.save_basis()
    assert before is not None
    cols_before, rows_before = statuses(before)
    fixed = round_movements(p, d, lp.values, np.full(d.n, -np.inf), np.full(d.n, np.inf))
    new = cg.candidates[np.nonzero(fixed[cg.candidates])[0]]
    added = len(np.unique(new[cg.position[new] < 0]))  # (0 here: the rounding keeps to them)
    run = cg.repair(fixed, lives, True, None)
    assert run.status is SolveStatus.OPTIMAL
    after = cg.highs.highs.getBasis()
    lower = int(highspy.HighsBasisStatus.kLower)
    assert statuses(after) == (cols_before + [lower] * added, rows_before)
    again = cg.solve_lp(lives, True, None, warm=True)
    assert again.rounds == 1 and again.objective is not None and lp.objective is not None
    assert abs(again.objective - lp.objective) <= 1e-9 * max(1.0, abs(lp.objective))
    assert cg.highs.highs.getInfo().simplex_iteration_count == 0


def test_a_basis_saved_before_columns_were_added_is_still_padded(
    instance: MultiPeriodInstance,
) -> None:
    """A basis shorter than the master (columns added since, as a lambda node's parent's):
    HiGHS refuses it as it stands, and restore_basis pads it as before; one from a master with
    other rows is refused and HiGHS keeps its own."""
    engine = PlanEngine(instance, (), SolverOptions(), method="rounding")
    p, d = engine.model, engine.data
    lives = engine.objective([])
    cg = ColumnGeneration(p, d, SolverOptions())
    cg.solve_lp(lives, True, None)
    saved = cg.save_basis()
    assert saved is not None
    cols, rows = statuses(saved)
    outside = cg.candidates[cg.position[cg.candidates] < 0][:7]
    cg.include(outside)
    assert cg.restore_basis(saved)
    lower = int(highspy.HighsBasisStatus.kLower)
    assert statuses(cg.highs.highs.getBasis()) == (cols + [lower] * len(outside), rows)
    wrong = highspy.HighsBasis()
    wrong.col_status = list(saved.col_status)
    wrong.row_status = list(saved.row_status)[:-1]
    wrong.valid = True
    held = statuses(cg.highs.highs.getBasis())
    assert not cg.restore_basis(wrong)
    assert statuses(cg.highs.highs.getBasis()) == held
