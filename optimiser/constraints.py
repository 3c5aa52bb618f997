"""Parse and validate fairness constraint specifications (TOML tables, CLI strings, dicts)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from models.fairness import REGISTRY, ConstraintSpec
from optimiser.errors import InputError, Problem
from optimiser.textfiles import strict_float

__all__ = [
    "ConstraintSpec",
    "check_region_keys",
    "constraint",
    "parse_constraint",
    "parse_constraint_table",
    "to_specs",
]


def constraint(kind: str, /, **params: Any) -> ConstraintSpec:
    """Build a validated spec: `constraint("coverage_floor", level=0.8)`."""
    return _validate(kind, dict(params), where=f"constraint '{kind}'", file=None)


def _validate(kind: Any, params: dict[str, Any], where: str, file: str | None) -> ConstraintSpec:
    if not isinstance(kind, str) or kind not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        what = "no 'kind'" if kind is None else f"unknown constraint kind {kind!r}"  # not None
        raise InputError(Problem(f"{where}: {what} (known: {known})", file=file))
    definition = REGISTRY[kind]
    problems: list[Problem] = []
    for name in params:
        if definition.param(name) is None:
            allowed = ", ".join(p.name for p in definition.params) or "none"
            problems.append(
                Problem(
                    f"{where}: unknown parameter '{name}' for {kind} (parameters: {allowed})",
                    file=file,
                )
            )
    values: list[tuple[str, Any]] = []
    for spec in definition.params:
        if spec.name not in params:
            if spec.required:
                problems.append(
                    Problem(f"{where}: missing parameter '{spec.name}' ({spec.doc})", file=file)
                )
                continue
            value = spec.default
        else:
            value = params[spec.name]
        reason = spec.check(value)
        if reason:
            problems.append(Problem(f"{where}: parameter '{spec.name}' {reason}", file=file))
            continue
        if isinstance(value, Mapping):  # keyed by region id: ids are text
            value = dict(sorted((str(k), v) for k, v in value.items()))
        values.append((spec.name, value))
    if problems:
        raise InputError(problems)
    return ConstraintSpec(kind, tuple(values))


def parse_constraint(text: str) -> ConstraintSpec:
    """Parse `KIND:param=value[,param=value]` (the CLI form) or a result's label,
    `KIND(param=value, param=value)`, so that a result's constraints can be fed back in."""
    stripped = text.strip()
    label = re.fullmatch(r"([A-Za-z_]\w*)\((.*)\)", stripped, flags=re.DOTALL)
    if label:
        kind, rest, separator = label.group(1), label.group(2), ", "
    else:
        kind, _, rest = stripped.partition(":")
        separator = ","
    params: dict[str, Any] = {}
    if rest.strip():
        for item in rest.split(separator):
            name, eq, raw = item.partition("=")
            name = name.strip()
            if not eq or not name:
                raise InputError(
                    Problem(
                        f"--constraint {text!r}: expected KIND:param=value[,param=value], "
                        f"got {item!r}"
                    )
                )
            if name in params:
                raise InputError(
                    Problem(f"--constraint {text!r}: parameter '{name}' is given twice")
                )
            params[name] = _coerce(raw.strip())
    return _validate(kind.strip(), params, where=f"--constraint {text!r}", file=None)


def _coerce(raw: str) -> Any:
    mapping = re.fullmatch(r"\{(.*)\}", raw, flags=re.DOTALL)
    if mapping:  # a label's mapping, {A:2;B:1.5}
        items = [item.partition(":") for item in mapping.group(1).split(";") if item.strip()]
        return {key.strip(): _coerce(value.strip()) for key, _, value in items}
    text = raw.strip()
    if re.fullmatch(r"[+-]?\d+", text, flags=re.ASCII):  # ASCII digits only: no 1_000, no ٥
        return int(text)
    number = strict_float(text)
    return raw if number is None else number


def parse_constraint_table(
    tables: Any, file: str | None = "instance.toml"
) -> tuple[ConstraintSpec, ...]:
    """Validate `[[constraints]]` entries: each a table with `kind` plus parameters."""
    if not isinstance(tables, list):  # a file's TOML words, else a JSON body's (the service)
        shape = "an array of tables ([[constraints]])" if file else (
            "a list of constraint objects ({kind, ...})")
        raise InputError(Problem(f"field 'constraints': must be {shape}", file=file))
    specs: list[ConstraintSpec] = []
    problems: list[Problem] = []
    for i, table in enumerate(tables):
        where = f"constraints[{i}]"
        if not isinstance(table, Mapping):
            problems.append(
                Problem(f"{where}: must be a table with 'kind' and parameters", file=file)
            )
            continue
        params = {k: v for k, v in table.items() if k != "kind"}
        try:
            specs.append(_validate(table.get("kind"), params, where=where, file=file))
        except InputError as exc:
            problems.extend(exc.problems)
    labels = [s.label for s in specs]
    for label in sorted({x for x in labels if labels.count(x) > 1}):
        problems.append(Problem(f"constraint {label} is listed twice", file=file))
    if problems:
        raise InputError(problems)
    return tuple(specs)


def check_region_keys(
    specs: Iterable[ConstraintSpec], regions: Sequence[str], file: str | None = None
) -> list[Problem]:
    """Parameters given per region (a mapping region -> value) must name known regions."""
    known = set(regions)
    problems = []
    for spec in specs:
        for name, value in spec.params:
            if not isinstance(value, Mapping):
                continue
            for key in value:
                if str(key) not in known:
                    problems.append(
                        Problem(
                            f"{spec.label}: parameter '{name}' names unknown region '{key}'",
                            file=file,
                        )
                    )
    return problems


def to_specs(
    items: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None,
    regions: Sequence[str] | None = None,
) -> tuple[ConstraintSpec, ...]:
    """Accept specs, CLI strings or tables; validate (against `regions` when given, for
    parameters keyed by region); drop duplicates keeping order."""
    out: list[ConstraintSpec] = []
    if isinstance(items, str | Mapping | ConstraintSpec):  # one constraint, not a list of them
        items = [items]
    for item in items or ():
        if isinstance(item, ConstraintSpec):
            spec = _validate(item.kind, item.options, where=f"constraint '{item.kind}'", file=None)
        elif isinstance(item, str):
            spec = parse_constraint(item)
        elif isinstance(item, Mapping):
            spec = parse_constraint_table([dict(item)], file=None)[0]
        else:
            raise InputError(Problem(f"cannot read a constraint from {item!r}"))
        if spec not in out:
            out.append(spec)
    if regions is not None:
        problems = check_region_keys(out, regions)
        if problems:
            raise InputError(problems)
    return tuple(out)
