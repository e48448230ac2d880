"""A plain NumPy float twin of the benchmark's cascade, for speed comparison only.

The same book (the exact run's balances after set-up, as floats), the same price and gas
paths, the same AMM (its reserves as floats, arbitrage moving the mid ``speed`` of the way
to the external price): each step, vector health factors at the oracle (the external
price), every account below 1 liquidated at once with the close factor (50%, 100% at or
below 0.95) and the bonus (capped by its collateral) when that pays for gas at the
venue's mid, and the seized collateral sold on the AMM in one trade. No interest, no
dust rule, no rounding, no keepers' capital: it is a model of the cascade, not the
engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass
class FloatTwin:
    """The twin's state (whole tokens, USD)."""

    collateral: FloatArray        # collateral tokens per account
    debt: FloatArray              # debt (USD) per account
    threshold: float              # liquidation threshold
    bonus: float                  # liquidation bonus (1.05)
    base_reserve: float           # AMM base (collateral tokens)
    quote_reserve: float          # AMM quote (USD)
    fee: float                    # AMM fee (0.003)
    speed: float                  # arbitrage speed
    liquidations: int = 0

    def step(self, external: float, gas_usd: float) -> int:
        """One step; returns the liquidations made."""
        # Arbitrage: move the mid `speed` of the way to the external price (in price),
        # keeping the pool's constant product.
        k = self.base_reserve * self.quote_reserve
        mid = self.quote_reserve / self.base_reserve
        target = mid + (external - mid) * self.speed
        self.base_reserve = float(np.sqrt(k / target))
        self.quote_reserve = k / self.base_reserve
        hf = np.divide(self.collateral * external * self.threshold, self.debt,
                       out=np.full_like(self.debt, np.inf), where=self.debt > 0)
        below = np.flatnonzero(hf < 1.0)
        if not len(below):
            return 0
        close = np.where(hf[below] <= 0.95, 1.0, 0.5)
        repay = self.debt[below] * close
        seize = np.minimum(repay * self.bonus / external, self.collateral[below])
        repay = np.minimum(repay, seize * external / self.bonus)
        mid = self.quote_reserve / self.base_reserve
        pays = seize * mid - repay - gas_usd > 0
        rows = below[pays]
        if not len(rows):
            return 0
        self.debt[rows] -= repay[pays]
        self.collateral[rows] -= seize[pays]
        sold = float(seize[pays].sum()) * (1 - self.fee)
        new_base = self.base_reserve + sold
        self.quote_reserve = self.base_reserve * self.quote_reserve / new_base
        self.base_reserve = new_base
        self.liquidations += len(rows)
        return len(rows)


__all__ = ["FloatTwin"]
