"""Bedside triage: who receives the unit at each hospital, under the committee's policy,
with reserves, guardrails and a replayable record (docs/bedside.md).

    >>> from optimiser import bedside
    >>> inputs = bedside.load_inputs("instances/bedside-synthetic")
    >>> result = bedside.allocate(inputs)
    >>> result.summary["lives_gained"], result.recipients[:3]
"""

from optimiser.bedside.api import allocate
from optimiser.bedside.io import (
    BedsideInputs,
    Cohort,
    Units,
    case_to_dict,
    inputs_from_dict,
    load_inputs,
)
from optimiser.bedside.policy import Policy, load_policy, policy_from_dict
from optimiser.bedside.results import BedsideResult

__all__ = [
    "BedsideInputs",
    "BedsideResult",
    "Cohort",
    "Policy",
    "Units",
    "allocate",
    "case_to_dict",
    "inputs_from_dict",
    "load_inputs",
    "load_policy",
    "policy_from_dict",
]
