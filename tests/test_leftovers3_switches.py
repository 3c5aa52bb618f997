"""The regional Python calls refuse switches that are not True or False, naming the argument
as `optimiser.multiperiod.plan` does (track leftovers3; the same code,
optimiser/arguments.py). Before, `optimiser.solve(inst, price_of_fairness="yes")` was solved,
and so was "no", which Python reads as true too."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import optimiser
from optimiser.errors import InputError

CALLS = {
    "solve": lambda inst, **kw: optimiser.solve(inst, **kw),
    "evaluate": lambda inst, **kw: optimiser.evaluate(inst, {"A": 1000}, **kw),
    "compare": lambda inst, **kw: optimiser.compare(inst, **kw),
    "sweep": lambda inst, **kw: optimiser.sweep(inst, {"supply": "900:1000:100"}, **kw),
}


@pytest.mark.parametrize(
    ("call", "name", "value"),
    [
        ("solve", "price_of_fairness", "yes"),
        ("solve", "price_of_fairness", "no"),
        ("solve", "tie_break", 1),
        ("solve", "default_constraints", None),
        ("evaluate", "default_constraints", "no"),
        ("compare", "default_constraints", 0),
        ("sweep", "price_of_fairness", "yes"),
        ("sweep", "tie_break", "false"),
        ("sweep", "greedy", 1),
    ],
)
def test_a_switch_that_is_not_a_bool_is_refused_by_name(
    pugh: optimiser.Instance, call: str, name: str, value: Any
) -> None:
    with pytest.raises(InputError) as caught:
        CALLS[call](pugh, **{name: value})
    (problem,) = caught.value.problems
    assert problem.column == name and problem.column_word == "option"
    assert problem.message == f"must be True or False, got {value!r}"
    assert f"option '{name}'" in str(caught.value)


def test_every_bad_switch_is_listed(pugh: optimiser.Instance) -> None:
    with pytest.raises(InputError) as caught:
        optimiser.solve(pugh, price_of_fairness="yes", tie_break="no")
    assert [p.column for p in caught.value.problems] == ["price_of_fairness", "tie_break"]


def test_bools_and_numpy_bools_are_taken(pugh: optimiser.Instance) -> None:
    plain = optimiser.solve(pugh, price_of_fairness=False, tie_break=True)
    numpy = optimiser.solve(pugh, price_of_fairness=np.bool_(False), tie_break=np.bool_(True))
    assert plain.status == numpy.status == "optimal"
    assert plain.allocation == numpy.allocation
