"""Probe 4: `optimiser.instance_from_dict` (the service's body) named a value of the wrong JSON
type twice, the second time as missing or empty: `population: "lots"` gave "must be a number"
and "missing value"; `region: 5` "must be a string" and "empty region id"; a tier's `share:
"half"` "must be a number" and "not a finite number: ''". Failed on main 4dd34f7.
"""

from __future__ import annotations

import pytest

import optimiser
from optimiser.errors import InputError

REGION = {"region": "A", "population": 100, "capacity": 1, "peak_demand": 5}


@pytest.mark.parametrize("payload,named", [
    ({"regions": [{**REGION, "population": "lots"}]},
     "regions, row 1, column 'population': must be a number, got 'lots'"),
    ({"regions": [{**REGION, "region": 5}]},
     "regions, row 1, column 'region': must be a string, got 5"),
    ({"regions": [REGION], "tiers": [{"region": "A", "share": "half", "survival_with": 0.5}]},
     "tiers, row 1, column 'share': must be a number, got 'half'"),
])
def test_a_value_of_the_wrong_json_type_is_named_once(payload, named):
    with pytest.raises(InputError) as caught:
        optimiser.instance_from_dict({"supply": 10, **payload})
    assert [str(p) for p in caught.value.problems] == [named]


def test_a_null_required_value_is_still_missing():
    with pytest.raises(InputError) as caught:
        optimiser.instance_from_dict({"supply": 10, "regions": [{**REGION, "population": None}]})
    assert [p.message for p in caught.value.problems] == ["missing value"]
