"""Parse and validate the risk option: `neutral`, `cvar:alpha=0.1,lambda=0.5`, `worst:alpha=0.2`
(models/stochastic.py, `Risk`; docs/stochastic.md, "Risk")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from models.stochastic import RISK_KINDS, Risk
from optimiser.errors import InputError, Problem

DEFAULT_ALPHA = 0.1
MAX_LAMBDA = 1e6
USAGE = "neutral, cvar:alpha=A,lambda=L (0 < A <= 1, L >= 0) or worst:alpha=A"


def _bad(message: str) -> InputError:
    return InputError(Problem(message, column="risk", column_word="option"))


def parse_risk(spec: Risk | str | Mapping[str, Any] | None) -> Risk:
    """A Risk from its text form (or a mapping {kind, alpha, lambda}); InputError naming the
    option for anything else."""
    if spec is None:
        return Risk()
    if isinstance(spec, Risk):
        return _checked(spec)
    if isinstance(spec, Mapping):
        given = {str(k): v for k, v in spec.items() if k != "kind"}
        return _from_parts(str(spec.get("kind", "")), given)
    if not isinstance(spec, str):
        raise _bad(f"must be text ({USAGE}), got {spec!r}")
    kind, _, rest = spec.strip().partition(":")
    params: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise _bad(f"{part!r} is not name=value ({USAGE})")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            raise _bad(f"{key.strip()} must be a number, got {value.strip()!r}") from None
    return _from_parts(kind.strip(), params)


def _from_parts(kind: str, params: Mapping[str, Any]) -> Risk:
    if kind not in RISK_KINDS:
        raise _bad(f"unknown risk kind {kind!r} (kinds: {USAGE})")
    allowed = {"neutral": set(), "cvar": {"alpha", "lambda"}, "worst": {"alpha"}}[kind]
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise _bad(
            f"{kind} takes {', '.join(sorted(allowed)) or 'no parameters'}, "
            f"not {', '.join(unknown)}"
        )
    if kind == "cvar" and "lambda" not in params:
        raise _bad("cvar needs lambda (the weight of CVaR against expected survivors)")
    return _checked(
        Risk(
            kind=kind,
            alpha=float(params.get("alpha", DEFAULT_ALPHA)),
            weight=float(params.get("lambda", 0.0)),
        )
    )


def _checked(risk: Risk) -> Risk:
    for name, value in (("alpha", risk.alpha), ("lambda", risk.weight)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _bad(f"{name} must be a finite number, got {value!r}")
    if risk.kind not in RISK_KINDS:
        raise _bad(f"unknown risk kind {risk.kind!r} (kinds: {USAGE})")
    if not 0.0 < risk.alpha <= 1.0:
        raise _bad(f"alpha must be a tail share in (0, 1], got {risk.alpha:g}")
    if not 0.0 <= risk.weight <= MAX_LAMBDA:
        raise _bad(f"lambda must be in [0, {MAX_LAMBDA:g}], got {risk.weight:g}")
    return risk
