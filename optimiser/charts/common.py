"""What every chart shares: colours, sizes, tick labels (CountFormatter), region labels,
and writing a figure as PNG and SVG."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter

#: The documented contract of a plan's time series (one row per region and day).
PLAN_COLUMNS = ("region", "day", "units_on_hand", "demand")

COLOURS = {
    "capacity": "#9e9e9e",
    "units": "#1f6fb4",
    "demand": "#111111",
    "before": "#c0392b",
    "after": "#1f6fb4",
    "optimal": "#2e7d32",
    "rule": "#7f8c8d",
    "price": "#f4b183",
    "low": "#c0392b",
    "high": "#1f6fb4",
}
ROW_INCHES = 0.24  # height per region row
# Same figure, same SVG bytes: text kept as text, element ids from a fixed salt (matplotlib's
# default is random), and no creation date in the metadata.
SVG_SALT = "triage"
SVG_METADATA: dict[str, Any] = {"Date": None}
MIN_HEIGHT = 3.2
DPI = 110


def _number(value: Any) -> float:
    """A table cell as a float (NaN when missing)."""
    return math.nan if value is None else float(value)


class CountFormatter(Formatter):
    """Tick labels with thousands separators and as few decimals as show every tick exactly
    (1,000 / 0.25 / 2.5): adapts to the range, never prints "-0" or two equal labels."""

    MAX_DECIMALS = 8

    def __init__(self) -> None:
        self.decimals = 0

    def set_locs(self, locs: Any) -> None:
        super().set_locs(locs)
        self.decimals = self.decimals_for(locs)

    @classmethod
    def decimals_for(cls, locs: Any) -> int:
        values = sorted({float(v) for v in np.asarray(locs, dtype=float) if math.isfinite(v)})
        if not values:
            return 0
        steps = np.diff(values)
        step = float(steps.min()) if len(steps) else max(abs(values[0]), 1.0)
        for decimals in range(cls.MAX_DECIMALS + 1):
            if all(abs(round(v, decimals) - v) <= step * 1e-6 for v in values):
                texts = [cls.text(v, decimals) for v in values]
                if len(set(texts)) == len(texts):
                    return decimals
        return cls.MAX_DECIMALS

    @staticmethod
    def text(value: float, decimals: int) -> str:
        out = f"{value:,.{decimals}f}"
        return out[1:] if out.startswith("-") and float(out.replace(",", "")) == 0 else out

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self.text(x, self.decimals)


LABEL_CHARS = 30
LABEL_GAP_PT = 5.0  # points between a value label and the mark it follows (> half a tick)


def _region_labels(regions: pd.DataFrame) -> list[str]:
    """'Name (id)', the name shortened when long: the id always stays readable."""
    labels = []
    for rid, row in regions.iterrows():
        name = str(row.get("name", rid)) if "name" in regions else str(rid)
        if name == str(rid):
            labels.append(str(rid))
            continue
        room = LABEL_CHARS - len(str(rid)) - 3
        short = name if len(name) <= room else name[: max(1, room - 1)].rstrip() + "…"
        labels.append(f"{short} ({rid})")
    return labels


def _tall_figure(n: int, width: float = 9.0, extra: float = 1.6) -> Figure:
    return Figure(
        figsize=(width, max(MIN_HEIGHT, n * ROW_INCHES + extra)), dpi=DPI, layout="constrained"
    )


def save(fig: Figure, folder: str | Path, name: str) -> dict[str, Path]:
    """Write NAME.png and NAME.svg (text kept as text in the SVG)."""
    import matplotlib

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {"png": folder / f"{name}.png", "svg": folder / f"{name}.svg"}
    fig.savefig(out["png"], dpi=DPI)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": SVG_SALT}):
        fig.savefig(out["svg"], metadata=SVG_METADATA)
    return out


def svg_text(fig: Figure) -> str:
    """The figure as an inline SVG string (for self-contained HTML)."""
    import io

    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": SVG_SALT}):
        fig.savefig(buffer, format="svg", metadata=SVG_METADATA)
    text = buffer.getvalue()
    return text[text.find("<svg") :]
