"""Numerical tolerances of the test suite, declared once.

The engine solves with HiGHS at a relative MIP gap of 1e-6 and pins tie-break stages to the
best lives value within 1e-7 relative (optimiser/regional_engine.py). A lives value is therefore
compared with LIVES_REL relative plus LIVES_ABS absolute tolerance: far below one life, far
above floating-point noise.
"""

from __future__ import annotations

import pytest

LIVES_REL = 2e-6  # relative tolerance on lives saved (the solver's MIP gap, with margin)
LIVES_ABS = 1e-6  # absolute floor of that tolerance (lives)
FLOOR_EPS = 1e-9  # guard of floor()/ceil() in the oracles against 0.2999... from binary floats
THRESHOLD_EPS = 1e-9  # strictness margin of the threshold interval test |x - lambda w| < 1
# a stricter margin, so a brute force brackets the engine's |x - lambda w| <= 1 - 1e-5
THRESHOLD_STRICT_MARGIN = 1e-4
COVERAGE_EPS = 1e-9  # slack of the independent coverage-gap check


def lives_tol(reference: float) -> float:
    """How far an engine lives value may be from an independent oracle's."""
    return LIVES_ABS + LIVES_REL * abs(reference)


def approx_lives(expected: float) -> object:
    """pytest.approx with the suite's lives tolerance."""
    return pytest.approx(expected, rel=LIVES_REL, abs=LIVES_ABS)
