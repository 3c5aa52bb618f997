"""Arguments shown as most programs show them: `Usage: triage solve [OPTIONS] INSTANCE_DIR`.

typer 0.29 writes a required argument `{instance_dir}` in the usage line (and `instance_dir
<path>` under Arguments): braces that read as shell or Python syntax, in lower case like an
option's value. Every command of `triage` gets PlainUsageCommand (plain_usage, called once the
command modules have registered): an argument is its name in capitals everywhere (usage line,
Arguments, "Missing argument 'INSTANCE_DIR'"), `[NAME]` when optional, `NAME...` when it takes
several values. tests/test_leftovers_help_usage.py renders every command's help.

Both classes also coerce plain parameter values without pydantic (optimiser.cli.native_params).
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from optimiser.cli.native_params import native_coercion


class PlainUsageCommand(TyperCommand):
    """A command whose arguments read INSTANCE_DIR, [PLAN_FILE], FILES... (module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument) and param.metavar is None and param.name:
                param.metavar = param.name.upper()

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        native_coercion(self.get_params(ctx))  # --help too (click adds it when parsing)
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or (param.name or "").upper()
                name = name if param.required else f"[{name}]"
                pieces.append(name + ("..." if param.nargs != 1 else ""))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


class NativeGroup(TyperGroup):
    """A command group whose own options (-v, -q...) are coerced as its commands' are."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        native_coercion(self.get_params(ctx))  # --install-completion, --help: added last
        return super().parse_args(ctx, args)


def plain_usage(app: typer.Typer) -> None:
    """Every command registered on `app` and its sub-groups, built as PlainUsageCommand;
    `app` and its sub-groups as NativeGroup."""
    if getattr(app.info.cls, "value", app.info.cls) in (None, TyperGroup):  # typer's default
        app.info.cls = NativeGroup
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):  # not a class of its own
            info.cls = PlainUsageCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            plain_usage(group.typer_instance)
