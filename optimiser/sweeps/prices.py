"""The price of fairness of a sweep variant, with the interval its solves prove.

A variant's price is L* - lives_saved (L*: the same variant without fairness constraints).
Both optima come from solves that prove bounds: L* lies in [its allocation's lives, its
bound] and the variant's optimum in [lives_saved, lives_bound], so the price lies in
[L* - lives_bound, L*_bound - lives_saved] (optimiser.engine.price_interval, the engine's
price table's arithmetic). The price is exact when that interval is at most PRICE_PRECISION
(0.01 lives) wide; otherwise it is flagged (price_of_fairness_exact False) and the interval
says what is proved. With objective weights the price is that of the allocation the weights
choose (its lives are the high end).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimiser.engine import price_interval
from optimiser.results import PRICE_PRECISION

if TYPE_CHECKING:
    from optimiser.sweeps.fast import VariantOutcome

#: the price columns of a sweep's variants table, in order
PRICE_COLUMNS = (
    "price_of_fairness",
    "price_of_fairness_pct",
    "price_of_fairness_low",
    "price_of_fairness_high",
    "price_of_fairness_exact",
)


@dataclass(frozen=True)
class _Optimum:
    lives: float | None
    lives_bound: float | None


def variant_price(out: VariantOutcome) -> dict[str, Any]:
    """The PRICE_COLUMNS of one variant (NaN, and NA for the flag, without a price)."""
    missing = {name: np.nan for name in PRICE_COLUMNS} | {"price_of_fairness_exact": pd.NA}
    if out.lives is None or out.lives_optimal is None:
        return missing
    star = _Optimum(out.lives_optimal, out.lives_optimal_bound)
    high_lives = out.lives if out.lives_bound is None else max(out.lives_bound, out.lives)
    low, high = price_interval(star, out.lives, high_lives)
    if low is None or high is None:
        return missing
    price = min(max(out.lives_optimal - out.lives, low), high)
    pct = 100.0 * price / out.lives_optimal if out.lives_optimal > 0 else 0.0
    return {
        "price_of_fairness": price,
        "price_of_fairness_pct": pct,
        "price_of_fairness_low": low,
        "price_of_fairness_high": high,
        "price_of_fairness_exact": bool(high - low <= PRICE_PRECISION + 1e-9),
    }
