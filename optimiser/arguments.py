"""Switches of the Python API checked by name (probe6, leftovers3): a switch must be True or
False, so that `price_of_fairness="yes"` (or "no", which Python also reads as true) is
refused instead of answering another question than the one asked. Used by
`optimiser.multiperiod.plan` and the regional calls (`optimiser.solve`, `evaluate`,
`compare`, `sweep`)."""

from __future__ import annotations

import numpy as np

from optimiser.errors import InputError, Problem


def switch_problems(**switches: object) -> list[Problem]:
    """A Problem naming each switch (as an option) that is not True or False (a numpy bool
    is)."""
    return [
        Problem(f"must be True or False, got {value!r:.40}", column=name, column_word="option")
        for name, value in switches.items()
        if not isinstance(value, bool | np.bool_)
    ]


def check_switches(**switches: object) -> None:
    """InputError listing every switch that is not True or False."""
    problems = switch_problems(**switches)
    if problems:
        raise InputError(problems)
