"""Text and files of a stochastic plan (`triage plan DIR --scenarios ...`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from optimiser.errors import counted
from optimiser.stochastic.compare import Comparison
from optimiser.stochastic.results import StochasticResult


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def stochastic_text(result: StochasticResult, comparison: Comparison | None = None) -> str:
    """What a logistics team reads: the commit, what it leads to per scenario, the figures."""
    r = result
    window = f"days {r.today}..{r.commit_end - 1}"
    lines = [
        f"{r.instance}: two-stage plan over {counted(len(r.per_scenario), 'scenario')}, "
        f"risk {r.risk}, status {r.status}",
        f"expected lives saved {_fmt(r.expected_lives)}"
        + (f" (bound {_fmt(r.lives_bound)})" if r.lives_bound is not None else "")
        + (f"; CVaR deaths {_fmt(r.cvar_deaths)}" if r.cvar_deaths is not None else "")
        + f"; expected deaths {_fmt(r.expected_deaths)}",
    ]
    if r.explanation:
        lines.append(r.explanation)
    lines.append(
        f"committed now ({window}, the same in every scenario): {counted(len(r.committed), 'move')}"
    )
    for move in r.committed.to_dict("records"):
        lines.append(
            f"  {move['kind']:8s} day {int(move['day']):>3}  {move['from']} -> {move['to']}  "
            f"{counted(float(move['units']), 'unit')}, arrives day {int(move['arrives'])}"
        )
    lines.append("per scenario (model): probability, lives, deaths")
    for sid, one in zip(r.per_scenario.index, r.per_scenario.to_dict("records"), strict=True):
        lines.append(
            f"  {sid}: {float(one['probability']):.4f}  {_fmt(one['lives'])}  {_fmt(one['deaths'])}"
        )
    if len(r.price_of_fairness):
        lines.append("price of fairness (expected lives):")
        for row in r.price_of_fairness.to_dict("records"):
            lines.append(f"  {row['constraint']}: {_fmt(row.get('lives_lost_alone'))} alone")
    if comparison is not None:
        c = comparison
        where = "in sample" if c.in_sample else "out of sample"
        n = c.info.get("evaluation_scenarios")
        scored = counted(n, "scenario") if isinstance(n, int | float) else f"{n} scenarios"
        lines.append(
            f"candidates scored by recourse + simulator ({where}, "
            f"{scored}; CVaR at alpha {c.alpha:g}):"
        )
        lines.append(
            "  candidate                       survivors   deaths  P(short)  E[short]  CVaR[short]"
            "  units cut"
        )
        for name, row in zip(c.table.index, c.table.to_dict("records"), strict=True):
            lines.append(
                f"  {name!s:30s} {row['expected_survivors']:10.2f} "
                f"{row['expected_deaths']:8.2f} {row['probability_of_shortfall']:9.2f} "
                f"{row['expected_shortfall']:9.2f} {row['cvar_shortfall']:12.2f} "
                f"{row.get('commit_units_cut', 0.0):10.2f}"
            )
        for name, units in (c.info.get("units_cut_to_plan") or {}).items():
            lines.append(
                f"  {name}: commit cut by {counted(units, 'unit')}: transfers its donors could not "
                "make in every planning scenario"
            )
        if (c.table.get("commit_units_cut", pd.Series(dtype=float)) > 0).any():
            lines.append(
                "  units cut: expected committed units a donor could not send in an "
                "evaluation scenario (cut there)"
            )
        lines.append(f"VSS {_fmt(c.vss)} survivors; EVPI {_fmt(c.evpi)} survivors")
        if c.status == "iteration_limit":
            lines.append(
                "comparison status: iteration_limit (no time limit reached): "
                + "; ".join(
                    f"{k}: {counted(len(ids), 're-plan')} stopped at their own round or node "
                    "limits, not proved optimal"
                    for k, ids in c.cut_short.items()
                )
            )
        if c.status == "time_limit":
            limit = c.info.get("time_limit")
            budget = f" (budget {limit:g} s)" if limit is not None else ""
            lines.append(
                f"comparison status: time_limit{budget}: "
                + "; ".join(
                    [f"{k} not scored: {why}" for k, why in c.not_scored.items()]
                    + [
                        f"{k}: {counted(len(ids), 're-plan')} cut short, not proved optimal"
                        for k, ids in c.cut_short.items()
                    ]
                )
            )
    return "\n".join(lines)


def write_stochastic_outputs(
    result: StochasticResult, folder: Path, comparison: Comparison | None = None
) -> None:
    """committed.csv (the moves to make now; `triage plan --executed` reads it), scenarios.csv,
    price_of_fairness.csv, result.json (and comparison.csv / comparison.json)."""
    # whole units as plan.csv writes them ("4", not "4.0"): the rows --executed reads back
    result.committed.to_csv(
        folder / "committed.csv", index=False, lineterminator="\n", float_format="%.15g"
    )
    result.per_scenario.to_csv(folder / "scenarios.csv", lineterminator="\n")
    result.price_of_fairness.to_csv(
        folder / "price_of_fairness.csv", index=False, lineterminator="\n"
    )
    (folder / "result.json").write_text(result.to_json())
    if comparison is not None:
        comparison.table.to_csv(folder / "comparison.csv", lineterminator="\n")
        (folder / "comparison.json").write_text(comparison.to_json())
