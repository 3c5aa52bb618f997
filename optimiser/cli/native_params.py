"""Plain command-line values coerced without pydantic (issue 12: `triage solve` under 0.7 s).

typer 0.29 coerces every parameter's value through a pydantic TypeAdapter, built when the
command is parsed: importing pydantic and building the adapters of one `triage solve` took
0.08-0.12 CPU-s of the 0.7 s process (BENCHMARKS.md, "fastcli"). The values the CLI's
parameters take are plain (str, int, float, Path, list[str], list[float]): such a value is
coerced here as the adapter would coerce it (a canonical integer or decimal: int() or float()
of it; a path: pathlib.Path, then typer's own path checks), and any other value (an invalid
one, an exponent, spaces, an option with a parser, bounds or choices) goes to typer's own
coercion, built on first need, so every answer and every error message is typer's.
tests/test_fastcli_native_params.py compares both on each parameter of every command.

With a typer that coerces otherwise (older ones use click's types), nothing is changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

try:  # typer >= 0.29: runtime coercion through pydantic (typer._coercion)
    from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
    from typer._param_types import coerce_cli_path
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - an older typer: click's types, no pydantic
    RuntimeParam = None  # type: ignore[assignment,misc]

#: an integer or decimal as written by hand: no sign but "-", no leading zeros, no exponent,
#: no separators or spaces, at most 18 digits (what int() and pydantic read alike)
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,15})?")


class _Other:
    """Not a value this module coerces: typer's own coercion decides."""


OTHER = _Other()


def _plain(annotation: Any, value: Any) -> Any:
    """`value` coerced to `annotation` (str, int, float), or OTHER."""
    kind = type(value)
    if annotation is str and kind is str:
        return value
    if annotation is int:
        if kind is int:
            return value
        if kind is str and _INT.fullmatch(value):
            return int(value)
    if annotation is float:
        if kind is float:
            return value
        if kind is str and _DECIMAL.fullmatch(value):
            return float(value)
    return OTHER


def _number_constraints(descriptor: Any) -> bool:
    info = descriptor.parameter_info
    return info.min is not None or info.max is not None or bool(info.clamp)


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class NativeRuntimeParam(RuntimeParam):
        """A parameter's coercion: plain values here, any other through typer's own."""

        descriptor: TypeDescriptor
        _typer: list[RuntimeParam] = field(default_factory=list, compare=False, repr=False)

        def typer_coercion(self) -> RuntimeParam:
            """typer's own coercion of this parameter (its pydantic adapter), built once."""
            if not self._typer:
                self._typer.append(build_runtime_param(self.descriptor))
            return self._typer[0]

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            result = self.native(value, param, ctx)
            if result is OTHER:
                return self.typer_coercion()._coerce_value(value, param=param, ctx=ctx)
            return result

        def native(self, value: Any, param: Any, ctx: Any) -> Any:
            """`value` coerced as typer's adapter would, or OTHER."""
            annotation = self.annotation
            if self.parameter_info.parser is not None or _number_constraints(self.descriptor):
                return OTHER
            if self.descriptor.is_list:
                args = get_args(annotation)
                if len(args) != 1 or type(value) not in (list, tuple):
                    return OTHER
                item_type = args[0]
                items = [_plain(item_type, item) for item in value]
                return OTHER if any(item is OTHER for item in items) else items
            path_type = self.parameter_info.path_type
            if annotation is Path and self.descriptor.is_path and path_type in (None, Path):
                if type(value) is not str or not value or "\x00" in value:
                    return OTHER
                try:  # typer's own checks (exists, readable...) on the Path
                    return coerce_cli_path(
                        Path(value), self.parameter_info, path_type=Path, param=param, ctx=ctx
                    )
                except Exception:  # typer's coercion then says why, in its words
                    return OTHER
            return _plain(annotation, value)


def native_coercion(params: Iterable[Any]) -> None:
    """Give each typer parameter in `params` (of a click command typer built) the coercion
    above; nothing with a typer that has no pydantic coercion."""
    if RuntimeParam is None:  # pragma: no cover - older typer
        return
    for param in params:
        if isinstance(param, _TyperParameter) and getattr(param, "_runtime_param", 1) is None:
            descriptor = param.type_descriptor
            param._runtime_param = NativeRuntimeParam(
                parameter_info=descriptor.parameter_info,
                annotation=descriptor.annotation,
                descriptor=descriptor,
            )
