"""What a report holds, before any HTML: sections of plain data (numbers, labelled tables,
figure names), the figures, the tables written as CSV and the provenance. The templates turn a
Report into a page (optimiser.reporting.render); tests read the data directly."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from matplotlib.figure import Figure


@dataclass(frozen=True)
class Column:
    """A table column: its key in the rows, its label, and how its numbers print."""

    key: str
    label: str
    fmt: str | None = None  # a format spec (",.1f", "+,.0f", ".1%"); None: as text
    numeric: bool = False


@dataclass(frozen=True)
class TableView:
    """A table ready to show: labelled columns and raw values (formatting is the template's)."""

    columns: list[Column]
    rows: list[dict[str, Any]]
    index: Column | None = None
    total_rows: int = 0  # rows before `limit`
    csv: str | None = None  # tables/NAME.csv, which holds every row
    summary: str | None = None  # the <details> title; None: shown open without one
    open: bool = True

    @property
    def truncated(self) -> bool:
        return self.total_rows > len(self.rows)


@dataclass
class Section:
    """One part of the page: its heading, the template that draws it (templates/sections/
    NAME.html.j2) and the data the template reads."""

    heading: str
    template: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    """Everything a report holds; `html` is the rendered page (build_report fills it)."""

    title: str
    figures: dict[str, Figure] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)
    html: str = ""
    svgs: dict[str, str] = field(default_factory=dict)  # rendered once, reused by write_report

    def section(self, template: str) -> Section:
        """The first section drawn by `template` (KeyError when there is none)."""
        for section in self.sections:
            if section.template == template:
                return section
        raise KeyError(template)

    def add_figure(self, name: str, figure: Figure, caption: str) -> str:
        self.figures[name] = figure
        self.captions[name] = caption
        return name


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def table_view(
    frame: pd.DataFrame,
    *,
    formats: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    index: bool = True,
    index_label: str | None = None,
    limit: int | None = None,
    csv: str | None = None,
    summary: str | None = None,
    open: bool = True,
    columns: Sequence[str] | None = None,
) -> TableView:
    """A TableView of `frame` (every column, or `columns`), labels and formats by column key;
    at most `limit` rows are kept (the CSV named by `csv` has them all)."""
    formats = formats or {}
    labels = labels or {}
    keys = [str(c) for c in (columns if columns is not None else frame.columns)]
    shown = frame if limit is None else frame.head(limit)
    cols = []
    for key in keys:
        values = frame[key] if key in frame else pd.Series(dtype=object)
        numeric = bool(len(values)) and pd.api.types.is_numeric_dtype(values) and not (
            pd.api.types.is_bool_dtype(values)
        )
        cols.append(Column(key, labels.get(key, key), formats.get(key), numeric))
    rows: list[dict[str, Any]] = []
    for idx, row in zip(shown.index, shown[keys].to_dict("records"), strict=True):
        record = {str(k): (None if missing(v) else v) for k, v in row.items()}
        record["__index__"] = idx
        rows.append(record)
    index_column = None
    if index:
        name = index_label or (str(frame.index.name) if frame.index.name else "")
        index_column = Column("__index__", labels.get(name, name))
    return TableView(cols, rows, index_column, len(frame), csv, summary, open)
