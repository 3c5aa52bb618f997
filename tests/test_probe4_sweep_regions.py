"""Probe 4: `triage sweep --vary 'peak_demand*=0.7:1.3:0.1@ny'` said
"error: column 'region': --vary '...': unknown region(s) ny": a column of no file, for an
option, and no word of which ids the instance has ('NY'). Failed on main 4dd34f7.
"""

from __future__ import annotations

import pytest

import optimiser
from optimiser.errors import InputError
from optimiser.sweeps.spec import parse_vary


def test_an_unknown_region_of_vary_names_the_ids_not_a_column():
    instance = optimiser.load_instance("instances/us-states-2020")
    with pytest.raises(InputError) as caught:
        parse_vary("peak_demand*=0.7:1.3:0.1@ny,QQ", instance)
    (problem,) = caught.value.problems
    assert problem.column is None
    assert str(problem).startswith("--vary 'peak_demand*=0.7:1.3:0.1@ny,QQ': unknown regions "
                                   "ny (did you mean 'NY'?), QQ (regions: AK, AL, "), str(problem)
