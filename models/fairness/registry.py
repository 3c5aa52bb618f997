"""The registry of fairness constraints and objective policies: what a kind declares.

A kind is one module of this package (models/fairness/<kind>.py) that calls `register` once,
declaring everything every model and tool needs of it:

* its parameters (`ParamSpec`: validated before any model is built; they feed the CLI, the
  service schema and the error messages);
* `add`: its single-period family, rows and columns added to the regional model as arrays
  (models/regional.py);
* `horizon`: its family over the horizon, added to the planner's model
  (models/multiperiod.py), returning a `HorizonFamily` handle (models/fairness/horizon.py)
  that also tells the rounding method what it needs of the family; None, said explicitly,
  for a kind that has no meaning over the horizon (the planner then refuses it);
* `inputs`: the inputs its rows depend on (regions.csv columns, `supply`, `horizon_days`), so
  the sweeps' fast path knows when a variant needs a model built anew and the tornado chart
  which columns to vary; None, said explicitly, when unknown (every variant rebuilt);
* optionally `floors` (a floor kind: x_r >= f_r, which the engines turn into bounds) or
  `weights` (an objective policy).

Check-plan's independent checker of each kind lives apart, in
optimiser/multiperiod/checks/<kind>.py (it implements the definition without calling the
model). A kind declared incompletely is an error when its module is imported: never a kind
that silently builds nothing. Symbols are those of docs/model.md: x_r units sent, E_r excess
demand, c_r capacity, P_r peak demand, pop_r population, S supply, cap_r staff cap.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from models.fairness.horizon import HorizonFamily
    from models.multiperiod import MultiPeriodData, PlanBuilder
    from models.regional import RegionalBuilder, RegionalData

INF = math.inf

FLOOR_EPS = 1e-9  # floor()/ceil() guard against 0.29999... from binary floating point
THRESHOLD_SLACK = 1e-5  # |x_r - lambda w_r| <= 1 - THRESHOLD_SLACK, i.e. strictly below 1
MAX_PARAMETER = 1e12  # no numeric parameter is meaningful beyond this (units, beds, tau...)


def _short(value: Any) -> str:
    """repr of a value, with integers of more than 30 digits summarised."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an integer of {len(str(abs(value)))} digits"
    return repr(value)


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a constraint kind."""

    name: str
    type: type | tuple[type, ...]
    doc: str
    default: Any = None
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True
    choices: tuple[str, ...] | None = None
    allow_mapping: bool = False
    # frontier levels of an unbounded parameter run from its minimum to this natural top of
    # the instance (default: twice the current value, else 1); `whole`: levels are rounded
    top: Callable[[RegionalData], float] | None = None
    whole: bool = False

    def check(self, value: Any) -> str | None:
        """None when valid, else the reason."""
        if self.allow_mapping and isinstance(value, Mapping):
            for key, val in value.items():
                if (
                    isinstance(val, bool)
                    or not isinstance(val, int | float)
                    or not -MAX_PARAMETER <= val <= MAX_PARAMETER  # also NaN and inf
                    or val < 0
                ):
                    return (
                        f"weight of region '{key}' must be a number in [0, {MAX_PARAMETER:g}], "
                        f"got {_short(val)}"
                    )
            return None
        if self.choices is not None:
            if value not in self.choices:
                return f"must be one of {', '.join(self.choices)}, got {value!r}"
            return None
        if isinstance(value, bool) or not isinstance(value, self.type):
            expected = "a number" if self.type in (float, (int, float)) else self.type.__name__  # type: ignore[union-attr]
            return f"must be {expected}, got {value!r}"
        if isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                return f"must be finite, got {value!r}"
            if abs(value) > MAX_PARAMETER:  # beyond any meaningful value, and near overflow
                return f"must be at most {MAX_PARAMETER:g} in size, got {_short(value)}"
            if self.minimum is not None and (
                value < self.minimum or (value == self.minimum and not self.min_inclusive)
            ):
                op = ">=" if self.min_inclusive else ">"
                return f"must be {op} {self.minimum:g}, got {value:g}"
            if self.maximum is not None and (
                value > self.maximum or (value == self.maximum and not self.max_inclusive)
            ):
                op = "<=" if self.max_inclusive else "<"
                return f"must be {op} {self.maximum:g}, got {value:g}"
        return None


# The inputs a kind's rows may depend on: regions.csv columns, the supply, the horizon.
INPUTS = frozenset(
    {
        "population",
        "capacity",
        "peak_demand",
        "survival_with",
        "survival_without",
        "los_days",
        "pressure",
        "staff_cap",
        "weight",
        "supply",
        "horizon_days",
    }
)
ROLES = ("constraint", "objective")

# a set, or a function of the parameters giving one; None: not declared (sweeps rebuild)
Inputs = frozenset[str] | Callable[[Mapping[str, Any]], frozenset[str]] | None
HorizonRule = Callable[["PlanBuilder", "MultiPeriodData", "ConstraintSpec"], "HorizonFamily"]


@dataclass(frozen=True)
class FairnessKind:
    """A registered fairness constraint (role 'constraint') or objective policy ('objective').
    What each field means: the module docstring."""

    name: str
    doc: str
    params: tuple[ParamSpec, ...]
    role: str  # "constraint" | "objective"
    add: Callable[[RegionalBuilder, RegionalData, Mapping[str, Any]], None]
    floors: Callable[[RegionalData, Mapping[str, Any]], np.ndarray] | None = None
    weights: Callable[[RegionalData, Mapping[str, Any]], np.ndarray] | None = None
    horizon: HorizonRule | None = None
    inputs: Inputs = None
    module: str = ""

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    def inputs_of(self, params: Mapping[str, Any]) -> frozenset[str] | None:
        """The inputs this constraint's rows (or weights) depend on; None: not declared."""
        if callable(self.inputs):
            return frozenset(self.inputs(params))
        return self.inputs

    @property
    def over_the_horizon(self) -> bool:
        return self.horizon is not None


