"""Per-asset vectors of the risk book: indices, prices, units and risk parameters.

Every market of the protocol has a column ``k`` (markets sorted by symbol). The exact
values (ray indices, 8-decimal prices) are kept as Python ints beside their float64
copies, so a shocked price is computed exactly once and both the float screen and the
exact confirm see the same integer.

The collateral side has more columns than the debt side where the protocol has Aave
e-mode categories: after the ``K`` markets, one *collateral column* per (category, asset
in the category's collateral list), with the asset's price and index and the category's
liquidation threshold. An account in a category holds its supply of those assets there,
so one matrix-vector product weighs every account at its own thresholds (all weights stay
positive, so the screen's error bounds hold as for the markets' columns).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from marginengine.config import ProtocolConfig
from marginengine.fixedpoint import BPS, RAY
from marginengine.margin.emode import reserve_liquidation_threshold_bps
from marginengine.scan.errors import ScanError

FloatArray = NDArray[np.float64]


def _screen_float(value: int, scale: int, what: str) -> float:
    """``value / scale`` as the screen's float64; :class:`ScanError` naming ``what`` when it
    does not fit (the exact int stays exact, but the float screen cannot hold it)."""
    try:
        return value / scale  # int / int raises OverflowError beyond float64
    except OverflowError:
        digits = len(str(value // scale)) - 1
        raise ScanError(f"{what} is about 10^{digits}, too large for the float screen; "
                        "check the interest rates and prices") from None


@dataclass(frozen=True)
class Weights:
    """Base-currency value of one scaled unit, per asset (float64).

    Attributes
    ----------
    collateral
        ``liquidity_index / RAY x price / unit x liquidation_threshold``: what one scaled
        unit of supply adds to the weighted collateral, per collateral column (the
        markets, then the e-mode columns: :attr:`AssetVectors.coll_asset`).
    debt
        ``borrow_index / RAY x price / unit``: what one scaled unit of debt adds to the debt.
    raw_collateral
        ``liquidity_index / RAY x price / unit``: unweighted collateral value, per
        collateral column.
    """

    collateral: FloatArray
    debt: FloatArray
    raw_collateral: FloatArray


class AssetVectors:
    """The book's per-asset vectors (length ``K``, one entry per market).

    Parameters
    ----------
    config
        The protocol; its markets fix the columns and the risk parameters.
    """

    def __init__(self, config: ProtocolConfig) -> None:
        self.config = config
        self.symbols: list[str] = sorted(config.markets)
        self.column: dict[str, int] = {s: k for k, s in enumerate(self.symbols)}
        k = len(self.symbols)
        markets = [config.markets[s] for s in self.symbols]
        self.unit = np.array([float(m.unit) for m in markets], dtype=np.float64)
        self.lt_bps = np.array([m.liquidation_threshold_bps for m in markets], dtype=np.int64)
        self.ltv_bps = np.array([m.ltv_bps for m in markets], dtype=np.int64)
        self.collateral = np.array([m.collateral for m in markets], dtype=bool)
        self.liquidity_index_ray: list[int] = [RAY] * k
        self.borrow_index_ray: list[int] = [RAY] * k
        self.price_int: list[int] = [0] * k
        self.liquidity_index = np.ones(k, dtype=np.float64)
        self.borrow_index = np.ones(k, dtype=np.float64)
        self.price = np.zeros(k, dtype=np.float64)
        # Collateral columns: the markets, then (category, asset) for every e-mode category
        # collateral, with the category's threshold (margin.emode, as the engine reads it).
        coll_asset = list(range(k))
        coll_lt = [int(x) for x in self.lt_bps]
        self.emode_column: dict[tuple[int, int], int] = {}
        self.coll_label: list[str] = list(self.symbols)
        for category_id, category in sorted((config.emode.categories if config.emode
                                             else {}).items()):
            for symbol in sorted(category.collateral):
                asset = self.column[symbol]
                self.emode_column[(category_id, asset)] = len(coll_asset)
                coll_asset.append(asset)
                coll_lt.append(reserve_liquidation_threshold_bps(config.markets[symbol],
                                                                 symbol, category))
                self.coll_label.append(f"{symbol}@{category_id}")
        #: The market of each collateral column.
        self.coll_asset = np.array(coll_asset, dtype=np.intp)
        #: The liquidation threshold (bps) of each collateral column.
        self.coll_lt_bps = np.array(coll_lt, dtype=np.int64)
        #: Each market's collateral columns (its own first).
        self.coll_columns: list[list[int]] = [[] for _ in range(k)]
        for j, asset in enumerate(coll_asset):
            self.coll_columns[asset].append(j)
        positive = self.coll_lt_bps[self.coll_lt_bps > 0]
        #: Smallest positive liquidation threshold (bps): bounds Aave's averaged-threshold
        #: rounding (at most one bps of the collateral, so at most 1/lt_min of the weighted
        #: collateral).
        self.lt_min_bps = int(positive.min()) if len(positive) else BPS
        #: Bumped by every change of a price, an index or a threshold: what is cached at
        #: the current vectors (:meth:`weights`, :meth:`unit_values`) is valid while it
        #: stays. The vectors change only through the setters below.
        self.version = 0
        self._weights: tuple[int, Weights] | None = None
        self._unit_values: tuple[int, tuple[float, float]] | None = None

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def n_coll(self) -> int:
        """Collateral columns: the markets, then the e-mode columns."""
        return len(self.coll_asset)

    def coll_column(self, k: int, category_id: int) -> int:
        """The collateral column of market ``k`` for an account in e-mode category
        ``category_id`` (its own column outside e-mode or for an asset outside the
        category)."""
        if category_id:
            return self.emode_column.get((category_id, k), k)
        return k

    # ------------------------------------------------------------------ updates
    def set_price(self, k: int, price: int) -> bool:
        """Set column ``k``'s exact price; return whether it changed."""
        if self.price_int[k] == price:
            return False
        self.price[k] = _screen_float(price, 1, f"{self.symbols[k]}: price")
        self.price_int[k] = price
        self.version += 1
        return True

    def set_indices(self, k: int, liquidity_index: int, borrow_index: int) -> bool:
        """Set column ``k``'s exact ray indices; return whether either changed."""
        if (self.liquidity_index_ray[k], self.borrow_index_ray[k]) == (liquidity_index,
                                                                      borrow_index):
            return False
        symbol = self.symbols[k]
        liquidity = _screen_float(liquidity_index, RAY, f"{symbol}: liquidity index")
        borrow = _screen_float(borrow_index, RAY, f"{symbol}: borrow index")
        self.liquidity_index_ray[k] = liquidity_index
        self.borrow_index_ray[k] = borrow_index
        self.liquidity_index[k] = liquidity
        self.borrow_index[k] = borrow
        self.version += 1
        return True

    def set_thresholds(self, k: int, ltv_bps: int, liquidation_threshold_bps: int) -> bool:
        """Set column ``k``'s LTV and liquidation threshold (a ``SetRiskParams`` or an
        adaptive update: the per-asset weights of the next tick); return whether either
        changed."""
        if (int(self.ltv_bps[k]), int(self.lt_bps[k])) == (ltv_bps, liquidation_threshold_bps):
            return False
        self.ltv_bps[k] = ltv_bps
        self.lt_bps[k] = liquidation_threshold_bps
        self.coll_lt_bps[k] = liquidation_threshold_bps  # e-mode columns keep the category's
        positive = self.coll_lt_bps[self.coll_lt_bps > 0]
        self.lt_min_bps = int(positive.min()) if len(positive) else BPS
        self.version += 1
        return True

    def set_prices(self, prices: Mapping[str, int]) -> None:
        """Set the exact price of every asset in ``prices`` (unknown symbols ignored)."""
        for symbol, price in prices.items():
            k = self.column.get(symbol)
            if k is not None:
                self.set_price(k, price)

    # ------------------------------------------------------------------ reads
    def prices(self, overrides: Mapping[int, int] | None = None) -> dict[str, int]:
        """Exact prices of the priced assets by symbol, with ``{column: price}`` overrides."""
        out = {s: p for s, p in zip(self.symbols, self.price_int, strict=True) if p}
        for k, price in (overrides or {}).items():
            out[self.symbols[k]] = price
        return out

    def weights(self, price: FloatArray | None = None) -> Weights:
        """Per-scaled-unit values at the current indices and ``price`` (default: current).

        Unpriced assets get weight 0; the book refuses to scan an account holding one.
        At the current prices, the same object until a vector changes (read it, never
        write to it).
        """
        if price is None:
            cached = self._weights
            if cached is None or cached[0] != self.version:
                cached = self._weights = (self.version, self._weights_at(self.price))
            return cached[1]
        return self._weights_at(price)

    def _weights_at(self, p: FloatArray) -> Weights:
        per_unit = p / self.unit
        raw = self.liquidity_index * per_unit
        if len(self.coll_asset) > len(raw):
            raw = raw[self.coll_asset]  # e-mode columns: their market's value
        return Weights(
            collateral=raw * (self.coll_lt_bps / BPS),
            debt=self.borrow_index * per_unit,
            raw_collateral=raw,
        )

    def unit_values(self, price: FloatArray | None = None) -> tuple[float, float]:
        """Largest rounding slack of one position, in base-currency units.

        Returns ``(collateral, debt)``: one smallest unit's value plus one unit of value
        rounding plus one of threshold rounding for collateral (weighted), and one smallest
        unit's value plus one for debt, maximised over the priced assets (at the current
        prices, computed once per change of the vectors).
        """
        if price is None:
            cached = self._unit_values
            if cached is None or cached[0] != self.version:
                cached = self._unit_values = (self.version, self._unit_values_at(self.price))
            return cached[1]
        return self._unit_values_at(price)

    def _unit_values_at(self, p: FloatArray) -> tuple[float, float]:
        # Plain floats over the few assets (the same IEEE operations as NumPy's, without a
        # dozen array calls on K-vectors every step).
        coll = debt = -math.inf
        prices, units = p.tolist(), self.unit.tolist()
        for asset, lt in zip(self.coll_asset.tolist(), self.coll_lt_bps.tolist(),
                             strict=True):
            price = prices[asset]
            if price > 0:
                per_unit = price / units[asset] + 1.0
                coll = max(coll, per_unit * (lt / BPS))
                debt = max(debt, per_unit)
        if debt == -math.inf:
            return 1.0, 1.0
        return coll + 1.0, debt

    def nbytes(self) -> int:
        """Bytes held by the float vectors (the exact ints are K Python ints each)."""
        arrays = (self.unit, self.lt_bps, self.ltv_bps, self.collateral, self.liquidity_index,
                  self.borrow_index, self.price, self.coll_asset, self.coll_lt_bps)
        return sum(a.nbytes for a in arrays) + 3 * 40 * len(self)
