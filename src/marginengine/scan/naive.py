"""The scan's plain-Python twin: the same float health, one account at a time, from dicts.

It is the test oracle of the array kernels (same formula, no arrays) and the baseline
of ``benchmarks/scan.py`` (what a per-account loop costs). It is *not* the exact rule:
that is the engine's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from marginengine.config import ProtocolConfig
from marginengine.fixedpoint import BPS, RAY

#: One account's positions: asset -> (scaled collateral, scaled debt).
Positions = Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class NaiveWeights:
    """Per-asset float values of one scaled unit (collateral weighted by LT, and debt)."""

    collateral: dict[str, float]
    debt: dict[str, float]


def naive_weights(config: ProtocolConfig, prices: Mapping[str, int],
                  liquidity_index: Mapping[str, int] | None = None,
                  borrow_index: Mapping[str, int] | None = None) -> NaiveWeights:
    """``index / RAY x price / unit (x LT)`` per priced asset, in plain floats."""
    coll, debt = {}, {}
    for symbol, price in prices.items():
        market = config.markets[symbol]
        per_unit = price / market.unit
        li = (liquidity_index or {}).get(symbol, RAY) / RAY
        bi = (borrow_index or {}).get(symbol, RAY) / RAY
        coll[symbol] = li * per_unit * (market.liquidation_threshold_bps / BPS)
        debt[symbol] = bi * per_unit
    return NaiveWeights(coll, debt)


def naive_health(accounts: Mapping[str, Positions], weights: NaiveWeights) -> dict[str, float]:
    """Float health of each account (``inf`` without debt), one Python loop per account."""
    out = {}
    coll, debt = weights.collateral, weights.debt
    for account_id, positions in accounts.items():
        cw = dv = 0.0
        for asset, (supplied, borrowed) in positions.items():
            cw += supplied * coll[asset]
            dv += borrowed * debt[asset]
        out[account_id] = cw / dv if dv else math.inf
    return out


def naive_below(accounts: Mapping[str, Positions], weights: NaiveWeights,
                threshold: float = 1.0) -> list[str]:
    """Accounts whose float health is below ``threshold``."""
    return [a for a, h in naive_health(accounts, weights).items() if h < threshold]
