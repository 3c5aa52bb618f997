"""No patient waits beside a free unit when the budget is spent before the patient flow is
settled (docs/multiperiod.md, "Waiting"; methods/idle_repair.py).

Found on 30 regions x 30 days (generator seed 2, waiting 1 day, `-c threshold:tau=0`,
`--time-limit 30`): the solves spent the budget, the settling of the patient flow
(methods/settle.py) started no LP, and check-plan rejected the plan (exit 1): 67 region-cohorts
waiting beside staffed units free for their whole stay (20 listed, "47 more"); the same with
`threshold:tau=0.3,index=rai_relative`. The tests reproduce it without a clock:
the settling is handed a deadline already spent, as the solves leave it, and the plan is made
without a time limit (the unconstrained plan: 2 s, where the threshold's takes minutes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optimiser.deadline import Deadline
from optimiser.multiperiod import PlanEngine, check_plan, load_multiperiod, plan
from optimiser.multiperiod import engine as engine_module
from optimiser.multiperiod.extract import extract
from optimiser.multiperiod.methods import settle as settle_module
from optimiser.multiperiod.methods.idle_repair import admit_beside_free_units
from optimiser.multiperiod.methods.settle import settle_patients
from tests.test_multiperiod_support import write_instance


@pytest.fixture(scope="module", params=[False, True], ids=["waiting", "patient-transfers"])
def seed2(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from optimiser.multiperiod import GeneratorSpec, generate

    folder = tmp_path_factory.mktemp("seed2") / "g30x30"
    spec = GeneratorSpec(
        regions=30, days=30, depots=1, seed=2, max_wait_days=1, patient_transfers=request.param
    )
    return generate(spec, folder)


def spent_budget(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """The planner's settling gets a deadline already spent (as when the solves used the whole
    budget); returns the (plan given, plan settled) pairs."""
    seen: list[tuple[Any, Any]] = []

    def settle(setting: Any, out: Any, cost: Any, deadline: Any, *rest: Any) -> Any:
        got = settle_patients(setting, out, cost, Deadline(0.0, start=0.0), *rest)
        seen.append((out, got))
        return got

    monkeypatch.setattr(engine_module, "settle_patients", settle)
    return seen


def test_a_plan_whose_budget_ran_out_keeps_no_unit_idle_beside_a_waiting_patient(
    seed2: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """check-plan replays the plan with no rule broken and the planner's survivors; the plan
    the solves gave broke the rule (so the repair is what keeps it), and no life is lost."""
    seen = spent_budget(monkeypatch)
    inst = load_multiperiod(seed2)
    result = plan(inst, price_of_fairness=False)
    check = check_plan(inst, result)
    assert [v["message"] for v in check.violations] == []
    assert check.survivors == pytest.approx(result.lives_saved, abs=1e-6)
    ((given, settled),) = seen
    assert settled is not given
    assert settled.objective >= given.objective - 1e-7

    monkeypatch.setattr(settle_module, "repaired", lambda setting, out, cost: out)
    broken = check_plan(inst, plan(inst, price_of_fairness=False))
    assert {v["rule"] for v in broken.violations} == {"idle_while_waiting"}


def test_settled_patient_quantities_carry_no_fraction_of_the_lives_allowance(
    seed2: Path,
) -> None:
    """The settling's second LP (admissions as early as possible) held the lives to 10^-6 and
    spent that allowance on quantities: with patient transfers this plan said "move 2.564e-06
    patients" (R011 -> R019, day 2) and "admit 56.999997435". On the first LP's optimal face the
    quantities are the data's own: no patients row below 10^-6 and none within 10^-4 of a whole
    number without being it (the plan file writes 9 decimals: 1/9 is 0.111111111); check-plan
    replays the plan with no rule broken."""
    inst = load_multiperiod(seed2)
    result = plan(inst, price_of_fairness=False)
    rows = result.plan[result.plan["kind"].isin(["admit", "patients"])]
    units = rows["units"].astype(float).to_numpy()
    assert units.min() >= 1e-6
    near = np.abs(units - np.round(units))
    assert not ((near > 0) & (near < 1e-4)).any(), rows[(near > 0) & (near < 1e-4)]
    check = check_plan(inst, result)
    assert [v["message"] for v in check.violations] == []
    assert check.survivors == pytest.approx(result.lives_saved, abs=1e-6)


def test_the_repair_by_hand(tmp_path: Path) -> None:
    """One region with 2 units (staff unlimited), stays of 2 days, waiting 1 day; one patient
    arrives on each of days 0, 1, 2. The plan given admits day 0's patient on day 1, turns day
    1's away and admits day 2's on day 2 (2 lives; check-plan: idle units beside both). By
    hand: day 0's patient is admitted on day 0 (2 units free then), day 1's on day 1 (1 free on
    days 1 and 2): 3 lives, every patient on arrival, no rule broken."""
    folder = write_instance(
        tmp_path / "one",
        [{"region": "A", "capacity": 2, "los_days": 2}],
        {"A": [1, 1, 1, 0]},
        deliveries=[(0, 1, "D")],
        leads=[("D", "A", 1)],
        multiperiod={"max_wait_days": 1},
    )
    engine = PlanEngine(load_multiperiod(folder))
    p = engine.model
    column = {
        (int(p.data.group_day[g]), int(s)): int(c)
        for g, s, c in zip(p.admit.group, p.admit.day, p.admit.cols, strict=True)
    }
    given = engine.setting.zero.copy()
    given[column[0, 1]] = 1.0
    given[column[2, 2]] = 1.0
    before = check_plan(engine.instance, extract(engine, given)["plan"], default_constraints=False)
    assert {v["rule"] for v in before.violations} == {"idle_while_waiting"}
    assert before.survivors == pytest.approx(2.0)
    fixed = admit_beside_free_units(p, given)
    assert fixed is not None
    admitted = {key: fixed[c] for key, c in column.items() if fixed[c] > 0}
    assert admitted == {(0, 0): 1.0, (1, 1): 1.0, (2, 2): 1.0}
    after = check_plan(engine.instance, extract(engine, fixed)["plan"], default_constraints=False)
    assert after.ok and after.survivors == pytest.approx(3.0)
    assert admit_beside_free_units(p, fixed) is None  # nothing left to repair
