"""Probe 5: the Python API given the wrong types. Failed on main 98e5f6b with errors from
inside the library: `solve(inst, constraints=5)` raised "TypeError: Value after * must be an
iterable, not int"; `AllocationResult.from_json("{}")` a KeyError 'instance', `from_dict([])`
an AttributeError, `from_json("xx")` a JSONDecodeError; `instance_from_frames(None, 5)`
"TypeError: argument of type 'NoneType' is not iterable". Each is now an InputError naming
the argument or what the stored result lacks.
"""

from __future__ import annotations

import pytest

import optimiser
from optimiser.errors import InputError


def test_constraints_that_are_not_constraints_name_the_argument(pugh):
    with pytest.raises(InputError, match=r"argument 'constraints': must be a constraint .* or "
                                         r"a list of them, got int"):
        optimiser.solve(pugh, constraints=5)


def test_one_constraint_or_a_list_is_still_taken(pugh):
    one = optimiser.solve(pugh, constraints="coverage_floor:level=0.4", supply=1200)
    listed = optimiser.solve(pugh, constraints=["coverage_floor:level=0.4"], supply=1200)
    assert one.allocation == listed.allocation
    assert one.constraints == ("coverage_floor(level=0.4)",)


@pytest.mark.parametrize("text,message", [
    ("{}", "not a stored allocation result: no instance, policy, status, supply"),
    ("[]", "a stored result must be a JSON object, got list"),
    ("xx", "malformed JSON"),
    ('{"instance": "x", "policy": "optimal", "status": "optimal", "supply": "many"}',
     "malformed allocation result: ValueError"),
])
def test_a_damaged_stored_result_is_an_input_error(text, message):
    with pytest.raises(InputError, match=message):
        optimiser.AllocationResult.from_json(text)


def test_a_stored_result_still_reads_back(pugh):
    result = optimiser.solve(pugh, constraints=["coverage_floor:level=0.4"], supply=1200)
    again = optimiser.AllocationResult.from_json(result.to_json())
    assert again.to_dict() == result.to_dict()


@pytest.mark.parametrize("regions", [None, {"region": ["A"], "population": [1]}, "regions.csv"])
def test_regions_that_are_not_a_dataframe_name_the_argument(regions):
    with pytest.raises(InputError, match="argument 'regions': must be a pandas DataFrame"):
        optimiser.instance_from_frames(regions, 5)
