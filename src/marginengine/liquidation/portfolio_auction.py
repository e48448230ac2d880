"""Derive's (Lyra v2) portfolio auction: the rules, as pure functions over exact ints.

The reference is ``src/liquidation/DutchAuction.sol`` of derivexyz/v2-core at commit
7736900d395703c4f675376caa4c315402943831 (read, not copied). An account whose portfolio
maintenance margin (PMRM_2, ``margin/portfolio.py``) is below 0 is auctioned **whole**: a
bid takes a fraction ``f`` of every position and of the cash (all scaled by the same
``f``), so the portfolio's risk shape is kept.

- **Solvent** (mark-to-market ``MtM > 0`` at the start): the bidder pays
  ``f x (MtM - R) x d(t)`` into the account, where ``R`` is the cash bidders already paid
  in (reserved: not sold again) and ``d(t)`` falls linearly from
  ``starting_mtm_percentage`` to ``fast_auction_cutoff_percentage`` over the fast auction,
  then to 0 over the slow one (:func:`discount`). A bid takes at most the fraction that
  brings the **buffer margin** ``BM = MM + (MM - MtM) x buffer_margin_percentage`` back to
  0 (:func:`max_proportion`)::

                        BM
      f_max = ----------------------------        (BM <= 0 capped, MtM >= mtm_cutoff)
              BM - MtM x d - R x (1 - d)

  A bid at ``f_max`` ends the auction. At the start the account pays a fee to the
  security module: ``f_max(d = 1, R = 0) x MtM x liquidator_fee_rate``.
- **Insolvent** (``MtM <= 0`` at the start, or a solvent auction that ran out): the
  security module pays the bidder ``-f x p(t)``, ``p`` going linearly from ``min(MtM, 0)``
  to ``MM`` over ``insolvent_auction_length`` (:func:`insolvent_bid_price`); what the
  module cannot pay is socialized (Derive prints cash: here it is explicit bad debt). Any
  fraction up to 100% may be bid; 100% ends it.

Rounding (each explicit, none in the bidder's favour against the account or the fund):
:func:`discount` rounds the fall of the price multiplier **down** (the multiplier never
undershoots its line); :func:`buffer_margin` rounds **down** (a margin is never
overstated); :func:`max_proportion` is the exact rational rounded **up** to the wad (the
fraction never stops short of restoring the buffer margin; at most 100%); the solvent
price rounds **down** and the bidder's payment ``f x price`` **up**; the insolvent price
rounds **toward zero** and the fund's payment ``-f x price`` **down**; the fee rounds
**down**; position and cash shares (:func:`share`) round **toward zero** (the account
keeps the remainder), as Derive's ``multiplyDecimal``.

The slow-auction fall is Derive's to the wei, two truncating steps (``cutoff x elapsed``
truncated to whole units, then divided by the length). Deviations from Derive, each for a
reason: the max fraction is the exact rational rounded up (Derive truncates each of its
steps in 18 decimals; the engine's margins are in the quote's own units, where the same
truncations would be coarser than Derive's); the margin is the worst over every PMRM_2
scenario (Derive's auction reads one ``scenarioId`` that a keeper may move to a worse
one: the worst is where that ends).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction

from marginengine.config.portfolio_auction import PortfolioAuctionConfig
from marginengine.fixedpoint import WAD


@dataclass(frozen=True)
class PortfolioAuctionParams:
    """The auction's parameters as exact ints: fractions in wad (``10**18`` is 100%),
    lengths in seconds, ``mtm_cutoff`` in quote smallest units."""

    starting_mtm_percentage: int = 95 * WAD // 100
    fast_auction_cutoff_percentage: int = 70 * WAD // 100
    fast_auction_length: int = 900
    slow_auction_length: int = 43_200
    insolvent_auction_length: int = 3_600
    liquidator_fee_rate: int = WAD // 10
    buffer_margin_percentage: int = 15 * WAD // 100
    mtm_cutoff: int = 0

    @classmethod
    def of(cls, cfg: PortfolioAuctionConfig, quote_unit: int) -> PortfolioAuctionParams:
        """The parameters of a validated configuration (fractions are exact decimals, so
        ``x 10**18`` is exact to 18 places; truncated beyond)."""
        def wad(x: object) -> int:
            return int(Fraction(str(x)) * WAD)
        return cls(wad(cfg.starting_mtm_percentage), wad(cfg.fast_auction_cutoff_percentage),
                   cfg.fast_auction_length, cfg.slow_auction_length,
                   cfg.insolvent_auction_length, wad(cfg.liquidator_fee_rate),
                   wad(cfg.buffer_margin_percentage),
                   int(Fraction(str(cfg.mtm_cutoff)) * quote_unit))

    @property
    def solvent_length(self) -> int:
        """Fast plus slow auction, seconds: after it the solvent price is 0."""
        return self.fast_auction_length + self.slow_auction_length


def discount(params: PortfolioAuctionParams, elapsed: int) -> int:
    """The fraction of mark-to-market a solvent auction asks ``elapsed`` seconds after its
    start (wad; Derive's ``_getDiscountPercentage``, to the wei). The fall is rounded
    down: in the fast auction once; in the slow one as Derive does, in whole units of
    ``cutoff x seconds`` first (so 1 s into Derive's mainnet slow auction still asks 70%).

    >>> p = PortfolioAuctionParams(WAD, 8 * WAD // 10, 600, 7_200)   # Derive's test params
    >>> [discount(p, t) / WAD for t in (0, 300, 600, 960, 7_800)]
    [1.0, 0.9, 0.8, 0.76, 0.0]
    """
    if elapsed < 0:
        raise ValueError(f"elapsed: must be >= 0 (got {elapsed})")
    start, cutoff = params.starting_mtm_percentage, params.fast_auction_cutoff_percentage
    if elapsed < params.fast_auction_length:
        return start - (start - cutoff) * elapsed // params.fast_auction_length
    if elapsed >= params.solvent_length:
        return 0
    in_slow = elapsed - params.fast_auction_length
    # Derive's two truncating steps, exactly: ``cutoff.multiplyDecimal(in_slow)`` (a wad
    # times raw seconds, so whole units: floor(cutoff x in_slow / 1e18)), then
    # ``divideDecimal(slow_length)``. The multiplier falls in steps of 1 / slow_length
    # (every 1 / cutoff seconds), never below the exact line.
    return cutoff - (cutoff * in_slow // WAD) * WAD // params.slow_auction_length


def buffer_margin(params: PortfolioAuctionParams, maintenance: int, mtm: int) -> int:
    """``MM + (MM - MtM) x buffer_margin_percentage`` (rounded down): the more
    conservative margin a solvent auction liquidates back to (Derive's
    ``_getBufferMargin``), so the account is not flagged again at the next tick."""
    return maintenance + (maintenance - mtm) * params.buffer_margin_percentage // WAD


def max_proportion(params: PortfolioAuctionParams, mtm: int, buffer: int, disc: int,
                   reserved: int) -> int:
    """The largest fraction (wad) of the current portfolio a solvent bid may take at
    price multiplier ``disc``: the one that brings the buffer margin back to 0 (see the
    module docstring; Derive's ``_getMaxProportion``). 100% below ``mtm_cutoff``; 0 when
    the buffer margin is met already. The exact rational, rounded up, at most 100%.

    Derive's test (``SolventAuction.t.sol``: MM -100, MtM 300, buffer 10%, so BM -140):
    at ``d = 1`` the fraction is 140 / 440, 31.8%; at ``d = 0.9``, 140 / 410, 34.1%.

    >>> p = PortfolioAuctionParams(buffer_margin_percentage=WAD // 10)
    >>> round(max_proportion(p, 300, -140, WAD, 0) / WAD, 4)
    0.3182
    """
    if mtm < params.mtm_cutoff:
        return WAD
    bm = min(buffer, 0)
    if bm == 0:
        return 0
    d = Fraction(disc, WAD)
    f = Fraction(bm) / (bm - mtm * d - reserved * (1 - d))
    if f <= 0:
        return 0
    return min(WAD, -(-f.numerator * WAD // f.denominator))


def solvent_bid_price(params: PortfolioAuctionParams, elapsed: int, mtm: int,
                      reserved: int) -> int:
    """What 100% of the portfolio costs in a solvent auction now: ``(MtM - R) x d``,
    rounded down (0 once the solvent auction has run out). The caller checks
    ``R <= MtM`` first (Derive refuses a bid otherwise: ``DA_ReservedCashGreaterThanMtM``).
    """
    if elapsed >= params.solvent_length:
        return 0
    return max(mtm - reserved, 0) * discount(params, elapsed) // WAD


def insolvent_bid_price(params: PortfolioAuctionParams, elapsed: int, maintenance: int,
                        mtm: int) -> int:
    """The (non-positive) price of 100% of an insolvent portfolio now: from
    ``min(MtM, 0)`` to ``MM`` linearly over ``insolvent_auction_length``, rounded toward
    zero (Derive's ``_getInsolventAuctionBidPrice``); the security module pays the
    bidder its opposite. 0 when the maintenance margin is met.

    Derive's test (``InsolventAuction.t.sol``: MM -300, MtM -100, 600 s): -100 at the
    start, -104 after 12 s, -200 half-way.

    >>> p = PortfolioAuctionParams(insolvent_auction_length=600)
    >>> [insolvent_bid_price(p, t, -300, -100) for t in (0, 12, 300, 600)]
    [-100, -104, -200, -300]
    """
    if maintenance >= 0:
        return 0
    start = min(mtm, 0)
    if elapsed >= params.insolvent_auction_length:
        return maintenance
    move = (start - maintenance) * elapsed // params.insolvent_auction_length  # >= 0, down
    return start - move


def liquidation_fee(params: PortfolioAuctionParams, mtm: int, buffer: int) -> int:
    """The fee a solvent auction's account pays the security module at the start:
    ``f_max(d = 1, R = 0) x |MtM| x liquidator_fee_rate``, rounded down (a fraction of
    a fraction of MtM, so paying it never makes MtM negative)."""
    f = max_proportion(params, mtm, buffer, WAD, 0)
    return f * abs(mtm) // WAD * params.liquidator_fee_rate // WAD


def share(amount: int, fraction: int) -> int:
    """``amount x fraction`` (wad), rounded toward zero: the part of a signed balance
    or position a bid takes (the account keeps the remainder)."""
    q = abs(amount) * fraction // WAD
    return q if amount >= 0 else -q


def mul_up(amount: int, fraction: int) -> int:
    """``amount x fraction`` (wad) for ``amount >= 0``, rounded up."""
    return -(-amount * fraction // WAD)


def can_terminate(params: PortfolioAuctionParams, auction: PortfolioAuction, now: int,
                  maintenance: int, mtm: int) -> bool:
    """Whether the auction may end now (Derive's ``getAuctionStatus``): an insolvent
    auction, or a solvent one past its length, once ``MM >= 0``; a solvent one once its
    buffer margin is met, or once its MtM is negative or not above the reserved cash (so
    that it restarts as insolvent)."""
    if auction.insolvent or now - auction.start_time >= params.solvent_length:
        return maintenance >= 0
    if mtm < 0 or auction.reserved_cash >= mtm:
        return True
    return buffer_margin(params, maintenance, mtm) >= 0


@dataclass(frozen=True)
class BidQuote:
    """What a bid of a fraction of a portfolio under auction gives, now.

    Attributes
    ----------
    fraction
        The fraction taken (wad): the one asked, cut to ``max_fraction`` when solvent.
    price
        The price of 100% of the portfolio (negative when insolvent: the fund pays).
    cash_from_bidder, cash_to_bidder
        What the bidder pays into the account (solvent), or receives from the security
        module (insolvent).
    cash_needed
        The cash the bidder's account must hold (Derive's ``_ensureBidderCashBalance``:
        the payment plus ``|BM - R| x f`` when solvent; ``|MM| x f`` less what the fund
        pays when insolvent), rounded up.
    terminates
        Whether the bid ends the auction (the maximum fraction, or 100% insolvent).
    discount, max_fraction
        The solvent auction's price multiplier and largest fraction (``None`` insolvent).
    """

    fraction: int
    price: int
    cash_from_bidder: int
    cash_to_bidder: int
    cash_needed: int
    terminates: bool
    discount: int | None = None
    max_fraction: int | None = None


def quote_bid(params: PortfolioAuctionParams, auction: PortfolioAuction, now: int,
              maintenance: int, mtm: int, fraction: int) -> BidQuote | None:
    """The bid of ``fraction`` (wad, in ``(0, 1]``) on a running auction that cannot be
    terminated, at margins ``maintenance`` and ``mtm`` (quote units); ``None`` when a
    solvent auction's price has reached 0 (Derive: ``DA_SolventAuctionEnded``)."""
    elapsed = now - auction.start_time
    if auction.insolvent:
        price = insolvent_bid_price(params, elapsed, maintenance, mtm)
        to_bidder = -price * fraction // WAD                       # the fund pays, down
        need = mul_up(-maintenance, fraction) - to_bidder
        return BidQuote(fraction, price, 0, to_bidder, need, fraction == WAD)
    reserved = auction.reserved_cash
    price = solvent_bid_price(params, elapsed, mtm, reserved)
    if price <= 0:
        return None
    disc = discount(params, elapsed)
    bm = buffer_margin(params, maintenance, mtm)
    most = max_proportion(params, mtm, bm, disc, reserved)
    taken = min(fraction, most)
    cost = mul_up(price, taken)                                   # the bidder pays, up
    need = cost + mul_up(abs(bm - reserved), taken)
    return BidQuote(taken, price, cost, 0, need, fraction >= most, disc, most)


@dataclass(frozen=True)
class PortfolioAuction:
    """One running auction of one account (Derive's ``IDutchAuction.Auction``).

    Attributes
    ----------
    id
        A number per auction started, in order.
    account
        The account auctioned.
    start_time
        When it started (or became insolvent), seconds.
    insolvent
        Whether the security module pays bidders.
    cached_mm
        For an insolvent auction: ``-MM`` at its start (counted in
        :attr:`PortfolioAuctions.total_insolvent_mm`, which blocks cash withdrawals
        while it exceeds the security module's balance).
    reserved_cash
        Cash bidders paid into the account in this auction (not sold again).
    """

    id: int
    account: str
    start_time: int
    insolvent: bool
    cached_mm: int = 0
    reserved_cash: int = 0


@dataclass
class PortfolioAuctions:
    """The running portfolio auctions and their totals (engine state: copied on first
    write, so records are replaced, never mutated)."""

    running: dict[str, PortfolioAuction] = field(default_factory=dict)
    total_insolvent_mm: int = 0
    next_id: int = 1

    def copy(self) -> PortfolioAuctions:
        """An independent copy (records are frozen: the dict is copied)."""
        return PortfolioAuctions(dict(self.running), self.total_insolvent_mm, self.next_id)

    def is_empty(self) -> bool:
        """Whether no auction ever started (the state hash leaves it out then)."""
        return self.next_id == 1

    def start(self, account: str, now: int, insolvent: bool, cached_mm: int = 0,
              reserved_cash: int = 0) -> PortfolioAuction:
        """Start (or restart as insolvent) ``account``'s auction."""
        old = self.running.get(account)
        auction = PortfolioAuction(old.id if old is not None else self.next_id, account, now,
                                   insolvent, cached_mm, reserved_cash)
        if old is None:
            self.next_id += 1
        self.running[account] = auction
        self.total_insolvent_mm += cached_mm
        return auction

    def reserve(self, account: str, amount: int) -> None:
        """Count ``amount`` more cash paid into the account by bidders."""
        a = self.running[account]
        self.running[account] = replace(a, reserved_cash=a.reserved_cash + amount)

    def end(self, account: str) -> PortfolioAuction:
        """End ``account``'s auction (Derive's ``_terminateAuction``)."""
        auction = self.running.pop(account)
        self.total_insolvent_mm -= auction.cached_mm
        return auction

    def state_dict(self) -> dict[str, object]:
        """Plain data for the state hash."""
        return {"running": {a: [x.id, x.start_time, x.insolvent, x.cached_mm, x.reserved_cash]
                            for a, x in sorted(self.running.items())},
                "total_insolvent_mm": self.total_insolvent_mm, "next_id": self.next_id}


__all__ = ["BidQuote", "PortfolioAuction", "PortfolioAuctionParams", "PortfolioAuctions",
           "buffer_margin", "can_terminate", "discount", "insolvent_bid_price", "liquidation_fee",
           "max_proportion", "mul_up", "quote_bid", "share", "solvent_bid_price"]
