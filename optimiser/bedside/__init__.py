"""Bedside triage: who receives the unit at each hospital, under the committee's policy,
with reserves, guardrails and a replayable record (docs/bedside.md).

    >>> from optimiser import bedside
    >>> inputs = bedside.load_inputs("instances/bedside-synthetic")
    >>> result = bedside.allocate(inputs)
    >>> result.summary["lives_gained"], result.recipients[:3]
"""

from optimiser.bedside.api import allocate
from optimiser.bedside.compare import CompareResult, CompareSpec, compare
from optimiser.bedside.curve import curves_to_instance, site_curve
from optimiser.bedside.io import (
    BedsideInputs,
    Cohort,
    Units,
    case_to_dict,
    inputs_from_dict,
    load_inputs,
)
from optimiser.bedside.log import read_overrides, replay, write_log
from optimiser.bedside.policy import Policy, load_policy, policy_from_dict
from optimiser.bedside.results import BedsideResult

__all__ = [
    "BedsideInputs",
    "BedsideResult",
    "Cohort",
    "CompareResult",
    "CompareSpec",
    "Policy",
    "Units",
    "allocate",
    "case_to_dict",
    "compare",
    "curves_to_instance",
    "inputs_from_dict",
    "load_inputs",
    "load_policy",
    "policy_from_dict",
    "read_overrides",
    "replay",
    "site_curve",
    "write_log",
]
