"""The keeper and the bidder of Derive's portfolio auctions (options accounts).

Each step, through engine events only: the keeper ends auctions that may end
(``TerminatePortfolioAuction``), turns solvent auctions whose price reached 0 into
insolvent ones (``ConvertToInsolventAuction``) and starts the auction of every options
account below its PMRM_2 maintenance margin (``StartPortfolioAuction``). Then the bidder
bids on every running auction where it expects a profit of at least ``min_edge`` times the
maintenance requirement it takes on: ``f (1 - d)(MtM - R)`` when solvent (it buys at a
discount), ``f (MtM - p)`` when insolvent (the security module pays it ``-f p``). As
Derive's bidders do, it bids from a fresh cash-only sub-account (``<id>/<n>``), funded
with the cash the bid needs plus ``margin_buffer`` of the requirement, out of its capital.
The decision reads the engine's own quote (:func:`~marginengine.liquidation.
portfolio_auction.quote_bid` at the margins the engine decides on), so the bid it sends is
the bid the engine books.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from marginengine.engine import (
    BidPortfolioAuction,
    ConvertToInsolventAuction,
    DepositOptionCash,
    Engine,
    Event,
    Outcome,
    StartPortfolioAuction,
    TerminatePortfolioAuction,
)
from marginengine.fixedpoint import WAD
from marginengine.liquidation.portfolio_auction import (
    PortfolioAuctionParams,
    can_terminate,
    quote_bid,
    solvent_bid_price,
)
from marginengine.sim.options_scenario import BidderSpec

Apply = Callable[[Event], Outcome]


@dataclass
class PortfolioBidder:
    """The keeper and bidder (see the module docstring).

    Parameters
    ----------
    keeper
        The id that starts auctions.
    spec
        The bidder's spec (id, edge, buffer, enabled).
    capital
        Quote smallest units it may still put into bids.
    """

    keeper: str
    spec: BidderSpec
    capital: int
    #: One record per accepted auction event: ``{"step", "event", **details}``.
    records: list[dict[str, Any]] = field(default_factory=list)
    subaccounts: int = 0
    spent: int = 0

    def act(self, engine: Engine, apply: Apply, step: int) -> None:
        """Maintain, start, then bid on portfolio auctions (see the module docstring)."""
        clearing, auctions = engine.state.options, engine.state.portfolio_auctions
        opts = engine.config.options
        if clearing is None or auctions is None or opts is None:
            return
        params = PortfolioAuctionParams.of(opts.auction, engine.config.markets[opts.quote].unit)
        now = engine.ledger.time
        for account in sorted(auctions.running):
            auction = auctions.running[account]
            mm, mtm = self._margins(engine, account)
            if can_terminate(params, auction, now, mm, mtm):
                self._apply(apply, TerminatePortfolioAuction(account), step)
            elif (not auction.insolvent and mm < 0
                  and solvent_bid_price(params, now - auction.start_time, mtm,
                                        auction.reserved_cash) <= 0):
                self._apply(apply, ConvertToInsolventAuction(account), step)
        holders = sorted(set(clearing.cash) | {a for a, b in clearing.positions.items() if b})
        for account in holders:
            if account not in auctions.running and self._margins(engine, account)[0] < 0:
                self._apply(apply, StartPortfolioAuction(self.keeper, account), step)
        if self.spec.enabled:
            for account in sorted(engine.state.portfolio_auctions.running
                                  if engine.state.portfolio_auctions else ()):
                self._bid(engine, apply, params, account, step)

    @staticmethod
    def _margins(engine: Engine, account: str) -> tuple[int, int]:
        units = engine.portfolio_margin_units(account)
        assert units is not None
        return units

    def _bid(self, engine: Engine, apply: Apply, params: PortfolioAuctionParams,
             account: str, step: int) -> None:
        auctions = engine.state.portfolio_auctions
        assert auctions is not None
        auction = auctions.running.get(account)
        if auction is None or account.startswith(f"{self.spec.id}/"):
            return                      # never bids on its own sub-accounts
        now = engine.ledger.time
        mm, mtm = self._margins(engine, account)
        if can_terminate(params, auction, now, mm, mtm):
            return
        quote = quote_bid(params, auction, now, mm, mtm, WAD)
        if quote is None:
            return
        f = Fraction(quote.fraction, WAD)
        requirement = f * (mtm - mm)
        if auction.insolvent:
            profit = f * mtm - f * quote.price
        else:
            profit = f * (mtm - auction.reserved_cash) - quote.cash_from_bidder
        if requirement <= 0 or profit < Fraction(str(self.spec.min_edge)) * requirement:
            return
        fund = quote.cash_needed + int(Fraction(str(self.spec.margin_buffer)) * requirement) + 1
        if fund > self.capital:
            return
        self.subaccounts += 1
        sub = f"{self.spec.id}/{self.subaccounts}"
        if not apply(DepositOptionCash(sub, fund)).accepted:
            return
        self.capital -= fund
        self.spent += fund
        self._apply(apply, BidPortfolioAuction(sub, account, WAD), step)

    def _apply(self, apply: Apply, event: Event, step: int) -> None:
        out = apply(event)
        if out.accepted:
            self.records.append({"step": step, "event": event.name,
                                 "account": getattr(event, "account", ""),
                                 **({"bidder": event.bidder}
                                    if isinstance(event, BidPortfolioAuction) else {}),
                                 **out.details})


__all__ = ["PortfolioBidder"]
