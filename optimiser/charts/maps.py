"""Maps that work without network access (no tiles, no basemap to download): a tile grid for
the 50 US states (every state the same size, so small states stay readable) and, elsewhere, a
point map of the regions' coordinates (lat, lon: an instance's coordinates.csv), drawn on a
latitude/longitude grid with the aspect of the mean latitude.

`tile_map` / `point_map` colour one value per region; `map_charts` draws the report's three:
units sent, coverage after the allocation, and the shortage left (patients at the peak without
a unit); for a plan, units received, patients not admitted and the shortfall.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Normalize, PowerNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from optimiser.charts.common import DPI, CountFormatter

#: The usual 50-state tile grid (after NPR's): (row, column) of each state, north-west first.
US_TILES: dict[str, tuple[int, int]] = {
    "AK": (0, 0), "ME": (0, 11),
    "VT": (1, 9), "NH": (1, 10),
    "WA": (2, 0), "ID": (2, 1), "MT": (2, 2), "ND": (2, 3), "MN": (2, 4), "IL": (2, 5),
    "WI": (2, 6), "MI": (2, 7), "NY": (2, 8), "RI": (2, 9), "MA": (2, 10),
    "OR": (3, 0), "NV": (3, 1), "WY": (3, 2), "SD": (3, 3), "IA": (3, 4), "IN": (3, 5),
    "OH": (3, 6), "PA": (3, 7), "NJ": (3, 8), "CT": (3, 9),
    "CA": (4, 0), "UT": (4, 1), "CO": (4, 2), "NE": (4, 3), "MO": (4, 4), "KY": (4, 5),
    "WV": (4, 6), "VA": (4, 7), "MD": (4, 8), "DE": (4, 9),
    "AZ": (5, 1), "NM": (5, 2), "KS": (5, 3), "AR": (5, 4), "TN": (5, 5), "NC": (5, 6),
    "SC": (5, 7),
    "OK": (6, 3), "LA": (6, 4), "MS": (6, 5), "AL": (6, 6), "GA": (6, 7),
    "HI": (7, 0), "TX": (7, 3), "FL": (7, 8),
}
MEASURES = {  # name -> (colour map, fixed range or None)
    "units": ("Blues", None),
    "coverage": ("RdYlGn", (0.0, 1.0)),
    "shortage": ("Reds", None),
}


def is_us_states(regions: object) -> bool:
    """Are these (nearly all) the 50 US states by postal code? Then the tile grid fits."""
    ids = {str(r) for r in regions}  # type: ignore[attr-defined]
    return len(ids) >= 10 and len(ids & set(US_TILES)) >= 0.9 * len(ids)


def _scale(values: pd.Series, measure: str) -> tuple[Normalize, str]:
    cmap, fixed = MEASURES.get(measure, ("Blues", None))
    if fixed is not None:
        return Normalize(*fixed), cmap
    top = float(np.nanmax(values.to_numpy(dtype=float))) if len(values) else 0.0
    # square-root scale: one region with most of the units leaves the others still apart
    return PowerNorm(0.5, 0.0, top if top > 0 else 1.0), cmap


def _text(value: float, measure: str) -> str:
    if value != value:
        return "–"
    if measure == "coverage":
        return f"{100 * value:.0f}%"
    return f"{value:,.0f}"


def _colourbar(fig: Figure, ax: Axes, norm: Normalize, cmap: str, label: str,
               measure: str) -> None:
    from matplotlib.cm import ScalarMappable

    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, orientation="horizontal",
                       fraction=0.05, pad=0.02, aspect=40)
    bar.set_label(label, fontsize=9)
    bar.ax.tick_params(labelsize=8)
    if measure == "coverage":
        bar.ax.xaxis.set_major_formatter(lambda x, _pos: f"{100 * x:.0f}%")
    else:
        bar.ax.xaxis.set_major_formatter(CountFormatter())


def tile_map(values: Mapping[str, float] | pd.Series, *, title: str, label: str,
             measure: str = "units") -> Figure:
    """The 50 US states as equal tiles coloured by `values` (postal code -> value); each tile
    shows its code and value. States without a value are outlined only."""
    series = pd.Series(values, dtype=float)
    norm, cmap_name = _scale(series, measure)
    cmap = colormaps[cmap_name]
    fig = Figure(figsize=(9.0, 6.6), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    for state, (row, col) in US_TILES.items():
        value = float(series.get(state, math.nan))
        known = value == value
        colour = cmap(norm(value)) if known else "white"
        ax.add_patch(_tile(col, row, colour))
        dark = known and _luminance(colour) < 0.5
        ink = "white" if dark else "#222222"
        ax.text(col + 0.5, row + 0.36, state, ha="center", va="center", fontsize=10,
                fontweight="bold", color=ink)
        ax.text(col + 0.5, row + 0.7, _text(value, measure), ha="center", va="center",
                fontsize=7.5, color=ink)
    ax.set_xlim(-0.1, 12.1)
    ax.set_ylim(8.1, -0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11, loc="left")
    _colourbar(fig, ax, norm, cmap_name, label, measure)
    return fig


def _tile(col: int, row: int, colour: object) -> Patch:
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((col + 0.05, row + 0.05), 0.9, 0.9,
                          boxstyle="round,pad=0,rounding_size=0.08", facecolor=colour,
                          edgecolor="#888888", linewidth=0.6)


def _luminance(colour: object) -> float:
    r, g, b = (float(c) for c in colour[:3])  # type: ignore[index]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def point_map(values: Mapping[str, float] | pd.Series, coordinates: pd.DataFrame, *,
              title: str, label: str, measure: str = "units") -> Figure:
    """One dot per region at its coordinates (a frame with lat, lon indexed by region id),
    coloured by `values` and labelled with its id; the axes are degrees of longitude and
    latitude, scaled by the cosine of the mean latitude so the shape is not stretched."""
    series = pd.Series(values, dtype=float)
    coords = coordinates.loc[[r for r in coordinates.index if r in series.index]]
    norm, cmap_name = _scale(series, measure)
    cmap = colormaps[cmap_name]
    lat = coords["lat"].to_numpy(dtype=float)
    lon = coords["lon"].to_numpy(dtype=float)
    span_lon = max(float(np.ptp(lon)) if len(lon) else 1.0, 1.0)
    span_lat = max(float(np.ptp(lat)) if len(lat) else 1.0, 1.0)
    squeeze = math.cos(math.radians(float(np.mean(lat)) if len(lat) else 0.0))
    width = 8.5
    height = min(10.0, max(4.0, width * span_lat / (span_lon * squeeze) * 0.9))
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    v = series.reindex(coords.index).to_numpy(dtype=float)
    colours = [cmap(norm(x)) if x == x else "white" for x in v]
    ax.scatter(lon, lat, s=260, c=colours, edgecolors="#555555", linewidths=0.7, zorder=3)
    for rid, x, y, value in zip(coords.index, lon, lat, v, strict=True):
        ax.annotate(f"{rid}\n{_text(value, measure)}", (x, y), xytext=(0, 11),
                    textcoords="offset points", ha="center", va="bottom", fontsize=7.5,
                    zorder=4)
    pad_lon, pad_lat = 0.08 * span_lon, 0.12 * span_lat
    ax.set_xlim(float(lon.min()) - pad_lon, float(lon.max()) + pad_lon)
    ax.set_ylim(float(lat.min()) - pad_lat, float(lat.max()) + 2 * pad_lat)
    ax.set_aspect(1 / squeeze)
    ax.set_xlabel("longitude (°)", fontsize=8.5)
    ax.set_ylabel("latitude (°)", fontsize=8.5)
    ax.tick_params(labelsize=7.5)
    ax.grid(alpha=0.25)
    ax.set_title(title, fontsize=11, loc="left")
    _colourbar(fig, ax, norm, cmap_name, label, measure)
    return fig


def map_charts(
    values: Mapping[str, pd.Series],
    *,
    coordinates: pd.DataFrame | None,
    titles: Mapping[str, tuple[str, str, str]],
) -> dict[str, Figure]:
    """One map per entry of `values` (a series by region id); `titles[name]` = (title,
    colour-bar label, measure: units | coverage | shortage, which sets the colours). A tile
    grid for the US states, a point map where coordinates are given, nothing otherwise."""
    out: dict[str, Figure] = {}
    for name, series in values.items():
        title, label, measure = titles[name]
        if is_us_states(series.index):
            out[name] = tile_map(series, title=title, label=label, measure=measure)
        elif coordinates is not None and len(coordinates.index.intersection(series.index)):
            out[name] = point_map(series, coordinates, title=title, label=label,
                                  measure=measure)
    return out
