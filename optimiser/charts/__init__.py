"""Charts of allocations, policies, trade-offs and plans (matplotlib, Agg; PNG and SVG).

Every function takes tidy DataFrames (the engine's own tables) and returns a matplotlib Figure
built without pyplot (no global state, no display needed); `save(fig, folder, name)` writes
NAME.png and NAME.svg. Axes carry units; charts with one bar per region grow with the number
of regions so that 50 regions stay readable.

Inputs:
    allocation_chart, coverage_chart   AllocationResult.regions (units, capacity, peak_demand,
                                       coverage_before, coverage_after; index: region)
    policy_chart                       optimiser.compare(...) (index: policy; lives_saved)
    frontier_chart                     a sweep's variants over one constraint parameter
                                       (level column, lives_saved, lives_optimal, status)
    tornado_chart                      optimiser.report_data.tornado(...) rows (input,
                                       low_label, high_label, lives_low, lives_high; base)
    response_chart                     a sweep's variants against one varied input (a grid:
                                       median and range; a random sample: every variant as a
                                       point and binned medians)
    plan_chart, plan_chart_pages       PLAN_COLUMNS: region, day, units_on_hand, demand; a
                                       multi-period PlanResult.daily table (need = demand)
                                       goes through plan_frame(); pages of at most 20 regions
                                       keep labels readable in an HTML page
    plan_totals_chart                  the same, summed over regions (national view)

Tick labels use CountFormatter: thousands separators and only the decimals the tick spacing
needs (never "-0", never two equal labels). Value labels next to bars are placed past every
other mark on their row (peak-demand ticks, the L* line).
"""

from optimiser.charts.allocation import allocation_chart, coverage_chart, policy_chart
from optimiser.charts.common import (
    COLOURS,
    DPI,
    LABEL_CHARS,
    LABEL_GAP_PT,
    MIN_HEIGHT,
    PLAN_COLUMNS,
    ROW_INCHES,
    CountFormatter,
    save,
    svg_text,
)
from optimiser.charts.maps import map_charts, point_map, tile_map
from optimiser.charts.plans import (
    PLAN_COLUMNS_PER_ROW,
    PLAN_PAGE,
    PLAN_WIDTH,
    check_plan_frame,
    plan_chart,
    plan_chart_pages,
    plan_frame,
    plan_totals_chart,
    strained,
)
from optimiser.charts.tradeoffs import (
    MAX_GRID_TICKS,
    RESPONSE_BINS,
    binned_medians,
    frontier_chart,
    grid_ticks,
    response_chart,
    tornado_chart,
)

__all__ = [
    "COLOURS",
    "DPI",
    "LABEL_CHARS",
    "LABEL_GAP_PT",
    "MAX_GRID_TICKS",
    "MIN_HEIGHT",
    "PLAN_COLUMNS",
    "PLAN_COLUMNS_PER_ROW",
    "PLAN_PAGE",
    "PLAN_WIDTH",
    "RESPONSE_BINS",
    "ROW_INCHES",
    "CountFormatter",
    "allocation_chart",
    "binned_medians",
    "check_plan_frame",
    "coverage_chart",
    "frontier_chart",
    "grid_ticks",
    "map_charts",
    "plan_chart",
    "plan_chart_pages",
    "plan_frame",
    "plan_totals_chart",
    "point_map",
    "policy_chart",
    "response_chart",
    "save",
    "strained",
    "svg_text",
    "tile_map",
    "tornado_chart",
]
