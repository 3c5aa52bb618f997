"""The first mistake with the multi-period Python API, caught by name (probe 6): a folder's path
or a single-period Instance given where a MultiPeriodInstance is needed
(`optimiser.multiperiod.plan("instances/italy-2020-wave1")` was an AttributeError on 'base')."""

from __future__ import annotations

import os

from optimiser.errors import InputError, Problem


def check_multiperiod(instance: object, function: str) -> None:
    """An InputError naming the argument unless `instance` is a MultiPeriodInstance;
    `function` is the call as the user writes it (`optimiser.multiperiod.plan`)."""
    from optimiser.instance import Instance
    from optimiser.multiperiod.instance import MultiPeriodInstance

    if isinstance(instance, MultiPeriodInstance):
        return
    hint = ""
    if isinstance(instance, str | os.PathLike):
        hint = (f"; load it first: {function}(optimiser.multiperiod.load_multiperiod("
                f"{os.fspath(instance)!r}), ...)")
    elif isinstance(instance, Instance):
        hint = (f" ({instance.name!r}, single-period: no demand.csv); a multi-period folder is "
                "read by optimiser.multiperiod.load_multiperiod, and a single-period instance "
                "is allocated by optimiser.solve")
    raise InputError(Problem(f"must be a MultiPeriodInstance, got {type(instance).__name__}{hint}",
                             column="instance", column_word="argument"))
