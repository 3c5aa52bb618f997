"""`optimiser.multiperiod.plan` refuses arguments of the wrong type instead of reading them as
another question (probe6: `today=True` was planned as day 1, `price_of_fairness="yes"` as
true)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimiser.errors import InputError
from optimiser.multiperiod import load_multiperiod, plan

ITALY = Path(__file__).resolve().parents[1] / "instances" / "italy-2020-wave1"


@pytest.mark.parametrize(
    ("kwargs", "name", "words"),
    [
        ({"today": True}, "today", "whole day number"),
        ({"today": 1.0}, "today", "whole day number"),
        ({"today": "1"}, "today", "whole day number"),
        ({"price_of_fairness": "yes"}, "price_of_fairness", "True or False"),
        ({"tie_break": 1}, "tie_break", "True or False"),
        ({"progress": None}, "progress", "True or False"),
        ({"default_constraints": "no"}, "default_constraints", "True or False"),
    ],
)
def test_wrong_types_are_refused(kwargs: dict, name: str, words: str) -> None:
    instance = load_multiperiod(ITALY)
    with pytest.raises(InputError) as caught:
        plan(instance, **kwargs)
    (problem,) = caught.value.problems
    assert problem.column == name and problem.column_word == "option"
    assert words in problem.message
    assert f"option '{name}'" in str(caught.value)


def test_numpy_values_of_the_right_kind_are_taken() -> None:
    instance = load_multiperiod(ITALY)
    result = plan(instance, today=np.int64(0), price_of_fairness=np.bool_(False))
    assert result.status == "optimal" and result.today == 0