REGISTRY: dict[str, FairnessKind] = {}


class RegistrationError(TypeError):
    """A fairness kind declared incompletely or inconsistently (raised on import)."""


def check_kind(kind: FairnessKind) -> None:
    """RegistrationError unless `kind` declares everything its role needs."""
    where = f"fairness kind {kind.name!r}" + (f" ({kind.module})" if kind.module else "")
    if kind.role not in ROLES:
        raise RegistrationError(f"{where}: role must be one of {ROLES}, got {kind.role!r}")
    if not callable(kind.add):
        raise RegistrationError(f"{where}: `add` (its single-period family) must be a function")
    if kind.horizon is not None and not callable(kind.horizon):
        raise RegistrationError(f"{where}: `horizon` must be a function or None")
    if kind.role == "objective" and kind.weights is None:
        raise RegistrationError(f"{where}: an objective policy declares its `weights`")
    if kind.inputs is not None and not callable(kind.inputs):
        unknown = set(kind.inputs) - INPUTS
        if unknown:
            raise RegistrationError(
                f"{where}: unknown inputs {sorted(unknown)} (known: {', '.join(sorted(INPUTS))})"
            )
    names = [p.name for p in kind.params]
    if len(set(names)) != len(names):
        raise RegistrationError(f"{where}: a parameter is declared twice ({names})")


_MISSING: Any = object()


def register(
    name: str,
    *params: ParamSpec,
    horizon: HorizonRule | None = _MISSING,
    inputs: frozenset[str] | set[str] | Callable[[Mapping[str, Any]], frozenset[str]] | None = (
        _MISSING
    ),
    role: str = "constraint",
    floors: Callable[[RegionalData, Mapping[str, Any]], np.ndarray] | None = None,
    weights: Callable[[RegionalData, Mapping[str, Any]], np.ndarray] | None = None,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register `add_<name>(m, data, params)`, the kind's single-period family, under `name`.

    `horizon` and `inputs` must be given (None is an answer, said explicitly): a kind that
    forgets its family over the horizon fails here, on import, not in a plan made without it.
    """
    if horizon is _MISSING:
        raise RegistrationError(
            f"fairness kind {name!r}: declare `horizon=` (its family over the horizon, a "
            "function returning a HorizonFamily), or horizon=None if it has none"
        )
    if inputs is _MISSING:
        raise RegistrationError(
            f"fairness kind {name!r}: declare `inputs=` (the inputs its rows depend on), or "
            "inputs=None if unknown"
        )

    def wrap(func: Callable[..., None]) -> Callable[..., None]:
        if name in REGISTRY and REGISTRY[name].module != func.__module__:
            raise RegistrationError(
                f"fairness kind {name!r} registered twice ({REGISTRY[name].module} and "
                f"{func.__module__})"
            )
        kind = FairnessKind(
            name=name,
            doc=(func.__doc__ or "").strip(),
            params=tuple(params),
            role=role,
            add=func,
            floors=floors,
            weights=weights,
            horizon=horizon,
            inputs=inputs if inputs is None or callable(inputs) else frozenset(inputs),
            module=func.__module__,
        )
        check_kind(kind)
        REGISTRY[name] = kind
        return func

    return wrap


@dataclass(frozen=True)
class ConstraintSpec:
    """A named fairness constraint with validated parameters; `label` identifies it in results."""

    kind: str
    params: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    @functools.cached_property
    def label(self) -> str:
        inner = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params)
        return f"{self.kind}({inner})"

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def definition(self) -> FairnessKind:
        return REGISTRY[self.kind]

    def as_table(self) -> dict[str, Any]:
        return {"kind": self.kind, **{k: v for k, v in self.params}}


def _fmt(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ";".join(f"{k}:{_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)  # labels parse back exactly
    return str(value)


def share_floors(data: RegionalData, share: float, weights: np.ndarray) -> np.ndarray:
    """floor(share * S * w_r / sum_s w_s): a share of the supply in proportion to w."""
    total = float(weights.sum())
    if total <= 0:
        return np.zeros(len(weights))
    return np.floor(share * data.supply * weights / total + FLOOR_EPS)


def add_floor_rows(m: RegionalBuilder, floors: np.ndarray, data: RegionalData) -> None:
    """x_r >= min(f_r, cap_r), one row per region where that is > 0."""
    clipped = np.minimum(floors, data.staff_cap)
    regions = np.flatnonzero(clipped > 0)
    rows = m.add_rows(len(regions), clipped[regions], INF)
    m.add(rows, m.x[regions], 1.0)


SHARE = ParamSpec(
    "share", (int, float), "share of supply guaranteed, in [0, 1]", minimum=0.0, maximum=1.0
)
