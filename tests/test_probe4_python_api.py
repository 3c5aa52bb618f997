"""Probe 4: a new user's first mistake in Python, the folder's path given for the instance.
`optimiser.solve("instances/pugh2021")` (and `compare`) raised "AttributeError: 'str' object
has no attribute 'constraints'", and `evaluate(inst, [("A", 3)])` an AttributeError on
'items': a crash, not an InputError saying what to pass. Failed on main 4dd34f7.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import optimiser

PUGH = "instances/pugh2021"


@pytest.mark.parametrize("function", ["solve", "compare"])
@pytest.mark.parametrize("given", [PUGH, Path(PUGH)])
def test_a_folder_path_for_the_instance_says_to_load_it(function, given):
    with pytest.raises(optimiser.InputError) as caught:
        getattr(optimiser, function)(given)
    message = str(caught.value)
    assert message.startswith("argument 'instance': must be an Instance, got "), message
    assert f"optimiser.{function}(optimiser.load_instance('instances/pugh2021'))" in message


def test_an_allocation_that_is_not_a_mapping_is_an_input_error():
    instance = optimiser.load_instance(PUGH)
    with pytest.raises(optimiser.InputError, match="argument 'allocation': must be a mapping"):
        optimiser.evaluate(instance, [("A", 3)])
    with pytest.raises(optimiser.InputError, match="argument 'instance'"):
        optimiser.evaluate(PUGH, {"A": 3})
    assert optimiser.evaluate(instance, {"A": 3}).lives_saved == 3.0


def test_bedside_compare_takes_the_case_folder_as_allocate_does():
    """`bedside.allocate("instances/bedside-snapshot")` reads the folder; `bedside.compare` with
    the same argument raised "AttributeError: 'str' object has no attribute 'cohort'"."""
    from optimiser import bedside

    spec = bedside.CompareSpec(replications=2)
    result = bedside.compare("instances/bedside-snapshot", spec, workers=1, progress=False)
    assert isinstance(result, bedside.CompareResult)
    with pytest.raises(optimiser.InputError, match="not a folder"):
        bedside.compare("instances/no-such-case", spec, workers=1, progress=False)
