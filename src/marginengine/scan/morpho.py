"""Morpho Blue's isolated markets in the risk book: every position screened in float64 per
market, the candidates confirmed by Morpho's own health check
(:func:`marginengine.margin.morpho.is_healthy`, which ``liquidate`` asks first).

Layout: one row per position of every market (markets by name, then the book's order of
accounts): its borrow shares and its collateral (base units) as float64, and the row's
market. Per market, exact
once: the book accrued to the ledger's clock (``engine/morpho_handlers.accrued_book``, as
``liquidate`` accrues first), the oracle price (``oracle_price_of``: the engine's two
prices, 1e36-scaled) and the LLTV; as floats, the share price ``(totalBorrowAssets + 1) /
(totalBorrowShares + 1e6)`` and ``price / 1e36``.

The screen: a position's debt ``shares x share price`` (Morpho rounds it up,
``toAssetsUp``) against its borrowing power ``collateral x price / 1e36 x LLTV`` (rounded
down twice, ``_isHealthy``). A position with borrow shares is a candidate when its power
does not exceed its debt by more than ``RELATIVE_BAND`` plus ``MORPHO_ABSOLUTE_BAND`` loan
base units: the three roundings move the exact figures by less than three units, the
floats by about 1e-15 relative. ``is_healthy`` then decides each candidate, so a position
exactly at its LLTV (power equal to debt) is healthy, as in Morpho; one unit more of debt
is not.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from marginengine.engine import Engine
from marginengine.engine.morpho_handlers import accrued_book, oracle_price_of
from marginengine.engine.state import MorphoBook
from marginengine.fixedpoint import WAD
from marginengine.margin import morpho as rules
from marginengine.scan.errors import ScanError
from marginengine.scan.family_scan import RELATIVE_BAND, FamilyScan

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]

#: The screen's absolute band, in loan-token base units (above the three roundings).
MORPHO_ABSOLUTE_BAND = 4.0


class MorphoRiskBook:
    """A columnar mirror of an engine's Morpho Blue markets.

    Parameters
    ----------
    engine
        An engine whose protocol is ``morpho-blue``.

    Raises
    ------
    ScanError
        The engine's protocol has no Morpho markets.
    """

    def __init__(self, engine: Engine) -> None:
        if not engine.state.morpho:
            raise ScanError(f"preset: {engine.config.preset} has no Morpho markets "
                            "(morpho-blue)")
        self.engine = engine
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the columns from the engine's markets, each accrued to the clock."""
        engine = self.engine
        now = engine.ledger.time
        self.markets: list[str] = sorted(engine.state.morpho)
        self.books: dict[str, tuple[MorphoBook, rules.MarketParams]] = {}
        # Rows follow each book's own order (the engine's, deterministic); no tuple per row
        # is kept, so a large book does not wake the garbage collector over and over.
        self.accounts: list[str] = []
        held: list[rules.Position] = []
        self.counts: list[int] = []
        ratio, lltv = [], []
        for name in self.markets:
            book, params, _ = accrued_book(engine.config, name, engine.state.morpho[name],
                                           now)
            self.books[name] = (book, params)
            m = book.market
            ratio.append((m.total_borrow_assets + rules.VIRTUAL_ASSETS)
                         / (m.total_borrow_shares + rules.VIRTUAL_SHARES))
            lltv.append(params.lltv / WAD)
            accounts = [a for a, p in book.positions.items()
                        if p.supply_shares or p.borrow_shares or p.collateral]
            self.accounts += accounts
            held += [book.positions[a] for a in accounts]
            self.counts.append(len(accounts))
        n = len(held)
        self.shares: FloatArray = np.fromiter((p.borrow_shares for p in held), np.float64, n)
        self.collateral: FloatArray = np.fromiter((p.collateral for p in held), np.float64, n)
        self.market_of: IntArray = np.repeat(np.arange(len(self.markets), dtype=np.int64),
                                             self.counts)
        self.share_price: FloatArray = np.array(ratio, dtype=np.float64)
        self.lltv: FloatArray = np.array(lltv, dtype=np.float64)

    def oracle_prices(self) -> dict[str, int]:
        """Each market's Morpho oracle price (1e36-scaled) from the engine's prices; only
        markets with a borrower need one.

        Raises
        ------
        ScanError
            A market with a borrower lacks the price of its loan or collateral asset.
        """
        config, prices = self.engine.config, self.engine.prices
        borrowing = {self.markets[k] for k in self.market_of[self.shares > 0]}
        out: dict[str, int] = {}
        for name in sorted(borrowing):
            cfg = config.morpho[name]
            for asset in (cfg.loan, cfg.collateral):
                if asset not in prices:
                    raise ScanError(f"prices: no price has been set for {asset} "
                                    f"(Morpho market {name})")
            out[name] = oracle_price_of(config, name, prices[cfg.loan], prices[cfg.collateral])
        return out

    def screen(self, oracle: dict[str, int] | None = None) -> BoolArray:
        """Which positions Morpho's health check must decide at the markets' ``oracle``
        prices (default: from the engine's); the rest are healthy for sure."""
        oracle = self.oracle_prices() if oracle is None else oracle
        price = np.array([oracle.get(n, 0) / rules.ORACLE_PRICE_SCALE for n in self.markets],
                         dtype=np.float64)
        k = self.market_of
        debt = self.shares * self.share_price[k] if len(k) else self.shares
        power = self.collateral * price[k] * self.lltv[k] if len(k) else self.collateral
        result: BoolArray = (self.shares > 0) & (
            power <= debt * (1 + RELATIVE_BAND) + MORPHO_ABSOLUTE_BAND)
        return result

    def scan(self) -> FamilyScan:
        """Screen every position, confirm the candidates with ``is_healthy``; per market
        and over all markets (see :class:`FamilyScan`)."""
        self.refresh()
        oracle = self.oracle_prices()
        rows = np.flatnonzero(self.screen(oracle))
        candidates: dict[str, list[str]] = {n: [] for n in self.markets}
        liquidatable: dict[str, list[str]] = {n: [] for n in self.markets}
        for i in rows:
            name, account = self.markets[self.market_of[i]], self.accounts[i]
            book, params = self.books[name]
            candidates[name].append(account)
            if not rules.is_healthy(book.position(account), book.market, oracle[name],
                                    params):
                liquidatable[name].append(account)
        per_market = {n: FamilyScan(sorted(liquidatable[n]), sorted(candidates[n]), count)
                      for n, count in zip(self.markets, self.counts, strict=True)}
        return FamilyScan(sorted({a for v in liquidatable.values() for a in v}),
                          sorted({a for v in candidates.values() for a in v}),
                          len(self.accounts), markets=per_market)


__all__ = ["MORPHO_ABSOLUTE_BAND", "MorphoRiskBook"]
