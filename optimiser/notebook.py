"""HTML summaries of results for notebooks (`_repr_html_`): the answer, what fairness costs,
and the regions that matter, in a few lines and one small table. Plain HTML escaped with the
standard library (no template engine is loaded for a notebook cell)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from optimiser.errors import counted

if TYPE_CHECKING:
    from optimiser.multiperiod.results import PlanResult
    from optimiser.results import AllocationResult

ROWS = 12


def _n(value: Any, digits: int = 1) -> str:
    if value is None or value != value:
        return "–"
    return f"{float(value):,.{digits}f}"


def _table(frame: Any, columns: dict[str, str], digits: dict[str, int]) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for label in ["region", *columns.values()])
    rows = []
    for rid, row in frame.iterrows():
        cells = [f"<td>{html.escape(str(rid))}</td>"]
        for col in columns:
            value = row[col]
            text = html.escape(str(value)) if isinstance(value, str) else _n(value, digits[col])
            cells.append(f"<td style='text-align:right'>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def allocation_html(result: AllocationResult) -> str:
    title = (
        f"<b>{html.escape(result.instance)}</b>: {result.supply:,} "
        f"{html.escape(result.resource)}s, "
        f"policy {html.escape(result.policy)}, status <b>{html.escape(str(result.status))}</b>"
    )
    parts = [f"<p>{title}</p>"]
    if result.constraints:
        parts.append(
            "<p>Fairness constraints: "
            + ", ".join(f"<code>{html.escape(c)}</code>" for c in result.constraints)
            + "</p>"
        )
    if result.lives_saved is None:
        parts.append(f"<p>{html.escape(result.explanation or 'no allocation')}</p>")
        return "".join(parts)
    line = f"Expected extra survivors: <b>{_n(result.lives_saved)}</b>"
    if result.constraints and result.lives_lost_total is not None:
        from optimiser.report import cost_words

        line += (
            f" (without fairness constraints {_n(result.lives_optimal)}; they cost "
            f"{html.escape(cost_words(result))} lives)"
        )
    parts.append(f"<p>{line}</p>")
    regions = result.regions
    if "units" in regions:
        shown = regions[regions["units"] > 0].sort_values("units", ascending=False)
        columns = {"units": "units", "useful_units": "useful", "lives": "lives saved"}
        columns = {k: v for k, v in columns.items() if k in shown}
        parts.append(_table(shown.head(ROWS), columns, {"units": 0, "useful_units": 1,
                                                         "lives": 1}))
        if len(shown) > ROWS:
            parts.append(f"<p>… {len(shown) - ROWS} more regions receive units "
                         "(<code>result.regions</code> has every region)</p>")
    return "".join(parts)


def plan_html(result: PlanResult) -> str:
    start = f" from {html.escape(result.start_date)}" if result.start_date else ""
    parts = [
        f"<p><b>{html.escape(result.instance)}</b>: plan over {result.days} days{start}, status "
        f"<b>{html.escape(str(result.status))}</b></p>"
    ]
    if result.lives_saved is None:
        parts.append(f"<p>{html.escape(result.explanation or 'no plan')}</p>")
        return "".join(parts)
    m = result.manifest
    ships = int((m["kind"] == "ship").sum()) if len(m) else 0
    moves = int((m["kind"] == "transfer").sum()) if len(m) else 0
    parts.append(
        f"<p>Expected extra survivors: <b>{_n(result.lives_saved)}</b>; "
        f"{counted(ships, 'shipment')} and {counted(moves, 'transfer')}; shortfall "
        f"{_n(result.shortfall)} {html.escape(result.resource)}-days</p>"
    )
    regions = result.regions
    if "not_admitted" in regions:
        shown = regions.sort_values("not_admitted", ascending=False).head(ROWS)
        columns = {"patients": "patients", "not_admitted": "not admitted",
                   "expected_survivors": "survivors"}
        columns = {k: v for k, v in columns.items() if k in shown}
        parts.append(_table(shown, columns, dict.fromkeys(columns, 1)))
    return "".join(parts)
